#!/usr/bin/env node
/**
 * Writes functions/package-lock.json from the project's package-lock.json: exactly the packages (same versions, same
 * layout, same integrity) that functions/package.json's dependencies reach in the project's own lock. So `sam build`,
 * which installs functions/ from this lock, bundles the very versions `npm start` and the tests run: the bundles are
 * byte for byte the same (tests/integration/sam-build.test.ts). A fresh `npm install` in functions/ would resolve the
 * transitive dependencies anew (newer @smithy/* and @aws-sdk/* patch releases) and the bundles would drift.
 * Run after changing functions/package.json or the project's lock: `node scripts/functions-lock.cjs`.
 * Resolution follows Node's: a dependency of node_modules/a is node_modules/a/node_modules/<dep>, else one level up.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(join(root, 'functions', 'package.json'), 'utf8'));
const packages = rootLock.packages;

/** The lock path a package at `from` ('' for the root) gets `name` from, or undefined. */
function resolve(from, name) {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const at = base.lastIndexOf('/node_modules/');
    base = at === -1 ? '' : base.slice(0, at);
  }
}

const picked = new Map();
const missing = [];
function visit(from, name, optional) {
  const path = resolve(from, name);
  if (!path) {
    if (!optional) missing.push(`${name} (for ${from || 'functions/package.json'})`);
    return;
  }
  if (picked.has(path)) return;
  const entry = packages[path];
  picked.set(path, entry);
  for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep, false);
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(path, dep, true);
  const meta = entry.peerDependenciesMeta ?? {};
  for (const dep of Object.keys(entry.peerDependencies ?? {})) if (!meta[dep]?.optional) visit(path, dep, false);
}
for (const [name, version] of Object.entries(manifest.dependencies)) {
  const path = resolve('', name);
  if (!path || packages[path].version !== version) {
    console.error(`functions-lock: functions/package.json wants ${name}@${version}; the project's lock has ${path ? packages[path].version : 'none'}`);
    process.exit(1);
  }
  visit('', name, false);
}
if (missing.length) {
  console.error(`functions-lock: not in the project's lock: ${missing.join(', ')}`);
  process.exit(1);
}

const lock = {
  name: manifest.name,
  version: manifest.version,
  lockfileVersion: rootLock.lockfileVersion,
  requires: true,
  packages: {
    '': { name: manifest.name, version: manifest.version, license: manifest.license, dependencies: manifest.dependencies },
    ...Object.fromEntries([...picked].sort(([a], [b]) => a.localeCompare(b)).map(([path, entry]) => [path, { ...entry, dev: undefined, devOptional: undefined, peer: undefined }])),
  },
};
writeFileSync(join(root, 'functions', 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
console.log(`functions/package-lock.json: ${picked.size} packages from the project's lock`);
