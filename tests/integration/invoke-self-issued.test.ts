/**
 * `npm run invoke` with the KeyMode SelfIssued fixtures, against an offline stack deployed with KeyMode=SelfIssued:
 * as committed they hold placeholders and no key value (the KeyAuthorizer refuses the placeholder key); once
 * fillSelfIssuedCaller (what scripts/invoke.ts runs) has filled them for the demo user, GET /me/api-key answers this
 * mode's shape (`issued`, then `hint`), the rotate route answers the value once (and it works through the gateway),
 * the KeyAuthorizer allows the demo user's key with its context, and the data route as the authorizer's context sends
 * it answers 200.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayAuthorizerResult, APIGatewayProxyResult } from 'aws-lambda';
import { looksLikeKey } from '../../functions/shared/key-shape.ts';
import { invokeFunction, signIn, startTestStack, type TestStack } from '../../local/harness/stack.ts';
import { waitForCode } from '../../scripts/demo.ts';
import { DEMO_USER } from '../../scripts/invoke-caller.ts';
import { fillSelfIssuedCaller, selfIssuedPlaceholders } from '../../scripts/invoke-self-issued.ts';

jest.setTimeout(90_000);

const FIXTURES = ['key-authorizer-self-issued', 'links-list-self-issued', 'api-key-get-self-issued', 'api-key-rotate-self-issued'] as const;
type Fixture = (typeof FIXTURES)[number];

const text = (name: Fixture): string => readFileSync(join(__dirname, '..', '..', 'events', `${name}.json`), 'utf8');
const fixture = (name: Fixture): { headers: Record<string, string>; requestContext: { authorizer?: Record<string, unknown> } } => JSON.parse(text(name));

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ parameterOverrides: { KeyMode: 'SelfIssued' } });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const deps = () => ({
  cognito: t.clients.cognito,
  clientId: t.stack.userPoolClientId,
  confirmationCode: (email: string) => waitForCode(join(t.dir, 'cognito', 'outbox.jsonl'), email, 10_000),
  apiUrl: t.stack.apiUrl,
});

describe('npm run invoke with the KeyMode SelfIssued fixtures', () => {
  it.each(FIXTURES)('%s holds placeholders and no key value', (name) => {
    expect(selfIssuedPlaceholders(fixture(name))).toBeDefined();
    const strings = text(name).match(/"[^"]*"/g) ?? [];
    expect(strings.map((s) => JSON.parse(s) as string).filter((s) => looksLikeKey(s))).toEqual([]);
  });

  it('the authorizer refuses the placeholder key as committed', async () => {
    await expect(invokeFunction(t, 'KeyAuthorizerFunction', fixture('key-authorizer-self-issued'))).rejects.toThrow(/Unauthorized/);
  });

  it('filled for the demo user: no key yet, the rotation shows one once, the authorizer allows it, the data route answers', async () => {
    const get = fixture('api-key-get-self-issued');
    const demo = await fillSelfIssuedCaller(get, deps());
    expect(demo).toMatchObject({ email: DEMO_USER.email, created: true, keyIssued: false });
    expect(get.requestContext.authorizer?.claims).toMatchObject({ sub: demo.userId, email: DEMO_USER.email, 'custom:apiid': demo.apiKeyId });
    const before = await invokeFunction<APIGatewayProxyResult>(t, 'AccountFunction', get);
    expect(before.statusCode).toBe(200);
    expect(JSON.parse(before.body)).toEqual({ id: demo.apiKeyId, plan: 'free', issued: false });

    // The rotate route's answer: the value, this once.
    const rotate = fixture('api-key-rotate-self-issued');
    await fillSelfIssuedCaller(rotate, deps());
    const rotated = await invokeFunction<APIGatewayProxyResult>(t, 'AccountFunction', rotate);
    expect(rotated.statusCode).toBe(200);
    const answer = JSON.parse(rotated.body) as { id: string; value: string; previousKeyId: string; plan: string };
    expect(answer).toEqual({ id: expect.stringMatching(/^si[0-9a-f]{18}$/), value: expect.any(String), previousKeyId: demo.apiKeyId, plan: 'free' });
    expect(looksLikeKey(answer.value)).toBe(true);
    const { idToken } = await signIn(t, DEMO_USER.email, DEMO_USER.password);
    const call = async (key: string) => (await fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': key } })).status;
    expect(await call(answer.value)).toBe(200);

    // The authorizer's REQUEST event with a key issued to the demo user for it (the rotation above's key is revoked).
    const request = fixture('key-authorizer-self-issued');
    const filled = await fillSelfIssuedCaller(request, deps());
    expect(filled).toMatchObject({ userId: demo.userId, keyIssued: true });
    expect(filled.apiKeyId).not.toBe(answer.id);
    const key = request.headers['x-api-key']!;
    expect(looksLikeKey(key)).toBe(true);
    const result = await invokeFunction<APIGatewayAuthorizerResult>(t, 'KeyAuthorizerFunction', request);
    expect(result).toMatchObject({ principalId: demo.userId, context: { customerId: demo.userId, plan: 'free' } });
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    expect(result.usageIdentifierKey).toBe(t.stack.model.apiKeys.find((k) => k.logicalId === 'SelfIssuedBackstopKey')?.value);
    expect(await call(answer.value)).toBe(401);
    expect(await call(key)).toBe(200);

    // The data route as API Gateway sends it behind that authorizer (DataApiAuth IdTokenAndApiKey: the token too).
    const links = fixture('links-list-self-issued');
    await fillSelfIssuedCaller(links, deps());
    expect(links.requestContext.authorizer).toMatchObject({ customerId: demo.userId, principalId: demo.userId });
    const listed = await invokeFunction<APIGatewayProxyResult>(t, 'LinksFunction', links);
    expect(listed.statusCode).toBe(200);
    expect(JSON.parse(listed.body)).toHaveProperty('items', []);

    // GET /me/api-key now tells a value was issued, and its hint: the start of the last one (the data fixture's).
    const after = fixture('api-key-get-self-issued');
    await fillSelfIssuedCaller(after, deps());
    const view = JSON.parse((await invokeFunction<APIGatewayProxyResult>(t, 'AccountFunction', after)).body) as unknown;
    // …and when that value was issued (the key card's created date).
    expect(view).toEqual({ id: expect.stringMatching(/^si/), plan: 'free', issued: true, hint: links.headers['x-api-key']!.slice(0, 12), createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });
});
