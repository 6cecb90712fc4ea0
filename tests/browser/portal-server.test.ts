/**
 * The portal's static server and build step (local/portal), without a browser: the built files, /config.json, the
 * offline /outbox.json, nothing outside portal/dist, and a build that is skipped while the sources are unchanged.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPortalListener, ensurePortalBuilt, isPortalBuildCurrent, readOutboxFile, type PortalConfig } from '../../local/portal/index.ts';

const config: PortalConfig = {
  region: 'us-east-1',
  userPoolId: 'us-east-1_local',
  userPoolClientId: 'client',
  cognitoEndpoint: 'http://127.0.0.1:9229',
  apiUrl: 'http://127.0.0.1:3000/v1',
  outboxUrl: '/outbox.json',
};

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-portal-'));
  const dist = join(dir, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>portal</title>');
  writeFileSync(join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
  writeFileSync(join(dist, '.build-stamp'), 'abc');
  writeFileSync(join(dir, 'secret.txt'), 'outside dist');
  const outbox = join(dir, 'outbox.jsonl');
  writeFileSync(
    outbox,
    [
      { at: '2026-01-01T00:00:00.000Z', destination: 'a@example.com', code: '111111' },
      { at: '2026-01-01T00:00:01.000Z', destination: 'B@example.com', code: '222222' },
    ]
      .map((m) => JSON.stringify(m))
      .join('\n') + '\n{"partial',
  );
  server = createServer(createPortalListener({ distDir: dist, config: () => config, outbox: () => readOutboxFile(outbox) }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('portal server', () => {
  it('serves the page, with no-cache, and hashed assets as immutable', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<title>portal</title>');

    const asset = await fetch(`${base}/assets/app-1234.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
  });

  it('serves config.json', async () => {
    const response = await fetch(`${base}/config.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual(config);
  });

  it('serves the outbox newest first, filtered by address (case-insensitive), skipping a half-written line', async () => {
    const all = (await (await fetch(`${base}/outbox.json`)).json()) as { messages: { code: string }[] };
    expect(all.messages.map((m) => m.code)).toEqual(['222222', '111111']);
    const one = (await (await fetch(`${base}/outbox.json?to=b@EXAMPLE.com`)).json()) as { messages: { code: string }[] };
    expect(one.messages.map((m) => m.code)).toEqual(['222222']);
  });

  it('has no outbox when none is given (as in AWS)', async () => {
    const bare = createServer(createPortalListener({ distDir: join(dir, 'dist'), config: () => config }));
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(bare.address() as { port: number }).port}/outbox.json`);
      expect(response.status).toBe(404);
    } finally {
      await new Promise<void>((resolve) => bare.close(() => resolve()));
    }
  });

  it('serves nothing outside dist, no dotfiles, and only GET and HEAD', async () => {
    expect((await fetch(`${base}/%2e%2e/secret.txt`)).status).toBe(404);
    expect((await fetch(`${base}/..%2fsecret.txt`)).status).toBe(404);
    expect((await fetch(`${base}/.build-stamp`)).status).toBe(404);
    expect((await fetch(`${base}/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
    const head = await fetch(`${base}/config.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers extension-less paths with the page (the portal routes by hash)', async () => {
    const response = await fetch(`${base}/dashboard`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>portal</title>');
  });
});

describe('portal build', () => {
  it('builds portal/dist with Vite, then skips the build while the sources are unchanged', async () => {
    await ensurePortalBuilt();
    expect(isPortalBuildCurrent()).toBe(true);
    const again = await ensurePortalBuilt();
    expect(again.built).toBe(false);
    expect(again.ms).toBeLessThan(1000);
  }, 60_000);
});
