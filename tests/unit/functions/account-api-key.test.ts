/** AccountFunction, GET /me/api-key (split by route from account.test.ts; shared setup in ./account-setup.ts). */
import { ACCOUNTS_TABLE } from './env.ts';
import { ddb, apigw, NEW_KEY_VALUE, account, givenAccount, awsError, handler } from './account-setup.ts';
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { logger } from '#shared/logger';
import {
  API_KEY_ID, API_KEY_VALUE, SUB, bodyOf, captureOutput, context, describeTokenOnlyChecks, loadEvent, withQuery
} from './helpers.ts';
import 'aws-sdk-client-mock-jest';

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['api-key-get']);

describe('GET /me/api-key', () => {
  it('needs only the ID token (no API key): the way back after a rotation whose answer was lost', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, name: SUB, enabled: true });
    const event = loadEvent('api-key-get');
    event.requestContext.identity.apiKeyId = null as unknown as string;
    event.requestContext.identity.apiKey = null as unknown as string;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ id: API_KEY_ID });
  });

  it('answers 401 without the authorizer claims', async () => {
    const event = loadEvent('api-key-get');
    event.requestContext.authorizer = null as never;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(401);
    expect(apigw.calls()).toHaveLength(0);
  });

  it("reads only the caller's own account, whatever key the request carries", async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, enabled: true });
    const event = withQuery(loadEvent('api-key-get'), { reveal: 'true' });
    event.requestContext.identity.apiKeyId = 'someone-elses-key';

    await handler(event, context);

    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: API_KEY_ID });
  });

  it('answers metadata only by default, from the account record: no management API call, no value', async () => {
    givenAccount(account);

    const result = await handler(loadEvent('api-key-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free' });
    expect(apigw.calls()).toHaveLength(0);
  });

  it('answers 400 naming reveal when it is not true or false', async () => {
    givenAccount(account);

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'yes' }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'reveal' })]);
  });

  it('reveals from the environment cache: one GetApiKey for many reveals', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, enabled: true });

    for (let i = 0; i < 5; i++) {
      const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);
      expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free', value: API_KEY_VALUE });
    }

    expect(apigw).toHaveReceivedCommandTimes(GetApiKeyCommand, 1);
  });

  it("reveals the caller's own key with its value, not to be cached", async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({
      id: API_KEY_ID,
      value: API_KEY_VALUE,
      name: SUB,
      enabled: true,
      createdDate: new Date('2025-11-01T10:00:03.000Z'),
      tags: { 'tollgate:userId': SUB },
    });

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free', value: API_KEY_VALUE });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: API_KEY_ID, includeValue: true });
  });

  it('reads the key the account holds', async () => {
    givenAccount({ ...account, apiKeyId: 'k-from-account' });
    apigw.on(GetApiKeyCommand).resolves({ id: 'k-from-account', value: 'V'.repeat(40), enabled: true });

    await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: 'k-from-account' });
  });

  it('answers 409 when the account is not ACTIVE', async () => {
    givenAccount({ ...account, status: 'ONBOARDING' });

    const result = await handler(loadEvent('api-key-get'), context);

    expect(result.statusCode).toBe(409);
    expect(apigw.calls()).toHaveLength(0);
  });

  it('answers 409 when the key is gone', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).rejects(awsError('NotFoundException', 'Invalid API Key identifier specified'));

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toBe('The API key of the account no longer exists');
  });

  it('never logs the key value', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: NEW_KEY_VALUE, enabled: true });
    logger.setLogLevel('DEBUG');

    const output = await captureOutput(() => handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context));
    logger.setLogLevel('SILENT');

    expect(output).toContain('Request handled');
    expect(output).not.toContain(NEW_KEY_VALUE);
    expect(output).not.toContain(API_KEY_VALUE);
  });
});
