/**
 * Section 1 — the request path. Authenticated `GET /links` through the offline gateway (Cognito token verify, API key,
 * usage-plan throttle and quota, Lambda proxy integration, the handler's DynamoDB query) at 1, 16 and 64 connections,
 * beside, in the same run:
 *   (a) the same handler behind a second gateway (createGateway on a free port, the same Lambda service and routes)
 *       whose routes have no authorizer and no API key; its invoker puts the same authorizer claims and
 *       identity.apiKeyId into each event, so the handler does exactly the same work (including its own-key check);
 *   (b) a bare node:http server answering a fixed JSON body — the floor of HTTP on this machine.
 * autocannon runs in a child process (bench/load.ts) so it does not share the stack's event loop.
 */
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createCognitoVerifier, createGateway } from '../local/execute-api/index.ts';
import { stringClaims } from '../local/execute-api/event.ts';
import type { AccessLogEntry } from '../local/execute-api/index.ts';
import type { LambdaInvoker } from '../local/types.ts';
import type { TestStack } from '../local/harness/stack.ts';
import type { BenchUser } from './setup.ts';
import { CONNECTIONS, interleavedRounds, ROUNDS, roundsTable, type LoadTarget, type RoundFigures } from './rounds.ts';
import { fmt, fmtTarget, heading, median, percentile, table, verdict } from './util.ts';

const SEEDED_LINKS = 5;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 25;
const TARGET_P99_CONNECTIONS = 16;

export type PathName = 'auth' | 'noauth' | 'bare';

export type LoadFigures = RoundFigures<PathName>;

/** Mean and p99 (ms) of one part of the authenticated path, per request. */
export interface SplitPart {
  part: string;
  mean: number;
  p99: number;
}

/**
 * The authenticated path's time, split, from the gateway's access log entries (bench stack option
 * `gatewayAccessLog`) and the DynamoDB server's time (stack.metrics.dynamodbMs), over its measured runs at
 * SPLIT_CONNECTIONS: gateway (responseLatency − integrationLatency: body, routing, token, key, quota, event, the
 * response), the Lambda hop (integrationLatency − the handler's Duration, of which the wait for a free execution
 * environment is shown apart), the handler without DynamoDB, and DynamoDB (server time ÷ requests; its p99 is not known
 * per request). Also the main thread's utilisation over those runs: gateway, dynalite, cognito-local and the Lambda
 * service's hand-offs all run on it.
 */
export interface PathSplit {
  connections: number;
  requests: number;
  parts: SplitPart[];
  dynamodbCallsPerRequest: number;
  mainThreadUtilisation: number;
}

/** What the bench stack's gateway reports (bench/run.ts passes `record` as `gatewayAccessLog`). */
export const accessLog = {
  recording: false,
  entries: [] as AccessLogEntry[],
  record(entry: AccessLogEntry): void {
    if (accessLog.recording && entry.resourcePath === '/links' && entry.status === 200) accessLog.entries.push(entry);
  },
};

const SPLIT_CONNECTIONS = 16;

export interface RequestPathResult {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  seededLinks: number;
  runs: LoadFigures[];
  ratios: { connections: number; authOverNoAuth: number; noAuthOverBare: number }[];
  /** Median time of one LinksFunction invocation (Lambda service round trip) on the no-auth gateway at 1 connection. */
  linksInvokeMedianMs: number;
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
  split?: PathSplit;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function runRequestPath(t: TestStack, user: BenchUser, root: string, say: (line: string) => void): Promise<RequestPathResult> {
  const { stack } = t;
  const api = stack.model.apis[0];
  if (!api) throw new Error('the template has no REST API');
  const headers = { Authorization: user.idToken, 'x-api-key': user.keyValue };

  // Links to list, so the handler's query returns items.
  for (let i = 0; i < SEEDED_LINKS; i++) {
    const res = await fetch(`${stack.apiUrl}/links`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: `https://example.com/bench/${i}`, title: `bench ${i}` }),
    });
    if (res.status !== 201) throw new Error(`seeding POST /links answered ${res.status}: ${await res.text()}`);
  }

  // The claims the authorizer hands the handler: the same verification as the stack's gateway, done once.
  const issuer = `${stack.endpoints.cognito}/${stack.userPoolId}`;
  const verifier = createCognitoVerifier({ issuer, jwksUrl: `${issuer}/.well-known/jwks.json`, audiences: [stack.userPoolClientId] });
  const claims = stringClaims(await verifier.verify(user.idToken));

  // (a) The same routes and Lambda service without authorizer or key; the invoker supplies what they would have.
  const invokeMs: number[] = [];
  let recordInvokes = false;
  const injecting: LambdaInvoker = {
    has: (name) => stack.lambda.has(name),
    invoke: async (name, event) => {
      const e = event as APIGatewayProxyEvent;
      (e.requestContext as { authorizer?: unknown }).authorizer = { claims };
      e.requestContext.identity.apiKey = user.keyValue;
      e.requestContext.identity.apiKeyId = user.keyId;
      const started = performance.now();
      const result = await stack.lambda.invoke(name, e);
      if (recordInvokes) invokeMs.push(performance.now() - started);
      return result;
    },
  };
  const noAuth = createGateway({
    apiId: api.id,
    stage: api.stage,
    routes: api.routes.map((r) => ({ ...r, authorizer: 'none' as const, apiKeyRequired: false })),
    ...(api.cors ? { cors: api.cors } : {}),
    gatewayResponseHeaders: api.gatewayResponseHeaders,
    methodThrottles: api.methodThrottles,
    invoker: injecting,
    gate: stack.controlPlane.gate,
    verifier: { verify: () => Promise.reject(new Error('this gateway has no authorizer')) },
    log: () => undefined,
  });
  const noAuthServer = createServer(noAuth.listener);
  const noAuthUrl = `http://127.0.0.1:${await listen(noAuthServer)}/${api.stage}/links`;

  // (b) The floor: node:http and nothing else.
  const body = JSON.stringify({ hello: 'world' });
  const bareServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  const bareUrl = `http://127.0.0.1:${await listen(bareServer)}/`;

  const targets: Record<PathName, { url: string; headers?: Record<string, string> }> = {
    auth: { url: `${stack.apiUrl}/links`, headers },
    // The ID token still travels: the data functions verify it themselves (functions/shared/id-token.ts, issue 14),
    // so this path differs from the other by the gateway's part only (KeyAuthorizer, usage plan, quota).
    noauth: { url: noAuthUrl, headers: { Authorization: user.idToken } },
    bare: { url: bareUrl },
  };

  try {
    // Both gateways answer 200 with the same body before anything is measured.
    const [a, b] = await Promise.all([fetch(targets.auth.url, { headers }), fetch(noAuthUrl, { headers: targets.noauth.headers })]);
    const [aBody, bBody] = await Promise.all([a.text(), b.text()]);
    if (a.status !== 200 || b.status !== 200 || aBody !== bBody) {
      throw new Error(`GET /links: auth path ${a.status}, no-auth path ${b.status}${aBody !== bBody ? ' (different bodies)' : ''}`);
    }

    const order: LoadTarget<PathName>[] = (['auth', 'noauth', 'bare'] as const).map((name) => ({ name, ...targets[name] }));
    // The split: access log entries, DynamoDB server time and main-thread utilisation over the auth runs at SPLIT_CONNECTIONS.
    const dynamo = { ms: 0, calls: 0 };
    const dynamoTotals = () => ({
      ms: Object.values(stack.metrics.dynamodbMs).reduce((a, b) => a + b, 0),
      calls: Object.values(stack.metrics.dynamodb).reduce((a, b) => a + b, 0),
    });
    let marks = { ms: 0, calls: 0, elu: performance.eventLoopUtilization() };
    let busy = { active: 0, idle: 0 };
    accessLog.entries.length = 0;
    const runs = await interleavedRounds(root, order, CONNECTIONS, ROUNDS, say, (path, connections, before) => {
      recordInvokes = before && path === 'noauth' && connections === 1;
      if (path !== 'auth' || connections !== SPLIT_CONNECTIONS) return;
      // (the warm-up's requests count too: the same path under the same load)
      accessLog.recording = before;
      if (before) {
        marks = { ...dynamoTotals(), elu: performance.eventLoopUtilization() };
      } else {
        const now = dynamoTotals();
        const elu = performance.eventLoopUtilization(marks.elu);
        dynamo.ms += now.ms - marks.ms;
        dynamo.calls += now.calls - marks.calls;
        busy = { active: busy.active + elu.active, idle: busy.idle + elu.idle };
      }
    });
    const split = splitOf(accessLog.entries, dynamo, busy.active / Math.max(1, busy.active + busy.idle));
    accessLog.entries.length = 0;

    const find = (path: PathName, c: number) => runs.find((r) => r.path === path && r.connections === c) as LoadFigures;
    const ratios = CONNECTIONS.map((c) => ({
      connections: c,
      authOverNoAuth: find('auth', c).rps / find('noauth', c).rps,
      noAuthOverBare: find('noauth', c).rps / find('bare', c).rps,
    }));
    const targetsOut: RequestPathResult['targets'] = ratios.map((r) => ({
      name: `auth+key+quota throughput ratio at ${r.connections} connection${r.connections === 1 ? '' : 's'}`,
      value: r.authOverNoAuth,
      limit: `>= ${TARGET_RATIO}`,
      verdict: verdict(r.authOverNoAuth >= TARGET_RATIO),
    }));
    const p99 = find('auth', TARGET_P99_CONNECTIONS).p99;
    targetsOut.push({ name: `auth path p99 at ${TARGET_P99_CONNECTIONS} connections (ms)`, value: p99, limit: `<= ${TARGET_P99_MS}`, verdict: verdict(p99 <= TARGET_P99_MS) });
    return {
      rounds: ROUNDS.rounds,
      durationSeconds: ROUNDS.durationSeconds,
      warmupSeconds: ROUNDS.warmupSeconds,
      seededLinks: SEEDED_LINKS,
      runs,
      ratios,
      linksInvokeMedianMs: median(invokeMs),
      targets: targetsOut,
      ...(split ? { split } : {}),
    };
  } finally {
    await Promise.all([close(noAuthServer), close(bareServer)]);
  }
}

function splitOf(entries: readonly AccessLogEntry[], dynamo: { ms: number; calls: number }, mainThreadUtilisation: number): PathSplit | undefined {
  const full = entries.filter((e) => e.integrationLatency !== undefined && e.functionDuration !== undefined);
  if (full.length === 0) return undefined;
  const dynamoMean = dynamo.ms / full.length;
  const part = (name: string, values: number[]): SplitPart => ({ part: name, mean: values.reduce((a, b) => a + b, 0) / values.length, p99: percentile(values, 99) });
  return {
    connections: SPLIT_CONNECTIONS,
    requests: full.length,
    parts: [
      part('whole request, as the gateway sees it (responseLatency)', full.map((e) => e.responseLatency)),
      part('gateway: body, route, token, key, quota, event, response', full.map((e) => e.responseLatency - (e.integrationLatency as number))),
      part('Lambda hop: queue + hand-off to the worker and back', full.map((e) => (e.integrationLatency as number) - (e.functionDuration as number))),
      part('  of which: waiting for a free execution environment', full.map((e) => e.functionQueue ?? 0)),
      part('handler (Duration), DynamoDB included', full.map((e) => e.functionDuration as number)),
      { part: '  of which: DynamoDB server time (dynalite), mean only', mean: dynamoMean, p99: Number.NaN },
    ],
    dynamodbCallsPerRequest: dynamo.calls / full.length,
    mainThreadUtilisation,
  };
}

function printSplit(s: PathSplit): string[] {
  return [
    '',
    `Where the authenticated path's time goes at ${s.connections} connections (${s.requests} requests, warm-ups included; ms per request):`,
    table(['part', 'mean', 'p99'], s.parts.map((p) => [p.part, fmt(p.mean, 2), fmt(p.p99, 2)])),
    `DynamoDB requests per GET /links: ${fmt(s.dynamodbCallsPerRequest, 2)}. The stack's main thread (gateway, dynalite, cognito-local, the`,
    `Lambda service's hand-offs) was busy ${fmt(s.mainThreadUtilisation * 100, 0)}% of those runs.`,
  ];
}

const authAt = (r: RequestPathResult, connections: number) => r.runs.find((x) => x.path === 'auth' && x.connections === connections)?.rps ?? Number.NaN;

export function printRequestPath(r: RequestPathResult): string {
  const label: Record<PathName, string> = {
    auth: 'auth path: token + key + throttle/quota + handler',
    noauth: '(a) no-auth gateway, same handler',
    bare: '(b) bare node:http hello',
  };
  const lines = [
    heading('1b. Request path: GET /links'),
    `autocannon in a child process: per path and connection count ${r.rounds} runs of ${r.durationSeconds} s, each after a ${r.warmupSeconds} s warm-up,`,
    `interleaved across the three paths; req/s over all runs, p50 the runs' mean, p99 the worst run's (autocannon records`,
    `whole milliseconds). ${r.seededLinks} links listed per request.`,
    'Path (a) is a second gateway (createGateway, same routes, same Lambda service) with authorizer NONE and no API key;',
    'its invoker puts identity.apiKey/apiKeyId into each event and the same ID token travels, so the handler does the same',
    'work (it verifies the token itself, DataApiAuth IdTokenAndApiKey). The difference (auth vs a) is the gateway\'s part:',
    'the KeyAuthorizer (cached per key for 300 s), the usage plan\'s throttle and quota. Path (b) is node:http answering a',
    'fixed body: the floor of HTTP here.',
    '',
    roundsTable(r.runs, label),
    '',
    'Ratios (throughput): auth / no-auth is what auth + key + quota cost (1.0 = free); no-auth / bare is what the gateway,',
    'the Lambda hop and the handler with its DynamoDB query cost against bare HTTP.',
    table(
      ['connections', 'auth / no-auth', 'no-auth / bare'],
      r.ratios.map((x) => [x.connections, fmt(x.authOverNoAuth, 3), fmt(x.noAuthOverBare, 3)]),
    ),
    '',
    `LinksFunction invocation (Lambda service round trip) at 1 connection: median ${fmt(r.linksInvokeMedianMs, 2)} ms.`,
    `With one request in flight per connection, mean latency = connections / throughput: the p99 target at ${TARGET_P99_CONNECTIONS} connections`,
    `needs well over ${fmt(TARGET_P99_CONNECTIONS / (TARGET_P99_MS / 1000), 0)} req/s; the auth path served ${fmt(authAt(r, TARGET_P99_CONNECTIONS), 0)} (mean latency >= ${fmt((TARGET_P99_CONNECTIONS / authAt(r, TARGET_P99_CONNECTIONS)) * 1000, 1)} ms), queueing on the`,
    `Lambda service's execution environments (4 per function by default).`,
    ...(r.split ? printSplit(r.split) : []),
    '',
    table(['target', 'value', 'limit', 'result'], r.targets.map((x) => [x.name, fmtTarget(x.value), x.limit, x.verdict])),
  ];
  return lines.join('\n');
}
