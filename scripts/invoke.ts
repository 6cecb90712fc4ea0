/**
 * `npm run invoke -- <FunctionLogicalId> --event events/<fixture>.json`: `sam local invoke -e`, without Docker.
 * Bundles the function as `sam build` would, runs it with the template's environment against the services of a
 * running `npm start` (same ports, same ./.local state), and prints its logs and result. A data fixture whose
 * `Authorization` is the placeholder gets a demo user's real ID token and key id first (./invoke-caller.ts), a
 * KeyMode SelfIssued fixture its key, customer and claims (./invoke-self-issued.ts); it says so on stderr, naming ids
 * only, never the token or a key value (a rotation's own answer, the function's result, is printed as it is).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { readStackIds, waitForCode } from './demo.ts';
import { fillDemoCaller, needsDemoCaller, type DemoCaller } from './invoke-caller.ts';
import { fillSelfIssuedCaller, selfIssuedPlaceholders } from './invoke-self-issued.ts';
import { buildFunction } from '../local/build.ts';
import { createLambdaRuntime } from '../local/lambda/index.ts';
import { loadStackModel, type CognitoIds } from '../local/model.ts';
import { DEFAULT_PORTS, endpointEnvironment, type ServiceName } from '../local/endpoints.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION, type Endpoints } from '../local/types.ts';

const root = resolve(__dirname, '..');

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      event: { type: 'string', short: 'e' },
      dir: { type: 'string', default: '.local' },
      host: { type: 'string', default: '127.0.0.1' },
      'parameter-overrides': { type: 'string' },
    },
  });
  const functionId = positionals[0];
  const stateFile = join(resolve(String(values.dir)), 'stack.json');
  const cognito = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { cognito: CognitoIds }).cognito : undefined;
  const overrides = Object.fromEntries(
    String(values['parameter-overrides'] ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const model = loadStackModel({
    templatePath: join(root, 'template.yaml'),
    stackName: 'tollgate',
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    parameterOverrides: overrides,
    ...(cognito ? { cognito } : {}),
  });
  const fn = model.functions.find((f) => f.logicalId === functionId || f.name === functionId);
  if (!functionId || !fn) {
    console.error(`Usage: npm run invoke -- <FunctionLogicalId> --event events/<fixture>.json\nFunctions: ${model.functions.map((f) => f.logicalId).join(', ')}`);
    return 2;
  }
  let event: unknown = {};
  if (values.event) {
    try {
      event = JSON.parse(readFileSync(resolve(String(values.event)), 'utf8'));
    } catch (error) {
      console.error(`Cannot read event ${values.event}: ${(error as Error).message}`);
      return 2;
    }
  }
  const host = String(values.host);
  const port = (s: ServiceName) => Number(process.env[`TOLLGATE_PORT_${s.toUpperCase()}`] ?? DEFAULT_PORTS[s]);
  const endpoints = Object.fromEntries((Object.keys(DEFAULT_PORTS) as ServiceName[]).map((s) => [s, `http://${host}:${port(s)}`])) as unknown as Endpoints;
  if (!cognito) console.error(`note: no ${stateFile}; is \`npm start\` running? Ids that come from Cognito are placeholders.`);
  const selfIssued = selfIssuedPlaceholders(event);
  if (selfIssued && model.parameters.KeyMode !== 'SelfIssued') {
    console.error(`${String(values.event)} is a KeyMode=SelfIssued fixture: start \`npm start\` and invoke with --parameter-overrides "KeyMode=SelfIssued" (the same overrides as npm start).`);
    return 2;
  }
  if (selfIssued || needsDemoCaller(event)) {
    const { clientId } = readStackIds(String(values.dir));
    if (!clientId) {
      console.error(`The fixture holds placeholders; start \`npm start\` (no client id in ${stateFile}) so invoke can sign in a demo user.`);
      return 2;
    }
    const client = new CognitoIdentityProviderClient({ endpoint: endpoints.cognito, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const outbox = join(resolve(String(values.dir)), 'cognito', 'outbox.jsonl');
    const demoDeps = { cognito: client, clientId, confirmationCode: (email: string) => waitForCode(outbox, email, 10_000) };
    const signedIn = (demo: DemoCaller) => `${demo.created ? 'signed up and ' : ''}signed in ${demo.email} (sub ${demo.userId}) against the running Cognito`;
    if (selfIssued) {
      const apiUrl = `${endpoints.gateway}/${model.apis[0]?.stage ?? ''}`;
      const demo = await fillSelfIssuedCaller(event, { ...demoDeps, apiUrl });
      const filled = [selfIssued.claims && 'its claims', selfIssued.customer && 'its sub as the authorizer context', selfIssued.token && 'its ID token', demo.keyIssued && `a key issued to it now (key id ${demo.apiKeyId}; any earlier key of its no longer works)`];
      console.error(`note: the fixture holds SelfIssued placeholders: ${signedIn(demo)}; filled in ${filled.filter(Boolean).join(', ')}.`);
    } else {
      const demo = await fillDemoCaller(event as Parameters<typeof fillDemoCaller>[0], demoDeps);
      console.error(`note: the fixture's Authorization was a placeholder: ${signedIn(demo)}; filled in its ID token and requestContext.identity.apiKeyId ${demo.apiKeyId}.`);
    }
    client.destroy();
  }

  const outDir = mkdtempSync(join(tmpdir(), 'tollgate-invoke-'));
  try {
    const built = await buildFunction(fn, root, outDir);
    const runtime = createLambdaRuntime({
      functions: [fn],
      bundles: new Map([[fn.logicalId, built.file]]),
      baseEnvironment: endpointEnvironment(endpoints),
      maxConcurrency: 1,
    });
    const started = Date.now();
    const result = await runtime.invoke(fn.logicalId, event);
    await runtime.close();
    if (result.logs) process.stderr.write(result.logs.endsWith('\n') ? result.logs : `${result.logs}\n`);
    console.error(`REPORT RequestId: ${result.requestId} Duration: ${Date.now() - started} ms (cold start included) Bundle: ${(built.bytes / 1024).toFixed(1)} KB`);
    console.log(JSON.stringify(result.error ?? result.payload, null, 2));
    return result.error ? 1 : 0;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
