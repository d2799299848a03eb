// The field accuracy report in words: which period, which detector, how early.
import type { TFunction } from 'i18next';

import type { CaseWarning, Detector, DetectorAccuracy, FieldCase } from '../../api/types';
import { formatNumber } from '../../lib/numbers';

export const PERIODS = [30, 90, 365] as const;
export type Period = (typeof PERIODS)[number];
/** The API's own default period. */
export const DEFAULT_PERIOD: Period = 90;

export function periodFromParams(params: URLSearchParams): Period {
  const days = Number(params.get('days'));
  return (PERIODS as readonly number[]).includes(days) ? (days as Period) : DEFAULT_PERIOD;
}

/** Pecus first, then what it is measured against: the rule baseline and DelPro's MDi. */
const ORDER: readonly Detector[] = ['model', 'rules', 'mdi'];

export function orderDetectors(detectors: readonly DetectorAccuracy[]): DetectorAccuracy[] {
  const rank = (d: DetectorAccuracy): number => {
    const i = ORDER.indexOf(d.detector);
    return i === -1 ? ORDER.length : i;
  };
  return [...detectors].sort((a, b) => rank(a) - rank(b));
}

/** Up to two days in hours ("31 h"), beyond in days ("3.5 days"): how a farmer counts. */
export function formatLead(hours: number | null | undefined, t: TFunction, lang: string): string {
  if (hours === null || hours === undefined || !Number.isFinite(hours)) return '—';
  if (hours < 48) return t('accuracy.leadHours', { value: formatNumber(hours, lang, hours < 10 ? 1 : 0) });
  return t('accuracy.leadDays', { value: formatNumber(hours / 24, lang, 1) });
}

/** The detector's warning of this case, or null when it did not warn. */
export function warningOf(fieldCase: FieldCase, detector: Detector): CaseWarning | null {
  return fieldCase.warnings.find((w) => w.detector === detector && w.first_warned_at !== null) ?? null;
}


/** False when the detector could not have warned of this case (older reports say nothing: judged). */
export function isJudged(fieldCase: FieldCase, detector: Detector): boolean {
  return fieldCase.warnings.find((w) => w.detector === detector)?.judged ?? true;
}
