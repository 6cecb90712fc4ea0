// Over 400 lines: the execute-api chain's steps over real HTTP, one block per step.
/**
 * The offline API Gateway data plane, over real HTTP on free ports. The Cognito verifier is the real one: tokens
 * are signed with an RSA key generated here and checked against a JWKS served by a tiny local server.
 * (jose cannot be loaded by this jest setup — ESM only — so keys and signatures come from node:crypto.)
 */
import { createHmac, generateKeyPairSync, randomUUID, sign as rsaSign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createCognitoVerifier, createGateway, TokenExpiredError, JwksUnavailableError, type AccessLogEntry } from '../../../local/execute-api/index.ts';
import type {
  Admission,
  ApiKeyRecord,
  InvokeResult,
  KeyGate,
  LambdaInvoker,
  RouteSpec,
  TokenVerifier,
  UsagePlanSpec,
} from '../../../local/types.ts';

// ------------------------------------------------------------------ helpers

const servers: http.Server[] = [];

async function listen(listener: http.RequestListener): Promise<number> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

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

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  json: () => unknown;
}

function request(
  port: number,
  method: string,
  path: string,
  opts: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string; chunks?: Buffer[] } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')),
        });
      });
    });
    req.on('error', reject);
    if (opts.chunks) {
      for (const chunk of opts.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function signRs256(payload: Record<string, unknown>, key: KeyObject, header: Record<string, unknown> = {}): string {
  const h = b64({ alg: 'RS256', typ: 'JWT', kid: 'test-key', ...header });
  const p = b64(payload);
  return `${h}.${p}.${rsaSign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url')}`;
}

// ------------------------------------------------------------------ fixtures

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

let jwksPort = 0;
let jwksHits = 0;
let issuer = '';
let clock = Date.now();
const nowS = (): number => Math.floor(clock / 1000);

function idClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'user-1',
    'cognito:username': 'user-1',
    'cognito:groups': ['admins', 'users'],
    email: 'ada@example.com',
    email_verified: true,
    'custom:apiid': 'key-id-1',
    event_id: randomUUID(),
    jti: randomUUID(),
    iss: issuer,
    aud: 'client-a',
    token_use: 'id',
    auth_time: nowS(),
    iat: nowS(),
    exp: nowS() + 3600,
    ...overrides,
  };
}
const validToken = (overrides: Record<string, unknown> = {}): string => signRs256(idClaims(overrides), privateKey);

const plan: UsagePlanSpec = {
  id: 'plan-free',
  name: 'free',
  throttle: { rateLimit: 5, burstLimit: 10 },
  quota: { limit: 1000, period: 'MONTH' },
  apiStages: [{ apiId: 'api123', stage: 'v1' }],
  tags: {},
};
const goodKey: ApiKeyRecord = {
  id: 'key-id-1',
  value: 'good-key-value-0123456789abcdef',
  name: 'user-1',
  enabled: true,
  createdDate: '2024-01-01T00:00:00.000Z',
  lastUpdatedDate: '2024-01-01T00:00:00.000Z',
  tags: {},
};
let admission: Admission = { ok: true };
const resolveCalls: string[] = [];
const admitCalls: string[] = [];
const gate: KeyGate = {
  resolve(value, apiId, stage) {
    resolveCalls.push(value);
    // Disabled and unknown keys both come back undefined, as the control plane's KeyGate does.
    if (value !== goodKey.value || apiId !== 'api123' || stage !== 'v1') return undefined;
    return { key: goodKey, plan };
  },
  admit(keyId) {
    admitCalls.push(keyId);
    return admission;
  },
};

type Handler = (fn: string, event: APIGatewayProxyEvent) => Promise<InvokeResult> | InvokeResult;
const ok = (payload: unknown): InvokeResult => ({ payload, logs: '', requestId: randomUUID() });
const defaultHandler: Handler = (fn) => ok({ statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ fn }) });
let handler: Handler = defaultHandler;
const invocations: { fn: string; event: APIGatewayProxyEvent }[] = [];
const invoker: LambdaInvoker = {
  has: () => true,
  async invoke(fn, event) {
    invocations.push({ fn, event: event as APIGatewayProxyEvent });
    return handler(fn, event as APIGatewayProxyEvent);
  },
};

const route = (method: string, path: string, functionName: string, secured = true): RouteSpec => ({
  method,
  path,
  functionName,
  authorizer: secured ? 'cognito' : 'none',
  apiKeyRequired: secured,
});
const routes: RouteSpec[] = [
  route('GET', '/health', 'PublicFunction', false),
  route('GET', '/me', 'MeFunction'),
  route('POST', '/links', 'LinksFunction'),
  route('GET', '/links', 'LinksFunction'),
  route('GET', '/links/{id}', 'LinksFunction'),
  route('DELETE', '/links/{id}', 'LinksFunction'),
  route('GET', '/links/special', 'SpecialFunction', false),
  route('GET', '/tags/{id}/links', 'TagsFunction'),
  route('ANY', '/files/{proxy+}', 'FilesFunction', false),
  route('POST', '/echo', 'EchoFunction', false),
];
const CORS_HEADERS = 'Content-Type,Authorization,X-Api-Key,Idempotency-Key';
const errorHeaders = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': CORS_HEADERS };
const logLines: string[] = [];
const accessEntries: AccessLogEntry[] = [];
let port = 0;
let verifier: TokenVerifier;

beforeAll(async () => {
  jwksPort = await listen((req, res) => {
    if (req.url === '/local_pool/.well-known/jwks.json') {
      jwksHits += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  issuer = `http://127.0.0.1:${jwksPort}/local_pool`;
  verifier = createCognitoVerifier({
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    audiences: ['client-a', 'client-b'],
    now: () => clock,
  });
  const { listener } = createGateway({
    apiId: 'api123',
    stage: 'v1',
    routes,
    cors: { allowOrigin: '*', allowHeaders: CORS_HEADERS, allowMethods: 'GET,POST,DELETE,OPTIONS', maxAge: '600' },
    gatewayResponseHeaders: { DEFAULT_4XX: errorHeaders, DEFAULT_5XX: errorHeaders },
    invoker,
    gate,
    verifier,
    log: (line) => logLines.push(line),
    onAccessLog: (entry) => accessEntries.push(entry),
    maxBodyBytes: 64 * 1024,
    integrationTimeoutMs: 300,
  });
  port = await listen(listener);
});

beforeEach(() => {
  clock = Date.now();
  handler = defaultHandler;
  admission = { ok: true };
  invocations.length = 0;
  resolveCalls.length = 0;
  admitCalls.length = 0;
});

const authHeaders = (token = validToken(), key = goodKey.value): http.OutgoingHttpHeaders => ({
  Authorization: token,
  'x-api-key': key,
});

function expectGatewayError(res: Res, status: number, errorType: string, message: string | null): void {
  expect(res.status).toBe(status);
  expect(res.json()).toEqual({ message });
  expect(res.headers['x-amzn-errortype']).toBe(errorType);
  expect(res.headers['content-type']).toBe('application/json');
  expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.headers['x-amz-apigw-id']).toMatch(/^[A-Za-z0-9_-]{15}=$/);
  // DEFAULT_4XX / DEFAULT_5XX gateway response headers (the template's CORS headers)
  expect(res.headers['access-control-allow-origin']).toBe('*');
  expect(res.headers['access-control-allow-headers']).toBe(CORS_HEADERS);
}

// ------------------------------------------------------------------ verifier

describe('createCognitoVerifier', () => {
  it('accepts a valid ID token, fetches the JWKS once and caches verified tokens', async () => {
    const before = jwksHits;
    const token = validToken();
    const claims = await verifier.verify(token);
    expect(claims.sub).toBe('user-1');
    expect(await verifier.verify(token)).toBe(claims); // served from the cache
    await verifier.verify(validToken({ sub: 'user-2' }));
    expect(jwksHits - before).toBeLessThanOrEqual(1);
  });

  it('keeps a verified token at most 60 s and never past its exp', async () => {
    const long = validToken();
    const first = await verifier.verify(long);
    clock += 61_000;
    const again = await verifier.verify(long);
    expect(again).not.toBe(first); // verified again
    expect(again).toEqual(first);

    const short = validToken({ exp: nowS() + 5 });
    await verifier.verify(short);
    clock += 6_000;
    await expect(verifier.verify(short)).rejects.toBeInstanceOf(TokenExpiredError);
  });

  it('rejects an unknown kid, and reports an unreachable JWKS as such', async () => {
    await expect(verifier.verify(signRs256(idClaims(), other.privateKey, { kid: 'nope' }))).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });
    const closed = createCognitoVerifier({
      issuer,
      jwksUrl: 'http://127.0.0.1:1/none/.well-known/jwks.json',
      audiences: ['client-a'],
    });
    await expect(closed.verify(validToken())).rejects.toBeInstanceOf(JwksUnavailableError);
  });

  it('accepts any app client of the pool when no audiences are given', async () => {
    const any = createCognitoVerifier({ issuer, jwksUrl: `${issuer}/.well-known/jwks.json`, audiences: [] });
    await expect(any.verify(validToken({ aud: 'some-other-client' }))).resolves.toMatchObject({ sub: 'user-1' });
  });
});

// ------------------------------------------------------------------ routing

describe('routing', () => {
  it('routes template paths, preferring literal segments over {param}', async () => {
    let res = await request(port, 'GET', '/v1/links', { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ fn: 'LinksFunction' });

    res = await request(port, 'GET', '/v1/links/special');
    expect(res.json()).toEqual({ fn: 'SpecialFunction' });

    res = await request(port, 'GET', '/v1/links/abc', { headers: authHeaders() });
    expect(res.json()).toEqual({ fn: 'LinksFunction' });
    expect(invocations.at(-1)?.event.pathParameters).toEqual({ id: 'abc' });
    expect(invocations.at(-1)?.event.resource).toBe('/links/{id}');

    res = await request(port, 'GET', '/v1/tags/t-1/links', { headers: authHeaders() });
    expect(res.json()).toEqual({ fn: 'TagsFunction' });
    expect(invocations.at(-1)?.event.pathParameters).toEqual({ id: 't-1' });
    expect(invocations.at(-1)?.event.resource).toBe('/tags/{id}/links');
  });

  it('URL-decodes path parameters but keeps event.path as sent', async () => {
    await request(port, 'GET', '/v1/links/a%20b%2Bc+d', { headers: authHeaders() });
    const { event } = invocations.at(-1)!;
    expect(event.pathParameters).toEqual({ id: 'a b+c+d' });
    expect(event.path).toBe('/links/a%20b%2Bc+d');
    expect(event.requestContext.path).toBe('/v1/links/a%20b%2Bc+d');
  });

  it('matches {proxy+} greedily and ANY for every method; ignores a trailing slash', async () => {
    const res = await request(port, 'PATCH', '/v1/files/a/b%20c/d.txt');
    expect(res.json()).toEqual({ fn: 'FilesFunction' });
    expect(invocations.at(-1)?.event.pathParameters).toEqual({ proxy: 'a/b c/d.txt' });
    expect(invocations.at(-1)?.event.resource).toBe('/files/{proxy+}');
    expect((await request(port, 'GET', '/v1/health/')).json()).toEqual({ fn: 'PublicFunction' });
  });

  it.each([
    ['GET', '/v1/nope'],
    ['GET', '/health'],
    ['GET', '/v2/health'],
    ['GET', '/v1health'],
    ['GET', '/v1'],
    ['PUT', '/v1/links'],
    ['POST', '/v1/health'],
    ['GET', '/v1/tags/t-1'],
    ['GET', '/v1/files'],
  ])('%s %s → 403 Missing Authentication Token', async (method, path) => {
    const res = await request(port, method, path, { headers: authHeaders() });
    expectGatewayError(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    expect(invocations).toHaveLength(0);
  });

  it('rejects conflicting route definitions at start-up', () => {
    const conflicting = [route('GET', '/a/{x}', 'F'), route('GET', '/a/{y}/b', 'F')];
    expect(() => createGateway({ apiId: 'a', stage: 'v1', routes: conflicting, invoker, gate, verifier })).toThrow(/Conflicting/);
  });
});

// ------------------------------------------------------------------ CORS

describe('CORS preflight', () => {
  it('answers OPTIONS on an existing resource without token or key', async () => {
    const res = await request(port, 'OPTIONS', '/v1/links/abc', {
      headers: { Origin: 'https://portal.example.com', 'Access-Control-Request-Method': 'DELETE' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET,POST,DELETE,OPTIONS');
    expect(res.headers['access-control-allow-headers']).toBe(CORS_HEADERS);
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(invocations).toHaveLength(0);
    expect(resolveCalls).toHaveLength(0);
  });

  it('answers the preflight ahead of an ANY method', async () => {
    const res = await request(port, 'OPTIONS', '/v1/files/a/b');
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-methods']).toBe('GET,POST,DELETE,OPTIONS');
    expect(invocations).toHaveLength(0);
  });

  it('does not invent resources', async () => {
    expectGatewayError(await request(port, 'OPTIONS', '/v1/nope'), 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    expectGatewayError(await request(port, 'OPTIONS', '/v1/tags/x'), 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  });
});

// ------------------------------------------------------------------ authorizer

describe('Cognito authorizer', () => {
  const hs256 = (): string => {
    const h = b64({ alg: 'HS256', typ: 'JWT', kid: 'test-key' });
    const p = b64(idClaims());
    const secret = publicKey.export({ type: 'spki', format: 'pem' });
    return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
  };
  const tampered = (): string => {
    const [h, , s] = validToken().split('.');
    return `${h}.${b64(idClaims({ sub: 'someone-else' }))}.${s}`;
  };
  const cases: [string, () => string | undefined][] = [
    ['no Authorization header', () => undefined],
    ['an empty Authorization header', () => ''],
    ['a token that is not a JWT', () => 'not-a-jwt'],
    ['a tampered payload', tampered],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(idClaims())}.`],
    ['HS256 signed with the public key', hs256],
    ['a key not in the JWKS', () => signRs256(idClaims(), other.privateKey)],
    ['another pool (same signing key, as cognito-local)', () => validToken({ iss: `http://127.0.0.1:${jwksPort}/local_other` })],
    ['another app client', () => validToken({ aud: 'client-x' })],
    ['an access token', () => validToken({ token_use: 'access', aud: undefined, client_id: 'client-a', scope: 'aws.cognito.signin.user.admin' })],
    ['a token without exp', () => validToken({ exp: undefined })],
    ['a token not yet valid', () => validToken({ nbf: nowS() + 600 })],
  ];

  it.each(cases)('401 Unauthorized for %s (before the API key is looked at)', async (_name, make) => {
    const token = make();
    const headers: http.OutgoingHttpHeaders = token === undefined ? {} : { Authorization: token };
    const res = await request(port, 'GET', '/v1/me', { headers });
    expectGatewayError(res, 401, 'UnauthorizedException', 'Unauthorized');
    expect(resolveCalls).toHaveLength(0);
    expect(invocations).toHaveLength(0);
  });

  it('401 "The incoming token has expired" for an expired ID token', async () => {
    const res = await request(port, 'GET', '/v1/me', { headers: authHeaders(validToken({ exp: nowS() - 1 })) });
    expectGatewayError(res, 401, 'UnauthorizedException', 'The incoming token has expired');
  });

  it('accepts the raw token and "Bearer <token>"', async () => {
    expect((await request(port, 'GET', '/v1/me', { headers: authHeaders() })).status).toBe(200);
    const res = await request(port, 'GET', '/v1/me', { headers: authHeaders(`Bearer ${validToken()}`) });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ fn: 'MeFunction' });
  });

  it("500 AuthorizerConfigurationException when the pool's JWKS cannot be loaded", async () => {
    const broken = createCognitoVerifier({ issuer, jwksUrl: 'http://127.0.0.1:1/x/.well-known/jwks.json', audiences: [] });
    const { listener } = createGateway({
      apiId: 'api123',
      stage: 'v1',
      routes,
      gatewayResponseHeaders: { DEFAULT_5XX: errorHeaders },
      invoker,
      gate,
      verifier: broken,
      log: () => undefined,
    });
    const brokenPort = await listen(listener);
    const res = await request(brokenPort, 'GET', '/v1/me', { headers: authHeaders() });
    expectGatewayError(res, 500, 'AuthorizerConfigurationException', null);
  });
});

// ------------------------------------------------------------------ API key, throttle, quota

describe('API key and usage plan', () => {
  it.each([
    ['no x-api-key header', undefined],
    ['an empty key', ''],
    ['an unknown key', 'unknown-key-value'],
    ['a disabled key (resolve → undefined)', 'disabled-key-value'],
  ])('403 Forbidden for %s', async (_name, key) => {
    const headers: http.OutgoingHttpHeaders = { Authorization: validToken() };
    if (key !== undefined) headers['x-api-key'] = key;
    const res = await request(port, 'GET', '/v1/me', { headers });
    expectGatewayError(res, 403, 'ForbiddenException', 'Forbidden');
    expect(admitCalls).toHaveLength(0);
    expect(invocations).toHaveLength(0);
  });

  it('reads the key header case-insensitively', async () => {
    const res = await request(port, 'GET', '/v1/me', { headers: { Authorization: validToken(), 'X-API-KEY': goodKey.value } });
    expect(res.status).toBe(200);
    expect(admitCalls).toEqual(['key-id-1']);
  });

  it('429 Too Many Requests when throttled, 429 Limit Exceeded when the quota is spent', async () => {
    admission = { ok: false, reason: 'throttled' };
    expectGatewayError(await request(port, 'GET', '/v1/me', { headers: authHeaders() }), 429, 'TooManyRequestsException', 'Too Many Requests');
    admission = { ok: false, reason: 'quota' };
    expectGatewayError(await request(port, 'GET', '/v1/me', { headers: authHeaders() }), 429, 'LimitExceededException', 'Limit Exceeded');
    expect(invocations).toHaveLength(0);
  });

  it('needs neither token nor key on a public route', async () => {
    const res = await request(port, 'GET', '/v1/health');
    expect(res.status).toBe(200);
    const { event } = invocations.at(-1)!;
    expect(event.requestContext.identity.apiKey).toBeNull();
    expect(event.requestContext.identity.apiKeyId).toBeNull();
    expect(event.requestContext.authorizer).toBeUndefined();
    expect(resolveCalls).toHaveLength(0);
  });
});

// ------------------------------------------------------------------ event shape

describe('proxy event', () => {
  it('is shaped like API Gateway REST payload 1.0', async () => {
    const token = validToken();
    const res = await request(port, 'POST', '/v1/links?tag=a&tag=b&q=x+y%21&empty=', {
      headers: { ...authHeaders(token), 'X-Multi': ['1', '2'], 'Content-Type': 'application/json', 'User-Agent': 'jest/1' },
      body: '{"url":"https://example.com"}',
    });
    expect(res.status).toBe(200);
    const { fn, event } = invocations.at(-1)!;
    expect(fn).toBe('LinksFunction');
    expect(event).toMatchObject({
      resource: '/links',
      path: '/links',
      httpMethod: 'POST',
      pathParameters: null,
      stageVariables: null,
      queryStringParameters: { tag: 'b', q: 'x y!', empty: '' },
      multiValueQueryStringParameters: { tag: ['a', 'b'], q: ['x y!'], empty: [''] },
      body: '{"url":"https://example.com"}',
      isBase64Encoded: false,
    });
    expect(event.headers['X-Multi']).toBe('2');
    expect(event.multiValueHeaders['X-Multi']).toEqual(['1', '2']);
    expect(event.headers.Authorization).toBe(token);
    expect(event.headers['User-Agent']).toBe('jest/1');
    expect(event.headers['X-Forwarded-For']).toBe('127.0.0.1');
    expect(event.headers['X-Forwarded-Proto']).toBe('http');
    expect(event.headers['X-Amzn-Trace-Id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(Object.keys(event.headers).map((h) => h.toLowerCase())).not.toContain('content-length');

    const ctx = event.requestContext;
    expect(ctx).toMatchObject({
      accountId: '000000000000',
      apiId: 'api123',
      stage: 'v1',
      path: '/v1/links',
      resourcePath: '/links',
      httpMethod: 'POST',
      protocol: 'HTTP/1.1',
      domainName: `127.0.0.1:${port}`,
    });
    expect(ctx.resourceId).toMatch(/^[a-z0-9]{6}$/);
    expect(ctx.requestId).toBe(res.headers['x-amzn-requestid']);
    expect(ctx.extendedRequestId).toBe(res.headers['x-amz-apigw-id']);
    expect(ctx.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(ctx.requestTimeEpoch - Date.now())).toBeLessThan(10_000);
    expect(ctx.identity).toMatchObject({
      sourceIp: '127.0.0.1',
      userAgent: 'jest/1',
      apiKey: goodKey.value,
      apiKeyId: 'key-id-1',
      accessKey: null,
      cognitoIdentityId: null,
      user: null,
      userArn: null,
    });

    const claims = ctx.authorizer?.claims as Record<string, unknown>;
    expect(Object.values(claims).every((v) => typeof v === 'string')).toBe(true);
    expect(claims).toMatchObject({
      sub: 'user-1',
      email: 'ada@example.com',
      email_verified: 'true',
      'custom:apiid': 'key-id-1',
      'cognito:groups': 'admins,users',
      token_use: 'id',
      aud: 'client-a',
      iss: issuer,
      auth_time: String(nowS()),
    });
    expect(claims.exp).toMatch(/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}$/);
  });

  it('has null query maps and a null body when there are none', async () => {
    await request(port, 'GET', '/v1/health');
    const { event } = invocations.at(-1)!;
    expect(event.queryStringParameters).toBeNull();
    expect(event.multiValueQueryStringParameters).toBeNull();
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes binary bodies and bodies that are not UTF-8', async () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
    await request(port, 'POST', '/v1/echo', { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
    expect(invocations.at(-1)?.event).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });

    await request(port, 'POST', '/v1/echo', { headers: { 'Content-Type': 'text/plain' }, body: bytes });
    expect(invocations.at(-1)?.event).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });

    await request(port, 'POST', '/v1/echo', { headers: { 'Content-Type': 'text/plain' }, body: 'héllo ✓' });
    expect(invocations.at(-1)?.event).toMatchObject({ body: 'héllo ✓', isBase64Encoded: false });
  });
});

// ------------------------------------------------------------------ integration response

describe('integration response', () => {
  it('maps statusCode, headers, multiValueHeaders and a base64 body', async () => {
    handler = () =>
      ok({
        statusCode: 201,
        headers: { 'X-One': '1', 'Set-Cookie': 'a=1', 'X-Many': 'z', Date: 'Mon, 01 Jan 2024 00:00:00 GMT', 'X-Flag': true },
        multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Many': ['x', 'y'] },
        body: Buffer.from([1, 2, 3, 250]).toString('base64'),
        isBase64Encoded: true,
      });
    const res = await request(port, 'POST', '/v1/echo', { body: 'x' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(Buffer.from([1, 2, 3, 250]));
    expect(res.headers['x-one']).toBe('1');
    expect(res.headers['x-flag']).toBe('true');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-many']).toBe('x, y, z');
    expect(res.headers['x-amzn-remapped-date']).toBe('Mon, 01 Jan 2024 00:00:00 GMT');
    expect(res.headers['content-type']).toBe('application/json'); // API Gateway's default
    expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-amz-apigw-id']).toBeDefined();
    expect(res.headers['x-amzn-trace-id']).toMatch(/^Root=1-/);
    expect(res.headers['x-amzn-errortype']).toBeUndefined();
  });

  it('sends no body with a 204, and accepts a numeric-string statusCode', async () => {
    handler = () => ok({ statusCode: '204', headers: { 'Access-Control-Allow-Origin': '*' }, body: '' });
    const res = await request(port, 'DELETE', '/v1/links/abc', { headers: authHeaders() });
    expect(res.status).toBe(204);
    expect(res.body).toHaveLength(0);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('502 Internal server error when the function fails', async () => {
    handler = () => ({ error: { errorType: 'Error', errorMessage: 'boom', trace: [] }, logs: '', requestId: 'r' });
    expectGatewayError(await request(port, 'POST', '/v1/echo'), 502, 'InternalServerErrorException', 'Internal server error');
  });

  it('502 when the invoker rejects', async () => {
    handler = () => Promise.reject(new Error('Function not found'));
    expectGatewayError(await request(port, 'POST', '/v1/echo'), 502, 'InternalServerErrorException', 'Internal server error');
  });

  it.each([
    ['a string', 'hello'],
    ['null', null],
    ['an object body', { statusCode: 200, body: { a: 1 } }],
    ['a non-numeric statusCode', { statusCode: 'abc', body: '' }],
    ['an unknown field', { statusCode: 200, body: '', cookies: ['a=1'] }],
    ['a numeric header value', { statusCode: 200, headers: { 'X-N': 5 }, body: '' }],
    ['a header value with a newline', { statusCode: 200, headers: { 'X-N': 'a\r\nb' }, body: '' }],
  ])('502 for a malformed proxy response: %s', async (_name, payload) => {
    handler = () => ok(payload);
    expectGatewayError(await request(port, 'POST', '/v1/echo'), 502, 'InternalServerErrorException', 'Internal server error');
  });

  it('504 Endpoint request timed out after the integration timeout', async () => {
    handler = () => new Promise((resolve) => setTimeout(() => resolve(ok({ statusCode: 200, body: '' })), 1_000));
    expectGatewayError(await request(port, 'POST', '/v1/echo'), 504, 'InternalServerErrorException', 'Endpoint request timed out');
  });
});

// ------------------------------------------------------------------ robustness

describe('limits and malformed requests', () => {
  it('413 for a body over maxBodyBytes, declared or chunked, and keeps serving', async () => {
    let res = await request(port, 'POST', '/v1/echo', { body: Buffer.alloc(70 * 1024, 97) });
    expect(res.status).toBe(413);
    expect(res.text).toBe('HTTP content length exceeded 65536 bytes.');
    res = await request(port, 'POST', '/v1/echo', { chunks: Array.from({ length: 10 }, () => Buffer.alloc(8 * 1024, 98)) });
    expect(res.status).toBe(413);
    expect(invocations).toHaveLength(0);
    expect((await request(port, 'GET', '/v1/health')).status).toBe(200);
  });

  it('survives bad percent-encoding, opaque invalid JSON and oversized headers', async () => {
    let res = await request(port, 'GET', '/v1/links/%E0%A4%A?a=%ZZ', { headers: authHeaders() });
    expect(res.status).toBe(200);
    expect(invocations.at(-1)?.event.pathParameters).toEqual({ id: '%E0%A4%A' });
    expect(invocations.at(-1)?.event.queryStringParameters).toEqual({ a: '%ZZ' });

    res = await request(port, 'POST', '/v1/echo', { headers: { 'Content-Type': 'application/json' }, body: '{"not json' });
    expect(res.status).toBe(200);
    expect(invocations.at(-1)?.event.body).toBe('{"not json');

    res = await request(port, 'GET', '/v1/health', { headers: { 'X-Big': 'x'.repeat(64 * 1024) } });
    expect(res.status).toBe(431); // refused by node's HTTP parser before the listener

    const garbage = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect((await request(port, 'GET', '/v1/health')).status).toBe(200);
  });

  it('413 Request Too Long when the event would exceed Lambda’s 6 MB payload limit', async () => {
    const { listener } = createGateway({ apiId: 'api123', stage: 'v1', routes, invoker, gate, verifier, log: () => undefined });
    const bigPort = await listen(listener);
    const res = await request(bigPort, 'POST', '/v1/echo', { headers: { 'Content-Type': 'text/plain' }, body: Buffer.alloc(7 * 1024 * 1024, 97) });
    expect(res.status).toBe(413);
    expect(res.json()).toEqual({ message: 'Request Too Long' });
    expect(res.headers['x-amzn-errortype']).toBe('BadRequestException');
  });
});

// ------------------------------------------------------------------ logging

describe('logging', () => {
  it('writes one line per request with method, path, status and duration, never the key or the token', async () => {
    const token = validToken();
    logLines.length = 0;
    await request(port, 'GET', '/v1/me?secret=1', { headers: authHeaders(token) });
    await request(port, 'GET', '/v1/me', { headers: authHeaders(token, 'unknown-key-value') });
    handler = () => ({ error: { errorType: 'TypeError', errorMessage: 'boom' }, logs: '', requestId: 'r' });
    await request(port, 'POST', '/v1/echo');
    expect(logLines).toHaveLength(3);
    expect(logLines[0]).toMatch(/^GET \/v1\/me 200 \d+\.\dms$/);
    expect(logLines[1]).toMatch(/^GET \/v1\/me 403 \d+\.\dms$/);
    expect(logLines[2]).toMatch(/^POST \/v1\/echo 502 \d+\.\dms \(EchoFunction: TypeError: boom\)$/);
    for (const line of logLines) {
      expect(line).not.toContain(goodKey.value);
      expect(line).not.toContain('unknown-key-value');
      expect(line).not.toContain(token.slice(0, 20));
    }
  });

  it("reports each answered request's latencies, the function's Duration and its wait for an environment", async () => {
    accessEntries.length = 0;
    handler = () => ({ ...ok({ statusCode: 200, body: '{}' }), durationMs: 1.5, queueMs: 0.25 });
    await request(port, 'GET', '/v1/health');
    await request(port, 'GET', '/v1/nowhere');
    expect(accessEntries).toHaveLength(2);
    const [served, refused] = accessEntries as [AccessLogEntry, AccessLogEntry];
    expect(served).toMatchObject({ httpMethod: 'GET', resourcePath: '/health', status: 200, functionDuration: 1.5, functionQueue: 0.25 });
    expect(served.integrationLatency).toBeGreaterThanOrEqual(0);
    expect(served.responseLatency).toBeGreaterThanOrEqual(served.integrationLatency as number);
    // Answered by the gateway itself: no integration, no function.
    expect(refused).toMatchObject({ httpMethod: 'GET', resourcePath: '/v1/nowhere', status: 403 });
    expect(refused.integrationLatency).toBeUndefined();
    expect(refused.functionDuration).toBeUndefined();
  });
});
