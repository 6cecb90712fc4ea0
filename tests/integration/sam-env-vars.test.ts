/**
 * The `--env-vars` file `npm start` writes for `sam local invoke` (issue 10, "sam local invoke against the offline
 * stack"). SAM CLI's format: a JSON object of function logical id → { variable: string value } (SAM developer guide,
 * "Locally invoke Lambda functions", environment variable file); SAM CLI applies only variables the template declares.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, withFunctionGlobals } from '../../local/template.ts';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

const root = join(__dirname, '../..');
const template = loadTemplate(join(root, 'template.yaml'));
let t: TestStack;

beforeAll(async () => {
  // Every function of the template exists with AutoConfirmSignUp=true (PreSignUpFunction is conditional).
  t = await startTestStack({ parameterOverrides: { AutoConfirmSignUp: 'true' } });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

it('has an entry for every function of the template, each a map of string values, in SAM CLI format', () => {
  const file = JSON.parse(readFileSync(t.stack.samEnvVarsFile, 'utf8')) as Record<string, Record<string, unknown>>;
  const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');

  expect(Object.keys(file).sort()).toEqual(functions.map(([id]) => id).sort());
  for (const [logicalId, resource] of functions) {
    const vars = file[logicalId] ?? {};
    expect(Object.values(vars).every((v) => typeof v === 'string')).toBe(true);
    // Everything the template declares, so SAM CLI has something to override, and nothing it would ignore silently
    // beyond the runtime variables the offline stack adds.
    const declared = Object.keys((withFunctionGlobals(template, resource.Properties ?? {}).Environment as { Variables?: object } | undefined)?.Variables ?? {});
    expect(Object.keys(vars)).toEqual(expect.arrayContaining(declared));
    const model = t.stack.model.functions.find((f) => f.logicalId === logicalId)!;
    for (const [name, value] of Object.entries(model.environment)) if (value !== '') expect({ name, value: vars[name] }).toEqual({ name, value });
  }
});

it('points every declared AWS_ENDPOINT_URL_* at the offline services as a container reaches them', () => {
  const file = JSON.parse(readFileSync(t.stack.samEnvVarsFile, 'utf8')) as Record<string, Record<string, string>>;
  const ports = Object.fromEntries(Object.entries(t.stack.endpoints).map(([service, url]) => [service, new URL(url).port]));
  for (const [logicalId, vars] of Object.entries(file)) {
    expect({ logicalId, ddb: vars.AWS_ENDPOINT_URL_DYNAMODB }).toEqual({ logicalId, ddb: `http://host.docker.internal:${ports.dynamodb}` });
    expect(vars.AWS_ENDPOINT_URL_SFN).toBe(`http://host.docker.internal:${ports.stepfunctions}`);
    expect(vars.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER).toBe(`http://host.docker.internal:${ports.cognito}`);
    expect(vars.AWS_ENDPOINT_URL_API_GATEWAY).toBe(`http://host.docker.internal:${ports.apigateway}`);
    const declared = withFunctionGlobals(template, template.Resources[logicalId]?.Properties ?? {}).Environment as { Variables: Record<string, unknown> };
    for (const name of Object.keys(vars).filter((n) => n.startsWith('AWS_ENDPOINT_URL_'))) expect(declared.Variables).toHaveProperty(name);
  }
});
