// Time to first chart on the cow page, in headless Chromium, cold cache each time.
// Used by bench/web.py:  node e2e/first-chart.mjs <cow page URL> <runs>
// with PECUS_SESSION (the stored session JSON). Prints {"runs_ms": [...]}.
import { DESKTOP, launch } from './browser.mjs';

const [url, runsArg = '5'] = process.argv.slice(2);
const session = process.env.PECUS_SESSION;
if (!url || !session) {
  console.error('usage: PECUS_SESSION=... node e2e/first-chart.mjs <cow page URL> [runs]');
  process.exit(2);
}

const browser = await launch();
const runs = [];
try {
  for (let i = 0; i < Number(runsArg); i += 1) {
    const context = await browser.newContext({ viewport: DESKTOP });
    await context.addInitScript((value) => {
      localStorage.setItem('pecus.session', value);
      localStorage.setItem('pecus.lang', 'en');
    }, session);
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForSelector('[data-testid="chart-yield"] .line-herd path.recharts-line-curve', { timeout: 30_000 });
    // performance.now() counts from the start of the navigation.
    runs.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ runs_ms: runs }));
