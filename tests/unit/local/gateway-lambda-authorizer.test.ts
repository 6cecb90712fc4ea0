/**
 * The offline gateway's Lambda REQUEST authorizer (local/execute-api/handlers/lambda-authorizer.ts), over real HTTP
 * on a free port, with the fixture authorizer tests/fixtures/lambda/authorizer.js run in-process: identity sources,
 * the input event, policy evaluation, the cache and its TTL, the context passed on, usageIdentifierKey as the API key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createGateway } from '../../../local/execute-api/index.ts';
import { buildStackModel } from '../../../local/model.ts';
import { parseTemplate } from '../../../local/template.ts';
import type { KeyGate, LambdaAuthorizerSpec, LambdaInvoker, RouteSpec, TokenVerifier, UsagePlanSpec } from '../../../local/types.ts';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const fixture = require('../../fixtures/lambda/authorizer.js') as { handler: (event: unknown) => Promise<unknown> };

const servers: http.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
});

let now = 1_700_000_000_000;
const calls: { fn: string; event: Record<string, unknown> }[] = [];
const invoker: LambdaInvoker = {
  has: () => true,
  async invoke(fn, event) {
    calls.push({ fn, event: event as Record<string, unknown> });
    if (fn === 'Authz') {
      try {
        return { payload: await fixture.handler(event), logs: '', requestId: randomUUID() };
      } catch (error) {
        return { error: { errorType: 'Error', errorMessage: (error as Error).message }, logs: '', requestId: randomUUID() };
      }
    }
    return { payload: { statusCode: 200, body: JSON.stringify(event) }, logs: '', requestId: randomUUID() };
  },
};
const plan: UsagePlanSpec = { id: 'plan1', name: 'basic', apiStages: [{ apiId: 'api1', stage: 'v1' }], tags: {} };
const admitted: string[] = [];
const gate: KeyGate = {
  resolve: (value) =>
    value === 'key-basic'
      ? { key: { id: 'kid-basic', value, name: 'basic', enabled: true, createdDate: '', lastUpdatedDate: '', tags: {} }, plan }
      : undefined,
  admit: (keyId) => {
    admitted.push(keyId);
    return { ok: true };
  },
};
const verifier: TokenVerifier = { verify: () => Promise.reject(new Error('no cognito here')) };

const spec = (over: Partial<LambdaAuthorizerSpec> = {}): LambdaAuthorizerSpec => ({
  name: 'KeyAuthorizer',
  functionName: 'Authz',
  identityHeaders: ['Authorization'],
  identityQueryStrings: [],
  ttlSeconds: 300,
  ...over,
});
const route = (method: string, path: string, authz: LambdaAuthorizerSpec, apiKeyRequired = false): RouteSpec => ({
  method, path, functionName: 'Fn', authorizer: 'lambda', lambdaAuthorizer: authz, apiKeyRequired,
});

async function gateway(routes: RouteSpec[], apiKeySource?: 'HEADER' | 'AUTHORIZER'): Promise<number> {
  const { listener } = createGateway({
    apiId: 'api1', stage: 'v1', routes, invoker, gate, verifier, log: () => undefined, clock: () => now,
    ...(apiKeySource ? { apiKeySource } : {}),
  });
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function send(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; errorType: string | undefined }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, errorType: res.headers.get('x-amzn-errortype') ?? undefined };
}
const authzCalls = (): number => calls.filter((c) => c.fn === 'Authz').length;

beforeEach(() => {
  calls.length = 0;
  admitted.length = 0;
});

describe('Lambda REQUEST authorizer', () => {
  let port = 0;
  beforeAll(async () => {
    port = await gateway([
      route('GET', '/items/{id}', spec()),
      route('POST', '/items/{id}', spec()),
      route('GET', '/q', spec({ name: 'QueryAuthorizer', identityHeaders: [], identityQueryStrings: ['token'] })),
      route('GET', '/nocache', spec({ name: 'NoCache', ttlSeconds: 0 })),
    ]);
  });

  it('401 without invoking the function when an identity source is missing or empty', async () => {
    for (const headers of [{}, { Authorization: '' }] as Record<string, string>[]) {
      const res = await send(port, 'GET', '/v1/items/1', headers);
      expect([res.status, res.body, res.errorType]).toEqual([401, { message: 'Unauthorized' }, 'UnauthorizedException']);
    }
    expect((await send(port, 'GET', '/v1/q')).status).toBe(401);
    expect(authzCalls()).toBe(0);
  });

  it('sends the REQUEST input and passes principalId and context to the integration', async () => {
    const res = await send(port, 'GET', '/v1/items/42?x=1&x=2', { Authorization: 'allow:event' });
    expect(res.status).toBe(200);
    const input = calls.find((c) => c.fn === 'Authz')?.event as Record<string, unknown>;
    expect(input).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:000000000000:api1/v1/GET/items/42',
      resource: '/items/{id}',
      path: '/items/42',
      httpMethod: 'GET',
      queryStringParameters: { x: '2' },
      multiValueQueryStringParameters: { x: ['1', '2'] },
      pathParameters: { id: '42' },
      requestContext: { stage: 'v1', apiId: 'api1', resourcePath: '/items/{id}', httpMethod: 'GET' },
    });
    expect((input.headers as Record<string, string>).Authorization).toBe('allow:event');
    const authorizer = (res.body.requestContext as { authorizer: Record<string, unknown> }).authorizer;
    expect(authorizer).toMatchObject({ principalId: 'user-event', customerId: 'event', verified: true });
    expect(typeof authorizer.calls).toBe('number');
    expect(typeof authorizer.integrationLatency).toBe('number');
  });

  it('caches the result per identity source for ReauthorizeEvery seconds, then invokes again', async () => {
    const token = { Authorization: `allow:${randomUUID()}` };
    expect((await send(port, 'GET', '/v1/items/1', token)).status).toBe(200);
    expect((await send(port, 'GET', '/v1/items/2', token)).status).toBe(200);
    expect((await send(port, 'POST', '/v1/items/2', token)).status).toBe(200);
    expect(authzCalls()).toBe(1);
    expect((await send(port, 'GET', '/v1/items/1', { Authorization: 'allow:other' })).status).toBe(200);
    expect(authzCalls()).toBe(2);
    now += 299_000;
    await send(port, 'GET', '/v1/items/1', token);
    expect(authzCalls()).toBe(2);
    now += 2_000;
    await send(port, 'GET', '/v1/items/1', token);
    expect(authzCalls()).toBe(3);
  });

  it('ReauthorizeEvery 0 invokes on every request', async () => {
    await send(port, 'GET', '/v1/nocache', { Authorization: 'allow:n' });
    await send(port, 'GET', '/v1/nocache', { Authorization: 'allow:n' });
    expect(authzCalls()).toBe(2);
  });

  it('query string identity sources key the cache too', async () => {
    expect((await send(port, 'GET', '/v1/q?token=abc', { Authorization: 'allow:q' })).status).toBe(200);
    expect((await send(port, 'GET', '/v1/q?token=abc', { Authorization: 'deny' })).status).toBe(200); // cached: same token
    expect(authzCalls()).toBe(1);
  });

  it('evaluates the cached policy against each methodArn: a GET-only Allow denies POST with 403', async () => {
    const token = { Authorization: `get-only:${randomUUID()}` };
    expect((await send(port, 'GET', '/v1/items/1', token)).status).toBe(200);
    const res = await send(port, 'POST', '/v1/items/1', token);
    expect([res.status, res.body, res.errorType]).toEqual([403, { message: 'User is not authorized to access this resource' }, 'AccessDeniedException']);
    expect(authzCalls()).toBe(1);
    expect(calls.filter((c) => c.fn === 'Fn')).toHaveLength(1);
  });

  it('an explicit Deny wins over an Allow: 403', async () => {
    const res = await send(port, 'GET', '/v1/items/1', { Authorization: 'deny' });
    expect([res.status, res.errorType]).toEqual([403, 'AccessDeniedException']);
  });

  it('"Unauthorized" from the function is 401; other failures and invalid outputs are 500 AuthorizerConfigurationException', async () => {
    expect((await send(port, 'GET', '/v1/nocache', { Authorization: 'unauthorized' })).status).toBe(401);
    for (const token of ['boom', 'nested', 'no-policy']) {
      const res = await send(port, 'GET', '/v1/nocache', { Authorization: token });
      expect([token, res.status, res.body, res.errorType]).toEqual([token, 500, { message: null }, 'AuthorizerConfigurationException']);
    }
    expect(calls.filter((c) => c.fn === 'Fn')).toHaveLength(0);
  });
});

describe('ApiKeySourceType AUTHORIZER', () => {
  it('takes the API key from usageIdentifierKey, not x-api-key', async () => {
    const port = await gateway([route('GET', '/data', spec({ ttlSeconds: 0 }), true)], 'AUTHORIZER');
    const good = await send(port, 'GET', '/v1/data', { Authorization: 'allow:k', 'x-usage-key': 'key-basic' });
    expect(good.status).toBe(200);
    expect((good.body.requestContext as { identity: Record<string, unknown> }).identity).toMatchObject({ apiKey: 'key-basic', apiKeyId: 'kid-basic' });
    expect(admitted).toEqual(['kid-basic']);
    // The header is not the source: a valid x-api-key without a usageIdentifierKey is refused.
    const noKey = await send(port, 'GET', '/v1/data', { Authorization: 'allow:k', 'x-api-key': 'key-basic' });
    expect([noKey.status, noKey.errorType]).toEqual([403, 'ForbiddenException']);
    const unknown = await send(port, 'GET', '/v1/data', { Authorization: 'allow:k', 'x-usage-key': 'nope' });
    expect(unknown.status).toBe(403);
  });

  it('with HEADER (the default) the usageIdentifierKey is ignored', async () => {
    const port = await gateway([route('GET', '/data', spec({ ttlSeconds: 0 }), true)]);
    expect((await send(port, 'GET', '/v1/data', { Authorization: 'allow:k', 'x-usage-key': 'key-basic' })).status).toBe(403);
    expect((await send(port, 'GET', '/v1/data', { Authorization: 'allow:k', 'x-api-key': 'key-basic' })).status).toBe(200);
  });
});

describe('the template model (local/model.ts) reads SAM Lambda REQUEST authorizers', () => {
  const yaml = (authorizer: string, extra = ''): string => `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Ttl: { Type: Number, Default: 60 }
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      OpenApiVersion: '3.0.1'
      ApiKeySourceType: AUTHORIZER
      Auth:
        ApiKeyRequired: true
        Authorizers:
          KeyAuthorizer:
${authorizer}
${extra}
  AuthzFunction:
    Type: AWS::Serverless::Function
    Properties: { Handler: index.handler, Runtime: nodejs22.x, CodeUri: . }
    Metadata: { BuildMethod: esbuild, BuildProperties: { EntryPoints: [a.ts] } }
  DataFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs22.x
      CodeUri: .
      Events:
        Get:
          Type: Api
          Properties: { RestApiId: !Ref Api, Path: /data, Method: GET, Auth: { Authorizer: KeyAuthorizer } }
    Metadata: { BuildMethod: esbuild, BuildProperties: { EntryPoints: [b.ts] } }
`;
  const build = (text: string) =>
    buildStackModel(parseTemplate(text), { templatePath: '/tmp/t.yaml', stackName: 's', region: 'us-east-1', accountId: '000000000000' });
  const request = `            FunctionArn: !GetAtt AuthzFunction.Arn
            FunctionPayloadType: REQUEST
            Identity: { Headers: [Authorization], QueryStrings: [v], ReauthorizeEvery: !Ref Ttl }`;

  it('route, identity sources, TTL from a parameter, ApiKeySourceType', () => {
    const api = build(yaml(request)).apis[0]!;
    expect(api.apiKeySource).toBe('AUTHORIZER');
    expect(api.authorizerPools).toEqual([]);
    expect(api.routes[0]).toEqual({
      method: 'GET', path: '/data', functionName: 'DataFunction', authorizer: 'lambda', apiKeyRequired: true,
      lambdaAuthorizer: { name: 'KeyAuthorizer', functionName: 'AuthzFunction', identityHeaders: ['Authorization'], identityQueryStrings: ['v'], ttlSeconds: 60 },
    });
  });

  it('ReauthorizeEvery defaults to 300; TOKEN authorizers and a TTL over 3600 are refused', () => {
    const noTtl = request.replace(', QueryStrings: [v], ReauthorizeEvery: !Ref Ttl', '');
    expect(build(yaml(noTtl)).apis[0]!.routes[0]!.lambdaAuthorizer?.ttlSeconds).toBe(300);
    expect(() => build(yaml(request.replace('REQUEST', 'TOKEN')))).toThrow(/REQUEST only/);
    expect(() => build(yaml(request.replace('!Ref Ttl', '3601')))).toThrow(/0\.\.3600/);
  });
});
