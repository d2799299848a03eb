import i18next from 'i18next';

import { detector } from '../../test/fixtures';
import { formatPercent } from '../../lib/numbers';
import { formatLead, orderDetectors, periodFromParams, warningOf } from './accuracy';

describe('field accuracy in words', () => {
  it('reads the period from the address, 90 days unless it is one of 30, 90, 365', () => {
    expect(periodFromParams(new URLSearchParams('days=30'))).toBe(30);
    expect(periodFromParams(new URLSearchParams('days=365'))).toBe(365);
    expect(periodFromParams(new URLSearchParams(''))).toBe(90);
    expect(periodFromParams(new URLSearchParams('days=7'))).toBe(90);
    expect(periodFromParams(new URLSearchParams('days=abc'))).toBe(90);
  });

  it('says how early in hours up to two days, in days beyond, with a dash when unknown', () => {
    expect(formatLead(31.4, i18next.t, 'en')).toBe('31 h');
    expect(formatLead(6.25, i18next.t, 'en')).toBe('6.3 h');
    expect(formatLead(0, i18next.t, 'en')).toBe('0.0 h');
    expect(formatLead(47.9, i18next.t, 'en')).toBe('48 h');
    expect(formatLead(48, i18next.t, 'en')).toBe('2.0 days');
    expect(formatLead(84, i18next.t, 'en')).toBe('3.5 days');
    expect(formatLead(null, i18next.t, 'en')).toBe('—');
  });

  it('in Italian with a decimal comma', async () => {
    await i18next.changeLanguage('it');
    expect(formatLead(84, i18next.t, 'it')).toBe('3,5 giorni');
    expect(formatLead(6.25, i18next.t, 'it')).toBe('6,3 h');
  });

  it('gives the share of cases warned as a whole percentage, a dash without cases', () => {
    expect(formatPercent(7 / 9, 'en')).toBe('78%');
    expect(formatPercent(1, 'en')).toBe('100%');
    expect(formatPercent(null, 'en')).toBe('—');
    expect(formatPercent(0.5, 'it')).toBe('50%');
  });

  it('puts Pecus first, then the simple rules, then MDi, whatever order the API sends', () => {
    const order = orderDetectors([detector('mdi'), detector('model'), detector('rules')]).map((d) => d.detector);
    expect(order).toEqual(['model', 'rules', 'mdi']);
  });

  it('finds who warned of a case; a warning without a time is no warning', () => {
    const fieldCase = {
      animal_id: '1042',
      onset: '2026-03-20T07:00:00Z',
      treatments: 2,
      diagnoses: ['Mastite clinica'],
      warnings: [
        { detector: 'model' as const, first_warned_at: '2026-03-19T00:00:00Z', lead_hours: 31 },
        { detector: 'rules' as const, first_warned_at: null, lead_hours: null },
      ],
    };
    expect(warningOf(fieldCase, 'model')?.lead_hours).toBe(31);
    expect(warningOf(fieldCase, 'rules')).toBeNull();
    expect(warningOf(fieldCase, 'mdi')).toBeNull();
  });
});
