/**
 * The offline Lambda service: runs the template's functions (their esbuild bundles) in worker threads, each with the
 * function's own environment, and answers Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so
 * cognito-local's triggers, the Step Functions bridge, the gateway, the AWS CLI and SDK all invoke the same way.
 *
 * Two parts: ./pool.ts, each function's execution environments (worker threads running ./worker.cjs), and
 * ./invoke-api.ts, the Invoke API's wire format. This file finds a function by name or ARN and wires them.
 */
import { dirname } from 'node:path';
import { functionEnvironment } from '../endpoints.ts';
import type { FunctionModel } from '../model.ts';
import type { InvokeResult, LambdaInvoker, Listener } from '../types.ts';
import { handleInvokeApi } from './invoke-api.ts';
import { FunctionPool, type InvokeStats } from './pool.ts';

export type { InvokeStats } from './pool.ts';

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
