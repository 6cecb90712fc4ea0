/**
 * `npm run bench`: figures, not assertions. Sections on in-process offline stacks (free ports, temp dirs):
 *   1a. no-op path — GET /health vs serverless-offline (default and in-process modes) vs bare node:http (noop-path.ts);
 *   1b. request path — authenticated GET /links vs the same handler without auth vs bare node:http, and its split;
 *   2. onboarding — 200 sign-ups at 20 concurrent, with AWS's CreateApiKey limit and without;
 *   3. cold start — bundle size and init per function;
 *   4. cost model — transitions, DynamoDB units, Lambda, API Gateway, Cognito per action, priced;
 *   5. billing close — 10,000 seeded accounts closed under the 25,000-event history quota, and a rerun.
 *   6. dashboard loads — 50/s for 10 s against API Gateway's management API limit (ON): management calls/s, 5xx.
 *   7. scaled key mode — BENCH_SCALED_CUSTOMERS (default 20,000) customers onboarded through real sign-ups in KeyMode
 *      SelfIssued within BENCH_SCALED_BUDGET_SECONDS (default 2,400), verified at 64 connections through the Lambda
 *      REQUEST authorizer: sign-ups/s, CreateApiKey calls, quota overshoot, cost per million (bench/scaled-keys.ts).
 *   8. key-only owner lookup — DataApiAuth=ApiKey, 40 customers, half rotated with an overlap: the KeyOwners record's
 *      GetItem against the Accounts indexes' Queries (baseline), DynamoDB calls, read units and latency per lookup, and
 *      the owner-lookup reads of a first GET /links per key through the offline gateway (bench/key-owners.ts).
 * Prints each section's tables and PASS/MISS per target (a MISS never fails the process), then writes
 * bench/results/latest.json (git-ignored) and bench/results/<YYYY-MM-DD>.json. See bench/README.md.
 *
 * `npm run bench -- --only request-path` runs sections 1a and 1b alone (`--only noop`: 1a alone), about 4 minutes,
 * and writes bench/results/<YYYY-MM-DD>-request-path.json instead (`--only scaled-keys`: section 7 alone, its
 * per-key baseline measured there, bench/results/<YYYY-MM-DD>-scaled-keys.json; `--only key-owners`: section 8 alone,
 * about 1–2 minutes, bench/results/<YYYY-MM-DD>-key-owners.json); `--note "<text>"` records what else loaded the
 * machine in the results; `--lambda-concurrency <n>` sets the offline Lambda service's environments per function
 * (default 4) to measure what the cap does to the authenticated path's p99.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { printBillingClose, runBillingClose, type BillingCloseResult } from './billing-close.ts';
import { printColdStart, runColdStart, type ColdStartResult } from './cold-start.ts';
import { printCost, runCost, type CostResult } from './cost.ts';
import { printDashboard, runDashboard, type DashboardResult } from './dashboard.ts';
import { printOnboarding, runOnboarding, type OnboardingRun } from './onboarding.ts';
import { printNoopPath, runNoopPath, type NoopPathResult } from './noop-path.ts';
import { accessLog, printRequestPath, runRequestPath, type RequestPathResult } from './request-path.ts';
import { printKeyOwners, runKeyOwners, type KeyOwnersResult } from './key-owners.ts';
import { printScaledKeys, runScaledKeys, type ScaledKeysResult } from './scaled-keys.ts';
import { onboardUser, startBenchStack, waitForIdle } from './setup.ts';
import { fmt, fmtTarget, heading, table } from './util.ts';

const root = resolve(__dirname, '..');
const HIGH = '1000000';

/** `--only request-path` (sections 1a and 1b), `--only noop` (1a), `--only scaled-keys` (7) or `--only key-owners` (8); `--note <text>`. */
function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}
const ONLY = argument('only');
/** `--only <name>`: the sections it runs, by their number's prefix. */
const ONLY_SECTIONS: Record<string, readonly string[]> = { 'request-path': ['1a.', '1b.'], noop: ['1a.'], 'scaled-keys': ['7.'], 'key-owners': ['8.'] };
if (ONLY !== undefined && !Object.hasOwn(ONLY_SECTIONS, ONLY)) {
  console.error(`--only takes ${Object.keys(ONLY_SECTIONS).join(', ')}, not ${ONLY}`);
  process.exit(2);
}
/** `--lambda-concurrency <n>`: the offline Lambda service's environments per function (its default when absent), to measure the cap's effect. */
const LAMBDA_CONCURRENCY = argument('lambda-concurrency') === undefined ? undefined : Number(argument('lambda-concurrency'));
if (LAMBDA_CONCURRENCY !== undefined && !(Number.isInteger(LAMBDA_CONCURRENCY) && LAMBDA_CONCURRENCY >= 1)) {
  console.error(`--lambda-concurrency takes a whole number ≥ 1, not ${argument('lambda-concurrency')}`);
  process.exit(2);
}

/** Retry waits as in AWS for run (i): see printOnboarding for why scaling them down does not help there. */
const AWS_LIMIT_RETRY_SCALE = 1;

interface Results {
  date: string;
  startedAt: string;
  machine: { node: string; platform: string; cpus: number; cpuModel: string; memoryGB: number; loadAverageAtStart: number[]; loadAverageAtEnd?: number[] };
  wallSeconds?: number;
  /** What the run was: every section, or `--only <name>`; and `--note`. */
  only?: string;
  note?: string;
  noopPath?: NoopPathResult;
  requestPath?: RequestPathResult;
  onboarding?: OnboardingRun[];
  coldStart?: ColdStartResult;
  cost?: CostResult;
  billingClose?: BillingCloseResult;
  dashboard?: DashboardResult;
  scaledKeys?: ScaledKeysResult;
  keyOwners?: KeyOwnersResult;
  errors: { section: string; message: string }[];
}

async function main(): Promise<void> {
  const started = performance.now();
  const now = new Date();
  const say = (line: string) => console.log(line);
  const results: Results = {
    date: now.toISOString().slice(0, 10),
    startedAt: now.toISOString(),
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(totalmem() / 2 ** 30),
      loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
    },
    errors: [],
    ...(ONLY !== undefined ? { only: ONLY } : {}),
    ...(argument('note') !== undefined ? { note: argument('note') } : {}),
  };
  const m = results.machine;
  say(`Tollgate bench — ${results.startedAt}, Node ${process.version}, ${m.cpus} CPU (${m.cpuModel}), ${m.memoryGB} GB, load average ${m.loadAverageAtStart.join(' ')}${ONLY !== undefined ? `, --only ${ONLY}` : ''}${LAMBDA_CONCURRENCY !== undefined ? `, --lambda-concurrency ${LAMBDA_CONCURRENCY}` : ''}`);
  if (results.note !== undefined) say(`Note: ${results.note}`);
  if ((m.loadAverageAtStart[0] ?? 0) > m.cpus / 2) {
    say(`Note: the machine is already busy (1-min load ${m.loadAverageAtStart[0]} on ${m.cpus} CPUs): timings will be slower and noisier than on an idle machine.`);
  }

  // `--only`: the other sections are skipped (undefined), so nothing else changes below.
  const selected = (name: string) => ONLY === undefined || (ONLY_SECTIONS[ONLY] ?? []).some((prefix) => name.startsWith(prefix));
  const section = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!selected(name)) {
      say(`  (${name}: skipped, --only ${ONLY})`);
      return undefined;
    }
    const t0 = performance.now();
    try {
      const value = await run();
      say(`  (${name}: ${fmt((performance.now() - t0) / 1000, 1)} s)`);
      return value;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      results.errors.push({ section: name, message });
      say(`\n${name} FAILED: ${message}`);
      return undefined;
    }
  };

  // The bench stack (sections 1, 3, 4): free plan limits raised so throttling and quota never cut a run.
  if (ONLY === undefined || ONLY === 'request-path' || ONLY === 'noop') {
    say('\nStarting the bench stack…');
    const t = await startBenchStack({
      createApiKeyRateLimit: Infinity,
      managementApiLimits: 'off',
      parameterOverrides: { FreeRateLimit: HIGH, FreeBurstLimit: HIGH, FreeQuotaLimit: HIGH },
      gatewayAccessLog: accessLog.record,
      ...(LAMBDA_CONCURRENCY !== undefined ? { lambdaMaxConcurrency: LAMBDA_CONCURRENCY } : {}),
    });
    try {
      const user = await onboardUser(t, 'bench');

      say('\n[1a] no-op path beside serverless-offline');
      results.noopPath = await section('1a. no-op path', () => runNoopPath(t, root, say));
      if (results.noopPath) say(printNoopPath(results.noopPath));

      say('\n[1b] request path');
      results.requestPath = await section('1b. request path', () => runRequestPath(t, user, root, say));
      if (results.requestPath) say(printRequestPath(results.requestPath));

      say('\n[2/6] onboarding');
      const common = { signUps: 200, concurrency: 20, correctnessTargets: true };
      results.onboarding = await section('2. onboarding', async () => [
        await runOnboarding({ ...common, label: '(i) with AWS\'s management API limits', createApiKeyRateLimit: 5, retryIntervalScale: AWS_LIMIT_RETRY_SCALE, latencyTarget: false }, say),
        await runOnboarding({ ...common, label: '(ii) CreateApiKey limit off: the pipeline\'s own latency', createApiKeyRateLimit: Infinity, retryIntervalScale: 1, latencyTarget: true }, say),
        await runOnboarding(
          { label: '(iii) unloaded baseline, limit off', signUps: 20, concurrency: 1, createApiKeyRateLimit: Infinity, retryIntervalScale: 1, latencyTarget: false, correctnessTargets: false },
          say,
        ),
      ]);
      if (results.onboarding) say(printOnboarding(results.onboarding));

      // Section 4 before 3 in time: the cold-start probes start stray executions (the fixtures' made-up users) that
      // would run during the cost model's counting windows. Printed in order.
      say('\n[3/6] cost model (measured before the cold-start probes, printed after them as section 4)');
      const throttled = results.onboarding?.[0]?.transitionsPerExecution.withRetries;
      results.cost = await section('4. cost model', () => runCost(t, user, results.requestPath?.linksInvokeMedianMs ?? Number.NaN, throttled));

      say('\n[4/6] cold start');
      results.coldStart = await section('3. cold start', () => runColdStart(t, root, say));
      if (results.coldStart) say(printColdStart(results.coldStart));
      if (results.cost) say(printCost(results.cost));
      await waitForIdle(t, 10_000);
    } finally {
      await t.close();
    }
  }

  // Its own stack: 10,000 seeded accounts would change what the other sections measure.
  say('\n[5/6] billing close');
  results.billingClose = await section('5. billing close', () => runBillingClose(say));
  if (results.billingClose) say(printBillingClose(results.billingClose));

  // Its own stack: AWS's management API limits ON (the bench stack above lifts CreateApiKey's).
  say('\n[6/6] dashboard loads under the management API limit');
  results.dashboard = await section('6. dashboard loads', () => runDashboard(say));
  if (results.dashboard) say(printDashboard(results.dashboard));

  // Its own stack, in KeyMode SelfIssued.
  const scaledCustomers = Number(process.env.BENCH_SCALED_CUSTOMERS ?? 20_000);
  const budgetSeconds = Number(process.env.BENCH_SCALED_BUDGET_SECONDS ?? 2_400);
  // The per-key mode's sign-up rate with AWS's CreateApiKey limit, from section 2 (i) when it ran.
  const perKey = results.onboarding?.[0];
  const perKeyBaseline = perKey ? { label: `§2 ${perKey.label.split(' ')[0]}, ${perKey.signUps} sign-ups at ${perKey.concurrency} concurrent`, signUps: perKey.signUps, signUpsPerSecond: perKey.signUpsPerSecond } : undefined;
  say(`\n[7] scaled key mode (${scaledCustomers} customers, budget ${budgetSeconds} s)`);
  results.scaledKeys = await section('7. scaled key mode', () => runScaledKeys({ customers: scaledCustomers, budgetSeconds, ...(perKeyBaseline ? { perKeyBaseline } : {}) }, say));
  if (results.scaledKeys) say(printScaledKeys(results.scaledKeys));

  // Its own stack, in DataApiAuth ApiKey (the bench stack runs IdTokenAndApiKey, the template's default).
  say('\n[8] key-only owner lookup');
  results.keyOwners = await section('8. key-only owner lookup', () => runKeyOwners({}, say));
  if (results.keyOwners) say(printKeyOwners(results.keyOwners));

  results.wallSeconds = (performance.now() - started) / 1000;
  results.machine.loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));
  const targets = [
    ...(results.noopPath?.targets.map((x) => ['1a', x.name, fmtTarget(x.value), x.limit, x.verdict]) ?? []),
    ...(results.requestPath?.targets.map((x) => ['1b', x.name, fmtTarget(x.value), x.limit, x.verdict]) ?? []),
    ...(results.onboarding?.flatMap((r) => r.targets.map((x) => ['2', `${r.label.split(':')[0]} ${x.name}`, fmt(x.value, 0), x.limit, x.verdict])) ?? []),
    ...(results.coldStart?.targets.map((x) => ['3', x.name, fmt(x.value, 1), x.limit, x.verdict]) ?? []),
    ...(results.billingClose?.targets.map((x) => ['5', x.name, fmt(x.value, 0), x.limit, x.verdict]) ?? []),
    ...(results.dashboard?.runs.map((r) => ['6', `${r.label.split(' ')[0]} 5xx responses`, String(r.target5xx.value), r.target5xx.limit, r.target5xx.verdict]) ?? []),
    ...(results.scaledKeys
      ? [
          (({ withKey, requested }) => ['7', 'customers onboarded with a key through real sign-ups', String(withKey), String(requested), withKey >= requested ? 'PASS' : 'MISS'])(results.scaledKeys.onboarding),
          (({ createApiKeyCalls: n }) => ['7', 'CreateApiKey calls in the scaled mode', String(n), '0', n === 0 ? 'PASS' : 'MISS'])(results.scaledKeys.onboarding),
          ['7', 'quota overshoot at 64 connections', String(results.scaledKeys.quotaOvershoot), '0', results.scaledKeys.quotaOvershoot === 0 ? 'PASS' : 'MISS'],
        ]
      : []),
    ...(results.keyOwners?.targets.map((x) => ['8', x.name, fmt(x.value, 0), x.limit, x.verdict]) ?? []),
  ];
  say(heading('Targets'));
  say(table(['§', 'target', 'value', 'limit', 'result'], targets));
  if (results.errors.length) say(`\n${results.errors.length} section(s) failed: ${results.errors.map((e) => e.section).join(', ')}`);

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(results, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value), 2)}\n`;
  writeFileSync(join(dir, 'latest.json'), json);
  const dated = `${results.date}${ONLY !== undefined ? `-${ONLY}` : ''}.json`;
  writeFileSync(join(dir, dated), json);
  say(`\nWrote bench/results/latest.json and bench/results/${dated}. Total wall time ${fmt(results.wallSeconds, 1)} s; load average at the end ${results.machine.loadAverageAtEnd.join(' ')}.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
