// An alert's reasons in plain words: "Conductivity front left +18 % (5.2 → 6.1 mS/cm)".
import type { TFunction } from 'i18next';

import type { AlertReason } from '../api/types';
import { formatNumber } from './numbers';

const QUARTERS = ['lf', 'rf', 'lr', 'rr'] as const;
const UNITS: Record<string, { unit: string; digits: number }> = {
  yield: { unit: 'kg', digits: 1 },
  conductivity: { unit: 'mS/cm', digits: 2 },
  blood: { unit: 'ppm', digits: 0 },
  flow: { unit: 'kg/min', digits: 2 },
  duration: { unit: 's', digits: 0 },
  cell_count: { unit: '×1000/mL', digits: 0 },
};
/** Beyond this a percentage reads badly ("+3317 %"): say how many times the usual value instead. */
const TIMES_FROM_PCT = 200;

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Splits `conductivity_lf` into the base signal and the quarter, and drops unit suffixes. */
export function parseSignal(signal: string): { base: string; quarter: (typeof QUARTERS)[number] | null } {
  let name = signal.toLowerCase();
  let quarter: (typeof QUARTERS)[number] | null = null;
  for (const q of QUARTERS) {
    if (name.endsWith(`_${q}`)) {
      quarter = q;
      name = name.slice(0, -q.length - 1);
    }
  }
  name = name.replace(/_(kg|avg|mean|max|ratio|pct|delta)$/, '');
  return { base: name, quarter };
}

/**
 * The AI engine's reasons: {signal, value, quarter?, text}. `value` means something per signal (a
 * relative change for conductivity, a ppm for blood, hours for an interval…); `text` is English,
 * so we word them again in the reader's language.
 */
const ENGINE_SIGNALS = new Set([
  'conductivity',
  'quarter_ratio',
  'quarter_yield',
  'yield',
  'blood',
  'cell_count',
  'mdi',
  'flow',
  'interval',
  'kickoff',
  'incomplete',
  'data_feed',
]);

function signedPct(fraction: number, lang: string): string {
  const pct = Math.round(fraction * 100);
  return `${pct > 0 ? '+' : pct < 0 ? '−' : ''}${formatNumber(Math.abs(pct), lang, 0)} %`;
}

function describeEngineReason(reason: AlertReason, t: TFunction, lang: string): string | null {
  const signal = reason.signal as string;
  const value = num(reason.value);
  const quarter =
    typeof reason.quarter === 'string' && (QUARTERS as readonly string[]).includes(reason.quarter)
      ? t(`quarters.${reason.quarter}`)
      : '';
  if (signal === 'data_feed') {
    const minutes = num(reason.silent_minutes);
    if (minutes === null) return null;
    const hours = minutes / 60;
    return t('reasons.engine.data_feed', {
      time: hours >= 1 ? `${formatNumber(hours, lang, hours < 10 ? 1 : 0)} h` : `${minutes} min`,
    });
  }
  if (value === null) return null;
  switch (signal) {
    case 'conductivity':
    case 'quarter_yield':
    case 'yield':
    case 'flow':
      return t(`reasons.engine.${signal}`, { quarter, change: signedPct(value, lang) });
    case 'quarter_ratio':
      return t('reasons.engine.quarter_ratio', { quarter, change: signedPct(value - 1, lang) });
    case 'blood':
      return t('reasons.engine.blood', { value: formatNumber(value, lang, 0) });
    case 'cell_count':
      return t('reasons.engine.cell_count', { value: formatNumber(value * 1000, lang, 0) });
    case 'mdi':
      return t('reasons.engine.mdi', { value: formatNumber(value, lang, 1) });
    case 'interval':
      return t('reasons.engine.interval', { hours: formatNumber(value, lang, 0) });
    case 'kickoff':
    case 'incomplete':
      return t(`reasons.engine.${signal}`, { count: Math.round(value) });
    default:
      return null;
  }
}

export function describeReason(reason: AlertReason, t: TFunction, lang: string): string {
  const text = [reason.text, reason.message, reason.description].find((v) => typeof v === 'string');
  if (typeof reason.signal === 'string' && ENGINE_SIGNALS.has(reason.signal) && typeof reason.text === 'string') {
    const worded = describeEngineReason(reason, t, lang);
    if (worded) return worded;
  }
  // A reason that brings its own words and a signal we do not know: its words beat our guess.
  if (typeof reason.text === 'string' && !(typeof reason.signal === 'string' && ENGINE_SIGNALS.has(reason.signal))) {
    return reason.text;
  }
  const rawSignal = typeof reason.signal === 'string' ? reason.signal : typeof reason.feature === 'string' ? reason.feature : null;
  if (!rawSignal) return typeof text === 'string' ? text : t('reasons.unknown');

  const { base, quarter } = parseSignal(rawSignal);
  let label = t(`signals.${base}`, { defaultValue: base.replace(/_/g, ' ') });
  if (quarter) label = `${label} ${t(`quarters.${quarter}`)}`;

  const value = num(reason.value);
  const baseline = num(reason.baseline);
  let change = num(reason.change_pct);
  if (change === null && value !== null && baseline !== null && baseline !== 0) {
    change = ((value - baseline) / baseline) * 100;
  }
  const { unit, digits } = UNITS[base] ?? { unit: '', digits: 1 };
  const withUnit = (x: number) => `${formatNumber(x, lang, digits)}${unit ? ` ${unit}` : ''}`;
  const parts: string[] = [label];
  if (change !== null && change >= TIMES_FROM_PCT) {
    parts.push(`×${formatNumber(change / 100 + 1, lang, change >= 900 ? 0 : 1)}`);
  } else if (change !== null) {
    parts.push(`${change > 0 ? '+' : change < 0 ? '−' : '±'}${formatNumber(Math.abs(change), lang, 0)} %`);
  }
  if (value !== null && baseline !== null) {
    parts.push(`(${formatNumber(baseline, lang, digits)} → ${withUnit(value)})`);
  } else if (value !== null) {
    parts.push(`(${withUnit(value)})`);
  }
  return parts.join(' ');
}

/** All reasons of an alert, joined for a table cell. */
export function describeReasons(reasons: AlertReason[], t: TFunction, lang: string): string {
  if (reasons.length === 0) return t('reasons.none');
  return reasons.map((reason) => describeReason(reason, t, lang)).join(' · ');
}
