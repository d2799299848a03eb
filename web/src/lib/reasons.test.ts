import i18next from 'i18next';

import { describeReason, describeReasons, parseSignal } from './reasons';

describe('alert reasons in plain words', () => {
  it('names the quarter and the change with its baseline', () => {
    const text = describeReason({ signal: 'conductivity_lf', value: 6.2, baseline: 5.0 }, i18next.t, 'en');
    expect(text).toBe('Conductivity front left +24 % (5.0 → 6.2 mS/cm)');
  });

  it('uses the engine’s own percentage when given, and says a drop with a minus', () => {
    const text = describeReason({ signal: 'yield_kg', change_pct: -31.4 }, i18next.t, 'en');
    expect(text).toBe('Milk yield −31 %');
  });

  it('speaks Italian when the reader does (decimal comma; Italian groups from five digits)', async () => {
    await i18next.changeLanguage('it');
    const text = describeReason({ signal: 'blood_avg', value: 1200, baseline: 40 }, i18next.t, 'it');
    expect(text).toBe('Sangue +2900 % (40,0 → 1200,0 ppm)');
  });

  it('falls back to the signal name or the engine’s text', () => {
    expect(describeReason({ signal: 'rumination_minutes' }, i18next.t, 'en')).toBe('rumination minutes');
    expect(describeReason({ text: 'Three signals moved' }, i18next.t, 'en')).toBe('Three signals moved');
    expect(describeReasons([], i18next.t, 'en')).toBe('No details');
  });

  it('splits quarter and unit suffixes from a signal name', () => {
    expect(parseSignal('conductivity_rr')).toEqual({ base: 'conductivity', quarter: 'rr' });
    expect(parseSignal('yield_kg')).toEqual({ base: 'yield', quarter: null });
  });
});
