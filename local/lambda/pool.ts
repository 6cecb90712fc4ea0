/**
 * The execution environments of one offline Lambda function: a pool of worker threads (`worker.cjs`), at most
 * `maxConcurrency`; an invocation takes an idle one, starts a new one (a cold start) or waits its turn. An
 * environment that times out, exits (process.exit), crashes (an uncaught exception or unhandled rejection) or failed
 * its init is thrown away, and the next invocation gets a fresh one — as in Lambda
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { FunctionModel } from '../model.ts';
import type { InvokeResult } from '../types.ts';

export interface InvokeStats {
  coldStarts: number;
  invocations: number;
  initMs: number[];
}

type LambdaError = NonNullable<InvokeResult['error']>;
type Outcome = { payload: unknown } | { error: LambdaError };

/** How long an environment's init may take before the invocation's own timeout starts (Lambda's init phase limit). */
const INIT_TIMEOUT_MS = 10_000;
/** Output kept from between invocations (a timer logging after the response) for the next invocation's logs. */
const MAX_BACKLOG_CHARS = 256 * 1024;
/**
 * Each environment's output buffer, shared with its worker (a SharedArrayBuffer: a 4-byte length, then UTF-8 text).
 * The worker appends what the function writes and sends it with the invocation's result, one message instead of one
 * per write (each message wakes the gateway's thread); a fuller buffer is sent on its own. What is still in it when
 * the environment dies (timeout, process.exit, out of memory) is read here, so no output is lost.
 */
const LOG_BUFFER_BYTES = 64 * 1024;
/** The tag characters of worker.cjs's string messages. */
const TAG_LOG = 'L'.charCodeAt(0);
const TAG_RESULT = 'R'.charCodeAt(0);
const TAG_ERROR = 'E'.charCodeAt(0);

/** One invocation, from the moment it is asked for until it is answered. */
interface Call {
  requestId: string;
  /** The event as the function receives it: JSON text, serialised once here and parsed once in the worker. */
  eventJson: string;
  logs: string[];
  /** Handed to the worker (counted in stats.invocations). */
  started: boolean;
  /** performance.now() when asked for and when handed to the worker (→ InvokeResult.queueMs). */
  askedAt: number;
  startedAt?: number;
  /** The handler's run time the worker reported (→ InvokeResult.durationMs). */
  durationMs?: number;
  done: boolean;
  timer?: NodeJS.Timeout;
  resolve: (result: InvokeResult) => void;
}

/** One execution environment: a worker thread running worker.cjs with the function's bundle. */
interface Environment {
  instanceId: string;
  worker: Worker;
  /** The bundle has loaded (or failed to: initError). */
  initialized: boolean;
  initError?: LambdaError;
  /** Has (or is about to get) an invocation. */
  busy: boolean;
  /** Timed out, exited, crashed or closed: never used again. */
  dead: boolean;
  current?: Call;
  /** The output buffer shared with the worker (see LOG_BUFFER_BYTES): its length word and its bytes. */
  logLength: Int32Array;
  logBytes: Uint8Array;
  /** Output written while no invocation was running, and its length. */
  backlog: string[];
  backlogChars: number;
  /** The worker's 'error' event (e.g. ERR_WORKER_OUT_OF_MEMORY), which comes just before its exit. */
  workerError?: Error & { code?: string };
}

/**
 * What worker.cjs sends. The per-invocation messages are plain strings, one tag character first: a string crosses
 * the thread boundary as one copy, while an object is walked field by field by the structured clone (measured on
 * the request path: posting the event as an object cost 3–8× posting it as one string). See worker.cjs.
 *   `L<text>`                                   output the function wrote (when the shared buffer filled up)
 *   `R<requestId>\n<ms>\n<n>\n<output><payloadJson>`  the invocation's result and the handler's run time (ms),
 *                                       after the n characters of output written since the last message
 *   `E<requestId>\n<ms>\n<n>\n<output><errorJson>`    the invocation's error ({ errorType, errorMessage, trace? })
 * The rare ones stay objects: `ready` (once per environment) and `fatal` (a crash).
 */
type WorkerMessage =
  | string
  | { type: 'ready'; initMs: number; initError?: LambdaError }
  | { type: 'fatal'; requestId?: string; error: LambdaError };

export class FunctionPool {
  readonly envs: Environment[] = [];
  /** Invocations waiting for an environment, first come first served. */
  private readonly queue: Call[] = [];
  private nextInstance = 0;
  private closed = false;

  constructor(
    readonly fn: FunctionModel,
    private readonly file: string,
    private readonly env: Record<string, string>,
    private readonly max: number,
    private readonly stats: InvokeStats,
  ) {}

  invoke(event: unknown): Promise<InvokeResult> {
    return new Promise<InvokeResult>((resolve) => {
      const requestId = randomUUID();
      // The function sees what Lambda would hand it: the event as JSON (no undefined, no class instances).
      let eventJson: string | undefined;
      try {
        eventJson = event === undefined ? '{}' : (JSON.stringify(event) as string | undefined);
        if (eventJson === undefined) throw new Error(`${typeof event} is not JSON`);
      } catch (error) {
        resolve({
          requestId,
          logs: '',
          error: { errorType: 'InvalidRequestContentException', errorMessage: `Could not serialize the event to JSON: ${(error as Error).message}` },
        });
        return;
      }
      const call: Call = { requestId, eventJson, logs: [], started: false, askedAt: performance.now(), done: false, resolve };
      if (this.closed) {
        this.answerClosed(call);
        return;
      }
      const idle = this.envs.find((e) => !e.busy && !e.dead);
      if (idle) this.assign(idle, call);
      else if (this.envs.length < this.max) this.assign(this.spawn(), call);
      else this.queue.push(call);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const call of this.queue.splice(0)) this.answerClosed(call);
    const envs = this.envs.splice(0);
    await Promise.all(
      envs.map(async (env) => {
        env.dead = true;
        env.busy = false;
        const call = env.current;
        env.current = undefined;
        if (call) this.answerClosed(call);
        await env.worker.terminate().catch(() => undefined);
      }),
    );
  }

  private spawn(): Environment {
    const instanceId = `${this.fn.logicalId}-${++this.nextInstance}`;
    const logBuffer = new SharedArrayBuffer(4 + LOG_BUFFER_BYTES);
    const worker = new Worker(join(__dirname, 'worker.cjs'), {
      env: this.env,
      execArgv: ['--enable-source-maps'],
      workerData: {
        file: this.file,
        handlerFile: this.fn.handlerFile,
        handlerExport: this.fn.handlerExport,
        functionName: this.fn.name,
        functionArn: this.fn.arn,
        memoryMb: this.fn.memoryMb,
        instanceId,
        logBuffer,
      },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, this.fn.memoryMb) },
    });
    worker.unref();
    const env: Environment = {
      instanceId,
      worker,
      initialized: false,
      busy: true,
      dead: false,
      logLength: new Int32Array(logBuffer, 0, 1),
      logBytes: new Uint8Array(logBuffer, 4),
      backlog: [],
      backlogChars: 0,
    };
    worker.on('message', (message: WorkerMessage) => this.onMessage(env, message));
    worker.on('error', (error: Error) => {
      env.workerError = error;
    });
    worker.on('exit', (code: number) => this.onExit(env, code));
    this.envs.push(env);
    return env;
  }

  private onMessage(env: Environment, message: WorkerMessage): void {
    if (env.dead) return;
    if (typeof message === 'string') {
      this.onStringMessage(env, message);
      return;
    }
    switch (message.type) {
      case 'ready': {
        env.initialized = true;
        if (message.initError) env.initError = message.initError;
        this.stats.coldStarts++;
        this.stats.initMs.push(message.initMs);
        if (env.current && !env.current.started) this.start(env, env.current);
        return;
      }
      case 'fatal': {
        const call = env.current;
        if (call && (!call.started || call.requestId === message.requestId)) {
          // The invocation it crashed in (or the init it was waiting for) gets the error, like Lambda reports it.
          this.finish(env, call, { error: message.error }, true);
        } else if (call) {
          // Crashed from a leftover timer before it began this invocation: run it in a fresh environment instead.
          this.requeue(env, call);
        } else {
          this.retire(env);
        }
        return;
      }
    }
  }

  /** The per-invocation messages: `L` output, `R` a result, `E` an error (see WorkerMessage). */
  private onStringMessage(env: Environment, message: string): void {
    const tag = message.charCodeAt(0);
    if (tag === TAG_LOG) {
      const text = message.slice(1);
      if (env.current) env.current.logs.push(text);
      else {
        env.backlog.push(text);
        env.backlogChars += text.length;
        while (env.backlogChars > MAX_BACKLOG_CHARS && env.backlog.length > 1) env.backlogChars -= (env.backlog.shift() as string).length;
      }
      return;
    }
    const call = env.current;
    const first = message.indexOf('\n');
    const second = message.indexOf('\n', first + 1);
    const third = message.indexOf('\n', second + 1);
    if (!call || third === -1 || message.slice(1, first) !== call.requestId) return;
    call.durationMs = Number(message.slice(first + 1, second));
    const outputEnd = third + 1 + Number(message.slice(second + 1, third));
    if (outputEnd > third + 1) call.logs.push(message.slice(third + 1, outputEnd));
    const json = message.slice(outputEnd);
    if (tag === TAG_RESULT) this.finish(env, call, { payload: JSON.parse(json) }, false);
    else if (tag === TAG_ERROR) this.finish(env, call, { error: JSON.parse(json) as LambdaError }, false);
  }

  /** What the worker wrote and has not sent yet (read when it died or is being thrown away); empties the buffer. */
  private unsentOutput(env: Environment): string {
    const length = Math.min(Atomics.load(env.logLength, 0), env.logBytes.length);
    if (length <= 0) return '';
    Atomics.store(env.logLength, 0, 0);
    return Buffer.from(env.logBytes.subarray(0, length)).toString('utf8');
  }

  private onExit(env: Environment, code: number): void {
    const call = env.current;
    if (call) this.finish(env, call, { error: exitError(call.requestId, code, env.workerError) }, true);
    else this.retire(env);
  }

  /** Give an environment an invocation: run it now, or as soon as the environment has loaded the bundle. */
  private assign(env: Environment, call: Call): void {
    env.busy = true;
    env.current = call;
    if (env.backlog.length) {
      call.logs.push(...env.backlog.splice(0));
      env.backlogChars = 0;
    }
    if (env.initialized) this.start(env, call);
    else this.arm(env, call, INIT_TIMEOUT_MS + this.fn.timeoutSeconds * 1000);
  }

  private start(env: Environment, call: Call): void {
    call.started = true;
    call.startedAt = performance.now();
    this.stats.invocations++;
    if (env.initError) {
      // Like Lambda, a failed init is not kept: the next invocation initialises a fresh environment.
      this.finish(env, call, { error: env.initError }, true);
      return;
    }
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    this.arm(env, call, timeoutMs);
    // One string (see WorkerMessage): `<requestId>\n<deadline epoch ms>\n<eventJson>`.
    env.worker.postMessage(`${call.requestId}\n${Date.now() + timeoutMs}\n${call.eventJson}`);
  }

  private arm(env: Environment, call: Call, ms: number): void {
    clearTimeout(call.timer);
    call.timer = setTimeout(() => {
      // Like Lambda: the sandbox is torn down; the next invocation gets a fresh (cold) one.
      const error = {
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${call.requestId} Error: Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
      };
      this.finish(env, call, { error }, true);
    }, ms);
    call.timer.unref();
  }

  /** Answer an invocation; then the environment takes the next waiting one, or is thrown away (kill). */
  private finish(env: Environment, call: Call, outcome: Outcome, kill: boolean): void {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.timer);
    if (env.current === call) env.current = undefined;
    if (kill) {
      const unsent = this.unsentOutput(env);
      if (unsent) call.logs.push(unsent);
    }
    call.resolve({
      requestId: call.requestId,
      logs: call.logs.join(''),
      ...outcome,
      ...(call.durationMs !== undefined ? { durationMs: call.durationMs } : {}),
      ...(call.startedAt !== undefined ? { queueMs: call.startedAt - call.askedAt } : {}),
    });
    if (kill || env.dead) {
      this.retire(env);
      return;
    }
    const next = this.queue.shift();
    if (next) this.assign(env, next);
    else env.busy = false;
  }

  /** Put an invocation the environment never began back at the head of the queue, and replace the environment. */
  private requeue(env: Environment, call: Call): void {
    clearTimeout(call.timer);
    if (env.current === call) env.current = undefined;
    if (call.started) this.stats.invocations--;
    call.started = false;
    this.queue.unshift(call);
    this.retire(env);
  }

  /** Throw an environment away (idempotent) and start replacements for invocations that are waiting. */
  private retire(env: Environment): void {
    if (!env.dead) {
      env.dead = true;
      env.busy = false;
      void env.worker.terminate().catch(() => undefined);
    }
    const index = this.envs.indexOf(env);
    if (index >= 0) this.envs.splice(index, 1);
    while (!this.closed && this.queue.length > 0 && this.envs.length < this.max) {
      this.assign(this.spawn(), this.queue.shift() as Call);
    }
  }

  private answerClosed(call: Call): void {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.timer);
    call.resolve({
      requestId: call.requestId,
      logs: call.logs.join(''),
      error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${call.requestId} Error: The Lambda service was closed` },
    });
  }
}

/** What Lambda answers when the runtime process goes away in the middle of an invocation. */
function exitError(requestId: string, code: number, workerError?: Error & { code?: string }): LambdaError {
  if (workerError?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` };
  }
  return {
    errorType: 'Runtime.ExitError',
    errorMessage: code === 0 ? `RequestId: ${requestId} Error: Runtime exited without providing a reason` : `RequestId: ${requestId} Error: Runtime exited with error: exit status ${code}`,
  };
}

