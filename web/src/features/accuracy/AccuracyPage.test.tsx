import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';

import { SESSION_KEY } from '../../api/session';
import type { FieldAccuracy } from '../../api/types';
import { detector, fieldAccuracy } from '../../test/fixtures';
import { fakeToken, startServer, type Reply, type TestServer } from '../../test/httpServer';
import { FARM, renderPage } from '../../test/render';
import { AccuracyPage } from './AccuracyPage';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.unstubAllEnvs();
});

const PATH = `/api/v1/farms/${FARM.farm_id}/accuracy`;

async function serve(answer: (days: string | null) => Reply) {
  server = await startServer((req) => {
    const url = new URL(req.path, 'http://x');
    if (req.method === 'GET' && url.pathname === PATH) return answer(url.searchParams.get('days'));
    return { status: 404, body: { error: { code: 'not_found', message: 'no route' } } };
  });
  vi.stubEnv('VITE_API_URL', server.url);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ accessToken: fakeToken(exp), refreshToken: 'r', expiresAt: exp * 1000 }));
}

const REPORT: FieldAccuracy = fieldAccuracy({
  milkings: 25_000,
  healthy_milkings: 24_000,
  treatments: 5,
  diagnoses: [
    { diagnosis: 'Mastite clinica', treatments: 3, mastitis: true },
    { diagnosis: 'Zoppia', treatments: 2, mastitis: false },
  ],
  cases: [
    {
      animal_id: '1042',
      onset: '2026-03-20T07:00:00Z',
      treatments: 2,
      diagnoses: ['Mastite clinica'],
      warnings: [
        { detector: 'model', first_warned_at: '2026-03-19T00:00:00Z', lead_hours: 31 },
        { detector: 'rules', first_warned_at: null, lead_hours: null },
      ],
    },
    {
      animal_id: 'A/7',
      onset: '2026-02-02T23:30:00Z',
      treatments: 1,
      diagnoses: ['Mastite clinica'],
      warnings: [],
    },
  ],
  detectors: [
    detector('rules', { cases: 2, cases_warned: 0, sensitivity: 0, alerts: 9, alerts_without_case: 9, false_alerts_per_1000_milkings: 0.36 }),
    detector('mdi', { available: false }),
    detector('model', {
      cases: 2,
      cases_warned: 1,
      sensitivity: 0.5,
      lead_hours_median: 31,
      warned_24h: 1,
      alerts: 4,
      alerts_without_case: 3,
      confirmed_false: 2,
      false_alerts_per_1000_milkings: 0.12,
    }),
  ],
});

describe('field accuracy page', () => {
  it('explains where treatments come from while none has arrived', async () => {
    await serve(() => ({ body: fieldAccuracy() }));
    renderPage(<AccuracyPage />);
    expect(await screen.findByText('No treatments yet')).toBeInTheDocument();
    expect(screen.getByText(/Treatments come from DelPro through the Pecus agent on the farm PC/)).toBeInTheDocument();
    expect(screen.queryByTestId('detector-model')).not.toBeInTheDocument();
    expect(screen.getByText('How cases and warnings are counted')).toBeInTheDocument();
  });

  it('compares Pecus with the rules and MDi, lists the cases in the farm’s time and the diagnosis names', async () => {
    await serve(() => ({ body: REPORT }));
    renderPage(<AccuracyPage />, { farm: { ...FARM, role: 'owner' } });

    expect(await screen.findByTestId('accuracy-headline')).toHaveTextContent(
      'Pecus warned of 1 of your 2 treated cases (50%). Typically 31 h before the first treatment.',
    );
    expect(screen.getByTestId('accuracy-period')).toHaveTextContent('25,000 milkings · 5 treatments · times in Europe/Rome');

    const cards = screen.getAllByTestId(/^detector-/).map((card) => card.dataset.testid);
    expect(cards).toEqual(['detector-model', 'detector-rules', 'detector-mdi']);
    const model = screen.getByTestId('detector-model');
    expect(model).toHaveTextContent('50%');
    expect(model).toHaveTextContent('warned of 1 of 2 cases');
    expect(within(model).getByText('Typical warning time (median)').nextSibling).toHaveTextContent('31 h');
    expect(within(model).getByText('False alerts (no case followed)').nextSibling).toHaveTextContent('3');
    expect(within(model).getByText('Of these, marked false positive by you').nextSibling).toHaveTextContent('2');
    expect(within(model).getByText('False alerts per 1,000 milkings of healthy cows').nextSibling).toHaveTextContent('0.1');
    expect(screen.getByTestId('detector-rules')).toHaveTextContent('0%');
    expect(screen.getByTestId('detector-mdi')).toHaveTextContent('Not available');
    expect(screen.getByTestId('detector-mdi')).toHaveTextContent('The milkings from DelPro carry no MDi value.');

    const rows = within(screen.getByTestId('case-table')).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getByRole('link').getAttribute('href'))).toEqual([
      `/farms/${FARM.farm_id}/cows/1042`,
      `/farms/${FARM.farm_id}/cows/A%2F7`,
    ]);
    expect(rows[0]).toHaveTextContent('Mar 20, 08:00'); // 07:00 UTC in Rome's winter time (UTC+1)
    expect(rows[1]).toHaveTextContent('Feb 3, 00:30'); // the next day in Rome
    expect(rows[0]).toHaveTextContent('Pecus: 31 h before');
    expect(rows[0]).toHaveTextContent('Simple rules: not warned');
    expect(rows[0]).not.toHaveTextContent('DelPro MDi'); // not available: not listed per case
    expect(rows[1]).toHaveTextContent('Pecus: not warned');

    const names = within(screen.getByTestId('diagnosis-table')).getAllByRole('row').slice(1);
    expect(names.map((r) => r.textContent)).toEqual(['Mastite clinica3Yes', 'Zoppia2No']);
    const hint = screen.getByTestId('names-hint');
    expect(hint).toHaveTextContent('contains one of: mastitis, mastite, euterentzündung, uierontsteking, mammite.');
    expect(within(hint).getByRole('link', { name: 'Add a name in Settings.' })).toHaveAttribute(
      'href',
      `/farms/${FARM.farm_id}/settings#mastitis-names`,
    );
  });

  it('says which cases Pecus could not have warned of (milkings synced too late) and leaves them out', async () => {
    const late = fieldAccuracy({
      ...REPORT,
      cases: [
        {
          animal_id: '1042',
          onset: '2026-03-20T07:00:00Z',
          treatments: 2,
          diagnoses: ['Mastite clinica'],
          warnings: [
            { detector: 'model', judged: false, first_warned_at: null, lead_hours: null },
            { detector: 'rules', judged: true, first_warned_at: '2026-03-19T00:00:00Z', lead_hours: 31 },
          ],
        },
      ],
      detectors: [
        detector('model', { cases: 0, cases_not_judged: 1, cases_warned: 0, sensitivity: null }),
        detector('rules', { cases: 1, cases_warned: 1, sensitivity: 1 }),
        detector('mdi', { available: false }),
      ],
    });
    await serve(() => ({ body: late }));
    renderPage(<AccuracyPage />);
    expect(await screen.findByTestId('not-judged-model')).toHaveTextContent(
      '1 more case left out: its milkings reached Pecus too late to alert',
    );
    expect(screen.queryByTestId('not-judged-rules')).not.toBeInTheDocument();
    expect(screen.queryByTestId('accuracy-headline')).not.toBeInTheDocument(); // nothing to claim yet
    const row = within(screen.getByTestId('case-table')).getAllByRole('row')[1];
    expect(row).toHaveTextContent('Pecus: not judged (milkings synced too late to alert)');
    expect(row).toHaveTextContent('Simple rules: 31 h before');
  });

  it('tells a farmer who may change the names instead of linking to a form they cannot use', async () => {
    await serve(() => ({ body: REPORT }));
    renderPage(<AccuracyPage />);
    expect(await screen.findByTestId('names-hint')).toHaveTextContent('The farm owner can add a name in Settings.');
    expect(within(screen.getByTestId('names-hint')).queryByRole('link')).not.toBeInTheDocument();
  });

  it('asks for 90 days first and for the chosen period after a click', async () => {
    await serve((days) => ({ body: fieldAccuracy({ from_day: days === '365' ? '2025-04-01' : '2026-01-01' }) }));
    renderPage(<AccuracyPage />);
    await screen.findByText('No treatments yet');
    expect(screen.getByRole('button', { name: '90 days' })).toHaveAttribute('aria-pressed', 'true');
    await userEvent.click(screen.getByRole('button', { name: '365 days' }));
    await waitFor(() => expect(server!.requests.map((r) => r.path)).toEqual([`${PATH}?days=90`, `${PATH}?days=365`]));
    expect(screen.getByRole('button', { name: '365 days' })).toHaveAttribute('aria-pressed', 'true');
  });

  it('shows the API’s error message when the report fails', async () => {
    await serve(() => ({ status: 500, body: { error: { code: 'internal', message: 'The report could not be computed' } } }));
    renderPage(<AccuracyPage />);
    expect(await screen.findByRole('alert')).toHaveTextContent('The report could not be computed');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });

  it('in Italian', async () => {
    const i18next = (await import('i18next')).default;
    await i18next.changeLanguage('it');
    await serve(() => ({ body: REPORT }));
    renderPage(<AccuracyPage />);
    expect(await screen.findByTestId('accuracy-headline')).toHaveTextContent(
      'Pecus ha avvisato di 1 su 2 casi trattati (50%). Di solito 31 h prima del primo trattamento.',
    );
    expect(screen.getByTestId('detector-mdi')).toHaveTextContent('Non disponibile');
  });
});
