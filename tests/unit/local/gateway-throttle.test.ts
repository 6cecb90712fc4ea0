/**
 * The stage's method throttle (template Api MethodSettings): one token bucket per route and method, shared by all
 * callers, checked before the authorizer and the API key, answering 429 {"message":"Too Many Requests"} as AWS does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createGateway, StageThrottle, type MethodThrottleSpec } from '../../../local/execute-api/index.ts';
import { loadStackModel } from '../../../local/model.ts';
import type { KeyGate, LambdaInvoker, RouteSpec, TokenVerifier } from '../../../local/types.ts';

// ------------------------------------------------------------------ the bucket

describe('StageThrottle', () => {
  const signIn: MethodThrottleSpec = { path: '/auth/sign-in', method: 'POST', rateLimit: 1, burstLimit: 2 };

  it('admits a full burst, then refills at the rate, never above the burst', () => {
    const throttle = new StageThrottle([signIn]);

    expect([0, 1, 2].map(() => throttle.admit('/auth/sign-in', 'POST', 1_000))).toEqual([true, true, false]);
    expect(throttle.admit('/auth/sign-in', 'POST', 1_500)).toBe(false); // half a token
    expect(throttle.admit('/auth/sign-in', 'POST', 2_000)).toBe(true); // one token after 1 s
    expect(throttle.tokens('/auth/sign-in', 'POST', 60_000)).toBe(2); // capped at the burst
    expect([0, 1, 2].map(() => throttle.admit('/auth/sign-in', 'POST', 60_000))).toEqual([true, true, false]);
  });

  it('keeps one bucket per route and method', () => {
    const throttle = new StageThrottle([signIn, { ...signIn, path: '/auth/sign-up' }]);

    throttle.admit('/auth/sign-in', 'POST', 0);
    throttle.admit('/auth/sign-in', 'POST', 0);

    expect(throttle.admit('/auth/sign-in', 'POST', 0)).toBe(false);
    expect(throttle.admit('/auth/sign-up', 'POST', 0)).toBe(true);
  });

  it('leaves routes without a matching setting unthrottled', () => {
    const throttle = new StageThrottle([signIn]);

    for (let i = 0; i < 100; i++) expect(throttle.admit('/links', 'GET', 0)).toBe(true);
    for (let i = 0; i < 100; i++) expect(throttle.admit('/auth/sign-in', 'GET', 0)).toBe(true);
    expect(throttle.settingFor('/links', 'GET')).toBeUndefined();
  });

  it('picks the most specific setting: path+method, path+*, *+method, then the stage default', () => {
    const settings: MethodThrottleSpec[] = [
      { path: '*', method: '*', rateLimit: 100, burstLimit: 100 },
      { path: '*', method: 'DELETE', rateLimit: 3, burstLimit: 3 },
      { path: '/links', method: '*', rateLimit: 2, burstLimit: 2 },
      { path: '/links', method: 'post', rateLimit: 1, burstLimit: 1 },
    ];
    const throttle = new StageThrottle(settings);

    expect(throttle.settingFor('/links', 'POST')?.burstLimit).toBe(1);
    expect(throttle.settingFor('/links', 'GET')?.burstLimit).toBe(2);
    expect(throttle.settingFor('/links/{id}', 'DELETE')?.burstLimit).toBe(3);
    expect(throttle.settingFor('/tags', 'GET')?.burstLimit).toBe(100);
  });

  it('gives every method its own bucket under the stage-wide default', () => {
    const throttle = new StageThrottle([{ path: '*', method: '*', rateLimit: 0, burstLimit: 1 }]);

    expect(throttle.admit('/links', 'GET', 0)).toBe(true);
    expect(throttle.admit('/links', 'GET', 0)).toBe(false);
    expect(throttle.admit('/links', 'POST', 0)).toBe(true);
    expect(throttle.admit('/tags', 'GET', 0)).toBe(true);
  });

  it('refuses everything with a burst of 0, and never refills with a rate of 0', () => {
    const closed = new StageThrottle([{ ...signIn, burstLimit: 0 }]);
    const noRefill = new StageThrottle([{ ...signIn, rateLimit: 0, burstLimit: 1 }]);

    expect(closed.admit('/auth/sign-in', 'POST', 0)).toBe(false);
    expect(noRefill.admit('/auth/sign-in', 'POST', 0)).toBe(true);
    expect(noRefill.admit('/auth/sign-in', 'POST', 3_600_000)).toBe(false);
  });
});

describe('the template', () => {
  const model = (overrides?: Record<string, string>) =>
    loadStackModel({
      templatePath: join(__dirname, '../../../template.yaml'),
      stackName: 'tollgate',
      region: 'us-east-1',
      accountId: '000000000000',
      ...(overrides ? { parameterOverrides: overrides } : {}),
    });

  it('throttles every /auth/* route with AuthRateLimit / AuthBurstLimit, every /me* route with AccountRateLimit / AccountBurstLimit, and nothing else', () => {
    const throttles = model({ AuthRateLimit: '1', AuthBurstLimit: '2', AccountRateLimit: '3', AccountBurstLimit: '4' }).apis[0]?.methodThrottles ?? [];
    const authRoutes = ['sign-up', 'confirm', 'sign-in', 'refresh', 'sign-out', 'forgot-password', 'reset-password'];
    const accountRoutes = [
      ['GET', '/me'], ['GET', '/me/api-key'], ['POST', '/me/api-key/rotate'], ['DELETE', '/me/api-key/previous'], ['GET', '/me/usage'], ['GET', '/me/billing'],
      ['POST', '/me/plan'], ['GET', '/me/plan-changes/{executionId}'], ['DELETE', '/me'],
    ] as const;

    expect(throttles).toEqual([
      ...authRoutes.map((r) => ({ path: `/auth/${r}`, method: 'POST', rateLimit: 1, burstLimit: 2 })),
      ...accountRoutes.map(([method, path]) => ({ path, method, rateLimit: 3, burstLimit: 4 })),
    ]);
    const throttle = new StageThrottle(throttles);
    expect(throttle.settingFor('/auth/sign-in', 'POST')).toBeDefined();
    expect(throttle.settingFor('/me/plan-changes/{executionId}', 'GET')).toMatchObject({ rateLimit: 3, burstLimit: 4 });
    expect(throttle.settingFor('/links', 'GET')).toBeUndefined();
    const defaults = model().apis[0]?.methodThrottles ?? [];
    expect(defaults.find((t) => t.path === '/auth/sign-in')).toMatchObject({ rateLimit: 10, burstLimit: 20 });
    expect(defaults.find((t) => t.path === '/me')).toMatchObject({ rateLimit: 100, burstLimit: 200 });
  });

  it('throttles every /me* route of the template at the stage, since none of them is metered by a usage plan', () => {
    const api = model().apis[0];
    const meRoutes = (api?.routes ?? []).filter((r) => r.path === '/me' || r.path.startsWith('/me/'));
    expect(meRoutes.length).toBeGreaterThanOrEqual(7);
    const throttle = new StageThrottle(api?.methodThrottles ?? []);
    for (const route of meRoutes) {
      expect({ route: `${route.method} ${route.path}`, apiKeyRequired: route.apiKeyRequired, throttled: throttle.settingFor(route.path, route.method) !== undefined })
        .toEqual({ route: `${route.method} ${route.path}`, apiKeyRequired: false, throttled: true });
    }
  });

  it('has a route for every throttled path', () => {
    const api = model().apis[0];
    for (const t of api?.methodThrottles ?? []) {
      expect(api?.routes.some((r) => r.path === t.path && r.method === t.method)).toBe(true);
    }
  });
});

// ------------------------------------------------------------------ through the gateway

const servers: http.Server[] = [];

afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

interface Harness {
  url: string;
  invoked: string[];
  gate: { resolve: jest.Mock; admit: jest.Mock };
  verifier: { verify: jest.Mock };
  clock: { now: number };
  lines: string[];
}

const routes: RouteSpec[] = [
  { method: 'POST', path: '/auth/sign-in', functionName: 'AuthFunction', authorizer: 'none', apiKeyRequired: false },
  { method: 'POST', path: '/auth/sign-up', functionName: 'AuthFunction', authorizer: 'none', apiKeyRequired: false },
  { method: 'GET', path: '/health', functionName: 'PublicFunction', authorizer: 'none', apiKeyRequired: false },
  { method: 'GET', path: '/links', functionName: 'LinksFunction', authorizer: 'cognito', apiKeyRequired: true },
];

async function gateway(methodThrottles: MethodThrottleSpec[]): Promise<Harness> {
  const invoked: string[] = [];
  const invoker: LambdaInvoker = {
    has: () => true,
    invoke: async (functionName) => {
      invoked.push(functionName);
      return { payload: { statusCode: 200, body: '{"ok":true}' }, logs: '', requestId: 'r' };
    },
  };
  const gate = { resolve: jest.fn(() => undefined), admit: jest.fn(() => ({ ok: true })) };
  const verifier = { verify: jest.fn(async () => Promise.reject(new Error('bad token'))) };
  const clock = { now: 1_000_000 };
  const lines: string[] = [];
  const { listener } = createGateway({
    apiId: 'api123',
    stage: 'v1',
    routes,
    cors: { allowOrigin: '*', allowHeaders: 'Content-Type', allowMethods: 'GET,POST,OPTIONS' },
    gatewayResponseHeaders: { DEFAULT_4XX: { 'Access-Control-Allow-Origin': '*' } },
    invoker,
    gate: gate as unknown as KeyGate,
    verifier: verifier as unknown as TokenVerifier,
    methodThrottles,
    clock: () => clock.now,
    log: (line) => lines.push(line),
  });
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, invoked, gate, verifier, clock, lines };
}

function send(h: Harness, method: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.url}${path}`, { method, headers: { 'Content-Type': 'application/json', ...headers }, ...(method === 'POST' ? { body: '{}' } : {}) });
}

describe('createGateway with methodThrottles', () => {
  const authThrottles: MethodThrottleSpec[] = [
    { path: '/auth/sign-in', method: 'POST', rateLimit: 1, burstLimit: 2 },
    { path: '/auth/sign-up', method: 'POST', rateLimit: 1, burstLimit: 2 },
  ];

  it('answers 429 Too Many Requests, as AWS does, once the route bucket is empty, without invoking the function', async () => {
    const h = await gateway(authThrottles);

    const first = await send(h, 'POST', '/auth/sign-in');
    const second = await send(h, 'POST', '/auth/sign-in');
    const third = await send(h, 'POST', '/auth/sign-in');

    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect(await third.json()).toEqual({ message: 'Too Many Requests' });
    expect(third.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    expect(third.headers.get('access-control-allow-origin')).toBe('*');
    expect(third.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(h.invoked).toEqual(['AuthFunction', 'AuthFunction']);
    expect(h.lines.at(-1)).toMatch(/^POST \/v1\/auth\/sign-in 429 .*stage throttle on POST \/auth\/sign-in/);
  });

  it('shares one bucket among all callers, keeps other routes apart, and refills with time', async () => {
    const h = await gateway(authThrottles);

    const callers: Record<string, string>[] = [
      { 'User-Agent': 'a', 'X-Forwarded-For': '198.51.100.1' },
      { 'User-Agent': 'b', 'X-Forwarded-For': '198.51.100.2', Authorization: 'token-b' },
      { 'User-Agent': 'c', 'X-Forwarded-For': '198.51.100.3', 'x-api-key': 'key-c' },
    ];
    const statuses = [];
    for (const headers of callers) statuses.push((await send(h, 'POST', '/auth/sign-in', headers)).status);
    expect(statuses).toEqual([200, 200, 429]);

    expect((await send(h, 'POST', '/auth/sign-up')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await send(h, 'GET', '/health')).status).toBe(200);

    h.clock.now += 1_000;
    expect((await send(h, 'POST', '/auth/sign-in')).status).toBe(200);
    expect((await send(h, 'POST', '/auth/sign-in')).status).toBe(429);
  });

  it('admits exactly the burst out of concurrent requests', async () => {
    const h = await gateway(authThrottles);

    const statuses = await Promise.all(Array.from({ length: 8 }, () => send(h, 'POST', '/auth/sign-in').then((r) => r.status)));

    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
  });

  it('is checked before the authorizer and the API key gate', async () => {
    const h = await gateway([{ path: '/links', method: 'GET', rateLimit: 0, burstLimit: 1 }]);

    const first = await send(h, 'GET', '/links', { Authorization: 'not-a-token', 'x-api-key': 'some-key' });
    const second = await send(h, 'GET', '/links', { Authorization: 'not-a-token', 'x-api-key': 'some-key' });
    const noCredentials = await send(h, 'GET', '/links');

    expect(first.status).toBe(401); // the token is refused: the throttle let it through to the authorizer
    expect([second.status, noCredentials.status]).toEqual([429, 429]);
    expect(await noCredentials.json()).toEqual({ message: 'Too Many Requests' });
    expect(h.verifier.verify).toHaveBeenCalledTimes(1);
    expect(h.gate.resolve).not.toHaveBeenCalled();
    expect(h.gate.admit).not.toHaveBeenCalled();
  });

  it('leaves CORS preflights and unknown paths alone', async () => {
    const h = await gateway([{ path: '*', method: '*', rateLimit: 0, burstLimit: 0 }]);

    expect((await fetch(`${h.url}/auth/sign-in`, { method: 'OPTIONS' })).status).toBe(200);
    expect((await send(h, 'GET', '/nowhere')).status).toBe(403);
    expect((await send(h, 'POST', '/auth/sign-in')).status).toBe(429);
  });

  it('throttles nothing without settings', async () => {
    const h = await gateway([]);

    const statuses = await Promise.all(Array.from({ length: 20 }, () => send(h, 'POST', '/auth/sign-in').then((r) => r.status)));

    expect(new Set(statuses)).toEqual(new Set([200]));
  });
});
