/**
 * Bundles each function the way `sam build` does for `Metadata: BuildMethod: esbuild`: one entry point, the
 * template's BuildProperties (Minify, Target, Sourcemap, External, Format), platform node, and nothing else (the
 * esbuild defaults aws-lambda-builders leaves in place, e.g. legal comments). `npm run build` and the offline stack
 * both use this, so what runs offline is what deploys: tests/integration/sam-build.test.ts compares each bundle with
 * what the real builder makes, byte for byte, where ../shared/tools is present.
 */
import { build, version as esbuildVersion, type BuildOptions } from 'esbuild';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FunctionModel } from './model.ts';

export interface BuiltFunction {
  logicalId: string;
  /** Absolute path of the bundle (`<outDir>/<LogicalId>/<handlerFile>.js`). */
  file: string;
  bytes: number;
}

/** The bundle's file name (`<handlerFile>.js`, or `.mjs` for Format esm). */
function bundleName(fn: FunctionModel): string {
  return `${fn.handlerFile}.${fn.build.format === 'esm' ? 'mjs' : 'js'}`;
}

/** esbuild's options for one function's bundle written to `outfile`. */
function esbuildOptions(fn: FunctionModel, rootDir: string, outfile: string): BuildOptions {
  return {
    absWorkingDir: rootDir,
    entryPoints: fn.build.entryPoints,
    outfile,
    bundle: true,
    platform: 'node',
    target: fn.build.target,
    format: fn.build.format,
    minify: fn.build.minify,
    sourcemap: fn.build.sourcemap,
    external: fn.build.external,
    logLevel: 'silent',
    // sam build bundles a copy of the CodeUri (functions/), where no tsconfig.json is found; the project's own
    // (strict: a "use strict" prologue) must not make the offline bundle differ from it.
    tsconfigRaw: '{}',
  };
}

export async function buildFunction(fn: FunctionModel, rootDir: string, outDir: string): Promise<BuiltFunction> {
  const file = join(outDir, fn.logicalId, bundleName(fn));
  await build(esbuildOptions(fn, rootDir, file));
  return { logicalId: fn.logicalId, file, bytes: statSync(file).size };
}

export async function buildFunctions(functions: FunctionModel[], rootDir: string, outDir: string): Promise<BuiltFunction[]> {
  return Promise.all(functions.map((fn) => buildFunction(fn, rootDir, outDir)));
}

/** Where the offline stack keeps its bundles between starts (git-ignored with node_modules; a fresh clone has none). */
export const BUNDLE_CACHE_DIR = join('node_modules', '.cache', 'tollgate-bundles');

/** How long a process waits for another's build of the same bundle before building it itself. */
const BUILD_LOCK_STALE_MS = 120_000;

/** A bundle directory no run has written for this long is removed once a newer bundle of the same function lands. */
const STALE_BUNDLE_MS = 60 * 60 * 1000;

interface CacheManifest {
  /** SHA-256 over every input's path and content: the name of the bundle's directory. */
  inputsHash: string;
  /** Every file esbuild read for the bundle (its metafile's inputs, relative to rootDir) → SHA-256 of its content. */
  inputs: Record<string, string>;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
/** What an input without a file (esbuild's virtual modules, `<…>` or `(…):…`) is recorded as. */
const missing = (path: string): string => `missing:${path}`;

/**
 * The functions' bundles for the offline stack: the bytes `buildFunction` makes, built once and reused by every later
 * stack start while what they were built from is unchanged. Own code because no bundler cache keys on esbuild's own
 * list of inputs; without it each stack start (every integration test file makes one or more) re-bundles every
 * function, seconds of CPU each time.
 *
 * Layout: `<rootDir>/<BUNDLE_CACHE_DIR>/<key>/` per function, `key` = SHA-256 of esbuild's options, esbuild's version
 * and package-lock.json (a changed dependency rebuilds everything); in it `inputs.json` (a CacheManifest: every input
 * esbuild read, from its metafile, with the SHA-256 of its content) and one directory per bundle, named by the hash of
 * those inputs. A bundle is reused only when every input listed has the same content now; otherwise the function is
 * built again. A build lands in a fresh directory renamed into place, and a bundle's directory never changes after,
 * so concurrent processes (jest workers) share the cache safely. Returns each bundle's absolute path (inside the
 * cache: source maps stay true to where it was built). Throws esbuild's error when a function does not build.
 */
export async function buildFunctionsCached(functions: FunctionModel[], rootDir: string, cacheDir = join(rootDir, BUNDLE_CACHE_DIR)): Promise<BuiltFunction[]> {
  const contentHashes = new Map<string, Promise<string | undefined>>();
  const hashOf = (relPath: string): Promise<string | undefined> => {
    let hash = contentHashes.get(relPath);
    if (!hash) {
      hash = readFile(join(rootDir, relPath)).then(sha256, () => undefined);
      contentHashes.set(relPath, hash);
    }
    return hash;
  };
  const lockHash = (await hashOf('package-lock.json')) ?? '';

  const one = async (fn: FunctionModel): Promise<BuiltFunction> => {
    const name = bundleName(fn);
    const options = esbuildOptions(fn, rootDir, name);
    const keyDir = join(cacheDir, sha256(JSON.stringify({ options, esbuildVersion, lockHash, rootDir })));
    const manifestFile = join(keyDir, 'inputs.json');
    const cached = async (): Promise<BuiltFunction | undefined> => {
      const manifest = await readFile(manifestFile, 'utf8').then((text) => JSON.parse(text) as CacheManifest, () => undefined);
      if (!manifest) return undefined;
      const file = join(keyDir, manifest.inputsHash, name);
      const current = await Promise.all(Object.entries(manifest.inputs).map(async ([path, hash]) => ((await hashOf(path)) ?? missing(path)) === hash));
      const bytes = current.every(Boolean) ? await stat(file).then((s) => s.size, () => undefined) : undefined;
      return bytes === undefined ? undefined : { logicalId: fn.logicalId, file, bytes };
    };
    const hit = await cached();
    if (hit) return hit;
    // Processes starting together (jest workers on a fresh clone) would all bundle the same function: one does,
    // the others wait for its bundle (a lock older than BUILD_LOCK_STALE_MS is a crashed build's, and ignored).
    await mkdir(keyDir, { recursive: true });
    const lock = join(keyDir, 'building.lock');
    const owner = await writeFile(lock, String(process.pid), { flag: 'wx' }).then(() => true, () => false);
    if (!owner) {
      while (await stat(lock).then((s) => Date.now() - s.mtimeMs < BUILD_LOCK_STALE_MS, () => false)) await new Promise((r) => setTimeout(r, 100));
      const built = await cached();
      if (built) return built;
    }
    try {
      return await buildInto(fn, options, keyDir, manifestFile, name);
    } finally {
      if (owner) await rm(lock, { force: true });
    }
  };
  const buildInto = async (fn: FunctionModel, options: BuildOptions, keyDir: string, manifestFile: string, name: string): Promise<BuiltFunction> => {
    const scratch = join(keyDir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
    const result = await build({ ...options, outfile: join(scratch, name), metafile: true }).catch(async (error: unknown) => {
      await rm(scratch, { recursive: true, force: true });
      throw error;
    });
    const inputs: Record<string, string> = {};
    for (const path of Object.keys(result.metafile.inputs).sort()) {
      const hash = await hashOf(path);
      inputs[path] = hash ?? missing(path);
    }
    const inputsHash = sha256(Object.entries(inputs).map(([path, hash]) => `${path}\0${hash}\n`).join(''));
    const bundleDir = join(keyDir, inputsHash);
    // Another process may have landed the same bundle first: its copy is identical, keep it.
    await rename(scratch, bundleDir).catch(() => rm(scratch, { recursive: true, force: true }));
    const tmpManifest = `${manifestFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmpManifest, JSON.stringify({ inputsHash, inputs } satisfies CacheManifest));
    await rename(tmpManifest, manifestFile);
    removeStaleBundles(keyDir, inputsHash);
    const file = join(bundleDir, name);
    return { logicalId: fn.logicalId, file, bytes: statSync(file).size };
  };
  return Promise.all(functions.map(one));
}

/** Removes a function's older bundle directories no run has written for STALE_BUNDLE_MS (a running stack may still load a recent one). */
function removeStaleBundles(keyDir: string, keep: string): void {
  const now = Date.now();
  for (const entry of readdirSync(keyDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const dir = join(keyDir, entry.name);
    try {
      if (now - statSync(dir).mtimeMs > STALE_BUNDLE_MS) void rm(dir, { recursive: true, force: true }).catch(() => undefined);
    } catch {
      // already removed by another process
    }
  }
}
