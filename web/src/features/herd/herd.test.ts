import type { FarmOverview } from '../../api/types';
import { feedWarnings, yieldChange } from './freshness';
import { cowQueryFromParams } from './HerdListPage';

function overview(over: Partial<FarmOverview> = {}): FarmOverview {
  return {
    farm_id: 'f',
    name: 'Cascina',
    time_zone: 'Europe/Rome',
    generated_at: '2026-03-31T05:00:00Z',
    cows_milked_24h: 120,
    cows_at_risk: 2,
    open_alerts: { warning: 1, critical: 1 },
    at_risk: [],
    new_alerts_24h: 1,
    yield_today_kg: 900,
    yield_24h_kg: 3300,
    yield_7d_avg_kg: 3000,
    conductivity_avg_24h: 5,
    conductivity_avg_7d: 4.9,
    stale_after_minutes: 360,
    units: [{ unit: 'VMS1', source_id: 1, last_session_at: '2026-03-31T04:50:00Z', minutes_since_last_session: 10, stale: false }],
    sources: [
      {
        source_id: 1,
        name: 'delpro',
        last_ingest_at: '2026-03-31T04:55:00Z',
        last_sync: null,
        stale: false,
      },
    ],
    ...over,
  };
}

describe('data freshness', () => {
  it('says nothing when every robot and agent is working', () => {
    expect(feedWarnings(overview())).toEqual([]);
  });

  it('names a silent robot and a failed agent upload', () => {
    const o = overview({
      units: [{ unit: 'VMS2', source_id: 1, last_session_at: '2026-03-30T20:00:00Z', minutes_since_last_session: 540, stale: true }],
      sources: [
        {
          source_id: 1,
          name: 'delpro',
          last_ingest_at: '2026-03-31T04:00:00Z',
          last_sync: {
            started_at: '2026-03-31T04:30:00Z',
            finished_at: '2026-03-31T04:30:01Z',
            result: 'error',
            rows_received: 10,
            rows_inserted: 0,
            error: 'boom',
            agent_version: '0.1',
            agent_host: 'pc',
          },
          stale: false,
        },
      ],
    });
    expect(feedWarnings(o)).toEqual([
      { kind: 'source', source: 'delpro', since: '2026-03-31T04:00:00Z', failed: true },
      { kind: 'unit', unit: 'VMS2', since: '2026-03-30T20:00:00Z' },
    ]);
  });

  it('knows a farm with no data at all', () => {
    expect(feedWarnings(overview({ units: [], sources: [] }))).toEqual([{ kind: 'no-data' }]);
  });

  it('compares the last 24 h with the 7-day average', () => {
    expect(yieldChange(overview())).toBeCloseTo(10);
    expect(yieldChange(overview({ yield_7d_avg_kg: null }))).toBeNull();
  });
});

describe('herd list URL', () => {
  it('reads sort, filters, search and page from the URL', () => {
    const q = cowQueryFromParams(new URLSearchParams('sort=yield_24h&order=desc&at_risk=1&unit=VMS2&q=10&page=2&lactation=3'));
    expect(q).toEqual({ sort: 'yield_24h', order: 'desc', at_risk: true, unit: 'VMS2', q: '10', lactation: 3, limit: 50, offset: 100 });
  });

  it('ignores what it does not know', () => {
    expect(cowQueryFromParams(new URLSearchParams('sort=drop+table&page=-3&lactation=zero'))).toEqual({ sort: 'risk', limit: 50, offset: 0 });
  });
});
