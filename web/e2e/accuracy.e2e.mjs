// The field accuracy page and the mastitis diagnosis names in a real browser against the real API.
// Started by tests/web/test_browser.py once the API serves /accuracy (PECUS_BASE_URL, PECUS_EMAIL
// of farm A's owner, ...). Works whether the seeded farm has treatments or not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BASE, checkAccessibility, FARM_A, noHorizontalScroll, openSignedIn, screenshots } from './helpers.mjs';

const NEW_NAME = 'mastite clinica e2e';

let browser;
let page;
let consoleErrors = [];

before(async () => {
  ({ browser, page, consoleErrors } = await openSignedIn());
});

after(async () => {
  await browser?.close();
});

/** The report is on screen: the comparison when there are treatments, else the empty state. */
async function reportShown() {
  await page.getByTestId('detector-model').or(page.getByRole('heading', { name: 'No treatments yet' })).waitFor();
}

test('the Field accuracy tab shows the report, and the period picker asks for another period', async () => {
  await page.getByRole('link', { name: 'Field accuracy' }).click();
  await page.waitForURL(`${BASE}/farms/${FARM_A}/accuracy`);
  await page.getByRole('heading', { level: 1, name: 'Field accuracy' }).waitFor();
  await reportShown();
  assert.equal(await page.getByRole('button', { name: '90 days' }).getAttribute('aria-pressed'), 'true');
  await checkAccessibility(page, 'field accuracy');
  await noHorizontalScroll(page, 'field accuracy');
  await screenshots(page, '08-accuracy', reportShown);

  const answer = page.waitForResponse((r) => r.url().includes('/accuracy?days=365'));
  await page.getByRole('button', { name: '365 days' }).click();
  assert.equal((await answer).status(), 200);
  await page.waitForURL(/days=365/);
  await reportShown();
  assert.equal(await page.getByRole('button', { name: '365 days' }).getAttribute('aria-pressed'), 'true');
});

test('the owner adds a mastitis diagnosis name, finds it after a reload, and removes it again', async () => {
  await page.goto(`${BASE}/farms/${FARM_A}/settings`);
  const panel = page.getByRole('region', { name: 'Mastitis diagnosis names' });
  await panel.getByTestId('mastitis-names').waitFor();
  await checkAccessibility(page, 'settings with mastitis names');
  await panel.getByLabel('Add a name').fill(NEW_NAME);
  await panel.getByRole('button', { name: 'Add name' }).click();
  await panel.getByRole('button', { name: 'Save names' }).click();
  await panel.getByText('Saved.').waitFor();

  await page.reload();
  const names = page.getByTestId('mastitis-names');
  await names.getByText(NEW_NAME, { exact: true }).waitFor();
  // The report matches treatments with the saved names.
  await page.goto(`${BASE}/farms/${FARM_A}/accuracy`);
  await reportShown();
  if (await page.getByTestId('names-hint').count()) {
    assert.match(await page.getByTestId('names-hint').innerText(), new RegExp(NEW_NAME));
  }

  await page.goto(`${BASE}/farms/${FARM_A}/settings`);
  await page.getByRole('button', { name: `Remove ${NEW_NAME}` }).click();
  const again = page.getByRole('region', { name: 'Mastitis diagnosis names' });
  await again.getByRole('button', { name: 'Save names' }).click();
  await again.getByText('Saved.').waitFor();
  await page.reload();
  await page.getByTestId('mastitis-names').waitFor();
  assert.equal(await page.getByTestId('mastitis-names').getByText(NEW_NAME, { exact: true }).count(), 0);
  assert.deepEqual(consoleErrors, [], 'errors in the browser console');
});
