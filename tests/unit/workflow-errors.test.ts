/**
 * Every Retry / Catch `ErrorEquals` name of every committed workflow is one that Step Functions can emit for that
 * Task's integration: a name AWS never emits (`DynamoDB.RequestLimitExceeded`, an API Gateway error on a DynamoDB
 * task) would silently never match, so the retry or the clean-up it guards would never run. The emittable names come
 * from the offline bridge (`errorNamesFor`, built from the SDK clients' service models, the same rules the bridge
 * uses to name the errors it raises); a Lambda function's own error types from what the function declares.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY_FUNCTION_ERRORS } from '../../functions/api-key/errors.ts';
import { KEY_RETIREMENT_FUNCTION_ERRORS } from '../../functions/key-retirement/errors.ts';
import { STATEMENT_FUNCTION_ERRORS } from '../../functions/statement/errors.ts';
import { errorNamesFor } from '../../local/stepfunctions/bridge.ts';
import { buildStackModel } from '../../local/model.ts';
import { loadTemplate } from '../../local/template.ts';

const root = join(__dirname, '../..');
const template = loadTemplate(join(root, 'template.yaml'));
const model = buildStackModel(template, {
  templatePath: join(root, 'template.yaml'),
  stackName: 'tg',
  region: 'us-east-1',
  accountId: '123456789012',
});

/** The error types each task function declares it throws (besides the Lambda runtime's own). */
const FUNCTION_ERRORS: Record<string, readonly string[]> = {
  ApiKeyFunction: API_KEY_FUNCTION_ERRORS,
  StatementFunction: STATEMENT_FUNCTION_ERRORS,
  KeyRetirementFunction: KEY_RETIREMENT_FUNCTION_ERRORS,
};

interface TaskState {
  Type: string;
  Resource?: string;
  Parameters?: { FunctionName?: string };
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[] }[];
}

/** Every Task state of a definition, Map and Parallel states' inner ones included, by path. */
function tasks(definition: { States: Record<string, TaskState & Record<string, unknown>> }, prefix = ''): [string, TaskState][] {
  const out: [string, TaskState][] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task') out.push([`${prefix}${name}`, state]);
    for (const key of ['Iterator', 'ItemProcessor']) {
      const inner = state[key] as typeof definition | undefined;
      if (inner) out.push(...tasks(inner, `${prefix}${name}/`));
    }
    for (const branch of (state.Branches as (typeof definition)[] | undefined) ?? []) out.push(...tasks(branch, `${prefix}${name}/`));
  }
  return out;
}

/** Names in a task's Retry and Catch fields that it can never be failed with. */
function neverEmitted(state: TaskState): string[] {
  const fn = model.functions.find((f) => f.arn === state.Parameters?.FunctionName || f.arn === state.Resource);
  const emitted = errorNamesFor(state.Resource!, fn ? (FUNCTION_ERRORS[fn.logicalId] ?? []) : []);
  const used = [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((r) => r.ErrorEquals);
  return [...new Set(used)].filter((name) => !emitted.has(name));
}

describe('Retry and Catch error names', () => {
  it('covers every workflow file', () => {
    const files = readdirSync(join(root, 'statemachines')).filter((f) => f.endsWith('.asl.json'));
    const uris = model.stateMachines.map((m) => String(template.Resources[m.logicalId]?.Properties?.DefinitionUri).replace(/^statemachines\//, ''));
    expect(uris.sort()).toEqual(files.sort());
  });

  describe.each(model.stateMachines.map((m) => [m.logicalId, m] as const))('%s', (_id, machine) => {
    it.each(tasks(machine.definition as never).map(([path, state]) => [path, state] as const))(
      '%s names only errors its integration emits',
      (_path, state) => {
        expect({ resource: state.Resource, neverEmitted: neverEmitted(state) }).toEqual({ resource: state.Resource, neverEmitted: [] });
      },
    );
  });

  it('flags a name AWS never emits, and another service’s error on a task', () => {
    const ddb = (names: string[]): TaskState => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Retry: [{ ErrorEquals: names }],
    });
    expect(neverEmitted(ddb(['DynamoDB.RequestLimitExceeded', 'DynamoDB.RequestLimitExceededException']))).toEqual(['DynamoDB.RequestLimitExceeded']);
    expect(neverEmitted(ddb(['ApiGateway.TooManyRequestsException', 'DynamoDb.ThrottlingException']))).toEqual([
      'ApiGateway.TooManyRequestsException',
      'DynamoDb.ThrottlingException', // the aws-sdk:dynamodb spelling, not the optimized integration's
    ]);
    const sdk: TaskState = { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:apigateway:deleteApiKey', Catch: [{ ErrorEquals: ['ApiGateway.NotFound'] }] };
    expect(neverEmitted(sdk)).toEqual(['ApiGateway.NotFound']);
    const invoke: TaskState = {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: model.functions.find((f) => f.logicalId === 'ApiKeyFunction')!.arn },
      Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'ApiGateway.TooManyRequestsException', 'Lambda.ThrottlingException'] }],
    };
    expect(neverEmitted(invoke)).toEqual(['Lambda.ThrottlingException']);
  });
});
