/**
 * Interleaved load rounds, shared by the request-path sections: autocannon in a child process (bench/load.ts, so the
 * load generator never shares an event loop with what it measures), every target once per round, rounds repeated,
 * so that background load on a shared machine falls on every target alike and their ratios stay fair.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { fmt, table } from './util.ts';

export interface LoadTarget<N extends string = string> {
  name: N;
  url: string;
  headers?: Record<string, string>;
}

export interface RoundFigures<N extends string = string> {
  path: N;
  connections: number;
  /** 2xx responses per second over all rounds. */
  rps: number;
  rpsPerRound: number[];
  /** Mean of the rounds' p50; the worst round's p99 (ms; autocannon records whole milliseconds). */
  p50: number;
  p99: number;
  mean: number;
  requests2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface RoundOptions {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
}

/** The request-path sections' rounds (1a, 1b): per target and connection count, 3 runs of 2 s, each after a 1 s warm-up. */
export const ROUNDS: RoundOptions = { rounds: 3, durationSeconds: 2, warmupSeconds: 1 };
/** The connection counts both request-path sections run at. */
export const CONNECTIONS = [1, 16, 64] as const;

export function runLoad(root: string, options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'load.ts'), JSON.stringify(options)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon child exited with ${code}`));
      try {
        resolve(JSON.parse(out) as autocannon.Result);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** One row per target and connection count: req/s (over all runs and per run), p50, p99, non-2xx, errors. */
export function roundsTable<N extends string>(runs: readonly RoundFigures<N>[], label: Record<N, string>, first = 'path'): string {
  return table(
    [first, 'conns', 'req/s', 'req/s per run', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
    runs.map((x) => [label[x.path], x.connections, fmt(x.rps, 0), x.rpsPerRound.map((v) => fmt(v, 0)).join(' / '), fmt(x.p50), fmt(x.p99), x.non2xx, x.errors + x.timeouts]),
  );
}

function summarize<N extends string>(path: N, connections: number, rounds: autocannon.Result[]): RoundFigures<N> {
  const ok = rounds.reduce((n, x) => n + x['2xx'], 0);
  const seconds = rounds.reduce((n, x) => n + x.duration, 0);
  return {
    path,
    connections,
    rps: ok / seconds,
    rpsPerRound: rounds.map((x) => x['2xx'] / x.duration),
    p50: rounds.reduce((n, x) => n + x.latency.p50, 0) / rounds.length,
    p99: Math.max(...rounds.map((x) => x.latency.p99)),
    mean: rounds.reduce((n, x) => n + x.latency.mean * x['2xx'], 0) / Math.max(1, ok),
    requests2xx: ok,
    non2xx: rounds.reduce((n, x) => n + x.non2xx, 0),
    errors: rounds.reduce((n, x) => n + x.errors, 0),
    timeouts: rounds.reduce((n, x) => n + x.timeouts, 0),
  };
}

/**
 * For each connection count: `rounds` rounds, each running every target once (a warm-up, then the measured run).
 * `around` is called before (true) and after (false) each measured run. Returns one RoundFigures per target and
 * connection count, in that order; `say` gets one line each.
 */
export async function interleavedRounds<N extends string>(
  root: string,
  targets: readonly LoadTarget<N>[],
  connectionCounts: readonly number[],
  opts: RoundOptions,
  say: (line: string) => void,
  around?: (target: N, connections: number, before: boolean) => void,
): Promise<RoundFigures<N>[]> {
  const out: RoundFigures<N>[] = [];
  for (const connections of connectionCounts) {
    const raw = new Map<N, autocannon.Result[]>();
    for (let round = 0; round < opts.rounds; round++) {
      for (const target of targets) {
        around?.(target.name, connections, true);
        const result = await runLoad(root, {
          url: target.url,
          connections,
          duration: opts.durationSeconds,
          warmup: { connections, duration: opts.warmupSeconds },
          ...(target.headers ? { headers: target.headers } : {}),
        });
        around?.(target.name, connections, false);
        raw.set(target.name, [...(raw.get(target.name) ?? []), result]);
      }
    }
    for (const target of targets) {
      const figures = summarize(target.name, connections, raw.get(target.name) ?? []);
      out.push(figures);
      say(
        `  ${target.name.padEnd(14)} c=${String(connections).padStart(2)}: ${fmt(figures.rps, 0)} req/s (rounds ${figures.rpsPerRound.map((x) => fmt(x, 0)).join(', ')}), p50 ${fmt(figures.p50)} ms, p99 ${fmt(figures.p99)} ms${figures.non2xx || figures.errors ? `, ${figures.non2xx} non-2xx, ${figures.errors} errors` : ''}`,
      );
    }
  }
  return out;
}
