/**
 * The bench's offline stacks and users, built from the integration-test helpers (local/harness/stack.ts): a stack on
 * free ports in a fresh temp dir, a user signed up, confirmed, onboarded and signed in, and the execution history
 * reads the onboarding and cost sections share.
 */
import { ListExecutionsCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { LocalStackOptions } from '../local/stack.ts';
import { onboardCustomer, startTestStack, type Customer, type TestStack } from '../local/harness/stack.ts';

export { executionHistory } from '../local/harness/stack.ts';
import { sleep } from './util.ts';

/** A stack for the bench: logs discarded (nothing per request), the given options on top. */
export function startBenchStack(opts: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  return startTestStack({ log: () => undefined, ...opts });
}

/** A customer signed up, confirmed, onboarded and signed in, with their key (the integration tests' own helper). */
export type BenchUser = Customer;
export const onboardUser = onboardCustomer;

export function stateMachineArn(t: TestStack, logicalId: string): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === logicalId);
  if (!machine) throw new Error(`no state machine ${logicalId} in the template`);
  return machine.arn;
}

export async function listExecutions(t: TestStack, machineArn: string, statusFilter?: 'RUNNING') {
  const out: { name: string; executionArn: string; status: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn, maxResults: 1000, nextToken, ...(statusFilter ? { statusFilter } : {}) }));
    for (const e of page.executions ?? []) out.push({ name: e.name as string, executionArn: e.executionArn as string, status: e.status as string });
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/** Waits (at most `timeoutMs`) until no execution of any state machine of the stack is RUNNING; returns how many still are. */
export async function waitForIdle(t: TestStack, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let running = 0;
    for (const m of t.stack.model.stateMachines) running += (await listExecutions(t, m.arn, 'RUNNING')).length;
    if (running === 0 || Date.now() > deadline) return running;
    await sleep(100);
  }
}


export interface TransitionCount {
  /** *StateEntered events: the states the execution went through. */
  stateEntered: number;
  /** Task attempts that failed and were retried (TaskFailed followed by a new TaskScheduled). */
  retries: number;
  /** Of those, retries of ApiGateway.TooManyRequestsException (CreateApiKey's 5/s account limit, among others). */
  throttleRetries: number;
}

/**
 * What AWS bills a Standard workflow for: every state entered, and every retry as one more transition ("each retry
 * will be charged as an additional state transition"). A retried attempt shows in the history as
 * `TaskFailed → TaskScheduled` with no new StateEntered.
 */
export function countTransitions(events: readonly HistoryEvent[]): TransitionCount {
  let stateEntered = 0;
  let retries = 0;
  let throttleRetries = 0;
  events.forEach((e, i) => {
    if (e.type?.endsWith('StateEntered')) stateEntered++;
    if (e.type === 'TaskFailed' && events[i + 1]?.type === 'TaskScheduled') {
      retries++;
      if (e.taskFailedEventDetails?.error === 'ApiGateway.TooManyRequestsException') throttleRetries++;
    }
  });
  return { stateEntered, retries, throttleRetries };
}
