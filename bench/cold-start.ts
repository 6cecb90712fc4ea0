/**
 * Section 3 — cold start. Every function in the template (conditional ones too: the model is built with
 * AutoConfirmSignUp=true) is bundled with local/build.ts as `sam build` would (the template's BuildProperties), and
 * a fresh `node` process (this Node, 22) loads the bundle and handles one event, RUNS times per function. The process
 * gets what Lambda gives a function: the template's resolved environment, the runtime's variables, NODE_PATH to the
 * project's node_modules (where the external @aws-sdk/* resolve, as from /var/runtime/node_modules) and the bench
 * stack's endpoints, so handlers that call AWS succeed or fail fast against it.
 *
 * Measured inside the process: bootstrap (performance.now() when the probe starts: Node's own start-up), require()
 * of the bundle (Lambda's init phase for this code), and the first handler call (the first invoke: SDK clients'
 * first requests included).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildFunction } from '../local/build.ts';
import { endpointEnvironment, functionEnvironment } from '../local/endpoints.ts';
import { lambdaRuntimeVariables } from '../local/lambda/index.ts';
import { loadStackModel, type FunctionModel } from '../local/model.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../local/types.ts';
import type { TestStack } from '../local/harness/stack.ts';
import { fmt, heading, median, table, verdict } from './util.ts';

const RUNS = 10;
/** Extra runs without NODE_OPTIONS=--enable-source-maps, to show what loading the source maps costs at init. */
const RUNS_WITHOUT_SOURCE_MAPS = 5;
/**
 * Runs of the alternative the template does not take: the same bundle with `External: ['@aws-sdk/*']`, the SDK left to
 * the Lambda runtime's own copy (here the project's node_modules on NODE_PATH). docs/architecture.md weighs the two.
 */
const RUNS_RUNTIME_SDK = 5;
const TARGET_BUNDLE_KB = 250;
const TARGET_INIT_MS = 100;

/** The fixture each function is invoked with (events/*.json): a realistic event of its main route or trigger. */
const FIXTURES: Record<string, string> = {
  PostConfirmationFunction: 'post-confirmation-sign-up.json',
  PostAuthenticationFunction: 'post-authentication.json',
  PreSignUpFunction: 'pre-sign-up.json',
  AuthFunction: 'auth-sign-in.json',
  PublicFunction: 'plans.json',
  LinksFunction: 'links-list.json',
  TagsFunction: 'tags-list.json',
  AccountFunction: 'api-key-get.json',
  StatementFunction: 'statement-close.json',
};

/**
 * Runs in the fresh process: argv = bundle, export, event file, function name, memory MB, timeout s. Reports on fd 3
 * (the function's own logs go to stdout/stderr).
 */
const PROBE = `
const bootstrapMs = performance.now();
const [file, exportName, eventFile, functionName, memoryMb, timeoutS] = process.argv.slice(1);
const event = JSON.parse(require('node:fs').readFileSync(eventFile, 'utf8'));
const report = (o) => { require('node:fs').writeSync(3, JSON.stringify(o)); process.exit(0); };
const t0 = performance.now();
let mod;
try { mod = require(file); } catch (e) { report({ bootstrapMs, requireMs: performance.now() - t0, invokeMs: NaN, ok: false, outcome: 'init error: ' + e.name + ': ' + e.message }); }
const t1 = performance.now();
const deadline = Date.now() + Number(timeoutS) * 1000;
const context = {
  callbackWaitsForEmptyEventLoop: true, functionName, functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:' + functionName, memoryLimitInMB: memoryMb,
  awsRequestId: require('node:crypto').randomUUID(), logGroupName: '/aws/lambda/' + functionName, logStreamName: 'bench',
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
Promise.resolve().then(() => mod[exportName](event, context)).then(
  (r) => report({ bootstrapMs, requireMs: t1 - t0, invokeMs: performance.now() - t1, ok: true,
    outcome: r && typeof r === 'object' && 'statusCode' in r ? 'HTTP ' + r.statusCode : 'returned' }),
  (e) => report({ bootstrapMs, requireMs: t1 - t0, invokeMs: performance.now() - t1, ok: false, outcome: 'threw ' + (e && e.name) }),
);
`;

interface ProbeResult {
  bootstrapMs: number;
  requireMs: number;
  invokeMs: number;
  ok: boolean;
  outcome: string;
}

export interface ColdStartRow {
  function: string;
  fixture: string;
  bundleKB: number;
  sourceMapKB: number;
  runs: number;
  bootstrapMedianMs: number;
  requireMedianMs: number;
  /** The same, without --enable-source-maps (RUNS_WITHOUT_SOURCE_MAPS runs). */
  requireNoSourceMapsMedianMs: number;
  /** The alternative: bundle size and median require with the AWS SDK left external (RUNS_RUNTIME_SDK runs). */
  runtimeSdkBundleKB: number;
  runtimeSdkRequireMedianMs: number;
  firstInvokeMedianMs: number;
  outcome: string;
  bundleVerdict: 'PASS' | 'MISS';
  initVerdict: 'PASS' | 'MISS';
}

export interface ColdStartResult {
  runsPerFunction: number;
  runsWithoutSourceMaps: number;
  runsRuntimeSdk: number;
  node: string;
  rows: ColdStartRow[];
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
}

function probe(file: string, fn: FunctionModel, eventFile: string, env: Record<string, string>): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE, file, fn.handlerExport, eventFile, fn.name, String(fn.memoryMb), String(fn.timeoutSeconds)], {
      env,
      cwd: dirname(file),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), (fn.timeoutSeconds + 10) * 1000);
    child.stdout?.resume();
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as ProbeResult);
      } catch {
        reject(new Error(`${fn.logicalId}: probe exited ${code ?? signal}: ${err.slice(-500)}`));
      }
    });
  });
}

export async function runColdStart(t: TestStack, root: string, say: (line: string) => void): Promise<ColdStartResult> {
  // Every function, whatever the conditions: PreSignUp exists only with AutoConfirmSignUp=true.
  const all = loadStackModel({
    templatePath: join(root, 'template.yaml'),
    stackName: t.stack.model.stackName,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    parameterOverrides: {
      ...Object.fromEntries(Object.entries(t.stack.model.parameters).filter(([name]) => !name.startsWith('AWS::'))),
      AutoConfirmSignUp: 'true',
    },
  });
  const live = new Map(t.stack.model.functions.map((f) => [f.logicalId, f]));
  const runtimeModules = join(root, 'node_modules');
  const out = mkdtempSync(join(tmpdir(), 'tollgate-bench-build-'));
  const rows: ColdStartRow[] = [];
  try {
    for (const modelFn of all.functions) {
      // The live stack's resolved environment (real pool and client ids) where the function is deployed there.
      const fn = live.get(modelFn.logicalId) ?? modelFn;
      const built = await buildFunction(fn, root, out);
      const mapBytes = (() => {
        try {
          return readFileSync(`${built.file}.map`).length;
        } catch {
          return 0;
        }
      })();
      const fixture = FIXTURES[fn.logicalId];
      const eventFile = fixture ? join(root, 'events', fixture) : join(out, `${fn.logicalId}.event.json`);
      if (!fixture) writeFileSync(eventFile, '{}');
      const env: Record<string, string> = functionEnvironment(
        {
          ...endpointEnvironment(t.stack.endpoints),
          NODE_PATH: runtimeModules,
          ...lambdaRuntimeVariables(fn),
        },
        fn.environment,
      );
      const results: ProbeResult[] = [];
      for (let i = 0; i < RUNS; i++) results.push(await probe(built.file, fn, eventFile, env));
      const withoutMaps: ProbeResult[] = [];
      const { NODE_OPTIONS: nodeOptions, ...rest } = env;
      const noMapsEnv = { ...rest, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions.replace('--enable-source-maps', '').trim() } : {}) };
      for (let i = 0; i < RUNS_WITHOUT_SOURCE_MAPS; i++) withoutMaps.push(await probe(built.file, fn, eventFile, noMapsEnv));
      const runtimeSdk = await buildFunction({ ...fn, build: { ...fn.build, external: ['@aws-sdk/*'] } }, root, join(out, 'runtime-sdk'));
      const withRuntimeSdk: ProbeResult[] = [];
      for (let i = 0; i < RUNS_RUNTIME_SDK; i++) withRuntimeSdk.push(await probe(runtimeSdk.file, fn, eventFile, env));
      const bundleKB = built.bytes / 1024;
      const requireMedianMs = median(results.map((r) => r.requireMs));
      const outcomes = [...new Set(results.map((r) => r.outcome))];
      const row: ColdStartRow = {
        function: fn.logicalId,
        fixture: fixture ?? '(none: {})',
        bundleKB,
        sourceMapKB: mapBytes / 1024,
        runs: results.length,
        bootstrapMedianMs: median(results.map((r) => r.bootstrapMs)),
        requireMedianMs,
        requireNoSourceMapsMedianMs: median(withoutMaps.map((r) => r.requireMs)),
        runtimeSdkBundleKB: runtimeSdk.bytes / 1024,
        runtimeSdkRequireMedianMs: median(withRuntimeSdk.map((r) => r.requireMs)),
        firstInvokeMedianMs: median(results.map((r) => r.invokeMs)),
        outcome: outcomes.join(' | '),
        bundleVerdict: verdict(bundleKB <= TARGET_BUNDLE_KB),
        initVerdict: verdict(requireMedianMs <= TARGET_INIT_MS),
      };
      rows.push(row);
      say(`  ${row.function}: ${fmt(row.bundleKB)} KB, require ${fmt(row.requireMedianMs)} ms, first invoke ${fmt(row.firstInvokeMedianMs)} ms (${row.outcome})`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const biggest = Math.max(...rows.map((r) => r.bundleKB));
  const slowest = Math.max(...rows.map((r) => r.requireMedianMs));
  return {
    runsPerFunction: RUNS,
    runsWithoutSourceMaps: RUNS_WITHOUT_SOURCE_MAPS,
    runsRuntimeSdk: RUNS_RUNTIME_SDK,
    node: process.version,
    rows,
    targets: [
      { name: `every bundle (largest, KB)`, value: biggest, limit: `<= ${TARGET_BUNDLE_KB}`, verdict: verdict(biggest <= TARGET_BUNDLE_KB) },
      { name: `every init: median require (slowest, ms)`, value: slowest, limit: `<= ${TARGET_INIT_MS}`, verdict: verdict(slowest <= TARGET_INIT_MS) },
    ],
  };
}

export function printColdStart(r: ColdStartResult): string {
  return [
    heading('3. Cold start: bundle size and init per function'),
    `Bundles from local/build.ts with the template's BuildProperties (minified; the .js alone, its source map beside it).`,
    `Each run: a fresh \`node\` (${r.node}) with the function's environment (NODE_OPTIONS=--enable-source-maps from the`,
    `template's Globals included) loads the bundle and handles its events/ fixture once, against the live bench stack;`,
    `${r.runsPerFunction} runs, medians. "require" is what Lambda bills as init for this code (Lambda adds its runtime's`,
    'own start, which "node bootstrap" stands in for); "first invoke" is the first call, SDK connections included.',
    `"require, no maps" is ${r.runsWithoutSourceMaps} more runs without --enable-source-maps: the difference is what loading the maps costs.`,
    `"runtime SDK" is the alternative the template does not take (docs/architecture.md): the same bundle with`,
    `External @aws-sdk/*, the SDK loaded from the runtime's copy (the project's node_modules here); ${r.runsRuntimeSdk} runs.`,
    '',
    table(
      ['function', 'bundle KB', 'map KB', 'node bootstrap ms', 'require ms', 'require, no maps', 'runtime SDK: KB', 'runtime SDK: require ms', 'first invoke ms', 'fixture → outcome', 'size', 'init'],
      r.rows.map((x) => [
        x.function,
        fmt(x.bundleKB),
        fmt(x.sourceMapKB, 0),
        fmt(x.bootstrapMedianMs),
        fmt(x.requireMedianMs),
        fmt(x.requireNoSourceMapsMedianMs),
        fmt(x.runtimeSdkBundleKB),
        fmt(x.runtimeSdkRequireMedianMs),
        fmt(x.firstInvokeMedianMs),
        `${x.fixture} → ${x.outcome}`,
        x.bundleVerdict,
        x.initVerdict,
      ]),
    ),
    '',
    table(['target', 'value', 'limit', 'result'], r.targets.map((x) => [x.name, fmt(x.value, 1), x.limit, x.verdict])),
  ].join('\n');
}
