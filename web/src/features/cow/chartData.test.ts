import { day, herdDay, series, session } from '../../test/fixtures';
import {
  alertMarkers,
  conductivityKeys,
  dailyRows,
  dayTicks,
  DEFAULT_TOGGLES,
  isEmptySeries,
  quarterAvailable,
  riskRows,
  timeDomain,
} from './chartData';

describe('dailyRows', () => {
  it('puts the cow and the herd average of the same local day on one row', () => {
    const rows = dailyRows(
      series({
        cow_days: [day('2026-03-30', { yield_kg: 31.5 }), day('2026-03-31', { yield_kg: 22 })],
        herd_days: [herdDay('2026-03-30', { yield_kg: 28.2 }), herdDay('2026-03-31', { yield_kg: 27.9 })],
      }),
    );
    expect(rows.map((r) => [r.day, r.cow_yield_kg, r.herd_yield_kg])).toEqual([
      ['2026-03-30', 31.5, 28.2],
      ['2026-03-31', 22, 27.9],
    ]);
    // Local noon in Rome (UTC+2 after 29 March).
    expect(new Date(rows[0]!.t).toISOString()).toBe('2026-03-30T10:00:00.000Z');
  });

  it('keeps herd days when the cow was not milked, sorted oldest first', () => {
    const rows = dailyRows(
      series({
        cow_days: [day('2026-03-31')],
        herd_days: [herdDay('2026-03-31'), herdDay('2026-03-29'), herdDay('2026-03-30')],
      }),
    );
    expect(rows.map((r) => r.day)).toEqual(['2026-03-29', '2026-03-30', '2026-03-31']);
    expect(rows[0]!.cow_yield_kg).toBeNull();
    expect(rows[0]!.herd_yield_kg).toBe(28);
  });

  it('keeps a missing sensor as null, never 0', () => {
    const rows = dailyRows(series({ cow_days: [day('2026-03-31', { blood_avg: null })], herd_days: [] }));
    expect(rows[0]!.cow_blood_avg).toBeNull();
    expect(rows[0]!.herd_blood_avg).toBeNull();
  });
});

describe('conductivity toggles', () => {
  it('shows the average by default and adds the quarters switched on', () => {
    expect(conductivityKeys(DEFAULT_TOGGLES)).toEqual(['cow_conductivity_avg']);
    expect(conductivityKeys({ average: false, lf: true, rf: false, lr: false, rr: true })).toEqual([
      'cow_conductivity_lf',
      'cow_conductivity_rr',
    ]);
  });

  it('disables a quarter with no sensor values in the window', () => {
    const rows = dailyRows(series({ cow_days: [day('2026-03-31')] }));
    expect(quarterAvailable(rows, 'lf')).toBe(true);
    expect(quarterAvailable(rows, 'lr')).toBe(false);
  });
});

describe('risk and alert markers', () => {
  it('plots each scored milking at its start time and skips unscored ones', () => {
    const rows = riskRows(
      series({
        sessions: [
          session('2026-03-31T04:00:00Z', { risk_score: 0.9 }),
          session('2026-03-30T16:00:00Z', { risk_score: null }),
          session('2026-03-30T04:00:00Z', { risk_score: 0.3, unit: 'VMS2' }),
        ],
      }),
    );
    expect(rows).toEqual([
      { t: Date.parse('2026-03-30T04:00:00Z'), risk: 0.3, unit: 'VMS2' },
      { t: Date.parse('2026-03-31T04:00:00Z'), risk: 0.9, unit: 'VMS1' },
    ]);
  });

  it('marks alerts inside the window only', () => {
    const base = { level: 'warning' as const, risk_score: 0.8, status: 'new' as const, reasons: [] };
    const markers = alertMarkers(
      series({
        alerts: [
          { ...base, alert_id: 2, created_at: '2026-03-31T03:10:00Z' },
          { ...base, alert_id: 1, created_at: '2026-03-20T03:10:00Z' },
        ],
      }),
    );
    expect(markers).toEqual([{ t: Date.parse('2026-03-31T03:10:00Z'), alertId: 2, level: 'warning' }]);
  });
});

describe('time axis', () => {
  it('spans local midnight of the first day to local midnight after the last', () => {
    const [start, end] = timeDomain(series());
    expect(new Date(start).toISOString()).toBe('2026-03-24T23:00:00.000Z'); // UTC+1 before DST
    expect(new Date(end).toISOString()).toBe('2026-03-31T22:00:00.000Z'); // UTC+2 after DST
  });

  it('labels at most the requested number of local midnights', () => {
    const ticks = dayTicks(series({ from_day: '2026-01-01', to_day: '2026-03-31', days: 90 }), 7);
    expect(ticks.length).toBeLessThanOrEqual(7);
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    expect(new Date(ticks[0]!).toISOString()).toBe('2025-12-31T23:00:00.000Z');
    const week = dayTicks(series(), 7);
    expect(week).toHaveLength(7);
  });

  it('knows when there is nothing to draw', () => {
    expect(isEmptySeries(series())).toBe(true);
    expect(isEmptySeries(series({ cow_days: [day('2026-03-31')] }))).toBe(false);
  });
});
