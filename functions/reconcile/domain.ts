import type { Account } from '#shared/accounts';
import { logger } from '#shared/logger';
import { redriveSuffix } from '#shared/workflows';

/**
 * The account reconciler's decisions (./handler.ts wires them to DynamoDB, Cognito, API Gateway or the SelfIssuedKeys
 * table by KeyMode, and Step Functions)
 * (EventBridge Scheduler, every 5 minutes; offline: invoke it, e.g. `npm run invoke --
 * ReconcileAccountsFunction --event events/reconcile-accounts.json`). Cognito has no trigger for AdminDeleteUser or
 * AdminDisableUser (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html
 * lists every trigger), so the system learns of them by asking the pool: for every account not CLOSED,
 * AdminGetUser(Username = sub — accepted for a pool whose usernames are emails,
 * https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminGetUser.html):
 *
 * - UserNotFoundException → start the offboarding workflow `offboard-<sub>` (exactly once: a second start answers
 *   ExecutionAlreadyExists, which is success here). An account that is still not CLOSED REDRIVE_AFTER_MS after its
 *   last change (an offboarding that failed and left it CLOSING, or an onboarding that finished after it) is offboarded
 *   again as `offboard-<sub>-<12 hex of sha256(updatedAt)>`: every run that sees the same state computes the same name,
 *   so each state gets one more attempt. The same for an account CLOSING whose user still exists (a self-service
 *   deletion that failed before deleting the user). (A start with the name and input of a RUNNING execution returns that
 *   execution: it counts as started, but nothing new runs.)
 * - `Enabled: false` on an ACTIVE account → suspend: the key is disabled and the account records `keySuspendedAt`.
 *   KeyMode ApiGateway: UpdateApiKey `/enabled` `false` (API Gateway then refuses it with 403). KeyMode SelfIssued
 *   (`apiKeyId` is a key slot id `si…`, not an API Gateway key): the customer's slot and current key record are marked
 *   `suspended` (the key authorizer then refuses it with 403; a rotation can no longer swap in a new key). The
 *   authorizer never looks at the user's state, so without this a disabled user's unexpired ID token and key keep
 *   working. While `keySuspendedAt` is set, rotations are refused (403), so no new key works either.
 * - `Enabled: true` on an account with `keySuspendedAt` → restore: the key is enabled again (SelfIssued: slot and
 *   key record `active`) and the mark removed. Key first, mark second, so a run that fails between them is finished by
 *   the next one.
 * - The user's `email` differs from the account's (not CLOSING) → the account takes the pool's. The pool changes a
 *   user's email only once the new address is verified (UserAttributeUpdateSettings AttributesRequireVerificationBeforeUpdate
 *   [email]), and Cognito has no trigger for that verification (PostConfirmation fires for sign-up and password reset
 *   only; CustomMessage_VerifyUserAttribute fires when the code is *sent*, before anything is verified:
 *   https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-message.html), so the record
 *   follows within one pass; GET /me shows the new address at once from the caller's ID token.
 *
 * Input: any (the schedule sends `{}`). Output: counts of what it saw and did. Errors: a failure to scan the table is
 * thrown (the next run retries); a failure on one account is logged and counted, and the run goes on.
 */

export interface ReconcileDeps {
  /** Pages of accounts that are not CLOSED. */
  accounts(): AsyncIterable<Account[]>;
  /** The user's state in the pool: undefined when the user does not exist. */
  user(userId: string): Promise<{ enabled: boolean; email?: string } | undefined>;
  /** Starts offboarding (`redrive`: the re-drive's name suffix); false when an execution of that name exists already. */
  offboard(userId: string, redrive?: string): Promise<boolean>;
  /** Epoch milliseconds. */
  now(): number;
  /** Enables or disables the account's key (`apiKeyId` of `userId`); a key that no longer exists is left alone. */
  setKeyEnabled(apiKeyId: string, enabled: boolean, userId: string): Promise<void>;
  /** Records (`suspended`) or clears the suspension, if the account still is ACTIVE with this key. */
  markSuspended(userId: string, apiKeyId: string, suspended: boolean): Promise<void>;
  /** Writes the pool's (verified) email to the account, unless it is closing or closed; false when it was not written. */
  recordEmail(userId: string, email: string): Promise<boolean>;
}

export interface ReconcileReport {
  checked: number;
  offboarded: number;
  redriven: number;
  suspended: number;
  restored: number;
  /** Accounts whose email now follows the pool's. */
  emailsUpdated: number;
  failed: number;
}

/** Accounts checked at once: AdminGetUser is limited to 120 requests/s per account (UserRead) by default. */
export const CONCURRENCY = 8;

/** Longer than any offboarding takes (seconds; its retry budget is a few minutes): an account still open is stuck. */
export const REDRIVE_AFTER_MS = 15 * 60 * 1000;

/** Starts the re-drive of an account whose offboarding has not closed it REDRIVE_AFTER_MS after its last change. */
async function redriveIfStuck(deps: ReconcileDeps, account: Account, report: ReconcileReport): Promise<void> {
  const changedAt = Date.parse(account.updatedAt ?? '');
  const stuck = Number.isNaN(changedAt) || deps.now() - changedAt > REDRIVE_AFTER_MS;
  if (stuck && (await deps.offboard(account.userId, redriveSuffix(account.updatedAt)))) {
    report.redriven += 1;
    logger.warn('Account still open: offboarding re-driven', { userId: account.userId, status: account.status });
  }
}

async function reconcileOne(deps: ReconcileDeps, account: Account, report: ReconcileReport): Promise<void> {
  const user = await deps.user(account.userId);
  if (user === undefined) {
    if (await deps.offboard(account.userId)) {
      report.offboarded += 1;
      logger.info('User deleted: offboarding started', { userId: account.userId });
      return;
    }
    await redriveIfStuck(deps, account, report);
    return;
  }
  // A self-service deletion that failed before deleting the user: the account says CLOSING.
  if (account.status === 'CLOSING') {
    await redriveIfStuck(deps, account, report);
    return;
  }
  if (user.email !== undefined && user.email !== account.email && (await deps.recordEmail(account.userId, user.email))) {
    report.emailsUpdated += 1;
    logger.info('Email verified in the pool: account updated', { userId: account.userId });
  }
  if (account.status !== 'ACTIVE' || !account.apiKeyId) return;
  const suspended = account.keySuspendedAt !== undefined;
  if (user.enabled === suspended) {
    await deps.setKeyEnabled(account.apiKeyId, user.enabled, account.userId);
    await deps.markSuspended(account.userId, account.apiKeyId, !user.enabled);
    if (user.enabled) report.restored += 1;
    else report.suspended += 1;
    logger.info(user.enabled ? 'User enabled: API key restored' : 'User disabled: API key suspended', { userId: account.userId });
  }
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, offboarded: 0, redriven: 0, suspended: 0, restored: 0, emailsUpdated: 0, failed: 0 };
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
