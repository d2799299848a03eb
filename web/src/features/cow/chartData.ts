// Shapes one cow's series for the charts: cow and herd average side by side per local day,
// the risk of each milking, alert markers, and time ticks at the farm's local midnights.
import type { AlertLevel, CowSeries, DayMetrics } from '../../api/types';
import { zonedInstant } from '../../lib/time';

export type Quarter = 'lf' | 'rf' | 'lr' | 'rr';
export const QUARTERS: readonly Quarter[] = ['lf', 'rf', 'lr', 'rr'];

/** A metric drawn per day for the cow with the herd's average cow as the reference line. */
export type DailyMetric = 'yield_kg' | 'conductivity_avg' | 'blood_avg' | 'flow_avg';

/** One local day: `t` is local noon (so the point sits in the middle of its day on a time axis). */
export interface DailyRow {
  t: number;
  day: string;
  cow_yield_kg: number | null;
  herd_yield_kg: number | null;
  cow_conductivity_avg: number | null;
  herd_conductivity_avg: number | null;
  cow_conductivity_lf: number | null;
  cow_conductivity_rf: number | null;
  cow_conductivity_lr: number | null;
  cow_conductivity_rr: number | null;
  cow_blood_avg: number | null;
  herd_blood_avg: number | null;
  cow_flow_avg: number | null;
  herd_flow_avg: number | null;
  cow_risk_max: number | null;
}

function pick(metrics: DayMetrics | undefined, key: keyof DayMetrics): number | null {
  const value = metrics?.[key];
  return typeof value === 'number' ? value : null;
}

/**
 * Cow days and herd days merged by local date, oldest first. A day the cow was not milked
 * still carries the herd's values, so the reference line has no holes.
 */
export function dailyRows(series: CowSeries): DailyRow[] {
  const cowByDay = new Map(series.cow_days.map((d) => [d.day, d]));
  const herdByDay = new Map(series.herd_days.map((d) => [d.day, d]));
  const days = [...new Set([...cowByDay.keys(), ...herdByDay.keys()])].sort();
  return days.map((day) => {
    const cow = cowByDay.get(day);
    const herd = herdByDay.get(day);
    return {
      t: zonedInstant(day, series.time_zone, 12),
      day,
      cow_yield_kg: pick(cow, 'yield_kg'),
      herd_yield_kg: pick(herd, 'yield_kg'),
      cow_conductivity_avg: pick(cow, 'conductivity_avg'),
      herd_conductivity_avg: pick(herd, 'conductivity_avg'),
      cow_conductivity_lf: pick(cow, 'conductivity_lf'),
      cow_conductivity_rf: pick(cow, 'conductivity_rf'),
      cow_conductivity_lr: pick(cow, 'conductivity_lr'),
      cow_conductivity_rr: pick(cow, 'conductivity_rr'),
      cow_blood_avg: pick(cow, 'blood_avg'),
      herd_blood_avg: pick(herd, 'blood_avg'),
      cow_flow_avg: pick(cow, 'flow_avg'),
      herd_flow_avg: pick(herd, 'flow_avg'),
      cow_risk_max: cow?.risk_score_max ?? null,
    };
  });
}

/** Which conductivity lines are drawn: the average and any of the four quarters. */
export interface ConductivityToggles {
  average: boolean;
  lf: boolean;
  rf: boolean;
  lr: boolean;
  rr: boolean;
}

export const DEFAULT_TOGGLES: ConductivityToggles = { average: true, lf: false, rf: false, lr: false, rr: false };

export type ConductivityKey = 'cow_conductivity_avg' | `cow_conductivity_${Quarter}`;

export function conductivityKeys(toggles: ConductivityToggles): ConductivityKey[] {
  const keys: ConductivityKey[] = [];
  if (toggles.average) keys.push('cow_conductivity_avg');
  for (const q of QUARTERS) if (toggles[q]) keys.push(`cow_conductivity_${q}`);
  return keys;
}

/** Whether a quarter has any value in the window (a toggle for a missing sensor is disabled). */
export function quarterAvailable(rows: DailyRow[], quarter: Quarter): boolean {
  return rows.some((row) => row[`cow_conductivity_${quarter}`] !== null);
}

export interface RiskRow {
  t: number;
  risk: number;
  unit: string;
}

/** The model's score of each scored milking, by start time. */
export function riskRows(series: CowSeries): RiskRow[] {
  return series.sessions
    .filter((s) => s.risk_score !== null)
    .map((s) => ({ t: Date.parse(s.started_at), risk: s.risk_score as number, unit: s.unit }))
    .sort((a, b) => a.t - b.t);
}

export interface AlertMarkerRow {
  t: number;
  alertId: number;
  level: AlertLevel;
}

/** Alert markers on the time axis, dropped when they fall outside the window. */
export function alertMarkers(series: CowSeries): AlertMarkerRow[] {
  const [start, end] = timeDomain(series);
  return series.alerts
    .map((a) => ({ t: Date.parse(a.created_at), alertId: a.alert_id, level: a.level }))
    .filter((m) => m.t >= start && m.t <= end)
    .sort((a, b) => a.t - b.t);
}

/** The window from local midnight of the first day to local midnight after the last. */
export function timeDomain(series: CowSeries): [number, number] {
  return [zonedInstant(series.from_day, series.time_zone, 0), zonedInstant(series.to_day, series.time_zone, 24)];
}

/** Local midnights to label, at most `max` of them, evenly spaced in days. */
export function dayTicks(series: CowSeries, max = 7): number[] {
  const ticks: number[] = [];
  const [y, m, d] = series.from_day.split('-').map(Number) as [number, number, number];
  const first = Date.UTC(y, m - 1, d);
  const [ty, tm, td] = series.to_day.split('-').map(Number) as [number, number, number];
  const count = Math.round((Date.UTC(ty, tm - 1, td) - first) / 86_400_000) + 1;
  const step = Math.max(1, Math.ceil(count / max));
  for (let i = 0; i < count; i += step) {
    const day = new Date(first + i * 86_400_000).toISOString().slice(0, 10);
    ticks.push(zonedInstant(day, series.time_zone, 0));
  }
  return ticks;
}

/** True when there is nothing to draw for the chosen window. */
export function isEmptySeries(series: CowSeries): boolean {
  return series.sessions.length === 0 && series.cow_days.length === 0;
}
