import { GetUsageCommand, GetUsagePlansCommand, type APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { isNotFound, unless } from './aws-errors.ts';
import { UsagePlanNotFoundError } from './errors.ts';
import { logger } from './logger.ts';

/**
 * API Gateway's usage plans: their ids by plan name, and a key's usage in one of them. The adapter between the
 * catalogue (plans.ts) and the plans that enforce it.
 *
 * Usage plans cannot be referenced from the API's functions (the plans depend on the API stage, which depends on the
 * functions: a CloudFormation cycle), so their ids are found at run time by name: `<USAGE_PLAN_NAME_PREFIX><plan>`.
 */

export interface UsagePlanSummary {
  id?: string;
  name?: string;
}

/** One page of GetUsagePlans: `position` continues the listing. */
export type ListUsagePlans = (position: string | undefined) => Promise<{ items?: UsagePlanSummary[]; position?: string }>;

/**
 * Usage plan ids by plan name, from GetUsagePlans (every page) read once and cached. A failed listing is not
 * cached (the next call tries again); a plan missing from a successful listing is a UsagePlanNotFoundError.
 */
export class UsagePlanDirectory {
  private ids: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly prefix: string,
    private readonly listPage: ListUsagePlans,
  ) {}

  async idFor(plan: string): Promise<string> {
    const id = (await this.load()).get(plan);
    if (id === undefined) throw new UsagePlanNotFoundError(plan);
    return id;
  }

  private load(): Promise<Map<string, string>> {
    if (!this.ids) {
      this.ids = this.fetch();
      this.ids.catch(() => {
        this.ids = undefined;
      });
    }
    return this.ids;
  }

  private async fetch(): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    let position: string | undefined;
    do {
      const page = await this.listPage(position);
      for (const plan of page.items ?? []) {
        if (plan.id && plan.name?.startsWith(this.prefix)) ids.set(plan.name.slice(this.prefix.length), plan.id);
      }
      position = page.position;
    } while (position);
    return ids;
  }
}

/** `usagePlanIdFor(plan)`: the id of the usage plan named `<prefix><plan>`, from GetUsagePlans read once per container. */
export function usagePlanLookup(prefix: string, listPage: ListUsagePlans): (plan: string) => Promise<string> {
  const directory = new UsagePlanDirectory(prefix, listPage);
  return (plan) => directory.idFor(plan);
}

/** usagePlanLookup over API Gateway's GetUsagePlans (500 a page) with the function's own client. */
export function usagePlanLookupWith(client: APIGatewayClient, prefix: string): (plan: string) => Promise<string> {
  return usagePlanLookup(prefix, (position) => client.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) })));
}

/** Requests of keys in usage plans, for statements: GetUsage with the key id, per day. */
export class ApiGatewayUsageReader {
  constructor(private readonly client: APIGatewayClient) {}

  /**
   * Requests of `keyId` in `usagePlanId` per day from `from` to `to` (`YYYY-MM-DD`, inclusive), in order. None when
   * API Gateway answers NotFoundException: the key is no longer in this plan (it left it, its usage kept in the
   * account's usage history) or was deleted. Other errors are thrown.
   */
  async daily(usagePlanId: string, keyId: string, from: string, to: string): Promise<number[]> {
    const usage = await unless(isNotFound, undefined, this.client.send(new GetUsageCommand({ usagePlanId, keyId, startDate: from, endDate: to })));
    if (usage === undefined) {
      logger.info('No usage for the key in this plan', { usagePlanId, keyId });
      return [];
    }
    return (usage.items?.[keyId] ?? []).map(([used]) => used ?? 0);
  }
}
