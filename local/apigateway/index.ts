/**
 * Offline API Gateway control plane (API keys, usage plans from the template, usage plan keys, usage, tags) and the
 * key gate the offline data plane uses to resolve `x-api-key` values and apply throttling and quotas.
 * See README.md for the AWS behaviour it reproduces and what it leaves out.
 */
import type { KeyGate, Listener, TemplateApiKeySpec, UsagePlanSpec } from '../types.ts';
import type { FaultHook } from './faults.ts';
import { ApiKeyGate } from './gate.ts';
import { createControlPlaneListener } from './http.ts';
import { managementApiLimits, type ManagementApiLimits } from './limits.ts';
import { ApiGatewayStore } from './store.ts';

export { ApiGatewayError, ERROR_STATUS } from './errors.ts';
export { FaultInjector, type FaultHook } from './faults.ts';
export { ApiKeyGate } from './gate.ts';
export { AWS_MANAGEMENT_API_LIMITS, ManagementApiLimiter, NO_MANAGEMENT_API_LIMITS, managementApiLimits, type ManagementApiLimits } from './limits.ts';
export { createControlPlaneListener, type ListenerOptions } from './http.ts';
export { periodOf, dayKey, parseDayKey, type Period } from './periods.ts';
export { ApiGatewayStore, type ApiGatewayStoreOptions, type CreateApiKeyInput, type DailyUsage, type KeyUsageReport, type PatchOperation } from './store.ts';

export interface ApiGatewayControlPlaneOptions {
  /** State directory; state is kept under `<dir>/apigateway/`. */
  dir: string;
  /** Usage plans from template.yaml: the only plans there are (CreateUsagePlan & co. answer BadRequestException). */
  usagePlans: UsagePlanSpec[];
  /** API keys from template.yaml (AWS::ApiGateway::ApiKey), created if absent and put in their usage plans. */
  apiKeys?: TemplateApiKeySpec[];
  /** One line per request (method, path, status, operation, duration); never key values or bodies. */
  log?: (line: string) => void;
  /** Clock for createdDate/lastUpdatedDate, quota periods, token buckets and usage days. */
  now?: () => Date;
  /**
   * The management API's limits: AWS's by default (10 requests/s with a burst of 40 for all operations together;
   * CreateApiKey and DeleteApiKey 5/s), `'off'` for none. Over a limit: TooManyRequestsException, 429, Retry-After.
   */
  managementApiLimits?: ManagementApiLimits | 'off';
  /** CreateApiKey's own rate (and burst) per second, on top of `managementApiLimits`. `Infinity` lifts only that one. */
  createApiKeyRateLimit?: number;
  /** Clock of the management API limits' token buckets, in ms (default: performance.now; tests freeze it). */
  limitsClock?: () => number;
  /** Fault injection: asked before each operation; an error name makes that call fail with that AWS error. */
  faults?: FaultHook;
  /** Debounce for the data plane's usage counts in ms (default 100); control-plane writes are saved before their 2xx. */
  persistDelayMs?: number;
  /** API keys per account (AWS: 10,000, fixed); beyond it CreateApiKey answers LimitExceededException. */
  maxApiKeys?: number;
}

export interface ApiGatewayControlPlane {
  listener: Listener;
  gate: KeyGate & ApiKeyGate;
  store: ApiGatewayStore;
  /** Writes pending state. Close the HTTP server first; the listener must not be used afterwards. */
  close(): Promise<void>;
}

export async function createApiGatewayControlPlane(opts: ApiGatewayControlPlaneOptions): Promise<ApiGatewayControlPlane> {
  const store = await ApiGatewayStore.open({
    dir: opts.dir,
    usagePlans: opts.usagePlans,
    now: opts.now,
    log: opts.log,
    persistDelayMs: opts.persistDelayMs,
    maxApiKeys: opts.maxApiKeys,
  });
  for (const key of opts.apiKeys ?? []) store.ensureTemplateApiKey(key);
  const gate = new ApiKeyGate(store, { now: opts.now });
  const listener = createControlPlaneListener({
    store,
    log: opts.log,
    limits: managementApiLimits(opts.managementApiLimits, opts.createApiKeyRateLimit),
    ...(opts.limitsClock ? { clock: opts.limitsClock } : {}),
    faults: opts.faults,
  });
  let closing: Promise<void> | undefined;
  return {
    listener,
    gate,
    store,
    close: () => (closing ??= store.flush()),
  };
}
