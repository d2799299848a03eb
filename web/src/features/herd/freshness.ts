// Which data feeds are silent: a robot that stopped milking, or an agent that stopped uploading.
import type { FarmOverview } from '../../api/types';

export type FeedWarning =
  | { kind: 'no-data' }
  | { kind: 'unit'; unit: string; since: string | null }
  | { kind: 'source'; source: string; since: string | null; failed: boolean };

export function feedWarnings(overview: FarmOverview): FeedWarning[] {
  if (overview.units.length === 0 && overview.sources.length === 0) return [{ kind: 'no-data' }];
  const warnings: FeedWarning[] = [];
  for (const source of overview.sources) {
    const failed = source.last_sync !== null && source.last_sync.result !== 'ok';
    if (source.stale || failed) {
      warnings.push({
        kind: 'source',
        source: source.name,
        since: source.last_ingest_at ?? source.last_sync?.started_at ?? null,
        failed,
      });
    }
  }
  for (const unit of overview.units) {
    if (unit.stale) warnings.push({ kind: 'unit', unit: unit.unit, since: unit.last_session_at });
  }
  return warnings;
}

/** Herd milk of the last 24 h against the 7-day average, in percent (null without a baseline). */
export function yieldChange(overview: FarmOverview): number | null {
  const baseline = overview.yield_7d_avg_kg;
  if (baseline === null || baseline === 0) return null;
  return ((overview.yield_24h_kg - baseline) / baseline) * 100;
}
