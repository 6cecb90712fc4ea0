/**
 * Account management (/me*) never spends the customer's quota, on the offline stack: the routes take the ID token alone
 * (ApiKeyRequired: false), so API Gateway meters none of them — a free customer who has used up the quota still
 * upgrades and sees usage and billing, and ten dashboard loads leave the quota untouched. They have their own stage
 * throttle instead (MethodSettings, AccountRateLimit / AccountBurstLimit): one bucket per route, shared by all callers.
 * The data API keeps its rules: the token and the caller's own key.
 */
import { GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { randomUUID } from 'node:crypto';
import { call as callPath, onboardedUser, type Answer, type User } from '../abuse/support.ts';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

const call = (t: TestStack, method: string, path: string, opts: Parameters<typeof callPath>[2] = {}): Promise<Answer> =>
  callPath(t, path, { ...opts, method });

const today = (): string => new Date().toISOString().slice(0, 10);

/** What API Gateway itself counted today for the key in the usage plan that holds it (the control plane's GetUsage). */
async function countedToday(t: TestStack, keyId: string): Promise<number> {
  const plans = await t.clients.apigateway.send(new GetUsagePlansCommand({ keyId }));
  expect(plans.items).toHaveLength(1);
  let total = 0;
  for (const plan of plans.items ?? []) {
    const usage = await t.clients.apigateway.send(new GetUsageCommand({ usagePlanId: plan.id, keyId, startDate: today(), endDate: today() }));
    for (const [used] of usage.items?.[keyId] ?? []) total += used ?? 0;
  }
  return total;
}

const THE_ROUTES = [
  ['GET', '/me'],
  ['GET', '/me/api-key'],
  ['POST', '/me/api-key/rotate'],
  ['GET', '/me/usage'],
  ['GET', '/me/billing'],
  ['POST', '/me/plan'],
  ['GET', '/me/plan-changes/plan-0000000000000000000000000000000000000000'],
] as const;

describe('account management on a used-up free quota', () => {
  let t: TestStack;

  beforeAll(async () => {
    // A quota of 5 a month; the account routes' stage throttle out of the way (it has its own test below).
    t = await startTestStack({ parameterOverrides: { FreeQuotaLimit: '5', AccountRateLimit: '1000', AccountBurstLimit: '1000', UsageFreshnessSeconds: '0' } });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('lets a free customer who has used up the quota see usage and billing, and upgrade', async () => {
    const c = await onboardedUser(t, 'used-up');
    const own = { token: c.idToken, key: c.key };
    const links: number[] = [];
    for (let i = 0; i < 6; i++) links.push((await call(t, 'GET', '/links', own)).status);
    expect(links).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await call(t, 'GET', '/links', own)).toEqual({ status: 429, body: { message: 'Limit Exceeded' }, errorType: 'LimitExceededException' });

    // With the ID token alone, as the portal calls — and with the used-up key sent along too, which changes nothing.
    for (const credentials of [{ token: c.idToken }, own]) {
      const usage = await call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, credentials);
      expect(usage.status).toBe(200);
      expect(usage.body).toMatchObject({ keyId: c.keyId, plan: 'free', days: [{ date: today(), used: 5 }], quota: { limit: 5, used: 5, remaining: 0 } });
      const billing = await call(t, 'GET', '/me/billing', credentials);
      expect(billing.status).toBe(200);
      expect((billing.body.ledger as { type: string }[]).map((e) => e.type)).toEqual(['PLAN_STARTED']);
      expect(billing.body.statement).toMatchObject({ totalCents: 0, currency: 'USD' });
      expect(await call(t, 'GET', '/me', credentials)).toMatchObject({ status: 200, body: { status: 'ACTIVE', plan: 'free' } });
    }

    const upgrade = await call(t, 'POST', '/me/plan', { token: c.idToken, body: { plan: 'basic' }, headers: { 'Idempotency-Key': randomUUID() } });
    expect(upgrade.status).toBe(202);
    const executionId = upgrade.body.executionId as string;
    // Polling the plan change, as the portal does, is not metered either.
    let change: Answer;
    const deadline = Date.now() + 15_000;
    do {
      change = await call(t, 'GET', `/me/plan-changes/${executionId}`, { token: c.idToken });
      expect(change.status).toBe(200);
      if (change.body.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 25));
    } while (Date.now() < deadline);
    expect(change.body).toMatchObject({ status: 'SUCCEEDED', outcome: { fromPlan: 'free', toPlan: 'basic' } });

    expect(await call(t, 'GET', '/me', { token: c.idToken })).toMatchObject({ status: 200, body: { plan: 'basic' } });
    expect((await call(t, 'GET', '/links', own)).status).toBe(200);
    // API Gateway counts per usage plan key: basic has counted the 1 call made on it. None of the 20-odd account
    // management calls around them, and neither refused one.
    expect(await countedToday(t, c.keyId)).toBe(1);
    // The customer's usage today: the 5 data API calls admitted on free and the 1 on basic.
    const usage = await call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, { token: c.idToken });
    expect(usage.body).toMatchObject({ plan: 'basic', days: [{ date: today(), used: 6 }], quota: { used: 6 } });
  }, 60_000);

  it('spends none of the quota on ten dashboard loads; one data API call is counted', async () => {
    const c = await onboardedUser(t, 'dashboard');
    const statuses: number[] = [];
    for (let load = 0; load < 10; load++) {
      // What the portal's dashboard calls on each load.
      const answers = await Promise.all([
        call(t, 'GET', '/me', { token: c.idToken }),
        call(t, 'GET', '/me/api-key', { token: c.idToken }),
        call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, { token: c.idToken }),
        call(t, 'GET', '/me/billing', { token: c.idToken }),
      ]);
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses).toEqual(Array.from({ length: 40 }, () => 200));

    const usage = await call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, { token: c.idToken });
    expect(usage.body).toMatchObject({ days: [{ date: today(), used: 0 }], quota: { limit: 5, used: 0, remaining: 5 } });
    expect(await countedToday(t, c.keyId)).toBe(0);

    // The meter itself works: one data API call is one request used.
    expect((await call(t, 'GET', '/links', { token: c.idToken, key: c.key })).status).toBe(200);
    const after = await call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, { token: c.idToken });
    expect(after.body).toMatchObject({ days: [{ date: today(), used: 1 }], quota: { used: 1, remaining: 4 } });
  }, 60_000);

  it('keeps the data API behind the token and the caller\'s own key: a stolen key is refused', async () => {
    const [a, b]: [User, User] = await Promise.all([onboardedUser(t, 'owner'), onboardedUser(t, 'thief')]);

    // No key: the data routes' KeyAuthorizer has X-Api-Key as identity source, so API Gateway answers 401 unasked.
    expect(await call(t, 'GET', '/links', { token: b.idToken })).toEqual({ status: 401, body: { message: 'Unauthorized' }, errorType: 'UnauthorizedException' });
    // The function, not an authorizer, refuses a missing token: its JSON error body, no x-amzn-ErrorType.
    expect(await call(t, 'GET', '/links', { key: a.key })).toEqual({ status: 401, body: { message: 'Unauthorized', code: 'Unauthorized', requestId: expect.any(String) }, errorType: null });
    const stolen = await call(t, 'GET', '/links', { token: b.idToken, key: a.key });
    expect(stolen).toMatchObject({ status: 403, body: { message: 'The API key does not belong to the signed-in user' } });
    expect((await call(t, 'POST', '/tags', { token: b.idToken, key: a.key, body: { name: 'mine-now' } })).status).toBe(403);
    expect((await call(t, 'GET', '/links', { token: a.idToken, key: a.key })).status).toBe(200);

    // On account management a key sent along is ignored: Bob's token with Alice's key is still only Bob's account.
    const usage = await call(t, 'GET', `/me/usage?from=${today()}&to=${today()}`, { token: b.idToken, key: a.key });
    expect({ status: usage.status, keyId: usage.body.keyId }).toEqual({ status: 200, keyId: b.keyId });
    const key = await call(t, 'GET', '/me/api-key', { token: b.idToken, key: a.key });
    expect({ status: key.status, id: key.body.id }).toEqual({ status: 200, id: b.keyId });
    // API Gateway counted the stolen key's refused requests and the one without a token (the handler refuses them after
    // the gateway admits the key; the data methods have no authorizer to stop a missing token earlier).
    expect(await countedToday(t, a.keyId)).toBe(4);
  }, 60_000);
});

describe('the stage throttle on account management', () => {
  let t: TestStack;

  beforeAll(async () => {
    // A burst of 2 that refills one request per 100 s: however slow the machine, no token comes back during the test.
    t = await startTestStack({ parameterOverrides: { AccountRateLimit: '0.01', AccountBurstLimit: '2', FreeRateLimit: '1000', FreeBurstLimit: '1000' } });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 past the burst on every /me* route, one bucket per route shared by all callers; the data API and the quota untouched', async () => {
    const [a, b] = await Promise.all([onboardedUser(t, 'throttle-a'), onboardedUser(t, 'throttle-b')]);

    // Two customers at once on GET /me: one bucket of 2 for both of them.
    const both = await Promise.all([a, b, a, b, a, b].map((u) => call(t, 'GET', '/me', { token: u.idToken })));
    expect(both.map((x) => x.status).sort()).toEqual([200, 200, 429, 429, 429, 429]);
    expect(both.find((x) => x.status === 429)).toEqual({ status: 429, body: { message: 'Too Many Requests' }, errorType: 'TooManyRequestsException' });
    // The data API has no stage throttle: the customer's own plan limits it, not the account routes' bucket.
    const links = await Promise.all(Array.from({ length: 5 }, () => call(t, 'GET', '/links', { token: a.idToken, key: a.key })));
    expect(links.map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);

    // Every other /me* route has a bucket of its own. Without a token: the throttle comes before the authorizer.
    const perRoute = await Promise.all(
      THE_ROUTES.filter(([, path]) => path !== '/me').map(async ([method, path]) => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => call(t, method, path)));
        return `${method} ${path}: ${answers.map((x) => x.status).sort().join(' ')}`;
      }),
    );
    expect(perRoute).toEqual(THE_ROUTES.filter(([, path]) => path !== '/me').map(([method, path]) => `${method} ${path}: 401 401 429 429`));

    // Only the data API calls were metered; throttled account calls were not.
    expect(await countedToday(t, a.keyId)).toBe(5);
    expect(await countedToday(t, b.keyId)).toBe(0);
  }, 60_000);
});
