/**
 * The portal's build stamp covers what goes into portal/dist: the portal's own sources and the back end's pure modules
 * it imports as `#shared/<name>` (billing's computeStatement, the password policy), so a change to either rebuilds it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portalSourceHash } from '../../../local/portal/index.ts';

describe('portalSourceHash', () => {
  let dir: string;
  let portal: string;
  let shared: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portal-stamp-'));
    portal = join(dir, 'portal');
    shared = join(dir, 'functions', 'shared');
    mkdirSync(join(portal, 'src'), { recursive: true });
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(portal, 'index.html'), '<title>portal</title>\n');
    writeFileSync(join(portal, 'src', 'main.ts'), "import { computeStatement } from '#shared/billing';\n");
    writeFileSync(join(shared, 'billing.ts'), 'export const computeStatement = () => 1;\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is the same for the same sources', () => {
    expect(portalSourceHash(portal, shared)).toBe(portalSourceHash(portal, shared));
  });

  it("changes when a shared module the portal bundles changes, as when the portal's own source does", () => {
    const before = portalSourceHash(portal, shared);
    writeFileSync(join(shared, 'billing.ts'), 'export const computeStatement = () => 2;\n');
    const afterShared = portalSourceHash(portal, shared);
    expect(afterShared).not.toBe(before);
    writeFileSync(join(portal, 'src', 'main.ts'), "import { computeStatement } from '#shared/billing';\ncomputeStatement();\n");
    expect(portalSourceHash(portal, shared)).not.toBe(afterShared);
  });
});
