import { APIGatewayClient, GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { DynamoAccountStore, type AccountStore } from '#shared/accounts';
import {
  InvalidPeriodError,
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
import { documentClient } from '#shared/clients';
import { readPlanEntries } from '#shared/ledger';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { planCatalog, usagePlanLookup, type Plan } from '#shared/plans';

/**
 * The billing-close workflow's task function (lambda:invoke), two actions:
 *   {action: "resolve-period", period?, input?: {period?}, asOf}  → the period to close: the given one (top level,
 *        or in `input`, the workflow's own input), else the month before asOf
 *   {action: "close", userId, period}  → writes the user's STATEMENT entry for the period, once
 *   {action: "final", userId, closedAt}  → the offboarding workflow's final statement: records ACCOUNT_CLOSED at
 *        closedAt (once), then writes the statement of the month before closedAt if it is missing (a close not yet
 *        run; skipped when nothing is billed in it) and the closing month's, prorated to the closing (by day)
 * Errors are thrown by name for the workflow's Retry/Catch: InvalidPeriod, InvalidEvent.
 */

/** A malformed event: a bug in the workflow definition, not something to retry. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEvent';
}

const period = z.string().check(z.regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Must be YYYY-MM'));

const resolvePeriodEvent = z.object({
  action: z.literal('resolve-period'),
  period: z.optional(period),
  /** The workflow's own input, passed whole by billing-close (`"input.$": "$"`): `{}` or `{"period": "YYYY-MM"}`. */
  input: z.optional(z.object({ period: z.optional(period) })),
  asOf: z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' }),
});

const closeEvent = z.object({
  action: z.literal('close'),
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
  period,
});

const finalEvent = z.object({
  action: z.literal('final'),
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
  closedAt: z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' }),
});

export const statementEvent = z.discriminatedUnion('action', [resolvePeriodEvent, closeEvent, finalEvent]);
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

export interface BillingStore {
  planEntries(userId: string): Promise<LedgerEntry[]>;
  /** Writes the entry unless one with its id exists: false then. */
  putIfAbsent(entry: StatementEntry | ClosedEntry): Promise<boolean>;
}

export interface UsageReader {
  /** Requests of `keyId` in `usagePlanId` over the days (`YYYY-MM-DD`, inclusive); 0 when the key is gone. */
  requests(usagePlanId: string, keyId: string, from: string, to: string): Promise<number>;
}

export interface StatementDeps {
  accounts: AccountStore;
  billing: BillingStore;
  usage: UsageReader;
  usagePlanIdFor: (plan: string) => Promise<string>;
  catalog: readonly Plan[];
  now: () => Date;
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
  return { period: name, periodStart, periodEnd };
}

const DAY_MS = 86_400_000;
const dayOf = (iso: string): string => iso.slice(0, 10);

/**
 * The user's statement for `period`, written once: a rerun of the close (or a retry after a timeout) finds the entry
 * and writes nothing new. Requests are those of the account's current key in the plans the statement bills.
 */
export async function closePeriod(
  deps: StatementDeps,
  userId: string,
  period: string,
  options: { skipEmpty?: boolean } = {},
): Promise<CloseResult> {
  const bounds = periodBounds(period);
  const account = await deps.accounts.get(userId);
  if (!account) return { userId, period, written: false, reason: 'NOT_FOUND' };

  const statement = computeStatement(await deps.billing.planEntries(userId), period, deps.catalog);
  if (options.skipEmpty && statement.lines.length === 0) return { userId, period, written: false, reason: 'EMPTY' };
  let requests = 0;
  if (account.apiKeyId) {
    const lastDay = dayOf(new Date(Date.parse(bounds.periodEnd) - DAY_MS).toISOString());
    for (const plan of new Set(statement.lines.map((line) => line.plan))) {
      const usagePlanId = await deps.usagePlanIdFor(plan);
      requests += await deps.usage.requests(usagePlanId, account.apiKeyId, dayOf(bounds.periodStart), lastDay);
    }
  }

  const entry: StatementEntry = {
    userId,
    entryId: statementEntryId(bounds),
    type: 'STATEMENT',
    ...statement,
    requests,
    createdAt: deps.now().toISOString(),
  };
  if (!(await deps.billing.putIfAbsent(entry))) {
    logger.info('Statement exists already', { period, entryId: entry.entryId });
    return { userId, period, written: false, reason: 'EXISTS' };
  }
  logger.info('Statement written', { period, entryId: entry.entryId, totalCents: statement.totalCents, requests });
  return { userId, period, written: true, totalCents: statement.totalCents };
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
    await closePeriod(deps, userId, currentPeriod(at)),
  ];
  return { userId, closedAt: closed.effectiveAt, statements };
}

export async function handleStatementEvent(
  deps: StatementDeps,
  event: unknown,
): Promise<ResolvedPeriod | CloseResult | FinalResult> {
  const parsed = parseStatementEvent(event);
  switch (parsed.action) {
    case 'resolve-period':
      return resolvePeriod(parsed);
    case 'close':
      return closePeriod(deps, parsed.userId, parsed.period);
    case 'final':
      return finalStatements(deps, parsed.userId, parsed.closedAt);
  }
}

// ---------------------------------------------------------------------------------------------------- adapters

export class DynamoBillingStore implements BillingStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async planEntries(userId: string): Promise<LedgerEntry[]> {
    return readPlanEntries(this.client, this.tableName, userId);
  }

  async putIfAbsent(entry: StatementEntry | ClosedEntry): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: entry, ConditionExpression: 'attribute_not_exists(entryId)' }),
      );
      return true;
    } catch (error: unknown) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

export class ApiGatewayUsageReader implements UsageReader {
  constructor(private readonly client: APIGatewayClient) {}

  async requests(usagePlanId: string, keyId: string, from: string, to: string): Promise<number> {
    try {
      const { items } = await this.client.send(new GetUsageCommand({ usagePlanId, keyId, startDate: from, endDate: to }));
      return (items?.[keyId] ?? []).reduce((sum, [used]) => sum + (used ?? 0), 0);
    } catch (error: unknown) {
      // The key was deleted (rotated) or is no longer in this plan: no usage to report for it.
      if (error instanceof Error && error.name === 'NotFoundException') {
        logger.warn('No usage for the key in this plan', { usagePlanId, keyId });
        return 0;
      }
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------------- wiring

const apiGateway = new APIGatewayClient({ maxAttempts: 3 });
const usagePlanIdFor = usagePlanLookup(requireEnv('USAGE_PLAN_NAME_PREFIX'), (position) =>
  apiGateway.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) })),
);

export const deps: StatementDeps = {
  accounts: new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE')),
  billing: new DynamoBillingStore(requireEnv('BILLING_TABLE')),
  usage: new ApiGatewayUsageReader(apiGateway),
  usagePlanIdFor,
  catalog: planCatalog(),
  now: () => new Date(),
};

export const handler = withLambda(
  (event: unknown, _context: Context) => handleStatementEvent(deps, event),
  (event) => {
    const userId = (event as { userId?: unknown } | null)?.userId;
    return typeof userId === 'string' ? userId : undefined;
  },
);
