import { accountCaller } from '#shared/caller';
import { json, type Routes } from '#shared/http';
import { counterPeriods, countersAsUsage, quotaPeriod } from '#shared/self-issued-usage';
import type { SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { mergeDays, segmentsOf } from '#shared/usage-history';
import { activeAccount, planOf, usageView, type AccountDeps, type UsageView } from './domain.ts';
import { parseUsageQuery } from './request.ts';

/**
 * `GET /me/usage` in KeyMode SelfIssued (./handler.ts picks it by `KEY_MODE`): the same answer as in the API Gateway
 * key mode (UsageView, one OpenAPI schema for both), from KeyAuthorizerFunction's own counters instead of usage plans.
 *
 * - `days`: per UTC day, the counters' day counts (every counter period the range touches, for each quota period of
 *   the catalogue: ../../shared/self-issued-usage.ts) merged with the account's usage history (segments kept by the
 *   API Gateway mode before a switch; none otherwise), exactly as that mode merges them (mergeDays).
 * - `quota.used`: the current period's counter `used`, read consistently: the very number the authorizer compares with
 *   the plan's limit (`used < limit`), so `remaining` = max(0, limit − used) is what the next requests can still spend.
 *   The period's days add up to it (one UpdateItem counts both).
 *
 * Exact, not cached: one consistent GetItem per counter (a 92-day range of monthly quotas: 4 reads), no management
 * API call, so neither the 60 s freshness nor the 503 of the API Gateway mode applies.
 */
export type SelfIssuedUsageDeps = Pick<AccountDeps, 'accounts' | 'catalog' | 'now'> & { store: Pick<SelfIssuedKeysStore, 'readCounters'> };

export async function selfIssuedUsage(deps: SelfIssuedUsageDeps, userId: string, from: string, to: string): Promise<UsageView> {
  const account = await activeAccount(deps, userId);
  const plan = planOf(deps, account);
  const now = deps.now();
  const current = quotaPeriod(plan.quotaPeriod, now).key;
  const periods = new Set([...counterPeriods(deps.catalog, from, to), current]);
  const counters = await deps.store.readCounters(userId, [...periods]);
  const days = mergeDays(segmentsOf(account), [countersAsUsage(counters, from, to)], from, to);
  const used = counters.find((c) => c.period === current)?.used ?? 0;
  return usageView(account, plan, from, to, days, used, now);
}

/** The SelfIssued usage route; the others are ./self-issued.ts's or the same in both modes. */
export function selfIssuedUsageRoutes(deps: SelfIssuedUsageDeps): Routes {
  return {
    'GET /me/usage': async ({ event }) => {
      const { userId } = accountCaller(event, deps.accounts);
      const { from, to } = parseUsageQuery(event.queryStringParameters);
      return json(200, await selfIssuedUsage(deps, userId, from, to), { 'Cache-Control': 'no-store' });
    },
  };
}
