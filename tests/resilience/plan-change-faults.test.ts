/**
 * The plan-change workflow under faults after the key has left its old plan: the key goes back to the old plan (never
 * in no plan, never in two), the account keeps its plan and loses the lock, no PLAN_CHANGED entry stays, and the
 * execution FAILS with the error that caused it. Before the detach, a failure to keep the key's usage (RecordUsage)
 * leaves everything as it was, and a transient one is retried.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { FaultInjector } from '../../local/apigateway/index.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';
import { signIn, signUpAndOnboard, startTestStack, uniqueEmail, waitForExecution, type ClosedStatus, type TestStack } from '../../local/harness/stack.ts';
import { accountOf, attempts, historyOf, ledgerOf, machineArn, plansHolding, stateInput, statesEntered, usagePlansOfKey } from './helpers.ts';

const apigatewayFaults = new FaultInjector();
const taskFaults = new TaskFaultInjector();
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ createApiKeyRateLimit: Infinity, managementApiLimits: 'off', faults: { apigateway: apigatewayFaults, stepFunctions: taskFaults } });
}, 60_000);

afterEach(() => {
  apigatewayFaults.clear();
  taskFaults.clear();
});

afterAll(async () => {
  await t?.close();
});

async function activeCustomer(prefix: string): Promise<{ email: string; userId: string; apiKeyId: string }> {
  const email = uniqueEmail(prefix);
  const { userId, execution } = await signUpAndOnboard(t, email);
  expect(execution.status).toBe('SUCCEEDED');
  return { email, userId, apiKeyId: (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId };
}

async function changePlan(userId: string, plan: string, expect: ClosedStatus = 'SUCCEEDED') {
  const started = await t.clients.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: machineArn(t, 'PlanChangeStateMachine'),
      name: `plan-change-${randomUUID()}`,
      input: JSON.stringify({ userId, plan, requestId: randomUUID() }),
    }),
  );
  const done = await waitForExecution(t, started.executionArn as string, { expect: [expect] });
  return { done, events: await historyOf(t, started.executionArn as string) };
}

const cases: { where: string; inject: () => void; error: string; rollback: string[] }[] = [
  {
    where: 'attaching to the target plan (CreateUsagePlanKey, non-retryable)',
    inject: () => apigatewayFaults.inject('CreateUsagePlanKey', 'BadRequestException', 1),
    error: 'ApiGateway.BadRequestException',
    rollback: ['AttachToTargetPlan', 'ReattachCurrentPlan', 'Unlock', 'Failed'],
  },
  {
    where: 'writing the PLAN_CHANGED entry (after the attach)',
    inject: () => taskFaults.inject('RecordPlanChanged', 'DynamoDB.ResourceNotFoundException', 1),
    error: 'DynamoDB.ResourceNotFoundException',
    rollback: ['RecordPlanChanged', 'DetachFromTargetPlan', 'BillingWritten', 'ReattachCurrentPlan', 'Unlock', 'Failed'],
  },
  {
    where: 'committing the plan (after the entry was written; throttled beyond MaxAttempts)',
    inject: () => taskFaults.inject('CommitPlan', 'DynamoDB.ThrottlingException', 7),
    error: 'DynamoDB.ThrottlingException',
    rollback: ['CommitPlan', 'DetachFromTargetPlan', 'BillingWritten', 'RemovePlanChanged', 'ReattachCurrentPlan', 'Unlock', 'Failed'],
  },
];

describe('a plan change failing after the detach', () => {
  it.each(cases)('$where: the old plan is re-attached, plan unchanged, lock released, no PLAN_CHANGED, FAILED', async (c) => {
    const { email, userId, apiKeyId } = await activeCustomer('plan-fault');
    const before = await accountOf(t, userId);
    c.inject();

    const { done, events } = await changePlan(userId, 'pro', 'FAILED');

    expect({ status: done.status, error: done.error }).toEqual({ status: 'FAILED', error: c.error });
    const tries = attempts(events);
    expect(tries.filter((a) => a.state === 'DetachFromCurrentPlan').map((a) => a.outcome)).toEqual(['succeeded']);
    expect(tries.filter((a) => a.state === 'ReattachCurrentPlan').map((a) => a.outcome)).toEqual(['succeeded']);
    const entered = statesEntered(events);
    expect(entered.slice(entered.indexOf(c.rollback[0]!))).toEqual(c.rollback);
    // No rollback step failed (each would be recorded under $.rollback).
    expect(stateInput(events, 'Unlock')?.rollback).toBeUndefined();

    expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-free']);
    expect(await plansHolding(t, apiKeyId)).toEqual(['tollgate-free']);
    const after = await accountOf(t, userId);
    expect(after?.plan?.S).toBe('free');
    expect(after?.status?.S).toBe('ACTIVE');
    expect(after?.version).toEqual(before?.version);
    expect(after?.pendingPlanChange).toBeUndefined();
    expect((await ledgerOf(t, userId)).map((e) => e.type?.S)).toEqual(['PLAN_STARTED']);

    // The key still works through the gateway (it was never left in no plan for good).
    const { idToken } = await signIn(t, email);
    const key = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }))).value as string;
    expect((await fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': key } })).status).toBe(200);

    // And with the fault gone, the same change goes through (the lock was released).
    const retry = await changePlan(userId, 'pro');
    expect(retry.done.status).toBe('SUCCEEDED');
    expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-pro']);
    expect((await ledgerOf(t, userId)).map((e) => e.type?.S)).toEqual(['PLAN_STARTED', 'PLAN_CHANGED']);
  }, 30_000);
});

describe('a plan change failing before the detach: the key\'s usage cannot be kept (RecordUsage)', () => {
  it('retries ApiKey.UsageNotRecorded; any other failure leaves the key and the plan as they were, unlocked, FAILED', async () => {
    const { userId, apiKeyId } = await activeCustomer('record-usage-fault');
    const before = await accountOf(t, userId);

    taskFaults.inject('RecordUsage', 'ApiKey.InvalidEvent', 1);
    const failed = await changePlan(userId, 'basic', 'FAILED');
    expect({ status: failed.done.status, error: failed.done.error }).toEqual({ status: 'FAILED', error: 'ApiKey.InvalidEvent' });
    const entered = statesEntered(failed.events);
    expect(entered.slice(entered.indexOf('RecordUsage'))).toEqual(['RecordUsage', 'Unlock', 'Failed']);
    expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-free']);
    const after = await accountOf(t, userId);
    expect({ plan: after?.plan?.S, version: after?.version, lock: after?.pendingPlanChange }).toEqual({
      plan: 'free',
      version: before?.version,
      lock: undefined,
    });

    // A transient failure to keep the usage is retried, and the change goes through.
    taskFaults.inject('RecordUsage', 'ApiKey.UsageNotRecorded', 1);
    const retried = await changePlan(userId, 'basic');
    expect(retried.done.status).toBe('SUCCEEDED');
    expect(attempts(retried.events).filter((a) => a.state === 'RecordUsage').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-basic']);
    expect(Object.keys((await accountOf(t, userId))?.usageHistory?.M ?? {})).toHaveLength(1);
  }, 30_000);
});
