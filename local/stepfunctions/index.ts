/**
 * Offline AWS Step Functions: the Step Functions API over AWS JSON 1.0 (see ./api.ts), executing the template's
 * state machines with `aws-local-stepfunctions`, every Task bridged to the local endpoints (./bridge.ts), with
 * AWS-shaped execution history (./history.ts) persisted under `<dir>/stepfunctions/` (./store.ts).
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
import { randomUUID } from 'node:crypto';

import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

import type { Endpoints, Listener, StateMachineSpec } from '../types.ts';
import { createListener, decodeToken, encodeToken, optString, pageSize, reqString, type Operation } from './api.ts';
import { describeTask, TaskBridge, type TaskIam } from './bridge.ts';
import { collectTaskStates, pinStartTime, prepareDefinition, type JsonObject, type TaskStateInfo } from './definition.ts';
import { apiErrors, SfnApiError, StatesRuntimeError, TaskError } from './errors.ts';
import type { TaskFaultHook } from './faults.ts';
import { HistoryRecorder, MAX_HISTORY_EVENTS, renderEvent, type LibraryEvent, type TaskDescriptor } from './history.ts';
import { ExecutionStore } from './store.ts';
import type { ExecutionDescription, ExecutionRecord, ExecutionStatus, StartExecutionResult } from './types.ts';

export type { ExecutionDescription, ExecutionRecord, ExecutionStatus, StartExecutionResult } from './types.ts';
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

const NINETY_DAYS_MS = 90 * 24 * 60 * 60 * 1000;
const STATUS_FILTERS = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
const MAX_INPUT_BYTES = 256 * 1024;
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/u;
/** Control characters U+0000–001F and U+007F–009F, also forbidden in names. */
const isControl = (c: string): boolean => {
  const code = c.codePointAt(0)!;
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
};

/** Whether a name is acceptable for an execution (length 1–80, none of the characters AWS forbids). */
export function isValidExecutionName(name: string): boolean {
  const chars = [...name];
  return chars.length >= 1 && chars.length <= 80 && !NAME_FORBIDDEN.test(name) && !chars.some(isControl);
}

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:([^:]*):([^:]*):stateMachine:([^:]+)$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:([^:]*):([^:]*):(execution|express):([^:]+):([^:]+)$/;

function checkArnPrefix(arn: string): void {
  if (!arn.startsWith('arn:')) throw apiErrors.invalidArn(`Invalid ARN prefix: ${arn}`);
}

interface Machine {
  spec: StateMachineSpec;
  name: string;
  arn: string;
  region: string;
  accountId: string;
  roleArn: string;
  creationDate: number;
  runner: StateMachine;
  runtimeDefinition: JsonObject;
  tasks: Map<string, TaskStateInfo>;
  descriptors: Map<string, TaskDescriptor>;
}

interface Run {
  record: ExecutionRecord;
  recorder: HistoryRecorder;
  /** Aborts in-flight task calls and makes their handlers reject at once. */
  controller: AbortController;
  abortExecution: () => void;
  done: Promise<void>;
  /** Set by close(): the execution stays RUNNING and nothing more is recorded. */
  suspended: boolean;
}

interface Waiter {
  resolve: (d: ExecutionDescription) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function describe(rec: ExecutionRecord): ExecutionDescription {
  const d: ExecutionDescription = {
    executionArn: rec.executionArn,
    stateMachineArn: rec.stateMachineArn,
    name: rec.name,
    status: rec.status,
    startDate: new Date(rec.startDate),
    input: rec.input,
    redriveCount: rec.redriveCount,
  };
  if (rec.stopDate !== undefined) d.stopDate = new Date(rec.stopDate);
  if (rec.output !== undefined) d.output = rec.output;
  if (rec.error !== undefined) d.error = rec.error;
  if (rec.cause !== undefined) d.cause = rec.cause;
  return d;
}

export async function createStepFunctionsService(opts: StepFunctionsServiceOptions): Promise<StepFunctionsService> {
  const log = opts.log ?? (() => {});
  const scale = opts.retryIntervalScale ?? 1;
  if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error('retryIntervalScale must be a finite number >= 0');
  const maxEvents = opts.maxHistoryEvents ?? MAX_HISTORY_EVENTS;
  if (!Number.isInteger(maxEvents) || maxEvents < 2) throw new Error('maxHistoryEvents must be an integer >= 2');
  const store = new ExecutionStore(opts.dir, log);
  await store.init();

  const machines = new Map<string, Machine>();
  const executions = new Map<string, ExecutionRecord>();
  const runs = new Map<string, Run>();
  const waiters = new Map<string, Set<Waiter>>();
  const recorders = new Map<string, HistoryRecorder>();
  let closing = false;
  let closed: Promise<void> | undefined;
  const createdAt = Date.now();

  const bridge = new TaskBridge({
    endpoints: opts.endpoints,
    region: opts.region,
    credentials: opts.credentials,
    stepFunctions: {
      startExecution: (req) => startExecution(req),
      waitForExecution: (arn, timeoutMs) => waitForExecution(arn, timeoutMs),
    },
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.iam ? { iam: opts.iam } : {}),
  });

  // ---- state machines ----
  for (const spec of opts.stateMachines) {
    const definition = spec.definition as JsonObject;
    try {
      new StateMachine(definition as unknown as StateMachineDefinition, {
        validationOptions: { checkPaths: true, checkArn: true },
      });
    } catch (err) {
      throw new Error(`state machine ${spec.logicalId} (${spec.name}): ${(err as Error).message}`);
    }
    let tasks: Map<string, TaskStateInfo>;
    try {
      tasks = collectTaskStates(definition);
    } catch (err) {
      throw new Error(`state machine ${spec.logicalId} (${spec.name}): ${(err as Error).message}`);
    }
    const descriptors = new Map<string, TaskDescriptor>();
    for (const [name, info] of tasks) {
      descriptors.set(name, describeTask(info.resource));
      try {
        bridge.preflight(info.resource);
      } catch (err) {
        log(`stepfunctions: WARNING ${spec.name}.${name}: ${(err as Error).message}; executions reaching it will fail`);
      }
    }
    const m = STATE_MACHINE_ARN.exec(spec.arn);
    const runtimeDefinition = prepareDefinition(definition, { retryIntervalScale: scale });
    machines.set(spec.arn, {
      spec,
      name: spec.name,
      arn: spec.arn,
      region: m?.[1] || opts.region,
      accountId: m?.[2] || opts.accountId,
      roleArn: `arn:aws:iam::${m?.[2] || opts.accountId}:role/service-role/${spec.name}-offline`,
      creationDate: createdAt,
      runner: new StateMachine(runtimeDefinition as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: true },
      }),
      runtimeDefinition,
      tasks,
      descriptors,
    });
  }

  const machineFor = (arn: string): Machine => {
    checkArnPrefix(arn);
    if (!STATE_MACHINE_ARN.test(arn)) throw apiErrors.invalidArn(`Resource type not valid in this context: ${arn}`);
    const machine = machines.get(arn);
    if (!machine) throw apiErrors.stateMachineDoesNotExist(arn);
    return machine;
  };

  const executionFor = (arn: string): ExecutionRecord => {
    checkArnPrefix(arn);
    if (!EXECUTION_ARN.test(arn)) throw apiErrors.invalidArn(`Resource type not valid in this context: ${arn}`);
    const rec = executions.get(arn);
    if (!rec) throw apiErrors.executionDoesNotExist(arn);
    return rec;
  };

  const save = (rec: ExecutionRecord) => store.save(rec);

  const recorderFor = (rec: ExecutionRecord): HistoryRecorder => {
    let r = recorders.get(rec.executionArn);
    if (!r) {
      const machine = machines.get(rec.stateMachineArn);
      r = new HistoryRecorder(rec, {
        region: machine?.region ?? opts.region,
        roleArn: machine?.roleArn ?? `arn:aws:iam::${opts.accountId}:role/service-role/offline`,
        definition: (machine?.spec.definition ?? {}) as JsonObject,
        onChange: () => void save(rec),
        // Express workflows have no history quota ("Maximum execution history size: Unlimited", express-limits.html).
        maxEvents: machine?.spec.type === 'EXPRESS' ? Number.POSITIVE_INFINITY : maxEvents,
        onLimitReached: (failure) => {
          // The ExecutionFailed event is written; close the execution and stop what it still runs.
          const run = runs.get(rec.executionArn);
          finish(rec, 'FAILED', failure);
          run?.controller.abort();
          run?.abortExecution();
        },
      });
      recorders.set(rec.executionArn, r);
    }
    return r;
  };

  const settleWaiters = (rec: ExecutionRecord) => {
    const set = waiters.get(rec.executionArn);
    if (!set) return;
    waiters.delete(rec.executionArn);
    for (const w of set) {
      clearTimeout(w.timer);
      w.resolve(describe(rec));
    }
  };

  /** Closes the execution with a terminal status (from the event log, StopExecution or a fatal error). */
  const finish = (rec: ExecutionRecord, status: ExecutionStatus, fields: { output?: string; error?: string; cause?: string }, at = Date.now()) => {
    if (rec.status !== 'RUNNING') return;
    rec.status = status;
    rec.stopDate = at;
    if (fields.output !== undefined) rec.output = fields.output;
    if (fields.error !== undefined) rec.error = fields.error;
    if (fields.cause !== undefined) rec.cause = fields.cause;
    recorders.get(rec.executionArn)?.freeze();
    recorders.delete(rec.executionArn);
    void save(rec);
    log(`stepfunctions: ${rec.executionArn} ${status}${fields.error ? ` (${fields.error})` : ''}`);
    settleWaiters(rec);
  };

  const taskHandler = (run: Run, machine: Machine, info: TaskStateInfo) => {
    const task = machine.descriptors.get(info.name)!;
    return async (input: unknown): Promise<unknown> => {
      await HistoryRecorder.settle(); // let the library's queued events (TaskStateEntered, ...) be recorded first
      const signal = run.controller.signal;
      if (signal.aborted) throw new StatesRuntimeError('execution aborted');
      bridge.preflight(info.resource); // unsupported resources fail with States.Runtime before anything is scheduled
      const startedAt = Date.now();
      const stale = () =>
        run.recorder.isFrozen || (info.timeoutSeconds !== undefined && Date.now() - startedAt >= info.timeoutSeconds * 1000);
      run.recorder.taskScheduled(task, input, info.timeoutSeconds);
      let onAbort = () => {};
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new StatesRuntimeError('execution aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
      });
      aborted.catch(() => {});
      try {
        const call = { stateName: info.name, stateMachine: machine.name, executionArn: run.record.executionArn };
        const result = await Promise.race([bridge.invoke(info.resource, input, signal, call), aborted]);
        if (!stale()) run.recorder.taskSucceeded(task, result);
        return result;
      } catch (err) {
        if (err instanceof StatesRuntimeError) throw err;
        const te = err instanceof TaskError ? err : new StatesRuntimeError(`${info.resource}: ${(err as Error)?.message ?? String(err)}`);
        if (te instanceof TaskError && !stale()) run.recorder.taskFailed(task, te.name, te.message);
        throw te;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    };
  };

  const launch = (rec: ExecutionRecord, machine: Machine) => {
    const recorder = recorderFor(rec);
    const run: Run = {
      record: rec,
      recorder,
      controller: new AbortController(),
      abortExecution: () => {},
      done: Promise.resolve(),
      suspended: false,
    };
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const info of machine.tasks.values()) handlers[info.name] = taskHandler(run, machine, info);
    const context = {
      Execution: {
        Id: rec.executionArn,
        Name: rec.name,
        RoleArn: machine.roleArn,
        StartTime: new Date(rec.startDate).toISOString(),
        RedriveCount: rec.redriveCount,
      },
      StateMachine: { Id: machine.arn, Name: machine.name },
      State: {
        get EnteredTime() {
          return new Date().toISOString();
        },
        RetryCount: 0,
      },
    };
    let execution: ReturnType<StateMachine['run']>;
    try {
      const runner = new StateMachine(pinStartTime(machine.runtimeDefinition, new Date(rec.startDate).toISOString()) as unknown as StateMachineDefinition, {
        validationOptions: { noValidate: true },
      });
      execution = runner.run(JSON.parse(rec.input), {
        overrides: { taskResourceLocalHandlers: handlers as never },
        context,
        noThrowOnAbort: true,
      });
    } catch (err) {
      recorder.add('ExecutionFailed', { error: 'States.Runtime', cause: (err as Error).message });
      finish(rec, 'FAILED', { error: 'States.Runtime', cause: (err as Error).message });
      return;
    }
    execution.result.catch(() => {}); // the outcome is read from the event log
    run.abortExecution = execution.abort;
    runs.set(rec.executionArn, run);
    run.done = (async () => {
      try {
        for await (const ev of execution.eventLogs as unknown as AsyncIterable<LibraryEvent>) {
          if (run.suspended || rec.status !== 'RUNNING') continue;
          recorder.onLibraryEvent(ev, machine.descriptors);
          if (ev.type === 'ExecutionSucceeded') {
            finish(rec, 'SUCCEEDED', { output: JSON.stringify(ev.output ?? null) }, ev.timestamp);
          } else if (ev.type === 'ExecutionFailed') {
            finish(rec, 'FAILED', recorder.failureOf(ev), ev.timestamp);
          } else if (ev.type === 'ExecutionTimeout') {
            finish(rec, 'TIMED_OUT', { error: 'States.Timeout' }, ev.timestamp);
            run.controller.abort(); // the library stopped the run; cancel task calls still in flight
          }
        }
      } catch (err) {
        if (!run.suspended && rec.status === 'RUNNING') {
          recorder.add('ExecutionFailed', { error: 'States.Runtime', cause: (err as Error).message });
          finish(rec, 'FAILED', { error: 'States.Runtime', cause: (err as Error).message });
        }
      } finally {
        if (!run.suspended && rec.status === 'RUNNING') {
          const cause = 'the execution ended without a result';
          recorder.add('ExecutionFailed', { error: 'States.Runtime', cause });
          finish(rec, 'FAILED', { error: 'States.Runtime', cause });
        }
        runs.delete(rec.executionArn);
      }
    })();
  };

  // ---- operations ----

  async function startExecution(req: { stateMachineArn: string; name?: string; input?: string }): Promise<StartExecutionResult> {
    if (closing) throw new SfnApiError('ServiceUnavailable', 'The offline Step Functions service is shutting down', 503);
    const machine = machineFor(req.stateMachineArn);
    const name = req.name ?? randomUUID();
    if (!isValidExecutionName(name)) throw apiErrors.invalidName(name);
    const input = req.input ?? '{}';
    if (Buffer.byteLength(input, 'utf8') > MAX_INPUT_BYTES) {
      throw apiErrors.validation(
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_INPUT_BYTES}`,
      );
    }
    try {
      JSON.parse(input);
    } catch (err) {
      throw apiErrors.invalidExecutionInput((err as Error).message);
    }
    const executionArn = `arn:aws:states:${machine.region}:${machine.accountId}:execution:${machine.name}:${name}`;
    const existing = executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING') {
        if (existing.input === input) return { executionArn, startDate: existing.startDate };
        throw apiErrors.executionAlreadyExists(executionArn);
      }
      if (Date.now() - (existing.stopDate ?? existing.startDate) < NINETY_DAYS_MS) {
        throw apiErrors.executionAlreadyExists(executionArn);
      }
      // Names can be reused 90 days after the execution closed: the old record is replaced.
    }
    const rec: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      input,
      redriveCount: 0,
      events: [],
    };
    executions.set(executionArn, rec);
    recorders.delete(executionArn);
    recorderFor(rec).executionStarted();
    log(`stepfunctions: ${executionArn} started`);
    await save(rec); // durable before the caller learns about it
    if (!closing && rec.status === 'RUNNING') launch(rec, machine);
    return { executionArn, startDate: rec.startDate };
  }

  const describeExecution = (arn: string): ExecutionDescription => describe(executionFor(arn));

  const waitForExecution = (arn: string, timeoutMs = 30_000): Promise<ExecutionDescription> => {
    let rec: ExecutionRecord;
    try {
      rec = executionFor(arn);
    } catch (err) {
      return Promise.reject(err);
    }
    if (rec.status !== 'RUNNING') return Promise.resolve(describe(rec));
    if (closing) return Promise.reject(new Error('the offline Step Functions service is closed'));
    return new Promise((resolve, reject) => {
      const set = waiters.get(arn) ?? new Set<Waiter>();
      waiters.set(arn, set);
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          set.delete(w);
          reject(new Error(`execution ${arn} still RUNNING after ${timeoutMs} ms`));
        }, Math.min(timeoutMs, 2 ** 31 - 1)),
      };
      set.add(w);
    });
  };

  const stopExecution = (arn: string, error?: string, cause?: string): number => {
    const rec = executionFor(arn);
    if (rec.status !== 'RUNNING') return rec.stopDate ?? Date.now();
    const details: Record<string, unknown> = {};
    if (error !== undefined) details.error = error;
    if (cause !== undefined) details.cause = cause;
    recorderFor(rec).add('ExecutionAborted', details);
    const run = runs.get(arn);
    finish(rec, 'ABORTED', { error, cause });
    if (run) {
      run.controller.abort();
      run.abortExecution();
    }
    return rec.stopDate!;
  };

  const resumeInterrupted = (): number => {
    let n = 0;
    for (const rec of executions.values()) {
      if (rec.status !== 'RUNNING' || runs.has(rec.executionArn)) continue;
      const machine = machines.get(rec.stateMachineArn);
      const recorder = recorderFor(rec);
      if (!machine) {
        const cause = `state machine ${rec.stateMachineArn} is no longer defined, so the interrupted execution cannot be re-run`;
        recorder.add('ExecutionFailed', { error: 'States.Runtime', cause });
        finish(rec, 'FAILED', { error: 'States.Runtime', cause });
        continue;
      }
      rec.redriveCount += 1;
      rec.redriveDate = Date.now();
      recorder.executionRedriven();
      log(`stepfunctions: ${rec.executionArn} was RUNNING when the service stopped; re-running it from the start`);
      launch(rec, machine);
      n += 1;
    }
    return n;
  };

  // ---- load persisted executions ----
  for (const rec of await store.loadAll()) executions.set(rec.executionArn, rec);
  if ((opts.resume ?? 'auto') === 'auto') resumeInterrupted();

  // ---- API ----

  const renderExecution = (rec: ExecutionRecord, includeData: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {
      executionArn: rec.executionArn,
      stateMachineArn: rec.stateMachineArn,
      name: rec.name,
      status: rec.status,
      startDate: seconds(rec.startDate),
      inputDetails: { included: includeData },
      redriveCount: rec.redriveCount,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason:
        rec.status === 'RUNNING' ? 'Execution is RUNNING and cannot be redriven' : 'Redrive is not supported offline',
    };
    if (includeData) out.input = rec.input;
    if (rec.stopDate !== undefined) out.stopDate = seconds(rec.stopDate);
    if (rec.output !== undefined) {
      out.outputDetails = { included: includeData };
      if (includeData) out.output = rec.output;
    }
    if (rec.error !== undefined) out.error = rec.error;
    if (rec.cause !== undefined) out.cause = rec.cause;
    if (rec.redriveDate !== undefined) out.redriveDate = seconds(rec.redriveDate);
    return out;
  };

  const machineSummary = (m: Machine) => ({
    stateMachineArn: m.arn,
    name: m.name,
    type: m.spec.type,
    creationDate: seconds(m.creationDate),
  });

  const machineDetails = (m: Machine) => ({
    stateMachineArn: m.arn,
    name: m.name,
    definition: JSON.stringify(m.spec.definition),
    roleArn: m.roleArn,
    loggingConfiguration: { level: 'OFF', includeExecutionData: false },
    tracingConfiguration: { enabled: false },
  });

  const notFromTemplate: Operation = () => {
    throw apiErrors.validation(
      'The offline Step Functions serves the state machines defined in template.yaml; change the template and restart instead',
    );
  };

  const includedData = (body: Record<string, unknown>): boolean => {
    const v = optString(body, 'includedData');
    if (v !== undefined && v !== 'ALL_DATA' && v !== 'METADATA_ONLY') {
      throw apiErrors.validation(`1 validation error detected: Value '${v}' at 'includedData' failed to satisfy enum value set: [ALL_DATA, METADATA_ONLY]`);
    }
    return v !== 'METADATA_ONLY';
  };

  const operations: Record<string, Operation> = {
    StartExecution: async (body) => {
      const name = optString(body, 'name');
      const input = optString(body, 'input');
      const traceHeader = optString(body, 'traceHeader');
      const r = await startExecution({
        stateMachineArn: reqString(body, 'stateMachineArn'),
        ...(name !== undefined ? { name } : {}),
        ...(input !== undefined ? { input } : {}),
      });
      const rec = executions.get(r.executionArn);
      if (rec && traceHeader !== undefined && rec.traceHeader === undefined) rec.traceHeader = traceHeader;
      return { executionArn: r.executionArn, startDate: seconds(r.startDate) };
    },
    DescribeExecution: (body) => renderExecution(executionFor(reqString(body, 'executionArn')), includedData(body)),
    StopExecution: (body) => ({
      stopDate: seconds(stopExecution(reqString(body, 'executionArn'), optString(body, 'error'), optString(body, 'cause'))),
    }),
    ListExecutions: (body) => {
      const arn = optString(body, 'stateMachineArn');
      if (arn === undefined) throw apiErrors.validation('Must provide a StateMachine ARN or MapRun ARN');
      const machine = machineFor(arn);
      const statusFilter = optString(body, 'statusFilter');
      if (statusFilter !== undefined && !STATUS_FILTERS.includes(statusFilter)) {
        throw apiErrors.validation(
          `1 validation error detected: Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${STATUS_FILTERS.join(', ')}]`,
        );
      }
      const limit = pageSize(body);
      const scope = `executions:${machine.arn}:${statusFilter ?? ''}`;
      const offset = decodeToken(optString(body, 'nextToken'), scope);
      const all = [...executions.values()]
        .filter((e) => e.stateMachineArn === machine.arn && (statusFilter === undefined || e.status === statusFilter))
        .sort((a, b) => b.startDate - a.startDate || (a.executionArn < b.executionArn ? -1 : 1));
      const page = all.slice(offset, offset + limit).map((rec) => {
        const item: Record<string, unknown> = {
          executionArn: rec.executionArn,
          stateMachineArn: rec.stateMachineArn,
          name: rec.name,
          status: rec.status,
          startDate: seconds(rec.startDate),
          redriveCount: rec.redriveCount,
        };
        if (rec.stopDate !== undefined) item.stopDate = seconds(rec.stopDate);
        if (rec.redriveDate !== undefined) item.redriveDate = seconds(rec.redriveDate);
        return item;
      });
      const out: Record<string, unknown> = { executions: page };
      if (offset + limit < all.length) out.nextToken = encodeToken(scope, offset + limit);
      return out;
    },
    GetExecutionHistory: (body) => {
      const rec = executionFor(reqString(body, 'executionArn'));
      const reverse = body.reverseOrder === true;
      const includeData = body.includeExecutionData !== false;
      const limit = pageSize(body);
      const scope = `history:${rec.executionArn}:${reverse}`;
      const offset = decodeToken(optString(body, 'nextToken'), scope);
      const events = reverse ? [...rec.events].reverse() : rec.events;
      const out: Record<string, unknown> = {
        events: events.slice(offset, offset + limit).map((e) => renderEvent(e, includeData)),
      };
      if (offset + limit < events.length) out.nextToken = encodeToken(scope, offset + limit);
      return out;
    },
    ListStateMachines: (body) => {
      const limit = pageSize(body);
      const offset = decodeToken(optString(body, 'nextToken'), 'stateMachines');
      const all = [...machines.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const out: Record<string, unknown> = { stateMachines: all.slice(offset, offset + limit).map(machineSummary) };
      if (offset + limit < all.length) out.nextToken = encodeToken('stateMachines', offset + limit);
      return out;
    },
    DescribeStateMachine: (body) => {
      const m = machineFor(reqString(body, 'stateMachineArn'));
      return { ...machineDetails(m), type: m.spec.type, status: 'ACTIVE', creationDate: seconds(m.creationDate) };
    },
    DescribeStateMachineForExecution: (body) => {
      const rec = executionFor(reqString(body, 'executionArn'));
      const m = machines.get(rec.stateMachineArn);
      if (!m) throw apiErrors.stateMachineDoesNotExist(rec.stateMachineArn);
      return { ...machineDetails(m), updateDate: seconds(m.creationDate) };
    },
    CreateStateMachine: notFromTemplate,
    UpdateStateMachine: notFromTemplate,
    DeleteStateMachine: notFromTemplate,
  };

  const listener = createListener({ operations, log, isClosing: () => closing });

  const close = (): Promise<void> => {
    if (closed) return closed;
    closing = true;
    closed = (async () => {
      const active = [...runs.values()];
      for (const run of active) {
        run.suspended = true;
        run.recorder.freeze();
        run.controller.abort();
        run.abortExecution();
      }
      await Promise.allSettled(active.map((r) => r.done));
      for (const [arn, set] of waiters) {
        for (const w of set) {
          clearTimeout(w.timer);
          w.reject(new Error(`the offline Step Functions service closed while ${arn} was RUNNING`));
        }
      }
      waiters.clear();
      bridge.destroy();
      await store.flush();
    })();
    return closed;
  };

  return { listener, close, waitForExecution, startExecution, describeExecution, resumeInterrupted };
}
