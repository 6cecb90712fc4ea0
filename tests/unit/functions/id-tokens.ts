/**
 * Cognito ID tokens for the data API unit tests: a local RSA key pair stands in for the user pool's signing key, and
 * the pool's JWKS URL (AWS's form, https://cognito-idp.us-east-1.amazonaws.com/<pool>/.well-known/jwks.json: the unit
 * environment sets no Cognito endpoint) is answered from memory by a spy on `fetch`, so no test touches the network.
 * `viaIdToken(handler)` turns the claims loadEvent gives a data fixture (EXAMPLE_CLAIMS, for its placeholder token) into a
 * signed token in `Authorization` and drops `requestContext.authorizer`, as API Gateway passes a method without one.
 */
import { generateKeyPairSync, sign as rsaSign, type KeyObject } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { USER_POOL_CLIENT_IDS, USER_POOL_ID } from './env.ts';
import type { ApiHandler } from './helpers.ts';

export const ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${USER_POOL_ID}`;
export const JWKS_URL = `${ISSUER}/.well-known/jwks.json`;
export const CLIENT_ID = USER_POOL_CLIENT_IDS.split(',')[0] as string;
const KID = 'unit-test-key';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** Another key pair: a token it signs is not the pool's. */
export const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] };

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT signed RS256 with `key` (default the pool's), header kid = the pool key's. */
export function signJwt(payload: Record<string, unknown>, key: KeyObject = privateKey): string {
  const h = b64({ alg: 'RS256', typ: 'JWT', kid: KID });
  const p = b64(payload);
  return `${h}.${p}.${rsaSign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url')}`;
}

/** An ID token of the pool for `claims` (string claims as API Gateway would have passed them), valid for an hour. */
export function idToken(claims: Record<string, unknown>, changes: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ ...claims, iss: ISSUER, aud: CLIENT_ID, token_use: 'id', iat: now, exp: now + 3600, ...changes });
}

let jwksFetches = 0;
/** How many times the pool's JWKS was fetched since the test file started. */
export const jwksFetchCount = (): number => jwksFetches;

/** Serves the pool's JWKS to `fetch` (other URLs go to the real fetch); `unreachable` makes the JWKS URL fail. */
export function serveJwks(opts: { unreachable?: () => boolean } = {}): void {
  const realFetch = globalThis.fetch;
  jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== JWKS_URL) return realFetch(input, init);
    jwksFetches += 1;
    if (opts.unreachable?.()) throw new TypeError('fetch failed');
    return new Response(JSON.stringify(jwks), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
}

/** The event with the fixture's authorizer claims signed into `Authorization` (none without claims), authorizer gone. */
export function signedEvent(event: APIGatewayProxyEvent): APIGatewayProxyEvent {
  const claims = event.requestContext.authorizer?.claims as Record<string, unknown> | undefined;
  const { authorizer: _authorizer, ...requestContext } = event.requestContext;
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'authorization'));
  const multiValueHeaders = Object.fromEntries(Object.entries(event.multiValueHeaders ?? {}).filter(([name]) => name.toLowerCase() !== 'authorization'));
  if (claims !== undefined) {
    const token = idToken(claims);
    headers.Authorization = token;
    multiValueHeaders.Authorization = [token];
  }
  return { ...event, headers, multiValueHeaders, requestContext: requestContext as APIGatewayProxyEvent['requestContext'] };
}

/** The handler, called as API Gateway calls a data method without an authorizer: the claims travel as a signed token. */
export function viaIdToken(handler: ApiHandler): ApiHandler {
  return (event, context) => handler(signedEvent(event), context);
}
