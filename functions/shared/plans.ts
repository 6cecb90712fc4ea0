import * as z from 'zod/mini';
import type { Account, AccountStore } from './accounts.ts';
import { requireEnv } from './env.ts';
import { ConflictError, HttpError } from './errors.ts';

/**
 * The plan catalogue (PLAN_CATALOG, from the template's Globals) and the usage plans that enforce it.
 *
 * Usage plans cannot be referenced from the API's functions (the plans depend on the API stage, which depends on the
 * functions: a CloudFormation cycle), so their ids are found at run time by name: `<USAGE_PLAN_NAME_PREFIX><plan>`.
 */

export const QUOTA_PERIODS = ['DAY', 'WEEK', 'MONTH'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

const planSchema = z.object({
  name: z.string().check(z.minLength(1)),
  monthlyPrice: z.number().check(z.nonnegative()),
  rateLimit: z.number().check(z.positive()),
  burstLimit: z.number().check(z.int(), z.nonnegative()),
  quotaLimit: z.number().check(z.int(), z.positive()),
  quotaPeriod: z.enum(QUOTA_PERIODS),
});

const catalogSchema = z
  .array(planSchema)
  .check(
    z.minLength(1),
    z.refine((plans) => new Set(plans.map((p) => p.name)).size === plans.length, 'Plan names must be unique'),
  );

/** A short, one-line account of what is wrong with the catalogue (zod/mini has no prettifyError). */
function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

export interface Plan extends z.output<typeof planSchema> {
  currency: 'USD';
}

/** Parses the PLAN_CATALOG variable (the template's Globals). A bad catalogue is a deploy mistake: it throws. */
export function parsePlanCatalog(raw: string): Plan[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('PLAN_CATALOG is not valid JSON');
  }
  const result = catalogSchema.safeParse(parsed);
  if (!result.success) throw new Error(`PLAN_CATALOG is invalid: ${describeIssues(result.error)}`);
  return result.data.map((plan) => ({
    name: plan.name,
    monthlyPrice: plan.monthlyPrice,
    currency: 'USD',
    rateLimit: plan.rateLimit,
    burstLimit: plan.burstLimit,
    quotaLimit: plan.quotaLimit,
    quotaPeriod: plan.quotaPeriod,
  }));
}

/** The catalogue of this container: PLAN_CATALOG, parsed once (call it at module load to fail on a cold start). */
let loadedCatalog: Plan[] | undefined;
export function planCatalog(): Plan[] {
  loadedCatalog ??= parsePlanCatalog(requireEnv('PLAN_CATALOG'));
  return loadedCatalog;
}

export function findPlan(catalog: readonly Plan[], name: string | undefined): Plan | undefined {
  return name === undefined ? undefined : catalog.find((plan) => plan.name === name);
}

// ---------------------------------------------------------------------------------------------------- usage plans

/** A usage plan the catalogue names is missing from API Gateway: a deployment problem, answered as a 500. */
export class UsagePlanNotFoundError extends HttpError {
  constructor(readonly plan: string) {
    super(500, 'PlanUnavailable', `The ${plan} plan is not available right now`);
  }
}

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

/**
 * `usagePlanIdFor(plan)` for one function: the id of the usage plan named `<prefix><plan>`, from GetUsagePlans read
 * once per container. Each function builds it with its own API Gateway client, so this module (which PublicFunction
 * imports for the catalogue) never loads the API Gateway SDK.
 */
export function usagePlanLookup(prefix: string, listPage: ListUsagePlans): (plan: string) => Promise<string> {
  const directory = new UsagePlanDirectory(prefix, listPage);
  return (plan) => directory.idFor(plan);
}

// ---------------------------------------------------------------------------------------------------- accounts

/** The account as the plan workflows keep it: `pendingPlanChange` is the plan-change lock (an execution name). */
export interface PlanAccount extends Account {
  activatedAt?: string;
  pendingPlanChange?: string;
  planChangedAt?: string;
}

export type ActiveAccount = PlanAccount & { status: 'ACTIVE'; apiKeyId: string; plan: string };

/** The caller's account, ACTIVE with a key and a plan; anything else is a 409 saying why. */
export function requireActive(account: PlanAccount | undefined): ActiveAccount {
  if (!account) throw new ConflictError('The account is not active yet: onboarding has not finished', { status: 'NONE' });
  if (account.status !== 'ACTIVE' || !account.apiKeyId || !account.plan) {
    throw new ConflictError(`The account is not active (status ${account.status})`, { status: account.status });
  }
  return account as ActiveAccount;
}

/** Reads the account at most once per request, however many times the key check and the route ask for it. */
export function readOnce(accounts: AccountStore): AccountStore {
  const reads = new Map<string, Promise<Account | undefined>>();
  return {
    get(userId) {
      let read = reads.get(userId);
      if (!read) {
        read = accounts.get(userId);
        reads.set(userId, read);
      }
      return read;
    },
  };
}

// ---------------------------------------------------------------------------------------------------- quota periods

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day holding `at`. */
export function dayKey(at: Date | number): string {
  return new Date(typeof at === 'number' ? at : at.getTime()).toISOString().slice(0, 10);
}

/**
 * First day (`YYYY-MM-DD`, UTC) of the quota period holding `now`, as API Gateway counts it: DAY = the UTC day,
 * WEEK = from Monday, MONTH = from the 1st.
 */
export function quotaPeriodStart(period: QuotaPeriod, now: Date): string {
  const day = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  switch (period) {
    case 'DAY':
      return dayKey(day);
    case 'WEEK':
      return dayKey(day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS);
    case 'MONTH':
      return dayKey(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  }
}
