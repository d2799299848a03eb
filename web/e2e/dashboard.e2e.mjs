// End to end in a real browser against the real API on a real PostgreSQL.
// Started by tests/web/test_browser.py, which seeds the data and passes what the database holds:
//   PECUS_BASE_URL, PECUS_EMAIL, PECUS_PASSWORD, PECUS_FARM_A, PECUS_FARM_B, PECUS_COW_B,
//   PECUS_AT_RISK, PECUS_SICK_COW, PECUS_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { DESKTOP, launch } from './browser.mjs';
import {
  BASE,
  signIn,
  checkAccessibility as axe,
  EMAIL,
  env,
  FARM_A,
  noHorizontalScroll as fitsPhone,
  PASSWORD,
  screenshots as shoot,
  watchConsole,
} from './helpers.mjs';

const FARM_B = env('PECUS_FARM_B');
const COW_B = env('PECUS_COW_B');
const AT_RISK = Number(env('PECUS_AT_RISK'));
const SICK_COW = env('PECUS_SICK_COW');
const VET_EMAIL = env('PECUS_VET_EMAIL');
const FARM_B_NAME = env('PECUS_FARM_B_NAME');
const AT_RISK_B = Number(env('PECUS_AT_RISK_B'));

let browser;
let page;
let consoleErrors = [];

before(async () => {
  browser = await launch();
  // English first (the switch to Italian is a test of its own); the farm's zone is not the browser's.
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB', timezoneId: 'America/New_York' });
  // A controllable clock, to let a session's access token expire without waiting for it.
  await context.clock.install();
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  consoleErrors = watchConsole(page);
});

after(async () => {
  await browser?.close();
});

const checkAccessibility = (name) => axe(page, name);
const screenshots = (name, ready) => shoot(page, name, ready);
const noHorizontalScroll = (name) => fitsPhone(page, name);

test('sign-in page: a wrong password is refused in words', async () => {
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/login/);
  await page.getByLabel('E-mail').fill(EMAIL);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signin-error').waitFor();
  assert.match(await page.getByTestId('signin-error').innerText(), /Wrong e-mail or password/);
  await checkAccessibility('sign-in');
  await screenshots('01-sign-in');
});

test('sign in and see the number of cows at risk that the database holds', async () => {
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(new RegExp(`/farms/${FARM_A}$`));
  const count = page.getByTestId('at-risk-count');
  await count.waitFor();
  assert.equal(Number(await count.innerText()), AT_RISK);
  assert.match(await page.getByTestId('at-risk-headline').innerText(), /cows? at risk today/);
  const rows = page.getByTestId('at-risk-table').locator('tbody tr');
  assert.equal(await rows.count(), AT_RISK);
  await checkAccessibility('overview');
  await noHorizontalScroll('overview');
  await screenshots('02-overview');
});

test('herd list: search by cow number and open the cow', async () => {
  await page.getByRole('link', { name: 'Herd' }).click();
  await page.getByTestId('herd-table').waitFor();
  await checkAccessibility('herd list');
  await noHorizontalScroll('herd list');
  await screenshots('03-herd');
  // Filters go to the API: only cows in their second lactation, then back to all.
  const second = page.waitForResponse((r) => r.url().includes('lactation=2') && r.status() === 200);
  await page.getByLabel('Lactation').selectOption('2');
  await second;
  await page.getByLabel('Lactation').selectOption('');
  await page.getByLabel('Only cows at risk').check();
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="herd-table"] tbody tr').length === n,
    AT_RISK,
  );
  await page.getByLabel('Only cows at risk').uncheck();
  await page.getByLabel('Cow number').fill(SICK_COW);
  await page.getByTestId('herd-table').locator('tbody tr').filter({ hasText: SICK_COW }).first().waitFor();
  await page.getByRole('link', { name: SICK_COW, exact: true }).click();
  await page.waitForURL(new RegExp(`/cows/${SICK_COW}`));
});

test('cow page: both chart lines, the cow and the herd average', async () => {
  const yieldChart = page.getByTestId('chart-yield');
  await yieldChart.locator('.line-cow path.recharts-line-curve').waitFor();
  for (const selector of ['.line-cow', '.line-herd']) {
    const d = await yieldChart.locator(`${selector} path.recharts-line-curve`).getAttribute('d');
    assert.ok(d && d.length > 20 && d.split(/[LC]/).length > 5, `${selector} has no drawn line: ${d}`);
  }
  const legend = await yieldChart.locator('.recharts-legend-wrapper').innerText();
  assert.match(legend, new RegExp(`Cow ${SICK_COW}`));
  assert.match(legend, /Herd average/);
  const condChart = page.getByTestId('chart-conductivity');
  await condChart.locator('.line-herd path.recharts-line-curve').waitFor();
  // A quarter switched on draws its own line.
  await condChart.getByLabel('front left').check();
  await condChart.locator('.line-quarter-lf path.recharts-line-curve').waitFor();
  assert.ok((await page.locator('.alert-marker').count()) > 0, 'no alert marker on the time axis');
  // Another period asks the API for it and redraws.
  const ninety = page.waitForResponse((r) => r.url().includes('/series?days=90') && r.status() === 200);
  await page.getByRole('button', { name: '90 days' }).click();
  await ninety;
  await page.locator('button[aria-pressed="true"]', { hasText: '90 days' }).waitFor();
  await yieldChart.locator('.line-herd path.recharts-line-curve').waitFor();
  await checkAccessibility('cow');
  await noHorizontalScroll('cow');
  await screenshots('04-cow', () => yieldChart.locator('.line-herd path.recharts-line-curve').waitFor());
});

test('settings page for the owner: threshold, notification target, agent key', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Agent keys' }).waitFor();
  await page.getByRole('heading', { name: 'People' }).waitFor();
  await checkAccessibility('settings');

  await page.getByLabel('Alert from risk (%)').fill('60');
  // Exact names: the mastitis names panel has its own "Save names" and "Add name" buttons.
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved.', { exact: true }).waitFor();

  await page.getByLabel('Name', { exact: true }).fill('Office e-mail');
  await page.getByLabel('Address (apprise URL)').fill('mailtos://vet:s3cret-pass@mail.example.it');
  await page.getByRole('button', { name: 'Add', exact: true }).first().click();
  const target = page.locator('.list-row').filter({ hasText: 'Office e-mail' });
  await target.waitFor();
  assert.doesNotMatch(await target.innerText(), /s3cret-pass/, 'the secret of a notification target is shown');

  await page.getByLabel('Name of the key').fill('Barn PC');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.getByTestId('new-key').locator('code').innerText();
  assert.ok(secret.length >= 20, `agent key looks too short: ${secret}`);
  await page.getByRole('button', { name: 'Done' }).click();
  const key = page.locator('.list-row').filter({ hasText: 'Barn PC' });
  await key.waitFor();
  assert.doesNotMatch(await key.innerText(), new RegExp(secret), 'the agent key is shown again');

  await page.reload();
  await page.getByRole('heading', { name: 'Agent keys' }).waitFor();
  assert.equal(await page.getByLabel('Alert from risk (%)').inputValue(), '60');
  await noHorizontalScroll('settings');
  await screenshots('06-settings');
});

test('switch to Italian, and it stays Italian after a reload', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}`);
  await page.getByTestId('at-risk-count').waitFor();
  await page.getByTestId('language').selectOption('it');
  await page.getByRole('link', { name: 'Mandria' }).waitFor();
  assert.match(await page.getByTestId('at-risk-headline').innerText(), /(vacche|vacca) a rischio oggi/);
  await page.reload();
  await page.getByRole('link', { name: 'Allarmi' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'it');
  await checkAccessibility('overview (it)');
  await screenshots('07-overview-it');
  await page.goto(`${BASE}/farms/${FARM_A}/cows/${SICK_COW}`);
  await page.getByTestId('chart-yield').locator('.line-herd path.recharts-line-curve').waitFor();
  assert.match(await page.getByTestId('chart-yield').innerText(), /Media mandria/);
  await screenshots('08-cow-it', () => page.getByTestId('chart-yield').locator('.line-herd path.recharts-line-curve').waitFor());
  await page.getByTestId('language').selectOption('en');
});

test('a farm-A user cannot open a farm-B cow by URL', async () => {
  // Farm B's own address: not one of this user's farms.
  await page.goto(`${BASE}/farms/${FARM_B}/cows/${COW_B}`);
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  // Farm B's cow number under farm A: the API answers 404 (RLS), and the page says so.
  await page.goto(`${BASE}/farms/${FARM_A}/cows/${COW_B}`);
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  assert.equal(await page.locator('.recharts-line-curve').count(), 0);
  await checkAccessibility('not found');
  await screenshots('09-not-found');
});

test('an expired access token is refreshed, not a surprise sign-out', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}`);
  await page.getByTestId('at-risk-count').waitFor();
  const before = await page.evaluate(() => JSON.parse(localStorage.getItem('pecus.session')).refreshToken);
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.status() === 200);
  await page.clock.fastForward('20:00'); // past the 15-minute access token
  await page.getByRole('link', { name: 'Herd' }).click();
  await refreshed;
  await page.getByTestId('herd-table').waitFor();
  assert.doesNotMatch(page.url(), /\/login/);
  const after = await page.evaluate(() => JSON.parse(localStorage.getItem('pecus.session')).refreshToken);
  assert.notEqual(after, before, 'the refresh token was not rotated');
});

test('sign out ends the session', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login/);
  await page.goto(`${BASE}/farms/${FARM_A}/alerts`);
  await page.waitForURL(/\/login\?next=/);
  assert.deepEqual(consoleErrors, [], 'errors in the browser console');
});

test('a vet on two farms switches between them', async () => {
  await signIn(page, VET_EMAIL, PASSWORD);
  const switcher = page.getByTestId('farm-switcher');
  await switcher.waitFor();
  await switcher.selectOption({ label: FARM_B_NAME });
  await page.waitForURL(new RegExp(`/farms/${FARM_B}$`));
  await page.getByTestId('at-risk-count').waitFor();
  assert.equal(Number(await page.getByTestId('at-risk-count').innerText()), AT_RISK_B);
  // Farm B's Robot 2 stopped milking 8 hours ago: the overview says so before anything else.
  assert.match(await page.getByTestId('feed-warning').innerText(), /Robot 2 is silent: last milking 8 hours ago/);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByText(/only an owner can change them \(your role: Vet\)/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save' }).count(), 0);
  await checkAccessibility('settings (vet)');
});
