/**
 * Where bench §7's time goes as the user pool grows, Cognito alone: `npx tsx bench/cognito-scale.ts [--users N]
 * [--budget S] [--concurrency C]` (defaults 10,000, 300 s per mode, 64). On a stack from the template (nothing else
 * loaded), C at a time, each user is AdminCreateUser (MessageAction SUPPRESS: no message, no trigger) +
 * AdminUpdateUserAttributes (as the onboarding workflow's `custom:apiid`) + AdminGetUser: two user writes and a read,
 * no Lambda. Run twice, each on a fresh stack for at most S seconds: cognito-local as it ships (stormdb: one
 * whole-file save per write) and with the offline stack's journaled store (local/cognito-store.ts). Prints users per
 * second per slice of N/10 with each call's median, and the pool file's size. Prints only; no results file.
 */
import { AdminCreateUserCommand, AdminGetUserCommand, AdminUpdateUserAttributesCommand } from '@aws-sdk/client-cognito-identity-provider';
import { performance } from 'node:perf_hooks';
import { rateCurve } from './scaled-onboarding.ts';
import { startBenchStack } from './setup.ts';
import { fmt, pool, positiveOption as option, table } from './util.ts';

const CALLS = ['create', 'update', 'get'] as const;
type Call = (typeof CALLS)[number];

async function measure(users: number, concurrency: number, budgetSeconds: number, store: 'stormdb' | 'journal'): Promise<string> {
  const t = await startBenchStack({ cognitoStore: store });
  try {
    const poolId = t.stack.userPoolId;
    const t0 = performance.now();
    const deadline = t0 + budgetSeconds * 1000;
    const runs = await pool(Array.from({ length: users }, (_, i) => i), concurrency, async (i) => {
      const ms = { create: Number.NaN, update: Number.NaN, get: Number.NaN } as Record<Call, number>;
      if (performance.now() > deadline) return { completedAtMs: Number.NaN, ms };
      const email = `scale-${i}@example.com`;
      const timed = async (call: Call, work: () => Promise<unknown>) => {
        const c0 = performance.now();
        await work();
        ms[call] = performance.now() - c0;
      };
      await timed('create', () =>
        t.clients.cognito.send(
          new AdminCreateUserCommand({ UserPoolId: poolId, Username: email, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: email }, { Name: 'email_verified', Value: 'true' }] }),
        ),
      );
      await timed('update', () => t.clients.cognito.send(new AdminUpdateUserAttributesCommand({ UserPoolId: poolId, Username: email, UserAttributes: [{ Name: 'custom:apiid', Value: `si${String(i).padStart(18, '0')}` }] })));
      await timed('get', () => t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: email })));
      return { completedAtMs: performance.now() - t0, ms };
    });
    const curve = rateCurve(runs, Math.max(100, Math.round(users / 10)), CALLS);
    const done = curve[curve.length - 1]?.done ?? 0;
    return [
      `${store === 'journal' ? 'journaled store (local/cognito-store.ts)' : 'cognito-local as it ships (one whole-file save per write)'}: ${done} of ${users} users in ${fmt((performance.now() - t0) / 1000, 0)} s`,
      table(
        ['users', 'at s', 'users/s in the slice', ...CALLS.map((c) => `${c} p50 ms`)],
        curve.map((p) => [String(p.done), fmt(p.atSeconds, 0), fmt(p.perSecond, 1), ...CALLS.map((c) => fmt(p.stepMedianMs[c], 0))]),
      ),
    ].join('\n');
  } finally {
    await t.close();
  }
}

if (require.main === module) {
  const users = option('users', 10_000);
  const budget = option('budget', 300);
  const concurrency = option('concurrency', 64);
  (async () => {
    for (const store of ['stormdb', 'journal'] as const) console.log(`\n${await measure(users, concurrency, budget, store)}`);
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
