import * as z from 'zod/mini';
import type { AccountStore } from '#shared/accounts';
import {
  assertPeriodEnded,
  closedEntryId,
  computeStatement,
  currentPeriod,
  periodBounds,
  previousPeriod,
  statementEntryId,
  type LedgerEntry,
  type PeriodBounds,
  type Statement,
} from '#shared/billing';
import { InvalidEventError, InvalidPeriodError } from '#shared/errors';
import { logger } from '#shared/logger';
import type { Plan } from '#shared/plans';
import type { AccountKey, AccountPage, ScannedAccount } from '#shared/tables/accounts';
import { counterPeriods, countersAsUsage } from '#shared/self-issued-usage';
import type { SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { mergeDays, segmentsOf, type LiveUsage } from '#shared/usage-history';
import {
  closePage,
  closePageEvent,
  periodSchema,
  startClose,
  startCloseEvent,
  type CloseState,
} from './page.ts';

/**
 * The billing-close workflow's task (./handler.ts wires it to DynamoDB and API Gateway), over small interfaces. Actions:
 *   {action: "start-close", input, asOf}  → the workflow's CloseState (./page.ts) from its execution input: `{}` (the
 *        month before asOf), `{period, pageSize?, pagesPerExecution?}`, or `{close: CloseState}` (a continuation)
 *   {action: "close-page", close: CloseState}  → closes one page of accounts, returns the state moved on
 *   {action: "resolve-period", period?, input?: {period?}, asOf}  → the period to close: the given one (top level,
 *        or in `input`, the workflow's own input), else the month before asOf
 *   {action: "close", userId, period}  → writes one user's STATEMENT entry for the period, once
 *   {action: "final", userId, closedAt}  → the offboarding workflow's final statement: records ACCOUNT_CLOSED at
 *        closedAt (once), then writes the statement of the month before closedAt if it is missing (a close not yet
 *        run; skipped when nothing is billed in it) and the closing month's, prorated to the closing (by the second)
 * Errors are thrown by name for the workflow's Retry/Catch: InvalidPeriod, InvalidEvent, and Billing.PeriodNotEnded
 * for a period that has not ended yet (UTC) — by the execution's start for the workflow's actions, now for `close`.
 * For `final` the closing month has ended for that account: it ends at closedAt.
 */


const resolvePeriodEvent = z.object({
  action: z.literal('resolve-period'),
  period: z.optional(periodSchema),
  /** The workflow's own input, passed whole by billing-close (`"input.$": "$"`): `{}` or `{"period": "YYYY-MM"}`. */
  input: z.optional(z.object({ period: z.optional(periodSchema) })),
  asOf: z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' }),
});

const closeEvent = z.object({
  action: z.literal('close'),
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
  period: periodSchema,
});

const finalEvent = z.object({
  action: z.literal('final'),
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
  closedAt: z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' }),
});

export const statementEvent = z.discriminatedUnion('action', [resolvePeriodEvent, closeEvent, finalEvent, startCloseEvent, closePageEvent]);
export type StatementEvent = z.output<typeof statementEvent>;

export type ResolvedPeriod = Omit<PeriodBounds, 'days'>;

/** Carries the userId and period back: the workflow's per-account ResultSelector reads `$.Payload.userId`. */
export type CloseResult = { userId: string; period: string } & (
  | { written: true; totalCents: number }
  | { written: false; reason: 'NOT_FOUND' | 'EXISTS' | 'EMPTY' }
);

export interface StatementEntry extends Statement {
  userId: string;
  entryId: string;
  type: 'STATEMENT';
  requests: number;
  createdAt: string;
}

/** The ledger's record of an account's closing: no plan is charged from `effectiveAt` on. */
export interface ClosedEntry {
  userId: string;
  entryId: string;
  type: 'ACCOUNT_CLOSED';
  effectiveAt: string;
  createdAt: string;
}

/** The Billing table (shared/tables/billing.ts: DynamoLedger). */
export interface BillingStore {
  planEntries(userId: string): Promise<LedgerEntry[]>;
  /** Writes the entry unless one with its id exists: false then. */
  putIfAbsent(entry: StatementEntry | ClosedEntry): Promise<boolean>;
  /** The users among `userIds` who have the entry `entryId` (batch reads). */
  existing(userIds: string[], entryId: string): Promise<Set<string>>;
}

export interface UsageReader {
  /** Requests of `keyId` in `usagePlanId` per day from `from` to `to` (`YYYY-MM-DD`, inclusive); none when it is gone. */
  daily(usagePlanId: string, keyId: string, from: string, to: string): Promise<number[]>;
}

export interface AccountScanner {
  /** One page of the Accounts table, read consistently. */
  scan(limit: number, startKey: AccountKey | undefined): Promise<AccountPage>;
}

export interface StatementDeps {
  accounts: AccountStore;
  scanner: AccountScanner;
  billing: BillingStore;
  usage: UsageReader;
  usagePlanIdFor: (plan: string) => Promise<string>;
  /**
   * KeyMode SelfIssued: the SelfIssuedKeys table, whose counters (KeyAuthorizerFunction's) give the requests instead of
   * usage plans; undefined in the API Gateway key mode.
   */
  selfIssued?: Pick<SelfIssuedKeysStore, 'readCounters'>;
  catalog: readonly Plan[];
  now: () => Date;
  /** Statements computed and written at once within a page. */
  pageConcurrency: number;
}

function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : 'event'}: ${issue.message}`)
    .join('; ');
}

export function parseStatementEvent(event: unknown): StatementEvent {
  const result = statementEvent.safeParse(event);
  if (result.success) return result.data;
  const message = describeIssues(result.error);
  // A bad period or date is the workflow's InvalidPeriod; anything else is a malformed event.
  const aboutPeriod = result.error.issues.every((issue) => issue.path.includes('period') || issue.path[0] === 'asOf');
  throw aboutPeriod ? new InvalidPeriodError(message) : new InvalidEventError(message);
}

export function resolvePeriod(event: {
  period?: string | undefined;
  input?: { period?: string | undefined } | undefined;
  asOf: string;
}): ResolvedPeriod {
  const chosen = event.period ?? event.input?.period ?? previousPeriod(new Date(event.asOf));
  const { period: name, periodStart, periodEnd } = periodBounds(chosen);
  assertPeriodEnded({ period: name, periodEnd }, new Date(event.asOf));
  return { period: name, periodStart, periodEnd };
}

const DAY_MS = 86_400_000;
const dayOf = (iso: string): string => iso.slice(0, 10);

/**
 * The user's statement for `period`, written once: a rerun of the close (or a retry after a timeout) finds the entry
 * and writes nothing new. Requests are the account's in the period with every key and plan it held (as GET /me/usage
 * counts them): its usage history merged with the current key's count in the plans the statement bills (KeyMode
 * SelfIssued: with the authorizer's counters of the period, ../shared/self-issued-usage.ts).
 */
export async function closePeriod(
  deps: StatementDeps,
  userId: string,
  period: string,
  options: StatementOptions = {},
): Promise<CloseResult> {
  const bounds = periodBounds(period);
  // The closing month of a closed account has ended for it: its billing stops at the closing (ACCOUNT_CLOSED).
  if (!options.final) assertPeriodEnded(bounds, deps.now());
  const account = await deps.accounts.get(userId);
  if (!account) return { userId, period, written: false, reason: 'NOT_FOUND' };
  const outcome = await writeStatement(deps, account, bounds, options);
  return { userId, period, ...outcome };
}

export interface StatementOptions {
  /** Write nothing when the period bills no plan (reason EMPTY). */
  skipEmpty?: boolean;
  /** The account's final statement for its closing month (offboarding): written before the month ends. */
  final?: boolean;
}

export type WriteOutcome = { written: true; totalCents: number } | { written: false; reason: 'EXISTS' | 'EMPTY' };

/**
 * Computes the account's statement for the period from its ledger and usage and writes it unless it exists
 * (conditional put): written with the total in cents, or not written because it existed (or billed nothing, with
 * `skipEmpty`).
 */
export async function writeStatement(
  deps: StatementDeps,
  account: Pick<ScannedAccount, 'userId' | 'apiKeyId' | 'usageHistory'>,
  bounds: PeriodBounds,
  options: Pick<StatementOptions, 'skipEmpty'> = {},
): Promise<WriteOutcome> {
  const { userId } = account;
  const { period } = bounds;
  const statement = computeStatement(await deps.billing.planEntries(userId), period, deps.catalog);
  if (options.skipEmpty && statement.lines.length === 0) return { written: false, reason: 'EMPTY' };
  const from = dayOf(bounds.periodStart);
  const lastDay = dayOf(new Date(Date.parse(bounds.periodEnd) - DAY_MS).toISOString());
  const live: LiveUsage[] = [];
  if (deps.selfIssued) {
    // KeyMode SelfIssued: the authorizer's counters of the month (no usage plan holds the customer's requests).
    const counters = await deps.selfIssued.readCounters(userId, counterPeriods(deps.catalog, from, lastDay));
    live.push(countersAsUsage(counters, from, lastDay));
  } else if (account.apiKeyId) {
    for (const plan of new Set(statement.lines.map((line) => line.plan))) {
      const usagePlanId = await deps.usagePlanIdFor(plan);
      live.push({ keyId: account.apiKeyId, usagePlanId, from, used: await deps.usage.daily(usagePlanId, account.apiKeyId, from, lastDay) });
    }
  }
  const requests = mergeDays(segmentsOf(account), live, from, lastDay).reduce((sum, n) => sum + n, 0);

  const entry: StatementEntry = {
    userId,
    entryId: statementEntryId(bounds),
    type: 'STATEMENT',
    ...statement,
    requests,
    createdAt: deps.now().toISOString(),
  };
  if (!(await deps.billing.putIfAbsent(entry))) {
    logger.info('Statement exists already', { userId, period, entryId: entry.entryId });
    return { written: false, reason: 'EXISTS' };
  }
  logger.info('Statement written', { userId, period, entryId: entry.entryId, totalCents: statement.totalCents, requests });
  return { written: true, totalCents: statement.totalCents };
}

/** One page of the close (see ./page.ts), with this module's stores. */
export function closeAccountsPage(deps: StatementDeps, state: CloseState): Promise<CloseState> {
  return closePage(
    {
      scanAccounts: (limit, startKey) => deps.scanner.scan(limit, startKey),
      existingStatements: (userIds, entryId) => deps.billing.existing(userIds, entryId),
      writeStatement: async (account, bounds) => (await writeStatement(deps, account, bounds)).written,
      concurrency: deps.pageConcurrency,
    },
    state,
    statementEntryId(periodBounds(state.period)),
  );
}

export interface FinalResult {
  userId: string;
  closedAt: string;
  statements: CloseResult[];
}

/**
 * An account's last statements, once: ACCOUNT_CLOSED at `closedAt` (conditional put), then the previous month's
 * statement if none was written (a close that had not run yet: closes skip accounts no longer ACTIVE) and the closing
 * month's, both through closePeriod (same ids as a period close: a rerun writes nothing). Called while the key still
 * exists, so the statement's request count can read its usage.
 */
export async function finalStatements(deps: StatementDeps, userId: string, closedAt: string): Promise<FinalResult> {
  const at = new Date(closedAt);
  const closed: ClosedEntry = {
    userId,
    entryId: closedEntryId(at.toISOString()),
    type: 'ACCOUNT_CLOSED',
    effectiveAt: at.toISOString(),
    createdAt: deps.now().toISOString(),
  };
  if (!(await deps.billing.putIfAbsent(closed))) logger.info('Closing recorded already', { entryId: closed.entryId });
  const statements = [
    await closePeriod(deps, userId, previousPeriod(at), { skipEmpty: true }),
    await closePeriod(deps, userId, currentPeriod(at), { final: true }),
  ];
  return { userId, closedAt: closed.effectiveAt, statements };
}

export async function handleStatementEvent(
  deps: StatementDeps,
  event: unknown,
): Promise<ResolvedPeriod | CloseResult | CloseState | FinalResult> {
  const parsed = parseStatementEvent(event);
  switch (parsed.action) {
    case 'resolve-period':
      return resolvePeriod(parsed);
    case 'close':
      return closePeriod(deps, parsed.userId, parsed.period);
    case 'final':
      return finalStatements(deps, parsed.userId, parsed.closedAt);
    case 'start-close':
      return startClose(parsed.input, parsed.asOf);
    case 'close-page':
      return closeAccountsPage(deps, parsed.close);
  }
}
