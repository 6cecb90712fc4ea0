import * as z from 'zod/mini';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, type Routes } from '#shared/http';

/** `GET /health` and `GET /plans`: public routes (no authorizer, no API key). */

const planSchema = z.object({
  name: z.string().check(z.minLength(1)),
  monthlyPrice: z.number().check(z.nonnegative()),
  rateLimit: z.number().check(z.positive()),
  burstLimit: z.number().check(z.int(), z.nonnegative()),
  quotaLimit: z.number().check(z.int(), z.positive()),
  quotaPeriod: z.enum(['DAY', 'WEEK', 'MONTH']),
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

/** Validated once, at module load (cold start), never per request. */
const plans = parsePlanCatalog(requireEnv('PLAN_CATALOG'));

export function publicRoutes(catalog: readonly Plan[], now: () => Date = () => new Date()): Routes {
  return {
    'GET /health': async () => json(200, { status: 'ok', time: now().toISOString() }, { 'Cache-Control': 'no-store' }),
    'GET /plans': async () => json(200, { plans: catalog }, { 'Cache-Control': 'public, max-age=300' }),
  };
}

export const routes = publicRoutes(plans);

export const handler = createApiHandler(routes);
