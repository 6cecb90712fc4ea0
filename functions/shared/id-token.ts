/**
 * Verifies Cognito ID tokens the way API Gateway's COGNITO_USER_POOLS authorizer does (no OAuth scopes on the
 * method, so only ID tokens pass): RS256 signature against the pool's JWKS, `iss` equal to the pool, `aud` one of
 * its app clients, `token_use` = "id", not expired
 * (Amazon Cognito Developer Guide, "Verifying JSON web tokens":
 * https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html).
 * One module for both users: the data API functions (links, tags) verify the token themselves in `IdTokenAndApiKey`
 * mode (functions/shared/caller.ts), and the offline API Gateway's Cognito authorizer (local/execute-api) for the
 * `/me…` routes; the issuer is formed once, by cognitoIssuer.
 *
 * Built on AWS's aws-jwt-verify. Its JwtRsaVerifier, not CognitoJwtVerifier: the latter derives the issuer from a
 * real user pool id (https://cognito-idp.<region>.amazonaws.com/<poolId>), while cognito-local's issuer is its own
 * http://127.0.0.1:<port>/<poolId>; token_use is then a customJwtCheck, as the library's README suggests for other
 * IDPs. The library's default fetcher speaks https only, so the JWKS is fetched with Node's fetch (jwksFetcher below);
 * the library caches the JWKS per verifier, so a Lambda environment fetches it once (again only for an unknown kid).
 * Kept here, before and after the library: the header checks that must not cost a JWKS fetch (alg, crit, kid, and
 * segments that are strict base64url), and the claim checks against an injectable clock (exp, nbf), which the
 * library reads from Date.now().
 */
import { JwtRsaVerifier } from 'aws-jwt-verify';
import { FetchError, JwksValidationError, JwtExpiredError } from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { Fetcher } from 'aws-jwt-verify/https';

/** Verifies a Cognito ID token; resolves to its claims or rejects (TokenExpiredError, TokenInvalidError, JwksUnavailableError). */
export interface TokenVerifier {
  verify(token: string): Promise<Record<string, unknown>>;
}

/**
 * The `iss` Cognito puts in a user pool's tokens: the Cognito user pools endpoint, `/`, the pool id —
 * `https://cognito-idp.<Region>.amazonaws.com/<userPoolId>` in AWS ("Verifying JSON web tokens", step "The iss
 * claim should match your user pool"). `endpoint`: `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` when set and not
 * empty (the offline stack's cognito-local, whose IssuerDomain is that same URL), else the Region's endpoint.
 * A trailing slash on the endpoint is ignored. Throws when neither an endpoint nor a Region is given.
 */
export function cognitoIssuer(userPoolId: string, endpoint: string | undefined, region: string | undefined): string {
  const base = endpoint !== undefined && endpoint !== '' ? endpoint.replace(/\/+$/, '') : region ? `https://cognito-idp.${region}.amazonaws.com` : undefined;
  if (base === undefined) throw new Error('cognitoIssuer: neither a Cognito endpoint nor a Region');
  return `${base}/${userPoolId}`;
}

/** The pool's JWKS URL for an issuer (Cognito serves it at `<iss>/.well-known/jwks.json`). */
export const jwksUrlOf = (issuer: string): string => `${issuer}/.well-known/jwks.json`;

/**
 * The token of an `Authorization` header as the Cognito authorizer reads it: the raw token or `Bearer <token>`
 * (any case, surrounding spaces trimmed). undefined when absent or empty.
 */
export function bearerToken(header: string | undefined): string | undefined {
  let token = (header ?? '').trim();
  if (/^bearer(\s|$)/i.test(token)) token = token.slice(6).trim();
  return token === '' ? undefined : token;
}

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

const JWKS_TIMEOUT_MS = 5_000;
const TOKEN_CACHE_MS = 60_000;
const TOKEN_CACHE_MAX = 10_000;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** aws-jwt-verify's Fetcher over Node's fetch (http too, as cognito-local serves it); failures are JwksUnavailableError. */
const jwksFetcher: Fetcher = {
  async fetch(uri: string): Promise<ArrayBuffer> {
    try {
      const response = await fetch(uri, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${uri}`);
      return await response.arrayBuffer();
    } catch (error) {
      throw new JwksUnavailableError(error instanceof Error ? error.message : String(error));
    }
  },
};

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

/** The header checks made before any key is looked up: a token that fails them never triggers a JWKS fetch. */
function checkShape(token: string): void {
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
  decodeJson(p, 'payload');
  if (Buffer.from(s, 'base64url').length === 0) throw new TokenInvalidError('bad signature');
}

/** The claims aws-jwt-verify leaves to us: token_use, aud's shape, and exp/nbf/iat against `at` (ms). */
function checkClaims(claims: Record<string, unknown>, at: number): void {
  if (claims.token_use !== 'id') throw new TokenInvalidError('not an ID token');
  const aud = claims.aud;
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (auds.length === 0 || auds.some((a) => typeof a !== 'string')) throw new TokenInvalidError('bad aud');
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new TokenInvalidError('no exp');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || at < claims.nbf * 1000)) {
    throw new TokenInvalidError('not yet valid');
  }
  if (claims.iat !== undefined && typeof claims.iat !== 'number') throw new TokenInvalidError('bad iat');
  if (at >= exp * 1000) throw new TokenExpiredError();
}

/** Our error for whatever aws-jwt-verify threw. */
function translate(error: unknown): Error {
  if (error instanceof TokenExpiredError || error instanceof TokenInvalidError || error instanceof JwksUnavailableError) return error;
  if (error instanceof JwtExpiredError) return new TokenExpiredError();
  if (error instanceof FetchError) return new JwksUnavailableError(error.message);
  if (error instanceof JwksValidationError) return new JwksUnavailableError(error.message);
  return new TokenInvalidError(error instanceof Error ? error.message : String(error));
}

/**
 * A TokenVerifier for one pool. `verify(token)` resolves to the token's claims (sub, email, custom:apiid, ...);
 * rejects with TokenExpiredError (past `exp`), TokenInvalidError (anything else wrong with the token) or
 * JwksUnavailableError (the pool's keys could not be fetched). Verified tokens are remembered until
 * min(exp, 60 s later), at most 10,000, so a repeat request costs no signature check.
 */
export function createCognitoVerifier(opts: CognitoVerifierOptions): TokenVerifier {
  const now = opts.now ?? Date.now;
  const verifier = JwtRsaVerifier.create(
    {
      issuer: opts.issuer,
      jwksUri: opts.jwksUrl,
      audience: opts.audiences.length > 0 ? opts.audiences : null,
    },
    { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher }) },
  );
  /** Verified tokens → their claims, until min(exp, verification + 60 s). */
  const cache = new Map<string, { claims: Record<string, unknown>; until: number }>();

  return {
    async verify(token: string): Promise<Record<string, unknown>> {
      const at = now();
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (at < hit.until) return hit.claims;
        cache.delete(token);
      }
      checkShape(token);
      let claims: Record<string, unknown>;
      try {
        // token_use and the clock checks as aws-jwt-verify's customJwtCheck, run once signature, iss and aud passed.
        const customJwtCheck = ({ payload }: { payload: object }) => checkClaims(payload as Record<string, unknown>, at);
        claims = (await verifier.verify(token, { customJwtCheck })) as Record<string, unknown>;
      } catch (error) {
        throw translate(error);
      }
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
