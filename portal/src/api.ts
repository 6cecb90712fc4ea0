/**
 * The Tollgate REST API as the portal uses it. The portal's own calls — account management, `/me*` — carry the ID token
 * (`Authorization`) only: those routes need no API key, so they never count toward the customer's quota and usage
 * shows only the customer's own API calls. Only "Try it" (a call to the data API) sends the key too
 * (`authHeaders`). A 401 refreshes the tokens once and retries.
 */
import { NetworkError } from './cognito.ts';
import { sendsIdToken } from './data-api-auth.ts';
import type { PortalConfig } from './config.ts';
import type { SessionStore } from './session.ts';

export interface Plan {
  name: string;
  monthlyPrice: number;
  currency: string;
  rateLimit: number;
  burstLimit: number;
  quotaLimit: number;
  quotaPeriod: string;
}

export type AccountStatus = 'ONBOARDING' | 'ACTIVE' | 'FAILED' | 'CLOSING' | 'CLOSED';

export interface Me {
  email?: string;
  plan?: string;
  status: AccountStatus;
  apiKeyId?: string;
  createdAt?: string;
  updatedAt?: string;
  failureReason?: string;
  /** Present while the user is disabled: the key is suspended. */
  keySuspendedAt?: string;
}

/**
 * The account's key; `value` only when revealed (`GET /me/api-key?reveal=true`, KeyMode ApiGateway). KeyMode
 * SelfIssued answers `issued` (and `hint` once a value was issued) and never a value (functions/account/self-issued.ts):
 * that field is how the portal knows the deployed mode.
 */
export interface ApiKeyInfo {
  id: string;
  plan?: string;
  value?: string;
  /** KeyMode SelfIssued only: whether a value was ever issued (false until the first POST /me/api-key/rotate). */
  issued?: boolean;
  /** KeyMode SelfIssued only: `tg_live_` + the value's next 4 characters, once issued. */
  hint?: string;
  /** When a rotation made the key (ISO 8601); absent for the key onboarding made. SelfIssued: when its value was issued. */
  createdAt?: string;
  /** The rotated-away key while its overlap lasts: when it stops working. */
  previous?: { expiresAt: string; createdAt?: string };
}

export interface ApiKey {
  id: string;
  value: string;
}

/** POST /me/api-key/rotate's answer; in KeyMode SelfIssued the one and only time `value` is sent. */
export interface RotatedKey {
  id: string;
  value: string;
  previousKeyId: string;
  /** With an overlap: when the previous key stops working (ISO 8601). */
  previousKeyExpiresAt?: string;
}

export interface Usage {
  days: { date: string; used: number }[];
  /** `resetsAt`: when the next quota period starts (ISO 8601, UTC). */
  quota: { limit: number; period: string; used: number; remaining: number; periodStart?: string; resetsAt?: string };
}

export interface LedgerEntry {
  entryId?: string;
  type: string;
  plan?: string;
  fromPlan?: string;
  toPlan?: string;
  monthlyPrice?: number;
  toPrice?: number;
  currency?: string;
  effectiveAt?: string;
  period?: string;
  totalCents?: number;
  [field: string]: unknown;
}

export interface StatementLine {
  plan?: string;
  from?: string;
  to?: string;
  /** Whole seconds held. */
  seconds?: number;
  monthlyPrice?: number;
  amountCents: number;
  description?: string;
}

export interface Billing {
  ledger: LedgerEntry[];
  statement: { period?: string; periodStart?: string; periodEnd?: string; lines: StatementLine[]; totalCents: number; currency: string };
}

export type PlanChangeStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface PlanChange {
  executionId?: string;
  status: PlanChangeStatus;
  requestedPlan?: string;
  outcome?: { fromPlan?: string; toPlan?: string; effectiveAt?: string };
  error?: { code?: string; message?: string } | string;
}

/** A 4xx/5xx from the API: `message` is the API's own sentence ({message} in the body), when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RawResponse {
  status: number;
  statusText: string;
  ms: number;
  contentType: string;
  /** Every header the browser lets the page read (CORS: the safelisted ones and Access-Control-Expose-Headers). */
  headers: Record<string, string>;
  body: string;
}

/** Upper bounds of the waits (ms, half of each fixed, half random) before repeating a throttled call: 3 retries. */
export const THROTTLE_RETRY_MS: readonly number[] = [500, 1_000, 2_000];

interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  /** Send the ID token (default true). Never the API key: see the module comment. */
  auth?: boolean;
}

export class ApiClient {
  constructor(
    private readonly config: PortalConfig,
    private readonly session: SessionStore,
  ) {}

  get baseUrl(): string {
    return this.config.apiUrl;
  }

  /** Whether a call to `path` carries the ID token in the deployed mode (config.json dataApiAuth). */
  sendsIdToken(path: string): boolean {
    return sendsIdToken(this.config.dataApiAuth, path);
  }

  /** Headers for a call to `path` ("Try it"): the ID token unless the data API is key-only, the key when the portal has it. */
  async authHeaders(path = '/links'): Promise<Record<string, string>> {
    const headers: Record<string, string> = this.sendsIdToken(path) ? { Authorization: await this.session.idToken() } : {};
    const key = this.session.current()?.apiKey?.value;
    if (key) headers['x-api-key'] = key;
    return headers;
  }

  /** One HTTP exchange, timed; never throws for an HTTP status (the "Try it" page shows whatever came back). */
  async raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.config.apiUrl}${path}`, {
        method,
        headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body } : {}),
        cache: 'no-store',
      });
    } catch {
      throw new NetworkError('api');
    }
    const text = await response.text();
    return {
      status: response.status,
      statusText: response.statusText,
      ms: Math.round(performance.now() - started),
      contentType: response.headers.get('content-type') ?? '',
      headers: Object.fromEntries(response.headers.entries()),
      body: text,
    };
  }

  /**
   * `raw`, repeated after a short wait while the answer is 429. The account routes' stage throttle is shared by every
   * customer, so a 429 there is a moment's congestion, not this customer's limit; a throttled request reached no
   * function, and the writes carry an Idempotency-Key, so repeating is safe.
   */
  private async rawRetryingThrottle(method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
    for (let attempt = 0; ; attempt++) {
      const response = await this.raw(method, path, headers, body);
      const wait = THROTTLE_RETRY_MS[attempt];
      if (response.status !== 429 || wait === undefined) return response;
      await new Promise((resolve) => setTimeout(resolve, wait / 2 + Math.random() * (wait / 2)));
    }
  }

  private async request<T>(method: string, path: string, opts: RequestOptions = {}, retried = false): Promise<T> {
    const headers: Record<string, string> = opts.auth === false ? {} : { Authorization: await this.session.idToken() };
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    const response = await this.rawRetryingThrottle(method, path, headers, opts.body === undefined ? undefined : JSON.stringify(opts.body));
    if (response.status === 401 && opts.auth !== false) {
      // Refused with fresh tokens too: the session is over (e.g. signed out everywhere), not a moment's expiry.
      if (retried) throw this.session.ended();
      await this.session.refresh();
      return this.request<T>(method, path, opts, true);
    }
    let parsed: unknown;
    try {
      parsed = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status >= 400) {
      const body = (parsed ?? {}) as { message?: unknown; Message?: unknown; code?: unknown; details?: unknown };
      const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
      const details = typeof body.details === 'object' && body.details !== null ? (body.details as Record<string, unknown>) : undefined;
      throw new ApiError(response.status, message, typeof body.code === 'string' ? body.code : undefined, details);
    }
    return parsed as T;
  }

  plans(): Promise<{ plans: Plan[] }> {
    return this.request('GET', '/plans', { auth: false });
  }

  me(): Promise<Me> {
    return this.request('GET', '/me');
  }

  /**
   * Token only (no x-api-key needed): answers 409 with `details.status` (NONE, ONBOARDING, FAILED) until onboarding is
   * done. The key id only (cheap: the account record), or with `reveal` its value too.
   */
  apiKey(): Promise<ApiKeyInfo> {
    return this.request('GET', '/me/api-key');
  }

  revealApiKey(): Promise<ApiKey> {
    return this.request('GET', '/me/api-key?reveal=true');
  }

  /**
   * Rotates the key `keyId` (the one the page shows): a rotation that lost a race to another one answers 409. With
   * `overlapSeconds` (at most 86 400) the previous key keeps working that long.
   */
  rotateKey(idempotencyKey: string, keyId?: string, overlapSeconds = 0): Promise<RotatedKey> {
    const body = { ...(keyId ? { keyId } : {}), ...(overlapSeconds > 0 ? { overlapSeconds } : {}) };
    return this.request('POST', '/me/api-key/rotate', { idempotencyKey, ...(Object.keys(body).length > 0 ? { body } : {}) });
  }

  /** Ends a rotation's overlap now: the previous key stops working at once (204; 404 when none is in its overlap). */
  retirePreviousKey(): Promise<void> {
    return this.request('DELETE', '/me/api-key/previous');
  }

  usage(from: string, to: string): Promise<Usage> {
    return this.request('GET', `/me/usage?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  }

  billing(): Promise<Billing> {
    return this.request('GET', '/me/billing');
  }

  changePlan(plan: string, idempotencyKey: string): Promise<{ executionId: string; status: PlanChangeStatus }> {
    return this.request('POST', '/me/plan', { body: { plan }, idempotencyKey });
  }

  /** Token only. `confirm` is the account's email; 202 once the deletion has started. */
  deleteAccount(confirm: string): Promise<{ status: 'CLOSING'; executionName: string; message: string }> {
    return this.request('DELETE', '/me', { body: { confirm } });
  }

  planChange(executionId: string): Promise<PlanChange> {
    return this.request('GET', `/me/plan-changes/${encodeURIComponent(executionId)}`);
  }
}
