/**
 * The developer portal as a customer uses it, in Chromium, against the offline stack (in-process, free ports) with
 * the portal served by the stack: sign up → confirm with the code from the Outbox page → the dashboard shows the key
 * → "Try it" answers 200 → upgrade to pro → the plan and limits change; the key rotates; the dashboard fits a phone;
 * a wrong password reads as a sentence; a forgotten password is reset. Screenshots of each page go to test-artifacts/.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import type { Page, Request } from 'playwright-core';
import { PASSWORD, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);

interface Plan {
  name: string;
  rateLimit: number;
  burstLimit: number;
  quotaLimit: number;
}

const number = (n: number) => new Intl.NumberFormat('en-US').format(n);

describeBrowser('developer portal (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  const email = uniqueEmail('portal');

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession());
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  /** A link of the main navigation. */
  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

  async function codeFromOutbox(to: string, link: 'Use to confirm sign-up' | 'Use to reset password', shot: string): Promise<string> {
    await nav('Outbox').click();
    await page.getByRole('heading', { level: 1, name: 'Outbox' }).waitFor();
    const message = page.locator(`[data-testid="outbox-message"][data-to="${to}"]`).first();
    await message.waitFor({ timeout: 10_000 });
    const code = (await message.getByTestId('outbox-code').textContent())?.trim() ?? '';
    expect(code).toMatch(/^\w{4,10}$/);
    await screenshot(page, shot);
    await message.getByRole('link', { name: link }).click();
    return code;
  }

  it('signs a customer up, confirms from the outbox, shows the key, calls the API and upgrades to pro', async () => {
    // Every call the page makes to the API: which of them carry the key (only "Try it" may: /me* is not metered).
    const apiCalls: { path: string; withKey: boolean }[] = [];
    const recordCall = (request: Request): void => {
      if (request.url().startsWith(t.stack.apiUrl) && request.method() !== 'OPTIONS') {
        apiCalls.push({ path: new URL(request.url()).pathname.slice(new URL(t.stack.apiUrl).pathname.length), withKey: 'x-api-key' in request.headers() });
      }
    };
    page.on('request', recordCall);
    // Sign-in page first: an unknown visitor lands there.
    await page.goto(portalUrl);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await screenshot(page, 'portal-01-sign-in');

    // Sign up.
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await screenshot(page, 'portal-02-sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Confirm your email' }).waitFor();
    await screenshot(page, 'portal-03-confirm');

    // The code, from the Outbox page (offline, no email is sent), back into the confirm form.
    const code = await codeFromOutbox(email, 'Use to confirm sign-up', 'portal-04-outbox');
    await page.getByRole('heading', { level: 1, name: 'Confirm your email' }).waitFor();
    expect(await page.getByLabel('Confirmation code').inputValue()).toBe(code);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();

    // Dashboard: onboarding finishes, then the key (masked) and the free plan.
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const key = page.getByTestId('api-key');
    await key.waitFor({ timeout: 60_000 });
    expect(await key.textContent()).toContain('•');
    await expect(page.getByTestId('plan-name').textContent()).resolves.toBe('Free');
    const keyId = ((await page.getByText(/^Key id /).textContent()) ?? '').replace('Key id ', '').trim();
    const stored = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    await page.getByRole('button', { name: 'Reveal' }).click();
    expect(await key.textContent()).toBe(stored.value);
    await page.getByRole('button', { name: 'Hide' }).click();
    await page.getByTestId('quota').waitFor();
    await page.getByTestId('statement-total').waitFor();
    // The dashboard's own calls cost nothing: a new account shows none of its quota used.
    expect(await page.getByTestId('quota').textContent()).toMatch(/^0 of 1,000 requests used this \w+ · 1,000 left$/);
    const now = new Date();
    const reset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)); // the free plan's MONTH period
    const resetDay = reset.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
    expect(await page.getByTestId('quota-reset').textContent()).toBe(`Resets on ${resetDay}, 00:00 UTC`);
    await screenshot(page, 'portal-05-dashboard');

    // Try it: GET /links with the customer's token and key answers 200, with the latency and a curl line.
    await nav('Try it').click();
    await page.getByRole('heading', { level: 1, name: 'Try it' }).waitFor();
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    expect(await page.getByTestId('try-latency').textContent()).toMatch(/^\d+ ms$/);
    expect(await page.getByTestId('curl').textContent()).toContain(`curl -i -X GET '${t.stack.apiUrl}/links'`);
    await page.getByLabel('Endpoint').selectOption({ label: 'POST /links — save a link' });
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.getByTestId('try-status').getByText('201').waitFor();
    await screenshot(page, 'portal-06-try-it');

    // Upgrade to pro: progress, then the new plan and its limits.
    const plans = ((await (await fetch(`${t.stack.apiUrl}/plans`)).json()) as { plans: Plan[] }).plans;
    const pro = plans.find((p) => p.name === 'pro');
    if (!pro) throw new Error('no pro plan in GET /plans');
    await nav('Plans').click();
    await page.getByRole('heading', { level: 1, name: 'Plans' }).waitFor();
    await screenshot(page, 'portal-07-plans');
    await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
    // Nothing changes on one click: the preview (what it costs, what limits change) asks first.
    await page.getByTestId('preview-charge').waitFor();
    await page.getByRole('button', { name: 'Confirm upgrade to Pro' }).click();
    const done = page.getByTestId('plan-change-done');
    await done.waitFor({ timeout: 60_000 });
    expect(await done.textContent()).toContain('You are now on Pro');
    expect(await done.textContent()).toContain(`${number(pro.rateLimit)} requests/s`);
    await expect(page.getByTestId('plan-pro').textContent()).resolves.toContain('Your current plan');
    await screenshot(page, 'portal-08-plan-changed');

    await nav('Dashboard').click();
    await page.getByTestId('plan-limits').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('plan-name').textContent()).resolves.toBe('Pro');
    const limits = (await page.getByTestId('plan-limits').textContent()) ?? '';
    expect(limits).toContain(`${number(pro.rateLimit)} requests/s (bursts of ${number(pro.burstLimit)})`);
    expect(limits).toContain(`${number(pro.quotaLimit)} requests a`);
    await page.getByTestId('statement-total').waitFor();
    // Billed by the time each plan was held: free from the sign-up to the upgrade (minutes, so shown with times),
    // then pro to the end of the month (midnight UTC).
    const lines = await page.getByTestId('statement-line').allTextContents();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Free .*\d\d:\d\d(:\d\d)? – (\w+ \d+ )?\d\d:\d\d(:\d\d)? \((\d+ (min|s) ?)+\)/);
    expect(lines[1]).toMatch(/^Pro at \$99\/month.* – \w+ \d+ 00:00 \(/);
    // The history gives each entry's time (UTC), so same-day changes read in order.
    expect(await page.getByText(/^\w+ \d+, \d{4}, \d\d:\d\d:\d\d UTC$/).count()).toBe(2);
    await screenshot(page, 'portal-09-dashboard-pro');

    page.off('request', recordCall);
    const accountCalls = apiCalls.filter((c) => c.path === '/me' || c.path.startsWith('/me/'));
    expect(accountCalls.map((c) => c.path)).toEqual(expect.arrayContaining(['/me', '/me/api-key', '/me/usage', '/me/billing', '/me/plan']));
    expect(accountCalls.filter((c) => c.withKey)).toEqual([]);
    expect(apiCalls.filter((c) => c.path === '/links')).toEqual([{ path: '/links', withKey: true }, { path: '/links', withKey: true }]);
  });

  it('rotates the key: the new one is shown and works, the old one is refused', async () => {
    await page.goto(`${portalUrl}#/dashboard`);
    const key = page.getByTestId('api-key');
    await key.waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Reveal' }).click();
    const oldValue = (await key.textContent()) ?? '';

    await page.getByRole('button', { name: 'Rotate key…' }).click();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByText('Your new key is ready').waitFor({ timeout: 30_000 });
    const newValue = (await key.textContent()) ?? '';
    expect(newValue).not.toBe(oldValue);
    expect(newValue).not.toContain('•');
    await screenshot(page, 'portal-10-key-rotated');

    await nav('Try it').click();
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    const token = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.idToken')) as string;
    const old = await fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: token, 'x-api-key': oldValue } });
    expect(old.status).toBe(403);
  });

  it('rotates with an overlap: the card shows when the previous key stops working, which works until retired early', async () => {
    await page.goto(`${portalUrl}#/dashboard`);
    const key = page.getByTestId('api-key');
    await key.waitFor({ timeout: 30_000 });
    // Loaded after the card: GET /me/api-key (and the account's creation for onboarding's key).
    await page.getByTestId('key-details').filter({ hasText: /^Created \d{1,2} \w+ \d{4}/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Reveal' }).click();
    const oldValue = (await key.textContent()) ?? '';

    await page.getByRole('button', { name: 'Rotate key…' }).click();
    await page.getByTestId('rotate-overlap').selectOption('3600');
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByText('Your new key is ready. The previous key works until').waitFor({ timeout: 30_000 });
    const previous = page.getByTestId('key-previous');
    await previous.getByText('Your previous key keeps working until').waitFor();
    await screenshot(page, 'portal-10b-key-overlap');
    const token = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.idToken')) as string;
    const oldKey = () => fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: token, 'x-api-key': oldValue } });
    expect((await oldKey()).status).toBe(200);

    await previous.getByRole('button', { name: 'Retire it now' }).click();
    await page.getByText('The previous key no longer works.').waitFor({ timeout: 30_000 });
    expect((await oldKey()).status).toBe(403);
    await previous.waitFor({ state: 'hidden', timeout: 30_000 });
  });

  it('fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${portalUrl}#/dashboard`);
      await page.getByTestId('api-key').waitFor({ timeout: 30_000 });
      await page.getByTestId('quota').waitFor();
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, 'portal-11-dashboard-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('shows a wrong password as a readable sentence, using only the keyboard', async () => {
    await page.goto(`${portalUrl}#/dashboard`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();

    // Tab from the top of the page to the email field, type, Tab to the password, Enter submits.
    await page.locator('body').focus();
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")')) === 'email') break;
    }
    expect(await page.evaluate('document.activeElement.getAttribute("name")')).toBe('email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('Wrong-Password-99');
    await page.keyboard.press('Enter');

    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toBe('Incorrect email or password.');
    expect(text).not.toMatch(/Exception|[{}]/);
    await screenshot(page, 'portal-12-wrong-password');
  });

  it('resets a forgotten password with the code from the outbox', async () => {
    const newPassword = 'Another-Horse-43';
    await page.goto(`${portalUrl}#/signin`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send a reset code' }).click();
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();

    await codeFromOutbox(email, 'Use to reset password', 'portal-13-outbox-reset');
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();

    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByText('Your password is changed').waitFor();
    await page.getByLabel('Password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByTestId('api-key').waitFor({ timeout: 30_000 });
  });
});
