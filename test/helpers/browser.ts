/**
 * Headless Chromium for UI tests: Debian's /usr/bin/chromium (installed by scripts/browser-setup.sh)
 * driven by the npm package playwright-core. Playwright's own browser download cannot work on the
 * project's machines, so the browser is never fetched here.
 *
 * A missing browser or library is a test failure with the fix in the message, never a skip: CI
 * installs both, and a skipped UI test would hide a broken set-up.
 */
import { accessSync, constants, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HARVESTER_CHROMIUM || '/usr/bin/chromium';

/** Flags for a quiet browser on a loopback-only machine running as root. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `no browser at ${CHROMIUM_PATH}: run scripts/browser-setup.sh as root (it installs Debian's chromium), ` +
        'or point HARVESTER_CHROMIUM at a Chromium binary',
    );
  }
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch (err) {
    throw new Error(
      `cannot load the npm package playwright-core (${(err as Error).message}): run \`npm install\` ` +
        '(it is a devDependency of this project)',
    );
  }
  try {
    return await playwright.chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`Chromium at ${CHROMIUM_PATH} did not start: ${(err as Error).message}`);
  }
}

/** test-output/ui (under the folder the runner names in HARVESTER_TEST_OUTPUT), created on demand. */
export function screenshotDir(): string {
  const base = process.env.HARVESTER_TEST_OUTPUT || join(__dirname, '..', '..', 'test-output');
  const dir = join(base, 'ui');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Empties the screenshot folder, so that a FAILED-*.png left by an earlier run cannot mislead. */
export function resetScreenshotDir(): string {
  rmSync(screenshotDir(), { recursive: true, force: true });
  return screenshotDir();
}

/** Saves a full-page screenshot as <dir>/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(screenshotDir(), `${name}.png`);
  await page.screenshot({ path, fullPage: true, timeout: 15_000 });
  return path;
}

/**
 * Runs one UI step; when it fails, saves a screenshot named after the step and rethrows with the
 * step's name, the page's URL and the screenshot's path in the message.
 */
export async function uiStep<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    let shot = '(the screenshot failed too)';
    try {
      shot = await screenshot(page, `FAILED-${name}`);
    } catch {}
    // A new error: reporters print the stack, which an error keeps from when it was made.
    throw new Error(
      `UI step "${name}" failed at ${page.url()}: ${(err as Error).message}\nscreenshot: ${shot}`,
      { cause: err },
    );
  }
}
