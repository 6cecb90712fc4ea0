/**
 * Walking and preparing an ASL definition for `aws-local-stepfunctions`.
 *
 * The library keys `overrides.taskResourceLocalHandlers` by state NAME and applies the same overrides to the
 * nested state machines of Parallel branches and Map ItemProcessor/Iterator, so every Task state, at any depth,
 * must be found and given a handler. Step Functions requires state names to be unique in the whole machine; a
 * definition that reuses a Task name for two different Task states is rejected here rather than run wrongly.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface StateRef {
  name: string;
  state: JsonObject;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Calls `visit` for every state of the definition, including those inside Parallel branches and Map processors. */
export function walkStates(definition: JsonObject, visit: (ref: StateRef) => void): void {
  const states = definition.States;
  if (!isObject(states)) return;
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    visit({ name, state });
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) if (isObject(branch)) walkStates(branch, visit);
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (isObject(processor)) walkStates(processor, visit);
    }
  }
}

export interface TaskStateInfo {
  name: string;
  resource: string;
  /** Static `TimeoutSeconds` of the state, if any. */
  timeoutSeconds?: number;
}

/** Every Task state by name. Throws if one name is used for two different Task states. */
export function collectTaskStates(definition: JsonObject): Map<string, TaskStateInfo> {
  const tasks = new Map<string, TaskStateInfo>();
  const seen = new Map<string, string>();
  walkStates(definition, ({ name, state }) => {
    const serialized = JSON.stringify(state);
    const previous = seen.get(name);
    if (previous !== undefined && previous !== serialized) {
      throw new Error(`state name '${name}' is used by more than one state; Step Functions requires unique names`);
    }
    seen.set(name, serialized);
    if (state.Type !== 'Task') return;
    const info: TaskStateInfo = { name, resource: typeof state.Resource === 'string' ? state.Resource : '' };
    if (typeof state.TimeoutSeconds === 'number') info.timeoutSeconds = state.TimeoutSeconds;
    tasks.set(name, info);
  });
  return tasks;
}

/**
 * Largest Task timeout the library can arm: it uses `setTimeout`, which fires at once for delays above 2^31-1 ms.
 * AWS's default for a Task without `TimeoutSeconds` is 99999999 s ("no timeout"); the library's default is 60 s,
 * which would time out a legitimately slow task, so Tasks without a timeout get this one.
 */
export const MAX_TASK_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Retry defaults of the States Language. */
const DEFAULT_INTERVAL_SECONDS = 1;

export interface PrepareOptions {
  /** Multiplies every Retry pause (IntervalSeconds and MaxDelaySeconds); BackoffRate and jitter are unchanged. */
  retryIntervalScale: number;
}

/**
 * A copy of the definition ready for the library:
 * - Retry pauses scaled by `retryIntervalScale` by rewriting `IntervalSeconds` / `MaxDelaySeconds`. (The library's
 *   `retryIntervalOverrides` takes one fixed pause per retrier, which would drop the `BackoffRate` growth between
 *   attempts; scaling the fields keeps the exact AWS schedule, only faster.)
 * - Tasks without `TimeoutSeconds` / `TimeoutSecondsPath` get {@link MAX_TASK_TIMEOUT_SECONDS} (see there).
 * - `$$.State.Name` in payload templates (Parameters, ResultSelector, ItemSelector, a Map's Parameters), whether
 *   as a whole path or inside an intrinsic function, is replaced by the state's name: the library's Context
 *   Object is one object for the whole execution and cannot know which state reads it.
 */
export function prepareDefinition(definition: JsonObject, options: PrepareOptions): JsonObject {
  const copy = structuredClone(definition);
  walkStates(copy, ({ name, state }) => {
    if (Array.isArray(state.Retry) && options.retryIntervalScale !== 1) {
      for (const retrier of state.Retry) {
        if (!isObject(retrier)) continue;
        const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : DEFAULT_INTERVAL_SECONDS;
        retrier.IntervalSeconds = interval * options.retryIntervalScale;
        if (typeof retrier.MaxDelaySeconds === 'number') {
          retrier.MaxDelaySeconds = retrier.MaxDelaySeconds * options.retryIntervalScale;
        }
      }
    }
    if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = MAX_TASK_TIMEOUT_SECONDS;
    }
    for (const field of ['Parameters', 'ResultSelector', 'ItemSelector'] as const) {
      const template = state[field];
      if (template !== undefined) state[field] = substituteStateName(template, name);
    }
  });
  return copy;
}

const STATE_NAME_PATH = '$$.State.Name';

/** Quotes a string as a States Language intrinsic-function string literal. */
function intrinsicLiteral(value: string): string {
  return `'${value.replace(/[\\'{}]/g, (c) => `\\${c}`)}'`;
}

/** Replaces `$$.State.Name` references in a payload template by the literal state name. */
export function substituteStateName(template: Json, stateName: string): Json {
  if (Array.isArray(template)) return template.map((t) => substituteStateName(t, stateName));
  if (!isObject(template)) return template;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      if (value === STATE_NAME_PATH) {
        out[key.slice(0, -2)] = stateName;
        continue;
      }
      if (value.startsWith('States.') && value.includes(STATE_NAME_PATH)) {
        out[key] = value.split(STATE_NAME_PATH).join(intrinsicLiteral(stateName));
        continue;
      }
      out[key] = value;
      continue;
    }
    out[key] = substituteStateName(value, stateName);
  }
  return out;
}

/** Value at a simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a']`); undefined if unsupported or absent. */
export function simplePath(path: string, data: Json): Json | undefined {
  if (path === '$') return data;
  if (!path.startsWith('$')) return undefined;
  const tokens: (string | number)[] = [];
  const re = /\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  let i = 1;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) return undefined;
    if (m[1] !== undefined) tokens.push(m[1]);
    else if (m[2] !== undefined) tokens.push(Number(m[2]));
    else tokens.push(m[3] ?? m[4] ?? '');
    i = re.lastIndex;
  }
  let cur: Json | undefined = data;
  for (const t of tokens) {
    if (typeof t === 'number') cur = Array.isArray(cur) ? cur[t] : undefined;
    else cur = isObject(cur) ? cur[t] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

const START_TIME_PATH = '$$.Execution.StartTime';

/** A copy with `$$.Execution.StartTime` in payload templates pinned to `startTime` (stable across re-runs). */
export function pinStartTime(definition: JsonObject, startTime: string): JsonObject {
  const copy = structuredClone(definition);
  const pin = (template: Json): Json => {
    if (Array.isArray(template)) return template.map(pin);
    if (!isObject(template)) return template;
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$') && typeof value === 'string') {
        if (value === START_TIME_PATH) out[key.slice(0, -2)] = startTime;
        else if (value.startsWith('States.') && value.includes(START_TIME_PATH)) out[key] = value.split(START_TIME_PATH).join(intrinsicLiteral(startTime));
        else out[key] = value;
        continue;
      }
      out[key] = pin(value);
    }
    return out;
  };
  walkStates(copy, ({ state }) => {
    for (const field of ['Parameters', 'ResultSelector', 'ItemSelector'] as const) {
      if (state[field] !== undefined) state[field] = pin(state[field]);
    }
  });
  return copy;
}
