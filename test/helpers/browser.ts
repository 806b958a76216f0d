/**
 * Headless Chromium for UI tests: Debian's `chromium` package driven by
 * playwright-core (which downloads no browser). Every launch starts from a
 * fresh, empty user data dir (playwright-core creates a temporary profile per
 * `launch()` and deletes it on close), and every `newContext()` is isolated
 * from the others (own cookies, localStorage, cache).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's package (`apt-get install chromium`); `JOBPLANE_CHROMIUM` overrides. */
export const chromiumPath = process.env.JOBPLANE_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots of UI tests, under the gitignored `test-results/`. */
export const screenshotDir = path.resolve(import.meta.dirname, '../../test-results/ui');

export interface TestBrowser {
  browser: Browser;
  /** An isolated context (a fresh profile as far as the page can tell); 1440×1000 unless `options.viewport` says otherwise. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) {
    // Loud on purpose: a UI test that cannot run must fail, not pass by skipping.
    throw new Error(`no Chromium at ${chromiumPath}: run \`apt-get install -y chromium\` (or set JOBPLANE_CHROMIUM)`);
  }
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
  return {
    browser,
    newContext: (options = {}) => browser.newContext({ viewport: { width: 1440, height: 1000 }, ...options }),
    close: () => browser.close(),
  };
}

/**
 * Full-page screenshot to `test-results/ui/<name>.png`; returns its absolute
 * path. (Pages that scroll an inner element, like the Temporal UI, are
 * captured at viewport size: give their context a tall viewport.)
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
