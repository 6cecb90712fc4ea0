/**
 * The developer portal offline: builds portal/ with Vite when portal/dist is missing or stale, and serves the built
 * files with a tiny node:http server together with the runtime `/config.json` and, offline only, `/outbox.json`
 * (the messages local Cognito "sent": confirmation and password-reset codes). It lives beside the offline stack, not
 * in portal/, because it never deploys.
 *
 * In AWS the same portal/dist is uploaded to any static host with a config.json made from the stack's Outputs
 * (README, "Developer portal"); nothing here runs there.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { PortalConfig } from '../../portal/src/portal-config.ts';
import { writeOpenApi } from '../../scripts/openapi.ts';

export type { PortalConfig };

/** The deployable portal's sources (portal/: Vite project, src/, dist/). */
export const PORTAL_ROOT = resolve(__dirname, '../../portal');
export const DEFAULT_PORTAL_PORT = 5173;
const STAMP = '.build-stamp';
/**
 * The back end's pure modules the portal imports as `#shared/<name>` (billing's computeStatement, the password policy)
 * are bundled into portal/dist too. The whole folder counts: following the imports would need Vite's module graph, and
 * a change that does not reach the bundle costs one needless build.
 */
const SHARED_ROOT = resolve(__dirname, '../../functions/shared');

/** Files whose content decides whether portal/dist is current. */
function sourceFiles(root: string, sharedRoot: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const name of ['index.html', 'vite.config.mts', 'tsconfig.json']) {
    if (existsSync(join(root, name))) files.push(join(root, name));
  }
  walk(join(root, 'src'));
  walk(join(root, 'public'));
  walk(sharedRoot);
  return files;
}

/**
 * A hash of the portal's sources, the shared modules it imports (`sharedRoot`, functions/shared unless given) and the
 * Vite version that builds them.
 */
export function portalSourceHash(root = PORTAL_ROOT, sharedRoot = SHARED_ROOT): string {
  const hash = createHash('sha256');
  const vite = readFileSync(resolve(require.resolve('vite/package.json')), 'utf8');
  hash.update(`vite ${(JSON.parse(vite) as { version: string }).version}\n`);
  for (const file of sourceFiles(root, sharedRoot)) {
    hash.update(`${relative(root, file)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

/** True when <root>/dist was built from the current sources. */
export function isPortalBuildCurrent(root = PORTAL_ROOT): boolean {
  const stamp = join(root, 'dist', STAMP);
  return existsSync(join(root, 'dist', 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === portalSourceHash(root);
}

function runVite(root: string, outDir: string): Promise<void> {
  const viteBin = join(resolve(require.resolve('vite/package.json'), '..'), 'bin', 'vite.js');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [viteBin, 'build', root, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`vite build of the portal failed (exit ${code}):\n${output.trim()}`))));
  });
}

export interface EnsureBuiltResult {
  built: boolean;
  ms: number;
}

/**
 * Builds the portal into <root>/dist unless it is current (a stamp holds the hash of the sources it was built from).
 * The build goes to a temporary folder that then replaces dist, so a server never sees half a build.
 */
export async function ensurePortalBuilt(opts: { root?: string; force?: boolean; log?: (line: string) => void } = {}): Promise<EnsureBuiltResult> {
  const root = opts.root ?? PORTAL_ROOT;
  const started = Date.now();
  if (!opts.force && isPortalBuildCurrent(root)) return { built: false, ms: Date.now() - started };
  opts.log?.('[portal] building portal/dist with Vite…');
  const hash = portalSourceHash(root);
  const tmp = join(root, `.dist-${process.pid}-${Date.now()}`);
  const dist = join(root, 'dist');
  try {
    await runVite(root, tmp);
    // What `npm run portal:build` adds after Vite: the API reference the portal's Reference page reads.
    writeOpenApi(join(tmp, 'openapi.json'));
    writeFileSync(join(tmp, STAMP), `${hash}\n`);
    rmSync(dist, { recursive: true, force: true });
    try {
      renameSync(tmp, dist);
    } catch (error) {
      // Another process built it at the same moment: theirs is as good as ours.
      if (!existsSync(join(dist, 'index.html'))) throw error;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const ms = Date.now() - started;
  opts.log?.(`[portal] built in ${ms} ms`);
  return { built: true, ms };
}

/** The messages in <dir>/cognito/outbox.jsonl (the local Cognito's), newest first; unreadable lines are skipped. */
export function readOutboxFile(file: string): unknown[] {
  if (!existsSync(file)) return [];
  const messages: unknown[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      messages.push(JSON.parse(line));
    } catch {
      // a line being written right now
    }
  }
  return messages.reverse();
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // The portal calls Cognito and the API on other origins (connect-src); everything else is its own.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src *; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
};

export interface PortalServerOptions {
  /** The built portal (portal/dist). */
  distDir?: string;
  /** Served as /config.json; read per request. */
  config: () => PortalConfig;
  /** Offline only: served as /outbox.json (newest first). Without it, /outbox.json is a 404. */
  outbox?: () => unknown[];
  /** Served as /openapi.json, made per request (the build's copy may predate a schema change); else dist's file. */
  openapi?: () => unknown;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer, head: boolean): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  send(res, status, { 'Content-Type': CONTENT_TYPES['.json']!, 'Cache-Control': 'no-store' }, JSON.stringify(value), head);
}

/** A request listener for node:http serving the built portal, /config.json and (offline) /outbox.json. */
export function createPortalListener(opts: PortalServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const distDir = resolve(opts.distDir ?? join(PORTAL_ROOT, 'dist'));
  return (req, res) => {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      send(res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'Method not allowed\n', head);
      return;
    }
    let pathname: string;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://portal.local');
      pathname = decodeURIComponent(url.pathname);
    } catch {
      send(res, 400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Bad request\n', head);
      return;
    }

    if (pathname === '/config.json') {
      sendJson(res, 200, opts.config(), head);
      return;
    }
    if (pathname === '/openapi.json' && opts.openapi) {
      sendJson(res, 200, opts.openapi(), head);
      return;
    }
    if (pathname === '/outbox.json') {
      if (!opts.outbox) {
        sendJson(res, 404, { message: 'The outbox exists only offline' }, head);
        return;
      }
      const to = url.searchParams.get('to')?.toLowerCase();
      const messages = opts.outbox().filter(
        (m) => !to || (typeof m === 'object' && m !== null && String((m as { destination?: unknown }).destination).toLowerCase() === to),
      );
      sendJson(res, 200, { messages }, head);
      return;
    }

    const file = resolve(distDir, `.${pathname}`);
    const inside = file === distDir || file.startsWith(distDir + sep);
    const hidden = relative(distDir, file)
      .split(sep)
      .some((part) => part.startsWith('.'));
    if (!inside || hidden) {
      send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Not found\n', head);
      return;
    }
    let target = file;
    if (!existsSync(target) || statSync(target).isDirectory()) {
      // The portal routes with the URL's hash; any other extension-less path gets the page itself.
      if (extname(pathname) !== '' && !pathname.endsWith('/')) {
        send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Not found\n', head);
        return;
      }
      target = join(distDir, 'index.html');
    }
    if (!existsSync(target)) {
      send(res, 503, { 'Content-Type': 'text/plain; charset=utf-8' }, 'The portal is not built yet: run `npm run portal:build`.\n', head);
      return;
    }
    const ext = extname(target);
    const immutable = relative(distDir, target).startsWith(`assets${sep}`);
    send(
      res,
      200,
      {
        'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
        'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      },
      readFileSync(target),
      head,
    );
  };
}
