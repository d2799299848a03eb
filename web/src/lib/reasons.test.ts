import i18next from 'i18next';

import { describeReason, describeReasons, parseSignal } from './reasons';

describe('alert reasons in plain words', () => {
  it('names the quarter and the change with its baseline', () => {
    const text = describeReason({ signal: 'conductivity_lf', value: 6.2, baseline: 5.0 }, i18next.t, 'en');
    expect(text).toBe('Conductivity front left +24 % (5.00 → 6.20 mS/cm)');
  });

  it('uses the engine’s own percentage when given, and says a drop with a minus', () => {
    const text = describeReason({ signal: 'yield_kg', change_pct: -31.4 }, i18next.t, 'en');
    expect(text).toBe('Milk yield −31 %');
  });

  it('speaks Italian when the reader does (decimal comma; thousands grouped from five digits)', async () => {
    await i18next.changeLanguage('it');
    const text = describeReason({ signal: 'conductivity_rr', value: 6.25, baseline: 5.1 }, i18next.t, 'it');
    expect(text).toBe('Conducibilità posteriore destro +23 % (5,10 → 6,25 mS/cm)');
    expect(describeReason({ signal: 'blood_avg', value: 12500, baseline: 40 }, i18next.t, 'it')).toBe(
      'Sangue ×313 (40 → 12.500 ppm)',
    );
  });

  it('says how many times the usual value when a percentage would be absurd', () => {
    expect(describeReason({ signal: 'blood_avg', value: 820, baseline: 24 }, i18next.t, 'en')).toBe(
      'Blood ×34 (24 → 820 ppm)',
    );
    expect(describeReason({ signal: 'cell_count', change_pct: 250 }, i18next.t, 'en')).toBe('Cell count ×3.5');
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

describe('the AI engine’s reasons', () => {
  const reasons = [
    { signal: 'conductivity', quarter: 'lr', value: 0.34, text: 'rear-left conductivity +34 % vs her 7-day level' },
    { signal: 'quarter_ratio', quarter: 'lr', value: 1.6, text: 'rear-left +60 % above her other quarters' },
    { signal: 'yield', value: -0.18, text: 'yield −18 % vs expected' },
    { signal: 'blood', value: 1250, text: 'blood in milk (1,250 ppm)' },
    { signal: 'cell_count', value: 350, text: 'cell count 350,000 cells/mL' },
    { signal: 'kickoff', value: 2, text: '2 kick-offs in 24 h' },
  ];

  it('words each signal with what its value means', () => {
    expect(reasons.map((r) => describeReason(r, i18next.t, 'en'))).toEqual([
      'Conductivity rear left +34 % vs her last 7 days',
      'Quarter rear left +60 % above her other quarters',
      'Milk −18 % vs expected',
      'Blood in milk (1,250 ppm)',
      'Cell count 350,000 cells/mL',
      '2 kick-offs in 24 h',
    ]);
  });

  it('in Italian too, not the engine’s English text', async () => {
    await i18next.changeLanguage('it');
    expect(describeReason(reasons[0]!, i18next.t, 'it')).toBe('Conducibilità posteriore sinistro +34 % rispetto ai suoi ultimi 7 giorni');
    expect(describeReason(reasons[2]!, i18next.t, 'it')).toBe('Latte −18 % rispetto all’atteso');
    expect(
      describeReason({ signal: 'data_feed', silent_minutes: 500, text: 'no milkings from Robot 2 for 8 h' }, i18next.t, 'it'),
    ).toBe('Nessuna mungitura da 8,3 h');
  });

  it('falls back to the engine’s text for a signal it does not know', () => {
    expect(describeReason({ signal: 'rumination', value: 3, text: 'rumination down' }, i18next.t, 'en')).toBe(
      'rumination down',
    );
  });
});
