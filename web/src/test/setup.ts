import '@testing-library/jest-dom/vitest';
import '../i18n';

import { cleanup } from '@testing-library/react';
import i18next from 'i18next';
import { afterEach, beforeEach } from 'vitest';

beforeEach(async () => {
  localStorage.clear();
  await i18next.changeLanguage('en');
});

afterEach(() => {
  cleanup();
});
