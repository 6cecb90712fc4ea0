/**
 * Usage that adds up, on the offline stack: a customer makes N data API calls, rotates the key, makes M, upgrades
 * free → basic, makes K, rotates again, makes L. GET /me/usage then answers a daily series for the quota period that
 * sums to N+M+K+L, `quota.used` = that sum, `quota.remaining` = limit − used, and `quota.resetsAt` = the 1st of next
 * month 00:00 UTC (the MONTH period); API Gateway's own count for the current key in the current plan says the same
 * remaining (the quota carried over through rotations and the plan change). The account item keeps key ids only.
 */
import { GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { call, onboardedUser, type Answer } from '../abuse/support.ts';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;

beforeAll(async () => {
  // Exact reads (no usage snapshot), and the account routes' stage throttle out of the way.
  t = await startTestStack({ parameterOverrides: { UsageFreshnessSeconds: '0', AccountRateLimit: '1000', AccountBurstLimit: '1000' } });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const today = (): string => new Date().toISOString().slice(0, 10);
const monthStart = (): string => `${today().slice(0, 7)}-01`;
const nextMonthStart = (): string => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
};

interface UsageBody {
  keyId: string;
  plan: string;
  days: { date: string; used: number }[];
  quota: { limit: number; period: string; periodStart: string; resetsAt: string; used: number; remaining: number };
}

describe('usage across key rotations and a plan change', () => {
  it('sums the daily series to the period total, remaining = limit − used, and names the reset date', async () => {
    const c = await onboardedUser(t, 'usage-adds-up');
    const keys = [c.keyId];
    const values = [c.key];
    let key = c.key;

    const calls = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) expect((await call(t, '/links', { token: c.idToken, key })).status).toBe(200);
    };
    const rotate = async (): Promise<void> => {
      const answer = await call(t, '/me/api-key/rotate', {
        method: 'POST',
        token: c.idToken,
        body: { keyId: keys[keys.length - 1] },
        headers: { 'Idempotency-Key': randomUUID() },
      });
      expect(answer.status).toBe(200);
      keys.push(answer.body.id as string);
      values.push(answer.body.value as string);
      key = answer.body.value as string;
    };
    const changePlan = async (plan: string): Promise<void> => {
      const started = await call(t, '/me/plan', { method: 'POST', token: c.idToken, body: { plan }, headers: { 'Idempotency-Key': randomUUID() } });
      expect(started.status).toBe(202);
      let change: Answer;
      const deadline = Date.now() + 20_000;
      do {
        change = await call(t, `/me/plan-changes/${started.body.executionId as string}`, { token: c.idToken });
        if (change.body.status !== 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 25));
      } while (Date.now() < deadline);
      expect(change.body).toMatchObject({ status: 'SUCCEEDED', outcome: { toPlan: plan } });
    };

    const [N, M, K, L] = [4, 3, 5, 2];
    await calls(N);
    await rotate();
    await calls(M);
    await changePlan('basic');
    await calls(K);
    await rotate();
    await calls(L);
    const total = N + M + K + L;

    const usage = await call(t, `/me/usage?from=${monthStart()}&to=${today()}`, { token: c.idToken });
    expect(usage.status).toBe(200);
    const body = usage.body as unknown as UsageBody;
    expect(body.keyId).toBe(keys[2]);
    expect(body.plan).toBe('basic');
    expect(body.days.reduce((sum, d) => sum + d.used, 0)).toBe(total);
    expect(body.days.find((d) => d.date === today())?.used).toBe(total);
    expect(body.quota).toEqual({
      limit: 100_000,
      period: 'MONTH',
      periodStart: monthStart(),
      resetsAt: nextMonthStart(),
      used: total,
      remaining: 100_000 - total,
    });

    // API Gateway enforces the same: the current key in basic has limit − everything used this month left.
    const plans = await t.clients.apigateway.send(new GetUsagePlansCommand({ keyId: keys[2] }));
    expect(plans.items?.map((p) => p.name)).toEqual(['tollgate-basic']);
    const counted = await t.clients.apigateway.send(
      new GetUsageCommand({ usagePlanId: plans.items![0]!.id!, keyId: keys[2], startDate: today(), endDate: today() }),
    );
    expect(counted.items?.[keys[2]!]).toEqual([[L, 100_000 - total]]);

    // The history keeps key ids, never a key value.
    const { Item } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: t.stack.model.tables.find((x) => x.logicalId === 'AccountsTable')!.name, Key: { userId: { S: c.userId } } }));
    const item = JSON.stringify(Item);
    for (const id of keys.slice(0, 2)) expect(item).toContain(id);
    for (const value of values) expect(item).not.toContain(value);

    // A shorter range shows the same days: the chart of any window agrees with the total.
    const todayOnly = await call(t, `/me/usage?from=${today()}&to=${today()}`, { token: c.idToken });
    expect((todayOnly.body as unknown as UsageBody).days).toEqual([{ date: today(), used: total }]);
  }, 90_000);
});
