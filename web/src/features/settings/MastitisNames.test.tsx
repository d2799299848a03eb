import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';

import { SESSION_KEY } from '../../api/session';
import type { FarmSettings } from '../../api/types';
import { fakeToken, startServer, type Recorded, type Reply, type TestServer } from '../../test/httpServer';
import { FARM, renderPage } from '../../test/render';
import { SettingsPage } from './SettingsPage';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

const OWNER = { ...FARM, role: 'owner' as const };
const SETTINGS: FarmSettings = {
  farm_id: FARM.farm_id,
  name: FARM.name,
  time_zone: 'Europe/Rome',
  alert_threshold: null,
  critical_threshold: null,
  quiet_hours_start: null,
  quiet_hours_end: null,
  stale_after_minutes: 360,
  notification_targets: [],
  mastitis_patterns: ['mastitis', 'mastite', 'mammite'],
};

/** The settings API of one farm; `patch` answers the PATCH (by default: saves what was sent). */
async function serve(settings: FarmSettings, patch?: (req: Recorded) => Reply) {
  let current = settings;
  server = await startServer((req) => {
    const base = `/api/v1/farms/${FARM.farm_id}`;
    if (req.path === `${base}/settings` && req.method === 'GET') return { body: current };
    if (req.path === `${base}/settings` && req.method === 'PATCH') {
      if (patch) return patch(req);
      current = { ...current, ...(req.body as Partial<FarmSettings>) };
      return { body: current };
    }
    if (req.path === `${base}/members` || req.path === `${base}/agent-keys`) return { body: [] };
    return { status: 404, body: { error: { code: 'not_found', message: 'no route' } } };
  });
  vi.stubEnv('VITE_API_URL', server.url);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ accessToken: fakeToken(exp), refreshToken: 'r', expiresAt: exp * 1000 }));
}

const chips = (): string[] =>
  within(screen.getByTestId('mastitis-names'))
    .getAllByRole('listitem')
    .map((li) => li.querySelector('span')?.textContent ?? '');
const patches = (): Recorded[] => server!.requests.filter((r) => r.method === 'PATCH');

async function addName(name: string): Promise<void> {
  const input = screen.getByLabelText('Add a name');
  await userEvent.clear(input);
  await userEvent.type(input, `${name}{Enter}`);
}

describe('mastitis diagnosis names', () => {
  it('lets the owner remove and add names, and saves the whole list with PATCH', async () => {
    await serve(SETTINGS);
    renderPage(<SettingsPage />, { farm: OWNER });
    await screen.findByTestId('mastitis-names');
    expect(chips()).toEqual(['mastitis', 'mastite', 'mammite']);

    await userEvent.click(screen.getByRole('button', { name: 'Remove mammite' }));
    await addName('  Mastite clinica ');
    expect(chips()).toEqual(['mastitis', 'mastite', 'Mastite clinica']);
    expect(screen.getByText('Not saved yet.')).toBeInTheDocument();
    expect(patches()).toEqual([]);

    await userEvent.click(screen.getByRole('button', { name: 'Save names' }));
    expect(await screen.findByText('Saved.')).toBeInTheDocument();
    expect(patches().map((r) => [r.path, r.body])).toEqual([
      [`/api/v1/farms/${FARM.farm_id}/settings`, { mastitis_patterns: ['mastitis', 'mastite', 'Mastite clinica'] }],
    ]);
    expect(screen.queryByText('Not saved yet.')).not.toBeInTheDocument();
  });

  it('says which name is wrong before sending anything', async () => {
    await serve(SETTINGS);
    renderPage(<SettingsPage />, { farm: OWNER });
    await screen.findByTestId('mastitis-names');

    await addName('m');
    expect(screen.getByRole('alert')).toHaveTextContent('“m” must be 2 to 60 characters long.');
    await addName('MASTITIS');
    expect(screen.getByRole('alert')).toHaveTextContent('“MASTITIS” is already in the list.');
    expect(chips()).toEqual(['mastitis', 'mastite', 'mammite']);

    for (const name of ['mastitis', 'mastite', 'mammite']) {
      await userEvent.click(screen.getByRole('button', { name: `Remove ${name}` }));
    }
    expect(screen.getByText('No name left: keep at least one.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Save names' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Keep at least one name.');
    expect(patches()).toEqual([]);

    await userEvent.click(screen.getByRole('button', { name: 'Restore the defaults' }));
    expect(chips()).toEqual(['mastitis', 'mastite', 'euterentzündung', 'uierontsteking', 'mammite']);
  });

  it('shows the API’s refusal and keeps the owner’s list to correct it', async () => {
    await serve(SETTINGS, () => ({
      status: 422,
      body: { error: { code: 'validation_error', message: 'mastitis_patterns: at most 50 patterns' } },
    }));
    renderPage(<SettingsPage />, { farm: OWNER });
    await screen.findByTestId('mastitis-names');
    await addName('mastite acuta');
    await userEvent.click(screen.getByRole('button', { name: 'Save names' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('mastitis_patterns: at most 50 patterns');
    expect(chips()).toEqual(['mastitis', 'mastite', 'mammite', 'mastite acuta']);
    expect(screen.getByText('Not saved yet.')).toBeInTheDocument();
  });

  it('shows a farmer the names without a way to change them', async () => {
    await serve(SETTINGS);
    renderPage(<SettingsPage />);
    await screen.findByTestId('mastitis-names');
    expect(chips()).toEqual(['mastitis', 'mastite', 'mammite']);
    expect(screen.queryByRole('button', { name: /^Remove / })).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Add a name')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Restore the defaults' })).not.toBeInTheDocument();
  });

  it('leaves the panel out when the API does not know the names yet', async () => {
    const older: FarmSettings = { ...SETTINGS };
    delete older.mastitis_patterns;
    await serve(older);
    renderPage(<SettingsPage />, { farm: OWNER });
    await screen.findByRole('heading', { name: 'Alerts' });
    await waitFor(() => expect(screen.queryByTestId('mastitis-names')).not.toBeInTheDocument());
  });
});
