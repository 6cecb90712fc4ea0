/**
 * Usage, statements and a rolled-back plan change work the same in both key modes (template parameter KeyMode),
 * through one suite: the offline stack from template.yaml with KeyMode ApiGateway (usage plans count) or SelfIssued
 * (KeyAuthorizerFunction's own counters in the SelfIssuedKeys table count). Customers sign up for real and call the
 * data API with their key; what GET /me/usage, the month's statement and the plan-change workflow's rollback show is
 * what the gateway (or the authorizer) enforced.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { makeHandler } from '../../functions/key-authorizer/handler.ts';
import type { Plan } from '../../functions/shared/plans.ts';
import { hashKey } from '../../functions/shared/self-issued-keys.ts';
import { selfIssuedKeysStore } from '../../functions/shared/tables/self-issued-keys.ts';
import { KEY_MODES } from '../../local/harness/key-modes.ts';
import { onboardCustomer, startTestStack, waitForExecution, type ClosedStatus, type Customer, type TestStack } from '../../local/harness/stack.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';
import { accountOf, historyOf, ledgerOf, machineArn, stateInput, statesEntered, tableName, usagePlansOfKey } from '../resilience/helpers.ts';

// Each test signs customers up through Cognito and the onboarding workflow: seconds, more on a loaded machine.
jest.setTimeout(90_000);

const FREE_QUOTA = 6;
const BASIC_QUOTA = 9;
const DAY_MS = 86_400_000;
const day = (at: number): string => new Date(at).toISOString().slice(0, 10);

interface UsageAnswer {
  keyId: string;
  plan: string;
  from: string;
  to: string;
  days: { date: string; used: number }[];
  quota: { limit: number; period: string; periodStart: string; resetsAt: string; used: number; remaining: number };
}

describe.each(KEY_MODES)('KeyMode %s', (mode) => {
  const taskFaults = new TaskFaultInjector();
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({
      createApiKeyRateLimit: Infinity,
      managementApiLimits: 'off',
      faults: { stepFunctions: taskFaults },
      parameterOverrides: {
        DataApiAuth: 'ApiKey',
        KeyMode: mode,
        // A generous throttle so that it is the quota that bites; usage read through (ApiGateway: no 60 s snapshot).
        FreeQuotaLimit: String(FREE_QUOTA),
        FreeRateLimit: '100',
        FreeBurstLimit: '100',
        BasicQuotaLimit: String(BASIC_QUOTA),
        BasicRateLimit: '100',
        BasicBurstLimit: '100',
        UsageFreshnessSeconds: '0',
      },
    });
  }, 120_000);
  afterEach(() => taskFaults.clear());
  afterAll(async () => {
    await t?.close();
  });

  /** `n` data API calls with the key, one after another: their statuses. */
  async function callData(c: Customer, n: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < n; i += 1) statuses.push((await fetch(`${t.stack.apiUrl}/tags`, { headers: { 'X-Api-Key': c.keyValue } })).status);
    return statuses;
  }
  const refused = mode === 'SelfIssued' ? 403 : 429; // a Lambda authorizer cannot answer 429 (README "Key modes")

  async function usage(c: Customer, from: string, to: string): Promise<UsageAnswer> {
    const res = await fetch(`${t.stack.apiUrl}/me/usage?from=${from}&to=${to}`, { headers: { Authorization: c.idToken } });
    expect(res.status).toBe(200);
    return (await res.json()) as UsageAnswer;
  }

  /** The key's plan where this mode meters by it: its usage plan (ApiGateway), or the key slot and key record (SelfIssued). */
  async function meteredPlans(c: Customer): Promise<string[]> {
    if (mode === 'ApiGateway') return (await usagePlansOfKey(t, c.keyId)).map((name) => name.replace(/^tollgate-/, ''));
    const get = async (pk: string) =>
      (await t.clients.dynamodb.send(new GetItemCommand({ TableName: tableName(t, 'SelfIssuedKeysTable'), Key: { pk: { S: pk } }, ConsistentRead: true }))).Item?.plan?.S;
    return [`slot ${await get(`CUSTOMER#${c.userId}`)}`, `key ${await get(`KEY#${hashKey(c.keyValue)}`)}`];
  }
  const onPlan = (plan: string): string[] => (mode === 'ApiGateway' ? [plan] : [`slot ${plan}`, `key ${plan}`]);

  async function statementsOf(userId: string): Promise<{ period?: string; requests?: string }[]> {
    return (await ledgerOf(t, userId)).filter((e) => e.type?.S === 'STATEMENT').map((e) => ({ period: e.period?.S, requests: e.requests?.N }));
  }

  it('GET /me/usage after N calls: the day counts them, quota used / remaining / limit are what is enforced', async () => {
    const c = await onboardCustomer(t, `usage-${mode}`);
    const today = day(Date.now());
    const from = day(Date.now() - 2 * DAY_MS);
    expect(await callData(c, 4)).toEqual([200, 200, 200, 200]);

    const after4 = await usage(c, from, today);
    expect(after4).toEqual({
      keyId: c.keyId,
      plan: 'free',
      from,
      to: today,
      days: [
        { date: from, used: 0 },
        { date: day(Date.now() - DAY_MS), used: 0 },
        { date: today, used: 4 },
      ],
      quota: { limit: FREE_QUOTA, period: 'MONTH', periodStart: `${today.slice(0, 7)}-01`, resetsAt: expect.any(String), used: 4, remaining: FREE_QUOTA - 4 },
    });

    // The remaining is exactly what the gateway (or authorizer) still admits: 2 more, then refused.
    expect(await callData(c, 4)).toEqual([200, 200, refused, refused]);
    const spent = await usage(c, today, today);
    expect(spent.days).toEqual([{ date: today, used: FREE_QUOTA }]);
    expect(spent.quota).toMatchObject({ limit: FREE_QUOTA, used: FREE_QUOTA, remaining: 0 });
  });

  it("the month's statement bills the calls made (the final statement of an account closed now: the close's own computation)", async () => {
    const c = await onboardCustomer(t, `stmt-${mode}`);
    expect(await callData(c, 3)).toEqual([200, 200, 200]);
    const res = await fetch(`${t.stack.apiUrl}/me`, { method: 'DELETE', headers: { Authorization: c.idToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ confirm: c.email }) });
    expect(res.status).toBe(202);
    const execution = await waitForExecution(t, `${machineArn(t, 'OffboardingStateMachine').replace(':stateMachine:', ':execution:')}:offboard-${c.userId}`, 30_000);
    expect(execution.status).toBe('SUCCEEDED');
    expect(await statementsOf(c.userId)).toContainEqual({ period: day(Date.now()).slice(0, 7), requests: '3' });
  });

  // The close bills ended months only; offline API Gateway counts usage at the real date, so only the self-issued
  // counters can hold requests of last month: the authorizer's own code, run with last month's clock, counts them.
  (mode === 'SelfIssued' ? it : it.skip)('the billing close bills the requests the counters hold for the closed month', async () => {
    const c = await onboardCustomer(t, `close-${mode}`);
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 15, 12));
    const free: Plan = { name: 'free', monthlyPrice: 0, currency: 'USD', rateLimit: 100, burstLimit: 100, quotaLimit: FREE_QUOTA, quotaPeriod: 'MONTH' };
    const store = selfIssuedKeysStore(tableName(t, 'SelfIssuedKeysTable'), DynamoDBDocumentClient.from(t.clients.dynamodb));
    const authorize = makeHandler({ store, catalog: () => [free], now: () => lastMonth });
    const event = { type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:000000000000:api/v1/GET/tags', headers: { 'X-Api-Key': c.keyValue } };
    for (let i = 0; i < 5; i += 1) await authorize(event as unknown as APIGatewayRequestAuthorizerEvent);
    expect(await callData(c, 2)).toEqual([200, 200]); // this month's: not billed with last month

    const period = lastMonth.toISOString().slice(0, 7);
    const started = await t.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn(t, 'BillingCloseStateMachine'), name: `close-${period}-${randomUUID().slice(0, 8)}`, input: JSON.stringify({ period }) }),
    );
    const done = await waitForExecution(t, started.executionArn as string, 60_000);
    expect({ status: done.status, error: done.error, cause: done.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    expect(await statementsOf(c.userId)).toEqual([{ period, requests: '5' }]);
    // GET /me/usage sees both months the same way.
    const spread = await usage(c, day(lastMonth.getTime()), day(now.getTime()));
    expect(spread.days[0]).toEqual({ date: day(lastMonth.getTime()), used: 5 });
    expect(spread.quota.used).toBe(2);
  });

  it('a plan change rolled back after its attach leaves the key on the old plan in full; without the fault it goes through', async () => {
    const c = await onboardCustomer(t, `rollback-${mode}`);
    // After the attach to the target plan: the PLAN_CHANGED entry cannot be written, so the workflow rolls back.
    taskFaults.inject('RecordPlanChanged', 'DynamoDB.ResourceNotFoundException', 1);
    const change = async (expected: ClosedStatus) => {
      const started = await t.clients.sfn.send(
        new StartExecutionCommand({ stateMachineArn: machineArn(t, 'PlanChangeStateMachine'), name: `plan-change-${randomUUID()}`, input: JSON.stringify({ userId: c.userId, plan: 'basic', requestId: randomUUID() }) }),
      );
      const done = await waitForExecution(t, started.executionArn as string, { expect: [expected] });
      return { done, events: await historyOf(t, started.executionArn as string) };
    };
    const failed = await change('FAILED');
    expect({ status: failed.done.status, error: failed.done.error }).toEqual({ status: 'FAILED', error: 'DynamoDB.ResourceNotFoundException' });
    const entered = statesEntered(failed.events);
    expect(entered.slice(entered.indexOf('AttachToTargetPlan'))).toEqual(['AttachToTargetPlan', 'RecordPlanChanged', 'DetachFromTargetPlan', 'BillingWritten', 'ReattachCurrentPlan', 'Unlock', 'Failed']);
    expect(stateInput(failed.events, 'Unlock')?.rollback).toBeUndefined();

    // Back on free where the mode meters (usage plan; or key slot and key record), in the account, and as enforced.
    expect(await meteredPlans(c)).toEqual(onPlan('free'));
    expect((await accountOf(t, c.userId))?.plan?.S).toBe('free');
    expect(await callData(c, FREE_QUOTA + 1)).toEqual([...Array<number>(FREE_QUOTA).fill(200), refused]);
    expect((await usage(c, day(Date.now()), day(Date.now()))).quota).toMatchObject({ limit: FREE_QUOTA, used: FREE_QUOTA, remaining: 0 });

    // With the fault gone the change goes through, and the period's usage carries over to basic's quota.
    const retried = await change('SUCCEEDED');
    expect(retried.done.status).toBe('SUCCEEDED');
    expect(await meteredPlans(c)).toEqual(onPlan('basic'));
    expect(await callData(c, BASIC_QUOTA - FREE_QUOTA + 1)).toEqual([...Array<number>(BASIC_QUOTA - FREE_QUOTA).fill(200), refused]);
    expect((await usage(c, day(Date.now()), day(Date.now()))).quota).toMatchObject({ limit: BASIC_QUOTA, used: BASIC_QUOTA, remaining: 0 });
  });
});
