// End to end in a real browser against the real API on a real PostgreSQL.
// Started by tests/web/test_browser.py, which seeds the data and passes what the database holds:
//   PECUS_BASE_URL, PECUS_EMAIL, PECUS_PASSWORD, PECUS_FARM_A, PECUS_FARM_B, PECUS_COW_B,
//   PECUS_AT_RISK, PECUS_SICK_COW, PECUS_ALERT_ID, PECUS_ARTIFACTS.
import AxeBuilder from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { DESKTOP, launch, PHONE } from './browser.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through tests/web/test_browser.py`);
  return value;
}

const BASE = env('PECUS_BASE_URL');
const EMAIL = env('PECUS_EMAIL');
const PASSWORD = env('PECUS_PASSWORD');
const FARM_A = env('PECUS_FARM_A');
const FARM_B = env('PECUS_FARM_B');
const COW_B = env('PECUS_COW_B');
const AT_RISK = Number(env('PECUS_AT_RISK'));
const SICK_COW = env('PECUS_SICK_COW');
const ALERT_ID = env('PECUS_ALERT_ID');
const ARTIFACTS = env('PECUS_ARTIFACTS');
mkdirSync(ARTIFACTS, { recursive: true });

let browser;
let context;
let page;
const consoleErrors = [];

before(async () => {
  browser = await launch();
  // English first (the switch to Italian is a test of its own); the farm's zone is not the browser's.
  context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB', timezoneId: 'America/New_York' });
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
});

after(async () => {
  await browser?.close();
});

/** No serious or critical accessibility violation on the page as it is now. */
async function checkAccessibility(name) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const described = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(described, [], `accessibility violations on ${name}`);
}

/** Full-page screenshots at desktop width and at 390 px (a phone in the barn). */
async function screenshots(name, ready) {
  for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    if (ready) await ready();
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

async function noHorizontalScroll(name) {
  await page.setViewportSize(PHONE);
  // Charts follow the new width after a resize observer fires: give the layout a moment to settle.
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1, null, { timeout: 3000 }).catch(() => undefined);
  const excess = await overflow();
  await page.setViewportSize(DESKTOP);
  assert.ok(excess <= 1, `${name} scrolls sideways at 390 px by ${excess} px`);
}

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
  await checkAccessibility('cow');
  await noHorizontalScroll('cow');
  await screenshots('04-cow', () => yieldChart.locator('.line-herd path.recharts-line-curve').waitFor());
});

test('acknowledge an alert and find it acknowledged after a reload', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}/alerts`);
  const card = page.getByTestId(`alert-${ALERT_ID}`);
  await card.waitFor();
  assert.match(await card.innerText(), /\bNew\b/);
  await checkAccessibility('alerts');
  await noHorizontalScroll('alerts');
  await screenshots('05-alerts');
  await card.getByLabel('Note (optional)').fill('Checked at 5 am: hot quarter, vet called');
  await card.getByRole('button', { name: 'Acknowledge' }).click();
  await card.getByText('Acknowledged', { exact: true }).waitFor();
  await page.reload();
  const reloaded = page.getByTestId(`alert-${ALERT_ID}`);
  await reloaded.getByText('Acknowledged', { exact: true }).waitFor();
  assert.match(await reloaded.innerText(), /Checked at 5 am/);
  assert.equal(await reloaded.getByRole('button', { name: 'Acknowledge' }).count(), 0);
});

test('settings page for the owner', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Agent keys' }).waitFor();
  await page.getByRole('heading', { name: 'People' }).waitFor();
  await checkAccessibility('settings');
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

test('sign out ends the session', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login/);
  await page.goto(`${BASE}/farms/${FARM_A}/alerts`);
  await page.waitForURL(/\/login\?next=/);
  const unexpected = consoleErrors.filter((e) => !/status of 40[14]/.test(e));
  assert.deepEqual(unexpected, [], 'errors in the browser console');
});
