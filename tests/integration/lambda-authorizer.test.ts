/**
 * The offline gateway's Lambda REQUEST authorizer with the authorizer running as a real offline Lambda function
 * (local/lambda: a worker-thread execution environment, the fixture tests/fixtures/lambda/authorizer.js), the
 * integration too: 401 without invoking, the context and principalId in the integration's requestContext, a thrown
 * "Unauthorized", and the cache (the authorizer's own invocation count shows in its context).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createGateway } from '../../local/execute-api/index.ts';
import { createLambdaRuntime, type LambdaRuntime } from '../../local/lambda/index.ts';
import type { RouteSpec } from '../../local/types.ts';
import { fixtureFunction } from '../fixtures/lambda/model.ts';

jest.setTimeout(30_000);

const BUNDLE = path.join(__dirname, '..', 'fixtures', 'lambda', 'authorizer.js');
const FUNCTIONS = [
  fixtureFunction('authz', 'Authz', 'handler', { handlerFile: 'authorizer' }),
  fixtureFunction('authz', 'Echo', 'proxyEcho', { handlerFile: 'authorizer' }),
];
const authorizer = { name: 'KeyAuthorizer', functionName: 'Authz', identityHeaders: ['Authorization'], identityQueryStrings: [], ttlSeconds: 300 };
const routes: RouteSpec[] = [{ method: 'GET', path: '/data/{id}', functionName: 'Echo', authorizer: 'lambda', lambdaAuthorizer: authorizer, apiKeyRequired: false }];

let runtime: LambdaRuntime;
let server: http.Server;
let base = '';

beforeAll(async () => {
  runtime = createLambdaRuntime({ functions: FUNCTIONS, bundles: new Map(FUNCTIONS.map((f) => [f.logicalId, BUNDLE])), baseEnvironment: {}, maxConcurrency: 1 });
  const { listener } = createGateway({
    apiId: 'api1',
    stage: 'v1',
    routes,
    invoker: runtime,
    gate: { resolve: () => undefined, admit: () => ({ ok: true }) },
    verifier: { verify: () => Promise.reject(new Error('unused')) },
    log: () => undefined,
  });
  server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
});

const get = async (p: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}${p}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

it('401 without an identity source; Allow passes principalId and context; the result is cached for the token', async () => {
  expect(await get('/data/1')).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  const first = await get('/data/1', { Authorization: 'allow:stack' });
  expect(first.status).toBe(200);
  const authz = first.body.authorizer as Record<string, unknown>;
  expect(authz).toMatchObject({ principalId: 'user-stack', customerId: 'stack', verified: true });
  // The fixture counts its invocations in `calls`: a cached answer carries the same count.
  const second = await get('/data/2', { Authorization: 'allow:stack' });
  expect((second.body.authorizer as Record<string, unknown>).calls).toBe(authz.calls);
  const other = await get('/data/2', { Authorization: 'allow:other' });
  expect((other.body.authorizer as Record<string, unknown>).calls).toBe(Number(authz.calls) + 1);
});

it('a thrown "Unauthorized" is 401; a thrown other error is 500', async () => {
  expect((await get('/data/1', { Authorization: 'unauthorized' })).status).toBe(401);
  expect(await get('/data/1', { Authorization: 'boom' })).toEqual({ status: 500, body: { message: null } });
});
