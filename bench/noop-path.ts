/**
 * Section 1a — the no-op request path beside its peer. `GET /health` (a public route, a trivial handler: the
 * template's PublicFunction) through the offline gateway and Lambda service, against, in the same interleaved rounds:
 *   - serverless-offline 13.10.1 on serverless 3 (bench/peer.ts), the same bundle and environment, in its default mode
 *     (the handler in a worker thread) and its in-process mode (`--useInProcess`);
 *   - a bare node:http server answering the same body (`{"status":"ok","time":<now>}`, same Content-Type).
 * Prints req/s, p50/p99 and Tollgate's throughput ratio against every peer mode and bare HTTP at 1, 16, 64
 * connections. Targets (issue 17): ≥ 1.0 against every peer mode at every connection count, ≥ 0.35 of bare HTTP at 1.
 */
import { createServer, type Server } from 'node:http';
import type { TestStack } from '../local/harness/stack.ts';
import { ensurePeerInstalled, PEER_VERSIONS, startPeer, type Peer } from './peer.ts';
import { CONNECTIONS, interleavedRounds, ROUNDS, roundsTable, type LoadTarget, type RoundFigures } from './rounds.ts';
import { fmt, fmtTarget, heading, table, verdict } from './util.ts';

const TARGET_PEER_RATIO = 1;
const TARGET_BARE_RATIO = 0.35;
const TARGET_BARE_CONNECTIONS = 1;

export type NoopTarget = 'tollgate' | 'peer-default' | 'peer-inprocess' | 'bare';
const PEERS: readonly NoopTarget[] = ['peer-default', 'peer-inprocess', 'bare'];

export interface NoopPathResult {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  peer: typeof PEER_VERSIONS & { license: string };
  runs: RoundFigures<NoopTarget>[];
  /** Tollgate's throughput over each other target's, per connection count. */
  ratios: { connections: number; over: Record<Exclude<NoopTarget, 'tollgate'>, number> }[];
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** The handler's body shape, without its clock: both must answer `{"status":"ok","time":…}` before anything is measured. */
function sameShape(text: string): boolean {
  const body = JSON.parse(text) as Record<string, unknown>;
  return Object.keys(body).join(',') === 'status,time' && body.status === 'ok' && typeof body.time === 'string';
}

export async function runNoopPath(t: TestStack, root: string, say: (line: string) => void): Promise<NoopPathResult> {
  const fn = t.stack.model.functions.find((f) => f.logicalId === 'PublicFunction');
  if (!fn) throw new Error('the template has no PublicFunction');
  ensurePeerInstalled(root, say);
  say('  starting serverless-offline (default and in-process modes)…');
  const peers: Peer[] = [];
  const bare = createServer((_req, res) => {
    const body = JSON.stringify({ status: 'ok', time: new Date().toISOString() });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    const started = await Promise.allSettled(
      (['default', 'in-process'] as const).map((mode) => startPeer({ root, fn, endpoints: t.stack.endpoints, mode })),
    );
    for (const s of started) if (s.status === 'fulfilled') peers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [peerDefault, peerInProcess] = peers as [Peer, Peer];
    const bareUrl = `http://127.0.0.1:${await listen(bare)}/health`;
    const targets: LoadTarget<NoopTarget>[] = [
      { name: 'tollgate', url: `${t.stack.apiUrl}/health` },
      { name: 'peer-default', url: peerDefault.url },
      { name: 'peer-inprocess', url: peerInProcess.url },
      { name: 'bare', url: bareUrl },
    ];
    for (const target of targets) {
      const res = await fetch(target.url);
      const text = await res.text();
      if (res.status !== 200 || !sameShape(text)) throw new Error(`${target.name} answered ${res.status} ${text}`);
    }

    const runs = await interleavedRounds(root, targets, CONNECTIONS, ROUNDS, say);
    const rps = (name: NoopTarget, c: number) => runs.find((r) => r.path === name && r.connections === c)?.rps ?? Number.NaN;
    const ratios = CONNECTIONS.map((c) => ({
      connections: c,
      over: {
        'peer-default': rps('tollgate', c) / rps('peer-default', c),
        'peer-inprocess': rps('tollgate', c) / rps('peer-inprocess', c),
        bare: rps('tollgate', c) / rps('bare', c),
      },
    }));
    const out: NoopPathResult['targets'] = [];
    for (const r of ratios) {
      for (const peer of ['peer-default', 'peer-inprocess'] as const) {
        out.push({
          name: `no-op GET /health / serverless-offline ${peer === 'peer-default' ? 'default' : 'in-process'} at ${r.connections} conn.`,
          value: r.over[peer],
          limit: `>= ${TARGET_PEER_RATIO}`,
          verdict: verdict(r.over[peer] >= TARGET_PEER_RATIO),
        });
      }
    }
    const bareRatio = ratios.find((r) => r.connections === TARGET_BARE_CONNECTIONS)?.over.bare ?? Number.NaN;
    out.push({ name: `no-op GET /health / bare node:http at ${TARGET_BARE_CONNECTIONS} conn.`, value: bareRatio, limit: `>= ${TARGET_BARE_RATIO}`, verdict: verdict(bareRatio >= TARGET_BARE_RATIO) });
    return {
      rounds: ROUNDS.rounds,
      durationSeconds: ROUNDS.durationSeconds,
      warmupSeconds: ROUNDS.warmupSeconds,
      peer: { ...PEER_VERSIONS, license: 'MIT (serverless-offline and serverless)' },
      runs,
      ratios,
      targets: out,
    };
  } finally {
    await Promise.all([...peers.map((p) => p.close()), new Promise<void>((resolve) => bare.close(() => resolve()))]);
    bare.closeAllConnections();
  }
}

const LABEL: Record<NoopTarget, string> = {
  tollgate: 'Tollgate (gateway + Lambda service)',
  'peer-default': 'serverless-offline default',
  'peer-inprocess': 'serverless-offline in-process',
  bare: 'bare node:http',
};

export function printNoopPath(r: NoopPathResult): string {
  const at = (name: NoopTarget, c: number) => r.runs.find((x) => x.path === name && x.connections === c);
  return [
    heading('1a. No-op path: GET /health beside serverless-offline'),
    `The template's PublicFunction bundle answering GET /health ({"status":"ok","time":…}) through Tollgate's gateway and`,
    `Lambda service; the same bundle and environment under serverless-offline ${r.peer.serverlessOffline} on serverless ${r.peer.serverless}`,
    `(${r.peer.license}; pinned in bench/peer) in its default mode (handler in a worker thread) and with --useInProcess;`,
    'and node:http answering the same body. autocannon in a child process; per target and connection count',
    `${r.rounds} runs of ${r.durationSeconds} s after ${r.warmupSeconds} s warm-ups, interleaved across the four targets.`,
    '',
    table(
      ['connections', ...(['tollgate', ...PEERS] as NoopTarget[]).map((n) => `${n} req/s`)],
      CONNECTIONS.map((c) => [c, ...(['tollgate', ...PEERS] as NoopTarget[]).map((n) => fmt(at(n, c)?.rps ?? Number.NaN, 0))]),
    ),
    '',
    roundsTable(r.runs, LABEL, 'target'),
    '',
    'Tollgate\'s throughput over each (>= 1.0: Tollgate is at least as fast):',
    table(
      ['connections', 'vs sls-offline default', 'vs sls-offline in-process', 'vs bare node:http'],
      r.ratios.map((x) => [x.connections, fmt(x.over['peer-default'], 3), fmt(x.over['peer-inprocess'], 3), fmt(x.over.bare, 3)]),
    ),
    '',
    table(['target', 'value', 'limit', 'result'], r.targets.map((x) => [x.name, fmtTarget(x.value), x.limit, x.verdict])),
  ].join('\n');
}
