/**
 * `sam build` on a clean machine (issue 10, item 1): ../shared/tools/sam-build-check runs the real builder `sam build`
 * uses for `BuildMethod: esbuild` (aws-lambda-builders) on every function, as a user's shell would after `npm ci`,
 * then loads each artifact. The offline stack's bundles (local/build.ts) must be the same bytes, or what runs offline
 * is not what deploys. Each function: copy functions/, `npm install --omit=dev` of its dependencies (the npm cache
 * serves them after the first), esbuild; two builders run at once. Skips with a warning without the tools, fails in CI.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunctions } from '../../local/build.ts';
import { loadStackModel } from '../../local/model.ts';
import { describeWithAwsTools, projectRoot, runAwsToolAsync } from '../support/aws-tools.ts';

describeWithAwsTools('sam build (the real builder, from a plain shell)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'tollgate-sam-build-'));
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('builds every function, and each artifact is byte for byte the bundle the offline stack runs', async () => {
    // Every function, whatever the conditions (sam build builds PreSignUpFunction too).
    const model = loadStackModel({
      templatePath: join(projectRoot, 'template.yaml'),
      stackName: 'tollgate',
      region: 'us-east-1',
      accountId: '000000000000',
      parameterOverrides: { AutoConfirmSignUp: 'true' },
    });
    // Two builders at once (each function's npm install is mostly waiting), half the functions each.
    const ids = model.functions.map((f) => f.logicalId);
    const halves = [ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1)];
    const runs = await Promise.all(halves.map((half) => runAwsToolAsync('sam-build-check', ['.', out, ...half], 600_000)));
    for (const run of runs) {
      console.warn(`sam-build-check: ${run.seconds.toFixed(0)} s\n${run.stdout}`);
      expect({ status: run.status, failures: run.stdout.split('\n').filter((l) => l.startsWith('FAIL')) }).toEqual({ status: 0, failures: [] });
    }

    const local = await buildFunctions(model.functions, projectRoot, join(out, '.offline'));
    expect(local.length).toBeGreaterThan(0);
    for (const bundle of local) {
      const fn = model.functions.find((f) => f.logicalId === bundle.logicalId)!;
      const fromSam = readFileSync(join(out, bundle.logicalId, `${fn.handlerFile}.js`));
      expect({ fn: bundle.logicalId, same: fromSam.equals(readFileSync(bundle.file)) }).toEqual({ fn: bundle.logicalId, same: true });
    }
  }, 660_000);
});
