// Over 400 lines: start, run, record, stop and resume share one closure over the execution table.
/**
 * The execution lifecycle of the offline Step Functions: StartExecution's rules (names, input, idempotency,
 * ExecutionAlreadyExists), running an execution in `aws-local-stepfunctions` with every Task bridged to the local
 * endpoints (./bridge.ts) and its history recorded (./history.ts), StopExecution, waiting, re-running executions a
 * previous process left RUNNING, and persisting every change (./store.ts). The semantics and their AWS sources are
 * listed in ./index.ts.
 */
import { randomUUID } from 'node:crypto';

import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

import type { TaskBridge } from './bridge.ts';
import { pinStartTime, type JsonObject, type TaskStateInfo } from './definition.ts';
import { apiErrors, SfnApiError, StatesRuntimeError, TaskError } from './errors.ts';
import { HistoryRecorder, type LibraryEvent } from './history.ts';
import { checkArnPrefix, EXECUTION_ARN, type Machine, type MachineRegistry } from './machines.ts';
import type { ExecutionStore } from './store.ts';
import type { ExecutionDescription, ExecutionRecord, ExecutionStatus, StartExecutionResult } from './types.ts';

const NINETY_DAYS_MS = 90 * 24 * 60 * 60 * 1000;
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

export interface ExecutionEngineOptions {
  registry: MachineRegistry;
  bridge: TaskBridge;
  store: ExecutionStore;
  region: string;
  accountId: string;
  /** The history quota per execution (see MAX_HISTORY_EVENTS in ./history.ts). */
  maxHistoryEvents: number;
  log: (line: string) => void;
}

/** What the API (./responses.ts) and the service (./index.ts) do with executions. */
export interface ExecutionEngine {
  /** StartExecution (see ./index.ts for the rules); throws SfnApiError. */
  start(req: { stateMachineArn: string; name?: string; input?: string }): Promise<StartExecutionResult>;
  /** The execution's record; throws InvalidArn or ExecutionDoesNotExist. */
  require(arn: string): ExecutionRecord;
  /** The record, if the execution exists. */
  get(arn: string): ExecutionRecord | undefined;
  /** Every execution known (persisted ones included). */
  all(): ExecutionRecord[];
  describe(arn: string): ExecutionDescription;
  /** Resolves once the execution is no longer RUNNING; rejects after `timeoutMs` (default 30 s) or on close. */
  wait(arn: string, timeoutMs?: number): Promise<ExecutionDescription>;
  /** StopExecution: answers the stop date (epoch ms). */
  stop(arn: string, error?: string, cause?: string): number;
  /** Re-runs executions left RUNNING by a previous process; answers how many. */
  resumeInterrupted(): number;
  /** Loads the persisted executions (once, before serving). */
  load(): Promise<void>;
  readonly closing: boolean;
  /** Suspends running executions (they stay RUNNING on disk), rejects waiters, flushes pending writes. */
  close(): Promise<void>;
}

export function createExecutionEngine(opts: ExecutionEngineOptions): ExecutionEngine {
  const { registry, bridge, store, log } = opts;
  const maxEvents = opts.maxHistoryEvents;
  const executions = new Map<string, ExecutionRecord>();
  const runs = new Map<string, Run>();
  const waiters = new Map<string, Set<Waiter>>();
  const recorders = new Map<string, HistoryRecorder>();
  let closing = false;

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
      const machine = registry.get(rec.stateMachineArn);
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

  async function startExecution(req: { stateMachineArn: string; name?: string; input?: string }): Promise<StartExecutionResult> {
    if (closing) throw new SfnApiError('ServiceUnavailable', 'The offline Step Functions service is shutting down', 503);
    const machine = registry.require(req.stateMachineArn);
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
      const machine = registry.get(rec.stateMachineArn);
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


  return {
    start: startExecution,
    require: executionFor,
    get: (arn) => executions.get(arn),
    all: () => [...executions.values()],
    describe: describeExecution,
    wait: waitForExecution,
    stop: stopExecution,
    resumeInterrupted,
    load: async () => {
      for (const rec of await store.loadAll()) executions.set(rec.executionArn, rec);
    },
    get closing() {
      return closing;
    },
    close: async () => {
      closing = true;
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
      await store.flush();
    },
  };
}
