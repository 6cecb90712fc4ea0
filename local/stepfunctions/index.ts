/**
 * Offline AWS Step Functions: the Step Functions API over AWS JSON 1.0 (see ./api.ts), executing the template's
 * state machines with `aws-local-stepfunctions`, every Task bridged to the local endpoints (./bridge.ts), with
 * AWS-shaped execution history (./history.ts) persisted under `<dir>/stepfunctions/` (./store.ts).
 * Files as in moto: ./machines.ts the registry, ./executions.ts the execution lifecycle, ./responses.ts the
 * operations and their wire shapes; this file wires them together.
 *
 * Semantics reproduced (Standard workflows):
 * - StartExecution: `name` optional (a UUID by default), 1–80 characters, none of whitespace, `< > { } [ ] ? * " #
 *   % \ ^ | ~ \` $ & , ; : /` or control characters (InvalidName). Same name and same input while the execution is
 *   RUNNING → the same executionArn and startDate (idempotent); a different input while running, or any input once
 *   it has closed → ExecutionAlreadyExists, until 90 days after it closed. The input must be JSON
 *   (InvalidExecutionInput) of at most 256 KiB (ValidationException). Execution ARN:
 *   `arn:aws:states:<region>:<account>:execution:<machineName>:<name>`.
 * - History quota: 25,000 events per execution (`maxHistoryEvents`); the last slot is kept for ExecutionSucceeded,
 *   anything else there fails the execution with States.Runtime, as in AWS (see MAX_HISTORY_EVENTS in ./history.ts).
 * - EXPRESS machines are run the same way (their executions can be described, unlike in AWS).
 *
 * Restarts: every execution, with its history, is persisted as it changes. An execution that was RUNNING when the
 * process stopped (crash, or `close()`, which does not wait for executions) is re-run FROM THE START with the
 * same input when the service is created again on the same directory. The project's workflows are written to be
 * repeat-safe (conditional writes, find-or-create), so this is equivalent to AWS finishing them. The re-run is
 * visible in the history as an `ExecutionRedriven` event (redriveCount + 1) followed by the new attempt's events,
 * and in DescribeExecution's `redriveCount` / `redriveDate`.
 *
 * Context object: `$$.Execution.Id/Name/Input/StartTime/RoleArn/RedriveCount`, `$$.StateMachine.Id/Name`,
 * `$$.State.Name` (substituted per state, see ./definition.ts), `$$.State.EnteredTime` (the time it is read,
 * i.e. when the state's input is processed), `$$.State.RetryCount` (always 0), `$$.Map.Item.*` (by the library).
 * `$$.Execution.StartTime` is pinned to the execution's startDate in every payload template (see pinStartTime in
 * ./definition.ts): the library would set it when each run begins, and a re-run after a restart must see the same
 * StartTime as the first attempt — as in AWS, where it never changes — or ids derived from it (billing entries)
 * would differ between attempts.
 */
import type { Endpoints, Listener, StateMachineSpec } from '../types.ts';
import { createListener } from './api.ts';
import { TaskBridge, type TaskIam } from './bridge.ts';
import { createExecutionEngine, type ExecutionEngine } from './executions.ts';
import type { TaskFaultHook } from './faults.ts';
import { MAX_HISTORY_EVENTS } from './history.ts';
import { MachineRegistry } from './machines.ts';
import { createOperations } from './responses.ts';
import { ExecutionStore } from './store.ts';
import type { ExecutionDescription, StartExecutionResult } from './types.ts';

export type { ExecutionDescription, ExecutionRecord, ExecutionStatus, StartExecutionResult } from './types.ts';
export { isValidExecutionName } from './executions.ts';
export { TaskFaultInjector, type TaskCall, type TaskFault, type TaskFaultHook, type TaskHold } from './faults.ts';

export interface StepFunctionsServiceOptions {
  /** State is persisted under `<dir>/stepfunctions/`. */
  dir: string;
  stateMachines: StateMachineSpec[];
  endpoints: Partial<Endpoints>;
  region: string;
  accountId: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  log?: (line: string) => void;
  /** Multiplies every Retry pause (e.g. 0.01 in tests). Default 1. */
  retryIntervalScale?: number;
  /**
   * Re-run executions left RUNNING by a previous process as soon as the service is created (default), or only
   * when `resumeInterrupted()` is called (`'manual'`, e.g. once the other local services are listening).
   */
  resume?: 'auto' | 'manual';
  /** Test only: asked before every Task call; may fail it with a given error or hold it (see ./faults.ts). */
  faults?: TaskFaultHook;
  /** Offline IAM: tasks act as their state machine's execution role (local/iam/tasks.ts). */
  iam?: TaskIam;
  /**
   * The history quota per execution (default 25,000, AWS's hard quota; see MAX_HISTORY_EVENTS in ./history.ts):
   * an execution whose next event would be number `maxHistoryEvents` and is not its end fails with States.Runtime.
   * Tests lower it to reach the quota quickly.
   */
  maxHistoryEvents?: number;
}

export interface StepFunctionsService {
  /** The HTTP handler of the Step Functions API (AWS JSON 1.0). */
  listener: Listener;
  /**
   * Stops accepting requests (503), aborts running executions WITHOUT closing them (they stay RUNNING on disk and
   * are re-run from the start by the next service created on the same directory), destroys the SDK clients and
   * flushes every pending write. Pending `waitForExecution` calls reject.
   */
  close(): Promise<void>;
  /** Resolves with DescribeExecution's answer once the execution is no longer RUNNING. */
  waitForExecution(executionArn: string, timeoutMs?: number): Promise<ExecutionDescription>;
  /** StartExecution in-process (same rules and errors as the API). */
  startExecution(req: { stateMachineArn: string; name?: string; input?: string }): Promise<StartExecutionResult>;
  /** DescribeExecution in-process; throws ExecutionDoesNotExist. */
  describeExecution(executionArn: string): ExecutionDescription;
  /** Re-runs executions left RUNNING by a previous process (see `resume`); returns how many were started. */
  resumeInterrupted(): number;
}

export async function createStepFunctionsService(opts: StepFunctionsServiceOptions): Promise<StepFunctionsService> {
  const log = opts.log ?? (() => {});
  const scale = opts.retryIntervalScale ?? 1;
  if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error('retryIntervalScale must be a finite number >= 0');
  const maxEvents = opts.maxHistoryEvents ?? MAX_HISTORY_EVENTS;
  if (!Number.isInteger(maxEvents) || maxEvents < 2) throw new Error('maxHistoryEvents must be an integer >= 2');
  const store = new ExecutionStore(opts.dir, log);
  await store.init();

  // The bridge runs Tasks that start or await executions (states:startExecution.sync) on the engine created below.
  const engine = (): ExecutionEngine => executions;
  const bridge = new TaskBridge({
    endpoints: opts.endpoints,
    region: opts.region,
    credentials: opts.credentials,
    stepFunctions: {
      startExecution: (req) => engine().start(req),
      waitForExecution: (arn, timeoutMs) => engine().wait(arn, timeoutMs),
    },
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.iam ? { iam: opts.iam } : {}),
  });
  const registry = new MachineRegistry(opts.stateMachines, bridge, { region: opts.region, accountId: opts.accountId, retryIntervalScale: scale, log });
  const executions = createExecutionEngine({ registry, bridge, store, region: opts.region, accountId: opts.accountId, maxHistoryEvents: maxEvents, log });

  await executions.load();
  if ((opts.resume ?? 'auto') === 'auto') executions.resumeInterrupted();

  const listener = createListener({ operations: createOperations(registry, executions), log, isClosing: () => executions.closing });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await executions.close();
      bridge.destroy();
    })();
    return closed;
  };

  return {
    listener,
    close,
    waitForExecution: (arn, timeoutMs) => executions.wait(arn, timeoutMs),
    startExecution: (req) => executions.start(req),
    describeExecution: (arn) => executions.describe(arn),
    resumeInterrupted: () => executions.resumeInterrupted(),
  };
}
