/**
 * The bench's peer: serverless-offline 13.10.1 on serverless 3.40.0 (both MIT: bench/peer/node_modules/*\/LICENSE),
 * the established emulator of API Gateway + Lambda, pinned in bench/peer/ (its own package.json and lockfile) and
 * installed on demand (`npm ci --prefix bench/peer`), never by the project's `npm ci`.
 *
 * startPeer runs one `serverless offline start` child process serving one function, `GET /health`, from a service
 * folder under bench/peer/.run/ (git-ignored; inside bench/peer so serverless finds its plugin): the handler file is
 * the bundle the offline stack runs (`buildFunction`, the same esbuild build as `sam build`), with the same
 * environment. Modes: `default` (serverless-offline's default: the handler in a worker thread) and `in-process`
 * (`--useInProcess`: the handler in serverless-offline's own process, no isolation). The child gets dummy AWS
 * credentials and its own HOME (the service folder), so neither the user's ~/.aws nor ~/.serverlessrc is read or
 * written; telemetry and update notices are off. Its output goes to a file (`offline.log` in the service folder), so
 * its per-request log lines (its default) cost it a file write and the bench's process nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { functionEnvironment, endpointEnvironment } from '../local/endpoints.ts';
import { buildFunction } from '../local/build.ts';
import { lambdaRuntimeVariables } from '../local/lambda/index.ts';
import type { FunctionModel } from '../local/model.ts';
import { freePort } from '../local/ports.ts';
import { LOCAL_CREDENTIALS, type Endpoints } from '../local/types.ts';
import { sleep } from './util.ts';

export const PEER_VERSIONS = { serverlessOffline: '13.10.1', serverless: '3.40.0' } as const;
export type PeerMode = 'default' | 'in-process';

const STAGE = 'dev';
const READY_TIMEOUT_MS = 90_000;

function peerDir(root: string): string {
  return join(root, 'bench', 'peer');
}

/** The installed version of a package under bench/peer, or undefined. */
function installedVersion(root: string, name: string): string | undefined {
  const file = join(peerDir(root), 'node_modules', name, 'package.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
}

/**
 * Installs bench/peer from its lockfile when the pinned versions are not there yet (`npm ci --prefix bench/peer`,
 * about a minute and ~280 MB the first time). Throws when npm fails.
 */
export function ensurePeerInstalled(root: string, say: (line: string) => void): void {
  if (installedVersion(root, 'serverless-offline') === PEER_VERSIONS.serverlessOffline && installedVersion(root, 'serverless') === PEER_VERSIONS.serverless) return;
  say(`  installing the peer (serverless-offline ${PEER_VERSIONS.serverlessOffline}, serverless ${PEER_VERSIONS.serverless}): npm ci --prefix bench/peer …`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--prefix', peerDir(root), '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`npm ci --prefix bench/peer failed (${result.error?.message ?? `exit ${result.status}`})`);
}

export interface Peer {
  mode: PeerMode;
  /** `http://127.0.0.1:<port>/dev/health` */
  url: string;
  close(): Promise<void>;
}

/** The serverless.json of the one-function service: GET /health → handler.handler, with the function's environment. */
function serviceDefinition(environment: Record<string, string>, timeoutSeconds: number) {
  return {
    service: 'tollgate-bench-peer',
    frameworkVersion: '3',
    configValidationMode: 'off',
    provider: { name: 'aws', runtime: 'nodejs20.x', region: 'us-east-1', stage: STAGE, timeout: timeoutSeconds },
    functions: {
      public: { handler: 'handler.handler', environment, events: [{ http: { path: 'health', method: 'get' } }] },
    },
    plugins: ['serverless-offline'],
  };
}

/**
 * Starts serverless-offline in `mode` serving `fn` (the template's PublicFunction) on a free port; resolves once
 * `GET /dev/health` answers 200. Throws (with the tail of its output) when it does not start within 90 s.
 */
export async function startPeer(opts: { root: string; fn: FunctionModel; endpoints: Endpoints; mode: PeerMode }): Promise<Peer> {
  const { root, fn, mode } = opts;
  const dir = join(peerDir(root), '.run', `${mode}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The same bundle the offline stack runs, as handler.js (+ its source map).
  const built = await buildFunction(fn, root, join(dir, 'build'));
  copyFileSync(built.file, join(dir, 'handler.js'));
  if (existsSync(`${built.file}.map`)) copyFileSync(`${built.file}.map`, join(dir, 'handler.js.map'));
  // The environment the offline Lambda service gives the function (template variables, endpoints, runtime variables).
  const environment = functionEnvironment({ ...endpointEnvironment(opts.endpoints), ...lambdaRuntimeVariables(fn) }, fn.environment);
  writeFileSync(join(dir, 'serverless.json'), `${JSON.stringify(serviceDefinition(environment, fn.timeoutSeconds), null, 2)}\n`);

  const [httpPort, lambdaPort, websocketPort] = [await freePort(), await freePort(), await freePort()];
  const logFile = join(dir, 'offline.log');
  const out = openSync(logFile, 'w');
  const cli = join(peerDir(root), 'node_modules', 'serverless', 'bin', 'serverless.js');
  const args = [cli, 'offline', 'start', '--host', '127.0.0.1', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort), '--websocketPort', String(websocketPort)];
  if (mode === 'in-process') args.push('--useInProcess');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_LOAD_CONFIG: '0',
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      SLS_DEPRECATION_DISABLE: '*',
      SLS_INTERACTIVE_SETUP_DISABLE: '1',
      CI: '1',
    },
  });
  closeSync(out);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));

  const url = `http://127.0.0.1:${httpPort}/${STAGE}/health`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const close = async () => {
    if (exited === undefined) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (exited === undefined) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (;;) {
    if (exited !== undefined || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      await close();
      throw new Error(`serverless-offline (${mode}) did not start${exited !== undefined ? ` (exit ${exited})` : ' within 90 s'}:\n${tail}`);
    }
    try {
      const res = await fetch(url);
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return { mode, url, close };
}
