/**
 * `npm run invoke` with a data fixture: the committed events/links-list.json carries a placeholder ID token, so the
 * function answers 401 as is; fillDemoCaller (what scripts/invoke.ts runs) signs a demo user up and in against the
 * stack's Cognito, with the code from the stack's outbox file, and the same fixture then gets 200.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { invokeFunction, startTestStack, type TestStack } from '../../local/harness/stack.ts';
import { waitForCode } from '../../scripts/demo.ts';
import { DEMO_USER, fillDemoCaller, ID_TOKEN_PLACEHOLDER, needsDemoCaller } from '../../scripts/invoke-caller.ts';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const fixture = (): APIGatewayProxyEvent => JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', 'links-list.json'), 'utf8')) as APIGatewayProxyEvent;
const deps = () => ({
  cognito: t.clients.cognito,
  clientId: t.stack.userPoolClientId,
  confirmationCode: (email: string) => waitForCode(join(t.dir, 'cognito', 'outbox.jsonl'), email, 10_000),
});

describe('npm run invoke with a data fixture', () => {
  it('answers 401 with the placeholder, 200 once a demo user is filled in, and reuses that user', async () => {
    const placeholder = fixture();
    expect(needsDemoCaller(placeholder)).toBe(true);
    expect(placeholder.headers.Authorization).toMatch(new RegExp(`^${ID_TOKEN_PLACEHOLDER}`));
    const refused = await invokeFunction<APIGatewayProxyResult>(t, 'LinksFunction', placeholder);
    expect(refused.statusCode).toBe(401);

    const event = fixture();
    const demo = await fillDemoCaller(event, deps());
    expect(demo).toMatchObject({ email: DEMO_USER.email, created: true });
    expect(event.requestContext.identity.apiKeyId).toBe(demo.apiKeyId);
    expect(event.multiValueHeaders.Authorization).toEqual([event.headers.Authorization]);
    expect(needsDemoCaller(event)).toBe(false);
    const listed = await invokeFunction<APIGatewayProxyResult>(t, 'LinksFunction', event);
    expect(listed.statusCode).toBe(200);
    expect(JSON.parse(listed.body)).toHaveProperty('items', []);

    const again = fixture();
    await expect(fillDemoCaller(again, deps())).resolves.toMatchObject({ created: false, userId: demo.userId, apiKeyId: demo.apiKeyId });
  }, 60_000);
});
