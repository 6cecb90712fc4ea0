/**
 * A PostConfirmation trigger that fails, on the real offline stack, as in Cognito: the function's role loses
 * `states:StartExecution` (a deploy mistake), so the function throws. Cognito answers ConfirmSignUp (and
 * AdminConfirmSignUp) with UserLambdaValidationException "PostConfirmation failed with error <errorMessage>." naming
 * the trigger, yet the user is CONFIRMED and a retried confirmation says so; `POST /auth/confirm` answers 503
 * AccountSetupPending and then 409 AlreadyConfirmed (never 500); and the customer's first sign-in, with the role
 * whole again, onboards them: account ACTIVE, one key in the free plan, `custom:apiid` set. A password reset whose
 * PostConfirmation (the sign-out of old sessions) fails keeps the new password: 503 PasswordResetIncomplete.
 */
import { AdminConfirmSignUpCommand, AdminGetUserCommand, ConfirmSignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { PASSWORD, onboardingArn, signIn, signUp, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution, withoutAction, type TestStack } from '../../local/harness/stack.ts';
import { accessDeniedMessage } from '../../local/iam/index.ts';
import { accountOf, apiIdOf, keysNamed, usagePlansOfKey } from '../resilience/helpers.ts';

let t: TestStack;
const stackLog: string[] = [];

beforeAll(async () => {
  t = await startTestStack({ log: (line) => stackLog.push(line) });
}, 60_000);

afterEach(() => t.stack.iam.resetPolicies('PostConfirmationFunction'));

afterAll(async () => {
  await t?.close();
});

function breakPostConfirmation(): void {
  const principal = t.stack.iam.principal('PostConfirmationFunction')!;
  t.stack.iam.setPolicies(principal.logicalId, withoutAction(principal.role.policies, 'states:StartExecution'));
}

async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected Cognito to refuse');
}

const userStatus = async (username: string) =>
  (await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: username }))).UserStatus;

/** Onboarded as at a normal sign-up: the execution SUCCEEDED, one key in the free plan, custom:apiid, account ACTIVE. */
async function expectOnboarded(userId: string, email: string): Promise<void> {
  const execution = await waitForExecution(t, onboardingArn(t, userId));
  expect({ status: execution.status, error: execution.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
  const { apiKeyId } = JSON.parse(execution.output ?? '{}') as { apiKeyId: string };
  expect(await keysNamed(t, userId)).toEqual([apiKeyId]);
  expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-free']);
  expect(await apiIdOf(t, email)).toBe(apiKeyId);
  expect(await accountOf(t, userId)).toMatchObject({ status: { S: 'ACTIVE' }, plan: { S: 'free' }, apiKeyId: { S: apiKeyId } });
}

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const response = await fetch(`${t.stack.apiUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, retryAfter: response.headers.get('retry-after') };
}

/** Cognito's wording for a function error: the trigger named, then the function's own errorMessage. */
const POST_CONFIRMATION_FAILED = /^PostConfirmation failed with error .*not authorized to perform: states:StartExecution.*\.$/;

describe('a PostConfirmation trigger that fails', () => {
  it('ConfirmSignUp answers UserLambdaValidationException naming the trigger; the user is CONFIRMED; the first sign-in onboards', async () => {
    const email = uniqueEmail('pc-fail-sdk');
    const userId = await signUp(t, email);
    const code = t.stack.cognito.latestCode(email) as string;
    breakPostConfirmation();

    const failed = await rejection(t.clients.cognito.send(new ConfirmSignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code })));
    // Cognito's message: the trigger (not the function) and the function's own errorMessage, StartExecution's refusal.
    const onboarding = t.stack.model.stateMachines.find((m) => m.logicalId === 'OnboardingStateMachine')!.arn;
    const refusal = accessDeniedMessage(t.stack.iam.principal('PostConfirmationFunction')!.arn, 'states:StartExecution', onboarding, false);
    expect(failed).toEqual({ name: 'UserLambdaValidationException', message: `PostConfirmation failed with error ${refusal}.`, status: 400 });

    // The confirmation was saved before the trigger ran: a retry is refused as Cognito refuses it.
    expect(await userStatus(email)).toBe('CONFIRMED');
    expect(await rejection(t.clients.cognito.send(new ConfirmSignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code })))).toEqual({
      name: 'NotAuthorizedException',
      message: 'User cannot be confirmed. Current status is CONFIRMED',
      status: 400,
    });
    expect(await accountOf(t, userId)).toBeUndefined();

    t.stack.iam.resetPolicies('PostConfirmationFunction');
    await signIn(t, email); // PostAuthentication: no account yet → onboard-<sub>
    await expectOnboarded(userId, email);
  }, 60_000);

  it('AdminConfirmSignUp answers the same error and confirms the user', async () => {
    const email = uniqueEmail('pc-fail-admin');
    await signUp(t, email);
    breakPostConfirmation();

    const failed = await rejection(t.clients.cognito.send(new AdminConfirmSignUpCommand({ UserPoolId: t.stack.userPoolId, Username: email })));
    expect(failed.name).toBe('UserLambdaValidationException');
    expect(failed.message).toMatch(POST_CONFIRMATION_FAILED);
    expect(await userStatus(email)).toBe('CONFIRMED');
  }, 30_000);

  it('POST /auth/confirm answers 503 AccountSetupPending, a retry 409 AlreadyConfirmed; signing in sets the account up', async () => {
    const email = uniqueEmail('pc-fail-rest');
    const signedUp = await post('/auth/sign-up', { email, password: PASSWORD });
    expect(signedUp.status).toBe(201);
    const userId = signedUp.body.userSub as string;
    const code = t.stack.cognito.latestCode(email);
    breakPostConfirmation();

    const first = await post('/auth/confirm', { email, code });
    expect(first).toEqual({
      status: 503,
      body: {
        code: 'AccountSetupPending',
        message: 'Your email address is confirmed, but your account could not be set up yet: sign in with POST /auth/sign-in to finish',
        requestId: expect.any(String),
      },
      retryAfter: null,
    });
    expect(await userStatus(email)).toBe('CONFIRMED');

    const again = await post('/auth/confirm', { email, code });
    expect(again).toMatchObject({
      status: 409,
      body: { code: 'AlreadyConfirmed', message: 'This email address is already confirmed: sign in with POST /auth/sign-in', details: { issues: [{ field: 'email' }] } },
    });

    t.stack.iam.resetPolicies('PostConfirmationFunction');
    const signedIn = await post('/auth/sign-in', { email, password: PASSWORD });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toMatchObject({ idToken: expect.any(String), username: userId });
    await expectOnboarded(userId, email);
    // The AuthFunction logged Cognito's answer (an error: ours to fix), not a stack trace for the customer.
    expect(stackLog.some((line) => line.includes('UserLambdaValidationException') && line.includes('PostConfirmation failed with error'))).toBe(true);
  }, 60_000);

  it('POST /auth/reset-password answers 503 PasswordResetIncomplete when the sign-out of old sessions failed; the new password works', async () => {
    const email = uniqueEmail('pc-fail-reset');
    const userId = await signUpAndConfirm(t, email);
    await expectOnboarded(userId, email);
    const principal = t.stack.iam.principal('PostConfirmationFunction')!;
    t.stack.iam.setPolicies(principal.logicalId, withoutAction(principal.role.policies, 'cognito-idp:AdminUserGlobalSignOut'));

    expect((await post('/auth/forgot-password', { email })).status).toBe(202);
    const reset = await post('/auth/reset-password', { email, code: t.stack.cognito.latestCode(email), password: `${PASSWORD}-new` });
    expect(reset).toMatchObject({ status: 503, body: { code: 'PasswordResetIncomplete' }, retryAfter: null });

    expect((await post('/auth/sign-in', { email, password: `${PASSWORD}-new` })).status).toBe(200);
    expect((await post('/auth/sign-in', { email, password: PASSWORD })).status).toBe(401);
  }, 60_000);
});
