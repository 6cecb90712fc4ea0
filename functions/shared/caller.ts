import type { APIGatewayProxyEvent } from 'aws-lambda';
import { inOverlap, readOnce, type AccountStore } from './accounts.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

/** Who is calling, from the Cognito authorizer's claims and the API key API Gateway matched. */
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

export function callerFrom(event: APIGatewayProxyEvent): Caller {
  const claims = event.requestContext?.authorizer?.claims as Record<string, unknown> | undefined;
  const userId = claim(claims, 'sub');
  if (!userId) throw new UnauthorizedError();
  const apiKeyId = event.requestContext?.identity?.apiKeyId;
  if (!apiKeyId) throw new ForbiddenError('An API key is required');
  const email = claim(claims, 'email');
  const claimedKeyId = claim(claims, 'custom:apiid');
  return { userId, apiKeyId, ...(email ? { email } : {}), ...(claimedKeyId ? { claimedKeyId } : {}) };
}

/**
 * A stolen key must not ride someone else's token: the request's key has to be the caller's own.
 * The token's `custom:apiid` settles it cheaply; a token issued before onboarding finished (or before a key
 * rotation) falls back to the account record, which is authoritative. A key rotated away with an overlap stays the
 * caller's own until the overlap ends (`previousKey`): API Gateway still admits it then, and so does this check.
 */
export async function assertOwnKey(caller: Caller, accounts: AccountStore, now = new Date()): Promise<void> {
  if (caller.claimedKeyId !== undefined && caller.claimedKeyId === caller.apiKeyId) return;
  const account = await accounts.get(caller.userId);
  if (account?.apiKeyId !== caller.apiKeyId && !inOverlap(account, caller.apiKeyId, now)) {
    throw new ForbiddenError('The API key does not belong to the signed-in user');
  }
}

/**
 * The caller of a data API route (links, tags): signed in, and using their own API key — checked (assertOwnKey)
 * before any data access. 401 without a token, 403 without a key or with someone else's.
 */
export async function ownKeyCaller(event: APIGatewayProxyEvent, accounts: AccountStore): Promise<Caller> {
  const caller = callerFrom(event);
  await assertOwnKey(caller, accounts);
  return caller;
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
