/**
 * Bench section 7, the scaled key mode (KeyMode SelfIssued, issue 15). Standalone: `npx tsx bench/scaled-keys.ts
 * [--customers N] [--concurrency C] [--budget S]` (defaults 20,000, 64, 2,400 s); also run by bench/run.ts
 * (`BENCH_SCALED_CUSTOMERS`, `BENCH_SCALED_BUDGET_SECONDS`; `--only scaled-keys` runs this section alone).
 *
 * (a) Onboarding through the real path on a full offline stack in KeyMode SelfIssued (bench/scaled-onboarding.ts):
 *     Cognito sign-up → confirmation → PostConfirmation → onboarding workflow (key slot) → sign-in → the first key from
 *     `POST /me/api-key/rotate`, C at a time, no new sign-up after the budget: sign-ups per second (completed
 *     onboardings, the workflow's end as completion), the rate per slice of completions with each step's median
 *     (where the time goes as the user pool grows), and CreateApiKey calls counted from the control plane's request
 *     log. Beside it, the per-key mode's sign-up rate measured in the same run (AWS's CreateApiKey limit of 5/s ON) and
 *     its ceiling from AWS's fixed limits (5/s, 10,000 keys per account and Region), computed.
 * (b) Verification: requests through the offline API Gateway data plane (local/execute-api) with the Lambda REQUEST
 *     authorizer (ReauthorizeEvery 0: every request counted) at 64 concurrent connections, for customers spread over
 *     the customers onboarded in (a) (their real keys, the stack's SelfIssuedKeys table and plan catalogue; the free
 *     plan's quota set small), each sent twice their quota (plus a few hot customers hit by all 64 at once): quota overshoot = requests admitted beyond a customer's quota, summed (target 0). The same requests on the
 *     same route without the authorizer give the baseline latency; the difference is the authorizer's added latency.
 * (c) Cost per million requests at AWS list prices (bench/prices.ts): authorizer invocations (Lambda requests and
 *     duration at the measured median) and the DynamoDB reads/writes counted during (b), beside the per-key mode's
 *     extra cost (0: usage plans are not billed separately).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { makeHandler } from '../functions/key-authorizer/handler.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parsePlanCatalog } from '../functions/shared/plans.ts';
import { selfIssuedKeysStore } from '../functions/shared/tables/self-issued-keys.ts';
import { createGateway } from '../local/execute-api/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LambdaInvoker, type RouteSpec } from '../local/types.ts';
import { runOnboarding } from './onboarding.ts';
import { runScaledOnboarding, STEPS, type ScaledOnboardingResult } from './scaled-onboarding.ts';
import { DYNAMODB_PER_MILLION_RRU, DYNAMODB_PER_MILLION_WRU, LAMBDA_ARM_PER_GB_SECOND, LAMBDA_PER_MILLION_REQUESTS } from './prices.ts';
import { fmt, heading, median, percentile, pool, positiveOption as option, table, usd } from './util.ts';

const CONCURRENCY = 64;
/** Sign-in + first rotation at once, of the CONCURRENCY customers (bench/scaled-onboarding.ts, firstKeyConcurrency). */
const FIRST_KEY_CONCURRENCY = 8;
const QUOTA = 5;
/** The authorizer's memory in the cost model (the template's Globals MemorySize). */
const AUTHORIZER_MEMORY_GB = 0.25;

export interface ScaledKeysResult {
  /** Customers onboarded with a key (the verification's population). */
  customers: number;
  onboarding: ScaledOnboardingResult;
  perKeyBaseline: PerKeyBaseline;
  signUpsPerSecond: number;
  perKeyModeSeconds: number;
  requests: number;
  admitted: number;
  /** Requests answered neither 200 nor 403 (the authorizer failing: 500), and the first reason. */
  errors: number;
  firstError?: string;
  quotaOvershoot: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  baselineP50Ms: number;
  authorizerMedianMs: number;
  perRequest: { reads: number; writes: number; authorizerInvocations: number };
  costPerMillionUsd: { lambdaRequests: number; lambdaDuration: number; dynamoReads: number; dynamoWrites: number; total: number };
}

interface Shot {
  customer: number;
  status: number;
  ms: number;
}

async function get(port: number, path: string, key: string | undefined, agent: http.Agent): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, headers: key ? { 'X-Api-Key': key } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface ScaledKeysOptions {
  customers: number;
  /** Concurrent sign-ups (default 64). */
  concurrency?: number;
  /** No new sign-up starts after this many seconds (default 2,400). */
  budgetSeconds?: number;
  /**
   * The per-key mode's onboarding measured in the same run (bench §2 (i): AWS's CreateApiKey limit ON), as the
   * baseline of the sign-up rate; when absent, §7 measures its own (PER_KEY_BASELINE_SIGNUPS sign-ups).
   */
  perKeyBaseline?: PerKeyBaseline;
}

export interface PerKeyBaseline {
  label: string;
  signUps: number;
  signUpsPerSecond: number;
}

/** Sign-ups of §7's own per-key baseline (ApiGateway mode, AWS's limits ON): enough to pass CreateApiKey's burst. */
const PER_KEY_BASELINE_SIGNUPS = 100;

export async function runScaledKeys(opts: ScaledKeysOptions, say: (line: string) => void): Promise<ScaledKeysResult> {
  const customers = opts.customers;
  const concurrency = opts.concurrency ?? CONCURRENCY;
  const budgetSeconds = opts.budgetSeconds ?? 2_400;
  let perKeyBaseline = opts.perKeyBaseline;
  if (!perKeyBaseline) {
    say(`  per-key mode baseline: ${PER_KEY_BASELINE_SIGNUPS} sign-ups in KeyMode ApiGateway, AWS's CreateApiKey limit ON…`);
    const run = await runOnboarding(
      { label: 'per-key baseline', signUps: PER_KEY_BASELINE_SIGNUPS, concurrency: 20, createApiKeyRateLimit: 5, retryIntervalScale: 1, latencyTarget: false, correctnessTargets: false },
      () => undefined,
    );
    perKeyBaseline = { label: `${PER_KEY_BASELINE_SIGNUPS} sign-ups at 20 concurrent, measured in §7`, signUps: run.signUps, signUpsPerSecond: run.signUpsPerSecond };
  }

  // (a) onboarding through the real path. The free plan: a small quota (the verification sends 2× it), no rate limit.
  say(`  onboarding ${customers} customers through Cognito sign-up and the onboarding workflow (KeyMode SelfIssued), ${concurrency} at a time (${FIRST_KEY_CONCURRENCY} of them signing in for their first key), budget ${budgetSeconds} s…`);
  const { result: onboarding, stack: t, keys } = await runScaledOnboarding(
    { customers, concurrency, firstKeyConcurrency: FIRST_KEY_CONCURRENCY, budgetSeconds, parameterOverrides: { FreeQuotaLimit: String(QUOTA), FreeQuotaPeriod: 'MONTH', FreeRateLimit: '1000000', FreeBurstLimit: '1000000' } },
    say,
  );
  say(`  ${onboarding.onboarded} onboarded, ${onboarding.withKey} with a key, ${onboarding.failed} failed; CreateApiKey calls ${onboarding.createApiKeyCalls}`);
  if (keys.length === 0) {
    await t.close();
    throw new Error(`no customer got a key: ${onboarding.firstFailure ?? 'none started'}`);
  }

  const authorizerFn = t.stack.model.functions.find((f) => f.logicalId === 'KeyAuthorizerFunction');
  const tableName = authorizerFn?.environment.SELF_ISSUED_KEYS_TABLE;
  const catalog = parsePlanCatalog(authorizerFn?.environment.PLAN_CATALOG ?? '');
  if (!tableName) throw new Error('KeyAuthorizerFunction has no SELF_ISSUED_KEYS_TABLE');
  const raw = new DynamoDBClient({ endpoint: t.stack.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  let reads = 0;
  let writes = 0;
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (/^Get/.test(context.commandName ?? '')) reads += 1;
      else writes += 1; // Update / Put
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const store = selfIssuedKeysStore(tableName, client);
  const servers: http.Server[] = [];
  try {
    // (b) verification through the offline gateway
    const authorize = makeHandler({ store, catalog: () => catalog, now: () => new Date() });
    const authorizerMs: number[] = [];
    const authorizerErrors: string[] = [];
    const invoker: LambdaInvoker = {
      has: () => true,
      async invoke(fn, event) {
        if (fn === 'KeyAuthorizerFunction') {
          const a0 = performance.now();
          try {
            return { payload: await authorize(event as APIGatewayRequestAuthorizerEvent), logs: '', requestId: 'r' };
          } catch (error) {
            if ((error as Error).message !== 'Unauthorized') authorizerErrors.push((error as Error).message);
            return { error: { errorType: 'Error', errorMessage: (error as Error).message }, logs: '', requestId: 'r' };
          } finally {
            authorizerMs.push(performance.now() - a0);
          }
        }
        return { payload: { statusCode: 200, body: '{"ok":true}' }, logs: '', requestId: 'r' };
      },
    };
    const authorizer = { name: 'KeyAuthorizer', functionName: 'KeyAuthorizerFunction', identityHeaders: ['X-Api-Key'], identityQueryStrings: [], ttlSeconds: 0 };
    const routes: RouteSpec[] = [
      { method: 'GET', path: '/data', functionName: 'DataFunction', authorizer: 'lambda', lambdaAuthorizer: authorizer, apiKeyRequired: false },
      { method: 'GET', path: '/open', functionName: 'DataFunction', authorizer: 'none', apiKeyRequired: false },
    ];
    const gate = { resolve: () => undefined, admit: () => ({ ok: true }) as const };
    const verifier = { verify: () => Promise.reject(new Error('unused')) };
    const { listener } = createGateway({ apiId: 'bench', stage: 'v1', routes, invoker, gate, verifier, log: () => undefined });
    const server = http.createServer(listener);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

    // Customers spread over the whole population, each sent 2× the quota; 8 hot customers get 64 at once each.
    const population = keys.length;
    const sampled = Math.min(population, 500);
    const stride = Math.max(1, Math.floor(population / sampled));
    const plan2x: number[] = [];
    for (let s = 0; s < sampled; s += 1) for (let r = 0; r < 2 * QUOTA; r += 1) plan2x.push(s * stride);
    for (let i = plan2x.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [plan2x[i], plan2x[j]] = [plan2x[j] as number, plan2x[i] as number];
    }
    const hot = Array.from({ length: 8 }, (_, h) => (h * 7919 + 1) % population).filter((c) => !plan2x.includes(c));
    const order = [...plan2x, ...hot.flatMap((c) => Array.from({ length: CONCURRENCY }, () => c))];
    say(`  verifying ${order.length} requests for ${sampled + hot.length} customers at ${CONCURRENCY} connections…`);
    reads = 0;
    writes = 0;
    const v0 = performance.now();
    const n = order.length;
    const shots: Shot[] = await pool(order, CONCURRENCY, async (customer) => ({ customer, ...(await get(port, '/v1/data', keys[customer], agent)) }));
    const verifySeconds = (performance.now() - v0) / 1000;
    const requestReads = reads;
    const requestWrites = writes;
    const unexpected = shots.filter((s) => s.status !== 200 && s.status !== 403);
    if (unexpected.length > n / 100) throw new Error(`${unexpected.length} requests answered ${unexpected[0]?.status}: ${authorizerErrors[0] ?? ''}`);
    const admittedBy = new Map<number, number>();
    for (const s of shots) if (s.status === 200) admittedBy.set(s.customer, (admittedBy.get(s.customer) ?? 0) + 1);
    let overshoot = 0;
    for (const n of admittedBy.values()) overshoot += Math.max(0, n - QUOTA);
    const admitted = shots.filter((s) => s.status === 200).length;
    const baseline = await pool(order.slice(0, 2000), CONCURRENCY, async () => get(port, '/v1/open', undefined, agent));
    agent.destroy();

    const perRequest = { reads: requestReads / n, writes: requestWrites / n, authorizerInvocations: authorizerMs.length / n };
    const authorizerMedianMs = median(authorizerMs);
    // Lambda bills duration in 1 ms steps; the in-process time is a floor for what a Lambda would take.
    const lambdaRequests = perRequest.authorizerInvocations * LAMBDA_PER_MILLION_REQUESTS.usd;
    const lambdaDuration = perRequest.authorizerInvocations * 1e6 * AUTHORIZER_MEMORY_GB * (Math.ceil(authorizerMedianMs) / 1000) * LAMBDA_ARM_PER_GB_SECOND.usd;
    // GetItem eventually consistent = 0.5 RRU (strongly consistent reads on the contention path are counted as 0.5 too: a floor).
    const dynamoReads = perRequest.reads * 0.5 * DYNAMODB_PER_MILLION_RRU.usd;
    const dynamoWrites = perRequest.writes * DYNAMODB_PER_MILLION_WRU.usd;
    return {
      customers: population,
      onboarding,
      perKeyBaseline,
      signUpsPerSecond: onboarding.signUpsPerSecond,
      perKeyModeSeconds: Math.min(customers, 10_000) / 5,
      requests: n,
      admitted,
      errors: unexpected.length,
      ...(authorizerErrors[0] !== undefined ? { firstError: authorizerErrors[0] } : {}),
      quotaOvershoot: overshoot,
      requestsPerSecond: n / verifySeconds,
      p50Ms: median(shots.map((s) => s.ms)),
      p99Ms: percentile(shots.map((s) => s.ms), 99),
      baselineP50Ms: median(baseline.map((s) => s.ms)),
      authorizerMedianMs,
      perRequest,
      costPerMillionUsd: { lambdaRequests, lambdaDuration, dynamoReads, dynamoWrites, total: lambdaRequests + lambdaDuration + dynamoReads + dynamoWrites },
    };
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    raw.destroy();
    await t.close();
  }
}

export function printScaledKeys(r: ScaledKeysResult): string {
  const c = r.costPerMillionUsd;
  const o = r.onboarding;
  const base = r.perKeyBaseline;
  const scope = o.stoppedByBudget
    ? `MEASURED ${o.onboarded} of the ${o.requested} requested: the ${o.budgetSeconds} s budget ran out; the curve below shows where the time went`
    : `all ${o.requested} requested`;
  return [
    heading('7. Scaled key mode (self-issued keys, Lambda REQUEST authorizer)'),
    `Onboarding through the real path: SignUp → ConfirmSignUp → PostConfirmation → onboarding workflow (key slot) → sign-in → POST /me/api-key/rotate (first key). ${scope}.`,
    table(
      ['', 'scaled mode (measured)', 'per-key mode'],
      [
        ['customers onboarded (workflow SUCCEEDED) / with a first key / failed', `${o.onboarded} / ${o.withKey} / ${o.failed}${o.firstFailure ? ` (${o.firstFailure})` : ''}`, r.customers > 10_000 ? 'impossible past 10,000: API keys per account and Region' : '-'],
        ['sign-ups per second (completed onboardings: start → last workflow end)', fmt(o.signUpsPerSecond, 1), `${fmt(base.signUpsPerSecond, 2)} measured (${base.label}); 5 at most (CreateApiKey)`],
        ['  ratio scaled / per-key (same run)', fmt(o.signUpsPerSecond / base.signUpsPerSecond, 2), '1'],
        ['customers with their first key per second (start → last rotate answer)', fmt(o.keysPerSecond, 1), '-'],
        ['time to onboard them', `${fmt(o.onboardingSeconds, 1)} s`, `${fmt(r.perKeyModeSeconds, 0)} s at 5/s${o.requested > 10_000 ? ' for the first 10,000' : ''} (computed)`],
        ['CreateApiKey calls (counted in the control plane\'s request log)', String(o.createApiKeyCalls), String(Math.min(o.onboarded, 10_000))],
        ['all management API calls by operation', Object.entries(o.managementCalls).map(([k, v]) => `${k} ${v}`).join(', ') || '0', '-'],
        ['cognito-local user pool at the end (its file + the journal of writes since, local/cognito-store.ts)', `${fmt(o.userPoolFileMB, 1)} MB`, '-'],
        [
          'POST /me/api-key/rotate: wait for one of AccountFunction\'s environments / its Duration, p50 (mean) ms',
          `${fmt(o.rotateSplit.queueP50, 0)} (${fmt(o.rotateSplit.queueMean, 0)}) / ${fmt(o.rotateSplit.durationP50, 0)} (${fmt(o.rotateSplit.durationMean, 0)})`,
          '-',
        ],
      ],
    ),
    table(
      ['completed', 'at s', 'sign-ups/s in the slice', ...STEPS.map((s) => `${s} p50 ms`)],
      o.curve.map((p) => [String(p.done), fmt(p.atSeconds, 0), fmt(p.perSecond, 1), ...STEPS.map((s) => fmt(p.stepMedianMs[s], 0))]),
    ),
    table(
      ['verification at 64 connections', 'value'],
      [
        ['requests (2× quota per customer, + 8 hot customers × 64 at once)', String(r.requests)],
        ['admitted', String(r.admitted)],
        ['errors (5xx)', r.errors === 0 ? '0' : `${r.errors} (${r.firstError ?? ''})`],
        ['quota overshoot (target 0)', `${r.quotaOvershoot} ${r.quotaOvershoot === 0 ? 'PASS' : 'MISS'}`],
        ['requests/s', fmt(r.requestsPerSecond, 0)],
        ['p50 / p99 latency (ms)', `${fmt(r.p50Ms, 1)} / ${fmt(r.p99Ms, 1)}`],
        ['p50 without the authorizer (ms) → added latency', `${fmt(r.baselineP50Ms, 1)} → +${fmt(r.p50Ms - r.baselineP50Ms, 1)}`],
        ['authorizer median (ms, in-process)', fmt(r.authorizerMedianMs, 2)],
        ['per request: authorizer invocations / DynamoDB reads / writes', `${fmt(r.perRequest.authorizerInvocations, 2)} / ${fmt(r.perRequest.reads, 2)} / ${fmt(r.perRequest.writes, 2)}`],
      ],
    ),
    table(
      ['extra cost per million requests (US East list prices)', 'scaled mode', 'per-key mode'],
      [
        ['Lambda requests (authorizer)', usd(c.lambdaRequests), usd(0)],
        [`Lambda duration (${AUTHORIZER_MEMORY_GB * 1024} MB × ${Math.ceil(r.authorizerMedianMs)} ms, the offline median: dynalite-bound, an upper bound)`, usd(c.lambdaDuration), usd(0)],
        [`  the same per 10 ms billed`, usd((c.lambdaDuration / Math.ceil(r.authorizerMedianMs)) * 10), usd(0)],
        ['DynamoDB reads', usd(c.dynamoReads), usd(0)],
        ['DynamoDB writes (quota counter)', usd(c.dynamoWrites), usd(0)],
        ['total', usd(c.total), usd(0)],
      ],
    ),
    'Prices: bench/prices.ts (Lambda and DynamoDB figures there are marked unconfirmed). API Gateway\'s own $3.50/M is the same in both modes.',
  ].join('\n');
}

if (require.main === module) {
  runScaledKeys({ customers: option('customers', 20_000), concurrency: option('concurrency', CONCURRENCY), budgetSeconds: option('budget', 2_400) }, (line) => console.log(line))
    .then((r) => console.log(printScaledKeys(r)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exit(1);
    });
}
