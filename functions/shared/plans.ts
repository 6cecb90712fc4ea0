import * as z from 'zod/mini';
import { requireEnv } from './env.ts';

/**
 * The plan catalogue (PLAN_CATALOG, from the template's Globals): names, prices and limits. Pure: the usage plans that
 * enforce it in API Gateway are usage-plans.ts's.
 */

export const QUOTA_PERIODS = ['DAY', 'WEEK', 'MONTH'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

/** One plan of the catalogue as PLAN_CATALOG gives it (the API answers it with `currency`: functions/openapi/responses.ts). */
export const planSchema = z.object({
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
