/**
 * The offline Lambda service: runs the template's functions (their esbuild bundles) in worker threads, each with the
 * function's own environment, and answers Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so
 * cognito-local's triggers, the Step Functions bridge, the gateway, the AWS CLI and SDK all invoke the same way.
 *
 * Each function has a pool of execution environments (worker threads, `worker.cjs`), at most `maxConcurrency`; an
 * invocation takes an idle one, starts a new one (a cold start) or waits its turn. An environment that times out,
 * exits (process.exit), crashes (an uncaught exception or unhandled rejection) or failed its init is thrown away, and
 * the next invocation gets a fresh one — as in Lambda.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { functionEnvironment } from '../endpoints.ts';
import type { FunctionModel } from '../model.ts';
import type { InvokeResult, LambdaInvoker, Listener } from '../types.ts';

export interface LambdaRuntimeOptions {
  functions: FunctionModel[];
  /** Bundle file per function logical id. */
  bundles: Map<string, string>;
  /** Environment shared by every function (endpoints, credentials, region); the template's variables win over it. */
  baseEnvironment: Record<string, string>;
  /** Concurrent execution environments per function (Lambda scales out; this bounds it). Default 4. */
  maxConcurrency?: number;
  /** Receives each invocation's output, prefixed with the function name. */
  onLog?: (functionLogicalId: string, text: string) => void;
}

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

/** One invocation, from the moment it is asked for until it is answered. */
interface Call {
  requestId: string;
  event: unknown;
  logs: string[];
  /** Handed to the worker (counted in stats.invocations). */
  started: boolean;
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
  /** Output written while no invocation was running, and its length. */
  backlog: string[];
  backlogChars: number;
  /** The worker's 'error' event (e.g. ERR_WORKER_OUT_OF_MEMORY), which comes just before its exit. */
  workerError?: Error & { code?: string };
}

type WorkerMessage =
  | { type: 'log'; text: string }
  | { type: 'ready'; initMs: number; initError?: LambdaError }
  | { type: 'result'; requestId: string; payloadJson?: string; error?: LambdaError }
  | { type: 'fatal'; requestId?: string; error: LambdaError };

class FunctionPool {
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
      const call: Call = { requestId: randomUUID(), event: undefined, logs: [], started: false, done: false, resolve };
      // The function sees what Lambda would hand it: the event as JSON (no undefined, no class instances).
      try {
        call.event = event === undefined ? {} : JSON.parse(JSON.stringify(event));
      } catch (error) {
        call.done = true;
        resolve({
          requestId: call.requestId,
          logs: '',
          error: { errorType: 'InvalidRequestContentException', errorMessage: `Could not serialize the event to JSON: ${(error as Error).message}` },
        });
        return;
      }
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
      },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, this.fn.memoryMb) },
    });
    worker.unref();
    const env: Environment = { instanceId, worker, initialized: false, busy: true, dead: false, backlog: [], backlogChars: 0 };
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
    switch (message.type) {
      case 'log': {
        if (env.current) env.current.logs.push(message.text);
        else {
          env.backlog.push(message.text);
          env.backlogChars += message.text.length;
          while (env.backlogChars > MAX_BACKLOG_CHARS && env.backlog.length > 1) env.backlogChars -= (env.backlog.shift() as string).length;
        }
        return;
      }
      case 'ready': {
        env.initialized = true;
        if (message.initError) env.initError = message.initError;
        this.stats.coldStarts++;
        this.stats.initMs.push(message.initMs);
        if (env.current && !env.current.started) this.start(env, env.current);
        return;
      }
      case 'result': {
        const call = env.current;
        if (!call || call.requestId !== message.requestId) return;
        this.finish(env, call, message.error ? { error: message.error } : { payload: message.payloadJson === undefined ? null : JSON.parse(message.payloadJson) }, false);
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
    this.stats.invocations++;
    if (env.initError) {
      // Like Lambda, a failed init is not kept: the next invocation initialises a fresh environment.
      this.finish(env, call, { error: env.initError }, true);
      return;
    }
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    this.arm(env, call, timeoutMs);
    env.worker.postMessage({ type: 'invoke', requestId: call.requestId, event: call.event, deadline: Date.now() + timeoutMs });
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
    call.resolve({ requestId: call.requestId, logs: call.logs.join(''), ...outcome });
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

export interface LambdaRuntime extends LambdaInvoker {
  listener: Listener;
  stats: InvokeStats;
  close(): Promise<void>;
}

/** The node_modules folder that plays the part of the Lambda runtime's own (it holds @aws-sdk/*). */
const runtimeModules = dirname(dirname(dirname(require.resolve('@aws-sdk/client-dynamodb/package.json'))));

/** The variables Lambda's runtime sets for a function (those the handlers and Powertools read). */
export function lambdaRuntimeVariables(fn: FunctionModel): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
  };
}

export function createLambdaRuntime(opts: LambdaRuntimeOptions): LambdaRuntime {
  const stats: InvokeStats = { coldStarts: 0, invocations: 0, initMs: [] };
  const pools = new Map<string, FunctionPool>();
  const byName = new Map<string, FunctionPool>();
  for (const fn of opts.functions) {
    const file = opts.bundles.get(fn.logicalId);
    if (!file) throw new Error(`no bundle for function ${fn.logicalId}`);
    const env = functionEnvironment(
      {
        ...opts.baseEnvironment,
        // Like Lambda's NODE_PATH=/var/runtime/node_modules: the runtime provides the AWS SDK the bundles leave external.
        NODE_PATH: runtimeModules,
        ...lambdaRuntimeVariables(fn),
      },
      fn.environment,
    );
    const pool = new FunctionPool(fn, file, env, Math.max(1, opts.maxConcurrency ?? 4), stats);
    pools.set(fn.logicalId, pool);
    byName.set(fn.logicalId, pool);
    byName.set(fn.name, pool);
    byName.set(fn.arn, pool);
    // The partial ARN form ("123456789012:function:name") the API accepts too.
    byName.set(fn.arn.split(':').slice(4).join(':'), pool);
  }

  const find = (name: string): FunctionPool | undefined => {
    const decoded = safeDecode(name);
    // Qualified names/ARNs ("name:$LATEST") resolve to the function.
    return byName.get(decoded) ?? byName.get(decoded.replace(/:(\$LATEST|\d+)$/, ''));
  };

  const invoke = async (name: string, event: unknown): Promise<InvokeResult> => {
    const pool = find(name);
    if (!pool) throw Object.assign(new Error(`Function not found: ${name}`), { name: 'ResourceNotFoundException' });
    const result = await pool.invoke(event);
    if (result.logs) opts.onLog?.(pool.fn.logicalId, result.logs);
    if (result.error) opts.onLog?.(pool.fn.logicalId, `${result.error.errorType}: ${result.error.errorMessage}\n`);
    return result;
  };

  // For "Function not found" messages, which AWS words with the full ARN.
  const arnPrefix = opts.functions[0]?.arn.replace(/[^:]*$/, '');
  const notFoundMessage = (name: string): string => {
    const decoded = safeDecode(name);
    return `Function not found: ${decoded.startsWith('arn:') || !arnPrefix ? decoded : `${arnPrefix}${decoded.replace(/^\d{12}:function:/, '')}`}`;
  };

  const listener: Listener = (req, res) => {
    void handleInvokeApi(req, res, (name) => find(name) !== undefined, notFoundMessage, invoke);
  };

  return {
    invoke,
    has: (name) => find(name) !== undefined,
    listener,
    stats,
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/* ------------------------------------------------------------------ Invoke API (REST-JSON, as the SDK and CLI speak it) */

/** Lambda's request payload quotas: 6 MB for synchronous invocations, 1 MB for asynchronous ones (Invoke API reference). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;
/** Beyond this a request body is not even drained: the connection is dropped. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
/** X-Amz-Log-Result carries the last 4 KB of the log. */
const MAX_LOG_RESULT_BYTES = 4 * 1024;

/**
 * Errors as Lambda sends them (restJson1): the code in `x-amzn-ErrorType`, the body `{"Type": "User"|"Service", …}`
 * with the message under the member name Lambda's model gives that error — `Message` for ResourceNotFoundException and
 * ServiceException, `message` for the others here (see the shapes in @aws-sdk/client-lambda).
 */
const CAPITALISED_MESSAGE = new Set(['ResourceNotFoundException', 'ServiceException']);

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', [CAPITALISED_MESSAGE.has(type) ? 'Message' : 'message']: message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': randomUUID(),
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * The whole body, or `tooLarge` when it is over `limit` bytes. An oversized body is still read (and dropped) to its
 * end so the client, which is still sending it, gets the error response instead of a reset connection.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAIN_BYTES) {
      req.destroy();
      return 'tooLarge';
    }
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? 'tooLarge' : Buffer.concat(chunks);
}

async function handleInvokeApi(
  req: IncomingMessage,
  res: ServerResponse,
  exists: (name: string) => boolean,
  notFoundMessage: (name: string) => string,
  invoke: (name: string, event: unknown) => Promise<InvokeResult>,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
    if (!match || req.method !== 'POST') {
      sendError(res, 404, 'UnknownOperationException', `Unsupported operation: ${req.method} ${url.pathname}. The offline Lambda service implements Invoke only.`);
      return;
    }
    const name = match[1] as string;
    if (!exists(name)) {
      sendError(res, 404, 'ResourceNotFoundException', notFoundMessage(name));
      return;
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType !== 'RequestResponse' && invocationType !== 'Event' && invocationType !== 'DryRun') {
      sendError(res, 400, 'InvalidParameterValueException', `Unsupported invocation type: ${invocationType}. Valid values are RequestResponse, Event and DryRun.`);
      return;
    }
    const limit = invocationType === 'Event' ? MAX_ASYNC_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES;
    const body = await readBody(req, limit);
    if (body === 'tooLarge') {
      sendError(res, 413, 'RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
      return;
    }
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch (error) {
        sendError(res, 400, 'InvalidRequestContentException', `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`);
        return;
      }
    }
    if (invocationType === 'DryRun') {
      res.writeHead(204, { 'x-amzn-RequestId': randomUUID() });
      res.end();
      return;
    }
    if (invocationType === 'Event') {
      void invoke(name, event).catch(() => undefined);
      res.writeHead(202, { 'x-amzn-RequestId': randomUUID(), 'Content-Length': 0 });
      res.end();
      return;
    }
    const result = await invoke(name, event);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'x-amzn-RequestId': result.requestId,
      'X-Amz-Executed-Version': '$LATEST',
    };
    if (String(req.headers['x-amz-log-type'] ?? '') === 'Tail') {
      const log = Buffer.from(result.logs, 'utf8');
      headers['X-Amz-Log-Result'] = log.subarray(Math.max(0, log.length - MAX_LOG_RESULT_BYTES)).toString('base64');
    }
    let payload: string;
    if (result.error) {
      headers['X-Amz-Function-Error'] = 'Unhandled';
      payload = JSON.stringify(result.error);
    } else {
      payload = JSON.stringify(result.payload ?? null);
    }
    headers['Content-Length'] = Buffer.byteLength(payload);
    res.writeHead(200, headers);
    res.end(payload);
  } catch (error) {
    if (!res.headersSent) sendError(res, 500, 'ServiceException', error instanceof Error ? error.message : 'internal error');
    else res.destroy();
  }
}
