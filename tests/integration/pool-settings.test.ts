/**
 * Offline Cognito follows the pool and app client template.yaml declares (issue 11, "Offline Cognito as the template
 * says"): `UsernameConfiguration.CaseSensitive: false`, the password policy, and `PreventUserExistenceErrors: ENABLED`
 * on ForgotPassword and ResendConfirmationCode (which cognito-local lacks) — through the SDK and through the REST auth
 * endpoints. A second pool created with other settings
 * behaves by its own, so nothing is hard-coded to the template's values.
 */
import {
  AdminSetUserPasswordCommand,
  ChangePasswordCommand,
  ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  ForgotPasswordCommand,
  InitiateAuthCommand,
  ResendConfirmationCodeCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { PASSWORD, claimsOf, signIn, signUpAndConfirm, startTestStack, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';

describe('offline Cognito as the template says', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => ({ name: 'none', message: '' }),
      (error: Error) => ({ name: error.name, message: error.message }),
    );

  async function restSignIn(email: string, password = PASSWORD): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${t.stack.apiUrl}/auth/sign-in`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('signs a mixed-case email in with any casing (SDK and /auth/sign-in), and refuses a second sign-up in another casing', async () => {
    const local = `Mixed.Case-${Math.random().toString(36).slice(2, 8)}`;
    const typed = `${local}@Example.COM`;
    const sub = await signUpAndConfirm(t, typed);

    for (const casing of [typed, typed.toLowerCase(), typed.toUpperCase()]) {
      const tokens = await signIn(t, casing);
      expect(claimsOf(tokens.idToken).sub).toBe(sub);
    }
    const rest = await restSignIn(typed);
    expect(rest.status).toBe(200);
    expect(claimsOf(String(rest.body.idToken)).sub).toBe(sub);

    const second = await rejection(
      t.clients.cognito.send(
        new SignUpCommand({
          ClientId: t.stack.userPoolClientId,
          Username: typed.toLowerCase(),
          Password: PASSWORD,
          UserAttributes: [{ Name: 'email', Value: typed.toLowerCase() }],
        }),
      ),
    );
    expect(second.name).toBe('UsernameExistsException');
    const overRest = await fetch(`${t.stack.apiUrl}/auth/sign-up`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: typed, password: PASSWORD }),
    });
    expect(overRest.status).toBe(409);
  }, 60_000);

  it('refuses a password that breaks the pool policy with InvalidPasswordException naming the rule', async () => {
    const signUp = (password: string) =>
      rejection(
        t.clients.cognito.send(
          new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: uniqueEmail('weak'), Password: password, UserAttributes: [] }),
        ),
      );
    // template.yaml: MinimumLength 10, upper, lower and numbers required.
    expect(await signUp('Short-1a')).toEqual({ name: 'InvalidPasswordException', message: 'Password did not conform with policy: Password not long enough' });
    expect(await signUp('abcdefghij')).toEqual({ name: 'InvalidPasswordException', message: 'Password did not conform with policy: Password must have uppercase characters' });
    expect(await signUp('ABCDEFGHIJ1')).toEqual({ name: 'InvalidPasswordException', message: 'Password did not conform with policy: Password must have lowercase characters' });
    expect(await signUp('Abcdefghijk')).toEqual({ name: 'InvalidPasswordException', message: 'Password did not conform with policy: Password must have numeric characters' });

    // Every way of setting a password, not only sign-up; sign-in never judges the policy.
    const email = uniqueEmail('policy');
    await signUpAndConfirm(t, email);
    const { accessToken } = await signIn(t, email);
    const change = await rejection(t.clients.cognito.send(new ChangePasswordCommand({ AccessToken: accessToken, PreviousPassword: PASSWORD, ProposedPassword: 'abcdefghij' })));
    expect(change).toEqual({ name: 'InvalidPasswordException', message: 'Password does not conform to policy: Password must have uppercase characters' });
    const admin = await rejection(t.clients.cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: t.stack.userPoolId, Username: email, Password: 'short', Permanent: true })));
    expect(admin.name).toBe('InvalidPasswordException');
    await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email }));
    const code = t.stack.cognito.latestCode(email) as string;
    const reset = await rejection(
      t.clients.cognito.send(new ConfirmForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code, Password: 'nodigits-Here' })),
    );
    expect(reset).toEqual({ name: 'InvalidPasswordException', message: 'Password does not conform to policy: Password must have numeric characters' });
    expect((await signIn(t, email)).idToken).toBeTruthy(); // the old password still works: nothing was changed

    const restWeak = await fetch(`${t.stack.apiUrl}/auth/sign-up`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail('weak-rest'), password: 'abcdefghij' }),
    });
    expect(restWeak.status).toBe(400);
    expect(await restWeak.json()).toMatchObject({ code: 'InvalidPassword', details: { issues: [{ field: 'password', message: 'Password must have uppercase characters' }] } });
  }, 60_000);

  it('answers forgot-password for an unknown email as for a known one (simulated code delivery), and sends nothing', async () => {
    const known = uniqueEmail('known');
    await signUpAndConfirm(t, known);
    const unknown = known.replace('known-', 'kn0wn-');
    const sent = t.stack.cognito.outbox.length;

    const forKnown = await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: known }));
    expect(t.stack.cognito.outbox.length).toBe(sent + 1);
    const forUnknown = await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: unknown }));
    expect(t.stack.cognito.outbox.length).toBe(sent + 1);

    expect(forKnown.CodeDeliveryDetails).toEqual({ AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: 'k***@e***' });
    expect(forUnknown.CodeDeliveryDetails).toEqual(forKnown.CodeDeliveryDetails);
  }, 60_000);

  it('resends a sign-up code as Cognito does: a new code that replaces the first; confirmed is refused; unknown is simulated', async () => {
    const resend = (username: string) => t.clients.cognito.send(new ResendConfirmationCodeCommand({ ClientId: t.stack.userPoolClientId, Username: username }));
    const pending = uniqueEmail('resend');
    await t.clients.cognito.send(new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: pending, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: pending }] }));
    const first = t.stack.cognito.latestCode(pending) as string;

    const again = await resend(pending);
    expect(again.CodeDeliveryDetails).toEqual({ AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: 'r***@e***' });
    const messages = t.stack.cognito.outbox.filter((m) => m.destination === pending);
    expect(messages.map((m) => m.triggerSource)).toEqual(['CustomMessage_SignUp', 'CustomMessage_ResendCode']);
    const second = messages[1]?.code as string;
    expect(second).not.toBe(first);
    const confirm = (code: string) => t.clients.cognito.send(new ConfirmSignUpCommand({ ClientId: t.stack.userPoolClientId, Username: pending, ConfirmationCode: code }));
    expect((await rejection(confirm(first))).name).toBe('CodeMismatchException');
    await confirm(second);

    expect(await rejection(resend(pending))).toEqual({ name: 'InvalidParameterException', message: 'User is already confirmed.' });
    const sent = t.stack.cognito.outbox.length;
    const unknown = await resend(uniqueEmail('nobody'));
    expect(unknown.CodeDeliveryDetails).toEqual({ AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: 'n***@e***' });
    expect(t.stack.cognito.outbox.length).toBe(sent);
  }, 60_000);

  it('takes the settings from the pool and client, not from constants: another pool behaves by its own', async () => {
    const pool = await t.clients.cognito.send(
      new CreateUserPoolCommand({
        PoolName: 'other-settings',
        UsernameAttributes: ['email'],
        AutoVerifiedAttributes: ['email'],
        UsernameConfiguration: { CaseSensitive: true },
        Policies: { PasswordPolicy: { MinimumLength: 6, RequireUppercase: false, RequireLowercase: false, RequireNumbers: false, RequireSymbols: true } },
      }),
    );
    const poolId = pool.UserPool?.Id as string;
    const client = await t.clients.cognito.send(
      new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: 'legacy', PreventUserExistenceErrors: 'LEGACY', ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'] }),
    );
    const clientId = client.UserPoolClient?.ClientId as string;
    const signUp = (email: string, password: string) =>
      t.clients.cognito.send(new SignUpCommand({ ClientId: clientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }));

    expect(await rejection(signUp('a@example.com', 'abcdef'))).toEqual({
      name: 'InvalidPasswordException',
      message: 'Password did not conform with policy: Password must have symbol characters',
    });
    const typed = uniqueEmail('Case');
    await signUp(typed, 'abcde!');
    await t.clients.cognito.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: typed, ConfirmationCode: t.stack.cognito.latestCode(typed) as string }));
    const auth = (username: string) =>
      rejection(t.clients.cognito.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: username, PASSWORD: 'abcde!' } })));
    expect((await auth(typed)).name).toBe('none');
    expect((await auth(typed.toLowerCase())).name).not.toBe('none'); // case-sensitive: no such user, refused
    expect((await rejection(t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: clientId, Username: 'nobody@example.com' })))).name).toBe('UserNotFoundException');
    expect((await rejection(t.clients.cognito.send(new ResendConfirmationCodeCommand({ ClientId: clientId, Username: 'nobody@example.com' })))).name).toBe('UserNotFoundException');
  }, 60_000);
});
