/**
 * Section 5 — dashboard loads against API Gateway's management API limit (10 requests/s, burst 40, per account and
 * Region, shared by every caller; ON here, as in AWS). Open loop: 50 dashboard loads per second for 10 s, spread over
 * the bench's customers. A load is what the portal does: GET /me/api-key (key id), GET /me, then GET /me/usage (last
 * 14 days) and GET /me/billing together; the key value is revealed (GET /me/api-key?reveal=true) only when the
 * session does not hold it. Two runs in the same stack:
 *   (a) returning sessions — the session holds the key (the common load);
 *   (b) cold sessions — every load reveals the key too (a new tab each time: the worst case for the management API).
 * Figures: management API calls per second of the 10 s window and per load overall (every control-plane request the
 * stack received, from its request log), 429s among them, customer responses by class (target: 0 5xx), load latency,
 * and when the last load finished (later than 10 s when the offline stack queues the offered rate).
 */
import { performance } from 'node:perf_hooks';
import type { TestStack } from '../local/harness/stack.ts';
import { onboardUser, startBenchStack, type BenchUser } from './setup.ts';
import { fmt, heading, percentile, pool, sleep, table, verdict } from './util.ts';

const LOADS_PER_SECOND = 50;
const SECONDS = 10;
const CUSTOMERS = 50;

export interface DashboardRun {
  label: string;
  loads: number;
  loadsPerSecond: number;
  seconds: number;
  customers: number;
  /** Control-plane requests per second of the window: mean, max, and each second. */
  managementCallsPerSecond: { mean: number; max: number; perSecond: number[] };
  managementThrottled: number;
  /** Management calls per dashboard load. */
  managementCallsPerLoad: number;
  responses: { '2xx': number; '4xx': number; '5xx': number; failed: number };
  loadMs: { p50: number; p99: number };
  /** From the first load's start to the last load's end: above `seconds` when the offline stack queues. */
  completedSeconds: number;
  target5xx: { value: number; limit: string; verdict: 'PASS' | 'MISS' };
}

export interface DashboardResult {
  runs: DashboardRun[];
}

interface ControlPlaneLog {
  lines: { at: number; status: number }[];
}

/** Runs both variants on one stack with AWS's management API limits (the default). */
export async function runDashboard(say: (line: string) => void): Promise<DashboardResult> {
  const log: ControlPlaneLog = { lines: [] };
  const t = await startBenchStack({
    retryIntervalScale: 1, // the workflows' Retry waits as in AWS: onboarding meets the same limits
    // Quotas and throttles of the plan out of the way: this section is about the management API, not usage plans.
    parameterOverrides: { FreeRateLimit: '1000000', FreeBurstLimit: '1000000', FreeQuotaLimit: '1000000' },
    log: (line) => {
      const m = /^\[apigateway\] [A-Z]+ \S+ (\d{3}) /.exec(line);
      if (m) log.lines.push({ at: performance.now(), status: Number(m[1]) });
    },
  });
  try {
    say(`  onboarding ${CUSTOMERS} customers (with AWS's limits: CreateApiKey 5/s)…`);
    const customers = await pool(Array.from({ length: CUSTOMERS }), 5, (_, i) => onboardUser(t, `dash-${i}`));
    await sleep(5_000); // let the account's bucket refill (40 tokens at 10/s) after onboarding
    const runs: DashboardRun[] = [];
    runs.push(await run(t, log, customers, '(a) returning sessions (key held)', false, say));
    await sleep(5_000);
    runs.push(await run(t, log, customers, '(b) cold sessions (every load reveals the key)', true, say));
    return { runs };
  } catch (error) {
    say(`  dashboard section failed: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  } finally {
    await t.close();
  }
}

async function run(t: TestStack, log: ControlPlaneLog, customers: BenchUser[], label: string, reveal: boolean, say: (line: string) => void): Promise<DashboardRun> {
  say(`  ${label}: ${LOADS_PER_SECOND} loads/s for ${SECONDS} s…`);
  const responses = { '2xx': 0, '4xx': 0, '5xx': 0, failed: 0 };
  const loadMs: number[] = [];
  const today = new Date();
  const day = (offset: number) => new Date(today.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  const usagePath = `/me/usage?from=${day(-13)}&to=${day(0)}`;

  const call = async (c: BenchUser, path: string): Promise<void> => {
    try {
      const r = await fetch(`${t.stack.apiUrl}${path}`, { headers: { Authorization: c.idToken, 'x-api-key': c.keyValue } });
      await r.arrayBuffer();
      if (r.status >= 500) responses['5xx']++;
      else if (r.status >= 400) responses['4xx']++;
      else responses['2xx']++;
    } catch {
      responses.failed++;
    }
  };
  const load = async (c: BenchUser): Promise<void> => {
    const t0 = performance.now();
    await call(c, '/me/api-key');
    if (reveal) await call(c, '/me/api-key?reveal=true');
    await call(c, '/me');
    await Promise.all([call(c, usagePath), call(c, '/me/billing')]);
    loadMs.push(performance.now() - t0);
  };

  const startLine = log.lines.length;
  const start = performance.now();
  const total = LOADS_PER_SECOND * SECONDS;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / LOADS_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(load(customers[i % customers.length] as BenchUser));
  }
  await Promise.all(inflight);
  const completedSeconds = (performance.now() - start) / 1000;
  const window = log.lines.slice(startLine).filter((l) => l.at >= start && l.at < start + SECONDS * 1000);
  const perSecond = Array.from({ length: SECONDS }, (_, s) => window.filter((l) => l.at >= start + s * 1000 && l.at < start + (s + 1) * 1000).length);
  const calls = log.lines.slice(startLine);
  return {
    label,
    loads: total,
    loadsPerSecond: LOADS_PER_SECOND,
    seconds: SECONDS,
    customers: customers.length,
    managementCallsPerSecond: { mean: perSecond.reduce((a, b) => a + b, 0) / SECONDS, max: Math.max(...perSecond), perSecond },
    managementThrottled: calls.filter((l) => l.status === 429).length,
    managementCallsPerLoad: calls.length / total,
    responses,
    loadMs: { p50: percentile(loadMs, 50), p99: percentile(loadMs, 99) },
    completedSeconds,
    target5xx: { value: responses['5xx'] + responses.failed, limit: '0', verdict: verdict(responses['5xx'] + responses.failed === 0) },
  };
}

export function printDashboard(result: DashboardResult): string {
  const rows = result.runs.map((r) => [
    r.label,
    String(r.loads),
    fmt(r.managementCallsPerSecond.mean, 1),
    String(r.managementCallsPerSecond.max),
    fmt(r.managementCallsPerLoad, 3),
    String(r.managementThrottled),
    String(r.responses['2xx']),
    String(r.responses['4xx']),
    String(r.responses['5xx'] + r.responses.failed),
    fmt(r.loadMs.p50, 0),
    fmt(r.loadMs.p99, 0),
    fmt(r.completedSeconds, 1),
  ]);
  return [
    heading(`5. Dashboard loads under the management API limit (${LOADS_PER_SECOND}/s for ${SECONDS} s, ${CUSTOMERS} customers, AWS limits ON)`),
    table(['run', 'loads', 'mgmt calls/s', 'max/s', 'calls/load', '429s', '2xx', '4xx', '5xx', 'load p50 ms', 'p99 ms', 'done in s'], rows),
    'Baseline (same requests before caching, by construction): 3 management calls per load (GetApiKey + 2 GetUsage),',
    `i.e. ${3 * LOADS_PER_SECOND} calls/s against a limit of 10/s.`,
    ...result.runs.map((r) => `${r.label}: 5xx ${r.target5xx.value} (target ${r.target5xx.limit}) — ${r.target5xx.verdict}; per second ${r.managementCallsPerSecond.perSecond.join(' ')}`),
  ].join('\n');
}
