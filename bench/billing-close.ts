/**
 * Bench section 5, billing close at scale: 10,000 ACTIVE accounts (each with a PLAN_STARTED ledger entry) seeded
 * straight into DynamoDB with BatchWriteItem, then the billing-close workflow with its defaults, on an offline stack
 * whose Step Functions enforces AWS's 25,000-event history quota. Reported: wall time, statements written, executions
 * used and the largest execution's history; then a rerun of the same period, which must write 0. A second pair of
 * runs lowers pagesPerExecution so that the same close uses several executions (the continuation path at scale).
 *
 * Baseline, measured in the same run: the design this replaced (bench/fixtures/billing-close-inline-map.asl.json: one
 * execution, a Scan loop with an inline Map of one Lambda call per account), run on the same accounts by a second
 * offline Step Functions service with the same quota.
 *
 * The seeded accounts carry no API key: AWS allows 10,000 keys per account and Region, and usage reads (GetUsage,
 * API Gateway's management API at 10 requests/s per account) are not what this section measures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createStepFunctionsService } from '../local/stepfunctions/index.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types.ts';
import { listenerHistory } from '../tests/support/listener-history.ts';
import type { TestStack } from '../local/harness/stack.ts';
import {
  DEFAULT_PAGE_SIZE,
  DEFAULT_PAGES_PER_EXECUTION,
  MAX_PAGES_PER_EXECUTION,
} from '../functions/statement/page.ts';
import { runClose, seedAccounts, tableName, type CloseRun, type SeedAccount } from '../tests/support/billing-close.ts';
import { startBenchStack } from './setup.ts';
import { fmt, heading, table, verdict } from './util.ts';

export const ACCOUNTS = 10_000;
const AWS_HISTORY_QUOTA = 25_000;

/** Events per page (Task 5 + Choice 2) and per retry of a page (TaskFailed, TaskScheduled, TaskStarted), max 6 retries. */
const EVENTS_PER_PAGE = 7;
const EVENTS_PER_RETRY = 3;
const MAX_RETRIES = 6;

export interface CloseBenchRun {
  label: string;
  pagesPerExecution: number;
  wallSeconds: number;
  status: string;
  written: number;
  existing: number;
  pages: number;
  executions: number;
  maxEvents: number;
}

export interface BillingCloseResult {
  accounts: number;
  seedSeconds: number;
  runs: CloseBenchRun[];
  /** The old design (an inline Map, ~7 events per account, one execution), run on the same accounts. */
  baseline: { status: string; error?: string; cause?: string; events: number; accountsClosed: number; wallSeconds: number };
  worstCase100k: { executions: number; nominalEventsPerExecution: number; worstEventsPerExecution: number; maxAcceptedWorstEvents: number };
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
}

/** Events of one execution closing `pages` pages: ExecutionStarted, StartClose, pages, ContinueAsNew (6 with AWS's TaskSubmitted) or Closed, the end. */
export function eventsPerExecution(pages: number, retries: number): number {
  const task = 5 + retries * EVENTS_PER_RETRY;
  return 1 + task + pages * (EVENTS_PER_PAGE + retries * EVENTS_PER_RETRY) + (task + 1) + 1;
}

export async function runBillingClose(say: (line: string) => void): Promise<BillingCloseResult> {
  const t = await startBenchStack();
  try {
    const now = new Date();
    const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const period = periodStart.toISOString().slice(0, 7);
    const startedAt = new Date(periodStart.getTime() - 20 * 86_400_000).toISOString();
    const accounts: SeedAccount[] = Array.from({ length: ACCOUNTS }, (_, n) => ({
      userId: `bench-close-${String(n).padStart(5, '0')}`,
      status: 'ACTIVE',
      plan: n % 3 === 0 ? 'pro' : n % 3 === 1 ? 'basic' : 'free',
      monthlyPrice: n % 3 === 0 ? 99 : n % 3 === 1 ? 19 : 0,
      startedAt,
    }));
    const t0 = performance.now();
    await seedAccounts(t, accounts);
    const seedSeconds = (performance.now() - t0) / 1000;
    say(`  seeded ${ACCOUNTS} accounts and ${ACCOUNTS} ledger entries in ${fmt(seedSeconds, 1)} s`);

    const runs: CloseBenchRun[] = [];
    const measure = async (label: string, name: string, input: { period: string } & Record<string, unknown>, pagesPerExecution: number) => {
      const started = performance.now();
      const run: CloseRun = await runClose(t, name, input, 30 * 60_000);
      const wallSeconds = (performance.now() - started) / 1000;
      const result: CloseBenchRun = {
        label,
        pagesPerExecution,
        wallSeconds,
        status: run.status,
        written: run.output?.progress.written ?? Number.NaN,
        existing: run.output?.progress.existing ?? Number.NaN,
        pages: run.output?.progress.pages ?? Number.NaN,
        executions: run.executions.length,
        maxEvents: Math.max(...run.executions.map((e) => e.events)),
      };
      if (run.status !== 'SUCCEEDED') say(`  ${label}: ${run.status} ${run.error ?? ''} ${run.cause ?? ''}`);
      say(`  ${label}: ${fmt(wallSeconds, 1)} s, ${result.written} written, ${result.executions} execution(s), largest history ${result.maxEvents} events`);
      runs.push(result);
    };
    await measure('(a) close, defaults', `close-${period}-bench`, { period }, DEFAULT_PAGES_PER_EXECUTION);
    await measure('(b) rerun, same period', `close-${period}-bench-rerun`, { period }, DEFAULT_PAGES_PER_EXECUTION);
    // The continuation path at this scale: a second period, 20 pages per execution.
    const earlier = new Date(Date.UTC(periodStart.getUTCFullYear(), periodStart.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    await measure('(c) close, 20 pages/execution', `close-${earlier}-bench`, { period: earlier, pagesPerExecution: 20 }, 20);
    await measure('(d) rerun of (c)', `close-${earlier}-bench-rerun`, { period: earlier, pagesPerExecution: 20 }, 20);

    const pages100k = Math.ceil(100_000 / DEFAULT_PAGE_SIZE) + 1;
    const worstCase100k = {
      executions: Math.ceil(pages100k / DEFAULT_PAGES_PER_EXECUTION),
      nominalEventsPerExecution: eventsPerExecution(DEFAULT_PAGES_PER_EXECUTION, 0),
      worstEventsPerExecution: eventsPerExecution(DEFAULT_PAGES_PER_EXECUTION, MAX_RETRIES),
      maxAcceptedWorstEvents: eventsPerExecution(MAX_PAGES_PER_EXECUTION, MAX_RETRIES),
    };
    const [a, b, c, d] = runs;
    const targets = [
      { name: `(a) statements written = ${ACCOUNTS}`, value: a?.written ?? Number.NaN, limit: `= ${ACCOUNTS}`, verdict: verdict(a?.status === 'SUCCEEDED' && a.written === ACCOUNTS) },
      { name: '(b) rerun writes 0', value: b?.written ?? Number.NaN, limit: '= 0', verdict: verdict(b?.status === 'SUCCEEDED' && b.written === 0) },
      { name: `(c) statements written = ${ACCOUNTS}`, value: c?.written ?? Number.NaN, limit: `= ${ACCOUNTS}`, verdict: verdict(c?.status === 'SUCCEEDED' && c.written === ACCOUNTS) },
      { name: '(d) rerun writes 0', value: d?.written ?? Number.NaN, limit: '= 0', verdict: verdict(d?.status === 'SUCCEEDED' && d.written === 0) },
      {
        name: 'largest execution history (events)',
        value: Math.max(...runs.map((r) => r.maxEvents)),
        limit: `< ${AWS_HISTORY_QUOTA}`,
        verdict: verdict(runs.every((r) => r.maxEvents < AWS_HISTORY_QUOTA)),
      },
      { name: '100,000 accounts: worst-case events per execution', value: worstCase100k.worstEventsPerExecution, limit: `< ${AWS_HISTORY_QUOTA}`, verdict: verdict(worstCase100k.maxAcceptedWorstEvents < AWS_HISTORY_QUOTA) },
    ];
    const baseline = await runInlineMapBaseline(t, new Date(Date.UTC(periodStart.getUTCFullYear(), periodStart.getUTCMonth() - 2, 1)).toISOString().slice(0, 7));
    say(`  baseline (old design): ${baseline.status} ${baseline.error ?? ''} after ${baseline.accountsClosed} accounts, ${baseline.events} events, ${fmt(baseline.wallSeconds, 1)} s`);
    return { accounts: ACCOUNTS, seedSeconds, runs, baseline, worstCase100k, targets };
  } finally {
    await t.close();
  }
}

/**
 * The replaced design on the same stack: its definition with the template's substitutions, in a second offline Step
 * Functions service (the same 25,000-event quota) whose tasks call the stack's Lambda and DynamoDB.
 */
async function runInlineMapBaseline(t: TestStack, period: string): Promise<BillingCloseResult['baseline']> {
  const current = t.stack.model.stateMachines.find((m) => m.logicalId === 'BillingCloseStateMachine');
  const functionArn = JSON.stringify(current?.definition ?? {}).match(/arn:aws:lambda:[^"]+:function:[^"]+/)?.[0];
  if (!functionArn) throw new Error('no StatementFunction ARN in the billing-close definition');
  const text = readFileSync(join(__dirname, 'fixtures', 'billing-close-inline-map.asl.json'), 'utf8')
    .replaceAll('${AccountsTable}', tableName(t, 'AccountsTable'))
    .replaceAll('${StatementFunctionArn}', functionArn);
  const name = 'billing-close-inline-map';
  const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-baseline-'));
  const sfn = await createStepFunctionsService({
    dir,
    stateMachines: [{ logicalId: 'InlineMapBillingClose', name, arn, type: 'STANDARD', definition: JSON.parse(text) as Record<string, unknown> }],
    endpoints: t.stack.endpoints,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const started = performance.now();
    const { executionArn } = await sfn.startExecution({ stateMachineArn: arn, name: `close-${period}-baseline`, input: JSON.stringify({ period }) });
    const done = await sfn.waitForExecution(executionArn, 30 * 60_000);
    const wallSeconds = (performance.now() - started) / 1000;
    const history = await listenerHistory(sfn.listener, executionArn);
    return {
      status: done.status,
      ...(done.error ? { error: done.error } : {}),
      ...(done.cause ? { cause: done.cause } : {}),
      events: history.length,
      accountsClosed: history.filter((e) => e.type === 'MapIterationSucceeded').length,
      wallSeconds,
    };
  } finally {
    await sfn.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printBillingClose(r: BillingCloseResult): string {
  const w = r.worstCase100k;
  return [
    heading(`5. Billing close — ${r.accounts.toLocaleString('en-US')} seeded ACTIVE accounts, history quota 25,000 enforced`),
    table(
      ['run', 'pages/execution', 'wall s', 'accounts/s', 'written', 'existing', 'pages', 'executions', 'max events/execution', 'status'],
      r.runs.map((x) => [x.label, x.pagesPerExecution, fmt(x.wallSeconds, 1), fmt(r.accounts / x.wallSeconds, 0), x.written, x.existing, x.pages, x.executions, x.maxEvents, x.status]),
    ),
    '',
    `Baseline, the replaced design (one execution, an inline Map of one Lambda call per account) on the same accounts: ${r.baseline.status}` +
      `${r.baseline.error ? ` (${r.baseline.error}: ${r.baseline.cause ?? ''})` : ''} after closing ${r.baseline.accountsClosed.toLocaleString('en-US')} of ` +
      `${r.accounts.toLocaleString('en-US')} accounts, ${r.baseline.events.toLocaleString('en-US')} events, ${fmt(r.baseline.wallSeconds, 1)} s.`,
    `Throughput (accounts closed per second), run (a) vs the baseline: ${fmt(r.accounts / (r.runs[0]?.wallSeconds ?? Number.NaN) / (r.baseline.accountsClosed / r.baseline.wallSeconds), 1)}×.`,
    `Computed for 100,000 accounts (pages of ${DEFAULT_PAGE_SIZE}, ${DEFAULT_PAGES_PER_EXECUTION} pages per execution): ${w.executions} executions; ` +
      `${w.nominalEventsPerExecution.toLocaleString('en-US')} events per full execution, ${w.worstEventsPerExecution.toLocaleString('en-US')} if every task were retried 6 times ` +
      `(${w.maxAcceptedWorstEvents.toLocaleString('en-US')} at the largest accepted pagesPerExecution, ${MAX_PAGES_PER_EXECUTION}).`,
    '',
    table(['target', 'value', 'limit', 'result'], r.targets.map((x) => [x.name, fmt(x.value, 0), x.limit, x.verdict])),
  ].join('\n');
}

/** `tsx bench/billing-close.ts`: this section alone. */
if (require.main === module) {
  runBillingClose((line) => console.log(line))
    .then((r) => console.log(printBillingClose(r)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exit(1);
    });
}
