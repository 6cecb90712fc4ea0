/**
 * Section 2 — onboarding: 200 sign-ups, 20 at a time, each one SignUp → ConfirmSignUp (code from the local outbox) →
 * wait for its onboarding execution to close; then proof that nothing was made twice (keys via GetApiKeys paging,
 * keys in the free plan, accounts via Scan, PLAN_STARTED ledger entries via Scan, executions via ListExecutions)
 * and the retries each execution needed (from its history).
 *
 * Latency = from just before ConfirmSignUp to the onboarding execution's stopDate. The account turns ACTIVE in the
 * workflow's last Task (MarkActive), a Pass state before the end: stopDate is an upper bound on "the account reads
 * ACTIVE", a few milliseconds late.
 *
 * Run twice, on fresh stacks: with AWS's CreateApiKey limit (5 requests/s per account) and with it off.
 */
import { GetApiKeysCommand, GetUsagePlanKeysCommand, type GetApiKeysCommandOutput, type GetUsagePlanKeysCommandOutput } from '@aws-sdk/client-api-gateway';
import { ConfirmSignUpCommand, InitiateAuthCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import { onboardingArn, PASSWORD, uniqueEmail, type TestStack } from '../local/harness/stack.ts';
import { countTransitions, executionHistory, listExecutions, startBenchStack, stateMachineArn, type TransitionCount } from './setup.ts';
import { fmt, heading, median, percentile, pool, sum, table, verdict } from './util.ts';

const TARGET_P95_MS = 500;
const EXECUTION_TIMEOUT_MS = 150_000;

export interface RunConfig {
  label: string;
  createApiKeyRateLimit: number;
  retryIntervalScale: number;
  signUps: number;
  concurrency: number;
  /** Judge the latency target on this run (not with the AWS limit on, where it cannot be met). */
  latencyTarget: boolean;
  /** Judge the correctness targets (all ACTIVE, no duplicates) on this run. */
  correctnessTargets: boolean;
}

interface SignUpRecord {
  email: string;
  userId: string;
  /** ConfirmSignUp's round trip (includes the PostConfirmation trigger, which starts the execution). */
  confirmMs: number;
  /** Just before ConfirmSignUp → the execution's stopDate. */
  latencyMs: number;
  /** The execution's startDate → stopDate. */
  workflowMs: number;
  status: string;
  error?: string;
  transitions: TransitionCount;
}

export interface OnboardingRun {
  label: string;
  createApiKeyRateLimit: number | 'off';
  retryIntervalScale: number;
  signUps: number;
  concurrency: number;
  wallSeconds: number;
  signUpsPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  confirmMs: { p50: number; p95: number };
  workflowMs: { p50: number; p95: number };
  firstPass: { succeeded: number; failed: number; failures: Record<string, number> };
  /** FAILED onboardings re-driven by signing in (the PostAuthentication trigger), and how they ended. */
  redrive: { attempted: number; succeeded: number };
  counts: {
    apiKeys: number;
    distinctKeyNames: number;
    keysInFreePlan: number;
    accounts: number;
    activeAccounts: number;
    accountsWithMatchingKey: number;
    planStartedEntries: number;
    usersWithOnePlanStarted: number;
    onboardExecutions: number;
    distinctOnboardNames: number;
    redriveExecutions: number;
  };
  retries: { total: number; throttle: number; executionsThrottled: number; maxPerExecution: number };
  transitionsPerExecution: { stateEntered: number; withRetries: number };
  noDuplicates: boolean;
  allActive: boolean;
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
}

async function scanAll(t: TestStack, tableName: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await t.clients.dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const tableName = (t: TestStack, logicalId: string) => {
  const found = t.stack.model.tables.find((x) => x.logicalId === logicalId);
  if (!found) throw new Error(`no table ${logicalId}`);
  return found.name;
};

async function oneSignUp(t: TestStack, index: number): Promise<SignUpRecord> {
  const email = uniqueEmail(`onb${index}`);
  const { cognito } = t.clients;
  const signUp = await cognito.send(
    new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] }),
  );
  const userId = signUp.UserSub as string;
  const code = t.stack.cognito.latestCode(email);
  if (!code) throw new Error(`no confirmation code reached the outbox for ${email}`);
  const startedAt = Date.now();
  const t0 = performance.now();
  let confirmError: string | undefined;
  try {
    await cognito.send(new ConfirmSignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code }));
  } catch (error) {
    // A failing PostConfirmation trigger fails ConfirmSignUp; the execution may still have started.
    confirmError = `ConfirmSignUp: ${(error as Error).name}: ${(error as Error).message}`;
  }
  const confirmMs = performance.now() - t0;
  // In-process wait (no polling load on the machine being measured); the stopDate is the service's own clock.
  const execution = await t.stack.stepFunctions.waitForExecution(onboardingArn(t, userId), EXECUTION_TIMEOUT_MS).catch((error: Error) => error);
  if (execution instanceof Error) {
    return { email, userId, confirmMs, latencyMs: Number.NaN, workflowMs: Number.NaN, status: 'NOT_CLOSED', error: confirmError ?? execution.message, transitions: { stateEntered: 0, retries: 0, throttleRetries: 0 } };
  }
  const stop = execution.stopDate?.getTime() ?? Date.now();
  return {
    email,
    userId,
    confirmMs,
    latencyMs: stop - startedAt,
    workflowMs: stop - execution.startDate.getTime(),
    status: execution.status,
    ...(execution.status !== 'SUCCEEDED' ? { error: `${execution.error ?? ''}: ${execution.cause ?? ''}`.slice(0, 200) } : confirmError ? { error: confirmError } : {}),
    transitions: { stateEntered: 0, retries: 0, throttleRetries: 0 },
  };
}

/** Signs each FAILED user in: the PostAuthentication trigger re-drives their onboarding (`onboard-<sub>-<hash>`). */
async function redrive(t: TestStack, failed: SignUpRecord[]): Promise<{ attempted: number; succeeded: number }> {
  let succeeded = 0;
  const machine = stateMachineArn(t, 'OnboardingStateMachine');
  for (const record of failed) {
    await t.clients.cognito
      .send(new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: record.email, PASSWORD } }))
      .catch(() => undefined);
    const again = (await listExecutions(t, machine)).filter((e) => e.name.startsWith(`onboard-${record.userId}-`));
    for (const e of again) {
      const done = await t.stack.stepFunctions.waitForExecution(e.executionArn, EXECUTION_TIMEOUT_MS).catch(() => undefined);
      if (done?.status === 'SUCCEEDED') {
        succeeded++;
        break;
      }
    }
  }
  return { attempted: failed.length, succeeded };
}

export async function runOnboarding(config: RunConfig, say: (line: string) => void): Promise<OnboardingRun> {
  // A finite CreateApiKey limit runs with all of AWS's management API limits (10/s burst 40 too); Infinity lifts them all.
  const t = await startBenchStack({
    createApiKeyRateLimit: config.createApiKeyRateLimit,
    ...(Number.isFinite(config.createApiKeyRateLimit) ? {} : { managementApiLimits: 'off' as const }),
    retryIntervalScale: config.retryIntervalScale,
  });
  try {
    const started = performance.now();
    let done = 0;
    const records = await pool(
      Array.from({ length: config.signUps }, (_, i) => i),
      config.concurrency,
      async (i) => {
        const record = await oneSignUp(t, i);
        if (++done % 50 === 0) say(`  ${config.label}: ${done}/${config.signUps} onboardings closed (${fmt((performance.now() - started) / 1000)} s)`);
        return record;
      },
    );
    const wallSeconds = (performance.now() - started) / 1000;

    // Histories: retries and state transitions per execution.
    const machine = stateMachineArn(t, 'OnboardingStateMachine');
    await pool(records, 8, async (record) => {
      if (record.status === 'NOT_CLOSED') return;
      record.transitions = countTransitions(await executionHistory(t, onboardingArn(t, record.userId)));
    });

    const failedFirst = records.filter((r) => r.status !== 'SUCCEEDED');
    const failures: Record<string, number> = {};
    for (const r of failedFirst) {
      const reason = (r.error ?? r.status).split(':')[0] || r.status;
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
    const redriven = failedFirst.length > 0 ? await redrive(t, failedFirst) : { attempted: 0, succeeded: 0 };

    // Counting, after everything has closed.
    const keys: { id: string; name: string }[] = [];
    let position: string | undefined;
    do {
      const page: GetApiKeysCommandOutput = await t.clients.apigateway.send(new GetApiKeysCommand({ limit: 500, position }));
      for (const k of page.items ?? []) keys.push({ id: k.id as string, name: k.name as string });
      position = page.position;
    } while (position);
    const freePlan = t.stack.model.usagePlans.find((p) => p.logicalId === 'FreeUsagePlan');
    let keysInFreePlan = 0;
    position = undefined;
    do {
      const page: GetUsagePlanKeysCommandOutput = await t.clients.apigateway.send(
        new GetUsagePlanKeysCommand({ usagePlanId: freePlan?.id as string, limit: 500, position }),
      );
      keysInFreePlan += page.items?.length ?? 0;
      position = page.position;
    } while (position);
    const accounts = await scanAll(t, tableName(t, 'AccountsTable'));
    const ledger = await scanAll(t, tableName(t, 'BillingTable'));
    const executions = await listExecutions(t, machine);

    const userIds = new Set(records.map((r) => r.userId));
    const keyById = new Map(keys.map((k) => [k.id, k]));
    const active = accounts.filter((a) => a.status?.S === 'ACTIVE');
    const accountsWithMatchingKey = active.filter((a) => {
      const key = keyById.get(a.apiKeyId?.S ?? '');
      return key !== undefined && key.name === a.userId?.S;
    }).length;
    const planStarted = ledger.filter((e) => e.type?.S === 'PLAN_STARTED');
    const perUser = new Map<string, number>();
    for (const e of planStarted) perUser.set(e.userId?.S ?? '', (perUser.get(e.userId?.S ?? '') ?? 0) + 1);
    const onboard = executions.filter((e) => userIds.has(e.name.replace(/^onboard-/, '')));
    const counts: OnboardingRun['counts'] = {
      apiKeys: keys.length,
      distinctKeyNames: new Set(keys.map((k) => k.name)).size,
      keysInFreePlan,
      accounts: accounts.length,
      activeAccounts: active.length,
      accountsWithMatchingKey,
      planStartedEntries: planStarted.length,
      usersWithOnePlanStarted: [...perUser.values()].filter((n) => n === 1).length,
      onboardExecutions: onboard.length,
      distinctOnboardNames: new Set(onboard.map((e) => e.name)).size,
      redriveExecutions: executions.length - onboard.length,
    };
    const n = config.signUps;
    const noDuplicates =
      counts.apiKeys === counts.distinctKeyNames &&
      counts.apiKeys <= n &&
      counts.keysInFreePlan === counts.apiKeys &&
      counts.accounts === n &&
      counts.planStartedEntries === counts.usersWithOnePlanStarted &&
      counts.onboardExecutions === n &&
      counts.distinctOnboardNames === n;
    const allActive = counts.activeAccounts === n && counts.apiKeys === n && counts.accountsWithMatchingKey === n && counts.planStartedEntries === n;

    const closed = records.filter((r) => r.status === 'SUCCEEDED');
    const latencies = closed.map((r) => r.latencyMs);
    const retriesPer = records.map((r) => r.transitions.retries);
    const result: OnboardingRun = {
      label: config.label,
      createApiKeyRateLimit: Number.isFinite(config.createApiKeyRateLimit) ? config.createApiKeyRateLimit : 'off',
      retryIntervalScale: config.retryIntervalScale,
      signUps: n,
      concurrency: config.concurrency,
      wallSeconds,
      signUpsPerSecond: n / wallSeconds,
      latencyMs: { p50: median(latencies), p95: percentile(latencies, 95), max: Math.max(...latencies) },
      confirmMs: { p50: median(records.map((r) => r.confirmMs)), p95: percentile(records.map((r) => r.confirmMs), 95) },
      workflowMs: { p50: median(closed.map((r) => r.workflowMs)), p95: percentile(closed.map((r) => r.workflowMs), 95) },
      firstPass: { succeeded: closed.length, failed: failedFirst.length, failures },
      redrive: redriven,
      counts,
      retries: {
        total: sum(retriesPer),
        throttle: sum(records.map((r) => r.transitions.throttleRetries)),
        executionsThrottled: records.filter((r) => r.transitions.throttleRetries > 0).length,
        maxPerExecution: Math.max(...retriesPer),
      },
      transitionsPerExecution: {
        stateEntered: sum(records.map((r) => r.transitions.stateEntered)) / n,
        withRetries: sum(records.map((r) => r.transitions.stateEntered + r.transitions.retries)) / n,
      },
      noDuplicates,
      allActive,
      targets: [],
    };
    if (config.latencyTarget) {
      result.targets.push({ name: 'confirm → ACTIVE p95 (ms)', value: result.latencyMs.p95, limit: `<= ${TARGET_P95_MS}`, verdict: verdict(result.latencyMs.p95 <= TARGET_P95_MS) });
    }
    if (config.correctnessTargets) {
      result.targets.push(
        { name: `ACTIVE accounts (of ${n})`, value: counts.activeAccounts, limit: `= ${n}`, verdict: verdict(allActive) },
        { name: 'duplicates (keys, ledger, executions)', value: noDuplicates ? 0 : 1, limit: '= 0', verdict: verdict(noDuplicates) },
      );
    }
    return result;
  } finally {
    await t.close();
  }
}

export function printOnboarding(runs: OnboardingRun[]): string {
  const lines = [
    heading('2. Onboarding: 200 sign-ups, 20 at a time'),
    'Each of 20 workers: SignUp → ConfirmSignUp with the outbox code → wait for its onboarding execution to close → next',
    '(so at most 20 onboardings are in flight). Run (iii) does 20 sign-ups one at a time: the unloaded latency.',
    'Latency: from just before ConfirmSignUp to the execution\'s stopDate (the account turns ACTIVE in the last Task,',
    'MarkActive, just before: stopDate is an upper bound on "the account reads ACTIVE"). Sign-ups/s: 200 / wall time.',
    'IMPORTANT: AWS limits CreateApiKey to 5 requests/s per account and the offline control plane enforces it; the',
    'workflow retries ApiGateway.TooManyRequestsException (1 s x 2^n, full jitter, max 10 retries, capped at 30 s). With the',
    'real limit, 200 keys take >= 40 s however fast the rest is, so the latency target is measured with the limit off.',
    'The limiter runs on the real clock, so scaling the retry waits down does not make run (i) faster — it only makes',
    'executions run out of retries sooner (they then compensate and end FAILED) — so run (i) keeps AWS\'s own schedule.',
    '',
  ];
  for (const r of runs) {
    const c = r.counts;
    lines.push(
      `${r.label}: ${r.signUps} sign-ups, ${r.concurrency} at a time; CreateApiKey limit ${r.createApiKeyRateLimit === 'off' ? 'off (Infinity)' : `${r.createApiKeyRateLimit}/s`}; retryIntervalScale ${r.retryIntervalScale}`,
      table(
        ['measure', 'value'],
        [
          ['wall time (s)', fmt(r.wallSeconds, 1)],
          ['sign-ups per second', fmt(r.signUpsPerSecond, 2)],
          ...(r.concurrency > 1 ? [['Little\'s law: in flight / sign-ups per second = mean latency (ms)', `${r.concurrency} / ${fmt(r.signUpsPerSecond, 2)} = ${fmt((r.concurrency / r.signUpsPerSecond) * 1000, 0)}`]] : []),
          ['confirm → ACTIVE p50 / p95 / max (ms)', `${fmt(r.latencyMs.p50, 0)} / ${fmt(r.latencyMs.p95, 0)} / ${fmt(r.latencyMs.max, 0)}`],
          ['ConfirmSignUp round trip (Cognito + the PostConfirmation trigger) p50 / p95 (ms)', `${fmt(r.confirmMs.p50, 0)} / ${fmt(r.confirmMs.p95, 0)}`],
          ['workflow alone, startDate → stopDate (it starts inside the trigger) p50 / p95 (ms)', `${fmt(r.workflowMs.p50, 0)} / ${fmt(r.workflowMs.p95, 0)}`],
          ['first pass: SUCCEEDED / FAILED', `${r.firstPass.succeeded} / ${r.firstPass.failed}${r.firstPass.failed ? ` (${Object.entries(r.firstPass.failures).map(([k, v]) => `${v} ${k}`).join(', ')})` : ''}`],
          ['re-driven at sign-in: attempted / SUCCEEDED', `${r.redrive.attempted} / ${r.redrive.succeeded}`],
          ['retries (all / TooManyRequests), executions throttled, max per execution', `${r.retries.total} / ${r.retries.throttle}, ${r.retries.executionsThrottled}, ${r.retries.maxPerExecution}`],
          ['API keys (GetApiKeys) / distinct names / in free plan', `${c.apiKeys} / ${c.distinctKeyNames} / ${c.keysInFreePlan}`],
          ['accounts (Scan) / ACTIVE / ACTIVE with their own key', `${c.accounts} / ${c.activeAccounts} / ${c.accountsWithMatchingKey}`],
          ['PLAN_STARTED entries (Scan) / users with exactly one', `${c.planStartedEntries} / ${c.usersWithOnePlanStarted}`],
          ['onboard-<sub> executions (ListExecutions) / distinct / re-drives', `${c.onboardExecutions} / ${c.distinctOnboardNames} / ${c.redriveExecutions}`],
          ['state transitions per execution (entered / + retries)', `${fmt(r.transitionsPerExecution.stateEntered, 2)} / ${fmt(r.transitionsPerExecution.withRetries, 2)}`],
        ],
      ),
      ...(r.targets.length ? [table(['target', 'value', 'limit', 'result'], r.targets.map((x) => [x.name, fmt(x.value, 0), x.limit, x.verdict]))] : []),
      '',
    );
  }
  return lines.join('\n').trimEnd();
}
