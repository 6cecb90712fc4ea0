import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DynamoAccountStore, type Account, type AccountStore } from '#shared/accounts';
import { userFrom } from '#shared/caller';
import { requireEnv } from '#shared/env';
import { NotFoundError } from '#shared/errors';
import { createApiHandler, json, type Routes } from '#shared/http';

/** `GET /me`: the caller's own account. */

export interface AccountView {
  email?: string;
  plan?: string;
  status: Account['status'];
  apiKeyId?: string;
  createdAt?: string;
  updatedAt?: string;
  failureReason?: string;
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
  };
}


/**
 * The caller's own account, with the ID token alone (no API key): during onboarding there is no key yet, and a FAILED
 * onboarding has none — that is exactly when a customer needs to see the status and the reason.
 */
export async function getMe(event: APIGatewayProxyEvent, accounts: AccountStore): Promise<AccountView> {
  const user = userFrom(event);
  const account = await accounts.get(user.userId);
  if (!account) throw new NotFoundError('No account yet: onboarding has not recorded one for this user');
  return accountView(account);
}

export function meRoutes(deps: { accounts: AccountStore }): Routes {
  return {
    'GET /me': async ({ event }) => json(200, await getMe(event, deps.accounts), { 'Cache-Control': 'no-store' }),
  };
}

export const routes = meRoutes({ accounts: new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE')) });

export const handler = createApiHandler(routes);
