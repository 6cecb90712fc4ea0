/**
 * The API reference's answers are the handlers' answers: on the offline stack, every documented route is called for its
 * success and for documented errors, and each real answer must have a status the document lists for that operation,
 * a body its schema accepts (Ajv, strict objects: a field the handler adds or drops fails) and the headers it names
 * (tests/support/openapi-responses.ts). Run in both data-API modes, each with a key mode: IdTokenAndApiKey with
 * API Gateway keys (the defaults), and key-only with self-issued keys, whose key routes answer other shapes. Errors come
 * from bad input, unknown ids, missing or wrong credentials, a suspended and a closed account, and (API Gateway keys) a
 * throttled management API (503 with Retry-After). The last test checks the calls above reached every operation's
 * success statuses and at least one error of each.
 */
import { AdminDisableUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { randomUUID } from 'node:crypto';
import { openApiDocument, type DataApiAuth } from '../../functions/openapi/document.ts';
import { OPERATIONS } from '../../functions/openapi/operations.ts';
import { FaultInjector } from '../../local/apigateway/faults.ts';
import { keyModeOf, type KeyMode } from '../../local/harness/key-modes.ts';
import {
  invokeFunction,
  onboardCustomer,
  onboardingArn,
  PASSWORD,
  startTestStack,
  uniqueEmail,
  waitForExecution,
  type Customer,
  type TestStack,
} from '../../local/harness/stack.ts';
import { responseChecker, type ResponseChecker } from '../support/openapi-responses.ts';

/** operationId → the statuses real calls answered (over both stacks). */
const answered = new Map<string, Set<number>>();
const operationOf = (method: string, path: string) => OPERATIONS.find((o) => o.method === method && o.path === path);

interface Call {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

const MODES: { dataApiAuth: DataApiAuth; keyMode: KeyMode }[] = [
  { dataApiAuth: 'IdTokenAndApiKey', keyMode: 'ApiGateway' },
  { dataApiAuth: 'ApiKey', keyMode: 'SelfIssued' },
];

describe.each(MODES)('DataApiAuth $dataApiAuth, KeyMode $keyMode: each answer is as documented', ({ dataApiAuth, keyMode }) => {
  let t: TestStack;
  let checker: ResponseChecker;
  /** Faults of the offline API Gateway management API (what AccountFunction calls for key values and usage). */
  const faults = new FaultInjector();

  beforeAll(async () => {
    // Limits high enough for a burst of calls: a 429 here would be the throttle's, not the route's answer under test.
    const limits = Object.fromEntries(['Auth', 'Account', 'Free'].flatMap((n) => [[`${n}RateLimit`, '1000'], [`${n}BurstLimit`, '1000']]));
    t = await startTestStack({ parameterOverrides: { ...limits, DataApiAuth: dataApiAuth, KeyMode: keyMode }, faults: { apigateway: faults } });
    checker = await responseChecker(openApiDocument({ serverUrl: t.stack.apiUrl, dataApiAuth }));
  }, 90_000);
  afterAll(async () => {
    await t?.close();
  });

  /**
   * Calls `METHOD path` (the template path; `params` fill it in) and fails unless the answer is documented: its status
   * among the operation's responses, its body and headers as that response says. Records the status for the coverage test.
   */
  async function call(method: string, path: string, { params = {}, query, body, headers = {} }: Call = {}): Promise<Answer> {
    const op = operationOf(method, path);
    if (!op) throw new Error(`${method} ${path} is not in OPERATIONS`);
    const url = new URL(`${t.stack.apiUrl}${path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''))}`);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    const res = await fetch(url, {
      method,
      headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const what = `${method} ${url.pathname}${url.search} → ${res.status} ${text.slice(0, 300)}`;
    expect({ call: what, problems: checker.problems(method, path, res.status, text, res.headers) }).toEqual({ call: what, problems: [] });
    if (!answered.has(op.operationId)) answered.set(op.operationId, new Set());
    answered.get(op.operationId)!.add(res.status);
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
  }

  const token = (c: Pick<Customer, 'idToken'>) => ({ Authorization: c.idToken });
  /** The data API's credentials in this mode: the key alone, or the ID token and the key. */
  const data = (c: Customer) => (dataApiAuth === 'ApiKey' ? { 'x-api-key': c.keyValue } : { ...token(c), 'x-api-key': c.keyValue });

  it('public routes', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
    expect((await call('GET', '/plans')).status).toBe(200);
  });

  it('/auth/*: sign-up, confirm, sign-in, refresh, sign-out and a password reset, with their errors', async () => {
    const email = uniqueEmail('oas-auth');
    expect((await call('POST', '/auth/sign-up', { body: { email: 'not-an-email', password: PASSWORD } })).status).toBe(400);
    const signUp = await call('POST', '/auth/sign-up', { body: { email, password: PASSWORD } });
    expect(signUp.status).toBe(201);
    expect((await call('POST', '/auth/sign-up', { body: { email, password: PASSWORD } })).status).toBe(409);

    const code = t.stack.cognito.latestCode(email) as string;
    expect((await call('POST', '/auth/confirm', { body: { email, code: code === '000000' ? '111111' : '000000' } })).status).toBe(400);
    expect((await call('POST', '/auth/confirm', { body: { email, code } })).status).toBe(200);
    expect((await call('POST', '/auth/confirm', { body: { email, code } })).status).toBe(409);
    await waitForExecution(t, onboardingArn(t, signUp.body.userSub as string));

    expect((await call('POST', '/auth/sign-in', { body: { email } })).status).toBe(400);
    const unconfirmed = uniqueEmail('oas-unconfirmed');
    expect((await call('POST', '/auth/sign-up', { body: { email: unconfirmed, password: PASSWORD } })).status).toBe(201);
    expect((await call('POST', '/auth/sign-in', { body: { email: unconfirmed, password: PASSWORD } })).body.code).toBe('UserNotConfirmed');
    expect((await call('POST', '/auth/sign-in', { body: { email, password: `${PASSWORD}-wrong` } })).status).toBe(401);
    const signIn = await call('POST', '/auth/sign-in', { body: { email, password: PASSWORD } });
    expect(signIn.status).toBe(200);
    const { refreshToken, username } = signIn.body as { refreshToken: string; username: string };

    expect((await call('POST', '/auth/refresh', { body: { refreshToken } })).status).toBe(400);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken, username } })).status).toBe(200);
    expect((await call('POST', '/auth/sign-out', { body: {} })).status).toBe(400);
    expect((await call('POST', '/auth/sign-out', { body: { refreshToken } })).status).toBe(200);
    expect((await call('POST', '/auth/refresh', { body: { refreshToken, username } })).status).toBe(401);
    expect((await call('POST', '/auth/sign-out', { body: { refreshToken: 'not.a.token' } })).status).toBe(401);

    expect((await call('POST', '/auth/forgot-password', { body: { email: 'nobody' } })).status).toBe(400);
    expect((await call('POST', '/auth/forgot-password', { body: { email } })).status).toBe(202);
    const resetCode = t.stack.cognito.latestCode(email) as string;
    const newPassword = `${PASSWORD}-new`;
    const wrong = resetCode === '000000' ? '111111' : '000000';
    expect((await call('POST', '/auth/reset-password', { body: { email, code: wrong, password: newPassword } })).status).toBe(400);
    expect((await call('POST', '/auth/reset-password', { body: { email, code: resetCode, password: newPassword } })).status).toBe(200);
    expect((await call('POST', '/auth/sign-in', { body: { email, password: newPassword } })).status).toBe(200);
  }, 60_000);

  it('links, tags and tag-links: created, listed a page at a time, read, attached, deleted; bad input, unknown ids and bad credentials', async () => {
    const c = await onboardCustomer(t, 'oas-data');
    const other = randomUUID(); // no customer's id

    expect((await call('POST', '/links', { body: { url: 'ftp://example.com' }, headers: data(c) })).status).toBe(400);
    expect((await call('POST', '/links', { body: { url: 'https://example.com/a' } })).status).toBe(401);
    expect((await call('POST', '/links', { body: { url: 'https://example.com/a' }, headers: { ...data(c), 'x-api-key': `${c.keyValue}x` } })).status).toBe(
      keyMode === 'SelfIssued' ? 401 : 403,
    );
    if (dataApiAuth === 'IdTokenAndApiKey') {
      // The function's own 401: the key alone where the token is needed too.
      expect((await call('POST', '/links', { body: { url: 'https://example.com/a' }, headers: { 'x-api-key': c.keyValue } })).status).toBe(401);
    }
    const first = await call('POST', '/links', { body: { url: 'https://example.com/a', title: 'A' }, headers: data(c) });
    expect(first.status).toBe(201);
    const second = await call('POST', '/links', { body: { url: 'https://example.com/b' }, headers: data(c) });
    const linkId = first.body.id as string;

    const page = await call('GET', '/links', { query: { limit: '1' }, headers: data(c) });
    expect(page.body.nextToken).toEqual(expect.any(String));
    expect((await call('GET', '/links', { query: { nextToken: page.body.nextToken as string }, headers: data(c) })).status).toBe(200);
    expect((await call('GET', '/links', { query: { limit: '0' }, headers: data(c) })).status).toBe(400);
    expect((await call('GET', '/links/{id}', { params: { id: linkId }, headers: data(c) })).status).toBe(200);
    expect((await call('GET', '/links/{id}', { params: { id: other }, headers: data(c) })).status).toBe(404);
    expect((await call('GET', '/links/{id}', { params: { id: 'not-a-uuid' }, headers: data(c) })).status).toBe(400);

    expect((await call('POST', '/tags', { body: { name: '' }, headers: data(c) })).status).toBe(400);
    const tag = await call('POST', '/tags', { body: { name: 'reading' }, headers: data(c) });
    expect(tag.status).toBe(201);
    const tagId = tag.body.id as string;
    expect((await call('POST', '/tags', { body: { name: 'Reading' }, headers: data(c) })).status).toBe(409);
    expect((await call('GET', '/tags', { headers: data(c) })).status).toBe(200);
    expect((await call('GET', '/tags', { query: { nextToken: '!' }, headers: data(c) })).status).toBe(400);
    expect((await call('GET', '/tags/{id}', { params: { id: tagId }, headers: data(c) })).status).toBe(200);
    expect((await call('GET', '/tags/{id}', { params: { id: other }, headers: data(c) })).status).toBe(404);

    expect((await call('POST', '/taglinks', { body: { tagId, linkId }, headers: data(c) })).status).toBe(201);
    expect((await call('POST', '/taglinks', { body: { tagId, linkId }, headers: data(c) })).status).toBe(200);
    expect((await call('POST', '/taglinks', { body: { tagId, linkId: other }, headers: data(c) })).status).toBe(404);
    expect((await call('POST', '/taglinks', { body: { tagId }, headers: data(c) })).status).toBe(400);
    expect((await call('GET', '/tags/{id}/links', { params: { id: tagId }, headers: data(c) })).body.items).toHaveLength(1);
    expect((await call('GET', '/tags/{id}/links', { params: { id: other }, headers: data(c) })).status).toBe(404);
    expect((await call('GET', '/tags/{id}/links', { params: { id: tagId }, query: { limit: 'x' }, headers: data(c) })).status).toBe(400);

    expect((await call('DELETE', '/tags/{id}', { params: { id: tagId }, headers: data(c) })).status).toBe(204);
    expect((await call('DELETE', '/tags/{id}', { params: { id: tagId }, headers: data(c) })).status).toBe(404);
    expect((await call('DELETE', '/tags/{id}', { params: { id: 'x' }, headers: data(c) })).status).toBe(400);
    expect((await call('DELETE', '/links/{id}', { params: { id: second.body.id as string }, headers: data(c) })).status).toBe(204);
    expect((await call('DELETE', '/links/{id}', { params: { id: second.body.id as string }, headers: data(c) })).status).toBe(404);
    expect((await call('DELETE', '/links/{id}', { params: { id: 'x' }, headers: data(c) })).status).toBe(400);
  }, 60_000);

  it('/me, its key, usage and billing, a plan change and its status, a rotation and its overlap, and deleting the account', async () => {
    const c = await onboardCustomer(t, 'oas-me');
    expect((await call('GET', '/me')).status).toBe(401);
    expect((await call('GET', '/me', { headers: token(c) })).status).toBe(200);

    expect((await call('GET', '/me/api-key', { query: { reveal: 'yes' }, headers: token(c) })).status).toBe(400);
    expect((await call('GET', '/me/api-key', { headers: token(c) })).status).toBe(200);
    // KeyMode SelfIssued never shows a value again: 409.
    expect((await call('GET', '/me/api-key', { query: { reveal: 'true' }, headers: token(c) })).status).toBe(keyMode === 'SelfIssued' ? 409 : 200);

    const today = new Date().toISOString().slice(0, 10);
    expect((await call('GET', '/me/usage', { query: { from: today, to: today }, headers: token(c) })).status).toBe(200);
    expect((await call('GET', '/me/usage', { query: { from: today }, headers: token(c) })).status).toBe(400);

    expect((await call('POST', '/me/plan', { body: { plan: 'platinum' }, headers: token(c) })).status).toBe(400);
    const change = await call('POST', '/me/plan', { body: { plan: 'basic' }, headers: { ...token(c), 'Idempotency-Key': randomUUID() } });
    expect(change.status).toBe(202);
    const executionId = change.body.executionId as string;
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
    await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:${executionId}`);
    expect((await call('GET', '/me/plan-changes/{executionId}', { params: { executionId }, headers: token(c) })).body.status).toBe('SUCCEEDED');
    expect((await call('GET', '/me/plan-changes/{executionId}', { params: { executionId: `plan-${'0'.repeat(40)}` }, headers: token(c) })).status).toBe(404);
    expect((await call('GET', '/me/plan-changes/{executionId}', { params: { executionId: 'x' }, headers: token(c) })).status).toBe(400);
    expect((await call('POST', '/me/plan', { body: { plan: 'basic' }, headers: token(c) })).status).toBe(409);

    // The ledger now holds the onboarding's PLAN_STARTED and the plan change's PLAN_CHANGED: both pages validate.
    const billing = await call('GET', '/me/billing', { query: { limit: '1' }, headers: token(c) });
    expect(billing.body.nextToken).toEqual(expect.any(String));
    const rest = await call('GET', '/me/billing', { query: { nextToken: billing.body.nextToken as string }, headers: token(c) });
    expect([...(billing.body.ledger as { type: string }[]), ...(rest.body.ledger as { type: string }[])].map((e) => e.type).sort()).toEqual(['PLAN_CHANGED', 'PLAN_STARTED']);
    expect((await call('GET', '/me/billing', { query: { limit: '101' }, headers: token(c) })).status).toBe(400);

    expect((await call('POST', '/me/api-key/rotate', { body: { overlapSeconds: -1 }, headers: token(c) })).status).toBe(400);
    expect((await call('POST', '/me/api-key/rotate', { body: { keyId: 'someoneelse' }, headers: token(c) })).status).toBe(409);
    const overlap = keyMode === 'SelfIssued' ? {} : { overlapSeconds: 3600 };
    const rotated = await call('POST', '/me/api-key/rotate', { body: { keyId: c.keyId, ...overlap }, headers: { ...token(c), 'Idempotency-Key': randomUUID() } });
    expect(rotated.status).toBe(200);
    const key = await call('GET', '/me/api-key', { headers: token(c) });
    if (keyMode === 'SelfIssued') {
      expect(key.body).toMatchObject({ id: rotated.body.id, issued: true });
      expect((await call('DELETE', '/me/api-key/previous', { headers: token(c) })).status).toBe(404);
    } else {
      expect(key.body.previous).toEqual({ expiresAt: rotated.body.previousKeyExpiresAt });
      expect((await call('DELETE', '/me/api-key/previous', { headers: token(c) })).status).toBe(204);
      expect((await call('DELETE', '/me/api-key/previous', { headers: token(c) })).status).toBe(404);
    }

    expect((await call('DELETE', '/me', { body: { confirm: 'someone@example.com' }, headers: token(c) })).status).toBe(400);
    expect((await call('DELETE', '/me', { body: { confirm: c.email }, headers: token(c) })).status).toBe(202);
  }, 90_000);

  it("a suspended account (its user disabled) and a closed one: the refusals the account routes answer then are documented", async () => {
    const suspended = await onboardCustomer(t, 'oas-suspended');
    await t.clients.cognito.send(new AdminDisableUserCommand({ UserPoolId: t.stack.userPoolId, Username: suspended.email }));
    await invokeFunction(t, 'ReconcileAccountsFunction', {});
    expect((await call('GET', '/me', { headers: token(suspended) })).body.keySuspendedAt).toEqual(expect.any(String));
    expect((await call('GET', '/tags', { headers: data(suspended) })).status).toBe(403);
    expect((await call('POST', '/me/api-key/rotate', { body: { keyId: suspended.keyId }, headers: token(suspended) })).body.code).toBe('KeySuspended');

    const closed = await onboardCustomer(t, 'oas-closed');
    expect((await call('DELETE', '/me', { body: { confirm: closed.email }, headers: token(closed) })).status).toBe(202);
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine')!;
    await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:offboard-${closed.userId}`, 30_000);
    // The ID token outlives the deleted user (Cognito cannot revoke it): each account route refuses, as documented.
    expect((await call('GET', '/me', { headers: token(closed) })).body.status).toBe('CLOSED');
    expect((await call('GET', '/tags', { headers: data(closed) })).status).toBeGreaterThanOrEqual(400);
    for (const [method, path, body] of [
      ['GET', '/me/api-key', undefined],
      ['POST', '/me/api-key/rotate', {}],
      ['DELETE', '/me/api-key/previous', undefined],
      ['GET', '/me/usage', undefined],
      ['POST', '/me/plan', { plan: 'basic' }],
    ] as const) {
      const today = new Date().toISOString().slice(0, 10);
      const query = path === '/me/usage' ? { from: today, to: today } : undefined;
      expect((await call(method, path, { body, ...(query ? { query } : {}), headers: token(closed) })).status).toBeGreaterThanOrEqual(400);
    }
  }, 90_000);

  it('every route behind an authorizer refuses a call without its credentials, and a data route a wrong key, as documented', async () => {
    const c = await onboardCustomer(t, 'oas-noauth');
    for (const op of OPERATIONS.filter((o) => o.auth !== 'none')) {
      const request = { params: op.example?.params ?? {}, query: op.example?.query ?? {}, ...(op.example?.body !== undefined ? { body: op.example.body } : {}) };
      expect((await call(op.method, op.path, request)).status).toBe(401);
      if (op.auth === 'data') {
        const wrongKey = { ...data(c), 'x-api-key': `${c.keyValue}x` };
        expect((await call(op.method, op.path, { ...request, headers: wrongKey })).status).toBe(keyMode === 'SelfIssued' ? 401 : 403);
      }
    }
  }, 60_000);

  if (keyMode === 'ApiGateway') {
    it('a dependency that throttles: 503 with Retry-After (header and body), as documented', async () => {
      const c = await onboardCustomer(t, 'oas-busy');
      // More than the SDK's attempts (maxAttempts 3): the function gives up and answers 503.
      faults.inject('GetApiKey', 'TooManyRequestsException', 5);
      try {
        const busy = await call('GET', '/me/api-key', { query: { reveal: 'true' }, headers: token(c) });
        expect({ status: busy.status, retryAfter: busy.headers.get('retry-after'), inBody: busy.body.retryAfterSeconds }).toEqual({
          status: 503,
          retryAfter: expect.stringMatching(/^\d+$/),
          inBody: Number(busy.headers.get('retry-after')),
        });
      } finally {
        faults.clear();
      }
    }, 60_000);
  }

  it('runs on the stack it was asked for', () => {
    expect({ keyMode: keyModeOf(t), dataApiAuth: t.stack.model.parameters.DataApiAuth }).toEqual({ keyMode, dataApiAuth });
  });
});

it('reached every documented operation: its success statuses and at least one of its errors', () => {
  // Health and ListPlans answer no error a client can cause (only 429/503: throttling, a busy dependency).
  const noClientError = new Set(['Health', 'ListPlans']);
  const missing = OPERATIONS.flatMap((op) => {
    const statuses = answered.get(op.operationId) ?? new Set<number>();
    const wanted = [op.success.status, ...(op.success.also ?? []).map((a) => a.status)].filter((s) => !statuses.has(s));
    const error = noClientError.has(op.operationId) || [...statuses].some((s) => s >= 400) ? [] : ['an error'];
    return [...wanted, ...error].map((what) => `${op.operationId}: ${what}`);
  });
  expect(missing).toEqual([]);
});
