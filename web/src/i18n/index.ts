// Italian and English from day one; the reader's choice is remembered on this device.
import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';

import { en } from './en';
import { it } from './it';

export const LANGUAGES = ['it', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
export const LANGUAGE_KEY = 'pecus.lang';

function isLanguage(value: string | null | undefined): value is Language {
  return value === 'it' || value === 'en';
}

/** The stored choice, else the browser's language when we have it, else Italian (our first farms). */
export function initialLanguage(): Language {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(LANGUAGE_KEY);
  } catch {
    stored = null;
  }
  if (isLanguage(stored)) return stored;
  const browser = (navigator.languages?.[0] ?? navigator.language ?? '').slice(0, 2);
  return isLanguage(browser) ? browser : 'it';
}

export async function setLanguage(lang: Language): Promise<void> {
  try {
    localStorage.setItem(LANGUAGE_KEY, lang);
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
  await i18next.changeLanguage(lang);
}

i18next.on('languageChanged', (lang) => {
  document.documentElement.lang = lang;
});

void i18next.use(initReactI18next).init({
  resources: { en: { translation: en }, it: { translation: it } },
  lng: initialLanguage(),
  fallbackLng: 'en',
  supportedLngs: LANGUAGES,
  interpolation: { escapeValue: false },
  returnNull: false,
});

export default i18next;
