/**
 * Verifies Cognito ID tokens the way API Gateway's COGNITO_USER_POOLS authorizer does (no OAuth scopes on the
 * method, so only ID tokens pass): RS256 signature against the pool's JWKS, `iss` equal to the pool, `aud` one of
 * its app clients, `token_use` = "id", not expired.
 *
 * Why node:crypto and not jose: jose 6 ships ESM only, and this project's jest (CommonJS, node_modules not
 * transformed) cannot load it on Node < 24.9, so a verifier built on jose could not be tested for real. The JWKS
 * handling mirrors jose's createRemoteJWKSet (cached, refetched on an unknown `kid` at most every 30 s, refreshed
 * after 10 min); the token checks are the handful Cognito documents. RSA verification is a single crypto.verify.
 */
import { createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { TokenVerifier } from '../types.ts';

/** The token is well formed and signed, but past its `exp`: API Gateway answers "The incoming token has expired". */
export class TokenExpiredError extends Error {
  readonly code = 'TOKEN_EXPIRED';
  constructor() {
    super('The incoming token has expired');
    this.name = 'TokenExpiredError';
  }
}

/** Anything else wrong with the token (shape, algorithm, key, signature, issuer, audience, token_use). */
export class TokenInvalidError extends Error {
  readonly code = 'TOKEN_INVALID';
  constructor(reason: string) {
    super(`Invalid token: ${reason}`);
    this.name = 'TokenInvalidError';
  }
}

/** The pool's JWKS could not be fetched (e.g. cognito-local is not running): a configuration problem, not the caller's. */
export class JwksUnavailableError extends Error {
  readonly code = 'JWKS_UNAVAILABLE';
  constructor(reason: string) {
    super(`JWKS unavailable: ${reason}`);
    this.name = 'JwksUnavailableError';
  }
}

export interface CognitoVerifierOptions {
  /** The pool's issuer, e.g. http://localhost:9229/local_abc (must equal the tokens' `iss` exactly). */
  issuer: string;
  /** Usually `${issuer}/.well-known/jwks.json`. */
  jwksUrl: string;
  /** App client ids of the pool; the token's `aud` must be one of them. Empty = any client of the pool. */
  audiences: string[];
  /** Clock for the token's exp/nbf checks, in milliseconds since the epoch (default Date.now). */
  now?: () => number;
}

const JWKS_MAX_AGE_MS = 10 * 60_000; // jose's createRemoteJWKSet cacheMaxAge
const JWKS_COOLDOWN_MS = 30_000; // jose's cooldownDuration: refetch on an unknown kid at most this often
const JWKS_TIMEOUT_MS = 5_000;
const TOKEN_CACHE_MS = 60_000;
const TOKEN_CACHE_MAX = 10_000;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** The pool's signing keys, fetched lazily and shared by all verifications. */
class RemoteJwks {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;

  constructor(private readonly url: string) {}

  async get(kid: string): Promise<KeyObject | undefined> {
    const now = Date.now();
    if (this.keys.size === 0) {
      await this.refresh(true);
    } else if (now - this.fetchedAt > JWKS_MAX_AGE_MS) {
      await this.refresh(false);
    }
    const key = this.keys.get(kid);
    if (key !== undefined) return key;
    if (Date.now() - this.fetchedAt >= JWKS_COOLDOWN_MS) {
      await this.refresh(false);
      return this.keys.get(kid);
    }
    return undefined;
  }

  /** With `required`, a failed fetch rejects; otherwise the keys already held stay in use. */
  private async refresh(required: boolean): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    try {
      await this.inflight;
    } catch (error) {
      if (required || this.keys.size === 0) throw error;
    }
  }

  private async load(): Promise<void> {
    let body: unknown;
    try {
      const response = await fetch(this.url, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${this.url}`);
      body = await response.json();
    } catch (error) {
      if (this.keys.size > 0) this.fetchedAt = Date.now(); // keep the old keys; retry after the cooldown
      throw new JwksUnavailableError(error instanceof Error ? error.message : String(error));
    }
    const list = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new JwksUnavailableError(`no "keys" array at ${this.url}`);
    const keys = new Map<string, KeyObject>();
    for (const jwk of list as Array<JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown }>) {
      if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string') continue;
      if (jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      if (jwk.alg !== undefined && jwk.alg !== 'RS256') continue;
      try {
        keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
      } catch {
        // an unusable key is skipped, as jose does
      }
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
  }
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new TokenInvalidError(`${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenInvalidError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

export function createCognitoVerifier(opts: CognitoVerifierOptions): TokenVerifier {
  const now = opts.now ?? Date.now;
  const audiences = new Set(opts.audiences);
  const jwks = new RemoteJwks(opts.jwksUrl);
  /** Verified tokens → their claims, until min(exp, verification + 60 s). */
  const cache = new Map<string, { claims: Record<string, unknown>; until: number }>();

  async function verifyUncached(token: string, at: number): Promise<Record<string, unknown>> {
    const parts = token.split('.');
    if (parts.length !== 3) throw new TokenInvalidError('not a JWS compact serialisation');
    const [h, p, s] = parts as [string, string, string];
    if (h === '' || p === '' || !B64URL.test(h) || !B64URL.test(p) || !B64URL.test(s)) {
      throw new TokenInvalidError('malformed segments');
    }
    const header = decodeJson(h, 'header');
    // Only RS256, as Cognito signs: rejects "none", HS256 (the public-key-as-HMAC-secret trick) and the rest.
    if (header.alg !== 'RS256') throw new TokenInvalidError(`alg ${String(header.alg)} not accepted`);
    if (header.crit !== undefined) throw new TokenInvalidError('crit header not supported');
    if (typeof header.kid !== 'string' || header.kid === '') throw new TokenInvalidError('no kid');
    const key = await jwks.get(header.kid);
    if (key === undefined) throw new TokenInvalidError('unknown kid');
    const signature = Buffer.from(s, 'base64url');
    if (signature.length === 0 || !verifySignature('sha256', Buffer.from(`${h}.${p}`), key, signature)) {
      throw new TokenInvalidError('bad signature');
    }
    const claims = decodeJson(p, 'payload');
    if (claims.iss !== opts.issuer) throw new TokenInvalidError('issuer mismatch');
    if (claims.token_use !== 'id') throw new TokenInvalidError('not an ID token');
    const aud = claims.aud;
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (auds.length === 0 || auds.some((a) => typeof a !== 'string')) throw new TokenInvalidError('bad aud');
    if (audiences.size > 0 && !auds.some((a) => audiences.has(a as string))) {
      throw new TokenInvalidError('audience mismatch');
    }
    const exp = claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new TokenInvalidError('no exp');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || at < claims.nbf * 1000)) {
      throw new TokenInvalidError('not yet valid');
    }
    if (claims.iat !== undefined && typeof claims.iat !== 'number') throw new TokenInvalidError('bad iat');
    if (at >= exp * 1000) throw new TokenExpiredError();
    return claims;
  }

  return {
    async verify(token: string): Promise<Record<string, unknown>> {
      const at = now();
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (at < hit.until) return hit.claims;
        cache.delete(token);
      }
      const claims = await verifyUncached(token, at);
      if (cache.size >= TOKEN_CACHE_MAX) {
        // Drop the oldest entry (Map keeps insertion order); the cache only saves work.
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      cache.set(token, { claims, until: Math.min((claims.exp as number) * 1000, at + TOKEN_CACHE_MS) });
      return claims;
    },
  };
}
