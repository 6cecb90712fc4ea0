/**
 * Execution history: turns `aws-local-stepfunctions` event logs and the Task bridge's own notifications into
 * Step Functions history events (GetExecutionHistory), e.g. for a Task that succeeds:
 *
 *   TaskStateEntered → TaskScheduled → TaskStarted → TaskSucceeded → TaskStateExited
 *
 * and for a failed attempt that is retried: `... TaskFailed → TaskScheduled → TaskStarted → ...` (no new
 * StateEntered, as in AWS). A caught failure is `TaskFailed → TaskStateExited` (the exit carries the Catch
 * output); an uncaught one ends with `ExecutionFailed`. Map and Parallel states get their `...StateStarted`,
 * `MapIteration...`, `...StateSucceeded/Failed` events. Shapes follow the Step Functions API model as SDK v3
 * deserializes it (inputs/outputs are JSON strings, with `inputDetails` / `outputDetails`).
 *
 * Ordering: the library calls a Task's local handler synchronously right after it queues the StateEntered event,
 * and delivers queued events through microtasks. The bridge therefore records TaskScheduled only after yielding
 * one macrotask ({@link HistoryRecorder.settle}), by which time every queued library event has been recorded; it
 * records TaskSucceeded/TaskFailed synchronously before handing the result back, i.e. before the library can emit
 * the StateExited that follows.
 */
import type { ExecutionRecord, HistoryEventRecord } from './types.ts';
import { simplePath, type Json, type JsonObject, walkStates } from './definition.ts';

/** The parts of the library's EventLog this module reads (structural, so tests can build them). */
export interface LibraryEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string; type: string; input?: unknown };
  index?: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
}

export interface TaskDescriptor {
  /** e.g. `aws-sdk:apigateway`, `dynamodb`, `lambda`, `states`. */
  resourceType: string;
  /** e.g. `createApiKey`, `putItem`, `invoke`, `startExecution.sync`. */
  resource: string;
  /** True for `arn:aws:lambda:...:function:...` resources, which get LambdaFunction* events. */
  legacyLambda: boolean;
  /** The full Resource ARN. */
  arn: string;
}

/** Events that close an execution: they may take the history's last slot. */
const EXECUTION_CLOSING = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimedOut']);

const json = (v: unknown): string => JSON.stringify(v === undefined ? null : v);
const notTruncated = { truncated: false };

/**
 * Step Functions' hard quota on one Standard execution's history. "When an execution reaches 24,999 events, it waits
 * for the next event to happen. If the event number 25,000 is ExecutionSucceeded, the execution finishes
 * successfully. If [it] isn't ExecutionSucceeded, the ExecutionFailed event is logged and the state machine execution
 * fails" — with error `States.Runtime`, cause "The execution reached the maximum number of history events (25000)."
 * Sources: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (Maximum execution history size),
 * https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html; the error and cause as AWS reports them
 * in public reports (e.g. github.com/loads/ardere/issues/86).
 */
export const MAX_HISTORY_EVENTS = 25_000;

/** The cause AWS gives for an execution failed at the history limit. */
export const historyLimitCause = (limit: number): string => `The execution reached the maximum number of history events (${limit}).`;

export interface HistoryOptions {
  region: string;
  roleArn: string;
  /** Definition of the state machine (to know Fail states' fields and Map ItemsPath). */
  definition: JsonObject;
  /** Called after every change to the record. */
  onChange: () => void;
  /** The history quota (default {@link MAX_HISTORY_EVENTS}); tests lower it. */
  maxEvents?: number;
  /**
   * Called once, synchronously, right after the recorder wrote the `ExecutionFailed` event that ends an execution at
   * the quota (the recorder is frozen by then): the service closes the execution as FAILED and stops its run.
   */
  onLimitReached?: (failure: { error: string; cause: string }) => void;
}

export class HistoryRecorder {
  private readonly failStates = new Map<string, JsonObject>();
  private readonly mapStates = new Map<string, JsonObject>();
  /** Map/Parallel states whose last attempt failed (no ...StateSucceeded on exit). */
  private readonly failedComposite = new Set<string>();
  private lastFailState: string | undefined;
  /** Set once the execution is closed (or suspended): later notifications are ignored. */
  private frozen = false;

  constructor(
    readonly record: ExecutionRecord,
    private readonly options: HistoryOptions,
  ) {
    walkStates(options.definition, ({ name, state }) => {
      if (state.Type === 'Fail') this.failStates.set(name, state);
      if (state.Type === 'Map') this.mapStates.set(name, state);
    });
  }

  freeze(): void {
    this.frozen = true;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Resolves after one macrotask: lets queued library events reach the recorder first. */
  static settle(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Appends one event. At the quota (see {@link MAX_HISTORY_EVENTS}) the last slot is kept for the execution's end:
   * any event but `ExecutionSucceeded` (or an execution-ending failure, abort or time-out) is replaced by
   * `ExecutionFailed` (`States.Runtime`), after which the recorder is frozen and `onLimitReached` is called.
   */
  add(type: string, details?: Record<string, unknown>, timestamp = Date.now()): HistoryEventRecord | undefined {
    if (this.frozen) return undefined;
    const events = this.record.events;
    const limit = this.options.maxEvents ?? MAX_HISTORY_EVENTS;
    if (events.length >= limit - 1 && !EXECUTION_CLOSING.has(type)) {
      const failure = { error: 'States.Runtime', cause: historyLimitCause(limit) };
      const event = this.append('ExecutionFailed', failure, timestamp);
      this.frozen = true;
      this.options.onLimitReached?.(failure);
      return event;
    }
    return this.append(type, details, timestamp);
  }

  private append(type: string, details: Record<string, unknown> | undefined, timestamp: number): HistoryEventRecord {
    const events = this.record.events;
    const last = events[events.length - 1];
    const id = (last?.id ?? 0) + 1;
    // As in AWS: the first state entered after the start points back to 0, everything else to its predecessor.
    const previousEventId =
      last === undefined || (type.endsWith('StateEntered') && (last.type === 'ExecutionStarted' || last.type === 'ExecutionRedriven'))
        ? 0
        : last.id;
    const event: HistoryEventRecord = { id, previousEventId, timestamp, type };
    if (details) event[detailsKey(type)] = details;
    events.push(event);
    this.options.onChange();
    return event;
  }

  executionStarted(): void {
    this.add(
      'ExecutionStarted',
      { input: this.record.input, inputDetails: notTruncated, roleArn: this.options.roleArn },
      this.record.startDate,
    );
  }

  executionRedriven(): void {
    this.add('ExecutionRedriven', { redriveCount: this.record.redriveCount });
  }

  // ---- Task bridge notifications ----

  taskScheduled(task: TaskDescriptor, parameters: unknown, timeoutSeconds?: number): void {
    if (task.legacyLambda) {
      const details: Record<string, unknown> = { resource: task.arn, input: json(parameters), inputDetails: notTruncated };
      if (timeoutSeconds !== undefined) details.timeoutInSeconds = timeoutSeconds;
      this.add('LambdaFunctionScheduled', details);
      this.add('LambdaFunctionStarted');
      return;
    }
    const details: Record<string, unknown> = {
      resourceType: task.resourceType,
      resource: task.resource,
      region: this.options.region,
      parameters: json(parameters),
    };
    if (timeoutSeconds !== undefined) details.timeoutInSeconds = timeoutSeconds;
    this.add('TaskScheduled', details);
    this.add('TaskStarted', { resourceType: task.resourceType, resource: task.resource });
  }

  taskSucceeded(task: TaskDescriptor, output: unknown): void {
    if (task.legacyLambda) {
      this.add('LambdaFunctionSucceeded', { output: json(output), outputDetails: notTruncated });
      return;
    }
    this.add('TaskSucceeded', {
      resourceType: task.resourceType,
      resource: task.resource,
      output: json(output),
      outputDetails: notTruncated,
    });
  }

  taskFailed(task: TaskDescriptor, error: string, cause: string): void {
    if (task.legacyLambda) {
      this.add('LambdaFunctionFailed', { error, cause });
      return;
    }
    this.add('TaskFailed', { resourceType: task.resourceType, resource: task.resource, error, cause });
  }

  // ---- library events ----

  /** Records the AWS history event(s) corresponding to one library event (some have none). */
  onLibraryEvent(ev: LibraryEvent, tasks: Map<string, TaskDescriptor>): void {
    switch (ev.type) {
      case 'StateEntered': {
        const s = ev.state!;
        this.add(`${s.type}StateEntered`, { name: s.name, input: json(s.input), inputDetails: notTruncated }, ev.timestamp);
        if (s.type === 'Map') {
          this.failedComposite.delete(s.name);
          const length = this.mapLength(s.name, s.input);
          this.add('MapStateStarted', length === undefined ? {} : { length }, ev.timestamp);
        } else if (s.type === 'Parallel') {
          this.failedComposite.delete(s.name);
          this.add('ParallelStateStarted', undefined, ev.timestamp);
        } else if (s.type === 'Fail') {
          this.lastFailState = s.name;
        }
        return;
      }
      case 'StateExited': {
        const s = ev.state!;
        if (s.type === 'Map' || s.type === 'Parallel') {
          if (!this.failedComposite.delete(s.name)) this.add(`${s.type}StateSucceeded`, undefined, ev.timestamp);
        }
        this.add(`${s.type}StateExited`, { name: s.name, output: json(s.output), outputDetails: notTruncated }, ev.timestamp);
        return;
      }
      case 'StateFailed': {
        const s = ev.state!;
        if (s.type === 'Map' || s.type === 'Parallel') {
          this.failedComposite.add(s.name);
          this.add(`${s.type}StateFailed`, undefined, ev.timestamp);
        } else if (s.type === 'Task' && ev.Error === 'States.Timeout') {
          const task = tasks.get(s.name);
          const cause = causeText(ev.Cause);
          if (task?.legacyLambda) {
            this.add('LambdaFunctionTimedOut', { error: 'States.Timeout', ...(cause ? { cause } : {}) }, ev.timestamp);
          } else {
            this.add(
              'TaskTimedOut',
              { resourceType: task?.resourceType ?? '', resource: task?.resource ?? '', error: 'States.Timeout' },
              ev.timestamp,
            );
          }
        }
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        this.add(ev.type, { name: ev.parentState?.name ?? '', index: ev.index ?? 0 }, ev.timestamp);
        return;
      case 'ExecutionSucceeded':
        this.add('ExecutionSucceeded', { output: json(ev.output), outputDetails: notTruncated }, ev.timestamp);
        return;
      case 'ExecutionFailed': {
        const { error, cause } = this.failureOf(ev);
        const details: Record<string, unknown> = {};
        if (error !== undefined) details.error = error;
        if (cause !== undefined) details.cause = cause;
        this.add('ExecutionFailed', details, ev.timestamp);
        return;
      }
      case 'ExecutionTimeout':
        this.add('ExecutionTimedOut', { error: 'States.Timeout' }, ev.timestamp);
        return;
      default:
        // ExecutionStarted (recorded by the service itself), StateRetried, StateCaught, ParallelBranch*:
        // no AWS history event of their own. ExecutionAborted is recorded by StopExecution.
        return;
    }
  }

  /** Error and cause of a failed execution; a Fail state without Error/Cause leaves them out, as AWS does. */
  failureOf(ev: LibraryEvent): { error?: string; cause?: string } {
    let error: string | undefined = ev.Error;
    let cause: string | undefined = causeText(ev.Cause);
    const failState = this.lastFailState !== undefined ? this.failStates.get(this.lastFailState) : undefined;
    if (failState && ev.Error !== undefined) {
      if (failState.Error === undefined && failState.ErrorPath === undefined) error = undefined;
      if (failState.Cause === undefined && failState.CausePath === undefined) cause = undefined;
    }
    return { error, cause };
  }

  private mapLength(stateName: string, rawInput: unknown): number | undefined {
    const def = this.mapStates.get(stateName);
    if (!def) return undefined;
    let data = rawInput as Json;
    if (typeof def.InputPath === 'string') {
      const v = simplePath(def.InputPath, data);
      if (v === undefined) return undefined;
      data = v;
    }
    const items = typeof def.ItemsPath === 'string' ? simplePath(def.ItemsPath, data) : data;
    return Array.isArray(items) ? items.length : undefined;
  }
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause === 'string') return cause;
  if (cause instanceof Error) return cause.message;
  return JSON.stringify(cause);
}

/** `TaskScheduled` → `taskScheduledEventDetails`; state events share `stateEntered`/`stateExited` details. */
export function detailsKey(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type[0]!.toLowerCase()}${type.slice(1)}EventDetails`;
}

/** A history event as the API returns it: epoch-seconds timestamp, execution data optionally left out. */
export function renderEvent(ev: HistoryEventRecord, includeExecutionData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ev, timestamp: ev.timestamp / 1000 };
  if (!includeExecutionData) {
    for (const [k, v] of Object.entries(out)) {
      if (!k.endsWith('EventDetails') || typeof v !== 'object' || v === null) continue;
      const { input: _i, output: _o, parameters: _p, ...rest } = v as Record<string, unknown>;
      out[k] = rest;
    }
  }
  return out;
}
