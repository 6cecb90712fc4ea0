/**
 * Browser-test helpers: Debian's Chromium driven by playwright-core (no browser download), with a fresh profile,
 * and screenshots saved to test-artifacts/ (git-ignored).
 *
 * Without Chromium the browser tests skip with a warning on a laptop, and fail loudly in CI (CI is set), where
 * .ci/run installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');

export const chromiumAvailable = existsSync(CHROMIUM_PATH);
const inCi = Boolean(process.env.CI);

if (!chromiumAvailable && !inCi) {
  console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM_PATH} (install it: apt-get install chromium, or set CHROMIUM_PATH).`);
}

/** `describe` where Chromium is there or in CI (where its absence must fail the run), `describe.skip` otherwise. */
export const describeBrowser: jest.Describe = chromiumAvailable || inCi ? describe : describe.skip;

export function requireChromium(): void {
  if (!chromiumAvailable) {
    throw new Error(`Chromium is missing at ${CHROMIUM_PATH}: the browser tests need it (.ci/run installs it with apt-get install chromium).`);
  }
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors in the page (a broken script shows here). */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1280, height: 860 }): Promise<Browser> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return {
    context,
    page,
    pageErrors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A browser and an offline stack serving the developer portal: what every portal suite starts in its beforeAll. */
export interface PortalSession {
  browser: Browser;
  page: Page;
  t: TestStack;
  /** The portal's base URL (the stack serves it on a free port). */
  portalUrl: string;
}

/**
 * Launches Chromium (launchBrowser) and starts an offline stack with the portal (startTestStack({ portal: true }))
 * side by side; `parameterOverrides` deploy the template with other parameter values (e.g. `{ KeyMode: 'SelfIssued' }`).
 * Throws when either fails or the stack serves no portal; whatever had started is closed first.
 */
export async function startPortalSession(parameterOverrides?: Record<string, string>): Promise<PortalSession> {
  const [browser, t] = await Promise.allSettled([launchBrowser(), startTestStack({ portal: true, ...(parameterOverrides ? { parameterOverrides } : {}) })]);
  if (browser.status === 'fulfilled' && t.status === 'fulfilled' && t.value.stack.portal) {
    return { browser: browser.value, page: browser.value.page, t: t.value, portalUrl: t.value.stack.portal.url };
  }
  await stopPortalSession({ browser: browser.status === 'fulfilled' ? browser.value : undefined, t: t.status === 'fulfilled' ? t.value : undefined });
  if (browser.status === 'rejected') throw browser.reason;
  if (t.status === 'rejected') throw t.reason;
  throw new Error('the stack did not serve the portal');
}

/** Closes what startPortalSession started (either may be missing when beforeAll failed part-way). */
export async function stopPortalSession(session: { browser?: Browser | undefined; t?: TestStack | undefined }): Promise<void> {
  await session.browser?.close();
  await session.t?.close();
}
