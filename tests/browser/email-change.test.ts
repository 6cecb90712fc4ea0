/**
 * The portal's email change in Chromium, against the offline stack: the new address gets a code, the old one keeps
 * working until the code is entered, then the page, the session and GET /me show the new one. Screenshots go to
 * test-artifacts/.
 */
import { InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { Page } from 'playwright-core';
import { PASSWORD, signUpAndOnboard, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);

describeBrowser('developer portal: change email (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  const oldEmail = uniqueEmail('portal-old');
  const newEmail = uniqueEmail('portal-new');

  beforeAll(async () => {
    ({ browser, page, t } = await startPortalSession());
    const { execution } = await signUpAndOnboard(t, oldEmail);
    expect(execution.status).toBe('SUCCEEDED');
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  const signsIn = (email: string) =>
    t.clients.cognito
      .send(new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD } }))
      .then(
        () => true,
        () => false,
      );

  it('sends a code to the new address, keeps the old one until it is entered, then shows the new one', async () => {
    await page.goto(`${t.stack.portal!.url}#/signin`);
    await page.getByLabel('Email').fill(oldEmail);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();

    const form = page.getByRole('form', { name: 'Change email' });
    await form.getByLabel('New email').fill(newEmail);
    await form.getByRole('button', { name: 'Send code' }).click();
    const verify = page.getByRole('form', { name: 'Verify new email' });
    await verify.getByText(`Enter the code we sent to ${newEmail}.`).waitFor();
    await screenshot(page, 'account-05-email-code');

    expect([await signsIn(oldEmail), await signsIn(newEmail)]).toEqual([true, false]);
    const code = t.stack.cognito.latestCode(newEmail);
    expect(code).toMatch(/^\d{6}$/);

    await verify.getByLabel('Code').fill(code as string);
    await verify.getByRole('button', { name: 'Verify and change' }).click();
    await form.getByText(`Your email is now ${newEmail}.`).waitFor();
    await screenshot(page, 'account-06-email-changed');

    await expect(page.getByTestId('account-email').textContent()).resolves.toBe(newEmail);
    expect([await signsIn(oldEmail), await signsIn(newEmail)]).toEqual([false, true]);
    const idToken = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.idToken')) as string;
    const me = await fetch(`${t.stack.apiUrl}/me`, { headers: { Authorization: idToken } });
    expect(await me.json()).toMatchObject({ email: newEmail });
  });
});
