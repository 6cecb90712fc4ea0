/**
 * Sessions end as in Cognito, on the offline stack: a password reset (ForgotPassword + ConfirmForgotPassword → the
 * PostConfirmation trigger's AdminUserGlobalSignOut), GlobalSignOut after ChangePassword (what the portal does) and
 * AdminUserGlobalSignOut revoke every refresh token issued before — /auth/refresh answers 401, Cognito itself
 * NotAuthorizedException "Refresh Token has been revoked" — while a sign-in afterwards works.
 */
import {
  AdminUserGlobalSignOutCommand,
  ChangePasswordCommand,
  ConfirmForgotPasswordCommand,
  ForgotPasswordCommand,
  GlobalSignOutCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { PASSWORD, signIn, signUpAndOnboard, startTestStack, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';

jest.setTimeout(30_000);

const NEW_PASSWORD = 'Battery-Staple-77';

describe('sessions end on password reset and global sign-out', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  /** A confirmed, onboarded user. */
  async function customer(prefix: string): Promise<{ email: string; userId: string }> {
    const email = uniqueEmail(prefix);
    const { userId, execution } = await signUpAndOnboard(t, email);
    expect(execution.status).toBe('SUCCEEDED');
    return { email, userId };
  }

  async function restRefresh(refreshToken: string, username: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${t.stack.apiUrl}/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken, username }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function restSignIn(email: string, password: string): Promise<{ refreshToken: string; username: string }> {
    const response = await fetch(`${t.stack.apiUrl}/auth/sign-in`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { refreshToken: string; username: string };
  }

  function cognitoRefresh(refreshToken: string) {
    return t.clients.cognito.send(
      new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: refreshToken } }),
    );
  }

  const revoked = { name: 'NotAuthorizedException', message: 'Refresh Token has been revoked' };

  it('a password reset revokes every refresh token issued before it: /auth/refresh → 401, Cognito → revoked', async () => {
    const { email } = await customer('reset');
    const web = await signIn(t, email);
    const rest = await restSignIn(email, PASSWORD);
    // Both sessions work before the reset.
    expect((await restRefresh(rest.refreshToken, rest.username)).status).toBe(200);
    await expect(cognitoRefresh(web.refreshToken)).resolves.toMatchObject({ AuthenticationResult: { IdToken: expect.any(String) } });

    await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email }));
    const code = t.stack.cognito.latestCode(email);
    expect(code).toBeDefined();
    await t.clients.cognito.send(
      new ConfirmForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code, Password: NEW_PASSWORD }),
    );

    const refused = await restRefresh(rest.refreshToken, rest.username);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'NotAuthorized' });
    await expect(cognitoRefresh(web.refreshToken)).rejects.toMatchObject(revoked);
    // The new password opens a new session that refreshes.
    const fresh = await signIn(t, email, NEW_PASSWORD);
    await expect(cognitoRefresh(fresh.refreshToken)).resolves.toMatchObject({ AuthenticationResult: { IdToken: expect.any(String) } });
  });

  it('ChangePassword then GlobalSignOut (the portal\'s change password) ends the other sessions', async () => {
    const { email } = await customer('change');
    const other = await signIn(t, email);
    const current = await signIn(t, email);

    await t.clients.cognito.send(new ChangePasswordCommand({ AccessToken: current.accessToken, PreviousPassword: PASSWORD, ProposedPassword: NEW_PASSWORD }));
    await t.clients.cognito.send(new GlobalSignOutCommand({ AccessToken: current.accessToken }));

    await expect(cognitoRefresh(other.refreshToken)).rejects.toMatchObject(revoked);
    await expect(cognitoRefresh(current.refreshToken)).rejects.toMatchObject(revoked);
    // The old password is refused (cognito-local names it InvalidPasswordException; Cognito, NotAuthorizedException).
    await expect(signIn(t, email, PASSWORD)).rejects.toThrow();
    await expect(signIn(t, email, NEW_PASSWORD)).resolves.toMatchObject({ refreshToken: expect.any(String) });
  });

  it('AdminUserGlobalSignOut revokes refresh tokens; an unknown user is UserNotFoundException', async () => {
    const { email, userId } = await customer('admin-signout');
    const session = await signIn(t, email);

    await t.clients.cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId: t.stack.userPoolId, Username: userId }));

    await expect(cognitoRefresh(session.refreshToken)).rejects.toMatchObject(revoked);
    await expect(
      t.clients.cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId: t.stack.userPoolId, Username: uniqueEmail('nobody') })),
    ).rejects.toMatchObject({ name: 'UserNotFoundException' });
  });
});
