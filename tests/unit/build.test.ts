/**
 * What `sam build` needs on a clean machine (issue 10, item 1). `sam build` copies each function's CodeUri, runs
 * `npm install --omit=dev` there and bundles with the esbuild that install brings (aws-lambda-builders'
 * NodejsNpmEsbuildWorkflow; it never looks in the project's node_modules). So the CodeUri is functions/, whose
 * package.json lists esbuild and exactly what the bundles contain — not the project's development tree — pinned to
 * the versions the project's node_modules holds, so the offline stack's bundles are the deployed ones.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { buildStackModel } from '../../local/model.ts';
import { loadTemplate, withFunctionGlobals } from '../../local/template.ts';

const root = join(__dirname, '../..');
const template = loadTemplate(join(root, 'template.yaml'));
const manifest = JSON.parse(readFileSync(join(root, 'functions/package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies?: unknown };
const lock = JSON.parse(readFileSync(join(root, 'functions/package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
};
const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Bare specifiers the bundles import at run time (type-only imports are erased). */
function runtimeImports(): Set<string> {
  const found = new Set<string>();
  for (const file of sources(join(root, 'functions'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) {
      if (m[1] === undefined) found.add(m[2] as string);
    }
    for (const m of text.matchAll(/(?:require|import)\(\s*'([^']+)'\s*\)/g)) found.add(m[1] as string);
  }
  return new Set([...found].filter((s) => !s.startsWith('.') && !s.startsWith('#') && !s.startsWith('node:') && !builtinModules.includes(s)));
}

const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe('the functions CodeUri', () => {
  it('is functions/ for every function, with the entry point inside it', () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const [logicalId, resource] of functions) {
      const props = withFunctionGlobals(template, resource.Properties ?? {});
      expect({ logicalId, codeUri: props.CodeUri }).toEqual({ logicalId, codeUri: 'functions/' });
    }
    for (const fn of buildStackModel(template, { templatePath: join(root, 'template.yaml'), stackName: 'tg', region: 'us-east-1', accountId: '1', parameterOverrides: { AutoConfirmSignUp: 'true' } }).functions) {
      for (const entry of fn.build.entryPoints) expect(entry).toMatch(/^functions\/[^/]+\/[^/]+\.ts$/);
    }
  });

  it('installs esbuild and every package the bundles import, and nothing for development', () => {
    const externals = functions.flatMap(([, r]) => ((r.Metadata?.BuildProperties as { External?: string[] } | undefined)?.External ?? []) as string[]);
    const isExternal = (specifier: string) => externals.some((pattern) => (pattern.endsWith('/*') ? specifier.startsWith(pattern.slice(0, -1)) : specifier === pattern));
    const needed = new Set([...runtimeImports()].filter((s) => !isExternal(s)).map(packageOf));

    expect(manifest.devDependencies).toBeUndefined();
    expect(Object.keys(manifest.dependencies).sort()).toEqual([...needed, 'esbuild'].sort());
  });

  it('pins each dependency to the version in the project node_modules (offline bundles = deployed bundles), locked', () => {
    for (const [name, version] of Object.entries(manifest.dependencies)) {
      const installed = (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
      expect({ name, version }).toEqual({ name, version: installed });
      expect({ name, locked: lock.packages[`node_modules/${name}`]?.version }).toEqual({ name, locked: installed });
    }
    expect(lock.packages['']?.dependencies).toEqual(manifest.dependencies);
  });

  it("locks every transitive package exactly as the project's lock does (node scripts/functions-lock.cjs)", () => {
    const projectLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string }> };
    const drift = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .filter(([path, entry]) => projectLock.packages[path]?.version !== entry.version || projectLock.packages[path]?.integrity !== (entry as { integrity?: string }).integrity)
      .map(([path]) => path);
    expect(drift).toEqual([]);
  });
});
