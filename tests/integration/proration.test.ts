/**
 * Billing by the time a plan was held, on the offline stack: free → pro → free through the plan-change workflow gives
 * GET /me/billing a line per plan, in the ledger's order, each from and to the instant of its entry; the final
 * statement the close's code writes (offboarding, the closing month) bills the same lines to the cent; and the
 * billing-close workflow bills one hour of pro last month at pro's price for exactly that hour.
 *
 * Every expected amount is computed here from the rule (whole Unix seconds held × price in cents ÷ seconds in the
 * month, rounded half up), not read from the code under test.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { StatementLine } from '#shared/billing';
import { billingCloseArn, tableName } from '../support/billing-close.ts';
import { signIn, signUpAndOnboard, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

jest.setTimeout(60_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ledger items are inspected field by field
type Item = Record<string, any>;

type Line = StatementLine;

const PRO_CENTS = 9900;

/** Whole Unix seconds of an ISO instant. */
const unixSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

/** The UTC month holding `at`, moved by `offset` months: `YYYY-MM`, its first instant and the next month's. */
function month(at: Date, offset = 0): { period: string; start: string; end: string; seconds: number } {
  const start = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1);
  const end = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset + 1, 1);
  return { period: new Date(start).toISOString().slice(0, 7), start: new Date(start).toISOString(), end: new Date(end).toISOString(), seconds: (end - start) / 1000 };
}

/** The expected line for `plan` held from `from` to `to` in a month of `monthSeconds`: the documented rule. */
function line(plan: string, monthlyPrice: number, from: string, to: string, monthSeconds: number): Line {
  const seconds = unixSeconds(to) - unixSeconds(from);
  return { plan, from, to, seconds, monthlyPrice, amountCents: Math.round((monthlyPrice * 100 * seconds) / monthSeconds) };
}

let t: TestStack;
let ddb: DynamoDBDocumentClient;

beforeAll(async () => {
  t = await startTestStack();
  ddb = DynamoDBDocumentClient.from(t.clients.dynamodb);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** The ARN of execution `name` of the template's state machine `logicalId`. */
function executionArn(logicalId: string, name: string): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === logicalId);
  if (!machine) throw new Error(`no ${logicalId}`);
  return `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
}

interface Customer {
  email: string;
  userId: string;
  idToken: string;
  key: string;
}

async function customer(prefix: string): Promise<Customer> {
  const email = uniqueEmail(prefix);
  const { userId, execution } = await signUpAndOnboard(t, email);
  expect(execution.status).toBe('SUCCEEDED');
  const { Item: account } = await ddb.send(new GetCommand({ TableName: tableName(t, 'AccountsTable'), Key: { userId }, ConsistentRead: true }));
  const key = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: account?.apiKeyId as string, includeValue: true }))).value as string;
  return { email, userId, idToken: (await signIn(t, email)).idToken, key };
}

async function call(c: Customer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Item }> {
  const response = await fetch(`${t.stack.apiUrl}${path}`, {
    method,
    headers: { Authorization: c.idToken, 'x-api-key': c.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Item) : {} };
}

async function changePlan(c: Customer, plan: string): Promise<void> {
  const accepted = await call(c, 'POST', '/me/plan', { plan }, { 'Idempotency-Key': randomUUID() });
  expect(accepted.status).toBe(202);
  const done = await waitForExecution(t, executionArn('PlanChangeStateMachine', accepted.body.executionId as string));
  expect({ status: done.status, error: done.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
}

/** The user's ledger in key order (time order). */
async function ledger(userId: string): Promise<Item[]> {
  const { Items } = await ddb.send(
    new QueryCommand({ TableName: tableName(t, 'BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ConsistentRead: true }),
  );
  return Items ?? [];
}

describe('billing by the time a plan was held', () => {
  it('free → pro → free through the workflow: GET /me/billing has a line per plan in the ledger’s order, and the final statement bills those lines', async () => {
    const c = await customer('prorate');
    await changePlan(c, 'pro');
    await changePlan(c, 'free');

    const [started, up, down, ...rest] = await ledger(c.userId);
    expect(rest).toEqual([]);
    expect([started?.type, up?.type, up?.toPlan, down?.type, down?.toPlan]).toEqual(['PLAN_STARTED', 'PLAN_CHANGED', 'pro', 'PLAN_CHANGED', 'free']);
    const now = month(new Date(started!.effectiveAt as string));

    const billing = await call(c, 'GET', '/me/billing');
    expect(billing.status).toBe(200);
    // Each line runs from its entry's effectiveAt to the next one's, to the second: the order of the day's changes.
    const seen: Line[] = [
      line('free', 0, started!.effectiveAt as string, up!.effectiveAt as string, now.seconds),
      line('pro', 99, up!.effectiveAt as string, down!.effectiveAt as string, now.seconds),
      line('free', 0, down!.effectiveAt as string, now.end, now.seconds),
    ];
    expect(billing.body.statement).toEqual({
      period: now.period,
      periodStart: now.start,
      periodEnd: now.end,
      lines: seen,
      totalCents: seen[1]!.amountCents,
      currency: 'USD',
    });
    // The history lists the same changes, newest first.
    expect((billing.body.ledger as Item[]).map((e) => e.entryId)).toEqual([down!.entryId, up!.entryId, started!.entryId]);

    // The close's own code (StatementFunction, as offboarding calls it for the closing month) on the same ledger: the
    // lines the customer saw, the last one ending at the closing instant.
    const deleted = await call(c, 'DELETE', '/me', { confirm: c.email });
    expect(deleted.status).toBe(202);
    expect((await waitForExecution(t, executionArn('OffboardingStateMachine', `offboard-${c.userId}`), 30_000)).status).toBe('SUCCEEDED');
    const entries = await ledger(c.userId);
    const closedAt = entries.find((e) => e.type === 'ACCOUNT_CLOSED')?.effectiveAt as string;
    const final = entries.find((e) => e.type === 'STATEMENT' && e.period === now.period);
    const billed = [seen[0]!, seen[1]!, line('free', 0, down!.effectiveAt as string, closedAt, now.seconds)];
    expect(final).toMatchObject({ lines: billed, totalCents: billed.reduce((sum, l) => sum + l.amountCents, 0) });
  });

  it('the billing-close workflow bills one hour of pro last month at pro’s price for exactly that hour, to the cent', async () => {
    const c = await customer('hour');
    const last = month(new Date(), -1);
    // The customer's history moved into last month: free from before it, pro from 14:00 to 15:00 on the 10th, free again.
    for (const entry of await ledger(c.userId)) {
      await ddb.send(new DeleteCommand({ TableName: tableName(t, 'BillingTable'), Key: { userId: c.userId, entryId: entry.entryId } }));
    }
    const day10 = `${last.period}-10`;
    const startedAt = new Date(Date.parse(last.start) - 5 * 86_400_000).toISOString();
    const upAt = `${day10}T14:00:00.000Z`;
    const downAt = `${day10}T15:00:00.000Z`;
    const change = (at: string, fromPlan: string, toPlan: string, fromPrice: number, toPrice: number): Item => ({
      userId: c.userId,
      entryId: `${at}#PLAN_CHANGED#plan-${randomUUID()}`,
      type: 'PLAN_CHANGED',
      fromPlan,
      toPlan,
      plan: toPlan,
      fromPrice,
      toPrice,
      monthlyPrice: toPrice,
      currency: 'USD',
      effectiveAt: at,
      prorationBasis: 'SECOND',
    });
    for (const item of [
      { userId: c.userId, entryId: `${startedAt}#PLAN_STARTED#test`, type: 'PLAN_STARTED', plan: 'free', monthlyPrice: 0, currency: 'USD', effectiveAt: startedAt },
      change(upAt, 'free', 'pro', 0, 99),
      change(downAt, 'pro', 'free', 99, 0),
    ]) {
      await ddb.send(new PutCommand({ TableName: tableName(t, 'BillingTable'), Item: item }));
    }

    const started = await t.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: billingCloseArn(t), name: `close-${last.period}-${randomUUID().slice(0, 8)}`, input: JSON.stringify({ period: last.period }) }),
    );
    const done = await waitForExecution(t, started.executionArn as string, 30_000);
    expect({ status: done.status, error: done.error, cause: done.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });

    // 9,900 × 3,600 / seconds in the month, half up: 13.75 → 14 in a 30-day month, 13.31 → 13 in a 31-day one.
    const hourCents = Math.round((PRO_CENTS * 3600) / last.seconds);
    expect(hourCents).toBe({ 2_419_200: 15, 2_505_600: 14, 2_592_000: 14, 2_678_400: 13 }[last.seconds]);
    const statement = (await ledger(c.userId)).find((e) => e.type === 'STATEMENT' && e.period === last.period);
    expect(statement).toMatchObject({
      lines: [
        line('free', 0, last.start, upAt, last.seconds),
        { plan: 'pro', from: upAt, to: downAt, seconds: 3600, monthlyPrice: 99, amountCents: hourCents },
        line('free', 0, downAt, last.end, last.seconds),
      ],
      totalCents: hourCents,
    });
  });
});
