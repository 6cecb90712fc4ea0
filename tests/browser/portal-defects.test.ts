/**
 * The portal's defects found in Chromium (issue 11), each with the right behaviour asserted, against the offline stack
 * (in-process, free ports) with the portal it serves:
 * - an ended session is handled in one place: the sign-in page (no plan buttons, no signed-in nav), then back to the
 *   page the user was on;
 * - "Try it" opened directly after sign-in fetches the key itself and sends it;
 * - the rotate dialog's focus is on Cancel (Enter does not rotate) and "Rotate now" shows its busy state;
 * - signing up again with an unconfirmed email offers a new code, which arrives (labelled in the Outbox) and confirms;
 * - a password that breaks the template's policy and an incomplete email are refused before any request;
 * - a plan change shows its preview first: an upgrade what it costs this month to the cent, a downgrade the limits it
 *   lowers, and asks before changing.
 * Screenshots go to test-artifacts/ (scripts/readme-screenshots.ts copies some to docs/ for the README).
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { GlobalSignOutCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { Page, Request, Route } from 'playwright-core';
import type { PasswordPolicy } from '#shared/password-policy';
import { PASSWORD, signUpAndOnboard, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);

interface Plan {
  name: string;
  monthlyPrice: number;
  rateLimit: number;
  burstLimit: number;
  quotaLimit: number;
}

const number = (n: number) => new Intl.NumberFormat('en-US').format(n);
const dollars = (cents: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(cents / 100);

describeBrowser('developer portal: defects found in Chromium (issue 11)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  let plans: Plan[];
  const email = uniqueEmail('defects');

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession());
    const { execution } = await signUpAndOnboard(t, email);
    expect(execution.status).toBe('SUCCEEDED');
    plans = ((await (await fetch(`${t.stack.apiUrl}/plans`)).json()) as { plans: Plan[] }).plans;
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(async () => {
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    expect(browser.pageErrors).toEqual([]);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name });
  const plan = (name: string): Plan => {
    const found = plans.find((p) => p.name === name);
    if (!found) throw new Error(`no ${name} plan in GET /plans`);
    return found;
  };

  /** Calls the page makes that match `test` (method and URL), from now until `stop()`. */
  function recordRequests(test: (request: Request) => boolean): { requests: Request[]; stop(): void } {
    const requests: Request[] = [];
    const listener = (request: Request): void => {
      if (request.method() !== 'OPTIONS' && test(request)) requests.push(request);
    };
    page.on('request', listener);
    return { requests, stop: () => page.off('request', listener) };
  }

  /** A fresh tab's state (no session), then the sign-in form filled and sent. */
  async function signInFresh(hash = '#/signin'): Promise<void> {
    await page.goto(`${portalUrl}#/signin`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${portalUrl}${hash}`);
    await heading('Sign in').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /**
   * Ends the portal's session as a sign-out on another device does (GlobalSignOut: the refresh token is revoked), and
   * lets its ID token run out, so the portal's next call must refresh and is refused.
   */
  async function endSession(): Promise<void> {
    const accessToken = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.accessToken')) as string;
    await t.clients.cognito.send(new GlobalSignOutCommand({ AccessToken: accessToken }));
    await page.evaluate('(() => { const s = JSON.parse(sessionStorage.getItem("tollgate.session")); s.tokens.expiresAt = 0; sessionStorage.setItem("tollgate.session", JSON.stringify(s)); })()');
  }

  it('an ended session on Plans goes to sign-in (no plan buttons, signed-out nav), then back to Plans', async () => {
    await signInFresh();
    await heading('Dashboard').waitFor();
    await nav('Plans').click();
    await page.getByTestId('plan-free').getByText('Your current plan').waitFor();

    await endSession();
    await page.reload();

    await heading('Sign in').waitFor();
    await page.getByText('Your session has ended. Please sign in again.').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/signin?next=${encodeURIComponent('/plans')}`);
    expect(await page.getByRole('button', { name: /^(Upgrade|Downgrade) to / }).count()).toBe(0);
    expect(await nav('Sign in').count()).toBe(1);
    expect(await nav('Dashboard').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await screenshot(page, 'defects-01-session-ended');

    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await heading('Plans').waitFor();
    expect(new URL(page.url()).hash).toBe('#/plans');
    await page.getByTestId('plan-free').getByText('Your current plan').waitFor();
  });

  it('an ended session found while opening the dashboard leaves no card behind and comes back to the dashboard', async () => {
    await signInFresh('#/signin?next=%2Fplans');
    await heading('Plans').waitFor();
    await endSession();
    await nav('Dashboard').click();

    await heading('Sign in').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/signin?next=${encodeURIComponent('/dashboard')}`);
    // Said once, on the sign-in form; no dashboard card (plan, key, usage, billing) stays with its own error.
    expect(await page.getByText(/session has ended/).count()).toBe(1);
    expect(await page.getByRole('form', { name: 'Sign in' }).getByText('Your session has ended. Please sign in again.').count()).toBe(1);
    expect(await page.locator('section.card').count()).toBe(0);
    expect(await page.getByRole('heading', { level: 2 }).count()).toBe(0);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await heading('Dashboard').waitFor();
    await page.getByTestId('api-key').waitFor({ timeout: 30_000 });
  });

  it('"Try it" opened directly, right after sign-in, fetches the key and sends it', async () => {
    await page.goto(`${portalUrl}#/signin`);
    await page.evaluate('sessionStorage.clear()');
    // Opened directly while signed out: sign-in first, then straight to "Try it" (the dashboard never opens).
    await page.goto(`${portalUrl}#/try`);
    await heading('Sign in').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await heading('Try it').waitFor();
    expect(await page.getByText(/open the dashboard/i).count()).toBe(0);
    await page.getByText('your key in x-api-key').waitFor();

    const calls = recordRequests((r) => r.url() === `${t.stack.apiUrl}/links`);
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('try-status').textContent()).resolves.toBe('200');
    calls.stop();
    const keyId = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).apiKey.id')) as string;
    const stored = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    expect(calls.requests.map((r) => r.headers()['x-api-key'])).toEqual([stored.value]);
  });

  it('the rotate dialog focuses Cancel (Enter twice does not rotate) and shows "Rotating…" while it works', async () => {
    await signInFresh();
    const key = page.getByTestId('api-key');
    await key.waitFor({ timeout: 30_000 });
    const keyIdBefore = await page.getByText(/^Key id /).textContent();
    const rotations = recordRequests((r) => r.url().endsWith('/me/api-key/rotate'));

    await page.getByRole('button', { name: 'Rotate key…' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Rotate the API key?' });
    await dialog.waitFor();
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Cancel');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    // Focus is back on "Rotate key…": Enter opens the dialog again, a second Enter cancels again.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Rotate key…');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    expect(rotations.requests).toEqual([]);
    expect(await page.getByText(/^Key id /).textContent()).toBe(keyIdBefore);

    // Busy state: the rotation is held at the network until the page has been looked at.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/me/api-key/rotate', async (route: Route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Rotate key…' }).click();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    const working = dialog.getByRole('button', { name: 'Rotating…' });
    await working.waitFor();
    expect(await working.getAttribute('aria-busy')).toBe('true');
    expect(await working.isDisabled()).toBe(true);
    expect(await dialog.getByRole('button', { name: 'Cancel' }).isDisabled()).toBe(true);
    await screenshot(page, 'defects-02-rotating');
    release();
    await page.getByText('Your new key is ready').waitFor({ timeout: 30_000 });
    rotations.stop();
    expect(rotations.requests).toHaveLength(1);
    expect(await page.getByText(/^Key id /).textContent()).not.toBe(keyIdBefore);
  });

  it('signing up again with an unconfirmed email offers a new code, labelled in the Outbox, that confirms the account', async () => {
    const pending = uniqueEmail('unconfirmed');
    await t.clients.cognito.send(new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: pending, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: pending }] }));
    const firstCode = t.stack.cognito.latestCode(pending);

    await page.goto(`${portalUrl}#/signin`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${portalUrl}#/signup`);
    await page.getByLabel('Email').fill(pending);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    const offer = page.getByTestId('account-exists');
    await offer.waitFor();
    expect(await offer.textContent()).toContain(`An account with ${pending} already exists.`);
    await screenshot(page, 'defects-03-account-exists');

    await offer.getByRole('button', { name: 'Send a new code' }).click();
    await heading('Confirm your email').waitFor();
    await page.getByText(/a new code is on its way \(to \w\*\*\*@\w\*\*\*\)/).waitFor();
    const messages = t.stack.cognito.outbox.filter((m) => m.destination === pending);
    expect(messages.map((m) => m.triggerSource)).toEqual(['CustomMessage_SignUp', 'CustomMessage_ResendCode']);
    const newCode = messages[1]?.code;
    expect(newCode).toMatch(/^\w{4,10}$/);
    expect(newCode).not.toBe(firstCode);

    // The Outbox says what each code is for, and offers only the matching form.
    await nav('Outbox').click();
    await heading('Outbox').waitFor();
    const items = page.locator(`[data-testid="outbox-message"][data-to="${pending}"]`);
    await items.nth(1).waitFor({ timeout: 10_000 });
    expect(await items.getByTestId('outbox-purpose').allTextContents()).toEqual(['Sign-up confirmation code (sent again)', 'Sign-up confirmation code']);
    expect(await items.first().getByRole('link', { name: 'Use to reset password' }).count()).toBe(0);
    await screenshot(page, 'defects-04-outbox-labels');
    await items.first().getByRole('link', { name: 'Use to confirm sign-up' }).click();
    await heading('Confirm your email').waitFor();
    expect(await page.getByLabel('Confirmation code').inputValue()).toBe(newCode);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await heading('Sign in').waitFor();
    await page.getByText('Your email is confirmed').waitFor();
  });

  it('the Outbox labels a password-reset code as such', async () => {
    await page.goto(`${portalUrl}#/forgot?email=${encodeURIComponent(email)}`);
    await page.getByRole('button', { name: 'Send a reset code' }).click();
    await heading('Choose a new password').waitFor();
    await page.goto(`${portalUrl}#/outbox?to=${encodeURIComponent(email)}`);
    const newest = page.locator(`[data-testid="outbox-message"][data-to="${email}"]`).first();
    await newest.waitFor({ timeout: 10_000 });
    expect(await newest.getByTestId('outbox-purpose').textContent()).toBe('Password reset code');
    expect(await newest.getByRole('link', { name: 'Use to confirm sign-up' }).count()).toBe(0);
    expect(await newest.getByRole('link', { name: 'Use to reset password' }).count()).toBe(1);
    expect(t.stack.cognito.outbox.filter((m) => m.destination === email).map((m) => m.triggerSource)).toEqual(['CustomMessage_SignUp', 'CustomMessage_ForgotPassword']);
  });

  it('refuses a password that breaks the template’s policy and an incomplete email, before any request', async () => {
    const policy = (t.stack.model.userPools[0]?.properties.Policies as { PasswordPolicy?: PasswordPolicy } | undefined)?.PasswordPolicy;
    if (!policy?.MinimumLength || !policy.RequireUppercase) throw new Error('the template’s pool should declare a minimum length and upper-case letters');
    await page.goto(`${portalUrl}#/signin`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${portalUrl}#/signup`);
    await heading('Create your account').waitFor();
    // The rules shown are the template's.
    const hint = (await page.locator('#' + (await page.getByLabel('Password', { exact: true }).getAttribute('aria-describedby'))).textContent()) ?? '';
    expect(hint).toMatch(new RegExp(`^At least ${policy.MinimumLength} characters, with an upper-case letter`));

    const sent = recordRequests((r) => r.url().startsWith(t.stack.endpoints.cognito));
    const alert = page.getByRole('alert');
    await page.getByLabel('Email').fill(uniqueEmail('weak'));
    await page.getByLabel('Password', { exact: true }).fill('abcdefghij');
    await page.getByRole('button', { name: 'Create account' }).click();
    await alert.waitFor();
    expect(await alert.textContent()).toBe(`That password needs an upper-case letter. ${hint}`);
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'defects-05-weak-password');

    await page.getByLabel('Email').fill('ada@example');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('“ada@example” is not a complete email address').waitFor();
    expect(await page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBeNull();
    sent.stop();
    expect(sent.requests.map((r) => r.url())).toEqual([]);
  });

  it('an upgrade shows this month’s charge to the cent and waits for Confirm; a downgrade shows the lower limits and asks first', async () => {
    const free = plan('free');
    const pro = plan('pro');
    await signInFresh('#/signin?next=%2Fplans');
    await heading('Plans').waitFor();
    await page.getByTestId('plan-free').getByText('Your current plan').waitFor();
    const changes = recordRequests((r) => r.method() === 'POST' && r.url().endsWith('/me/plan'));

    await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
    const preview = page.getByTestId('plan-change-preview');
    const charge = preview.getByTestId('preview-charge');
    await charge.waitFor();
    // Independently of the portal: pro's monthly price for the seconds left in the month from the preview's instant,
    // rounded half up to the cent (README, "Plans, plan changes and billing", Rounding).
    const at = Date.parse((await preview.getAttribute('data-at')) ?? '');
    const now = new Date(at);
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const secondsLeft = (monthEnd - at) / 1000;
    const monthSeconds = (monthEnd - monthStart) / 1000;
    const expectedCents = Math.floor((2 * Math.round(pro.monthlyPrice * 100) * secondsLeft + monthSeconds) / (2 * monthSeconds));
    expect(await charge.textContent()).toBe(dollars(expectedCents));
    expect(await preview.getByTestId('preview-total-now').textContent()).toBe('$0.00');
    expect(await preview.getByTestId('preview-total-after').textContent()).toBe(dollars(expectedCents));
    expect(await preview.getByTestId('preview-limits').textContent()).toContain(`Requests a month${number(free.quotaLimit)}${number(pro.quotaLimit)}`);
    await screenshot(page, 'defects-06-upgrade-preview');
    expect(changes.requests).toEqual([]);
    await preview.getByRole('button', { name: 'Confirm upgrade to Pro' }).click();
    await page.getByTestId('plan-change-done').waitFor({ timeout: 60_000 });
    expect(changes.requests).toHaveLength(1);

    await page.getByRole('button', { name: 'Downgrade to Free' }).click();
    const lower = preview.getByTestId('preview-lower');
    await lower.waitFor();
    expect(await lower.textContent()).toContain(`requests a month ${number(pro.quotaLimit)} → ${number(free.quotaLimit)}`);
    expect(await lower.textContent()).toContain(`requests per second ${number(pro.rateLimit)} → ${number(free.rateLimit)}`);
    // The safe answer has the focus: Enter keeps Pro.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Keep Pro');
    await screenshot(page, 'defects-07-downgrade-confirm');
    await page.keyboard.press('Enter');
    await preview.waitFor({ state: 'hidden' });
    expect(changes.requests).toHaveLength(1);
    await expect(page.getByTestId('plan-pro').textContent()).resolves.toContain('Your current plan');

    await page.getByRole('button', { name: 'Downgrade to Free' }).click();
    await preview.getByRole('button', { name: 'Yes, downgrade to Free' }).click();
    const done = page.getByTestId('plan-change-done');
    await done.getByText('You are now on Free.').waitFor({ timeout: 60_000 });
    changes.stop();
    expect(changes.requests.map((r) => r.postDataJSON() as unknown)).toEqual([{ plan: 'pro' }, { plan: 'free' }]);
  });
});
