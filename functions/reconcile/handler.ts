import { AdminGetUserCommand, CognitoIdentityProviderClient, UserNotFoundException } from '@aws-sdk/client-cognito-identity-provider';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { Account } from '#shared/accounts';
import { documentClient } from '#shared/clients';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { startOffboarding } from '#shared/offboarding';

/**
 * The account reconciler (EventBridge Scheduler, every 5 minutes; offline: invoke it, e.g. `npm run invoke --
 * ReconcileAccountsFunction --event events/reconcile-accounts.json`). Cognito has no trigger for AdminDeleteUser or
 * AdminDisableUser (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html
 * lists every trigger), so the system learns of them by asking the pool: for every account not CLOSED,
 * AdminGetUser(Username = sub — accepted for a pool whose usernames are emails,
 * https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminGetUser.html):
 *
 * - UserNotFoundException → start the offboarding workflow `offboard-<sub>` (exactly once: a second start answers
 *   ExecutionAlreadyExists, which is success here).
 *
 * Input: any (the schedule sends `{}`). Output: counts of what it saw and did. Errors: a failure to scan the table is
 * thrown (the next run retries); a failure on one account is logged and counted, and the run goes on.
 */

export interface ReconcileDeps {
  /** Pages of accounts that are not CLOSED. */
  accounts(): AsyncIterable<Account[]>;
  /** The user's state in the pool: undefined when the user does not exist. */
  user(userId: string): Promise<{ enabled: boolean } | undefined>;
  /** Starts offboarding; false when an execution of that name exists already. */
  offboard(userId: string): Promise<boolean>;
}

export interface ReconcileReport {
  checked: number;
  offboarded: number;
  failed: number;
}

/** Accounts checked at once: AdminGetUser is limited to 120 requests/s per account (UserRead) by default. */
export const CONCURRENCY = 8;

async function reconcileOne(deps: ReconcileDeps, account: Account, report: ReconcileReport): Promise<void> {
  const user = await deps.user(account.userId);
  if (user === undefined) {
    const started = await deps.offboard(account.userId);
    if (started) report.offboarded += 1;
    logger.info(started ? 'User deleted: offboarding started' : 'User deleted: offboarding already started', { userId: account.userId });
  }
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, offboarded: 0, failed: 0 };
  for await (const page of deps.accounts()) {
    for (let i = 0; i < page.length; i += CONCURRENCY) {
      await Promise.all(
        page.slice(i, i + CONCURRENCY).map(async (account) => {
          report.checked += 1;
          try {
            await reconcileOne(deps, account, report);
          } catch (error: unknown) {
            report.failed += 1;
            logger.error('Could not reconcile account', { userId: account.userId, error: error instanceof Error ? error : String(error) });
          }
        }),
      );
    }
  }
  logger.info('Reconciled', { ...report });
  return report;
}

// ---------------------------------------------------------------------------------------------------- wiring

const accountsTable = requireEnv('ACCOUNTS_TABLE');
const userPoolId = requireEnv('USER_POOL_ID');
const stateMachineArn = requireEnv('OFFBOARDING_STATE_MACHINE_ARN');
const cognito = new CognitoIdentityProviderClient({ maxAttempts: 5, retryMode: 'adaptive' });
const sfn = new SFNClient({ maxAttempts: 3 });

export const deps: ReconcileDeps = {
  async *accounts() {
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items, LastEvaluatedKey } = await documentClient.send(
        new ScanCommand({
          TableName: accountsTable,
          FilterExpression: '#status <> :closed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':closed': 'CLOSED' },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      yield (Items ?? []) as Account[];
      startKey = LastEvaluatedKey;
    } while (startKey);
  },
  async user(userId) {
    try {
      const user = await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: userId }));
      return { enabled: user.Enabled !== false };
    } catch (error: unknown) {
      if (error instanceof UserNotFoundException) return undefined;
      throw error;
    }
  },
  offboard: (userId) => startOffboarding(sfn, stateMachineArn, userId, 'USER_DELETED'),
};

export const handler = withLambda((_event: unknown, _context: Context) => reconcile(deps));
