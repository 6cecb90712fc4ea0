/**
 * The offline Lambda service: runs the template's functions (their esbuild bundles) in worker threads, each with the
 * function's own environment, and answers Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so
 * cognito-local's triggers, the Step Functions bridge, the gateway, the AWS CLI and SDK all invoke the same way.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
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

interface Environment {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
  dead: boolean;
}

interface Pending {
  resolve: (result: InvokeResult) => void;
}

class FunctionPool {
  readonly envs: Environment[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<string, Pending>();
  private nextInstance = 0;

  constructor(
    readonly fn: FunctionModel,
    private readonly file: string,
    private readonly env: Record<string, string>,
    private readonly max: number,
    private readonly stats: InvokeStats,
  ) {}

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
    const environment: Environment = { worker, busy: true, dead: false, ready: Promise.resolve() };
    environment.ready = new Promise<void>((resolve) => {
      worker.once('message', (message: { type: string; initMs: number }) => {
        this.stats.coldStarts++;
        this.stats.initMs.push(message.initMs);
        resolve();
      });
      worker.once('exit', () => resolve());
    });
    worker.on('message', (message: { type: string; requestId: string; payloadJson?: string; error?: InvokeResult['error']; logs: string }) => {
      if (message.type !== 'result') return;
      const pending = this.pending.get(message.requestId);
      if (!pending) return;
      this.pending.delete(message.requestId);
      pending.resolve({
        requestId: message.requestId,
        logs: message.logs,
        ...(message.error ? { error: message.error } : { payload: message.payloadJson === undefined ? null : JSON.parse(message.payloadJson) }),
      });
    });
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      environment.dead = true;
      const index = this.envs.indexOf(environment);
      if (index >= 0) this.envs.splice(index, 1);
      this.release();
    });
    this.envs.push(environment);
    return environment;
  }

  private async acquire(): Promise<Environment> {
    for (;;) {
      const idle = this.envs.find((e) => !e.busy && !e.dead);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.envs.length < this.max) return this.spawn();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(): void {
    this.waiting.shift()?.();
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    const requestId = randomUUID();
    const environment = await this.acquire();
    await environment.ready;
    this.stats.invocations++;
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const result = await new Promise<InvokeResult>((resolve) => {
      const timer = setTimeout(() => {
        // Like Lambda: the sandbox is torn down; the next invocation gets a fresh (cold) one.
        this.pending.delete(requestId);
        environment.dead = true;
        void environment.worker.terminate();
        resolve({
          requestId,
          logs: '',
          error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds` },
        });
      }, timeoutMs);
      timer.unref();
      this.pending.set(requestId, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      if (environment.dead) {
        this.pending.delete(requestId);
        clearTimeout(timer);
        resolve({ requestId, logs: '', error: { errorType: 'Runtime.ExitError', errorMessage: 'The execution environment exited' } });
        return;
      }
      environment.worker.postMessage({ type: 'invoke', requestId, event, deadline });
    });
    environment.busy = false;
    this.release();
    return result;
  }

  async close(): Promise<void> {
    await Promise.all(this.envs.map((e) => e.worker.terminate()));
  }
}

export interface LambdaRuntime extends LambdaInvoker {
  listener: Listener;
  stats: InvokeStats;
  close(): Promise<void>;
}

/** The node_modules folder that plays the part of the Lambda runtime's own (it holds @aws-sdk/*). */
const runtimeModules = dirname(dirname(dirname(require.resolve('@aws-sdk/client-dynamodb/package.json'))));

export function createLambdaRuntime(opts: LambdaRuntimeOptions): LambdaRuntime {
  const stats: InvokeStats = { coldStarts: 0, invocations: 0, initMs: [] };
  const pools = new Map<string, FunctionPool>();
  const byName = new Map<string, FunctionPool>();
  for (const fn of opts.functions) {
    const file = opts.bundles.get(fn.logicalId);
    if (!file) throw new Error(`no bundle for function ${fn.logicalId}`);
    const env = {
      ...opts.baseEnvironment,
      // Like Lambda's NODE_PATH=/var/runtime/node_modules: the runtime provides the AWS SDK the bundles leave external.
      NODE_PATH: runtimeModules,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      ...fn.environment,
    };
    const pool = new FunctionPool(fn, file, env, opts.maxConcurrency ?? 4, stats);
    pools.set(fn.logicalId, pool);
    byName.set(fn.logicalId, pool);
    byName.set(fn.name, pool);
    byName.set(fn.arn, pool);
  }

  const find = (name: string): FunctionPool | undefined => {
    const decoded = decodeURIComponent(name);
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

  const listener: Listener = (req, res) => {
    void handleInvokeApi(req, res, find, invoke);
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

/* ------------------------------------------------------------------ Invoke API (REST-JSON, as the SDK and CLI speak it) */

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': randomUUID(),
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function handleInvokeApi(
  req: IncomingMessage,
  res: ServerResponse,
  find: (name: string) => FunctionPool | undefined,
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
    if (!find(name)) {
      sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${decodeURIComponent(name)}`);
      return;
    }
    const body = await readBody(req);
    if (body === undefined) {
      sendError(res, 413, 'RequestTooLargeException', `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`);
      return;
    }
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        sendError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json: the payload is not valid JSON');
        return;
      }
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') {
      res.writeHead(204, { 'x-amzn-RequestId': randomUUID() });
      res.end();
      return;
    }
    if (invocationType === 'Event') {
      void invoke(name, event).catch(() => undefined);
      res.writeHead(202, { 'x-amzn-RequestId': randomUUID() });
      res.end();
      return;
    }
    if (invocationType !== 'RequestResponse') {
      sendError(res, 400, 'InvalidParameterValueException', `Unsupported invocation type: ${invocationType}`);
      return;
    }
    const result = await invoke(name, event);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'x-amzn-RequestId': result.requestId,
      'X-Amz-Executed-Version': '$LATEST',
    };
    if (String(req.headers['x-amz-log-type'] ?? '') === 'Tail') {
      headers['X-Amz-Log-Result'] = Buffer.from(result.logs.slice(-4096)).toString('base64');
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
