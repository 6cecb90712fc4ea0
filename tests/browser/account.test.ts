/**
 * The portal's account page in Chromium, against the offline stack: change the password (every other session ends,
 * this one goes on), sign out everywhere (this session's refresh token is revoked too), and delete the account (the
 * key stops working, the user is gone). Screenshots go to test-artifacts/.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { Page } from 'playwright-core';
import { PASSWORD, signIn, signUpAndOnboard, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';
import { describeBrowser, screenshot, startPortalSession, stopPortalSession, type Browser } from './support.ts';

jest.setTimeout(120_000);

const NEW_PASSWORD = 'Battery-Staple-77';

describeBrowser('developer portal: account page (Chromium)', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  let portalUrl: string;
  const email = uniqueEmail('account');
  let userId: string;

  beforeAll(async () => {
    ({ browser, page, t, portalUrl } = await startPortalSession());
    const onboarded = await signUpAndOnboard(t, email);
    userId = onboarded.userId;
    expect(onboarded.execution.status).toBe('SUCCEEDED');
  }, 120_000);

  afterAll(() => stopPortalSession({ browser, t }));

  afterEach(() => {
    expect(browser.pageErrors).toEqual([]);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  const refreshWith = (refreshToken: string) =>
    t.clients.cognito.send(new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: refreshToken } }));
  const portalRefreshToken = async () => (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.refreshToken')) as string;

  async function signInOnPortal(password: string): Promise<void> {
    // A fresh tab's state: no session left by the test before.
    await page.goto(`${portalUrl}#/signin`);
    await page.evaluate('sessionStorage.clear()');
    await page.reload();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await nav('Account').click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
  }

  it('changes the password: another session is revoked, this one goes on', async () => {
    const other = await signIn(t, email);
    await signInOnPortal(PASSWORD);
    await expect(page.getByTestId('account-email').textContent()).resolves.toBe(email);
    await expect(page.getByTestId('account-status').textContent()).resolves.toBe('ACTIVE');
    await screenshot(page, 'account-01-page');

    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByText('Your password is changed. Every other session is signed out.').waitFor();
    await screenshot(page, 'account-02-password-changed');

    await expect(refreshWith(other.refreshToken)).rejects.toMatchObject({ name: 'NotAuthorizedException', message: 'Refresh Token has been revoked' });
    await expect(refreshWith(await portalRefreshToken())).resolves.toMatchObject({ AuthenticationResult: { IdToken: expect.any(String) } });
  });

  it('signs out everywhere: back to sign-in, and this session\'s refresh token is revoked', async () => {
    await signInOnPortal(NEW_PASSWORD);
    const refreshToken = await portalRefreshToken();

    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByText('You are signed out on every device.').waitFor();

    await expect(refreshWith(refreshToken)).rejects.toMatchObject({ name: 'NotAuthorizedException', message: 'Refresh Token has been revoked' });
  });

  it('deletes the account after the email is typed: the key stops working and the user is gone', async () => {
    await signInOnPortal(NEW_PASSWORD);
    const keyId = await keyIdOf();
    const key = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }))).value as string;
    const idToken = (await page.evaluate('JSON.parse(sessionStorage.getItem("tollgate.session")).tokens.idToken')) as string;
    const links = async () => (await fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': key } })).status;
    expect(await links()).toBe(200);
    const form = page.getByRole('form', { name: 'Delete account' });

    await form.getByLabel('Type your email to confirm').fill('someone-else@example.com');
    await form.getByRole('button', { name: 'Delete my account' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('must be the email of the account being deleted');
    await screenshot(page, 'account-03-delete-refused');

    await form.getByLabel('Type your email to confirm').fill(email);
    await form.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByText('Your account is being deleted').waitFor();
    await screenshot(page, 'account-04-deleted');

    const offboarding = t.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine');
    if (!offboarding) throw new Error('no offboarding workflow');
    const execution = `${offboarding.arn.replace(':stateMachine:', ':execution:')}:offboard-${userId}`;
    expect((await waitForExecution(t, execution)).status).toBe('SUCCEEDED');
    expect(await links()).toBe(403);
    await expect(t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId }))).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }))).rejects.toMatchObject({
      name: 'UserNotFoundException',
    });
  });

  /** The user's key id, from custom:apiid. */
  async function keyIdOf(): Promise<string> {
    const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }));
    const id = user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value;
    if (!id) throw new Error('no custom:apiid');
    return id;
  }
});
