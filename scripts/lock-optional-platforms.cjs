#!/usr/bin/env node
/**
 * Keeps package-lock.json valid for `npm ci` when some platform-specific optional packages cannot be fetched
 * from the registry this project installs from (it serves only some platforms' binaries, e.g. jest's
 * @unrs/resolver-binding-* for Linux). `npm install` then leaves those optional packages out of the lock, and `npm ci`
 * refuses the lock ("Missing: … from lock file"). This adds an entry for each missing optional dependency, gated by the
 * os/cpu/libc its name declares, so npm skips it on every other platform and never fetches it.
 * Run after `npm install` changes the lock: `node scripts/lock-optional-platforms.cjs`.
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

function platformOf(name) {
  // @scope/<prefix>-<os>-<cpu>[-<abi>] (napi-rs naming)
  const m = /-(android|darwin|freebsd|linux|openharmony|win32|wasm32)-([a-z0-9]+)(?:-([a-z0-9]+))?$/.exec(name);
  if (!m) return undefined;
  const [, os, cpu, abi] = m;
  if (os === 'wasm32') return { cpu: ['wasm32'] };
  const platform = { os: [os], cpu: [cpu] };
  if (os === 'linux' && abi) platform.libc = [abi.startsWith('musl') ? 'musl' : 'glibc'];
  return platform;
}

let added = 0;
for (const [path, pkg] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = path === '' ? '' : `${path}/`;
    if (packages[`${base}node_modules/${dep}`] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.error(`lock-optional-platforms: ${dep} (optional for ${path || 'the project'}) is missing and its platform is unknown`);
      process.exitCode = 1;
      continue;
    }
    packages[`node_modules/${dep}`] = { version: String(range).replace(/^[\^~=]/, ''), ...platform, optional: true };
    added++;
  }
}
if (added > 0) {
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`lock-optional-platforms: ${added} platform-specific optional package(s) added to package-lock.json`);
