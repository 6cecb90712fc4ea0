import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import type { Account, AccountStore } from '#shared/accounts';
import { userFrom } from '#shared/caller';
import { BadRequestError, NotFoundError } from '#shared/errors';
import { json, parseBody, type Routes } from '#shared/http';
import { logger } from '#shared/logger';
import { offboardingExecutionName } from '#shared/workflows';

/** `GET /me`: the caller's own account. `DELETE /me`: close it (the offboarding workflow). */

export interface AccountView {
  email?: string;
  plan?: string;
  status: Account['status'];
  apiKeyId?: string;
  createdAt?: string;
  updatedAt?: string;
  failureReason?: string;
  /** Present while the user is disabled in the pool: the key is suspended. */
  keySuspendedAt?: string;
}

export function accountView(account: Account): AccountView {
  return {
    email: account.email,
    plan: account.plan,
    status: account.status,
    apiKeyId: account.apiKeyId,
    createdAt: account.createdAt,
    updatedAt: account.updatedAt,
    ...(account.status === 'FAILED' && account.failureReason ? { failureReason: account.failureReason } : {}),
    ...(account.keySuspendedAt ? { keySuspendedAt: account.keySuspendedAt } : {}),
  };
}


/**
 * The caller's sign-in address as their ID token states it, when Cognito marks it verified (the REST authorizer
 * renders claims as text: `email_verified` is `"true"`). The pool applies an email change only once the new address is
 * verified (UserAttributeUpdateSettings), so a token issued after the verification carries the new address at once,
 * while the account record follows at the reconciler's next pass (functions/reconcile).
 */
export function verifiedEmailOf(event: APIGatewayProxyEvent): string | undefined {
  const claims = event.requestContext?.authorizer?.claims as Record<string, unknown> | undefined;
  const email = claims?.email;
  return claims?.email_verified === 'true' && typeof email === 'string' && email !== '' ? email : undefined;
}

/**
 * The caller's own account, with the ID token alone (no API key): during onboarding there is no key yet, and a FAILED
 * onboarding has none — that is exactly when a customer needs to see the status and the reason. `email` is the
 * token's verified address (see verifiedEmailOf), else the record's.
 */
export async function getMe(event: APIGatewayProxyEvent, accounts: AccountStore): Promise<AccountView> {
  const user = userFrom(event);
  const account = await accounts.get(user.userId);
  if (!account) throw new NotFoundError('No account yet: onboarding has not recorded one for this user');
  const email = verifiedEmailOf(event);
  return { ...accountView(account), ...(email ? { email } : {}) };
}

/** `DELETE /me` body: the account's own email, typed again, so a stray request cannot close an account. */
export const deleteMeBody = z.strictObject({ confirm: z.string().check(z.minLength(1), z.maxLength(320)) });

export interface Deletion {
  status: 'CLOSING';
  executionName: string;
  message: string;
}

export interface MeDeps {
  accounts: AccountStore;
  /** Starts `offboard-<sub>` with reason SELF_SERVICE; false when it exists already. */
  offboard(userId: string): Promise<boolean>;
}

/**
 * Deletes the caller's account: the offboarding workflow disables the key at once, writes the final statement, deletes
 * the key and the Cognito user, and marks the account CLOSED. 202 (the execution is started and saved); asking again
 * answers the same. Errors: 400 when `confirm` is not the account's email (case-insensitive), 401 without a token.
 */
export async function deleteMe(event: APIGatewayProxyEvent, deps: MeDeps): Promise<Deletion> {
  const user = userFrom(event);
  const { confirm } = parseBody(event, deleteMeBody);
  const email = user.email ?? (await deps.accounts.get(user.userId))?.email;
  if (!email || confirm.trim().toLowerCase() !== email.toLowerCase()) {
    throw new BadRequestError('Invalid body: confirm: must be the email of the account being deleted', {
      issues: [{ field: 'confirm', message: 'Must be the email of the account being deleted' }],
    });
  }
  const started = await deps.offboard(user.userId);
  const executionName = offboardingExecutionName(user.userId);
  logger.info(started ? 'Account deletion started' : 'Account deletion already started', { executionName });
  return {
    status: 'CLOSING',
    executionName,
    message: 'Your account is being deleted: the API key stops working now, and a final statement is written',
  };
}

export function meRoutes(deps: MeDeps): Routes {
  return {
    'GET /me': async ({ event }) => json(200, await getMe(event, deps.accounts), { 'Cache-Control': 'no-store' }),
    'DELETE /me': async ({ event }) => json(202, await deleteMe(event, deps)),
  };
}
