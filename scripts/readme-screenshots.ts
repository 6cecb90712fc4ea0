/**
 * `npm run screenshots`: the README's pictures of the portal, made the way the browser tests make theirs — the tests
 * below run the portal in Chromium against a fresh offline stack and save full-page screenshots to test-artifacts/;
 * this copies the ones the README shows into docs/. Run it after changing a page the README pictures, and commit the
 * PNGs it writes. Exits non-zero if a test fails or a screenshot is missing (nothing is copied then).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const artifacts = join(root, 'test-artifacts');

/** docs/<file> ← test-artifacts/<screenshot>.png, and the browser test that takes it. */
const SHOTS: { doc: string; shot: string; test: string }[] = [
  { doc: 'portal-dashboard.png', shot: 'portal-09-dashboard-pro', test: 'tests/browser/portal.test.ts' },
  { doc: 'portal-change-email.png', shot: 'account-05-email-code', test: 'tests/browser/email-change.test.ts' },
  { doc: 'portal-upgrade-preview.png', shot: 'defects-06-upgrade-preview', test: 'tests/browser/portal-defects.test.ts' },
  { doc: 'portal-downgrade-confirm.png', shot: 'defects-07-downgrade-confirm', test: 'tests/browser/portal-defects.test.ts' },
  { doc: 'portal-sign-up-checks.png', shot: 'defects-05-weak-password', test: 'tests/browser/portal-defects.test.ts' },
  { doc: 'portal-outbox.png', shot: 'defects-04-outbox-labels', test: 'tests/browser/portal-defects.test.ts' },
  { doc: 'portal-self-issued-key.png', shot: 'portal-si-02-key-shown-once', test: 'tests/browser/self-issued.test.ts' },
];

for (const { shot } of SHOTS) rmSync(join(artifacts, `${shot}.png`), { force: true });
const tests = [...new Set(SHOTS.map((s) => s.test))];
const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--selectProjects', 'browser', '--runInBand', ...tests], { cwd: root, stdio: 'inherit' });
if (jest.status !== 0) {
  console.error('✗ the browser tests failed: no screenshot copied.');
  process.exit(1);
}
const missing = SHOTS.filter(({ shot }) => !existsSync(join(artifacts, `${shot}.png`)));
if (missing.length) {
  console.error(`✗ no screenshot ${missing.map((m) => m.shot).join(', ')} in test-artifacts/ (was the browser skipped?): nothing copied.`);
  process.exit(1);
}
for (const { doc, shot } of SHOTS) {
  copyFileSync(join(artifacts, `${shot}.png`), join(root, 'docs', doc));
  console.log(`✓ docs/${doc} ← test-artifacts/${shot}.png`);
}
