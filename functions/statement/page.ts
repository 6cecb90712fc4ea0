import * as z from 'zod/mini';
import { assertPeriodEnded, periodBounds, previousPeriod, type PeriodBounds } from '#shared/billing';

/**
 * Billing close, one page at a time. The billing-close workflow keeps a {@link CloseState} as its whole state data:
 * `start-close` makes it from the execution input, each `close-page` closes one page of the Accounts table and moves
 * the cursor, and after `pagesPerExecution` pages the workflow continues as a new execution of itself with the state
 * as input (AWS's "continue as new" pattern), so no execution comes near Step Functions' 25,000-event history quota
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html).
 *
 * Per page an execution records 7 events (Task: Entered, Scheduled, Started, Succeeded, Exited; Choice: Entered,
 * Exited); every retry of a page adds 3 (TaskFailed, TaskScheduled, TaskStarted), at most 6 retries. Hence the
 * worst case of one execution with P pages: 1 + 23 (StartClose) + 25·P + 24 (ContinueAsNew) + 1 ≈ 25·P + 49, i.e.
 * 12,549 events for the default P = 500 and 22,549 for the largest accepted P = 900 — under 25,000 either way.
 */

/** Accounts read per page (DynamoDB Scan `Limit`: items evaluated, before the status filter). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 250;
/** Pages one execution closes before continuing as a new one; see the worst case above. */
export const DEFAULT_PAGES_PER_EXECUTION = 500;
export const MAX_PAGES_PER_EXECUTION = 900;

export type AccountKey = Record<string, string>;

export interface CloseProgress {
  /** Pages closed so far, over every execution of this close. */
  pages: number;
  /** Accounts read (every status). */
  accounts: number;
  /** Accounts billed for the period (see {@link isBilledFor}). */
  billed: number;
  /** Statements written by this close. */
  written: number;
  /** Statements that existed already (an earlier run of the same period wrote them). */
  existing: number;
  /** Executions this close has used so far (1 + continuations). */
  executions: number;
}

/** The workflow's state data between pages. Small: a cursor and counters, never account data. */
export interface CloseState extends Omit<PeriodBounds, 'days'> {
  pageSize: number;
  pagesPerExecution: number;
  /** Where the next page starts (the Scan's LastEvaluatedKey); absent before the first page and after the last. */
  startKey?: AccountKey;
  /** Pages closed by the current execution. */
  executionPages: number;
  progress: CloseProgress;
  /** What the workflow does next: another page, continue as a new execution, or finish. */
  next: 'PAGE' | 'CONTINUE' | 'DONE';
}

/** An Accounts item as the close reads it. */
export interface ScannedAccount {
  userId: string;
  status?: string;
  apiKeyId?: string;
  closedAt?: string;
  /** The keys and plans it left, for the statement's request count (functions/shared/usage-history.ts). */
  usageHistory?: unknown;
}

export interface AccountPage {
  accounts: ScannedAccount[];
  lastEvaluatedKey?: AccountKey;
}

export interface ClosePageDeps {
  /** One page of the Accounts table (consistent Scan). */
  scanAccounts(limit: number, startKey: AccountKey | undefined): Promise<AccountPage>;
  /** The users among `userIds` who already have the statement `entryId`. */
  existingStatements(userIds: string[], entryId: string): Promise<Set<string>>;
  /** Writes one user's statement unless it exists (conditional put): true when written. */
  writeStatement(account: ScannedAccount, bounds: PeriodBounds): Promise<boolean>;
  /** How many statements are computed and written at once within a page. */
  concurrency: number;
}

/**
 * Whether an account gets a statement for the period, by its status: ACTIVE accounts, and CLOSED accounts closed only
 * after the period ended (they were active all through it; the final, prorated statement of the period they closed
 * in is written when they close, so later closes skip them). ONBOARDING and FAILED accounts are skipped. What a
 * statement charges comes from the ledger (computeStatement): a period before the account's first plan is empty.
 */
export function isBilledFor(account: ScannedAccount, bounds: Pick<PeriodBounds, 'periodEnd'>): boolean {
  if (account.status === 'ACTIVE') return true;
  if (account.status === 'CLOSED') {
    return account.closedAt !== undefined && Date.parse(account.closedAt) >= Date.parse(bounds.periodEnd);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------- start-close

export const periodSchema = z.string().check(z.regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Must be YYYY-MM'));
const count = z.int().check(z.minimum(0));

const progressSchema = z.object({
  pages: count,
  accounts: count,
  billed: count,
  written: count,
  existing: count,
  executions: count,
});

const stateSchema = z.object({
  period: periodSchema,
  periodStart: z.string(),
  periodEnd: z.string(),
  pageSize: z.int().check(z.minimum(1), z.maximum(MAX_PAGE_SIZE)),
  pagesPerExecution: z.int().check(z.minimum(1), z.maximum(MAX_PAGES_PER_EXECUTION)),
  startKey: z.optional(z.record(z.string(), z.string())),
  executionPages: count,
  progress: progressSchema,
  next: z.enum(['PAGE', 'CONTINUE', 'DONE']),
});

/**
 * The billing-close execution input: a first run (`period`, `pageSize`, `pagesPerExecution`, each optional), or a
 * continuation carrying the state of the one before (`close`, and the id of the execution that started it). Strict:
 * a misspelt field must not silently close the default period.
 */
const startInput = z.strictObject({
  period: z.optional(periodSchema),
  pageSize: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_PAGE_SIZE))),
  pagesPerExecution: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_PAGES_PER_EXECUTION))),
  close: z.optional(stateSchema),
  AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: z.optional(z.string()),
}, {
  // zod/mini carries no message texts: name the unknown fields.
  error: (issue) => (issue.code === 'unrecognized_keys' ? `Unknown field(s): ${issue.keys.join(', ')}` : undefined),
});

export type StartInput = z.output<typeof startInput>;

export const startCloseEvent = z.object({
  action: z.literal('start-close'),
  /** The workflow's own input, passed whole (`"input.$": "$"`). */
  input: startInput,
  asOf: z.iso.datetime({ offset: true, error: 'Must be an ISO 8601 date-time' }),
});

export const closePageEvent = z.object({
  action: z.literal('close-page'),
  close: stateSchema,
});

const emptyProgress = (): CloseProgress => ({ pages: 0, accounts: 0, billed: 0, written: 0, existing: 0, executions: 0 });

/**
 * The state a billing-close execution starts from. A first run closes `input.period`, or the month before `asOf`
 * (the execution's start: the scheduled run closes the month that just ended); a continuation resumes the state it
 * was given, with its own page count reset. Throws InvalidPeriodError (from periodBounds) for a malformed period,
 * PeriodNotEndedError when the period has not ended at `asOf`.
 */
export function startClose(input: StartInput, asOf: string): CloseState {
  if (input.close) {
    const { period, periodStart, periodEnd } = periodBounds(input.close.period);
    assertPeriodEnded({ period, periodEnd }, new Date(asOf));
    const { startKey, ...rest } = input.close;
    return {
      ...rest,
      period,
      periodStart,
      periodEnd,
      ...(startKey ? { startKey } : {}),
      executionPages: 0,
      progress: { ...input.close.progress, executions: input.close.progress.executions + 1 },
      next: 'PAGE',
    };
  }
  const { period, periodStart, periodEnd } = periodBounds(input.period ?? previousPeriod(new Date(asOf)));
  assertPeriodEnded({ period, periodEnd }, new Date(asOf));
  return {
    period,
    periodStart,
    periodEnd,
    pageSize: input.pageSize ?? DEFAULT_PAGE_SIZE,
    pagesPerExecution: input.pagesPerExecution ?? DEFAULT_PAGES_PER_EXECUTION,
    executionPages: 0,
    progress: { ...emptyProgress(), executions: 1 },
    next: 'PAGE',
  };
}

// ---------------------------------------------------------------------------------------------------- close-page

/** Runs `fn` over `items`, at most `limit` at a time (one small loop: no dependency for it). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Closes one page: reads `pageSize` accounts from the cursor, finds which billed accounts already have the period's
 * statement (one batch read), writes the others' (conditional puts, `concurrency` at a time), and moves the cursor.
 * Safe to repeat: a retried or rerun page writes nothing twice. Errors (after the SDK's own retries) propagate, for
 * the workflow's Retry; nothing of a failed page is lost, its statements are written by the retry or by a rerun.
 */
export async function closePage(deps: ClosePageDeps, state: CloseState, statementEntryId: string): Promise<CloseState> {
  const bounds = periodBounds(state.period);
  const page = await deps.scanAccounts(state.pageSize, state.startKey);
  const billed = page.accounts.filter((account) => isBilledFor(account, bounds));
  const existing = billed.length > 0 ? await deps.existingStatements(billed.map((a) => a.userId), statementEntryId) : new Set<string>();
  const missing = billed.filter((account) => !existing.has(account.userId));
  const written = (await mapLimit(missing, deps.concurrency, (account) => deps.writeStatement(account, bounds))).filter(Boolean).length;

  const executionPages = state.executionPages + 1;
  const { startKey: _previous, ...rest } = state;
  const next = !page.lastEvaluatedKey ? 'DONE' : executionPages >= state.pagesPerExecution ? 'CONTINUE' : 'PAGE';
  return {
    ...rest,
    ...(page.lastEvaluatedKey ? { startKey: page.lastEvaluatedKey } : {}),
    executionPages,
    progress: {
      ...state.progress,
      pages: state.progress.pages + 1,
      accounts: state.progress.accounts + page.accounts.length,
      billed: state.progress.billed + billed.length,
      written: state.progress.written + written,
      existing: state.progress.existing + (billed.length - written),
    },
    next,
  };
}
