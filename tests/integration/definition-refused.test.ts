/**
 * The offline stack refuses, when it loads the template, a workflow whose aws-sdk task action or parameter is
 * misspelt or wrong-cased — as `sam deploy` fails (Step Functions: "Invalid State Machine Definition:
 * 'SCHEMA_VALIDATION_FAILED: …'") — instead of letting an SDK client drop the unknown parameter at run time.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../../local/stack.ts';

const root = join(__dirname, '../..');

async function refusal(edit: (asl: string) => string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-def-'));
  try {
    cpSync(join(root, 'template.yaml'), join(dir, 'template.yaml'));
    cpSync(join(root, 'statemachines'), join(dir, 'statemachines'), { recursive: true });
    const file = join(dir, 'statemachines', 'onboarding.asl.json');
    const edited = edit(readFileSync(file, 'utf8'));
    writeFileSync(file, edited);
    const error = await startLocalStack({ dir: join(dir, 'state'), templatePath: join(dir, 'template.yaml'), ports: 0 }).then(
      async (stack) => {
        await stack.close();
        return undefined;
      },
      (e: Error) => e,
    );
    if (!error) throw new Error('the stack started');
    return error.message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a workflow definition AWS would refuse at deploy', () => {
  it('is refused for a wrong-cased aws-sdk action', async () => {
    expect(await refusal((asl) => asl.replace('aws-sdk:apigateway:deleteApiKey', 'aws-sdk:apigateway:DeleteApiKey'))).toMatch(
      /^OnboardingStateMachine: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::aws-sdk:apigateway:DeleteApiKey is not recognized\..* at \/States\/DeleteKey\/Resource'/,
    );
  }, 60_000);

  it('is refused for a misspelt or wrong-cased parameter', async () => {
    expect(await refusal((asl) => asl.replace('"UserPoolId"', '"UserPoolID"'))).toMatch(/SCHEMA_VALIDATION_FAILED: The field "UserPoolID" is not supported by Step Functions at \/States\/\w+\/Parameters/);
    expect(await refusal((asl) => asl.replace('"ApiKey.$"', '"apiKey.$"'))).toMatch(/SCHEMA_VALIDATION_FAILED: The field "apiKey" is not supported by Step Functions/);
  }, 60_000);
});
