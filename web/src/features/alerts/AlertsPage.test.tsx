import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';

import type { Alert } from '../../api/types';
import { SESSION_KEY } from '../../api/session';
import { alert } from '../../test/fixtures';
import { fakeToken, startServer, type TestServer } from '../../test/httpServer';
import { FARM, renderPage } from '../../test/render';
import { actionsFor, alertQueryFromParams, applyStatusChange } from './alertState';
import { AlertsPage } from './AlertsPage';

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

function signIn(): void {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ accessToken: fakeToken(exp), refreshToken: 'r', expiresAt: exp * 1000 }));
}

async function serve(patch: (alertId: number, body: { status: string; note: string | null }) => { status?: number; body?: unknown; wait?: Promise<unknown> }) {
  const alerts: Alert[] = [alert(1), alert(2, { status: 'acknowledged', level: 'critical' })];
  server = await startServer((req) => {
    if (req.method === 'GET' && req.path.startsWith(`/api/v1/farms/${FARM.farm_id}/alerts`)) return { body: alerts };
    if (req.method === 'GET' && req.path.endsWith('/overview')) return { status: 503, body: {} };
    const match = req.method === 'PATCH' && /\/alerts\/(\d+)$/.exec(req.path);
    if (match) return patch(Number(match[1]), req.body as { status: string; note: string | null });
    return { status: 404, body: { error: { code: 'not_found', message: 'no route' } } };
  });
  vi.stubEnv('VITE_API_URL', server.url);
  signIn();
  return alerts;
}

describe('alerts page', () => {
  it('shows the acknowledgement at once, sends the note, and keeps the server’s answer', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await serve((id, body) => ({ wait: held, body: { ...alert(id), status: body.status, note: body.note } }));
    renderPage(<AlertsPage />);

    const card = await screen.findByTestId('alert-1');
    expect(within(card).getByText('New')).toBeInTheDocument();
    await userEvent.type(within(card).getByLabelText('Note (optional)'), 'checked, hot quarter');
    await userEvent.click(within(card).getByRole('button', { name: 'Acknowledge' }));

    // Optimistic: acknowledged while the server has not answered yet.
    await waitFor(() => expect(within(screen.getByTestId('alert-1')).getByText('Acknowledged')).toBeInTheDocument());
    const patch = server!.requests.find((r) => r.method === 'PATCH');
    expect(patch?.path).toBe(`/api/v1/farms/${FARM.farm_id}/alerts/1`);
    expect(patch?.body).toEqual({ status: 'acknowledged', note: 'checked, hot quarter' });
    expect(patch?.headers.authorization).toMatch(/^Bearer /);
    release();
    await waitFor(() => expect(within(screen.getByTestId('alert-1')).getByText(/checked, hot quarter/)).toBeInTheDocument());
  });

  it('rolls back and says why when the API refuses the change', async () => {
    await serve(() => ({ status: 403, body: { error: { code: 'forbidden', message: 'viewers cannot change alerts' } } }));
    renderPage(<AlertsPage />);

    const card = await screen.findByTestId('alert-1');
    await userEvent.click(within(card).getByRole('button', { name: 'Dismiss (false positive)' }));
    expect(await screen.findByTestId('alert-change-error')).toHaveTextContent('viewers cannot change alerts');
    expect(within(screen.getByTestId('alert-1')).getByText('New')).toBeInTheDocument();
    expect(within(screen.getByTestId('alert-1')).queryByText('False positive')).not.toBeInTheDocument();
  });

  it('says the server is down when it cannot be reached', async () => {
    await serve(() => ({}));
    await server!.close();
    server = undefined;
    renderPage(<AlertsPage />);
    expect(await screen.findByText('The server cannot be reached', {}, { timeout: 8000 })).toBeInTheDocument();
  });

  it('offers no buttons to a viewer', async () => {
    await serve(() => ({}));
    renderPage(<AlertsPage />, { farm: { ...FARM, role: 'viewer' } });
    await screen.findByTestId('alert-1');
    expect(screen.queryByRole('button', { name: 'Acknowledge' })).not.toBeInTheDocument();
  });
});

describe('alert helpers', () => {
  it('changes one alert and leaves the others', () => {
    const changed = applyStatusChange([alert(1), alert(2)], 2, 'false_positive', 'cow was in heat');
    expect(changed?.map((a) => [a.alert_id, a.status, a.note])).toEqual([
      [1, 'new', null],
      [2, 'false_positive', 'cow was in heat'],
    ]);
  });

  it('offers acknowledge and dismiss on new alerts, resolve on acknowledged ones, a correction of a dismissal, nothing once resolved', () => {
    expect(actionsFor('new')).toEqual(['acknowledged', 'false_positive']);
    expect(actionsFor('acknowledged')).toEqual(['resolved', 'false_positive']);
    expect(actionsFor('false_positive')).toEqual(['acknowledged']);
    expect(actionsFor('resolved')).toEqual([]);
  });

  it('turns the date filter into the farm’s local midnight', () => {
    const q = alertQueryFromParams(new URLSearchParams('status=new&unit=VMS1&since=2026-03-30'), 'Europe/Rome');
    expect(q).toEqual({ status: 'new', unit: 'VMS1', since: '2026-03-29T22:00:00.000Z' });
    expect(alertQueryFromParams(new URLSearchParams('status=bogus&since=yesterday'), 'UTC')).toEqual({});
  });
});
