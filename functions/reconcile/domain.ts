import { inOverlap, type Account } from '#shared/accounts';
import { logger } from '#shared/logger';
import { isSelfIssuedKeyId } from '#shared/self-issued-keys';
import type { KeyOwnerRecord } from '#shared/tables/key-owners';
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
 * - KeyMode ApiGateway: the KeyOwners records (functions/shared/tables/key-owners.ts) of every ACTIVE account's keys —
 *   the current key, and a rotated-away key still in its overlap (`notAfter` = `previousKey.expiresAt`) — read in
 *   batches per page. A key without a record (issued before the table existed: the upgrade path) gets one, written
 *   only if still absent (`keysRecorded`); a record whose suspension disagrees with the account's is set right
 *   (`keyRecordsUpdated`). On a suspend or restore both records change after the key and before the account's mark,
 *   so a run that fails between is finished by the next one, and the key-only data API, which reads only the record,
 *   refuses a disabled user's current and rotated-away key alike. Retired records are left alone. If the batch read
 *   fails, that page's suspends and restores still set the records they find, and the next run does the rest.
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
  /** The KeyOwners table (KeyMode ApiGateway); absent in SelfIssued mode, whose key slot ids have no record. */
  keyOwners?: KeyOwnerRecordsDeps;
}

/** What the reconciler does with KeyOwners records (DynamoKeyOwnerRecords). */
export interface KeyOwnerRecordsDeps {
  /** The records of the keys, by key id (batch reads); a key without a record is absent. */
  getMany(apiKeyIds: string[]): Promise<Map<string, KeyOwnerRecord>>;
  /** Writes the record if the key has none; false when one exists. */
  backfill(record: KeyOwnerRecord): Promise<boolean>;
  /** Sets or clears `suspendedAt` on the user's existing record; false when nothing was written. */
  setSuspended(apiKeyId: string, userId: string, suspended: boolean, now: Date): Promise<boolean>;
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
  /** KeyOwners records written for keys that had none (KeyMode ApiGateway). */
  keysRecorded: number;
  /** KeyOwners records whose suspension was set or cleared (a suspend, a restore, or a record out of step). */
  keyRecordsUpdated: number;
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

/** An account key that needs a KeyOwners record: `notAfter` for a rotated-away key in its overlap. */
interface OwnedKey {
  apiKeyId: string;
  notAfter?: string;
}

/** The ACTIVE account's API Gateway keys that admit requests at `now`: its current key and one in its overlap. */
function ownedKeys(account: Account, now: Date): OwnedKey[] {
  if (account.status !== 'ACTIVE' || !account.apiKeyId || isSelfIssuedKeyId(account.apiKeyId)) return [];
  const keys: OwnedKey[] = [{ apiKeyId: account.apiKeyId }];
  const previous = account.previousKey;
  // notAfter as endAt writes it (toISOString, with milliseconds): the records' conditions compare it as a string.
  if (previous !== undefined && inOverlap(account, previous.id, now)) {
    keys.push({ apiKeyId: previous.id, notAfter: new Date(previous.expiresAt).toISOString() });
  }
  return keys;
}

/**
 * Brings the records of the account's keys in line with `suspendedAt` (the account's suspension after this run;
 * undefined: not suspended). `records`: the page's batch read, or undefined when it failed — then only existing records
 * are written (setSuspended leaves a missing one missing) and only when `changed` (a suspend or restore now).
 */
async function syncKeyRecords(
  keyOwners: KeyOwnerRecordsDeps,
  account: Account,
  suspendedAt: string | undefined,
  changed: boolean,
  records: Map<string, KeyOwnerRecord> | undefined,
  now: Date,
  report: ReconcileReport,
): Promise<void> {
  const suspended = suspendedAt !== undefined;
  for (const key of ownedKeys(account, now)) {
    const record = records?.get(key.apiKeyId);
    let write: boolean;
    if (record === undefined && records === undefined) {
      write = changed; // not read: setSuspended writes only a record that exists
    } else if (record === undefined) {
      const recorded = await keyOwners.backfill({
        apiKeyId: key.apiKeyId,
        userId: account.userId,
        createdAt: now.toISOString(),
        ...(key.notAfter === undefined ? {} : { notAfter: key.notAfter }),
        ...(suspendedAt === undefined ? {} : { suspendedAt }),
      });
      if (recorded) {
        report.keysRecorded += 1;
        logger.info('Key recorded in KeyOwners', { userId: account.userId, keyId: key.apiKeyId });
        continue;
      }
      write = suspended || changed; // recorded meanwhile (a rotation, an onboarding), suspension unknown
    } else if (record.userId !== account.userId) {
      logger.warn('KeyOwners record names another user: left alone', { userId: account.userId, keyId: key.apiKeyId });
      continue;
    } else {
      write = record.retiredAt === undefined && (record.suspendedAt !== undefined) !== suspended;
    }
    if (write && (await keyOwners.setSuspended(key.apiKeyId, account.userId, suspended, now))) report.keyRecordsUpdated += 1;
  }
}

async function reconcileOne(
  deps: ReconcileDeps,
  account: Account,
  report: ReconcileReport,
  records: Map<string, KeyOwnerRecord> | undefined,
): Promise<void> {
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
  const changed = user.enabled === suspended;
  const now = new Date(deps.now());
  if (changed) await deps.setKeyEnabled(account.apiKeyId, user.enabled, account.userId);
  if (deps.keyOwners !== undefined) {
    const suspendedAt = user.enabled ? undefined : (account.keySuspendedAt ?? now.toISOString());
    await syncKeyRecords(deps.keyOwners, account, suspendedAt, changed, records, now, report);
  }
  if (changed) {
    await deps.markSuspended(account.userId, account.apiKeyId, !user.enabled);
    if (user.enabled) report.restored += 1;
    else report.suspended += 1;
    logger.info(user.enabled ? 'User enabled: API key restored' : 'User disabled: API key suspended', { userId: account.userId });
  }
}

/** The page's KeyOwners records (one batch read for all its accounts); undefined when there is no table or it failed. */
async function pageRecords(deps: ReconcileDeps, page: Account[]): Promise<Map<string, KeyOwnerRecord> | undefined> {
  if (deps.keyOwners === undefined) return undefined;
  const now = new Date(deps.now());
  const keyIds = page.flatMap((account) => ownedKeys(account, now).map((k) => k.apiKeyId));
  if (keyIds.length === 0) return new Map();
  try {
    return await deps.keyOwners.getMany(keyIds);
  } catch (error: unknown) {
    logger.error('Could not read KeyOwners records: no backfill on this page', { error: error instanceof Error ? error : String(error) });
    return undefined;
  }
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    checked: 0,
    offboarded: 0,
    redriven: 0,
    suspended: 0,
    restored: 0,
    emailsUpdated: 0,
    failed: 0,
    keysRecorded: 0,
    keyRecordsUpdated: 0,
  };
  for await (const page of deps.accounts()) {
    const records = await pageRecords(deps, page);
    for (let i = 0; i < page.length; i += CONCURRENCY) {
      await Promise.all(
        page.slice(i, i + CONCURRENCY).map(async (account) => {
          report.checked += 1;
          try {
            await reconcileOne(deps, account, report, records);
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
