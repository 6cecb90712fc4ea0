/**
 * Bench §7 (a): onboarding in KeyMode SelfIssued through the real path, on a full offline stack (template.yaml with
 * `KeyMode=SelfIssued`, `DataApiAuth=ApiKey`): per customer SignUp (cognito-local) → ConfirmSignUp with the code from
 * the outbox (the PostConfirmation trigger starts `onboard-<sub>`) → the onboarding workflow (aws-local-stepfunctions;
 * its key task puts the customer's key slot) to its end → InitiateAuth (the ID token) → `POST /me/api-key/rotate`
 * (the customer's first key value, shown once; kept in memory for the verification, never logged or written).
 *
 * Completion of an onboarding is the workflow's `stopDate` (the service's clock), so "sign-ups per second" is
 * completed onboardings ÷ (last stopDate − start). The sign-in and first rotation are timed apart (customers with a
 * key per second). CreateApiKey calls are counted from the offline API Gateway control plane's request log (one line
 * per request, operation named), not assumed; every other management call is counted too.
 *
 * A time budget bounds the run: once it is spent no new sign-up starts (those in flight finish), and the result says
 * how many of the requested customers were onboarded. The rate is also reported per slice of completions (`rateCurve`),
 * with the median time of each step in that slice, so a step that slows as the user pool grows shows as such.
 */
import { ConfirmSignUpCommand, InitiateAuthCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { onboardingArn, PASSWORD, type TestStack } from '../local/harness/stack.ts';
import { startBenchStack } from './setup.ts';
import { fmt, limiter, median, pool, sleep, sum } from './util.ts';

/** The steps of one customer's onboarding, in order, timed in ms. */
export const STEPS = ['signUp', 'confirmSignUp', 'workflow', 'firstKeyWait', 'signIn', 'rotate'] as const;
export type Step = (typeof STEPS)[number];

export interface CustomerRun {
  /** ms from the run's start to the workflow's stopDate (NaN if it did not succeed). */
  completedAtMs: number;
  ms: Record<Step, number>;
  /** The first key value (tg_live_…), in memory only; undefined when any step failed. */
  key?: string;
  error?: string;
}

export interface CurvePoint<S extends string = Step> {
  /** Completed onboardings at the end of the slice. */
  done: number;
  /** Seconds from the start to the slice's last completion. */
  atSeconds: number;
  /** Completions in the slice ÷ the slice's duration. */
  perSecond: number;
  /** Median ms of each step over the customers completed in the slice. */
  stepMedianMs: Record<S, number>;
}

/**
 * Splits completed runs (those with a finite `completedAtMs`) in completion order into slices of `sliceSize` (the
 * last one may be shorter) and gives each slice's rate: its completions ÷ (its last completion − the previous slice's
 * last, or the start for the first), and the median of each of `steps` (default: the onboarding's STEPS). Empty for
 * no completions; a slice of zero duration has rate Infinity.
 */
export function rateCurve<S extends string = Step>(
  runs: readonly { completedAtMs: number; ms: Record<S, number> }[],
  sliceSize: number,
  steps: readonly S[] = STEPS as unknown as readonly S[],
): CurvePoint<S>[] {
  if (!(Number.isInteger(sliceSize) && sliceSize >= 1)) throw new Error('sliceSize must be a whole number ≥ 1');
  const done = runs.filter((r) => Number.isFinite(r.completedAtMs)).sort((a, b) => a.completedAtMs - b.completedAtMs);
  const points: CurvePoint<S>[] = [];
  let previousMs = 0;
  for (let from = 0; from < done.length; from += sliceSize) {
    const slice = done.slice(from, from + sliceSize);
    const lastMs = (slice[slice.length - 1] as (typeof done)[number]).completedAtMs;
    const seconds = (lastMs - previousMs) / 1000;
    points.push({
      done: from + slice.length,
      atSeconds: lastMs / 1000,
      perSecond: seconds > 0 ? slice.length / seconds : Infinity,
      stepMedianMs: Object.fromEntries(steps.map((s) => [s, median(slice.map((r) => r.ms[s]))])) as Record<S, number>,
    });
    previousMs = lastMs;
  }
  return points;
}

/**
 * Counts management API requests by operation from the offline API Gateway control plane's log lines
 * (`[apigateway] <METHOD> <path> <status> <Operation> <n>ms`, local/apigateway/http.ts); other lines are ignored.
 */
export function countControlPlaneOperations(lines: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const m = /^\[apigateway\] [A-Z]+ \S+ \d{3} (\w+) /.exec(line);
    if (m) counts[m[1] as string] = (counts[m[1] as string] ?? 0) + 1;
  }
  return counts;
}

export interface ScaledOnboardingOptions {
  customers: number;
  concurrency: number;
  /**
   * Customers signing in and rotating at once (the rest wait their turn, timed as `firstKeyWait`): all `concurrency`
   * at once queue on AccountFunction's offline execution environments past API Gateway's 29 s integration timeout (504)
   * on a loaded machine.
   */
  firstKeyConcurrency: number;
  /** No new sign-up starts after this many seconds. */
  budgetSeconds: number;
  /** Parameter overrides on top of KeyMode=SelfIssued and DataApiAuth=ApiKey (the verification's plan limits). */
  parameterOverrides: Record<string, string>;
}

export interface ScaledOnboardingResult {
  requested: number;
  concurrency: number;
  firstKeyConcurrency: number;
  budgetSeconds: number;
  /** True when the budget ran out before every requested customer had started. */
  stoppedByBudget: boolean;
  started: number;
  onboarded: number;
  withKey: number;
  failed: number;
  firstFailure?: string;
  /** Start → the last workflow stopDate. */
  onboardingSeconds: number;
  signUpsPerSecond: number;
  /** Start → the last first-key answer. */
  withKeySeconds: number;
  keysPerSecond: number;
  curve: CurvePoint[];
  /** Management API requests by operation during the run (the control plane's request log). */
  managementCalls: Record<string, number>;
  createApiKeyCalls: number;
  /** cognito-local's user pool file at the end: the snapshot local/cognito-store.ts writes at start, at each compaction and on close (the writes since are in the `.journal` beside it). */
  userPoolFileMB: number;
  /**
   * `POST /me/api-key/rotate` as the gateway saw it (its access log): the wait for one of AccountFunction's execution
   * environments and the function's Duration, p50 and mean in ms.
   */
  rotateSplit: { requests: number; queueP50: number; queueMean: number; durationP50: number; durationMean: number };
}

/**
 * The largest `.json` under cognito-local's data directory (the user pool's snapshot), in MB; NaN if none. The largest
 * of a few looks 200 ms apart (cognito-local's own store truncates the file before writing it; ours renames it in whole).
 */
async function userPoolFileMB(t: TestStack): Promise<number> {
  const dir = join(t.dir, 'cognito', 'db');
  let largest = Number.NaN;
  for (let look = 0; look < 5; look += 1) {
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.json')) largest = Math.max(Number.isNaN(largest) ? 0 : largest, statSync(join(dir, f)).size / 2 ** 20);
    } catch {
      // not there (yet)
    }
    await sleep(200);
  }
  return largest;
}

/** p50 and mean of the rotations' queue and Duration, over those the function ran for (a 504 may have neither). */
function splitOf(rotations: readonly { queue: number; duration: number }[]): ScaledOnboardingResult['rotateSplit'] {
  const queue = rotations.map((r) => r.queue).filter(Number.isFinite);
  const duration = rotations.map((r) => r.duration).filter(Number.isFinite);
  return { requests: rotations.length, queueP50: median(queue), queueMean: sum(queue) / queue.length, durationP50: median(duration), durationMean: sum(duration) / duration.length };
}

async function oneCustomer(t: TestStack, index: number, startedAt: number, firstKeySlot: <R>(task: () => Promise<R>) => Promise<R>): Promise<CustomerRun> {
  const ms = Object.fromEntries(STEPS.map((s) => [s, Number.NaN])) as Record<Step, number>;
  const run: CustomerRun = { completedAtMs: Number.NaN, ms };
  const timed = async <T>(step: Step, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      ms[step] = performance.now() - t0;
    }
  };
  const { cognito } = t.clients;
  const clientId = t.stack.userPoolClientId;
  const email = `scaled-${index}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  try {
    const signUp = await timed('signUp', () => cognito.send(new SignUpCommand({ ClientId: clientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] })));
    const code = t.stack.cognito.latestCode(email);
    if (!code) throw new Error('no confirmation code in the outbox');
    await timed('confirmSignUp', () => cognito.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: email, ConfirmationCode: code })));
    // In-process wait on the Step Functions service (no polling load); the stopDate is its own clock.
    const execution = await t.stack.stepFunctions.waitForExecution(onboardingArn(t, signUp.UserSub as string), 600_000);
    ms.workflow = (execution.stopDate?.getTime() ?? Date.now()) - execution.startDate.getTime();
    if (execution.status !== 'SUCCEEDED') throw new Error(`onboarding ${execution.status}: ${execution.error ?? ''}`);
    run.completedAtMs = (execution.stopDate?.getTime() ?? Date.now()) - startedAt;
    const waitFrom = performance.now();
    run.key = await firstKeySlot(async () => {
      ms.firstKeyWait = performance.now() - waitFrom;
      const auth = await timed('signIn', () =>
        cognito.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD } })),
      );
      const idToken = auth.AuthenticationResult?.IdToken;
      if (!idToken) throw new Error('sign-in returned no ID token');
      return timed('rotate', async () => {
        const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, { method: 'POST', headers: { Authorization: idToken, 'Content-Type': 'application/json' }, body: '{}' });
        const body = (await res.json()) as { value?: string; message?: string };
        if (res.status !== 200 || !body.value) throw new Error(`POST /me/api-key/rotate answered ${res.status}: ${body.message ?? ''}`);
        return body.value;
      });
    });
  } catch (error) {
    run.error = `${(error as Error).name}: ${(error as Error).message}`.slice(0, 200);
  }
  return run;
}

/**
 * Onboards up to `customers` through the real path on a fresh stack in KeyMode SelfIssued, `concurrency` at a time,
 * within `budgetSeconds`; answers the figures, and the stack (still running: the caller verifies on it and closes it)
 * with the keys of the customers who got one.
 */
export async function runScaledOnboarding(
  opts: ScaledOnboardingOptions,
  say: (line: string) => void,
): Promise<{ result: ScaledOnboardingResult; stack: TestStack; keys: string[] }> {
  const controlPlane: string[] = [];
  const rotations: { queue: number; duration: number }[] = [];
  const t = await startBenchStack({
    gatewayAccessLog: (entry) => {
      if (entry.resourcePath === '/me/api-key/rotate') rotations.push({ queue: entry.functionQueue ?? Number.NaN, duration: entry.functionDuration ?? Number.NaN });
    },
    parameterOverrides: { KeyMode: 'SelfIssued', DataApiAuth: 'ApiKey', ...opts.parameterOverrides },
    // AWS's management API limits stay ON (the offline default): this mode must not need CreateApiKey at all.
    log: (line) => {
      if (line.startsWith('[apigateway] ')) controlPlane.push(line);
    },
  });
  try {
    const startedAt = Date.now();
    const t0 = performance.now();
    const deadline = t0 + opts.budgetSeconds * 1000;
    let started = 0;
    let closed = 0;
    let lastWithKeyMs = 0;
    const every = Math.max(100, Math.round(opts.customers / 20));
    const firstKeySlot = limiter(opts.firstKeyConcurrency);
    const runs = await pool(Array.from({ length: opts.customers }, (_, i) => i), opts.concurrency, async (i): Promise<CustomerRun | undefined> => {
      if (performance.now() > deadline) return undefined;
      started += 1;
      const run = await oneCustomer(t, i, startedAt, firstKeySlot);
      if (run.key) lastWithKeyMs = performance.now() - t0;
      closed += 1;
      if (closed % every === 0) say(`    ${closed} customers done (${fmt((performance.now() - t0) / 1000, 0)} s)`);
      return run;
    });
    const done = runs.filter((r): r is CustomerRun => r !== undefined);
    const onboarded = done.filter((r) => Number.isFinite(r.completedAtMs));
    const withKey = done.filter((r) => r.key !== undefined);
    const onboardingSeconds = Math.max(0, ...onboarded.map((r) => r.completedAtMs)) / 1000;
    const failedRuns = done.filter((r) => r.error !== undefined);
    const managementCalls = countControlPlaneOperations(controlPlane);
    const result: ScaledOnboardingResult = {
      requested: opts.customers,
      concurrency: opts.concurrency,
      firstKeyConcurrency: opts.firstKeyConcurrency,
      budgetSeconds: opts.budgetSeconds,
      stoppedByBudget: started < opts.customers,
      started,
      onboarded: onboarded.length,
      withKey: withKey.length,
      failed: failedRuns.length,
      ...(failedRuns[0]?.error !== undefined ? { firstFailure: failedRuns[0].error } : {}),
      onboardingSeconds,
      signUpsPerSecond: onboarded.length / onboardingSeconds,
      withKeySeconds: lastWithKeyMs / 1000,
      keysPerSecond: withKey.length / (lastWithKeyMs / 1000),
      curve: rateCurve(done, every),
      managementCalls,
      createApiKeyCalls: managementCalls.CreateApiKey ?? 0,
      userPoolFileMB: await userPoolFileMB(t),
      rotateSplit: splitOf(rotations),
    };
    return { result, stack: t, keys: withKey.map((r) => r.key as string) };
  } catch (error) {
    await t.close();
    throw error;
  }
}
