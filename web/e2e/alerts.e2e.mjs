// Alerts in a real browser against the real API: acknowledge with a note, see it at once, and find
// it acknowledged after a reload. Started by tests/web/test_browser.py (PECUS_ALERT_ID, ...).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BASE, checkAccessibility, env, FARM_A, noHorizontalScroll, openSignedIn, screenshots } from './helpers.mjs';

const ALERT_ID = env('PECUS_ALERT_ID');
const NOTE = 'Checked at 5 am: hot quarter, vet called';

let browser;
let page;
let consoleErrors = [];

before(async () => {
  ({ browser, page, consoleErrors } = await openSignedIn());
});

after(async () => {
  await browser?.close();
});

test('the alerts page lists the open alert with its reasons in words', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}/alerts`);
  const card = page.getByTestId(`alert-${ALERT_ID}`);
  await card.waitFor();
  assert.match(await card.innerText(), /\bNew\b/);
  // The reasons are in words, whoever raised the alert (the AI engine on ingest, or the seed).
  assert.match(await card.locator('.reasons li').first().innerText(), /\w{4,}/);
  await checkAccessibility(page, 'alerts');
  await noHorizontalScroll(page, 'alerts');
  await screenshots(page, '05-alerts');
});

test('acknowledge an alert and find it acknowledged after a reload', async () => {
  const card = page.getByTestId(`alert-${ALERT_ID}`);
  await card.getByLabel('Note (optional)').fill(NOTE);
  await card.getByRole('button', { name: 'Acknowledge' }).click();
  await card.getByText('Acknowledged', { exact: true }).waitFor();
  await page.reload();
  const reloaded = page.getByTestId(`alert-${ALERT_ID}`);
  await reloaded.getByText('Acknowledged', { exact: true }).waitFor();
  assert.match(await reloaded.innerText(), new RegExp(NOTE));
  assert.equal(await reloaded.getByRole('button', { name: 'Acknowledge' }).count(), 0);
  // The status filter asks the API, which agrees.
  await page.goto(`${BASE}/farms/${FARM_A}/alerts?status=acknowledged`);
  await page.getByTestId(`alert-${ALERT_ID}`).waitFor();
  await page.goto(`${BASE}/farms/${FARM_A}/alerts?status=new`);
  await page.getByTestId('alert-list').waitFor();
  assert.equal(await page.getByTestId(`alert-${ALERT_ID}`).count(), 0);
  await screenshots(page, '05-alerts-after');
  assert.deepEqual(consoleErrors, [], 'errors in the browser console');
});
