/**
 * The offline stack stopped in the middle of a workflow and started again on the same directory: the execution,
 * still RUNNING on disk, is re-run from the start (history: ExecutionRedriven, redriveCount 1) and completes — no
 * half-onboarded user is left behind silently, and the re-run reuses what the first run made (the key).
 *
 * "Stopped in the middle" is made deterministic with a Task fault hook that holds the call of one state forever; the
 * stack is closed while the execution waits there (close() aborts running executions and leaves them RUNNING).
 *
 * The billing entry ids are `<$$.Execution.StartTime>#<TYPE>#<execution name>`: a re-run must see the execution's
 * original StartTime (as in AWS, where it never changes), or an execution stopped after its billing write would write
 * a second entry. local/stepfunctions pins it; the last two cases prove it.
 */
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';
import { onboardingArn, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';
import {
  accountOf,
  apiIdOf,
  attempts,
  historyOf,
  keysNamed,
  ledgerOf,
  machineArn,
  onboardingExecutionsOf,
  statesEntered,
  usagePlansOfKey,
} from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Restarted {
  /** The second stack, on the same directory, without faults. Closed by the caller. */
  second: TestStack;
  executionArn: string;
  done: DescribeExecutionCommandOutput;
  /** History before and from the ExecutionRedriven event. */
  before: HistoryEvent[];
  after: HistoryEvent[];
}

/**
 * Starts a stack whose Task calls in `state` are held, runs `begin` (which starts the execution and returns its ARN),
 * closes the stack while the execution waits in `state`, starts a second stack on the same directory and waits for
 * the execution there.
 */
async function killAt(state: string, begin: (t: TestStack, faults: TaskFaultInjector) => Promise<string>): Promise<Restarted> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-resilience-restart-'));
  dirs.push(dir);
  const faults = new TaskFaultInjector();
  const first = await startTestStack({ dir, createApiKeyRateLimit: Infinity, faults: { stepFunctions: faults } });
  let executionArn: string;
  try {
    executionArn = await begin(first, faults);
    const running = await first.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(running.status).toBe('RUNNING');
  } finally {
    await first.close();
    faults.clear(); // releases the held call: its service is closed, so it sends nothing
  }

  const second = await startTestStack({ dir, createApiKeyRateLimit: Infinity });
  try {
    const done = await waitForExecution(second, executionArn);
    const events = await historyOf(second, executionArn);
    expect(events.filter((e) => e.type === 'ExecutionRedriven').map((e) => e.executionRedrivenEventDetails?.redriveCount)).toEqual([1]);
    const redrivenAt = events.findIndex((e) => e.type === 'ExecutionRedriven');
    const [before, after] = [events.slice(0, redrivenAt), events.slice(redrivenAt)];
    // The first run got as far as the state it was stopped in, which never finished, and never closed.
    expect(statesEntered(before).at(-1)).toBe(state);
    expect(attempts(before).filter((a) => a.state === state)).toEqual([]);
    expect(before.some((e) => e.type === 'ExecutionSucceeded' || e.type === 'ExecutionFailed')).toBe(false);
    return { second, executionArn, done, before, after };
  } catch (error) {
    await second.close();
    throw error;
  }
}

/** Holds `state`, signs a user up (PostConfirmation starts onboard-<sub>) and waits until the execution is held. */
function onboardingHeldAt(state: string, email: string) {
  return async (t: TestStack, faults: TaskFaultInjector): Promise<string> => {
    const hold = faults.hold(state);
    const userId = await signUpAndConfirm(t, email);
    expect((await hold.reached).stateName).toBe(state);
    return onboardingArn(t, userId);
  };
}

async function expectOnboardingCompleted(r: Restarted, email: string): Promise<void> {
  const { second, done, before, after } = r;
  expect({ status: done.status, error: done.error, redriveCount: done.redriveCount }).toEqual({ status: 'SUCCEEDED', error: undefined, redriveCount: 1 });
  expect(done.redriveDate).toBeInstanceOf(Date);
  const { userId, apiKeyId } = JSON.parse(done.output ?? '{}') as { userId: string; apiKeyId: string };

  // The re-run starts over and finds the key the first run created instead of making another (find-or-create).
  expect(statesEntered(after).slice(0, 2)).toEqual(['MarkOnboarding', 'CreateApiKey']);
  const keyIds = (events: typeof before) =>
    attempts(events)
      .filter((a) => a.state === 'CreateApiKey' && a.outcome === 'succeeded')
      .map((a) => (a.output as { Payload?: { Id?: string } }).Payload?.Id);
  expect(keyIds(before)).toEqual([apiKeyId]);
  expect(keyIds(after)).toEqual([apiKeyId]);
  expect(after.at(-1)?.type).toBe('ExecutionSucceeded');

  expect(await onboardingExecutionsOf(second, userId)).toEqual([{ name: `onboard-${userId}`, status: 'SUCCEEDED' }]);
  expect(await keysNamed(second, userId)).toEqual([apiKeyId]);
  expect(await usagePlansOfKey(second, apiKeyId)).toEqual(['tollgate-free']);
  expect(await apiIdOf(second, email)).toBe(apiKeyId);
  expect(await accountOf(second, userId)).toMatchObject({ status: { S: 'ACTIVE' }, apiKeyId: { S: apiKeyId }, plan: { S: 'free' } });
  expect((await ledgerOf(second, userId)).map((e) => e.type?.S)).toEqual(['PLAN_STARTED']);
}

it('onboarding killed at SetApiIdAttribute (key made and in the plan, no billing yet) is re-run on restart and completes once', async () => {
  const email = uniqueEmail('killed-attr');
  const r = await killAt('SetApiIdAttribute', onboardingHeldAt('SetApiIdAttribute', email));
  try {
    await expectOnboardingCompleted(r, email);
  } finally {
    await r.second.close();
  }
}, 60_000);

it('onboarding killed at MarkActive (billing entry written, not ACTIVE yet) is re-run on restart and completes once', async () => {
  const email = uniqueEmail('killed-active');
  const r = await killAt('MarkActive', onboardingHeldAt('MarkActive', email));
  try {
    await expectOnboardingCompleted(r, email);
    // The re-run sees the execution's original StartTime, so it names the entry the first run wrote and finds it there.
    const userId = r.executionArn.split(':onboard-')[1] as string;
    expect((await ledgerOf(r.second, userId)).map((e) => e.entryId?.S)).toEqual([`${r.done.startDate?.toISOString()}#PLAN_STARTED#onboard-${userId}`]);
    expect(attempts(r.after).filter((a) => a.state === 'RecordPlanStarted').map((a) => a.error)).toEqual(['DynamoDB.ConditionalCheckFailedException']);
  } finally {
    await r.second.close();
  }
}, 60_000);

it('a plan change killed at CommitPlan (key moved, PLAN_CHANGED written) is re-run on restart and completes once', async () => {
  let userId = '';
  let apiKeyId = '';
  const r = await killAt('CommitPlan', async (t, faults) => {
    const email = uniqueEmail('killed-plan');
    userId = await signUpAndConfirm(t, email);
    const onboarded = await waitForExecution(t, onboardingArn(t, userId));
    apiKeyId = (JSON.parse(onboarded.output ?? '{}') as { apiKeyId: string }).apiKeyId;
    const hold = faults.hold('CommitPlan');
    const started = await t.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn(t, 'PlanChangeStateMachine'),
        name: `plan-change-${randomUUID()}`,
        input: JSON.stringify({ userId, plan: 'pro', requestId: randomUUID() }),
      }),
    );
    expect((await hold.reached).stateName).toBe('CommitPlan');
    return started.executionArn as string;
  });
  try {
    expect({ status: r.done.status, error: r.done.error, redriveCount: r.done.redriveCount }).toEqual({ status: 'SUCCEEDED', error: undefined, redriveCount: 1 });
    expect(await usagePlansOfKey(r.second, apiKeyId)).toEqual(['tollgate-pro']);
    const account = await accountOf(r.second, userId);
    expect(account?.plan?.S).toBe('pro');
    expect(account?.pendingPlanChange).toBeUndefined();
    const changed = (await ledgerOf(r.second, userId)).filter((e) => e.type?.S === 'PLAN_CHANGED').map((e) => e.entryId?.S);
    expect(changed).toEqual([`${r.done.startDate?.toISOString()}#PLAN_CHANGED#${r.executionArn.split(':').at(-1)}`]);
    expect(attempts(r.after).filter((a) => a.state === 'RecordPlanChanged').map((a) => a.error)).toEqual(['DynamoDB.ConditionalCheckFailedException']);
    expect((await ledgerOf(r.second, userId)).map((e) => e.type?.S)).toEqual(['PLAN_STARTED', 'PLAN_CHANGED']);
  } finally {
    await r.second.close();
  }
}, 60_000);
