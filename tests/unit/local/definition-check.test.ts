/**
 * Definitions as Step Functions validates them at deploy (local/stepfunctions/definition-check.ts): the template's
 * workflows pass; a wrong-cased or misspelt aws-sdk action, a misspelt or wrong-cased parameter (also nested, and of an
 * optimized integration) is refused with AWS's "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: …'".
 */
import { GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { join } from 'node:path';
import { commandSchemas, toSdkInput } from '../../../local/stepfunctions/casing.ts';
import { checkTaskDefinitions, DefinitionError } from '../../../local/stepfunctions/definition-check.ts';
import { buildStackModel } from '../../../local/model.ts';
import { loadTemplate } from '../../../local/template.ts';

const templatePath = join(__dirname, '../../../template.yaml');
const model = buildStackModel(loadTemplate(templatePath), { templatePath, stackName: 'tollgate', region: 'us-east-1', accountId: '000000000000' });

const task = (Resource: string, Parameters: Record<string, unknown>) => ({
  StartAt: 'Outer',
  States: {
    Outer: {
      Type: 'Parallel',
      End: true,
      Branches: [{ StartAt: 'T', States: { T: { Type: 'Task', Resource, Parameters, End: true } } }],
    },
  },
});
const refusal = (definition: Record<string, unknown>): string => {
  try {
    checkTaskDefinitions(definition);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    return (error as Error).message;
  }
  throw new Error('the definition was accepted');
};

describe('checkTaskDefinitions', () => {
  it.each(model.stateMachines.map((m) => [m.logicalId, m.definition]))('accepts the template\'s %s', (_id, definition) => {
    expect(() => checkTaskDefinitions(definition)).not.toThrow();
  });

  it('refuses a wrong-cased or unknown aws-sdk action', () => {
    expect(refusal(task('arn:aws:states:::aws-sdk:cognitoidentityprovider:AdminUpdateUserAttributes', {}))).toBe(
      "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::aws-sdk:cognitoidentityprovider:AdminUpdateUserAttributes is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/Outer/Branches/0/States/T/Resource'",
    );
    expect(refusal(task('arn:aws:states:::aws-sdk:apigateway:deleteApiKeys', {}))).toMatch(/^Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided/);
  });

  it('refuses a misspelt or wrong-cased parameter, at any depth, static or JSONPath', () => {
    expect(refusal(task('arn:aws:states:::aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes', { UserPoolID: 'p', 'Username.$': '$.u', UserAttributes: [] }))).toBe(
      "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field \"UserPoolID\" is not supported by Step Functions at /States/Outer/Branches/0/States/T/Parameters'",
    );
    // API Gateway's own API is camelCase; Step Functions wants PascalCase.
    expect(refusal(task('arn:aws:states:::aws-sdk:apigateway:deleteApiKey', { 'apiKey.$': '$.id' }))).toContain('The field "apiKey" is not supported');
    expect(refusal(task('arn:aws:states:::aws-sdk:apigateway:updateApiKey', { ApiKey: 'k', PatchOperations: [{ Op: 'replace', Paht: '/enabled', Value: 'false' }] }))).toContain(
      'The field "Paht" is not supported by Step Functions at /States/Outer/Branches/0/States/T/Parameters/PatchOperations/0',
    );
    expect(refusal(task('arn:aws:states:::dynamodb:putItem', { TableName: 't', Items: {} }))).toContain('The field "Items" is not supported');
    expect(refusal(task('arn:aws:states:::lambda:invoke', { FunctionName: 'f', payload: {} }))).toContain('The field "payload" is not supported');
    expect(() => checkTaskDefinitions(task('arn:aws:states:::lambda:invoke', { FunctionName: 'f', Payload: { anything: { goes: 1 } } }))).not.toThrow();
    expect(() => checkTaskDefinitions(task('arn:aws:states:::aws-sdk:apigateway:deleteApiKey', { 'ApiKey.$': '$.id' }))).not.toThrow();
  });
});

describe('parameters of the wrong type at run time', () => {
  it('fail the task as Step Functions does, instead of reaching the service', () => {
    const { input } = commandSchemas(GetApiKeysCommand as never);
    const options = { naming: 'sfn' as const, resource: 'aws-sdk:apigateway:getApiKeys' };
    expect(toSdkInput({ Limit: 5, IncludeValues: false }, input, options)).toEqual({ limit: 5, includeValues: false });
    for (const [params, message] of [
      [{ Limit: '5' }, "[The value for the field 'Limit' must be a NUMBER]"],
      [{ IncludeValues: 'false' }, "[The value for the field 'IncludeValues' must be a BOOLEAN]"],
    ] as const) {
      let error: Error | undefined;
      try {
        toSdkInput(params, input, options);
      } catch (e) {
        error = e as Error;
      }
      expect({ name: error?.name, message: error?.message.includes(message) }).toEqual({ name: 'States.Runtime', message: true });
    }
  });
});
