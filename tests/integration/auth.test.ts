/**
 * The REST auth endpoints end to end on the offline stack, over HTTP only: sign-up → confirm (code from the outbox) →
 * onboarding → sign-in → the protected API with the returned ID token and the onboarded key → refresh → sign-out;
 * the error answers; invited users (onboarded at their first sign-in by PostAuthentication, FAILED onboarding
 * re-driven); the stage throttle on /auth/*; and the client secret staying server-side.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import {
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inviteUser, resolveTarget } from '../../scripts/admin.ts';
import { PASSWORD, claimsOf, onboardingArn, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are inspected field by field
type Json = Record<string, any>;
interface Answer {
  status: number;
  body: Json;
  text: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function authFunctionEnv(t: TestStack): Record<string, string> {
  const fn = t.stack.model.functions.find((f) => f.logicalId === 'AuthFunction');
  if (!fn) throw new Error('no AuthFunction in the template');
  return fn.environment;
}

describe('REST auth endpoints', () => {
  let t: TestStack;
  /** Every line the stack logged (gateway, functions, workflows) and every body the API answered. */
  const stackLog: string[] = [];
  const answers: string[] = [];
  /** Passwords and tokens this suite used: none may reach a log. */
  const confidential = new Set<string>([PASSWORD]);

  beforeAll(async () => {
    t = await startTestStack({ log: (line) => stackLog.push(line) });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  async function post(path: string, body: unknown): Promise<Answer> {
    const response = await fetch(`${t.stack.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, body: text ? (JSON.parse(text) as Json) : {}, text };
  }

  async function signIn(email: string, password = PASSWORD, newPassword?: string): Promise<Answer> {
    const answer = await post('/auth/sign-in', { email, password, ...(newPassword ? { newPassword } : {}) });
    for (const key of ['idToken', 'accessToken', 'refreshToken']) if (typeof answer.body[key] === 'string') confidential.add(answer.body[key]);
    return answer;
  }

  async function keyValue(keyId: string): Promise<string> {
    const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return key.value as string;
  }

  const links = (idToken: string, key: string) => fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': key } });

  async function executionsOf(userId: string): Promise<string[]> {
    const machineArn = t.stack.model.stateMachines.find((m) => m.logicalId === 'OnboardingStateMachine')!.arn;
    const { executions } = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }));
    return (executions ?? []).map((e) => e.name ?? '').filter((name) => name.startsWith(`onboard-${userId}`));
  }

  async function apiIdOf(email: string): Promise<string | undefined> {
    const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }));
    return user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value;
  }

  /** Sign-up and confirmation over HTTP; returns the sub. */
  async function signUpAndConfirm(email: string): Promise<string> {
    const signUp = await post('/auth/sign-up', { email, password: PASSWORD });
    expect(signUp.status).toBe(201);
    const code = t.stack.cognito.latestCode(email);
    expect(code).toMatch(/^\d{6}$/);
    expect((await post('/auth/confirm', { email, code })).status).toBe(200);
    return signUp.body.userSub as string;
  }

  it('signs up, confirms, signs in, refreshes and signs out over HTTP; the token and the onboarded key reach GET /links', async () => {
    const email = uniqueEmail('rest');

    const signUp = await post('/auth/sign-up', { email, password: PASSWORD });
    expect(signUp.status).toBe(201);
    expect(signUp.body).toEqual({
      userSub: expect.stringMatching(UUID),
      userConfirmed: false,
      codeDelivery: { destination: email, deliveryMedium: 'EMAIL', attributeName: 'email' },
    });
    const userId = signUp.body.userSub as string;
    const code = t.stack.cognito.latestCode(email);
    const confirm = await post('/auth/confirm', { email, code });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toMatchObject({ confirmed: true });

    const execution = await waitForExecution(t, onboardingArn(t, userId));
    expect({ status: execution.status, error: execution.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const { apiKeyId } = JSON.parse(execution.output ?? '{}') as { apiKeyId: string };

    const signIn1 = await signIn(email);
    expect(signIn1.status).toBe(200);
    expect(signIn1.body).toEqual({
      idToken: expect.any(String),
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 3600,
      tokenType: 'Bearer',
      username: userId,
    });
    const claims = claimsOf(signIn1.body.idToken);
    expect(claims).toMatchObject({ sub: userId, 'cognito:username': userId, email, 'custom:apiid': apiKeyId, aud: authFunctionEnv(t).AUTH_CLIENT_ID });

    const key = await keyValue(apiKeyId);
    const listed = await links(signIn1.body.idToken, key);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ items: [] });

    const refreshed = await post('/auth/refresh', { refreshToken: signIn1.body.refreshToken, username: signIn1.body.username });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ idToken: expect.any(String), accessToken: expect.any(String), username: userId });
    confidential.add(refreshed.body.idToken);
    expect((await links(refreshed.body.idToken, key)).status).toBe(200);

    const signOut = await post('/auth/sign-out', { refreshToken: signIn1.body.refreshToken });
    expect(signOut.status).toBe(200);
    expect(signOut.body).toMatchObject({ signedOut: true });

    // cognito-local implements RevokeToken: the revoked refresh token no longer refreshes, nor signs out again.
    const afterSignOut = await post('/auth/refresh', { refreshToken: signIn1.body.refreshToken, username: userId });
    expect(afterSignOut.status).toBe(401);
    expect(afterSignOut.body).toMatchObject({ code: 'NotAuthorized' });
    expect((await post('/auth/sign-out', { refreshToken: signIn1.body.refreshToken })).status).toBe(401);

    // PostAuthentication found the account ACTIVE at that sign-in: still the one onboarding execution.
    expect(await executionsOf(userId)).toEqual([`onboard-${userId}`]);
  }, 60_000);

  it('answers Cognito’s refusals as clear 4xx, and never tells whether an email is registered', async () => {
    const email = uniqueEmail('errors');
    const signUp = await post('/auth/sign-up', { email, password: PASSWORD });
    expect(signUp.status).toBe(201);

    const unconfirmed = await signIn(email);
    expect(unconfirmed.status).toBe(403);
    expect(unconfirmed.body).toMatchObject({ code: 'UserNotConfirmed', requestId: expect.any(String) });

    const realCode = t.stack.cognito.latestCode(email) as string;
    const wrongCode = await post('/auth/confirm', { email, code: realCode === '000000' ? '111111' : '000000' });
    expect(wrongCode.status).toBe(400);
    expect(wrongCode.body).toMatchObject({ code: 'CodeMismatch', details: { issues: [{ field: 'code' }] } });
    expect((await post('/auth/confirm', { email, code: realCode })).status).toBe(200);

    const duplicate = await post('/auth/sign-up', { email, password: PASSWORD });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ code: 'UsernameExists', details: { issues: [{ field: 'email' }] } });

    const badBody = await post('/auth/sign-up', { email: 'nope', password: PASSWORD, extra: 1 });
    expect(badBody.status).toBe(400);
    expect(badBody.body.details.issues.map((i: { field: string }) => i.field).sort()).toEqual(['email', 'extra']);

    const wrongPassword = await signIn(email, `${PASSWORD}-wrong`);
    const unknownEmail = await signIn(uniqueEmail('nobody'), PASSWORD);
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body).toMatchObject({ code: 'NotAuthorized', message: 'Incorrect email or password' });
    const { requestId: _a, ...wrong } = wrongPassword.body;
    const { requestId: _b, ...unknown } = unknownEmail.body;
    expect([unknownEmail.status, unknown]).toEqual([401, wrong]);

    const forgotKnown = await post('/auth/forgot-password', { email });
    const forgotUnknown = await post('/auth/forgot-password', { email: uniqueEmail('nobody') });
    expect([forgotKnown.status, forgotUnknown.status]).toEqual([202, 202]);
    expect(forgotUnknown.body).toEqual(forgotKnown.body);

    const missingUsername = await post('/auth/refresh', { refreshToken: 'a.b.c' });
    expect(missingUsername.status).toBe(400);
    expect(missingUsername.body.details.issues).toEqual([{ field: 'username', message: expect.any(String) }]);
  }, 60_000);

  it('resets a forgotten password with the emailed code', async () => {
    const email = uniqueEmail('reset');
    await signUpAndConfirm(email);
    const newPassword = `${PASSWORD}-new`;
    confidential.add(newPassword);

    expect((await post('/auth/forgot-password', { email })).status).toBe(202);
    const code = t.stack.cognito.latestCode(email) as string;
    const wrong = await post('/auth/reset-password', { email, code: code === '000000' ? '111111' : '000000', password: newPassword });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ code: 'CodeMismatch' });

    const reset = await post('/auth/reset-password', { email, code, password: newPassword });
    expect(reset.status).toBe(200);

    expect((await signIn(email, newPassword)).status).toBe(200);
    expect((await signIn(email, PASSWORD)).status).toBe(401);
  }, 60_000);

  describe('invited users', () => {
    it('get a key at their first sign-in (NEW_PASSWORD_REQUIRED answered with newPassword)', async () => {
      const email = uniqueEmail('invited');
      const invitation = await inviteUser(t.clients.cognito, t.stack.userPoolId, email);
      expect(invitation).toMatchObject({ email, username: expect.stringMatching(UUID), sub: invitation.username, status: 'FORCE_CHANGE_PASSWORD' });
      const userId = invitation.username;

      // `npm run admin -- invite` finds the pool in the stack's state and says where the temporary password went.
      const target = resolveTarget({ dir: t.dir, endpoint: t.stack.endpoints.cognito, env: {} });
      expect(target).toEqual({
        poolId: t.stack.userPoolId,
        endpoint: t.stack.endpoints.cognito,
        region: 'us-east-1',
        offline: true,
        outbox: join(t.dir, 'cognito', 'outbox.jsonl'),
      });
      const temporary = t.stack.cognito.latestCode(email) as string;
      expect(readFileSync(target.outbox as string, 'utf8')).toContain(`"destination":"${email}"`);
      confidential.add(temporary);

      const first = await signIn(email, temporary);
      expect(first.status).toBe(403);
      expect(first.body).toMatchObject({ code: 'NewPasswordRequired', details: { issues: [{ field: 'newPassword' }] } });
      expect(await executionsOf(userId)).toEqual([]);

      const withNewPassword = await signIn(email, temporary, PASSWORD);
      expect(withNewPassword.status).toBe(200);
      expect(withNewPassword.body).toMatchObject({ idToken: expect.any(String), username: userId });

      const execution = await waitForExecution(t, onboardingArn(t, userId));
      expect({ status: execution.status, error: execution.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
      const { apiKeyId } = JSON.parse(execution.output ?? '{}') as { apiKeyId: string };
      expect(await apiIdOf(email)).toBe(apiKeyId);

      const again = await signIn(email);
      expect(again.status).toBe(200);
      expect(claimsOf(again.body.idToken)['custom:apiid']).toBe(apiKeyId);
      expect((await links(again.body.idToken, await keyValue(apiKeyId))).status).toBe(200);
      expect(await executionsOf(userId)).toEqual([`onboard-${userId}`]);
    }, 60_000);

    it('get a key at their first sign-in after an administrator set a permanent password', async () => {
      const email = uniqueEmail('invited-cli');
      const { username: userId } = await inviteUser(t.clients.cognito, t.stack.userPoolId, email);
      await t.clients.cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: t.stack.userPoolId, Username: email, Password: PASSWORD, Permanent: true }));

      expect((await signIn(email)).status).toBe(200);

      const execution = await waitForExecution(t, onboardingArn(t, userId));
      expect(execution.status).toBe('SUCCEEDED');
      expect(await apiIdOf(email)).toBe((JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId);
    }, 60_000);

    it('have a FAILED onboarding re-driven at sign-in under onboard-<sub>-<hash of updatedAt>', async () => {
      const email = uniqueEmail('redrive');
      const { username: userId } = await inviteUser(t.clients.cognito, t.stack.userPoolId, email);
      await t.clients.cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: t.stack.userPoolId, Username: email, Password: PASSWORD, Permanent: true }));
      const accounts = t.stack.model.tables.find((x) => x.logicalId === 'AccountsTable')!.name;
      const failedAt = '2025-11-23T13:40:00.000Z';
      await t.clients.dynamodb.send(
        new PutItemCommand({
          TableName: accounts,
          Item: {
            userId: { S: userId },
            email: { S: email },
            status: { S: 'FAILED' },
            failureReason: { S: 'ApiGateway.TooManyRequestsException: simulated' },
            plan: { S: 'free' },
            createdAt: { S: failedAt },
            updatedAt: { S: failedAt },
            version: { N: '0' },
          },
        }),
      );
      const redrive = `${userId}-${createHash('sha256').update(failedAt).digest('hex').slice(0, 12)}`;

      expect((await signIn(email)).status).toBe(200);

      const execution = await waitForExecution(t, onboardingArn(t, redrive));
      expect({ status: execution.status, error: execution.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
      const account = await t.clients.dynamodb.send(new GetItemCommand({ TableName: accounts, Key: { userId: { S: userId } } }));
      expect(account.Item).toMatchObject({ status: { S: 'ACTIVE' }, apiKeyId: { S: expect.any(String) } });
      expect(await executionsOf(userId)).toEqual([`onboard-${redrive}`]);
    }, 60_000);
  });

  // Last (jest runs a block's own tests before its nested blocks): after every path above has run.
  describe('afterwards', () => {
    it('kept the client secret server-side: in no answer, and no password, token or secret in any log line', () => {
      const secret = authFunctionEnv(t).AUTH_CLIENT_SECRET as string;
      expect(secret).not.toBe('client-secret-assigned-at-deploy'); // cognito-local's own secret reached the function
      expect(answers.length).toBeGreaterThanOrEqual(30);
      expect(answers.filter((a) => a.includes(secret))).toEqual([]);
      // The offline outbox prints the codes it "sends" (that is its job); everything else must not.
      const log = stackLog.filter((line) => !line.startsWith('outbox:')).join('\n');
      expect(log).toContain('[AuthFunction]');
      expect(log).toContain('[PostAuthenticationFunction]');
      expect([secret, ...confidential].filter((value) => log.includes(value))).toEqual([]);
    });
  });
});

describe('the stage throttle on /auth/* and an InviteOnly pool', () => {
  let t: TestStack;
  // The throttle's clock moves only when the test says so: the answers do not depend on how busy the machine is.
  let nowMs = Date.parse('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    t = await startTestStack({
      parameterOverrides: { AuthRateLimit: '1', AuthBurstLimit: '2', InviteOnly: 'true' },
      gatewayClock: () => nowMs,
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${t.stack.apiUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it('answers 429 Too Many Requests past the burst, per route, for all callers together; then refills', async () => {
    // Empty bodies: the function answers 400 at once, so only the gateway's throttle decides between 400 and 429.
    const answers = await Promise.all(Array.from({ length: 6 }, () => post('/auth/sign-in', {})));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([400, 400, 429, 429, 429, 429]);
    const throttled = answers.find((a) => a.status === 429)!;
    expect(await throttled.json()).toEqual({ message: 'Too Many Requests' });
    expect(throttled.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');

    expect((await post('/auth/forgot-password', { email: uniqueEmail('other-route') })).status).toBe(202);
    for (let i = 0; i < 5; i++) expect((await fetch(`${t.stack.apiUrl}/health`)).status).toBe(200);

    nowMs += 1_000; // one second at 1 request/s: exactly one token back
    expect((await post('/auth/sign-in', {})).status).toBe(400);
    expect((await post('/auth/sign-in', {})).status).toBe(429);
  }, 30_000);

  it('creates the pool admin-only; cognito-local 5.3.0 still accepts SignUp (AWS refuses it: 403 SignUpDisabled)', async () => {
    const pool = await t.clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: t.stack.userPoolId }));
    expect(pool.UserPool?.AdminCreateUserConfig?.AllowAdminCreateUserOnly).toBe(true);

    // cognito-local stores AllowAdminCreateUserOnly but its SignUp never reads it. In AWS, SignUp answers
    // NotAuthorizedException ("SignUp is not permitted for this user pool"), which the function maps to 403 SignUpDisabled
    // (unit-tested). If this starts failing with a 403, cognito-local has learnt it: assert 403 here instead.
    const signUp = await post('/auth/sign-up', { email: uniqueEmail('self'), password: PASSWORD });
    expect(signUp.status).toBe(201);
  });
});

describe('the server client secret across a restart', () => {
  it('reaches the AuthFunction from cognito-local on a fresh stack and again after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-it-auth-'));
    try {
      const secrets: string[] = [];
      for (let run = 0; run < 2; run++) {
        const t = await startTestStack({ dir });
        try {
          const env = authFunctionEnv(t);
          const described = await t.clients.cognito.send(
            new DescribeUserPoolClientCommand({ UserPoolId: t.stack.userPoolId, ClientId: env.AUTH_CLIENT_ID }),
          );
          expect(described.UserPoolClient?.ClientSecret).toBeTruthy();
          expect(env.AUTH_CLIENT_SECRET).toBe(described.UserPoolClient?.ClientSecret);
          expect(env.AUTH_CLIENT_ID).not.toBe(t.stack.userPoolClientId); // the public client stays the secret-less one
          secrets.push(env.AUTH_CLIENT_SECRET as string);
        } finally {
          await t.close();
        }
      }
      expect(secrets[1]).toBe(secrets[0]);
      expect(existsSync(join(dir, 'stack.json'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
