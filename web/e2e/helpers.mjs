// Shared by the browser tests: configuration from the environment, sign-in, accessibility and
// screenshots at desktop and phone width.
import AxeBuilder from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { DESKTOP, launch, PHONE } from './browser.mjs';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through tests/web/test_browser.py`);
  return value;
}

export const BASE = env('PECUS_BASE_URL');
export const EMAIL = env('PECUS_EMAIL');
export const PASSWORD = env('PECUS_PASSWORD');
export const FARM_A = env('PECUS_FARM_A');
export const ARTIFACTS = env('PECUS_ARTIFACTS');
mkdirSync(ARTIFACTS, { recursive: true });

/** No serious or critical accessibility violation (WCAG 2.1 A/AA rules) on the page as it is now. */
export async function checkAccessibility(page, name) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const described = bad.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  assert.deepEqual(described, [], `accessibility violations on ${name}`);
}

/** Full-page screenshots at desktop width and at 390 px (a phone in the barn). */
export async function screenshots(page, name, ready) {
  for (const [label, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ]) {
    await page.setViewportSize(viewport);
    if (ready) await ready();
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

/** The page fits 390 px without scrolling sideways. */
export async function noHorizontalScroll(page, name) {
  await page.setViewportSize(PHONE);
  // Charts follow the new width after a resize observer fires: let the layout settle first.
  await page
    .waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1, null, {
      timeout: 3000,
    })
    .catch(() => undefined);
  const excess = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.setViewportSize(DESKTOP);
  assert.ok(excess <= 1, `${name} scrolls sideways at 390 px by ${excess} px`);
}

export async function signIn(page, email = EMAIL, password = PASSWORD) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/farms\//);
}

/** Browser console errors, except the failed requests a test provokes on purpose (401, 404). */
export function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 40[14]/.test(msg.text())) errors.push(msg.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}

/** A desktop browser signed in as farm A's user; `consoleErrors` collects the page's console errors. */
export async function openSignedIn() {
  const browser = await launch();
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const consoleErrors = watchConsole(page);
  await signIn(page);
  return { browser, page, consoleErrors };
}
