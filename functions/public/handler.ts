import { createApiHandler, json, type Routes } from '#shared/http';
import { planCatalog, type Plan } from '#shared/plans';

export { parsePlanCatalog, type Plan } from '#shared/plans';

/** `GET /health` and `GET /plans`: public routes (no authorizer, no API key). */

/** Validated once, at module load (cold start), never per request. */
const plans = planCatalog();

export function publicRoutes(catalog: readonly Plan[], now: () => Date = () => new Date()): Routes {
  return {
    'GET /health': async () => json(200, { status: 'ok', time: now().toISOString() }, { 'Cache-Control': 'no-store' }),
    'GET /plans': async () => json(200, { plans: catalog }, { 'Cache-Control': 'public, max-age=300' }),
  };
}

export const routes = publicRoutes(plans);

export const handler = createApiHandler(routes);
