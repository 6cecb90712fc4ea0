/**
 * The data API in both key modes (template parameter KeyMode), through the same suite: the offline stack started
 * from template.yaml with DataApiAuth=ApiKey and KeyMode ApiGateway or SelfIssued, the data routes behind
 * KeyAuthorizerFunction (API key source AUTHORIZER). The key a customer sends is their API Gateway key (ApiGateway)
 * or a self-issued `tg_live_` key whose hash is in the SelfIssuedKeys table (SelfIssued).
 *
 * SelfIssued keys are issued here through the table's adapter for the onboarded customer (onboarding does not issue
 * them yet in this mode: README "Key modes", not done).
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { issueKey } from '../../functions/shared/self-issued-keys.ts';
import { selfIssuedKeysStore } from '../../functions/shared/tables/self-issued-keys.ts';
import { onboardCustomer, startTestStack, type TestStack } from '../../local/harness/stack.ts';

type Mode = 'ApiGateway' | 'SelfIssued';

describe.each<Mode>(['ApiGateway', 'SelfIssued'])('KeyMode %s', (mode) => {
  let t: TestStack;
  const keys: Record<string, string> = {};

  /** An onboarded customer's key for this mode; `plan` only for SelfIssued (ApiGateway keys start on free). */
  async function customerKey(prefix: string): Promise<{ userId: string; key: string }> {
    const c = await onboardCustomer(t, prefix);
    if (mode === 'ApiGateway') return { userId: c.userId, key: c.keyValue };
    const store = selfIssuedKeysStore(t.stack.model.tables.find((x) => x.logicalId === 'SelfIssuedKeysTable')!.name, DynamoDBDocumentClient.from(t.clients.dynamodb));
    const issued = issueKey();
    expect(await store.putKey(issued.hash, { customerId: c.userId, plan: 'free', status: 'active', hint: issued.hint, createdAt: new Date().toISOString() })).toBe(true);
    return { userId: c.userId, key: issued.value };
  }

  beforeAll(async () => {
    t = await startTestStack({ parameterOverrides: { DataApiAuth: 'ApiKey', KeyMode: mode, FreeQuotaLimit: '6' } });
    const [a, b] = await Promise.all([customerKey(`km-${mode}-a`), customerKey(`km-${mode}-b`)]);
    keys.alice = a.key;
    keys.bob = b.key;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const api = (path: string, key?: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${t.stack.apiUrl}${path}`, { ...init, headers: { ...(key === undefined ? {} : { 'X-Api-Key': key }), 'Content-Type': 'application/json' } });

  it("the customer's key reads their own data; another's item is 404", async () => {
    const created = await api('/links', keys.alice, { method: 'POST', body: JSON.stringify({ url: `https://example.com/${mode}` }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const list = (await (await api('/links', keys.alice)).json()) as { items: { id: string }[] };
    expect(list.items.map((l) => l.id)).toEqual([id]);
    expect((await api(`/links/${id}`, keys.bob)).status).toBe(404);
  });

  it('no key is 401 (the authorizer identity source is missing); an unknown key is refused', async () => {
    expect((await api('/links')).status).toBe(401);
    const unknown = await api('/links', mode === 'SelfIssued' ? issueKey().value : 'not-a-key-of-this-api-0123456789');
    expect(unknown.status).toBe(mode === 'SelfIssued' ? 401 : 403);
  });

  it('the plan quota holds: requests past it are refused', async () => {
    const c = await customerKey(`km-${mode}-quota`);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await api('/tags', c.key)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    // ApiGateway: the usage plan's quota (429); SelfIssued: the authorizer's Deny (403, a Lambda authorizer cannot answer 429).
    expect(statuses.slice(6)).toEqual(mode === 'SelfIssued' ? [403, 403] : [429, 429]);
  });
});
