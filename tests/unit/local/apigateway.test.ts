// Over 400 lines: the offline management API's store: keys, plan membership, usage, persistence.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newBucket, secondsUntilToken, takeToken } from '../../../local/token-bucket.ts';
import {
  ApiGatewayError,
  ApiGatewayStore,
  ApiKeyGate,
  FaultInjector,
  AWS_MANAGEMENT_API_LIMITS,
  ManagementApiLimiter,
  NO_MANAGEMENT_API_LIMITS,
  managementApiLimits,
  createApiGatewayControlPlane,
  parseDayKey,
  periodOf,
} from '../../../local/apigateway/index.ts';
import type { UsagePlanSpec } from '../../../local/types.ts';

const API = { apiId: 'api1', stage: 'prod' };
const plan = (id: string, extra: Partial<UsagePlanSpec> = {}): UsagePlanSpec => ({
  id,
  name: `plan-${id}`,
  apiStages: [API],
  tags: {},
  ...extra,
});

const FREE = plan('free', { throttle: { rateLimit: 2, burstLimit: 3 }, quota: { limit: 5, period: 'MONTH' } });
const BASIC = plan('basic', { throttle: { rateLimit: 100, burstLimit: 100 }, quota: { limit: 10, period: 'MONTH' } });
const DAILY = plan('daily', { quota: { limit: 2, period: 'DAY' } });
const WEEKLY = plan('weekly', { quota: { limit: 2, period: 'WEEK' } });
const OTHER_STAGE = plan('other', { apiStages: [{ apiId: 'api1', stage: 'dev' }] });
const PLANS = [FREE, BASIC, DAILY, WEEKLY, OTHER_STAGE];

const at = (iso: string): Date => new Date(iso);
const utc = (iso: string): number => Date.parse(iso);

let dirs: string[] = [];
let openStores: ApiGatewayStore[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-apigw-unit-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(openStores.map((s) => s.flush())); // no write may race the removal of its directory
  openStores = [];
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

/** A store + gate on a fresh temp dir with a settable clock. */
async function setup(plans: UsagePlanSpec[] = PLANS, start = '2024-05-15T12:00:00.000Z') {
  const clock = { ms: utc(start) };
  const now = (): Date => new Date(clock.ms);
  const dir = await tempDir();
  const store = await ApiGatewayStore.open({ dir, usagePlans: plans, now, persistDelayMs: 5 });
  openStores.push(store);
  const gate = new ApiKeyGate(store, { now });
  const key = store.createApiKey({ name: 'alice', enabled: true });
  return { dir, clock, now, store, gate, key };
}

function expectApiGatewayError(fn: () => unknown, code: string, status?: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiGatewayError);
    expect((err as ApiGatewayError).code).toBe(code);
    if (status !== undefined) expect((err as ApiGatewayError).status).toBe(status);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('quota periods', () => {
  it('DAY is the UTC day', () => {
    const p = periodOf('DAY', utc('2024-03-10T23:59:59.999Z'));
    expect(p.start).toBe(utc('2024-03-10T00:00:00Z'));
    expect(p.end).toBe(utc('2024-03-11T00:00:00Z'));
  });

  it('WEEK is the ISO week starting Monday 00:00 UTC', () => {
    // Sunday belongs to the week that started the Monday before.
    expect(periodOf('WEEK', utc('2024-03-03T23:59:59Z')).start).toBe(utc('2024-02-26T00:00:00Z'));
    expect(periodOf('WEEK', utc('2024-03-04T00:00:00Z')).start).toBe(utc('2024-03-04T00:00:00Z'));
    // Across a year boundary.
    const p = periodOf('WEEK', utc('2021-01-01T10:00:00Z'));
    expect(p.start).toBe(utc('2020-12-28T00:00:00Z'));
    expect(p.end).toBe(utc('2021-01-04T00:00:00Z'));
  });

  it('MONTH is the UTC calendar month (leap February, December)', () => {
    const feb = periodOf('MONTH', utc('2024-02-29T23:00:00Z'));
    expect([feb.start, feb.end]).toEqual([utc('2024-02-01T00:00:00Z'), utc('2024-03-01T00:00:00Z')]);
    const dec = periodOf('MONTH', utc('2023-12-31T23:59:59Z'));
    expect([dec.start, dec.end]).toEqual([utc('2023-12-01T00:00:00Z'), utc('2024-01-01T00:00:00Z')]);
    expect(periodOf('MONTH', utc('2024-01-01T00:00:00Z')).id).not.toBe(dec.id);
  });

  it('parses only real YYYY-MM-DD dates', () => {
    expect(parseDayKey('2024-02-29')).toBe(utc('2024-02-29T00:00:00Z'));
    for (const bad of ['2023-02-29', '2024-13-01', '2024-1-01', '20240101', '2024-01-01T00:00:00Z', '']) {
      expect(parseDayKey(bad)).toBeUndefined();
    }
  });
});

describe('token bucket', () => {
  it('starts full at burstLimit, throttles beyond it and refills at rateLimit per second', async () => {
    const throttled = plan('t', { throttle: { rateLimit: 2, burstLimit: 3 } });
    const { clock, store, gate, key } = await setup([throttled]);
    store.addUsagePlanKey('t', key.id);
    const resolved = gate.resolve(key.value, API.apiId, API.stage);
    expect(resolved?.plan).toBe(throttled);

    const admit = (): string => {
      const a = gate.admit(key.id, throttled);
      return a.ok ? 'ok' : a.reason;
    };
    expect([admit(), admit(), admit(), admit()]).toEqual(['ok', 'ok', 'ok', 'throttled']);
    clock.ms += 499; // 0.998 tokens
    expect(admit()).toBe('throttled');
    clock.ms += 1; // 1 token
    expect(admit()).toBe('ok');
    expect(admit()).toBe('throttled');
    clock.ms += 60_000; // refills to the burst, not beyond
    expect([admit(), admit(), admit(), admit()]).toEqual(['ok', 'ok', 'ok', 'throttled']);
    // Only admitted requests are counted.
    expect(store.usedOnDay(key.id, '2024-05-15')).toBe(7);
  });

  it('supports fractional rates and an explicit clock that goes backwards', async () => {
    const slow = plan('s', { throttle: { rateLimit: 0.5, burstLimit: 1 } });
    const { store, gate, key } = await setup([slow]);
    store.addUsagePlanKey('s', key.id);
    const t0 = utc('2024-05-15T12:00:00Z');
    expect(gate.admit(key.id, slow, new Date(t0)).ok).toBe(true);
    expect(gate.admit(key.id, slow, new Date(t0 + 1_999)).ok).toBe(false);
    expect(gate.admit(key.id, slow, new Date(t0 - 10_000)).ok).toBe(false); // no refill from the past
    expect(gate.admit(key.id, slow, new Date(t0 + 2_000)).ok).toBe(true);
  });
});

describe('quota', () => {
  it('DAY quota resets at 00:00 UTC', async () => {
    const { clock, store, gate, key } = await setup();
    store.addUsagePlanKey('daily', key.id);
    clock.ms = utc('2024-05-15T23:59:59Z');
    expect([gate.admit(key.id, DAILY), gate.admit(key.id, DAILY), gate.admit(key.id, DAILY)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, reason: 'quota' },
    ]);
    clock.ms = utc('2024-05-16T00:00:00Z');
    expect(gate.admit(key.id, DAILY)).toEqual({ ok: true });
  });

  it('WEEK quota resets on Monday 00:00 UTC, not on Sunday', async () => {
    const { store, gate, key } = await setup();
    store.addUsagePlanKey('weekly', key.id);
    expect(gate.admit(key.id, WEEKLY, at('2024-05-13T00:00:00Z')).ok).toBe(true); // Monday
    expect(gate.admit(key.id, WEEKLY, at('2024-05-16T00:00:00Z')).ok).toBe(true);
    expect(gate.admit(key.id, WEEKLY, at('2024-05-19T23:59:59Z'))).toEqual({ ok: false, reason: 'quota' }); // Sunday
    expect(gate.admit(key.id, WEEKLY, at('2024-05-20T00:00:00Z')).ok).toBe(true); // next Monday
  });

  it('MONTH quota resets on the 1st 00:00 UTC', async () => {
    const monthly = plan('m', { quota: { limit: 3, period: 'MONTH' } });
    const { store, gate, key } = await setup([monthly]);
    store.addUsagePlanKey('m', key.id);
    expect(gate.admit(key.id, monthly, at('2024-01-01T00:00:00Z')).ok).toBe(true);
    expect(gate.admit(key.id, monthly, at('2024-01-15T00:00:00Z')).ok).toBe(true);
    expect(gate.admit(key.id, monthly, at('2024-01-31T23:59:58Z')).ok).toBe(true);
    expect(gate.admit(key.id, monthly, at('2024-01-31T23:59:59Z'))).toEqual({ ok: false, reason: 'quota' });
    expect(gate.admit(key.id, monthly, at('2024-02-01T00:00:00Z')).ok).toBe(true);
  });

  it('throttle is checked before quota, and refused requests are not counted', async () => {
    const tight = plan('x', { throttle: { rateLimit: 1, burstLimit: 1 }, quota: { limit: 1, period: 'DAY' } });
    const { clock, store, gate, key } = await setup([tight]);
    store.addUsagePlanKey('x', key.id);
    expect(gate.admit(key.id, tight)).toEqual({ ok: true });
    expect(gate.admit(key.id, tight)).toEqual({ ok: false, reason: 'throttled' });
    clock.ms += 1000;
    expect(gate.admit(key.id, tight)).toEqual({ ok: false, reason: 'quota' });
    expect(store.usedOnDay(key.id, '2024-05-15')).toBe(1);
  });

  it('counts usage per usage plan key: a key that moves to another plan starts its quota afresh unless UpdateUsage carries it over', async () => {
    const { clock, store, gate, key } = await setup();
    store.addUsagePlanKey('free', key.id);
    for (let i = 0; i < 4; i++) {
      expect(gate.admit(key.id, FREE).ok).toBe(true);
      clock.ms += 1000;
    }
    // Plan change: remove from the old plan first (AWS refuses two plans on one stage), then add.
    expectApiGatewayError(() => store.addUsagePlanKey('basic', key.id), 'ConflictException', 409);
    store.removeUsagePlanKey('free', key.id);
    expect(gate.resolve(key.value, API.apiId, API.stage)).toBeUndefined();
    store.addUsagePlanKey('basic', key.id);
    const resolved = gate.resolve(key.value, API.apiId, API.stage);
    expect(resolved?.plan.id).toBe('basic');
    const day = clock.ms;
    // The 4 requests stay FREE's: BASIC's series and quota start at 0 (AWS aggregates a key's quota within a plan).
    expect(store.usageSeries(BASIC, key.id, day, day)).toEqual([[0, 10]]);
    expect(store.usageSeries(FREE, key.id, day, day)).toEqual([[4, 1]]);
    store.updateUsage('basic', key.id, [{ op: 'replace', path: '/remaining', value: String(10 - 4) }]);
    let admitted = 0;
    while (gate.admit(key.id, BASIC).ok) admitted++;
    expect(admitted).toBe(6); // 10 − the 4 used under FREE this month, carried over by UpdateUsage
    expect(gate.admit(key.id, BASIC)).toEqual({ ok: false, reason: 'quota' });
    expect(store.usedOnDay(key.id, '2024-05-15', 'basic')).toBe(6);
    expect(store.usedOnDay(key.id, '2024-05-15')).toBe(10);
  });

  it('reads a version 1 usage file (per key) as usage in the plan holding the key', async () => {
    const { store, key, dir } = await setup();
    store.addUsagePlanKey('free', key.id);
    await store.flush();
    await writeFile(join(dir, 'apigateway', 'usage.json'), JSON.stringify({ version: 1, usage: { [key.id]: { '2024-05-15': 3 } } }));
    const reopened = await ApiGatewayStore.open({ dir, usagePlans: [FREE, BASIC], now: () => new Date('2024-05-15T12:00:00Z') });
    openStores.push(reopened);
    expect(reopened.usedOnDay(key.id, '2024-05-15', 'free')).toBe(3);
    expect(reopened.usedOnDay(key.id, '2024-05-15', 'basic')).toBe(0);
  });
});

describe('UpdateUsage (replace /remaining)', () => {
  const admitAll = (gate: ApiKeyGate, keyId: string, p: UsagePlanSpec, max = 100): number => {
    let n = 0;
    while (n < max && gate.admit(keyId, p).ok) n++;
    return n;
  };

  it('sets the remaining quota of the current period: exactly that many more admits, then quota', async () => {
    const { store, gate, key } = await setup(); // 2024-05-15T12:00Z
    store.addUsagePlanKey('basic', key.id); // 10 per MONTH
    for (let i = 0; i < 3; i++) expect(gate.admit(key.id, BASIC).ok).toBe(true);

    const report = store.updateUsage('basic', key.id, [{ op: 'replace', path: '/remaining', value: '2' }]);
    expect(report.startDate).toBe('2024-05-01');
    expect(report.endDate).toBe('2024-05-15');
    expect(report.items).toHaveLength(15);
    expect(report.items.at(-1)).toEqual([3, 2]);
    expect(report.items[0]).toEqual([0, 10]); // days before the grant keep their remaining

    expect(gate.admit(key.id, BASIC)).toEqual({ ok: true });
    expect(gate.admit(key.id, BASIC)).toEqual({ ok: true });
    expect(gate.admit(key.id, BASIC)).toEqual({ ok: false, reason: 'quota' });
    const day = utc('2024-05-15T00:00:00Z');
    expect(store.usageSeries(BASIC, key.id, day, day)).toEqual([[5, 0]]);
  });

  it('carries the quota over to a rotated key (remaining = limit − used by the old key)', async () => {
    const { clock, store, gate, key: oldKey } = await setup();
    store.addUsagePlanKey('basic', oldKey.id);
    for (let i = 0; i < 7; i++) expect(gate.admit(oldKey.id, BASIC).ok).toBe(true);
    clock.ms += 3 * 86_400_000; // rotate three days later, same month

    const newKey = store.createApiKey({ name: 'alice-2', enabled: true });
    store.deleteApiKey(oldKey.id); // leave the stage free for the new key
    store.addUsagePlanKey('basic', newKey.id);
    const report = store.updateUsage('basic', newKey.id, [{ op: 'replace', path: '/remaining', value: String(10 - 7) }]);
    expect(report.items.at(-1)).toEqual([0, 3]);
    expect(admitAll(gate, newKey.id, BASIC)).toBe(3);

    // A temporary grant: the next period starts afresh with the plan's limit.
    clock.ms = utc('2024-06-01T00:00:00Z');
    expect(admitAll(gate, newKey.id, BASIC)).toBe(10);
  });

  it('can grant more than the limit, replaces an earlier grant and keeps the history per day', async () => {
    const { clock, store, gate, key } = await setup();
    store.addUsagePlanKey('basic', key.id);
    for (let i = 0; i < 4; i++) gate.admit(key.id, BASIC);
    store.updateUsage('basic', key.id, [{ op: 'replace', path: '/remaining', value: '15' }]);
    expect(admitAll(gate, key.id, BASIC, 5)).toBe(5); // 10 left
    clock.ms += 86_400_000; // 2024-05-16
    const report = store.updateUsage('basic', key.id, [
      { op: 'replace', path: '/remaining', value: '100' },
      { op: 'replace', path: '/remaining', value: '1' }, // the last one wins
    ]);
    expect(report.items.slice(-2)).toEqual([
      [9, 10], // 2024-05-15: 15 granted after 4 requests, then 5 more
      [0, 1], // 2024-05-16
    ]);
    expect(admitAll(gate, key.id, BASIC)).toBe(1);
  });

  it('applies per plan: the grant of one plan does not change another', async () => {
    const { store, gate, key } = await setup();
    store.addUsagePlanKey('basic', key.id);
    store.updateUsage('basic', key.id, [{ op: 'replace', path: '/remaining', value: '1' }]);
    store.removeUsagePlanKey('basic', key.id);
    store.addUsagePlanKey('free', key.id); // 5 per MONTH, throttle burst 3
    expect(admitAll(gate, key.id, FREE)).toBe(3);
  });

  it('answers NotFoundException and BadRequestException like AWS, all or nothing', async () => {
    const { store, gate, key } = await setup();
    const stranger = store.createApiKey({ name: 'stranger' });
    store.addUsagePlanKey('basic', key.id);
    store.addUsagePlanKey('other', stranger.id);
    const ok = { op: 'replace', path: '/remaining', value: '1' };
    expectApiGatewayError(() => store.updateUsage('nope', key.id, [ok]), 'NotFoundException', 404);
    expectApiGatewayError(() => store.updateUsage('basic', 'nokey12345', [ok]), 'NotFoundException', 404);
    expectApiGatewayError(() => store.updateUsage('basic', stranger.id, [ok]), 'NotFoundException', 404);
    const bad = [
      { op: 'add', path: '/remaining', value: '1' },
      { op: 'remove', path: '/remaining' },
      { op: 'replace', path: '/quota/limit', value: '1' },
      { op: 'replace', path: '/remaining' },
      { op: 'replace', path: '/remaining', value: '' },
      { op: 'replace', path: '/remaining', value: '-1' },
      { op: 'replace', path: '/remaining', value: '1.5' },
      { op: 'replace', path: '/remaining', value: 'ten' },
      { op: 'replace', path: '/remaining', value: '99999999999999999999' },
      { op: 'replace', path: '/remaining', value: 3 as unknown as string },
    ];
    for (const operation of bad) expectApiGatewayError(() => store.updateUsage('basic', key.id, [ok, operation]), 'BadRequestException', 400);
    expect(admitAll(gate, key.id, BASIC)).toBe(10); // nothing was applied

    // A plan without a quota has no remaining quota to set; with no operations the usage is only reported.
    const unlimited = plan('unlimited', { apiStages: [{ apiId: 'api2', stage: 'prod' }] });
    const second = await setup([unlimited]);
    second.store.addUsagePlanKey('unlimited', second.key.id);
    expectApiGatewayError(() => second.store.updateUsage('unlimited', second.key.id, [ok]), 'BadRequestException');
    expect(second.store.updateUsage('unlimited', second.key.id, [])).toEqual({ startDate: '2024-05-15', endDate: '2024-05-15', items: [[0, 0]] });
  });

  it('keeps grants across a restart and drops them with the key', async () => {
    const dir = await tempDir();
    let ms = utc('2024-05-15T12:00:00Z');
    const now = (): Date => new Date(ms);
    const first = await createApiGatewayControlPlane({ dir, usagePlans: PLANS, now });
    const key = first.store.createApiKey({ enabled: true });
    const other = first.store.createApiKey({ enabled: true });
    first.store.addUsagePlanKey('basic', key.id);
    first.store.addUsagePlanKey('basic', other.id);
    expect(first.gate.admit(key.id, BASIC).ok).toBe(true);
    first.store.updateUsage('basic', key.id, [{ op: 'replace', path: '/remaining', value: '2' }]);
    first.store.updateUsage('basic', other.id, [{ op: 'replace', path: '/remaining', value: '0' }]);
    first.store.deleteApiKey(other.id);
    await first.close();
    const saved = JSON.parse(await readFile(join(dir, 'apigateway', 'usage.json'), 'utf8')) as { quotaOffsets: Record<string, unknown> };
    expect(saved.quotaOffsets).toEqual({ [key.id]: { basic: { 'MONTH:2024-05-01': { '2024-05-15': 10 - 2 - 1 } } } });

    ms += 60_000;
    const second = await createApiGatewayControlPlane({ dir, usagePlans: PLANS, now });
    const day = utc('2024-05-15T00:00:00Z');
    expect(second.store.usageSeries(BASIC, key.id, day, day)).toEqual([[1, 2]]);
    expect(admitAll(second.gate, key.id, BASIC)).toBe(2);
    await second.close();
  });
});

describe('store', () => {
  it('resolves only enabled keys in a plan attached to the api stage', async () => {
    const { store, gate, key } = await setup();
    expect(gate.resolve(key.value, 'api1', 'prod')).toBeUndefined();
    store.addUsagePlanKey('other', key.id); // api1/dev
    expect(gate.resolve(key.value, 'api1', 'prod')).toBeUndefined();
    expect(gate.resolve(key.value, 'api1', 'dev')?.plan.id).toBe('other');
    store.addUsagePlanKey('free', key.id); // different stage: allowed
    expect(gate.resolve(key.value, 'api1', 'prod')?.plan.id).toBe('free');
    store.updateApiKey(key.id, [{ op: 'replace', path: '/enabled', value: 'false' }]);
    expect(gate.resolve(key.value, 'api1', 'prod')).toBeUndefined();
    store.updateApiKey(key.id, [{ op: 'replace', path: '/enabled', value: 'true' }]);
    expect(gate.resolve(key.value, 'api1', 'prod')?.key.id).toBe(key.id);
    expect(gate.resolve('not-a-key-value-at-all', 'api1', 'prod')).toBeUndefined();
  });

  it('creates keys like AWS: 10-char lowercase ids, 40-char values, disabled by default', async () => {
    const { store } = await setup();
    const k = store.createApiKey({ name: 'n' });
    expect(k.id).toMatch(/^[a-z0-9]{10}$/);
    expect(k.value).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(k.enabled).toBe(false);
    const custom = store.createApiKey({ value: 'x'.repeat(20) });
    expect(custom.value).toBe('x'.repeat(20));
    expectApiGatewayError(() => store.createApiKey({ value: 'x'.repeat(20) }), 'ConflictException');
    expectApiGatewayError(() => store.createApiKey({ value: 'short' }), 'BadRequestException');
  });

  it('lists by name prefix and applies patch operations all-or-nothing', async () => {
    const { store, key } = await setup();
    store.createApiKey({ name: 'alicia' });
    store.createApiKey({ name: 'bob' });
    expect(store.listApiKeys({ nameQuery: 'ali' }).map((k) => k.name)).toEqual(['alice', 'alicia']);
    expect(store.listApiKeys({ nameQuery: 'lice' })).toEqual([]);
    expectApiGatewayError(
      () => store.updateApiKey(key.id, [{ op: 'replace', path: '/name', value: 'x' }, { op: 'replace', path: '/value', value: 'y' }]),
      'BadRequestException',
    );
    expect(store.getApiKey(key.id).name).toBe('alice');
    store.updateApiKey(key.id, [{ op: 'replace', path: '/description', value: 'd' }, { op: 'replace', path: '/customerId', value: 'c' }]);
    expect(store.getApiKey(key.id)).toMatchObject({ description: 'd', customerId: 'c' });
  });

  it('deleting a key removes it from every plan, its usage and its value index', async () => {
    const { store, gate, key } = await setup();
    store.addUsagePlanKey('free', key.id);
    store.addUsagePlanKey('other', key.id);
    gate.admit(key.id, FREE);
    store.deleteApiKey(key.id);
    expect(store.listUsagePlanKeys('free')).toEqual([]);
    expect(store.listUsagePlanKeys('other')).toEqual([]);
    expect(gate.resolve(key.value, 'api1', 'prod')).toBeUndefined();
    expect(store.usedOnDay(key.id, '2024-05-15')).toBe(0);
    expectApiGatewayError(() => store.getApiKey(key.id), 'NotFoundException', 404);
    expectApiGatewayError(() => store.deleteApiKey(key.id), 'NotFoundException');
  });

  it('enforces the API key limit with LimitExceededException', async () => {
    const dir = await tempDir();
    const store = await ApiGatewayStore.open({ dir, usagePlans: [], maxApiKeys: 2 });
    store.createApiKey({});
    store.createApiKey({});
    expectApiGatewayError(() => store.createApiKey({}), 'LimitExceededException', 429);
    await store.flush();
  });

  it('reports daily [used, remaining] with remaining per quota period', async () => {
    const monthly = plan('m', { quota: { limit: 10, period: 'MONTH' } });
    const { store, gate, key } = await setup([monthly]);
    store.addUsagePlanKey('m', key.id);
    const admitAt = (iso: string, n: number): void => {
      for (let i = 0; i < n; i++) expect(gate.admit(key.id, monthly, at(iso)).ok).toBe(true);
    };
    admitAt('2024-01-30T10:00:00Z', 3);
    admitAt('2024-01-31T10:00:00Z', 2);
    admitAt('2024-02-01T10:00:00Z', 4);
    const series = store.usageSeries(monthly, key.id, utc('2024-01-30T00:00:00Z'), utc('2024-02-02T00:00:00Z'));
    expect(series).toEqual([
      [3, 7],
      [2, 5],
      [4, 6],
      [0, 6],
    ]);
    // A range starting mid-period counts the earlier days of that period.
    expect(store.usageSeries(monthly, key.id, utc('2024-01-31T00:00:00Z'), utc('2024-01-31T00:00:00Z'))).toEqual([[2, 5]]);
  });
});

describe('persistence', () => {
  it('keeps keys, memberships, tags and usage across two instances', async () => {
    const dir = await tempDir();
    let ms = utc('2024-05-15T12:00:00Z');
    const now = (): Date => new Date(ms);
    const first = await createApiGatewayControlPlane({ dir, usagePlans: PLANS, now, persistDelayMs: 1_000 });
    const key = first.store.createApiKey({ name: 'persisted', enabled: true, tags: { a: '1' }, customerId: 'cust' });
    first.store.addUsagePlanKey('free', key.id);
    expect(first.gate.admit(key.id, FREE).ok).toBe(true);
    expect(first.gate.admit(key.id, FREE).ok).toBe(true);
    await first.close();

    const files = await readdir(join(dir, 'apigateway'));
    expect(files.sort()).toEqual(['keys.json', 'usage.json']); // no temp files left behind
    expect(await readFile(join(dir, 'apigateway', 'usage.json'), 'utf8')).not.toContain(key.value);

    ms += 1000;
    const second = await createApiGatewayControlPlane({ dir, usagePlans: PLANS, now });
    expect(second.store.getApiKey(key.id)).toEqual(key);
    const resolved = second.gate.resolve(key.value, API.apiId, API.stage);
    expect(resolved?.plan.id).toBe('free');
    expect(second.store.usedOnDay(key.id, '2024-05-15')).toBe(2);
    // The quota used before the restart still counts: 5 per month, 2 used.
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      ms += 1000;
      if (second.gate.admit(key.id, FREE).ok) admitted++;
    }
    expect(admitted).toBe(3);
    await second.close();
  });

  it('debounces writes and flushes on close', async () => {
    const dir = await tempDir();
    const cp = await createApiGatewayControlPlane({ dir, usagePlans: [], persistDelayMs: 60_000 });
    cp.store.createApiKey({ name: 'later' });
    await expect(readdir(join(dir, 'apigateway'))).resolves.toEqual([]);
    await cp.close();
    const saved = JSON.parse(await readFile(join(dir, 'apigateway', 'keys.json'), 'utf8')) as { keys: { name: string }[] };
    expect(saved.keys.map((k) => k.name)).toEqual(['later']);
  });

  it('drops memberships of plans that left the template', async () => {
    const dir = await tempDir();
    const first = await createApiGatewayControlPlane({ dir, usagePlans: PLANS });
    const key = first.store.createApiKey({ enabled: true });
    first.store.addUsagePlanKey('other', key.id);
    await first.close();
    const lines: string[] = [];
    const second = await createApiGatewayControlPlane({ dir, usagePlans: [FREE], log: (l) => lines.push(l) });
    expect(second.store.listUsagePlans(key.id)).toEqual([]);
    expect(lines.join('\n')).toContain('other');
    await second.close();
  });

  it('refuses to start on a corrupt state file', async () => {
    const dir = await tempDir();
    const first = await createApiGatewayControlPlane({ dir, usagePlans: [] });
    first.store.createApiKey({});
    await first.close();
    await writeFile(join(dir, 'apigateway', 'keys.json'), '{"keys": [');
    await expect(createApiGatewayControlPlane({ dir, usagePlans: [] })).rejects.toThrow(/not valid JSON/);
  });
});

describe('helpers', () => {
  it('FaultInjector fails the next N calls of an operation', () => {
    const faults = new FaultInjector().inject('CreateApiKey', 'TooManyRequestsException', 2).inject('*', 'ConflictException');
    expect(faults.next('CreateApiKey')).toBe('TooManyRequestsException');
    expect(faults.next('GetApiKey')).toBe('ConflictException');
    expect(faults.next('CreateApiKey')).toBe('TooManyRequestsException');
    expect(faults.next('CreateApiKey')).toBeUndefined();
    expect(faults.next('GetApiKey')).toBeUndefined();
  });

  it('a token bucket allows `burst` at once, then `rate` per second; Infinity admits all', () => {
    const limit = { rate: 5, burst: 5 };
    const bucket = newBucket(limit, 0);
    expect(Array.from({ length: 6 }, () => takeToken(bucket, limit, 0))).toEqual([true, true, true, true, true, false]);
    expect([takeToken(bucket, limit, 200), takeToken(bucket, limit, 200)]).toEqual([true, false]);
    expect(secondsUntilToken(bucket, limit, 200)).toBe(1);
    expect(takeToken(bucket, limit, 100)).toBe(false); // a clock going backwards refills nothing
    const unlimited = { rate: Infinity, burst: Infinity };
    const open = newBucket(unlimited, 0);
    expect(Array.from({ length: 100 }, () => takeToken(open, unlimited, 0)).every(Boolean)).toBe(true);
  });

  it("ManagementApiLimiter: AWS's 10/s burst 40 for all operations, CreateApiKey and DeleteApiKey 5/s on top", () => {
    let t = 0;
    const limiter = new ManagementApiLimiter(AWS_MANAGEMENT_API_LIMITS, () => t);
    const creates = Array.from({ length: 6 }, () => limiter.admit('CreateApiKey'));
    expect(creates.map((a) => a.ok)).toEqual([true, true, true, true, true, false]);
    expect(creates[5]).toEqual({ ok: false, limit: 'operation', retryAfterSeconds: 1 });
    // The refused CreateApiKey took nothing from the account bucket: 35 of 40 are left.
    const reads = Array.from({ length: 36 }, () => limiter.admit('GetApiKey').ok);
    expect(reads.filter(Boolean)).toHaveLength(35);
    expect(limiter.admit('GetUsage')).toEqual({ ok: false, limit: 'account', retryAfterSeconds: 1 });
    expect(limiter.admit('DeleteApiKey').ok).toBe(false); // its own bucket is full, the account's is empty
    t = 1000; // 10 more tokens for the account
    expect(Array.from({ length: 11 }, () => limiter.admit('GetUsagePlans').ok).filter(Boolean)).toHaveLength(10);
    const off = new ManagementApiLimiter(NO_MANAGEMENT_API_LIMITS, () => 0);
    expect(Array.from({ length: 500 }, () => off.admit('CreateApiKey').ok).every(Boolean)).toBe(true);
    expect(managementApiLimits(undefined, Infinity).operations.CreateApiKey?.rate).toBe(Infinity);
    expect(managementApiLimits(undefined, Infinity).account).toEqual({ rate: 10, burst: 40 });
    expect(managementApiLimits('off')).toBe(NO_MANAGEMENT_API_LIMITS);
  });
});
