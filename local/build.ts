/**
 * Bundles each function the way `sam build` does for `Metadata: BuildMethod: esbuild`: one entry point, the
 * template's BuildProperties (Minify, Target, Sourcemap, External, Format), platform node, and nothing else (the
 * esbuild defaults aws-lambda-builders leaves in place, e.g. legal comments). `npm run build` and the offline stack
 * both use this, so what runs offline is what deploys: tests/integration/sam-build.test.ts compares each bundle with
 * what the real builder makes, byte for byte, where ../shared/tools is present.
 */
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionModel } from './model.ts';

export interface BuiltFunction {
  logicalId: string;
  /** Absolute path of the bundle (`<outDir>/<LogicalId>/<handlerFile>.js`). */
  file: string;
  bytes: number;
}

export async function buildFunction(fn: FunctionModel, rootDir: string, outDir: string): Promise<BuiltFunction> {
  const file = join(outDir, fn.logicalId, `${fn.handlerFile}.${fn.build.format === 'esm' ? 'mjs' : 'js'}`);
  await build({
    absWorkingDir: rootDir,
    entryPoints: fn.build.entryPoints,
    outfile: file,
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
  });
  return { logicalId: fn.logicalId, file, bytes: statSync(file).size };
}

export async function buildFunctions(functions: FunctionModel[], rootDir: string, outDir: string): Promise<BuiltFunction[]> {
  return Promise.all(functions.map((fn) => buildFunction(fn, rootDir, outDir)));
}
