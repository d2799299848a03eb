import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import i18next from 'i18next';
import { createElement } from 'react';

import { LanguageSwitcher } from '../components/LanguageSwitcher';
import { en } from './en';
import { initialLanguage, LANGUAGE_KEY } from './index';
import { it as italian } from './it';

function keys(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe('languages', () => {
  it('has every English text in Italian too, and none left in English by mistake', () => {
    expect(keys(italian).sort()).toEqual(keys(en).sort());
    const same = keys(en).filter((k) => {
      const get = (o: unknown) => k.split('.').reduce<unknown>((acc, part) => (acc as Record<string, unknown>)[part], o);
      return get(en) === get(italian);
    });
    // Words that are the same in both languages.
    expect(same.sort()).toEqual(
      ['accuracy.detector.model', 'accuracy.leadHours', 'accuracy.no', 'cow.unit', 'reasons.engine.mdi', 'languages.en', 'languages.it', 'signIn.email', 'signIn.password', 'signals.mdi', 'overview.syncResult.ok'].sort(),
    );
  });

  it('remembers the chosen language on this device', async () => {
    render(createElement(LanguageSwitcher));
    await userEvent.selectOptions(screen.getByTestId('language'), 'it');
    expect(i18next.language).toBe('it');
    expect(localStorage.getItem(LANGUAGE_KEY)).toBe('it');
    expect(document.documentElement.lang).toBe('it');
    expect(initialLanguage()).toBe('it');
    localStorage.setItem(LANGUAGE_KEY, 'en');
    expect(initialLanguage()).toBe('en');
  });
});
