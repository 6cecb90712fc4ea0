// Over 400 lines: one fuzzing suite whose generators (methods, paths, headers, bodies) and properties belong together.
/**
 * Fuzzing every route of the offline stack (fast-check): random methods, paths (the template's, with random, encoded,
 * badly encoded and very long segments), query strings, headers and bodies (up to a few MB, binary, deeply nested,
 * wrongly typed, invalid UTF-8, prototype-pollution keys), sent without credentials and with a valid token and key of
 * an onboarded user, so the handlers' own validation is fuzzed and not only the gateway's 401 / 403.
 *
 * Every answer must be a 4xx JSON error or a valid answer — never a 5xx, never a stack trace or a server path — and
 * the stack must still serve afterwards. Reproduce a failure with FUZZ_SEED=<seed> (printed in the failure); FUZZ_RUNS
 * changes the number of runs (default 400, bounded by a 40 s time limit), FUZZ_DEBUG=1 prints a summary of the statuses.
 *
 * Not fuzzed, because Node's HTTP server answers them before the gateway sees the request (a bare 4xx, no body; one
 * test below pins those answers): request heads over 16 KB (431), raw non-ASCII bytes in the request target, methods
 * Node cannot parse (400), `CONNECT` (the socket is closed), `Expect` other than 100-continue (417). API Gateway has
 * its own limits there (8 KB URLs, 10 KB of headers); the heads sent below stay under Node's.
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import fc from 'fast-check';
import { METHODS } from 'node:http';
import { connect } from 'node:net';
import { signIn, startTestStack, type TestStack } from '../../local/harness/stack.ts';
import { answerProblems, closeAgent, decodeSegment, mintToken, onboardedUser, rawRequest, type RawRequest, type RawResponse, type User } from './support.ts';

const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const TIME_LIMIT_MS = 40_000;
const MB = 1024 * 1024;

let t: TestStack;
let user: User;
let other: User;
/**
 * The deterministic tests' customer, whom the fuzzer never uses: a fuzzed `POST /me/plan` leaves `user`'s key in no
 * usage plan for a moment (403, as API Gateway does mid plan change) and a fuzzed rotation replaces its key.
 */
let calm: User;
const stackLog: string[] = [];

beforeAll(async () => {
  // Limits high enough that the handlers, not the usage plan or the stage throttle, answer the fuzzed requests.
  const high = '10000000';
  t = await startTestStack({
    log: (line) => stackLog.push(line),
    parameterOverrides: {
      FreeRateLimit: high,
      FreeBurstLimit: high,
      FreeQuotaLimit: high,
      BasicRateLimit: high,
      BasicBurstLimit: high,
      BasicQuotaLimit: high,
      ProRateLimit: high,
      ProBurstLimit: high,
      ProQuotaLimit: high,
      AuthRateLimit: high,
      AuthBurstLimit: high,
      AccountRateLimit: high,
      AccountBurstLimit: high,
    },
  });
  [user, other, calm] = await Promise.all([onboardedUser(t, 'fuzz'), onboardedUser(t, 'bystander'), onboardedUser(t, 'calm')]);
}, 60_000);

afterAll(async () => {
  closeAgent();
  await t?.close();
});

// ------------------------------------------------------------------------------------------------ arbitraries

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
/**
 * Latin-1 characters 0x80-0xff: node:http writes them as single bytes, i.e. invalid UTF-8 on the wire. Header values
 * only: in the request target Node's parser refuses them (the "HTTP-level garbage" test below).
 */
const highBytes = fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 });
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** One path segment: valid ids, random text (encoded), broken escapes, dot segments, pollution names, very long. */
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) },
  { weight: 1, arbitrary: hex(40).map((h) => `plan-${h}`) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('%', '%z', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%2F', '%2f..%2f', '%2e%2e', '..', '.', '%ff%fe', '%ED%A0%80', '%F4%90%80%80', '%25', '~', '*', '{id}', '%7Bid%7D', '__proto__', 'constructor', 'null', 'undefined', '-1', '0', 'NaN'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 500, max: 4000 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 1300 }).map((n) => '%41'.repeat(n)) },
);

const LITERALS = ['links', 'tags', 'taglinks', 'me', 'plan', 'plan-changes', 'api-key', 'rotate', 'usage', 'billing', 'auth', 'sign-up', 'sign-in', 'refresh', 'health', 'plans', 'v1', 'LINKS'];

const queryName = fc.oneof(
  fc.constantFrom('limit', 'nextToken', 'from', 'to', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'a[b]', 'limit[]', '', '%', '%zz', '%00'),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
);

interface Plan {
  method: string;
  path: string;
  /** Which credentials: none, the user's own, or a broken / borrowed variant. */
  auth: 'none' | 'user' | 'bearer' | 'expired' | 'alg-none' | 'tampered' | 'junk' | 'other-token';
  key: 'none' | 'user' | 'other' | 'junk';
  junk: string;
  contentType?: string;
  headers: [string, string][];
  body?: { kind: string; bytes: () => Buffer };
}

/** Ids and credentials that exist in the stack, so that plausible bodies sometimes name real things. */
interface Known {
  linkId: string;
  userId: string;
  otherUserId: string;
  emails: string[];
  refreshToken: string;
}

/**
 * Per POST route, bodies of the right shape with fuzzed values: they get past the handler's schema, so what is behind
 * it — Cognito for /auth/*, DynamoDB, Step Functions — is fuzzed too, not only the validation.
 */
function routeBodies(ids: () => Known): Record<string, fc.Arbitrary<unknown>> {
  const email = fc.oneof(fc.emailAddress(), fc.constantFrom(0, 1).map((i) => ids().emails[i] as string), fc.emailAddress().map((e) => e.toUpperCase()));
  const password = fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.constant('Correct-Horse-42'), fc.constant('Aa1'.repeat(20)));
  const code = fc.stringMatching(/^[0-9]{6,8}$/);
  const b64 = fc.base64String({ minLength: 4, maxLength: 200 }).filter((v) => v.length > 0);
  const tokenish = fc.oneof(
    b64,
    fc.tuple(b64, b64, b64).map((parts) => parts.join('.').replace(/=/g, '')),
    fc.tuple(b64, b64, b64, b64, b64).map((parts) => parts.join('.').replace(/=/g, '')),
    fc.constant(null).map(() => ids().refreshToken),
    fc.constant(null).map(() => `${ids().refreshToken.slice(0, -8)}AAAAAAAA`),
  );
  const username = fc.oneof(fc.uuid(), fc.constant(null).map(() => ids().userId), fc.constant(null).map(() => ids().otherUserId));
  const uuidish = fc.oneof(fc.uuid(), fc.uuid().map((id) => id.toUpperCase()), fc.constant(null).map(() => ids().linkId));
  return {
    '/auth/sign-up': fc.record({ email, password }),
    '/auth/confirm': fc.record({ email, code }),
    '/auth/sign-in': fc.oneof(fc.record({ email, password }), fc.record({ email, password, newPassword: password })),
    '/auth/refresh': fc.record({ refreshToken: tokenish, username }),
    '/auth/sign-out': fc.record({ refreshToken: tokenish }),
    '/auth/forgot-password': fc.record({ email }),
    '/auth/reset-password': fc.record({ email, code, password }),
    '/links': fc.record(
      { url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.constant('https://[::1]/'), fc.constant('http://a.example:99999/')), title: fc.string({ maxLength: 200 }) },
      { requiredKeys: ['url'] },
    ),
    '/tags': fc.record({ name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }) }),
    '/taglinks': fc.record({ tagId: uuidish, linkId: uuidish }),
    '/me/plan': fc.record({ plan: fc.constantFrom('free', 'basic', 'pro') }),
  };
}

/** Bodies: none, plausible route bodies, wrong types, pollution keys, nesting, binary, invalid UTF-8, huge. */
function bodies(ids: () => Known) {
  const json = (kind: string, value: fc.Arbitrary<unknown>) => value.map((v) => ({ kind, bytes: () => Buffer.from(JSON.stringify(v)) }));
  const text = (kind: string, value: fc.Arbitrary<string>) => value.map((v) => ({ kind, bytes: () => Buffer.from(v) }));
  const plausible = fc.oneof(
    fc.record({ url: fc.oneof(fc.webUrl(), fc.string(), fc.constant('javascript:alert(1)'), fc.constant(`https://x.example/${'a'.repeat(3000)}`)), title: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }) }, { requiredKeys: ['url'] }),
    fc.record({ name: fc.oneof(fc.string({ maxLength: 60 }), fc.constant('\u0000\u0007'), fc.constant('  ')) }),
    fc.record({ tagId: fc.oneof(fc.uuid(), fc.string()), linkId: fc.oneof(fc.uuid(), fc.constant(null).map(() => ids().linkId)) }),
    fc.record({ plan: fc.constantFrom('free', 'basic', 'pro', 'gold', '', 'FREE', '__proto__') }),
    fc.record({ email: fc.oneof(fc.emailAddress(), fc.string()), password: fc.string({ maxLength: 300 }), code: fc.oneof(fc.string(), hex(6)) }, { requiredKeys: [] }),
    fc.record({ refreshToken: fc.string({ maxLength: 100 }), username: fc.oneof(fc.uuid(), fc.string()) }, { requiredKeys: [] }),
  );
  const pollution = fc.constantFrom(
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"url":"https://a.example/","__proto__":{"title":"x"}}',
    '{"plan":"pro","__proto__":{"plan":"gold"}}',
    '{"name":"t","constructor":{"name":"x"}}',
    '{"__proto__":null}',
    '{"tagId":{"__proto__":{}},"linkId":[]}',
  );
  const nested = fc.tuple(fc.integer({ min: 50, max: 200_000 }), fc.constantFrom('[', '{"a":', '{"url":[', '{"plan":{"plan":')).map(([depth, open]) => {
    const close = open === '[' ? ']' : open === '{"a":' ? '}' : open === '{"url":[' ? ']}' : '}}';
    return { kind: `nested ${depth}`, bytes: () => Buffer.from(`${open.repeat(depth)}1${close.repeat(depth)}`) };
  });
  const invalidUtf8 = fc.tuple(fc.constantFrom('{"name":"', '{"url":"https://a.example/', '{"plan":"', '{"email":"'), fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]), fc.boolean()).map(
    ([prefix, bad, closed]) => ({ kind: 'invalid utf-8', bytes: () => Buffer.concat([Buffer.from(prefix), Buffer.from(bad), Buffer.from(closed ? '"}' : '')]) }),
  );
  const huge = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.constantFrom('json-string', 'binary', 'many-keys', 'text')).map(([mb, shape]) => ({
    kind: `huge ${mb} MB ${shape}`,
    bytes: () => {
      const size = mb * MB;
      if (shape === 'binary') return Buffer.alloc(size, 0xfe);
      if (shape === 'text') return Buffer.alloc(size, 'a');
      if (shape === 'json-string') return Buffer.from(`{"url":"https://a.example/${'a'.repeat(size)}"}`);
      const keys: string[] = [];
      for (let i = 0; keys.length * 12 < size; i++) keys.push(`"k${i}":${i}`);
      return Buffer.from(`{${keys.join(',')}}`);
    },
  }));
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: json('plausible', plausible) },
    { weight: 4, arbitrary: json('json', fc.jsonValue({ maxDepth: 4 })) },
    { weight: 2, arbitrary: json('cursor-like', fc.record({ userId: fc.constantFrom('x', '').map((v) => v || ids().otherUserId), sk: fc.string() })) },
    { weight: 3, arbitrary: text('pollution', pollution) },
    { weight: 2, arbitrary: nested },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ kind: 'binary', bytes: () => Buffer.from(bytes) })) },
    { weight: 3, arbitrary: invalidUtf8 },
    { weight: 2, arbitrary: text('text', fc.string({ unit: 'binary', maxLength: 200 })) },
    { weight: 1, arbitrary: huge },
  );
}

function planArbitrary(routes: { method: string; path: string }[], ids: () => Known): fc.Arbitrary<Plan> {
  const templatePath = fc.tuple(fc.constantFrom(...routes), fc.array(segment, { minLength: 3, maxLength: 3 })).map(([route, segs]) => {
    let i = 0;
    return { method: route.method, template: route.path as string | undefined, path: route.path.replace(/\{[^}]+\}/g, () => segs[i++] as string) };
  });
  const randomPath = fc
    .array(fc.oneof(fc.constantFrom(...LITERALS), segment), { minLength: 0, maxLength: 5 })
    .map((segs) => ({ method: 'GET', template: undefined, path: `/${segs.join('/')}` }));
  const shaped = Object.entries(routeBodies(ids));
  const routeBody = fc.record(Object.fromEntries(shaped.map(([path, arb]) => [path, arb.map((v) => JSON.stringify(v))])) as Record<string, fc.Arbitrary<string>>);
  const cursor = fc
    .record({ userId: fc.constantFrom('own', 'other', ''), sk: fc.oneof(fc.constantFrom('LINK#', 'TAG#', 'TAGLINK#', 'LINKTAG#', ''), fc.string().map((s) => `LINK#${s}`)) })
    .map(({ userId, sk }) => {
      const id = userId === 'own' ? ids().userId : userId === 'other' ? ids().otherUserId : '';
      return Buffer.from(JSON.stringify({ userId: id, sk })).toString('base64url');
    });
  const queryValue = fc.oneof(
    fc.constantFrom('1', '0', '-1', '25', '100', '101', '1e2', '0x10', '%201', '+1', 'abc', '2024-01-01', '2024-02-30', '2023-02-29', '9999-12-31', '0000-01-01', '', '%', '%ff', '%00'),
    fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
    cursor,
    fc.integer({ min: 1000, max: 3000 }).map((n) => 'A'.repeat(n)),
  );
  const query = fc.option(
    fc.array(fc.tuple(queryName, queryValue), { maxLength: 5 }).map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    { nil: '' },
  );
  const headerName = fc.oneof(
    fc.constantFrom('Idempotency-Key', 'X-Forwarded-For', 'Accept', 'Origin', 'Content-Encoding', 'X-Amzn-Trace-Id', '__proto__', 'constructor', 'X-API-KEY', 'authorization', 'Cookie', 'Accept-Encoding', 'X-Amz-Date', 'User-Agent', 'Host'),
    fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}$/),
  );
  const headerValue = fc.oneof(printable, highBytes, fc.integer({ min: 500, max: 3000 }).map((n) => 'v'.repeat(n)));
  const junk = fc.oneof(
    printable,
    fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join('.')),
    fc.constantFrom('null', 'undefined', '[]', '{}', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'eyJhbGciOiJSUzI1NiJ9..', 'a.b.c', '...', 'x'.repeat(3000)),
    highBytes,
  );
  return fc
    .record({
      target: fc.oneof({ weight: 8, arbitrary: templatePath }, { weight: 1, arbitrary: randomPath }),
      methodChoice: fc.oneof(
        { weight: 12, arbitrary: fc.constant('route') },
        { weight: 2, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS') },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS.filter((m) => m !== 'CONNECT')) },
      ),
      prefix: fc.oneof({ weight: 12, arbitrary: fc.constant('/v1') }, { weight: 1, arbitrary: fc.constantFrom('', '/v2', '/V1', '//v1', '/%76%31', '/v1/') }),
      trailing: fc.constantFrom('', '', '', '/', '//'),
      query,
      // Mostly the user's own token and key, so that the handlers' validation is what gets fuzzed.
      auth: fc.oneof(
        { weight: 12, arbitrary: fc.constant<Plan['auth']>('user') },
        { weight: 1, arbitrary: fc.constantFrom<Plan['auth']>('none', 'bearer', 'expired', 'alg-none', 'tampered', 'junk', 'other-token') },
      ),
      key: fc.oneof({ weight: 10, arbitrary: fc.constant<Plan['key']>('user') }, { weight: 1, arbitrary: fc.constantFrom<Plan['key']>('none', 'other', 'junk') }),
      junk,
      contentType: fc.option(
        fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', 'image/png', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', 'application/json; charset=latin1', 'APPLICATION/JSON'),
        { nil: undefined },
      ),
      headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
      body: bodies(ids),
      // Half the time, a body of the route's own shape (when it has one).
      shapedBody: fc.option(routeBody, { nil: undefined }),
    })
    // Heads stay under Node's 16 KB (and the URL under API Gateway's 8 KB): past those, Node answers 431 before the gateway.
    .filter(({ target, prefix, query, junk: junkValue, headers }) => {
      const url = prefix.length + target.path.length + query.length + 2;
      return url <= 8192 && url + 2 * junkValue.length + headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0) + 3000 <= 14_000;
    })
    .map(({ target, methodChoice, prefix, trailing, query, auth, key, junk: junkValue, contentType, headers, body: anyBody, shapedBody }) => {
      const shaped = target.template !== undefined ? shapedBody?.[target.template] : undefined;
      const body = shaped !== undefined ? { kind: 'shaped', bytes: () => Buffer.from(shaped) } : anyBody;
      return {
        method: methodChoice === 'route' ? target.method : methodChoice,
        path: `${prefix}${target.path}${trailing}${query}`,
        auth,
        key,
        junk: junkValue,
        ...(contentType !== undefined ? { contentType } : {}),
        headers,
        ...(body !== undefined ? { body } : {}),
      };
    });
}

// ------------------------------------------------------------------------------------------------ requests

const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describePlan(plan: Plan): string {
  return `${plan.method} ${clip(JSON.stringify(plan.path))} auth=${plan.auth} key=${plan.key} junk=${clip(JSON.stringify(plan.junk), 40)} content-type=${String(plan.contentType)} headers=${clip(JSON.stringify(plan.headers), 200)} body=${plan.body ? `${plan.body.kind}: ${clip(JSON.stringify(plan.body.bytes().subarray(0, 120).toString('latin1')), 140)}` : 'none'}`;
}

function tokenFor(plan: Plan): string | undefined {
  const claims = decodeSegment(user.idToken, 1);
  switch (plan.auth) {
    case 'none':
      return undefined;
    case 'user':
      return user.idToken;
    case 'bearer':
      return `Bearer ${user.idToken}`;
    case 'expired': {
      const now = Math.floor(Date.now() / 1000);
      return mintToken({ ...claims, iat: now - 7200, auth_time: now - 7200, exp: now - 3600 });
    }
    case 'alg-none': {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    }
    case 'tampered': {
      const [h, , s] = user.idToken.split('.');
      return `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: other.userId })).toString('base64url')}.${s}`;
    }
    case 'junk':
      return plan.junk;
    case 'other-token':
      return other.idToken;
  }
}

function toRequest(plan: Plan): RawRequest {
  const headers: Record<string, string> = {};
  // defineProperty: a header named __proto__ must be an own property (plain assignment would be dropped).
  for (const [name, value] of plan.headers) Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  const token = tokenFor(plan);
  if (token !== undefined) headers.Authorization = token;
  const key = { none: undefined, user: user.key, other: other.key, junk: plan.junk }[plan.key];
  if (key !== undefined) headers['x-api-key'] = key;
  if (plan.contentType !== undefined) headers['Content-Type'] = plan.contentType;
  return { method: plan.method, path: plan.path, headers, ...(plan.body ? { body: plan.body.bytes() } : {}) };
}

/** A rotation the fuzzer happened to trigger replaces the user's key: keep using the one that works. */
function followRotation(res: RawResponse): void {
  if (res.status !== 200) return;
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { value?: unknown; previousKeyId?: unknown; id?: unknown };
    if (typeof body.value === 'string' && typeof body.previousKeyId === 'string' && body.previousKeyId === user.keyId) {
      user = { ...user, key: body.value, keyId: String(body.id) };
    }
  } catch {
    // not JSON: answerProblems reports it
  }
}

// ------------------------------------------------------------------------------------------------ tests

describe('fuzzing every route', () => {
  it('answers every request with a 4xx JSON error or a valid answer, never a 5xx or a stack trace', async () => {
    const routes = t.stack.model.apis[0]!.routes.map((r) => ({ method: r.method, path: r.path }));
    const ids: Known = { linkId: '', otherUserId: other.userId, userId: user.userId, emails: [user.email, other.email], refreshToken: (await signIn(t, other.email)).refreshToken };
    // A link of the user's, so that plausible ids sometimes exist.
    const created = await rawRequest(t.stack.endpoints.gateway, {
      method: 'POST',
      path: '/v1/links',
      headers: { Authorization: user.idToken, 'x-api-key': user.key, 'Content-Type': 'application/json' },
      body: Buffer.from(JSON.stringify({ url: 'https://example.com/fuzz' })),
    });
    expect(created.status).toBe(201);
    ids.linkId = (JSON.parse(created.body.toString('utf8')) as { id: string }).id;

    const statuses = new Map<number, number>();
    let reachedFunctions = 0;
    let runs = 0;
    const property = fc.asyncProperty(
      planArbitrary(routes, () => ids).map((plan) => Object.assign(plan, { [fc.toStringMethod]: () => describePlan(plan) })),
      async (plan) => {
        runs += 1;
        const req = toRequest(plan);
        let res: RawResponse;
        try {
          res = await rawRequest(t.stack.endpoints.gateway, req, 20_000);
        } catch (error) {
          throw new Error(`no answer (${(error as Error).message}) to ${describePlan(plan)}`);
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.headers['x-amzn-trace-id'] !== undefined) reachedFunctions += 1;
        followRotation(res);
        const problems = answerProblems(req, res);
        if (problems.length > 0) {
          throw new Error(`${problems.join('; ')}\n  request: ${describePlan(plan)}\n  answer: ${res.status} ${clip(res.body.toString('utf8'), 600)}`);
        }
      },
    );
    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: TIME_LIMIT_MS });
    if (details.failed) {
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      const gatewayLines = stackLog.filter((l) => / 5\d\d |aborted|Unhandled error/.test(l)).slice(-5);
      throw new Error(`fuzzing failed (seed ${SEED}, path ${details.counterexamplePath}, run ${details.numRuns}; FUZZ_SEED=${SEED} reproduces):\n${cause}\n${gatewayLines.join('\n')}`);
    }
    // The fuzzer reached the handlers, not only the gateway's 401 / 403.
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS, 100));
    expect(reachedFunctions).toBeGreaterThan(runs / 5);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    if (process.env.FUZZ_DEBUG) console.warn(`seed ${SEED}: ${runs} runs, ${reachedFunctions} reached a function, statuses ${JSON.stringify([...statuses].sort())}`);
  }, 90_000);

  it('answers hand-picked nasty requests (regressions the fuzzer found) without a 5xx', async () => {
    const auth = () => ({ Authorization: calm.idToken, 'x-api-key': calm.key });
    const cases: RawRequest[] = [
      { method: 'GET', path: '/v1/health?__proto__=x', headers: {} },
      { method: 'GET', path: '/v1/links?__proto__=x&__proto__=y', headers: auth() },
      { method: 'GET', path: '/v1/links?constructor=1&hasOwnProperty=2', headers: auth() },
      { method: 'GET', path: '/v1/health', headers: JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string> },
      { method: 'GET', path: '/v1/links', headers: { ...auth(), ...(JSON.parse('{"__proto__":"x"}') as Record<string, string>) } },
      { method: 'GET', path: '/v1/links/%E0%A4%A', headers: auth() },
      { method: 'GET', path: `/v1/links/${'%41'.repeat(1300)}`, headers: auth() },
      { method: 'POST', path: '/v1/links', headers: { ...auth(), 'Content-Type': 'application/json' }, body: Buffer.from('{"__proto__":{"url":"https://a.example/"}}') },
      { method: 'POST', path: '/v1/tags', headers: { ...auth(), 'Content-Type': 'application/json' }, body: Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) },
      { method: 'POST', path: '/v1/tags', headers: { ...auth(), 'Content-Type': 'application/json' }, body: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]) },
      { method: 'POST', path: '/v1/me/plan', headers: { ...auth(), 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(5 * MB, 0xfe) },
      { method: 'POST', path: '/v1/auth/sign-in', headers: { 'Content-Type': 'application/json' }, body: Buffer.from(`{"email":"${'a'.repeat(4 * MB)}@x.example","password":"x"}`) },
      { method: 'GET', path: `/v1/links?nextToken=${Buffer.from(JSON.stringify({ userId: other.userId, sk: 'LINK#x' })).toString('base64url')}`, headers: auth() },
      { method: 'GET', path: '/v1/me/usage?from=2024-02-30&to=2024-03-01', headers: auth() },
      { method: 'DELETE', path: '/v1/me/plan-changes/plan-0000000000000000000000000000000000000000', headers: auth() },
    ];
    const failures: string[] = [];
    for (const req of cases) {
      const res = await rawRequest(t.stack.endpoints.gateway, req);
      const problems = answerProblems(req, res);
      if (problems.length > 0) failures.push(`${req.method} ${clip(req.path, 80)} → ${res.status} ${clip(res.body.toString('utf8'), 200)}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('passes query parameters named __proto__ or constructor to the handler as ordinary names', async () => {
    const headers = { Authorization: calm.idToken, 'x-api-key': calm.key };
    for (const name of ['__proto__', 'constructor']) {
      const res = await rawRequest(t.stack.endpoints.gateway, { method: 'GET', path: `/v1/links?${name}=x&${name}=y`, headers });
      expect({ status: res.status, issues: (JSON.parse(res.body.toString('utf8')) as { details?: unknown }).details }).toEqual({
        status: 400,
        issues: { issues: [{ field: name, message: `Unrecognized key: "${name}"` }] },
      });
    }
  }, 30_000);

  it('leaves HTTP-level garbage to Node\'s parser (a bare 4xx), answers 413 over 10 MB, and keeps serving', async () => {
    const { port } = new URL(t.stack.endpoints.gateway);
    const send = (raw: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(raw));
        let answer = '';
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    const head = (line: string, extra = '') => Buffer.from(`${line}\r\nHost: x\r\n${extra}\r\n`, 'latin1');
    const answers = {
      rawHighBytesInPath: statusOf(await send(head('GET /v1/links/\u00ff\u00fe HTTP/1.1'))),
      unknownMethod: statusOf(await send(head('FROB /v1/health HTTP/1.1'))),
      headOver16KB: statusOf(await send(head(`GET /v1/health?${'a'.repeat(20_000)} HTTP/1.1`))),
      garbage: statusOf(await send(Buffer.from('\u0000\u0001\u0002 nonsense\r\n\r\n', 'latin1'))),
      contentLengthMismatch: statusOf(await send(head('POST /v1/tags HTTP/1.1', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n'))),
    };
    expect(answers).toEqual({ rawHighBytesInPath: 400, unknownMethod: 400, headOver16KB: 431, garbage: 400, contentLengthMismatch: 400 });
    // Over API Gateway's 10 MB: 413 in plain text, as AWS answers it (not a gateway response, so not JSON).
    const tooBig = await rawRequest(t.stack.endpoints.gateway, { method: 'POST', path: '/v1/links', headers: { 'Content-Type': 'application/json' }, body: Buffer.alloc(11 * MB, 0x20) });
    expect({ status: tooBig.status, text: tooBig.body.toString('utf8') }).toEqual({ status: 413, text: 'HTTP content length exceeded 10485760 bytes.' });
    expect((await fetch(`${t.stack.apiUrl}/health`)).status).toBe(200);
  }, 30_000);

  it('still serves afterwards: health, and an authenticated GET /links', async () => {
    const health = await fetch(`${t.stack.apiUrl}/health`);
    expect(health.status).toBe(200);
    // Plan changes the fuzzer started move the key between usage plans (for a moment in none): let them finish.
    const planChange = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!.arn;
    for (let deadline = Date.now() + 20_000; ; ) {
      const running = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: planChange, statusFilter: 'RUNNING' }));
      if ((running.executions ?? []).length === 0) break;
      if (Date.now() > deadline) throw new Error('plan changes still running after 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The fuzzer may have rotated the key (POST /me/api-key/rotate); GET /me/api-key (token only) names the current one.
    const current = await fetch(`${t.stack.apiUrl}/me/api-key?reveal=true`, { headers: { Authorization: user.idToken } });
    expect(current.status).toBe(200);
    const { value } = (await current.json()) as { value: string };
    const headers = { Authorization: user.idToken, 'x-api-key': value };
    // A link made now (the fuzzer may have deleted any earlier one) is listed by GET /links, whose pages hold only links.
    const url = `https://example.com/after-fuzz/${Date.now()}`;
    const created = await fetch(`${t.stack.apiUrl}/links`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify({ url }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const listed: { id: string; url: string }[] = [];
    let nextToken: string | undefined;
    do {
      const page = await fetch(`${t.stack.apiUrl}/links?limit=100${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ''}`, { headers });
      expect(page.status).toBe(200);
      const body = (await page.json()) as { items: { id: string; url: string }[]; nextToken?: string };
      listed.push(...body.items);
      nextToken = body.nextToken;
    } while (nextToken);
    expect(listed.filter((link) => link.id === id)).toEqual([expect.objectContaining({ id, url })]);
    expect(listed.filter((link) => typeof link.id !== 'string' || typeof link.url !== 'string')).toEqual([]);
    // Nothing the gateway answered was a 5xx or an aborted connection.
    expect(stackLog.filter((line) => line.startsWith('[gateway]') && (/ 5\d\d \d/.test(line) || / aborted /.test(line)))).toEqual([]);
  }, 30_000);
});
