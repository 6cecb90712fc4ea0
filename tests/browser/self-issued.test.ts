/**
 * The developer portal in KeyMode SelfIssued (the stack deployed with `KeyMode=SelfIssued`), in Chromium: a customer
 * signs up through the portal; the dashboard says no key has been issued and offers "Create key"; the new value is
 * shown once ("you will not see it again") and "Try it" and the API reference send it (200); after a reload only its
 * hint is shown, with the key's created and last-used dates; "Rotate key…" asks first (no overlap in this mode), shows the new value once, and the old key is
 * refused at once (401: the KeyAuthorizer refuses an unknown or revoked key). A new sign-in in this tab has not seen
 * the value: "Try it" asks for it, refuses a paste that cannot be the key, and calls with the right one. At no point
 * does the page ask the server for a key value (`?reveal=true`).
 */
import type { Page, Request } from 'playwright-core';
import { PASSWORD, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(180_000);

const KEY_SHAPE = /^tg_live_[A-Za-z0-9_-]{43}$/;

describeBrowser('developer portal in KeyMode SelfIssued (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  const email = uniqueEmail('portal-si');
  /** Every API call the page made: path and query, and the x-api-key it carried. */
  const apiCalls: { path: string; key: string | undefined }[] = [];

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession({ KeyMode: 'SelfIssued' }));
    page.on('request', (request: Request) => {
      if (request.url().startsWith(t.stack.apiUrl) && request.method() !== 'OPTIONS') {
        const url = new URL(request.url());
        apiCalls.push({ path: `${url.pathname.slice(new URL(t.stack.apiUrl).pathname.length)}${url.search}`, key: request.headers()['x-api-key'] });
      }
    });
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
    // The server keeps only a hash: the portal never asks it for a value.
    expect(apiCalls.filter((c) => c.path.includes('reveal'))).toEqual([]);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name });
  const idToken = async (): Promise<string> => (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.idToken')) as string;
  const links = async (key: string): Promise<number> => (await fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: await idToken(), 'x-api-key': key } })).status;

  let firstKey = '';
  let secondKey = '';

  it('creates the key and shows it once; Try it and the reference send it; after a reload only the hint; rotating refuses the old key at once', async () => {
    await page.goto(`${portalUrl}#/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await heading('Confirm your email').waitFor();
    await nav('Outbox').click();
    const message = page.locator(`[data-testid="outbox-message"][data-to="${email}"]`).first();
    await message.waitFor({ timeout: 10_000 });
    await message.getByRole('link', { name: 'Use to confirm sign-up' }).click();
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();

    // Onboarding made the key slot but no value: nothing to show, "Create key".
    await heading('Dashboard').waitFor();
    const none = page.getByTestId('key-none');
    await none.waitFor({ timeout: 60_000 });
    expect(await none.textContent()).toContain('No key has been issued yet');
    await screenshot(page, 'portal-si-01-no-key');
    await page.getByRole('button', { name: 'Create key' }).click();

    // Shown once, with Copy and the warning.
    const shown = page.getByTestId('api-key');
    await shown.waitFor({ timeout: 30_000 });
    firstKey = (await shown.textContent()) ?? '';
    expect(firstKey).toMatch(KEY_SHAPE);
    expect(await page.getByTestId('key-once').textContent()).toContain('you will not see it again');
    await page.getByRole('button', { name: 'Copy', exact: true }).waitFor();
    await screenshot(page, 'portal-si-02-key-shown-once');
    expect(apiCalls.filter((c) => c.path === '/me/api-key/rotate')).toHaveLength(1);

    // "Try it" sends the value this tab saw.
    await nav('Try it').click();
    await heading('Try it').waitFor();
    expect(await page.getByTestId('paste-key').count()).toBe(0);
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    expect(apiCalls.filter((c) => c.path === '/links')).toEqual([{ path: '/links', key: firstKey }]);

    // The reference's snippets have it filled in, and its "Try it" sends it.
    await nav('API reference').click();
    await heading('API reference').waitFor();
    const listLinks = page.getByTestId('op-ListLinks');
    await listLinks.evaluate((el) => el.setAttribute('open', ''));
    expect(await listLinks.getByTestId('snippet-curl').textContent()).toContain(`'x-api-key: ${firstKey}'`);
    await listLinks.getByRole('button', { name: 'Send GET' }).click();
    await expect(listLinks.getByTestId('try-status').textContent()).resolves.toBe('200');

    // Back on the dashboard (a reload): the value is gone from the card, its hint stays.
    await page.goto(`${portalUrl}#/dashboard`);
    await page.reload();
    const hint = page.getByTestId('api-key-hint');
    await hint.waitFor({ timeout: 30_000 });
    expect(await hint.textContent()).toMatch(new RegExp(`^${firstKey.slice(0, 12)}•+$`));
    expect(await page.locator('main').textContent()).not.toContain(firstKey);
    expect(await page.getByTestId('api-key').count()).toBe(0);
    // The key card's dates: when this value was issued, and the last UTC day with requests (the authorizer's counters:
    // the "Try it" calls above).
    await page
      .getByTestId('key-details')
      .filter({ hasText: /^Created \d{1,2} \w+ \d{4} · last used \d{1,2} \w+ \d{4} \(UTC day\)$/ })
      .waitFor({ timeout: 30_000 });

    // Rotate: asked first (no overlap to choose in this mode), then the new value once; the old key is refused at once.
    await page.getByRole('button', { name: 'Rotate key…' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Rotate the API key?' });
    expect(await dialog.textContent()).toContain('stops working at once: there is no overlap');
    expect(await page.getByTestId('rotate-overlap').count()).toBe(0);
    await screenshot(page, 'portal-si-03-rotate-confirm');
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByText('Your new key is ready. The previous key no longer works.').waitFor({ timeout: 30_000 });
    secondKey = (await shown.textContent()) ?? '';
    expect(secondKey).toMatch(KEY_SHAPE);
    expect(secondKey).not.toBe(firstKey);
    expect(await links(firstKey)).toBe(401);
    expect(await links(secondKey)).toBe(200);

    // "I have saved it" hides it at once.
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await hint.waitFor();
    expect(await page.locator('main').textContent()).not.toContain(secondKey);
  });

  it('asks for the key where this tab has not seen it, refuses a paste that cannot be it, and calls with the right one', async () => {
    expect(secondKey).toMatch(KEY_SHAPE); // set by the first test
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await heading('Dashboard').waitFor();
    await page.getByTestId('api-key-hint').waitFor({ timeout: 30_000 });

    await nav('Try it').click();
    await heading('Try it').waitFor();
    const paste = page.getByTestId('paste-key');
    await paste.waitFor();
    expect(await paste.textContent()).toContain(`it starts with ${secondKey.slice(0, 12)}`);
    await screenshot(page, 'portal-si-04-paste-key');
    const input = paste.getByLabel('API key');
    await input.fill('not-a-key');
    await paste.getByRole('button', { name: 'Use this key' }).click();
    await paste.getByText('That is not an API key of this API').waitFor();
    await input.fill(firstKey);
    await paste.getByRole('button', { name: 'Use this key' }).click();
    await paste.getByText(`That is not your current key: yours starts with ${secondKey.slice(0, 12)}.`).waitFor();
    await input.fill(secondKey);
    await paste.getByRole('button', { name: 'Use this key' }).click();

    await page.getByTestId('paste-key').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    expect(apiCalls.at(-1)).toEqual({ path: '/links', key: secondKey });
  });
});
