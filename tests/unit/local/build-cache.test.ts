/**
 * The offline stack's bundle cache (local/build.ts `buildFunctionsCached`): a bundle is the bytes `buildFunction`
 * makes, reused while every file it was built from is unchanged, and built again as soon as one changes.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { buildFunction, buildFunctionsCached } from '../../../local/build.ts';
import type { FunctionModel } from '../../../local/model.ts';

let root: string;
let cache: string;

function fn(logicalId: string, entry: string): FunctionModel {
  return {
    logicalId,
    name: logicalId,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${logicalId}`,
    handlerFile: 'handler',
    handlerExport: 'handler',
    build: { entryPoints: [entry], minify: true, target: 'es2023', sourcemap: true, external: [], format: 'cjs' },
    environment: {},
    timeoutSeconds: 3,
    memoryMb: 128,
    runtime: 'nodejs22.x',
  };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tollgate-build-cache-'));
  cache = join(root, 'cache');
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}');
  writeFileSync(join(root, 'src', 'greeting.ts'), "export const greeting = (name: string): string => `hello ${name}`;\n");
  writeFileSync(join(root, 'src', 'a.ts'), "import { greeting } from './greeting';\nexport const handler = async () => greeting('a');\n");
  writeFileSync(join(root, 'src', 'b.ts'), "export const handler = async () => 'b';\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('buildFunctionsCached', () => {
  it('makes the same bytes as buildFunction, and reuses the bundle while its inputs are unchanged', async () => {
    const [first] = await buildFunctionsCached([fn('A', 'src/a.ts')], root, cache);
    const fresh = await buildFunction(fn('A', 'src/a.ts'), root, join(root, 'fresh'));
    expect(readFileSync(first!.file, 'utf8')).toBe(readFileSync(fresh.file, 'utf8'));
    expect(first!.file.startsWith(cache)).toBe(true);

    writeFileSync(first!.file, `${readFileSync(first!.file, 'utf8')}// marker: not rebuilt\n`);
    const [again] = await buildFunctionsCached([fn('A', 'src/a.ts')], root, cache);
    expect(again!.file).toBe(first!.file);
    expect(readFileSync(again!.file, 'utf8')).toContain('// marker: not rebuilt');
  });

  it('builds again when any input changes (an imported module too), and for a changed dependency lock', async () => {
    const [first] = await buildFunctionsCached([fn('A', 'src/a.ts')], root, cache);
    writeFileSync(join(root, 'src', 'greeting.ts'), "export const greeting = (name: string): string => `hi ${name}`;\n");
    const [changed] = await buildFunctionsCached([fn('A', 'src/a.ts')], root, cache);
    expect(changed!.file).not.toBe(first!.file);
    expect(readFileSync(changed!.file, 'utf8')).toContain('hi ');
    expect(readFileSync(changed!.file, 'utf8')).not.toContain('hello ');

    writeFileSync(changed!.file, `${readFileSync(changed!.file, 'utf8')}// marker\n`);
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3,"changed":true}');
    const [relocked] = await buildFunctionsCached([fn('A', 'src/a.ts')], root, cache);
    expect(readFileSync(relocked!.file, 'utf8')).not.toContain('// marker');
  });

  it('keeps one bundle per function and build options', async () => {
    const built = await buildFunctionsCached([fn('A', 'src/a.ts'), fn('B', 'src/b.ts'), { ...fn('A2', 'src/a.ts'), build: { ...fn('A2', 'src/a.ts').build, minify: false } }], root, cache);
    expect(built.map((b) => b.logicalId)).toEqual(['A', 'B', 'A2']);
    expect(new Set(built.map((b) => b.file)).size).toBe(3);
    expect(readFileSync(built[1]!.file, 'utf8')).toContain('"b"');
    expect(readFileSync(built[2]!.file, 'utf8')).toContain('hello ');
  });

  it('gives callers asking at the same time (jest workers on a fresh clone) one bundle, and leaves no scratch directory or lock', async () => {
    const results = await Promise.all([1, 2, 3].map(() => buildFunctionsCached([fn('A', 'src/a.ts')], root, cache)));
    expect(new Set(results.map(([a]) => a!.file)).size).toBe(1);
    const keyDir = dirname(dirname(results[0]![0]!.file));
    expect(readdirSync(keyDir).sort()).toEqual([basename(dirname(results[0]![0]!.file)), 'inputs.json'].sort());
  });

  it('throws esbuild\'s error for a function that does not build, and caches nothing for it', async () => {
    writeFileSync(join(root, 'src', 'broken.ts'), "import { missing } from './nowhere';\nexport const handler = missing;\n");
    await expect(buildFunctionsCached([fn('Broken', 'src/broken.ts')], root, cache)).rejects.toThrow(/nowhere/);
    writeFileSync(join(root, 'src', 'nowhere.ts'), "export const missing = 'found-now';\n");
    const [fixed] = await buildFunctionsCached([fn('Broken', 'src/broken.ts')], root, cache);
    expect(readFileSync(fixed!.file, 'utf8')).toContain('found-now');
    expect(readdirSync(dirname(dirname(fixed!.file))).filter((name) => name.startsWith('.build-'))).toEqual([]);
  });
});
