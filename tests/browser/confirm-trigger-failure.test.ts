/**
 * The portal when the PostConfirmation trigger fails (its role without `states:StartExecution`): Cognito answers the
 * confirmation with UserLambdaValidationException, but the email IS confirmed. Right after sign-up the portal signs
 * the customer in and the first sign-in sets the account up (PostAuthentication) — the dashboard shows the key; a
 * customer confirming later is told to sign in, and a second confirmation reads "already confirmed".
 */
import type { Page } from 'playwright-core';
import { PASSWORD, signUp, uniqueEmail, withoutAction, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);

describeBrowser('portal: a PostConfirmation trigger that fails (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession());
    const principal = t.stack.iam.principal('PostConfirmationFunction')!;
    t.stack.iam.setPolicies(principal.logicalId, withoutAction(principal.role.policies, 'states:StartExecution'));
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  it('right after sign-up: signs the customer in, and the dashboard shows the key set up at that sign-in', async () => {
    const email = uniqueEmail('portal-pc-fail');
    await page.goto(`${portalUrl}#/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Confirm your email' }).waitFor();
    await page.getByLabel('Confirmation code').fill(t.stack.cognito.latestCode(email) as string);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();

    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByTestId('api-key').waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('plan-name').textContent()).resolves.toBe('Free');
    await screenshot(page, 'portal-pc-fail-dashboard');
  });

  it('confirming later: says the email is confirmed and to sign in; a second confirmation reads "already confirmed"', async () => {
    const email = uniqueEmail('portal-pc-later');
    // Signed up elsewhere: this browser has no pending sign-up to sign in with.
    await signUp(t, email);
    const code = t.stack.cognito.latestCode(email) as string;
    await page.goto(`${portalUrl}#/confirm?email=${encodeURIComponent(email)}`);
    await page.evaluate(() => sessionStorage.clear()); // signed out (the session is kept in sessionStorage)
    await page.reload(); // a fresh app: no pending sign-up, no session from the test before
    await page.getByRole('heading', { level: 1, name: 'Confirm your email' }).waitFor();
    await page.getByLabel('Confirmation code').fill(code);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();

    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByText('Your email is confirmed, but we could not finish setting up your account. Sign in to finish it and get your API key.').waitFor();
    await screenshot(page, 'portal-pc-fail-sign-in');

    await page.goto(`${portalUrl}#/confirm?email=${encodeURIComponent(email)}`);
    await page.getByLabel('Confirmation code').fill(code);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await page.getByText('This account is already confirmed. Sign in with your email and password.').waitFor();
  });
});
