import type { APIGatewayProxyEvent } from 'aws-lambda';
import { inOverlap, readOnce, type Account, type AccountStore } from './accounts.ts';
import { ForbiddenError, ServiceUnavailableError, UnauthorizedError } from './errors.ts';
import { ExpiringMap } from './expiring-map.ts';
import { headerValue } from './http.ts';
import { bearerToken, JwksUnavailableError, TokenExpiredError, type TokenVerifier } from './id-token.ts';
import { selfIssuedCaller, selfIssuedOwnKey, type KeyMode } from './key-mode.ts';

/** Who is calling, from the verified ID token's claims and the API key API Gateway matched. */
export interface Caller {
  userId: string;
  email?: string;
  /** Id of the API key on this request (`requestContext.identity.apiKeyId`). */
  apiKeyId: string;
  /** `custom:apiid` from the ID token: the key id the user had when the token was issued. */
  claimedKeyId?: string;
}

function claim(claims: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = claims?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The signed-in user from the authorizer's claims, for the routes that need no API key (account management, /me*). */
export function userFrom(event: APIGatewayProxyEvent): { userId: string; email?: string } {
  const claims = event.requestContext?.authorizer?.claims as Record<string, unknown> | undefined;
  const userId = claim(claims, 'sub');
  if (!userId) throw new UnauthorizedError();
  const email = claim(claims, 'email');
  return { userId, ...(email ? { email } : {}) };
}

/**
 * The caller of a data API route from the ID token's verified claims and the key API Gateway matched. 401 when the
 * claims carry no `sub`, 403 without a key id.
 */
export function callerFromClaims(claims: Record<string, unknown>, event: APIGatewayProxyEvent): Caller {
  const userId = claim(claims, 'sub');
  if (!userId) throw new UnauthorizedError();
  const apiKeyId = event.requestContext?.identity?.apiKeyId;
  if (!apiKeyId) throw new ForbiddenError('An API key is required');
  const email = claim(claims, 'email');
  const claimedKeyId = claim(claims, 'custom:apiid');
  return { userId, apiKeyId, ...(email ? { email } : {}), ...(claimedKeyId ? { claimedKeyId } : {}) };
}

/**
 * The claims of the Cognito ID token in the request's `Authorization` header (raw or `Bearer <token>`), verified by
 * the function itself: the data API methods' only authorizer is the key-only KeyAuthorizer (template.yaml), so this is
 * the check API Gateway's Cognito authorizer makes on `/me…`, with its answers as our JSON error body. 401 "Unauthorized"
 * without a token or with an invalid one; 401 "The incoming token has expired" (API Gateway's words, code
 * `TokenExpired`) past its `exp`; 503 when the pool's signing keys cannot be fetched (not the caller's fault; API
 * Gateway answers 500 AuthorizerConfigurationException there, a retryable 503 says more).
 */
export async function verifiedClaims(event: APIGatewayProxyEvent, idTokens: TokenVerifier): Promise<Record<string, unknown>> {
  const token = bearerToken(headerValue(event, 'Authorization'));
  if (token === undefined) throw new UnauthorizedError();
  try {
    return await idTokens.verify(token);
  } catch (error) {
    if (error instanceof TokenExpiredError) throw new UnauthorizedError('The incoming token has expired', 'TokenExpired');
    if (error instanceof JwksUnavailableError) {
      throw new ServiceUnavailableError("The user pool's signing keys could not be fetched to verify the ID token; try again later");
    }
    throw new UnauthorizedError();
  }
}

/**
 * The account store of the data functions in `IdTokenAndApiKey` mode, with an in-memory cache per Lambda environment:
 * an account read is trusted for `ttlMs` (KEY_OWNER_FRESHNESS_SECONDS, the same stated freshness as key-only mode's
 * CachedKeyOwners), so a repeat caller within it costs no DynamoDB read. Only found accounts are cached. `forget`
 * drops one entry, so a refusal can be re-checked against a fresh read (assertOwnKey). What a cached entry cannot see
 * is a change made elsewhere within `ttlMs`: a rotation (the old key then passes as current for at most `ttlMs`; its
 * overlap's end, `previousKey.expiresAt`, is compared with the clock on every request, so it is never overrun), a
 * cancelled overlap or a closed account (both disable the key in API Gateway at once, which refuses it before any
 * function runs). Own code: a Map with expiry times, no library needed.
 */
export class CachedAccounts implements AccountStore {
  private readonly accounts: ExpiringMap<string, Account>;

  constructor(
    private readonly inner: AccountStore,
    /** Freshness in milliseconds; 0 reads through every time. */
    private readonly ttlMs: number,
    /** Entries kept at most (oldest dropped first), so memory stays bounded however many users call. */
    maxEntries = 10_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.accounts = new ExpiringMap(maxEntries);
  }

  async get(userId: string): Promise<Account | undefined> {
    const at = this.clock();
    const cached = this.accounts.get(userId, at);
    if (cached !== undefined) return cached;
    const account = await this.inner.get(userId);
    if (account !== undefined) this.accounts.set(userId, account, at + this.ttlMs, at);
    return account;
  }

  /** The account cached for `userId` and still fresh, without reading; undefined when there is none. */
  peek(userId: string): Account | undefined {
    return this.accounts.get(userId, this.clock());
  }

  /** Drops every cached account, as a new Lambda environment starts (tests). */
  clear(): void {
    this.accounts.clear();
  }

  /** Drops the cached account of `userId`; true when there was one. */
  forget(userId: string): boolean {
    return this.accounts.delete(userId);
  }
}

/**
 * A stolen key must not ride someone else's token: the request's key has to be the caller's own, by the account record
 * (authoritative), never by the token's `custom:apiid` alone — a token issued before a rotation names the OLD key,
 * which must stop working when its overlap ends even if the key-retirement workflow disables it late. Accepted: the
 * account's current key (`apiKeyId`), or its rotated-away key (`previousKey`) while `inOverlap` at `now` and the
 * account is not suspended (`keySuspendedAt`: the user is disabled, as DynamoKeyOwners rules in key-only mode);
 * anything else 403. Reads per request, with `accounts` a CachedAccounts (as the functions are deployed): none when the
 * account this Lambda environment read within KEY_OWNER_FRESHNESS_SECONDS (60 s) admits the key, else one GetItem
 * (so a key rotated in within the freshness is admitted at once, and a refusal always rests on a fresh read). With a
 * plain AccountStore: one GetItem per request.
 */
export async function assertOwnKey(caller: Caller, accounts: AccountStore, now = new Date()): Promise<void> {
  // A suspended account's (user disabled) overlap key is refused: the reconciler disables only the current key.
  const owns = (account: Account | undefined) =>
    account?.apiKeyId === caller.apiKeyId || (account?.keySuspendedAt === undefined && inOverlap(account, caller.apiKeyId, now));
  if (accounts instanceof CachedAccounts) {
    if (owns(accounts.peek(caller.userId))) return;
    accounts.forget(caller.userId);
  }
  if (owns(await accounts.get(caller.userId))) return;
  throw new ForbiddenError('The API key does not belong to the signed-in user');
}

/**
 * The caller of a data API route (links, tags) in `IdTokenAndApiKey` mode: a valid ID token (verifiedClaims), and
 * their own API key — checked (assertOwnKey) before any data access. 401 without a valid token, 403 without a key or
 * with someone else's, 503 when the pool's keys are unreachable.
 */
export async function ownKeyCaller(event: APIGatewayProxyEvent, accounts: AccountStore, idTokens: TokenVerifier): Promise<Caller> {
  const caller = callerFromClaims(await verifiedClaims(event, idTokens), event);
  await assertOwnKey(caller, accounts);
  return caller;
}

// ------------------------------------------------------------------------------------------- key-only data API

/**
 * How the data API (links, tags, taglinks) authenticates: the template's `DataApiAuth` parameter, given to the
 * functions as `DATA_API_AUTH`. API Gateway requires the key in both modes (the methods' KeyAuthorizer takes the key
 * only: no key is its 401).
 * `IdTokenAndApiKey`: the function verifies the ID token itself + the caller's own key (ownKeyCaller).
 * `ApiKey`: the key alone — API Gateway verifies it (exists, enabled, in a usage plan) and the function learns the
 * customer from the key's id (keyOnlyCaller).
 */
export type DataApiAuth = 'ApiKey' | 'IdTokenAndApiKey';

/** `DATA_API_AUTH` as a DataApiAuth; anything else is a deploy mistake and fails at module load. */
export function dataApiAuthFrom(value: string | undefined): DataApiAuth {
  if (value === 'ApiKey' || value === 'IdTokenAndApiKey') return value;
  throw new Error(`DATA_API_AUTH must be ApiKey or IdTokenAndApiKey, not ${String(value)}`);
}

/**
 * Who an API key belongs to now. `until` (epoch ms): when it stops being theirs — a key rotated away with an overlap
 * is the owner's until the overlap ends (`previousKey.expiresAt`); absent for an account's current key.
 */
export interface KeyOwner {
  userId: string;
  until?: number;
}

/**
 * Who owns an API key at `now`: the user whose current key it is, or whose rotated-away key it is while the overlap
 * lasts, unless the key is retired or the user suspended. undefined: no one. Deployed as RecordedKeyOwners (the key's
 * KeyOwners record, ./tables/key-owners.ts) behind CachedKeyOwners.
 */
export interface KeyOwners {
  ownerOf(apiKeyId: string, now: Date): Promise<KeyOwner | undefined>;
}

/**
 * KeyOwners with an in-memory cache per Lambda environment: a repeat caller within `ttlMs` costs no DynamoDB read
 * (one GetItem otherwise, see RecordedKeyOwners). Only found owners are cached, each until `now + ttlMs` or the
 * owner's `until`, whichever comes first: a rotated-away key is refused from the instant its overlap ends, even if
 * the retirement workflow runs late. A key id names one key of one user for its whole life (keys are created per user
 * and never reassigned), so a cached owner cannot be the wrong customer. What the cache cannot see is a change made
 * elsewhere before the entry expires: a rotation of a key cached as current (an overlap shorter than `ttlMs` may end
 * first; the retirement then disables the key), a cancelled overlap (DELETE /me/api-key/previous) or a closed account
 * (both disable the key in API Gateway at once, which refuses it with 403 before any function runs). The function's
 * own answer for such a key lags by at most `ttlMs` (the stated freshness, KEY_OWNER_FRESHNESS_SECONDS).
 * Own code: a Map with expiry times, no library needed.
 */
export class CachedKeyOwners implements KeyOwners {
  private readonly owners: ExpiringMap<string, KeyOwner>;

  constructor(
    private readonly inner: KeyOwners,
    /** Freshness in milliseconds; 0 reads through every time. */
    private readonly ttlMs: number,
    /** Entries kept at most (oldest dropped first), so memory stays bounded however many keys call. */
    maxEntries = 10_000,
  ) {
    this.owners = new ExpiringMap(maxEntries);
  }

  async ownerOf(apiKeyId: string, now: Date): Promise<KeyOwner | undefined> {
    const at = now.getTime();
    const cached = this.owners.get(apiKeyId, at);
    if (cached !== undefined) return cached;
    const owner = await this.inner.ownerOf(apiKeyId, now);
    if (owner !== undefined) this.owners.set(apiKeyId, owner, Math.min(at + this.ttlMs, owner.until ?? Infinity), at);
    return owner;
  }
}

/**
 * The caller of a data API route in key-only mode: the owner of the key API Gateway verified
 * (`requestContext.identity.apiKeyId`: API Gateway sets `$context.identity.apiKeyId` for a request to a method that
 * requires an API key — API Gateway Developer Guide, "$context variables for data models, authorizers, mapping
 * templates, and access logging"; the offline execute-api sets it in handlers/api-key.ts the same way). 403 without a
 * key id, or when no account holds the key at `now`: neither current nor in its overlap (rotated away and past its
 * expiry, overlap cancelled, account closed), so an old key is never resurrected.
 */
export async function keyOnlyCaller(event: APIGatewayProxyEvent, owners: KeyOwners, now = new Date()): Promise<Caller> {
  const apiKeyId = event.requestContext?.identity?.apiKeyId;
  if (!apiKeyId) throw new ForbiddenError('An API key is required');
  const owner = await owners.ownerOf(apiKeyId, now);
  if (owner === undefined) throw new ForbiddenError('The API key belongs to no active account');
  return { userId: owner.userId, apiKeyId };
}

/** What a data API function needs to know its caller in either mode. */
export interface DataApiCallerDeps {
  accounts: AccountStore;
  /** Required when `dataApiAuth` is `ApiKey`. */
  keyOwners?: KeyOwners;
  /** Required when `dataApiAuth` is `IdTokenAndApiKey`: the pool's ID token verifier (functions/shared/id-token.ts). */
  idTokens?: TokenVerifier;
  /** Default `IdTokenAndApiKey`. */
  dataApiAuth?: DataApiAuth;
  /** Default `ApiGateway`. */
  keyMode?: KeyMode;
}

/**
 * The caller resolution of the deployed mode: keyOnlyCaller (`ApiKey`) or ownKeyCaller (`IdTokenAndApiKey`); with
 * KeyMode SelfIssued the customer KeyAuthorizerFunction verified (./key-mode.ts), and with an ID token too, the
 * token's user must be that customer.
 */
export function dataApiCaller(deps: DataApiCallerDeps): (event: APIGatewayProxyEvent) => Promise<Caller> {
  if (deps.keyMode === 'SelfIssued') {
    if (deps.dataApiAuth === 'ApiKey') return (event) => Promise.resolve(selfIssuedCaller(event));
    const verifier = deps.idTokens;
    if (!verifier) throw new Error('dataApiCaller: IdTokenAndApiKey mode needs idTokens');
    return async (event) => selfIssuedOwnKey(event, claim(await verifiedClaims(event, verifier), 'sub'));
  }
  if (deps.dataApiAuth === 'ApiKey') {
    const owners = deps.keyOwners;
    if (!owners) throw new Error('dataApiCaller: ApiKey mode needs keyOwners');
    return (event) => keyOnlyCaller(event, owners);
  }
  const idTokens = deps.idTokens;
  if (!idTokens) throw new Error('dataApiCaller: IdTokenAndApiKey mode needs idTokens');
  return (event) => ownKeyCaller(event, deps.accounts, idTokens);
}

/**
 * The signed-in user of an account route (`/me…`), from the ID token alone: account management needs no API key (the
 * template's /me… routes are `ApiKeyRequired: false`), so it never spends the customer's quota, and any `x-api-key`
 * sent along is ignored; the routes only ever act on the account of the token's `sub`. `accounts` reads the account
 * at most once per request. 401 without a token.
 */
export function accountCaller(event: APIGatewayProxyEvent, accounts: AccountStore): { userId: string; email?: string; accounts: AccountStore } {
  return { ...userFrom(event), accounts: readOnce(accounts) };
}
