// Over 400 lines: the management API's operations, each driven by the real SDK against one store.
/**
 * The offline API Gateway control plane driven by the real SDK v3 client over HTTP (free port, temp state dir).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetApiKeysCommand,
  GetTagsCommand,
  GetUsageCommand,
  GetUsagePlanCommand,
  GetUsagePlanKeyCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateApiKeyCommand,
  UpdateUsageCommand,
  paginateGetApiKeys,
  type PatchOperation,
} from '@aws-sdk/client-api-gateway';
import { AWS_MANAGEMENT_API_LIMITS, FaultInjector, createApiGatewayControlPlane, type ApiGatewayControlPlane, type ManagementApiLimits } from '../../local/apigateway/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type UsagePlanSpec } from '../../local/types.ts';

const API = { apiId: 'restapi01', stage: 'prod' };
const PLANS: UsagePlanSpec[] = [
  {
    id: 'freeplan',
    name: 'tollgate-free',
    description: 'Free plan',
    apiStages: [API],
    throttle: { rateLimit: 100, burstLimit: 100 },
    quota: { limit: 10, period: 'MONTH' },
    tags: { 'tollgate:plan': 'free' },
  },
  {
    id: 'proplan',
    name: 'tollgate-pro',
    apiStages: [API],
    throttle: { rateLimit: 100, burstLimit: 100 },
    quota: { limit: 1000, period: 'MONTH' },
    tags: { 'tollgate:plan': 'pro' },
  },
];

interface Running {
  cp: ApiGatewayControlPlane;
  server: Server;
  client: APIGatewayClient;
  endpoint: string;
  dir: string;
  lines: string[];
}

const started: Running[] = [];
const createdDirs = new Set<string>();

async function start(
  options: {
    createApiKeyRateLimit?: number;
    managementApiLimits?: ManagementApiLimits | 'off';
    limitsClock?: () => number;
    faults?: FaultInjector;
    dir?: string;
  } = {},
): Promise<Running> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tollgate-apigw-it-')));
  createdDirs.add(dir);
  const lines: string[] = [];
  const cp = await createApiGatewayControlPlane({
    dir,
    usagePlans: PLANS,
    log: (line) => lines.push(line),
    // Most cases here make many calls on purpose; the throttling cases turn AWS's limits on.
    managementApiLimits: options.managementApiLimits ?? (options.createApiKeyRateLimit === undefined ? 'off' : undefined),
    createApiKeyRateLimit: options.createApiKeyRateLimit ?? Infinity,
    ...(options.limitsClock ? { limitsClock: options.limitsClock } : {}),
    faults: options.faults,
  });
  const server = createServer(cp.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new APIGatewayClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const running = { cp, server, client, endpoint, dir, lines };
  started.push(running);
  return running;
}

async function stop(r: Running): Promise<void> {
  const i = started.indexOf(r);
  if (i < 0) return;
  started.splice(i, 1);
  r.client.destroy();
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
  await r.cp.close();
}

afterAll(async () => {
  await Promise.all([...started].map(stop));
  await Promise.all([...createdDirs].map((d) => rm(d, { recursive: true, force: true })));
});

let env: Running;
beforeAll(async () => {
  env = await start();
});

const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function errorOf(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

const today = (): string => new Date().toISOString().slice(0, 10);

describe('API keys', () => {
  it('creates, gets (with and without value), lists by name prefix, updates and deletes', async () => {
    const { client } = env;
    const name = unique('alice');
    const created = await client.send(new CreateApiKeyCommand({ name, enabled: true, description: 'd', customerId: 'cust', tags: { a: '1' } }));
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created.id).toMatch(/^[a-z0-9]{10}$/);
    expect(created.value).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(created).toMatchObject({ name, enabled: true, description: 'd', customerId: 'cust', tags: { a: '1' } });
    expect(created.createdDate).toBeInstanceOf(Date);
    expect(Math.abs(created.createdDate!.getTime() - Date.now())).toBeLessThan(60_000);

    const id = created.id!;
    const plain = await client.send(new GetApiKeyCommand({ apiKey: id }));
    expect(plain.id).toBe(id);
    expect(plain.value).toBeUndefined();
    const withValue = await client.send(new GetApiKeyCommand({ apiKey: id, includeValue: true }));
    expect(withValue.value).toBe(created.value);

    await client.send(new CreateApiKeyCommand({ name: `${name}-2` }));
    await client.send(new CreateApiKeyCommand({ name: `x-${name}` }));
    const listed = await client.send(new GetApiKeysCommand({ nameQuery: name }));
    expect(listed.items?.map((k) => k.name)).toEqual([name, `${name}-2`]);
    expect(listed.items?.every((k) => k.value === undefined)).toBe(true);
    const listedWithValues = await client.send(new GetApiKeysCommand({ nameQuery: name, includeValues: true }));
    expect(listedWithValues.items?.[0]?.value).toBe(created.value);
    expect(listedWithValues.items?.[1]?.enabled).toBe(false); // AWS's default

    const updated = await client.send(
      new UpdateApiKeyCommand({ apiKey: id, patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }] }),
    );
    expect(updated.enabled).toBe(false);
    expect((await client.send(new GetApiKeyCommand({ apiKey: id }))).enabled).toBe(false);

    const deleted = await client.send(new DeleteApiKeyCommand({ apiKey: id }));
    expect(deleted.$metadata.httpStatusCode).toBe(202);
    const err = await errorOf(client.send(new GetApiKeyCommand({ apiKey: id })));
    expect(err.name).toBe('NotFoundException');
    expect(err.message).toBe('Invalid API Key identifier specified');
    expect(err.$metadata?.httpStatusCode).toBe(404);
  });

  it('paginates with limit and position', async () => {
    const { client } = env;
    const prefix = unique('page');
    for (let i = 0; i < 5; i++) await client.send(new CreateApiKeyCommand({ name: `${prefix}-${i}` }));
    const first = await client.send(new GetApiKeysCommand({ nameQuery: prefix, limit: 2 }));
    expect(first.items).toHaveLength(2);
    expect(first.position).toEqual(expect.any(String));
    const names: string[] = [];
    for await (const page of paginateGetApiKeys({ client, pageSize: 2 }, { nameQuery: prefix })) {
      names.push(...(page.items ?? []).map((k) => k.name!));
    }
    expect(names).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
  });

  it('rejects a duplicate value (ConflictException) and a short one (BadRequestException)', async () => {
    const { client } = env;
    const value = `v${Math.random().toString(36).slice(2)}`.padEnd(30, 'x');
    await client.send(new CreateApiKeyCommand({ name: unique('v'), value }));
    expect((await errorOf(client.send(new CreateApiKeyCommand({ value })))).name).toBe('ConflictException');
    expect((await errorOf(client.send(new CreateApiKeyCommand({ value: 'short' })))).name).toBe('BadRequestException');
  });

  it('tags API keys', async () => {
    const { client } = env;
    const { id } = await client.send(new CreateApiKeyCommand({ name: unique('tags'), tags: { a: '1' } }));
    const resourceArn = `arn:aws:apigateway:${LOCAL_REGION}::/apikeys/${id}`;
    await client.send(new TagResourceCommand({ resourceArn, tags: { b: '2' } }));
    await client.send(new UntagResourceCommand({ resourceArn, tagKeys: ['a'] }));
    expect((await client.send(new GetTagsCommand({ resourceArn }))).tags).toEqual({ b: '2' });
    const planTags = await client.send(new GetTagsCommand({ resourceArn: `arn:aws:apigateway:${LOCAL_REGION}::/usageplans/freeplan` }));
    expect(planTags.tags).toEqual({ 'tollgate:plan': 'free' });
  });
});

describe('usage plans and their keys', () => {
  it('serves the template plans and refuses to create plans', async () => {
    const { client } = env;
    const plans = await client.send(new GetUsagePlansCommand({}));
    expect(plans.items?.map((p) => p.id)).toEqual(['freeplan', 'proplan']);
    const free = await client.send(new GetUsagePlanCommand({ usagePlanId: 'freeplan' }));
    expect(free).toMatchObject({
      name: 'tollgate-free',
      apiStages: [API],
      throttle: { rateLimit: 100, burstLimit: 100 },
      quota: { limit: 10, period: 'MONTH' },
    });
    expect((await errorOf(client.send(new GetUsagePlanCommand({ usagePlanId: 'nope' })))).name).toBe('NotFoundException');
    const err = await errorOf(client.send(new CreateUsagePlanCommand({ name: 'x' })));
    expect(err.name).toBe('BadRequestException');
    expect(err.message).toContain('template.yaml');
  });

  it('adds a key, refuses it twice and in a second plan on the same stage, then moves it', async () => {
    const { client } = env;
    const name = unique('member');
    const { id: keyId, value } = await client.send(new CreateApiKeyCommand({ name, enabled: true }));
    const added = await client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' }));
    expect(added.$metadata.httpStatusCode).toBe(201);
    expect(added).toMatchObject({ id: keyId, type: 'API_KEY', name, value });

    const again = await errorOf(client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' })));
    expect(again.name).toBe('ConflictException');
    expect(again.$metadata?.httpStatusCode).toBe(409);
    const otherPlan = await errorOf(client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'proplan', keyId, keyType: 'API_KEY' })));
    expect(otherPlan.name).toBe('ConflictException');
    expect(otherPlan.message).toContain('same API Stage');

    expect((await client.send(new GetUsagePlansCommand({ keyId }))).items?.map((p) => p.id)).toEqual(['freeplan']);
    expect((await client.send(new GetUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId }))).id).toBe(keyId);
    const planKeys = await client.send(new GetUsagePlanKeysCommand({ usagePlanId: 'freeplan', nameQuery: name }));
    expect(planKeys.items?.map((k) => k.id)).toEqual([keyId]);

    const removed = await client.send(new DeleteUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId }));
    expect(removed.$metadata.httpStatusCode).toBe(202);
    await client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'proplan', keyId, keyType: 'API_KEY' }));
    expect(env.cp.gate.resolve(value!, API.apiId, API.stage)?.plan.id).toBe('proplan');

    const missing = await errorOf(client.send(new DeleteUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId })));
    expect(missing.name).toBe('NotFoundException');
    const unknownKey = await errorOf(client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId: 'nokey12345', keyType: 'API_KEY' })));
    expect(unknownKey.name).toBe('NotFoundException');
    const badType = await errorOf(client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'OTHER' })));
    expect(badType.name).toBe('BadRequestException');

    // Deleting the key removes it from its plans.
    await client.send(new DeleteApiKeyCommand({ apiKey: keyId }));
    expect((await client.send(new GetUsagePlanKeysCommand({ usagePlanId: 'proplan', nameQuery: name }))).items).toEqual([]);
  });
});

describe('GetUsage', () => {
  it('reports [used, remaining] per day for keys admitted through the gate', async () => {
    const { client, cp } = env;
    const { id: keyId, value } = await client.send(new CreateApiKeyCommand({ name: unique('usage'), enabled: true }));
    await client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' }));
    const resolved = cp.gate.resolve(value!, API.apiId, API.stage);
    expect(resolved?.key.id).toBe(keyId);
    for (let i = 0; i < 3; i++) expect(cp.gate.admit(keyId!, resolved!.plan)).toEqual({ ok: true });

    const day = today();
    const usage = await client.send(new GetUsageCommand({ usagePlanId: 'freeplan', keyId, startDate: day, endDate: day }));
    expect(usage).toMatchObject({ usagePlanId: 'freeplan', startDate: day, endDate: day });
    expect(usage.items).toEqual({ [keyId!]: [[3, 10 - 3]] });

    const all = await client.send(new GetUsageCommand({ usagePlanId: 'freeplan', startDate: day, endDate: day }));
    expect(all.items?.[keyId!]).toEqual([[3, 7]]);

    const bad = await errorOf(client.send(new GetUsageCommand({ usagePlanId: 'freeplan', startDate: '2024-02-30', endDate: day })));
    expect(bad.name).toBe('BadRequestException');
    const reversed = await errorOf(client.send(new GetUsageCommand({ usagePlanId: 'freeplan', startDate: day, endDate: '2000-01-01' })));
    expect(reversed.name).toBe('BadRequestException');
    const noPlan = await errorOf(client.send(new GetUsageCommand({ usagePlanId: 'nope', startDate: day, endDate: day })));
    expect(noPlan.name).toBe('NotFoundException');
  });
});

describe('UpdateUsage', () => {
  it('replaces the remaining quota of the current period; the gate and GetUsage follow', async () => {
    const { client, cp } = env;
    const { id: keyId, value } = await client.send(new CreateApiKeyCommand({ name: unique('grant'), enabled: true }));
    await client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' }));
    const plan = cp.gate.resolve(value!, API.apiId, API.stage)!.plan; // quota 10 per MONTH
    for (let i = 0; i < 4; i++) expect(cp.gate.admit(keyId!, plan)).toEqual({ ok: true });

    const day = today();
    const updated = await client.send(
      new UpdateUsageCommand({ usagePlanId: 'freeplan', keyId, patchOperations: [{ op: 'replace', path: '/remaining', value: '2' }] }),
    );
    expect(updated.$metadata.httpStatusCode).toBe(200);
    expect(updated).toMatchObject({ usagePlanId: 'freeplan', startDate: `${day.slice(0, 8)}01`, endDate: day });
    expect(Object.keys(updated.items ?? {})).toEqual([keyId]);
    expect(updated.items?.[keyId!]?.at(-1)).toEqual([4, 2]);

    expect(cp.gate.admit(keyId!, plan)).toEqual({ ok: true });
    expect(cp.gate.admit(keyId!, plan)).toEqual({ ok: true });
    expect(cp.gate.admit(keyId!, plan)).toEqual({ ok: false, reason: 'quota' });
    const usage = await client.send(new GetUsageCommand({ usagePlanId: 'freeplan', keyId, startDate: day, endDate: day }));
    expect(usage.items?.[keyId!]).toEqual([[6, 0]]);

    // A later grant in the same period replaces the earlier one.
    await client.send(new UpdateUsageCommand({ usagePlanId: 'freeplan', keyId, patchOperations: [{ op: 'replace', path: '/remaining', value: '1' }] }));
    expect([cp.gate.admit(keyId!, plan).ok, cp.gate.admit(keyId!, plan).ok]).toEqual([true, false]);
  });

  it('answers NotFoundException for an unknown plan or key, or a key outside the plan, and BadRequestException for bad operations', async () => {
    const { client } = env;
    const { id: keyId } = await client.send(new CreateApiKeyCommand({ name: unique('grant-err'), enabled: true }));
    const { id: outsider } = await client.send(new CreateApiKeyCommand({ name: unique('outsider') }));
    await client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'proplan', keyId, keyType: 'API_KEY' }));
    const replace: PatchOperation[] = [{ op: 'replace', path: '/remaining', value: '5' }];
    const send = (usagePlanId: string, id: string, patchOperations: PatchOperation[]) =>
      errorOf(client.send(new UpdateUsageCommand({ usagePlanId, keyId: id, patchOperations })));

    for (const err of [await send('nope', keyId!, replace), await send('proplan', 'nokey12345', replace), await send('proplan', outsider!, replace)]) {
      expect(err.name).toBe('NotFoundException');
      expect(err.$metadata?.httpStatusCode).toBe(404);
    }
    const bad: PatchOperation[][] = [
      [{ op: 'add', path: '/remaining', value: '5' }],
      [{ op: 'replace', path: '/quota/limit', value: '5' }],
      [{ op: 'replace', path: '/remaining', value: '-5' }],
      [{ op: 'replace', path: '/remaining' }],
    ];
    for (const ops of bad) {
      const err = await send('proplan', keyId!, ops);
      expect(err.name).toBe('BadRequestException');
      expect(err.$metadata?.httpStatusCode).toBe(400);
    }
  });
});

describe('robustness', () => {
  it('answers malformed input AWS-style and keeps serving', async () => {
    const { endpoint, client } = env;
    const badJson = await fetch(`${endpoint}/apikeys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(((await badJson.json()) as { message: string }).message).toMatch(/json/i);

    const wrongType = await fetch(`${endpoint}/apikeys`, { method: 'POST', body: '{"enabled": "yes"}' });
    expect(wrongType.status).toBe(400);
    const array = await fetch(`${endpoint}/apikeys`, { method: 'POST', body: '[1,2]' });
    expect(array.status).toBe(400);
    const badPatch = await fetch(`${endpoint}/apikeys/whatever`, { method: 'PATCH', body: '{"patchOperations": 7}' });
    expect(badPatch.status).toBe(400);
    const unknownRoute = await fetch(`${endpoint}/restapis`);
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const unknownMethod = await fetch(`${endpoint}/apikeys`, { method: 'PUT', body: '{}' });
    expect(unknownMethod.status).toBe(404);
    const badEscape = await fetch(`${endpoint}/apikeys/%E0%A4%A`);
    expect(badEscape.status).toBe(400);
    const badLimit = await fetch(`${endpoint}/apikeys?limit=-3`);
    expect(badLimit.status).toBe(400);
    const badBool = await fetch(`${endpoint}/apikeys?includeValues=maybe`);
    expect(badBool.status).toBe(400);

    // Still alive and well.
    const ok = await client.send(new CreateApiKeyCommand({ name: unique('alive') }));
    expect(ok.id).toBeDefined();
  });

  it('logs one line per request without key values', async () => {
    const { client, lines } = env;
    const created = await client.send(new CreateApiKeyCommand({ name: unique('log') }));
    await client.send(new GetApiKeyCommand({ apiKey: created.id, includeValue: true }));
    const mine = lines.filter((l) => l.includes(created.id!));
    expect(mine).toEqual([expect.stringMatching(/^GET \/apikeys\/[a-z0-9]{10} 200 GetApiKey \d+ms$/)]);
    expect(lines.some((l) => l.includes(created.value!))).toBe(false);
  });
});

describe('throttling and faults', () => {
  it('answers TooManyRequestsException beyond 5 CreateApiKey requests per second', async () => {
    const limited = await start({ createApiKeyRateLimit: 5 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => limited.client.send(new CreateApiKeyCommand({ name: `burst-${i}` }))),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(6);
    expect(rejected.length).toBeGreaterThanOrEqual(2);
    for (const r of rejected) {
      expect((r.reason as Error).name).toBe('TooManyRequestsException');
      expect((r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(429);
    }
    await stop(limited);
  });

  it("answers 429 TooManyRequestsException with Retry-After beyond AWS's account limit (burst 40, every operation)", async () => {
    // A frozen clock: no token comes back during the burst, however slow the machine.
    const limited = await start({ managementApiLimits: AWS_MANAGEMENT_API_LIMITS, limitsClock: () => 0 });
    const statuses = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${limited.endpoint}/usageplans`).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), type: r.headers.get('x-amzn-errortype'), body: await r.text() }))),
    );
    const refused = statuses.filter((s) => s.status === 429);
    expect(statuses.filter((s) => s.status === 200)).toHaveLength(40);
    expect(refused).toHaveLength(10);
    for (const r of refused) {
      expect(r).toMatchObject({ retryAfter: '1', type: 'TooManyRequestsException' });
      expect(JSON.parse(r.body)).toEqual({ message: 'Too Many Requests' });
    }
    // The SDK reads it as AWS's error, with retryAfterSeconds from the header.
    const error = await errorOf(limited.client.send(new GetUsagePlansCommand({})));
    expect(error).toMatchObject({ name: 'TooManyRequestsException', retryAfterSeconds: '1' });
    await stop(limited);
  });

  it('answers 429 beyond 5 DeleteApiKey requests per second', async () => {
    let clock = 0;
    const limited = await start({
      managementApiLimits: { account: { rate: Infinity, burst: Infinity }, operations: AWS_MANAGEMENT_API_LIMITS.operations },
      limitsClock: () => clock,
    });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      if (i === 5) clock += 1000; // CreateApiKey's own 5/s
      ids.push((await limited.client.send(new CreateApiKeyCommand({ name: `del-${i}` }))).id!);
    }
    const results = await Promise.allSettled(ids.map((apiKey) => limited.client.send(new DeleteApiKeyCommand({ apiKey }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(Array(3).fill('TooManyRequestsException'));
    await stop(limited);
  });

  it('injects errors for the next N calls of an operation', async () => {
    const faults = new FaultInjector();
    const faulty = await start({ faults });
    faults.inject('CreateUsagePlanKey', 'ConflictException', 1).inject('CreateApiKey', 'TooManyRequestsException', 2);
    const a = await errorOf(faulty.client.send(new CreateApiKeyCommand({ name: 'f' })));
    const b = await errorOf(faulty.client.send(new CreateApiKeyCommand({ name: 'f' })));
    expect([a.name, b.name]).toEqual(['TooManyRequestsException', 'TooManyRequestsException']);
    const { id: keyId } = await faulty.client.send(new CreateApiKeyCommand({ name: 'f' }));
    const c = await errorOf(faulty.client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' })));
    expect(c.name).toBe('ConflictException');
    await faulty.client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' }));
    await stop(faulty);
  });
});

describe('persistence', () => {
  it('keeps keys, memberships and usage across a restart', async () => {
    const first = await start();
    const { id: keyId, value } = await first.client.send(new CreateApiKeyCommand({ name: 'restart', enabled: true }));
    await first.client.send(new CreateUsagePlanKeyCommand({ usagePlanId: 'freeplan', keyId, keyType: 'API_KEY' }));
    const plan = first.cp.gate.resolve(value!, API.apiId, API.stage)!.plan;
    first.cp.gate.admit(keyId!, plan);
    await stop(first);

    const second = await start({ dir: first.dir });
    const key = await second.client.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    expect(key.value).toBe(value);
    expect((await second.client.send(new GetUsagePlansCommand({ keyId }))).items?.map((p) => p.id)).toEqual(['freeplan']);
    const usage = await second.client.send(new GetUsageCommand({ usagePlanId: 'freeplan', keyId, startDate: today(), endDate: today() }));
    expect(usage.items?.[keyId!]).toEqual([[1, 9]]);
    await stop(second);
  });
});
