import { APIGatewayClient, GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { BatchGetCommand, PutCommand, ScanCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { DynamoAccountStore, type AccountStore } from '#shared/accounts';
import {
  InvalidPeriodError,
  assertPeriodEnded,
  computeStatement,
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
import {
  closePage,
  closePageEvent,
  periodSchema,
  startClose,
  startCloseEvent,
  type AccountKey,
  type AccountPage,
  type CloseState,
  type ScannedAccount,
} from './page.ts';
import { InvalidEventError } from './errors.ts';

/**
 * The billing-close workflow's task function (lambda:invoke). Actions:
 *   {action: "start-close", input, asOf}  → the workflow's CloseState (./page.ts) from its execution input: `{}` (the
 *        month before asOf), `{period, pageSize?, pagesPerExecution?}`, or `{close: CloseState}` (a continuation)
 *   {action: "close-page", close: CloseState}  → closes one page of accounts, returns the state moved on
 *   {action: "resolve-period", period?, input?: {period?}, asOf}  → the period to close: the given one (top level,
 *        or in `input`, the workflow's own input), else the month before asOf
 *   {action: "close", userId, period}  → writes one user's STATEMENT entry for the period, once
 * Errors are thrown by name for the workflow's Retry/Catch: InvalidPeriod, InvalidEvent, and Billing.PeriodNotEnded
 * for a period that has not ended yet (UTC) — by the execution's start for the workflow's actions, now for `close`.
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

export const statementEvent = z.discriminatedUnion('action', [resolvePeriodEvent, closeEvent, startCloseEvent, closePageEvent]);
export type StatementEvent = z.output<typeof statementEvent>;

export type ResolvedPeriod = Omit<PeriodBounds, 'days'>;

/** Carries the userId and period back: the workflow's per-account ResultSelector reads `$.Payload.userId`. */
export type CloseResult = { userId: string; period: string } & (
  | { written: true; totalCents: number }
  | { written: false; reason: 'NOT_FOUND' | 'EXISTS' }
);

export interface StatementEntry extends Statement {
  userId: string;
  entryId: string;
  type: 'STATEMENT';
  requests: number;
  createdAt: string;
}

export interface BillingStore {
  planEntries(userId: string): Promise<LedgerEntry[]>;
  /** Writes the entry unless one with its id exists: false then. */
  putIfAbsent(entry: StatementEntry): Promise<boolean>;
  /** The users among `userIds` who have the entry `entryId` (batch reads). */
  existing(userIds: string[], entryId: string): Promise<Set<string>>;
}

export interface UsageReader {
  /** Requests of `keyId` in `usagePlanId` over the days (`YYYY-MM-DD`, inclusive); 0 when the key is gone. */
  requests(usagePlanId: string, keyId: string, from: string, to: string): Promise<number>;
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
 * and writes nothing new. Requests are those of the account's current key in the plans the statement bills.
 */
export async function closePeriod(deps: StatementDeps, userId: string, period: string): Promise<CloseResult> {
  const bounds = periodBounds(period);
  assertPeriodEnded(bounds, deps.now());
  const account = await deps.accounts.get(userId);
  if (!account) return { userId, period, written: false, reason: 'NOT_FOUND' };
  const written = await writeStatement(deps, account, bounds);
  return written === undefined ? { userId, period, written: false, reason: 'EXISTS' } : { userId, period, written: true, totalCents: written };
}

/**
 * Computes the account's statement for the period from its ledger and usage and writes it unless it exists
 * (conditional put). Resolves with the total in cents when written, undefined when it existed.
 */
export async function writeStatement(
  deps: StatementDeps,
  account: Pick<ScannedAccount, 'userId' | 'apiKeyId'>,
  bounds: PeriodBounds,
): Promise<number | undefined> {
  const { userId } = account;
  const { period } = bounds;
  const statement = computeStatement(await deps.billing.planEntries(userId), period, deps.catalog);
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
    logger.info('Statement exists already', { userId, period, entryId: entry.entryId });
    return undefined;
  }
  logger.info('Statement written', { userId, period, entryId: entry.entryId, totalCents: statement.totalCents, requests });
  return statement.totalCents;
}

/** One page of the close (see ./page.ts), with this module's stores. */
export function closeAccountsPage(deps: StatementDeps, state: CloseState): Promise<CloseState> {
  return closePage(
    {
      scanAccounts: (limit, startKey) => deps.scanner.scan(limit, startKey),
      existingStatements: (userIds, entryId) => deps.billing.existing(userIds, entryId),
      writeStatement: async (account, bounds) => (await writeStatement(deps, account, bounds)) !== undefined,
      concurrency: deps.pageConcurrency,
    },
    state,
    statementEntryId(periodBounds(state.period)),
  );
}

export async function handleStatementEvent(
  deps: StatementDeps,
  event: unknown,
): Promise<ResolvedPeriod | CloseResult | CloseState> {
  const parsed = parseStatementEvent(event);
  switch (parsed.action) {
    case 'resolve-period':
      return resolvePeriod(parsed);
    case 'close':
      return closePeriod(deps, parsed.userId, parsed.period);
    case 'start-close':
      return startClose(parsed.input, parsed.asOf);
    case 'close-page':
      return closeAccountsPage(deps, parsed.close);
  }
}

// ---------------------------------------------------------------------------------------------------- adapters

/** DynamoDB allows 100 keys per BatchGetItem. */
const BATCH_GET_KEYS = 100;

export class DynamoBillingStore implements BillingStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async planEntries(userId: string): Promise<LedgerEntry[]> {
    return readPlanEntries(this.client, this.tableName, userId);
  }

  async putIfAbsent(entry: StatementEntry): Promise<boolean> {
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

  async existing(userIds: string[], entryId: string): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < userIds.length; i += BATCH_GET_KEYS) {
      let keys: Record<string, unknown>[] = userIds.slice(i, i + BATCH_GET_KEYS).map((userId) => ({ userId, entryId }));
      // UnprocessedKeys (a throttled part of the batch) are asked for again; the SDK backs off between attempts.
      for (let round = 0; keys.length > 0; round += 1) {
        if (round >= 10) throw new Error(`BatchGetItem left ${keys.length} keys unprocessed after ${round} rounds`);
        const result: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'userId' } } }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) found.add(item.userId as string);
        keys = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }
}

export class DynamoAccountScanner implements AccountScanner {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async scan(limit: number, startKey: AccountKey | undefined): Promise<AccountPage> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new ScanCommand({
        TableName: this.tableName,
        Limit: limit,
        ConsistentRead: true,
        ProjectionExpression: 'userId, #status, apiKeyId, closedAt',
        ExpressionAttributeNames: { '#status': 'status' },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    return {
      accounts: (Items ?? []) as ScannedAccount[],
      ...(LastEvaluatedKey ? { lastEvaluatedKey: LastEvaluatedKey as AccountKey } : {}),
    };
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
  scanner: new DynamoAccountScanner(requireEnv('ACCOUNTS_TABLE')),
  billing: new DynamoBillingStore(requireEnv('BILLING_TABLE')),
  usage: new ApiGatewayUsageReader(apiGateway),
  usagePlanIdFor,
  catalog: planCatalog(),
  now: () => new Date(),
  pageConcurrency: 8,
};

export const handler = withLambda(
  (event: unknown, _context: Context) => handleStatementEvent(deps, event),
  (event) => {
    const userId = (event as { userId?: unknown } | null)?.userId;
    return typeof userId === 'string' ? userId : undefined;
  },
);
