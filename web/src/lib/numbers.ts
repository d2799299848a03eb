/** A number with fixed decimals in the reader's language, or an em dash when there is none. */
export function formatNumber(value: number | null | undefined, lang: string, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
    value,
  );
}

/** A 0–1 fraction as a whole percentage ("82 %"), or an em dash when there is none. */
export function formatPercent(fraction: number | null | undefined, lang: string): string {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return '—';
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 }).format(fraction);
}

/** A 0–1 risk score as a whole percentage ("82 %"). */
export const formatRisk = formatPercent;

/** Relative change of `value` against `baseline` in percent, or null when it cannot be computed. */
export function percentChange(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0) return null;
  return ((value - baseline) / baseline) * 100;
}
