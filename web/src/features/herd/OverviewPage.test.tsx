import { screen, within } from '@testing-library/react';
import { vi } from 'vitest';

import { SESSION_KEY } from '../../api/session';
import type { FarmOverview } from '../../api/types';
import { fakeToken, startServer, type TestServer } from '../../test/httpServer';
import { FARM, renderPage } from '../../test/render';
import { OverviewPage } from './OverviewPage';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

const EMPTY: FarmOverview = {
  farm_id: FARM.farm_id,
  name: FARM.name,
  time_zone: 'Europe/Rome',
  generated_at: '2026-03-31T03:00:00Z',
  cows_milked_24h: 0,
  cows_at_risk: 0,
  open_alerts: { warning: 0, critical: 0 },
  at_risk: [],
  new_alerts_24h: 0,
  yield_today_kg: 0,
  yield_24h_kg: 0,
  yield_7d_avg_kg: null,
  conductivity_avg_24h: null,
  conductivity_avg_7d: null,
  stale_after_minutes: 360,
  units: [],
  sources: [],
};

async function serve(overview: FarmOverview) {
  server = await startServer((req) => (req.path.endsWith('/overview') ? { body: overview } : { status: 404 }));
  vi.stubEnv('VITE_API_URL', server.url);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ accessToken: fakeToken(exp), refreshToken: 'r', expiresAt: exp * 1000 }));
}

describe('herd overview', () => {
  it('explains how to connect the farm when no data has arrived yet', async () => {
    await serve(EMPTY);
    renderPage(<OverviewPage />);
    expect(await screen.findByText('No milkings yet')).toBeInTheDocument();
    expect(screen.getByText('pecus-agent install')).toBeInTheDocument();
  });

  it('leads with the cows at risk, sorted as the API gives them, and warns of a silent robot', async () => {
    await serve({
      ...EMPTY,
      cows_milked_24h: 118,
      cows_at_risk: 2,
      open_alerts: { warning: 1, critical: 1 },
      at_risk: [
        {
          animal_id: '1042',
          unit: 'Robot 1',
          alert: { alert_id: 9, level: 'critical', risk_score: 0.93, status: 'new', created_at: '2026-03-31T02:00:00Z', reasons: [{ signal: 'conductivity_lf', change_pct: 31 }] },
        },
        {
          animal_id: '1007',
          unit: 'Robot 2',
          alert: { alert_id: 4, level: 'warning', risk_score: 0.7, status: 'acknowledged', created_at: '2026-03-30T20:00:00Z', reasons: [] },
        },
      ],
      yield_24h_kg: 3300,
      yield_7d_avg_kg: 3000,
      units: [
        { unit: 'Robot 1', source_id: 1, last_session_at: new Date().toISOString(), minutes_since_last_session: 3, stale: false },
        { unit: 'Robot 2', source_id: 1, last_session_at: new Date(Date.now() - 8 * 3600_000).toISOString(), minutes_since_last_session: 480, stale: true },
      ],
      sources: [{ source_id: 1, name: 'delpro', last_ingest_at: new Date().toISOString(), last_sync: null, stale: false }],
    });
    renderPage(<OverviewPage />);
    expect(await screen.findByTestId('at-risk-count')).toHaveTextContent('2');
    expect(screen.getByTestId('at-risk-headline')).toHaveTextContent('2 cows at risk today');
    const rows = within(screen.getByTestId('at-risk-table')).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getByRole('link').textContent)).toEqual(['1042', '1007']);
    expect(rows[0]).toHaveTextContent('Conductivity front left +31 %');
    expect(rows[0]).toHaveTextContent('04:00'); // 02:00 UTC in Rome's summer time (UTC+2)
    expect(screen.getByTestId('feed-warning')).toHaveTextContent('Robot Robot 2 is silent: last milking 8 hours ago.');
    expect(screen.getByText('7-day average 3,000 kg (+10.0 %)')).toBeInTheDocument();
  });
});
