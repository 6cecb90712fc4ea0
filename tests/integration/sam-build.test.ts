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

/** Built by default: between them they import every SDK client and library of functions/package.json. */
const SAMPLE = ['AccountFunction', 'PostConfirmationFunction'];

describeWithAwsTools('sam build (the real builder, from a plain shell)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'tollgate-sam-build-'));
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('builds the functions, and each artifact is byte for byte the bundle the offline stack runs', async () => {
    // Every function, whatever the conditions (sam build builds PreSignUpFunction too).
    const model = loadStackModel({
      templatePath: join(projectRoot, 'template.yaml'),
      stackName: 'tollgate',
      region: 'us-east-1',
      accountId: '000000000000',
      parameterOverrides: { AutoConfirmSignUp: 'true' },
    });
    // Every function shares the CodeUri, its package.json and lock, and the build options; they differ by entry point
    // only. By default two are built (together they import every SDK client and library the functions use): about
    // 30 s idle, where all eleven took 3 minutes (and as long again to delete the installs) on a busy machine.
    // TOLLGATE_SAM_BUILD_ALL=1 builds every one.
    const all = process.env.TOLLGATE_SAM_BUILD_ALL === '1';
    const ids = model.functions.map((f) => f.logicalId).filter((id) => all || SAMPLE.includes(id));
    expect(ids).toHaveLength(all ? model.functions.length : SAMPLE.length);
    // Two builders at once (each function's npm install is mostly waiting), half the functions each.
    const halves = [ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1)];
    const runs = await Promise.all(halves.map((half) => runAwsToolAsync('sam-build-check', ['.', out, ...half], 600_000)));
    for (const run of runs) {
      console.warn(`sam-build-check: ${run.seconds.toFixed(0)} s\n${run.stdout}`);
      expect({ status: run.status, failures: run.stdout.split('\n').filter((l) => l.startsWith('FAIL')) }).toEqual({ status: 0, failures: [] });
    }

    const local = await buildFunctions(
      model.functions.filter((f) => ids.includes(f.logicalId)),
      projectRoot,
      join(out, '.offline'),
    );
    expect(local).toHaveLength(ids.length);
    for (const bundle of local) {
      const fn = model.functions.find((f) => f.logicalId === bundle.logicalId)!;
      const fromSam = readFileSync(join(out, bundle.logicalId, `${fn.handlerFile}.js`));
      expect({ fn: bundle.logicalId, same: fromSam.equals(readFileSync(bundle.file)) }).toEqual({ fn: bundle.logicalId, same: true });
    }
  }, 660_000);
});
