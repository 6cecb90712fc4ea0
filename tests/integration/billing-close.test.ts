/**
 * Billing close on the offline stack with Step Functions' history quota lowered (`maxHistoryEvents`), so that a few
 * dozen seeded accounts need what 100,000 need in AWS: the close pages through the accounts, continues as a new
 * execution before its history fills up, bills exactly the accounts it should, once, and a rerun writes nothing.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { runClose, seedAccounts, tableName, type SeedAccount } from '../support/billing-close.ts';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

/** Small enough that one execution cannot close 18 pages (7 events each), large enough for 3 pages and a handover. */
const MAX_HISTORY_EVENTS = 40;

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ maxHistoryEvents: MAX_HISTORY_EVENTS });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** The month before the current one (UTC), and its bounds. */
function lastMonth(): { period: string; start: Date; end: Date } {
  const now = new Date();
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { period: start.toISOString().slice(0, 7), start, end };
}

async function statements(userId: string): Promise<{ period?: string; totalCents?: number }[]> {
  const result = await t.clients.dynamodb.send(
    new QueryCommand({ TableName: tableName(t, 'BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } }, ConsistentRead: true }),
  );
  return (result.Items ?? [])
    .filter((item) => item.type?.S === 'STATEMENT')
    .map((item) => ({ period: item.period?.S, totalCents: Number(item.totalCents?.N) }));
}

describe('billing close under the history quota', () => {
  const { period, start, end } = lastMonth();
  const prefix = randomUUID().slice(0, 8);
  const before = new Date(start.getTime() - 40 * 86_400_000).toISOString(); // the plan started before the period
  const account = (n: number, status: SeedAccount['status'], closedAt?: Date): SeedAccount => ({
    userId: `${prefix}-${status.toLowerCase()}-${n}`,
    status,
    plan: 'basic',
    monthlyPrice: 19,
    startedAt: before,
    ...(closedAt ? { closedAt: closedAt.toISOString() } : {}),
  });
  const active = Array.from({ length: 30 }, (_, n) => account(n, 'ACTIVE'));
  const closedAfter = [account(100, 'CLOSED', end), account(101, 'CLOSED', new Date(end.getTime() + 5 * 86_400_000))];
  const closedBefore = [account(200, 'CLOSED', new Date(end.getTime() - 1)), account(201, 'CLOSED', new Date(start.getTime() - 86_400_000))];
  const skipped = [...closedBefore, account(300, 'ONBOARDING'), account(301, 'FAILED')];
  const billed = [...active, ...closedAfter];

  beforeAll(async () => {
    await seedAccounts(t, [...billed, ...skipped]);
  }, 30_000);

  it('continues as new executions, each under the quota, bills each account once, and a rerun writes nothing', async () => {
    // 36 accounts, 2 a page: 18 full pages, and a 19th, empty one (a full Scan page carries a LastEvaluatedKey even at
    // the table's end); 3 pages per execution: 7 executions of at most 1 + 5 + 3 × 7 + 5 + 1 = 33 events.
    const run = await runClose(t, `close-${prefix}-first`, { period, pageSize: 2, pagesPerExecution: 3 });

    expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    expect(run.output).toEqual({
      period,
      status: 'CLOSED',
      periodStart: start.toISOString(),
      periodEnd: end.toISOString(),
      progress: { pages: 19, accounts: 36, billed: 32, written: 32, existing: 0, executions: 7 },
    });
    expect(run.executions).toHaveLength(7);
    for (const execution of run.executions) {
      expect(execution.status).toBe('SUCCEEDED');
      expect(execution.events).toBeLessThan(MAX_HISTORY_EVENTS);
    }
    for (const a of billed) expect({ userId: a.userId, statements: await statements(a.userId) }).toEqual({ userId: a.userId, statements: [{ period, totalCents: 1900 }] });
    for (const a of skipped) expect({ userId: a.userId, statements: await statements(a.userId) }).toEqual({ userId: a.userId, statements: [] });

    // A rerun of the same period, under another name and other paging, writes nothing.
    const rerun = await runClose(t, `close-${prefix}-again`, { period, pageSize: 5, pagesPerExecution: 2 });

    expect(rerun.status).toBe('SUCCEEDED');
    expect(rerun.output?.progress).toEqual({ pages: 8, accounts: 36, billed: 32, written: 0, existing: 32, executions: 4 });
    for (const a of billed) expect(await statements(a.userId)).toHaveLength(1);
  }, 180_000);

  it('without continuing, one execution fails at the quota with States.Runtime, as in AWS', async () => {
    const run = await runClose(t, `close-${prefix}-one`, { period, pageSize: 2, pagesPerExecution: 900 });

    expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`,
    });
    expect(run.executions).toEqual([expect.objectContaining({ status: 'FAILED', events: MAX_HISTORY_EVENTS })]);
  }, 120_000);
});

describe('a period that has not ended', () => {
  const now = new Date();
  const current = now.toISOString().slice(0, 7);
  const future = new Date(Date.UTC(now.getUTCFullYear() + 1, 2, 1)).toISOString().slice(0, 7);
  const nextMonthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();

  it.each([
    ['the current month', current, nextMonthStart],
    ['a future month', future, new Date(Date.UTC(now.getUTCFullYear() + 1, 3, 1)).toISOString()],
  ])('is refused: closing %s fails with Billing.PeriodNotEnded and a clear cause, and writes nothing', async (_label, period, closableFrom) => {
    const userId = `${randomUUID().slice(0, 8)}-not-ended`;
    await seedAccounts(t, [{ userId, status: 'ACTIVE', plan: 'pro', monthlyPrice: 99, startedAt: '2020-01-01T00:00:00.000Z' }]);

    const run = await runClose(t, `close-${period}-${randomUUID().slice(0, 8)}`, { period });

    expect({ status: run.status, error: run.error }).toEqual({ status: 'FAILED', error: 'Billing.PeriodNotEnded' });
    expect(run.cause).toMatch(new RegExp(`^Period ${period} has not ended: it can be closed from ${closableFrom.replace(/[.]/g, '\\.')} \\(UTC\\); it is `));
    expect(await statements(userId)).toEqual([]);
  });
});
