/**
 * Plans and billing on the offline stack: plan changes through the workflow change the limits the gateway enforces,
 * exactly once per Idempotency-Key, and concurrent changes leave one plan and a consistent ledger; key rotation;
 * period close writes one statement per account, however often it runs.
 */
import { GetApiKeyCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { signIn, signUpAndOnboard, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;

beforeAll(async () => {
  // Free and basic: a burst of 5, so 20 at once must see 429s; pro: room for 20 at once.
  t = await startTestStack({
    parameterOverrides: { FreeRateLimit: '5', FreeBurstLimit: '5', BasicRateLimit: '5', BasicBurstLimit: '5', ProRateLimit: '1000', ProBurstLimit: '1000' },
  });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

interface Customer {
  email: string;
  userId: string;
  apiKeyId: string;
  key: string;
  token: string;
}

async function customer(prefix: string): Promise<Customer> {
  const email = uniqueEmail(prefix);
  const { userId, execution } = await signUpAndOnboard(t, email);
  expect(execution.status).toBe('SUCCEEDED');
  const apiKeyId = (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId;
  const key = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }))).value as string;
  const { idToken } = await signIn(t, email);
  return { email, userId, apiKeyId, key, token: idToken };
}

function call(c: Customer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${t.stack.apiUrl}${path}`, {
    method,
    headers: { Authorization: c.token, 'x-api-key': c.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Statuses of n simultaneous GET /links. */
async function burst(c: Customer, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => call(c, 'GET', '/links').then((r) => r.status)));
}

async function changePlan(c: Customer, plan: string, idempotencyKey = randomUUID()): Promise<{ executionId: string; status: string }> {
  const response = await call(c, 'POST', '/me/plan', { plan }, { 'Idempotency-Key': idempotencyKey });
  expect(response.status).toBe(202);
  return (await response.json()) as { executionId: string; status: string };
}

function planChangeArn(executionId: string): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
  return `${machine.arn.replace(':stateMachine:', ':execution:')}:${executionId}`;
}

async function ledger(userId: string): Promise<Record<string, { S?: string; N?: string }>[]> {
  const table = t.stack.model.tables.find((x) => x.logicalId === 'BillingTable')!.name;
  const result = await t.clients.dynamodb.send(
    new QueryCommand({ TableName: table, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } }, ConsistentRead: true }),
  );
  return (result.Items ?? []) as Record<string, { S?: string; N?: string }>[];
}

async function plansHoldingKey(keyId: string): Promise<string[]> {
  const plans = await t.clients.apigateway.send(new GetUsagePlansCommand({ keyId }));
  return (plans.items ?? []).map((p) => p.name as string).sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('plan changes', () => {
  it('upgrade free→pro raises the limits the gateway enforces at once; downgrade lowers them again', async () => {
    const c = await customer('upgrade');
    expect(await burst(c, 20)).toContain(429);
    await sleep(1100); // refill the free plan's bucket (rate 5/s, burst 5) so the POST itself is not throttled

    const upgrade = await changePlan(c, 'pro');
    const done = await waitForExecution(t, planChangeArn(upgrade.executionId));
    expect({ status: done.status, error: done.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    expect(await plansHoldingKey(c.apiKeyId)).toEqual(['tollgate-pro']);

    await sleep(1100); // let the old bucket's state not matter: a fresh second
    expect(await burst(c, 20)).toEqual(Array(20).fill(200));
    const me = (await (await call(c, 'GET', '/me')).json()) as { plan: string };
    expect(me.plan).toBe('pro');

    const status = (await (await call(c, 'GET', `/me/plan-changes/${upgrade.executionId}`)).json()) as { status: string; outcome?: { fromPlan: string; toPlan: string } };
    expect(status).toMatchObject({ status: 'SUCCEEDED', outcome: { fromPlan: 'free', toPlan: 'pro' } });

    const downgrade = await changePlan(c, 'free');
    expect((await waitForExecution(t, planChangeArn(downgrade.executionId))).status).toBe('SUCCEEDED');
    expect(await plansHoldingKey(c.apiKeyId)).toEqual(['tollgate-free']);
    await sleep(1100);
    expect(await burst(c, 20)).toContain(429);

    const entries = await ledger(c.userId);
    expect(entries.map((e) => e.type?.S)).toEqual(['PLAN_STARTED', 'PLAN_CHANGED', 'PLAN_CHANGED']);
    expect(entries.slice(1).map((e) => [e.fromPlan?.S, e.toPlan?.S])).toEqual([['free', 'pro'], ['pro', 'free']]);
  }, 60_000);

  it('a repeated POST /me/plan with the same Idempotency-Key returns the same execution and starts nothing new', async () => {
    const c = await customer('idem');
    const key = randomUUID();
    const first = await changePlan(c, 'basic', key);
    const second = await changePlan(c, 'basic', key);
    expect(second.executionId).toBe(first.executionId);
    await waitForExecution(t, planChangeArn(first.executionId));
    const third = await changePlan(c, 'basic', key); // after it finished: still the same one, nothing new
    expect(third.executionId).toBe(first.executionId);

    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
    const executions = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine.arn }));
    expect(executions.executions?.filter((e) => e.name === first.executionId)).toHaveLength(1);
    expect((await ledger(c.userId)).filter((e) => e.type?.S === 'PLAN_CHANGED')).toHaveLength(1);
  }, 60_000);

  it('two different concurrent changes leave exactly one plan on the key and a ledger that matches the account', async () => {
    const c = await customer('race');
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
    // Straight to the workflow, as `aws stepfunctions start-execution` would, so both really run at once.
    const started = await Promise.all(
      ['basic', 'pro'].map((plan) =>
        t.clients.sfn.send(new StartExecutionCommand({ stateMachineArn: machine.arn, name: `race-${plan}-${c.userId}`, input: JSON.stringify({ userId: c.userId, plan, requestId: plan }) })),
      ),
    );
    const results = await Promise.all(started.map((s) => waitForExecution(t, s.executionArn as string, { expect: ['SUCCEEDED', 'FAILED'] })));
    const succeeded = results.filter((r) => r.status === 'SUCCEEDED');
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    for (const failed of results.filter((r) => r.status !== 'SUCCEEDED')) expect(failed.error).toBe('PlanChange.ConcurrentChange');

    const table = t.stack.model.tables.find((x) => x.logicalId === 'AccountsTable')!.name;
    const account = (await t.clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { userId: { S: c.userId } }, ConsistentRead: true }))).Item!;
    expect(account.pendingPlanChange).toBeUndefined();
    expect(await plansHoldingKey(c.apiKeyId)).toEqual([`tollgate-${account.plan?.S}`]);
    const changes = (await ledger(c.userId)).filter((e) => e.type?.S === 'PLAN_CHANGED');
    expect(changes).toHaveLength(succeeded.length);
    expect(changes.at(-1)?.toPlan?.S).toBe(account.plan?.S);
  }, 60_000);

  it('refuses a change to the current plan or an unknown plan with a clear 4xx', async () => {
    const c = await customer('same');
    const same = await call(c, 'POST', '/me/plan', { plan: 'free' });
    expect(same.status).toBe(409);
    const unknown = await call(c, 'POST', '/me/plan', { plan: 'platinum' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/plan/);
  }, 30_000);
});

describe('self-service', () => {
  it('shows the caller its own key and rotation invalidates the old one', async () => {
    const c = await customer('rotate');
    const shown = (await (await call(c, 'GET', '/me/api-key?reveal=true')).json()) as { id: string; value: string };
    expect(shown).toMatchObject({ id: c.apiKeyId, value: c.key });
    // Without reveal: the id only, from the account record.
    expect(await (await call(c, 'GET', '/me/api-key')).json()).toEqual({ id: c.apiKeyId, plan: 'free' });
    // With the ID token alone (no key): the way back after a rotation whose answer was lost.
    const tokenOnly = await fetch(`${t.stack.apiUrl}/me/api-key`, { headers: { Authorization: c.token } });
    expect(tokenOnly.status).toBe(200);

    const rotated = await call(c, 'POST', '/me/api-key/rotate', undefined, { 'Idempotency-Key': randomUUID() });
    expect(rotated.status).toBe(200);
    const fresh = (await rotated.json()) as { id: string; value: string; previousKeyId: string };
    expect(fresh.previousKeyId).toBe(c.apiKeyId);
    expect(fresh.id).not.toBe(c.apiKeyId);

    expect((await call(c, 'GET', '/links')).status).toBe(403); // old key
    const withNew: Customer = { ...c, key: fresh.value };
    expect((await call(withNew, 'GET', '/links')).status).toBe(200);
    const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
    expect(user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value).toBe(fresh.id);
    expect(await plansHoldingKey(fresh.id)).toEqual(['tollgate-free']);
    const afterRotation = (await (await fetch(`${t.stack.apiUrl}/me/api-key`, { headers: { Authorization: c.token } })).json()) as { id: string };
    expect(afterRotation.id).toBe(fresh.id);
  }, 30_000);

  it('reports usage and billing for the caller', async () => {
    const c = await customer('usage');
    await call(c, 'GET', '/links');
    const today = new Date().toISOString().slice(0, 10);
    const usage = (await (await call(c, 'GET', `/me/usage?from=${today}&to=${today}`)).json()) as { days: { date: string; used: number }[]; quota: { used: number; remaining: number } };
    // GET /links only: account management (/me*) needs no key, so this GET /me/usage is not metered.
    expect(usage.days).toEqual([{ date: today, used: 1 }]);
    expect(usage.quota.used).toBe(1);
    const bad = await call(c, 'GET', '/me/usage?from=yesterday&to=2020-01-01');
    expect(bad.status).toBe(400);

    const billing = (await (await call(c, 'GET', '/me/billing')).json()) as { ledger: { type: string }[]; statement: { totalCents: number; currency: string } };
    expect(billing.ledger.map((e) => e.type)).toEqual(['PLAN_STARTED']);
    expect(billing.statement).toMatchObject({ totalCents: 0, currency: 'USD' });
  }, 30_000);
});

describe('period close', () => {
  it('writes one statement per account and period, however often it runs', async () => {
    const a = await customer('close-a');
    const b = await customer('close-b');
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'BillingCloseStateMachine')!;
    // The month that just ended: the current one cannot be closed (Billing.PeriodNotEnded, tests/integration/billing-close.test.ts).
    const now = new Date();
    const period = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    for (const run of [1, 2]) {
      const started = await t.clients.sfn.send(new StartExecutionCommand({ stateMachineArn: machine.arn, name: `close-${period}-${run}-${randomUUID().slice(0, 8)}`, input: JSON.stringify({ period }) }));
      const done = await waitForExecution(t, started.executionArn as string, 30_000);
      expect({ status: done.status, error: done.error, cause: done.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    }
    for (const c of [a, b]) {
      const statements = (await ledger(c.userId)).filter((e) => e.type?.S === 'STATEMENT');
      expect(statements).toHaveLength(1);
      expect(statements[0]?.period?.S).toBe(period);
    }
  }, 60_000);
});
