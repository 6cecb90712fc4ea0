/**
 * The operations of API Gateway's management API that the offline control plane serves, by method and path (as
 * moto's urls.py and responses.py): API keys, usage plans (read-only: they come from template.yaml), usage plan
 * keys, usage and tags, each validating its input and shaping its answer as the API reference does
 * (https://docs.aws.amazon.com/apigateway/latest/api/API_Operations.html). ./http.ts reads requests and writes answers.
 */
import type { ApiKeyRecord, UsagePlanSpec } from '../types.ts';
import { ApiGatewayError, MESSAGES, badRequest, notFound } from './errors.ts';
import { DAY_MS, parseDayKey } from './periods.ts';
import type { ApiGatewayStore, PatchOperation } from './store.ts';

export interface Request {
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
}

export interface Result {
  status: number;
  body?: unknown;
}

export interface Route {
  operation: string;
  hasBody: boolean;
  run: (req: Request) => Result;
}


const DEFAULT_LIMIT = 25; // AWS: "The default value is 25 and the maximum value is 500."
const MAX_LIMIT = 500;
const MAX_USAGE_DAYS = 366;

const PLANS_FROM_TEMPLATE =
  'Usage plans are defined in template.yaml (AWS::ApiGateway::UsagePlan); the offline control plane cannot create, update or delete them';

// ------------------------------------------------------------------ routing

export type RouteTable = Map<string, Partial<Record<string, Route>>>;

export function buildRoutes(store: ApiGatewayStore): RouteTable {
  const routes: RouteTable = new Map();
  const keySortKey = (k: ApiKeyRecord): string => String(store.creationOrder(k.id)).padStart(12, '0');
  const add = (pattern: string, method: string, operation: string, run: Route['run']): void => {
    const byMethod = routes.get(pattern) ?? {};
    byMethod[method] = { operation, hasBody: method === 'POST' || method === 'PATCH' || method === 'PUT', run };
    routes.set(pattern, byMethod);
  };

  // ---- API keys
  add('apikeys', 'POST', 'CreateApiKey', ({ body }) => {
    const stageKeys = body.stageKeys;
    if (stageKeys !== undefined && stageKeys !== null && (!Array.isArray(stageKeys) || stageKeys.length > 0)) {
      throw badRequest('stageKeys are not supported offline: add the key to a usage plan (CreateUsagePlanKey) instead');
    }
    optBoolean(body, 'generateDistinctId'); // accepted for compatibility; ids are always distinct
    const record = store.createApiKey({
      name: optString(body, 'name'),
      description: optString(body, 'description'),
      enabled: optBoolean(body, 'enabled'),
      value: optString(body, 'value'),
      customerId: optString(body, 'customerId'),
      tags: optTags(body, 'tags'),
    });
    return { status: 201, body: apiKeyJson(record, true) };
  });
  add('apikeys', 'GET', 'GetApiKeys', ({ query }) => {
    const includeValues = queryBoolean(query, 'includeValues') ?? false;
    const keys = store.listApiKeys({ nameQuery: query.get('name') ?? undefined, customerId: query.get('customerId') ?? undefined });
    const page = paginate(keys, keySortKey, query);
    return { status: 200, body: { item: page.items.map((k) => apiKeyJson(k, includeValues)), position: page.position } };
  });
  add('apikeys/*', 'GET', 'GetApiKey', ({ params, query }) => {
    const includeValue = queryBoolean(query, 'includeValue') ?? false;
    return { status: 200, body: apiKeyJson(store.getApiKey(param(params, 0)), includeValue) };
  });
  add('apikeys/*', 'PATCH', 'UpdateApiKey', ({ params, body }) => {
    const record = store.updateApiKey(param(params, 0), patchOperations(body));
    return { status: 200, body: apiKeyJson(record, false) };
  });
  add('apikeys/*', 'DELETE', 'DeleteApiKey', ({ params }) => {
    store.deleteApiKey(param(params, 0));
    return { status: 202 };
  });

  // ---- usage plans (read-only: they come from the template)
  add('usageplans', 'GET', 'GetUsagePlans', ({ query }) => {
    const plans = store.listUsagePlans(query.get('keyId') ?? undefined);
    const page = paginate(plans, (_p, i) => String(i).padStart(8, '0'), query);
    return { status: 200, body: { item: page.items.map(usagePlanJson), position: page.position } };
  });
  add('usageplans/*', 'GET', 'GetUsagePlan', ({ params }) => ({ status: 200, body: usagePlanJson(store.getUsagePlan(param(params, 0))) }));
  add('usageplans', 'POST', 'CreateUsagePlan', () => {
    throw badRequest(PLANS_FROM_TEMPLATE);
  });
  add('usageplans/*', 'PATCH', 'UpdateUsagePlan', () => {
    throw badRequest(PLANS_FROM_TEMPLATE);
  });
  add('usageplans/*', 'DELETE', 'DeleteUsagePlan', () => {
    throw badRequest(PLANS_FROM_TEMPLATE);
  });

  // ---- usage plan keys
  add('usageplans/*/keys', 'POST', 'CreateUsagePlanKey', ({ params, body }) => {
    const keyId = requiredString(body, 'keyId');
    const keyType = requiredString(body, 'keyType');
    if (keyType !== 'API_KEY') throw badRequest(`Invalid keyType '${keyType}'. The only valid key type is API_KEY`);
    const record = store.addUsagePlanKey(param(params, 0), keyId);
    return { status: 201, body: usagePlanKeyJson(record) };
  });
  add('usageplans/*/keys', 'GET', 'GetUsagePlanKeys', ({ params, query }) => {
    const keys = store.listUsagePlanKeys(param(params, 0), query.get('name') ?? undefined);
    const page = paginate(keys, keySortKey, query);
    return { status: 200, body: { item: page.items.map(usagePlanKeyJson), position: page.position } };
  });
  add('usageplans/*/keys/*', 'GET', 'GetUsagePlanKey', ({ params }) => ({
    status: 200,
    body: usagePlanKeyJson(store.getUsagePlanKey(param(params, 0), param(params, 1))),
  }));
  add('usageplans/*/keys/*', 'DELETE', 'DeleteUsagePlanKey', ({ params }) => {
    store.removeUsagePlanKey(param(params, 0), param(params, 1));
    return { status: 202 };
  });
  add('usageplans/*/keys/*/usage', 'PATCH', 'UpdateUsage', ({ params, body }) => {
    const usagePlanId = param(params, 0);
    const keyId = param(params, 1);
    const report = store.updateUsage(usagePlanId, keyId, patchOperations(body));
    // AWS's Usage shape, as GetUsage answers it (the SDK reads `values` as `items`).
    return { status: 200, body: { usagePlanId, startDate: report.startDate, endDate: report.endDate, values: { [keyId]: report.items } } };
  });

  // ---- usage
  add('usageplans/*/usage', 'GET', 'GetUsage', ({ params, query }) => {
    const plan = store.getUsagePlan(param(params, 0));
    const startDate = query.get('startDate');
    const endDate = query.get('endDate');
    if (!startDate) throw badRequest('startDate is required (YYYY-MM-DD)');
    if (!endDate) throw badRequest('endDate is required (YYYY-MM-DD)');
    const start = parseDayKey(startDate);
    const end = parseDayKey(endDate);
    if (start === undefined) throw badRequest(`Invalid startDate '${startDate}': expected YYYY-MM-DD`);
    if (end === undefined) throw badRequest(`Invalid endDate '${endDate}': expected YYYY-MM-DD`);
    if (end < start) throw badRequest('endDate must not be before startDate');
    if ((end - start) / DAY_MS + 1 > MAX_USAGE_DAYS) throw badRequest(`The date range must not exceed ${MAX_USAGE_DAYS} days`);
    const keyId = query.get('keyId');
    let keys: ApiKeyRecord[];
    if (keyId) {
      const record = store.findApiKey(keyId);
      if (!record || !store.listUsagePlans(keyId).some((p) => p.id === plan.id)) throw notFound('Invalid Key identifier specified');
      keys = [record];
    } else {
      keys = store.listUsagePlanKeys(plan.id);
    }
    const page = paginate(keys, keySortKey, query);
    const values: Record<string, [number, number][]> = {};
    for (const key of page.items) values[key.id] = store.usageSeries(plan, key.id, start, end);
    return { status: 200, body: { usagePlanId: plan.id, startDate, endDate, values, position: page.position } };
  });

  // ---- tags
  add('tags/*', 'GET', 'GetTags', ({ params }) => {
    const target = resolveArn(store, param(params, 0));
    return { status: 200, body: { tags: target.kind === 'apikey' ? { ...target.key.tags } : { ...target.plan.tags } } };
  });
  add('tags/*', 'PUT', 'TagResource', ({ params, body }) => {
    const target = resolveArn(store, param(params, 0));
    const tags = optTags(body, 'tags');
    if (!tags) throw badRequest('tags is required');
    if (target.kind !== 'apikey') throw badRequest(PLANS_FROM_TEMPLATE);
    store.tagApiKey(target.key.id, tags);
    return { status: 204 };
  });
  add('tags/*', 'DELETE', 'UntagResource', ({ params, query }) => {
    const target = resolveArn(store, param(params, 0));
    const tagKeys = query.getAll('tagKeys');
    if (tagKeys.length === 0) throw badRequest('tagKeys is required');
    if (target.kind !== 'apikey') throw badRequest(PLANS_FROM_TEMPLATE);
    store.untagApiKey(target.key.id, tagKeys);
    return { status: 204 };
  });
  return routes;
}

export function match(routes: RouteTable, method: string, pathname: string): { route: Route; params: string[] } | ApiGatewayError {
  let segments = pathname.split('/').filter((s) => s.length > 0);
  // A resource ARN holds slashes; SDKs percent-encode them, but accept an unencoded one too.
  if (segments[0] === 'tags' && segments.length > 2) segments = ['tags', segments.slice(1).join('%2F')];
  const params: string[] = [];
  const pattern = segments
    .map((segment, i) => {
      // Literal positions: 0 (collection), 2 (keys|usage), 4 (usage); everything else is an identifier.
      if (i % 2 === 0) return segment;
      try {
        params.push(decodeURIComponent(segment));
      } catch {
        throw badRequest(`Invalid path segment '${segment}'`);
      }
      return '*';
    })
    .join('/');
  const byMethod = routes.get(pattern);
  const route = byMethod?.[method];
  if (route) return { route, params };
  const what = byMethod ? `Method ${method} is not supported on ${pathname}` : `No operation at ${method} ${pathname}`;
  return new ApiGatewayError(
    'UnknownOperationException',
    `${what}. The offline API Gateway control plane serves API keys, usage plans (read-only), usage plan keys, usage and tags`,
  );
}

// ------------------------------------------------------------------ wire shapes

const epochSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

function apiKeyJson(key: ApiKeyRecord, includeValue: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { id: key.id };
  if (includeValue) out.value = key.value;
  out.name = key.name;
  if (key.customerId !== undefined) out.customerId = key.customerId;
  if (key.description !== undefined) out.description = key.description;
  out.enabled = key.enabled;
  out.createdDate = epochSeconds(key.createdDate);
  out.lastUpdatedDate = epochSeconds(key.lastUpdatedDate);
  out.stageKeys = [];
  if (Object.keys(key.tags).length > 0) out.tags = { ...key.tags };
  return out;
}

function usagePlanJson(plan: UsagePlanSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { id: plan.id, name: plan.name };
  if (plan.description !== undefined) out.description = plan.description;
  out.apiStages = plan.apiStages.map(({ apiId, stage }) => ({ apiId, stage }));
  if (plan.throttle) out.throttle = { burstLimit: plan.throttle.burstLimit, rateLimit: plan.throttle.rateLimit };
  if (plan.quota) out.quota = { limit: plan.quota.limit, offset: plan.quota.offset ?? 0, period: plan.quota.period };
  if (Object.keys(plan.tags).length > 0) out.tags = { ...plan.tags };
  return out;
}

function usagePlanKeyJson(key: ApiKeyRecord): Record<string, unknown> {
  return { id: key.id, type: 'API_KEY', value: key.value, name: key.name };
}

// ------------------------------------------------------------------ pagination (limit/position)

function paginate<T>(items: T[], sortKey: (item: T, index: number) => string, query: URLSearchParams): { items: T[]; position?: string } {
  const limitText = query.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null && limitText !== '') {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1) throw badRequest(`Invalid limit '${limitText}': must be a positive integer`);
    limit = Math.min(MAX_LIMIT, Number(limitText));
  }
  const position = query.get('position');
  let from = 0;
  if (position) {
    let after: string;
    try {
      after = Buffer.from(position, 'base64url').toString('utf8');
    } catch {
      throw badRequest('Invalid position');
    }
    if (!after) throw badRequest('Invalid position');
    from = items.findIndex((item, i) => sortKey(item, i) > after);
    if (from < 0) from = items.length;
  }
  const page = items.slice(from, from + limit);
  const last = page.at(-1);
  const more = from + limit < items.length && last !== undefined;
  return { items: page, position: more ? Buffer.from(sortKey(last, from + page.length - 1)).toString('base64url') : undefined };
}

// ------------------------------------------------------------------ input validation

function param(params: string[], i: number): string {
  const value = params[i];
  if (value === undefined || value === '') throw badRequest('Missing path parameter');
  return value;
}

function optString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`Invalid value for ${field}: expected a string`);
  return value;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = optString(body, field);
  if (!value) throw badRequest(`${field} is required`);
  return value;
}

function optBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`Invalid value for ${field}: expected a boolean`);
  return value;
}

function optTags(body: Record<string, unknown>, field: string): Record<string, string> | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`Invalid value for ${field}: expected a map of strings`);
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw badRequest(`Invalid value for ${field}.${k}: expected a string`);
    tags[k] = v;
  }
  return tags;
}

function queryBoolean(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`Invalid value for ${name}: '${value}'. Must be true or false`);
}

function patchOperations(body: Record<string, unknown>): PatchOperation[] {
  const ops = body.patchOperations;
  if (ops === undefined || ops === null) return [];
  if (!Array.isArray(ops) || !ops.every((op) => typeof op === 'object' && op !== null && !Array.isArray(op))) {
    throw badRequest('patchOperations must be a list of {op, path, value}');
  }
  return ops as PatchOperation[];
}

type ArnTarget = { kind: 'apikey'; key: ApiKeyRecord } | { kind: 'usageplan'; plan: UsagePlanSpec };

function resolveArn(store: ApiGatewayStore, arn: string): ArnTarget {
  const m = /^arn:aws[a-z-]*:apigateway:[^:]*::\/(apikeys|usageplans)\/([^/]+)$/.exec(arn);
  if (!m || !m[1] || !m[2]) throw badRequest(`Invalid resource ARN '${arn}': the offline control plane tags API keys and usage plans`);
  if (m[1] === 'apikeys') {
    const key = store.findApiKey(m[2]);
    if (!key) throw notFound(MESSAGES.apiKeyNotFound);
    return { kind: 'apikey', key };
  }
  return { kind: 'usageplan', plan: store.getUsagePlan(m[2]) };
}
