/**
 * The key-only data API (template parameter DataApiAuth=ApiKey) on the offline stack started with that override:
 * `X-Api-Key` alone reads the owner's data, another customer's item is 404, no key is 401 (the authorizer's identity source), a rotated-away key 403
 * (API Gateway's own refusal), and a valid key that no account holds is refused by the function (the apiKeyId → owner
 * lookup never resurrects a key). Account management (/me*) still wants the ID token.
 */
import { CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApiDocument } from '../../functions/openapi/document.ts';
import { readDataApiAuth, runDemo } from '../../scripts/demo.ts';
import { onboardCustomer, startTestStack, type Customer, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;
let alice: Customer;
let bob: Customer;

beforeAll(async () => {
  t = await startTestStack({ parameterOverrides: { DataApiAuth: 'ApiKey' } });
  [alice, bob] = await Promise.all([onboardCustomer(t, 'keyonly-a'), onboardCustomer(t, 'keyonly-b')]);
}, 90_000);
afterAll(async () => {
  await t?.close();
});

const api = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${t.stack.apiUrl}${path}`, init);
const withKey = (key: string, extra: Record<string, string> = {}): Record<string, string> => ({ 'X-Api-Key': key, ...extra });

/** The statuses the API reference of this mode documents for a route (functions/openapi): what the stack answers must be among them. */
function documented(method: string, path: string): string[] {
  const paths = openApiDocument({ dataApiAuth: 'ApiKey' }).paths as Record<string, Record<string, { responses: object }>>;
  return Object.keys(paths[path]?.[method]?.responses ?? {});
}

async function createLink(c: Customer, url: string): Promise<string> {
  const res = await api('/links', { method: 'POST', headers: withKey(c.keyValue, { 'Content-Type': 'application/json' }), body: JSON.stringify({ url }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

it("GET /links with only X-Api-Key is 200 with the key owner's links", async () => {
  const id = await createLink(alice, 'https://example.com/alice');
  await createLink(bob, 'https://example.com/bob');
  const res = await api('/links', { headers: withKey(alice.keyValue) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { items: { id: string; url: string }[] };
  expect(body.items.map((l) => l.url)).toEqual(['https://example.com/alice']);
  expect(body.items[0]!.id).toBe(id);
});

it("another customer's item is 404, with the caller's own key", async () => {
  const bobs = await createLink(bob, 'https://example.com/bob-private');
  const res = await api(`/links/${bobs}`, { headers: withKey(alice.keyValue) });
  expect(res.status).toBe(404);
  expect(documented('get', '/links/{id}')).toContain('404');
  expect((await api(`/links/${bobs}`, { headers: withKey(bob.keyValue) })).status).toBe(200);
});

// The data routes' KeyAuthorizer has X-Api-Key as its identity source: API Gateway answers 401 without invoking it
// ("Configure a Lambda authorizer": a missing identity source is 401); before KeyMode it was the key check's 403.
it('no key is 401 (API Gateway), and an ID token alone does not replace it', async () => {
  expect((await api('/links')).status).toBe(401);
  expect((await api('/links', { headers: { Authorization: alice.idToken } })).status).toBe(401);
  // The key-only reference documents that 401 (it used to list 403 alone for a data route in this mode).
  expect(documented('get', '/links')).toContain('401');
});

it('a rotated-away key is 403; the new key works at once', async () => {
  const c = await onboardCustomer(t, 'keyonly-rot');
  expect((await api('/links', { headers: withKey(c.keyValue) })).status).toBe(200); // cached by the function now
  const rotated = await api('/me/api-key/rotate', {
    method: 'POST',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': `rot-${c.userId}` },
    body: JSON.stringify({ keyId: c.keyId }),
  });
  expect(rotated.status).toBe(200);
  const next = (await rotated.json()) as { id: string; value: string };
  expect((await api('/links', { headers: withKey(c.keyValue) })).status).toBe(403);
  expect((await api('/links', { headers: withKey(next.value) })).status).toBe(200);
});

it('a valid key in a usage plan that no account holds is refused by the function (403), not mapped to anyone', async () => {
  const { items = [] } = await t.clients.apigateway.send(new GetUsagePlansCommand({}));
  const free = items.find((p) => p.name?.endsWith('free'));
  expect(free?.id).toBeDefined();
  const stray = await t.clients.apigateway.send(new CreateApiKeyCommand({ name: `stray-${Date.now()}`, enabled: true }));
  await t.clients.apigateway.send(new CreateUsagePlanKeyCommand({ usagePlanId: free!.id!, keyId: stray.id!, keyType: 'API_KEY' }));
  const res = await api('/links', { headers: withKey(stray.value!) });
  expect(res.status).toBe(403);
  expect(((await res.json()) as { message: string }).message).toBe('The API key belongs to no active account');
  expect(documented('get', '/links')).toContain('403');
});

it('account management still needs the ID token: /me with only the key is 401', async () => {
  expect((await api('/me', { headers: withKey(alice.keyValue) })).status).toBe(401);
  expect((await api('/me', { headers: { Authorization: alice.idToken } })).status).toBe(200);
});

describe('npm run demo on a key-only stack', () => {
  it('calls the data API with the key alone and shows /me refusing a key without a token', async () => {
    const e = t.stack.endpoints;
    const lines: string[] = [];
    const result = await runDemo({
      apiUrl: t.stack.apiUrl,
      cognitoUrl: e.cognito,
      sfnUrl: e.stepfunctions,
      apigatewayUrl: e.apigateway,
      dir: t.dir,
      clientId: t.stack.userPoolClientId,
      poolId: t.stack.userPoolId,
      dataApiAuth: 'ApiKey',
      out: (line) => lines.push(line),
    });
    const output = lines.join('\n');
    expect({ ok: result.ok, error: result.error }).toEqual({ ok: true, error: undefined });
    expect(output).toMatch(/key-only \(DataApiAuth=ApiKey\)/);
    expect(output).toMatch(/GET \/links → 200/);
    expect(output).toMatch(/without a token: 401\b.*GET \/me/);
    expect(output).toMatch(/without a key: +401\b/);
  }, 90_000);

  it('takes the mode from the config.json npm start writes for the portal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-mode-'));
    try {
      expect(readDataApiAuth(dir)).toBe('IdTokenAndApiKey');
      mkdirSync(join(dir, 'portal'));
      writeFileSync(join(dir, 'portal', 'config.json'), JSON.stringify({ dataApiAuth: 'ApiKey' }));
      expect(readDataApiAuth(dir)).toBe('ApiKey');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
