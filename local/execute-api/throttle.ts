import { Buckets } from '../token-bucket.ts';

/**
 * Stage-level method throttling (the stage's MethodSettings ThrottlingRateLimit / ThrottlingBurstLimit): one token
 * bucket per route and method, shared by every caller, keyed or not. A bucket starts full (burstLimit tokens) and
 * refills at rateLimit tokens per second, never above burstLimit; each request takes one token, and a request that
 * finds none is answered 429 Too Many Requests by the gateway. This is what guards the routes without an API key, and
 * so without a usage plan throttle: the public /auth/* endpoints and account management (/me*, token only).
 * AWS applies stage and method throttles to all clients of a method together; per-client limits come only from usage
 * plans, per API key (AWS, "Throttle requests to your REST APIs for better throughput in API Gateway",
 * docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html).
 *
 * A setting names a resource path as the template writes it ("/auth/sign-in", "/links/{id}") or "*", and a method or
 * "*". The most specific setting wins: path and method, then path with any method, then any path with the method,
 * then the stage-wide default ("*" / "*"), which gives every method its own bucket at the default limits, as in AWS.
 */
export interface MethodThrottleSpec {
  /** Resource path as in the template (`/auth/sign-in`), or `*` for every resource. */
  path: string;
  /** Upper-case HTTP method, or `*` for every method. */
  method: string;
  rateLimit: number;
  burstLimit: number;
}


export class StageThrottle {
  private readonly settings: MethodThrottleSpec[];
  private readonly buckets = new Buckets();

  constructor(
    settings: readonly MethodThrottleSpec[],
    private readonly now: () => number = Date.now,
  ) {
    this.settings = settings.map((s) => ({ ...s, method: s.method.toUpperCase() }));
  }

  get enabled(): boolean {
    return this.settings.length > 0;
  }

  /** The setting that governs `method` on the resource `resourcePath`, or undefined (unthrottled). */
  settingFor(resourcePath: string, method: string): MethodThrottleSpec | undefined {
    const m = method.toUpperCase();
    const find = (path: string, meth: string) => this.settings.find((s) => s.path === path && s.method === meth);
    return find(resourcePath, m) ?? find(resourcePath, '*') ?? find('*', m) ?? find('*', '*');
  }

  /** Takes a token from the route's bucket; false when there is none (answer 429). */
  admit(resourcePath: string, method: string, nowMs: number = this.now()): boolean {
    const setting = this.settingFor(resourcePath, method);
    if (setting === undefined) return true;
    const limit = { rate: setting.rateLimit, burst: setting.burstLimit };
    return this.buckets.take(`${method.toUpperCase()} ${resourcePath}`, limit, nowMs);
  }

  /** Tokens left in a route's bucket at `nowMs` (tests and diagnostics); undefined before its first request. */
  tokens(resourcePath: string, method: string, nowMs: number = this.now()): number | undefined {
    const setting = this.settingFor(resourcePath, method);
    if (setting === undefined) return undefined;
    return this.buckets.tokens(`${method.toUpperCase()} ${resourcePath}`, { rate: setting.rateLimit, burst: setting.burstLimit }, nowMs);
  }
}
