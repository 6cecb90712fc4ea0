/**
 * Step 8, the Lambda proxy integration and its response: invoke the route's function with the event; a function
 * error, an invoker rejection or a malformed proxy response → 502 Internal server error; no answer within the
 * integration timeout (29 s) → 504 Endpoint request timed out. Otherwise the function's status, headers (remapped
 * as API Gateway does, see ./event.ts) and body, with X-Amzn-Trace-Id. (LocalStack: integrations/aws.py.)
 */
import { performance } from 'node:perf_hooks';
import type { LambdaInvoker } from '../../types.ts';
import { routed, type Step } from '../context.ts';
import { mapLambdaResponse } from '../event.ts';
import { GatewayResponseError } from '../responses.ts';

export const invokeIntegration: Step = async (inv, { invoker, integrationTimeoutMs }) => {
  const { route } = routed(inv);
  if (inv.event === undefined || inv.traceId === undefined) throw new Error('the integration request step has not run');
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  let outcome: Awaited<ReturnType<LambdaInvoker['invoke']>> | 'timeout';
  try {
    // One promise settled by whichever comes first (no Promise.race and second promise per request).
    outcome = await new Promise<Awaited<ReturnType<LambdaInvoker['invoke']>> | 'timeout'>((resolve, reject) => {
      timer = setTimeout(resolve, integrationTimeoutMs, 'timeout');
      invoker.invoke(route.functionName, inv.event).then(resolve, reject);
    });
  } catch (error) {
    throw new GatewayResponseError('INTEGRATION_ERROR', `invoking ${route.functionName} failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
    inv.integrationLatency = performance.now() - started;
  }
  if (outcome === 'timeout') {
    throw new GatewayResponseError('INTEGRATION_TIMEOUT', `${route.functionName} did not answer within ${integrationTimeoutMs} ms`);
  }
  if (outcome.durationMs !== undefined) inv.functionDuration = outcome.durationMs;
  if (outcome.queueMs !== undefined) inv.functionQueue = outcome.queueMs;
  if (outcome.error !== undefined) {
    throw new GatewayResponseError('INTEGRATION_ERROR', `${route.functionName}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  }
  const mapped = mapLambdaResponse(outcome.payload);
  if (typeof mapped === 'string') {
    throw new GatewayResponseError(
      'INTEGRATION_ERROR',
      `${route.functionName}: Execution failed due to configuration error: Malformed Lambda proxy response: ${mapped}`,
    );
  }
  mapped.headers['X-Amzn-Trace-Id'] = inv.traceId;
  return { status: mapped.statusCode, headers: mapped.headers, body: mapped.body };
};
