/**
 * Wiring checks on template.yaml and the state machine definitions, through the same loader the offline stack uses.
 */
import * as apigateway from '@aws-sdk/client-api-gateway';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStackModel, type StackModel } from '../../local/model.ts';
import { loadTemplate, resolveValue, type JsonObject, type Template } from '../../local/template.ts';

const root = join(__dirname, '../..');
const templatePath = join(root, 'template.yaml');
const template: Template = loadTemplate(templatePath);
const base = { templatePath, stackName: 'tg', region: 'us-east-1', accountId: '123456789012' };
const model: StackModel = buildStackModel(template, base);

const props = (logicalId: string): JsonObject => {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId}`);
  return resource.Properties ?? {};
};

describe('Cognito', () => {
  it('wires PostConfirmation to the onboarding trigger function, and PreSignUp only when auto-confirm is on', () => {
    expect(model.userPools[0]?.triggers).toEqual({ PostConfirmation: 'PostConfirmationFunction', PostAuthentication: 'PostAuthenticationFunction' });
    expect(model.functions.map((f) => f.logicalId)).not.toContain('PreSignUpFunction');

    const autoConfirm = buildStackModel(template, { ...base, parameterOverrides: { AutoConfirmSignUp: 'true' } });
    expect(autoConfirm.userPools[0]?.triggers).toEqual({ PostConfirmation: 'PostConfirmationFunction', PostAuthentication: 'PostAuthenticationFunction', PreSignUp: 'PreSignUpFunction' });
  });

  it('uses the email as a case-insensitive username and declares a mutable custom:apiid', () => {
    const pool = model.userPools[0]!.properties as Record<string, unknown>;
    expect(pool.UsernameAttributes).toEqual(['email']);
    expect(pool.UsernameConfiguration).toEqual({ CaseSensitive: false });
    expect(pool.AutoVerifiedAttributes).toEqual(['email']);
    const apiid = (pool.Schema as { Name: string; Mutable?: boolean; AttributeDataType: string }[]).find((a) => a.Name === 'apiid');
    expect(apiid).toMatchObject({ AttributeDataType: 'String', Mutable: true });
  });

  it('lets the app client read custom:apiid but never write it', () => {
    const client = model.userPoolClients.find((c) => c.logicalId === 'UserPoolClient')!.properties as Record<string, unknown>;
    expect(client.ReadAttributes).toContain('custom:apiid');
    expect(client.WriteAttributes).not.toContain('custom:apiid');
    expect(client.GenerateSecret).toBe(false);
    expect(client.EnableTokenRevocation).toBe(true);
    expect(client.PreventUserExistenceErrors).toBe('ENABLED');
    expect(client.ExplicitAuthFlows).toEqual(expect.arrayContaining(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']));
  });

  it('keeps the trigger inside Cognito 5 s budget', () => {
    const fn = model.functions.find((f) => f.logicalId === 'PostConfirmationFunction')!;
    expect(fn.timeoutSeconds).toBeLessThan(5);
  });
});

describe('REST API', () => {
  const api = model.apis[0]!;
  const publicPaths = ['GET /health', 'GET /plans', ...['sign-up', 'confirm', 'sign-in', 'refresh', 'sign-out', 'forgot-password', 'reset-password'].map((p) => `POST /auth/${p}`)];
  // Account management: the ID token alone, so it never spends the customer's quota (a stage throttle guards it).
  const tokenOnlyPaths = [
    'GET /me', 'GET /me/api-key', 'POST /me/api-key/rotate', 'DELETE /me/api-key/previous', 'GET /me/usage', 'GET /me/billing', 'POST /me/plan', 'GET /me/plan-changes/{executionId}', 'DELETE /me',
  ];

  it('puts the Cognito authorizer on /me*, and on the data API KeyAuthorizer (Lambda, key source AUTHORIZER) and the API key (its functions verify the ID token)', () => {
    expect(api.apiKeySource).toBe('AUTHORIZER');
    expect(api.routes.length).toBeGreaterThan(publicPaths.length);
    for (const route of api.routes) {
      const key = `${route.method} ${route.path}`;
      if (tokenOnlyPaths.includes(key)) {
        expect({ key, authorizer: route.authorizer, apiKeyRequired: route.apiKeyRequired }).toEqual({ key, authorizer: 'cognito', apiKeyRequired: false });
      } else if (publicPaths.includes(key)) {
        expect({ key, authorizer: route.authorizer, apiKeyRequired: route.apiKeyRequired }).toEqual({ key, authorizer: 'none', apiKeyRequired: false });
      } else {
        expect({ key, authorizer: route.authorizer, apiKeyRequired: route.apiKeyRequired }).toEqual({ key, authorizer: 'lambda', apiKeyRequired: true });
        // KeyMode ApiGateway (default): the key passed through, cached per key value for 300 s.
        expect(route.lambdaAuthorizer).toEqual({ name: 'KeyAuthorizer', functionName: 'KeyAuthorizerFunction', identityHeaders: ['X-Api-Key'], identityQueryStrings: [], ttlSeconds: 300 });
        // DataApiAuth reaches the function: it decides whether the ID token is checked (functions/shared/caller.ts).
        const fn = model.functions.find((f) => f.logicalId === route.functionName);
        expect({ key, mode: fn?.environment.DATA_API_AUTH, pool: fn?.environment.USER_POOL_ID }).toEqual({ key, mode: 'IdTokenAndApiKey', pool: expect.any(String) });
      }
    }
  });

  it('serves every route the product promises', () => {
    const routes = api.routes.map((r) => `${r.method} ${r.path}`).sort();
    expect(routes).toEqual(
      [
        'GET /health', 'GET /plans', 'GET /me', 'DELETE /me',
        'POST /links', 'GET /links', 'GET /links/{id}', 'DELETE /links/{id}',
        'POST /tags', 'GET /tags', 'GET /tags/{id}', 'DELETE /tags/{id}', 'POST /taglinks', 'GET /tags/{id}/links',
        'POST /me/plan', 'GET /me/plan-changes/{executionId}',
        'GET /me/api-key', 'POST /me/api-key/rotate', 'DELETE /me/api-key/previous', 'GET /me/usage', 'GET /me/billing',
        ...['sign-up', 'confirm', 'sign-in', 'refresh', 'sign-out', 'forgot-password', 'reset-password'].map((p) => `POST /auth/${p}`),
      ].sort(),
    );
  });

  it('answers CORS preflight without auth and puts CORS headers on gateway errors', () => {
    const auth = props('Api').Auth as Record<string, unknown>;
    expect(auth.AddDefaultAuthorizerToCorsPreflight).toBe(false);
    expect(auth.AddApiKeyRequiredToCorsPreflight).toBe(false);
    expect(api.cors?.allowHeaders).toMatch(/X-Api-Key/i);
    expect(api.gatewayResponseHeaders.DEFAULT_4XX?.['Access-Control-Allow-Origin']).toBe('*');
    expect(api.gatewayResponseHeaders.DEFAULT_5XX?.['Access-Control-Allow-Origin']).toBe('*');
  });

  it('has a bundle entry point on disk for every function', () => {
    for (const fn of buildStackModel(template, { ...base, parameterOverrides: { AutoConfirmSignUp: 'true' } }).functions) {
      for (const entry of fn.build.entryPoints) expect(existsSync(join(root, entry))).toBe(true);
      expect(fn.runtime).toBe('nodejs22.x');
    }
  });
});

describe('usage plans', () => {
  it('defines free, basic and pro on the API stage, with limits from parameters', () => {
    const plans = Object.fromEntries(model.usagePlans.map((p) => [p.tags['tollgate:plan'], p]));
    expect(Object.keys(plans).sort()).toEqual(['basic', 'free', 'pro']);
    for (const plan of model.usagePlans) {
      expect(plan.apiStages).toEqual([{ apiId: model.apis[0]!.id, stage: 'v1' }]);
    }
    const overridden = buildStackModel(template, { ...base, parameterOverrides: { FreeRateLimit: '7', FreeQuotaLimit: '42', FreeQuotaPeriod: 'DAY' } });
    const free = overridden.usagePlans.find((p) => p.tags['tollgate:plan'] === 'free')!;
    expect(free.throttle?.rateLimit).toBe(7);
    expect(free.quota).toMatchObject({ limit: 42, period: 'DAY' });
  });
});

describe('onboarding state machine', () => {
  const machine = model.stateMachines.find((m) => m.logicalId === 'OnboardingStateMachine')!;
  const text = JSON.stringify(machine.definition);

  it('is a Standard workflow whose name matches the ARN the trigger is given', () => {
    expect(machine.type).toBe('STANDARD');
    const trigger = model.functions.find((f) => f.logicalId === 'PostConfirmationFunction')!;
    expect(trigger.environment.ONBOARDING_STATE_MACHINE_ARN).toBe(machine.arn);
  });

  it('resolves every substitution to a resource of the template', () => {
    const raw = readFileSync(join(root, String(props('OnboardingStateMachine').DefinitionUri)), 'utf8');
    const used = new Set([...raw.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
    const declared = Object.keys(props('OnboardingStateMachine').DefinitionSubstitutions as object);
    expect([...used].sort()).toEqual([...declared].sort());
    expect(text).toContain(model.usagePlans.find((p) => p.logicalId === 'FreeUsagePlan')!.id);
    expect(text).toContain(model.outputs.UserPoolId);
    expect(text).toContain(model.tables.find((t) => t.logicalId === 'AccountsTable')!.name);
    expect(text).toContain(model.tables.find((t) => t.logicalId === 'BillingTable')!.name);
    expect(text).not.toMatch(/\$\{/);
  });

  it('retries only transient errors, with capped backoff', () => {
    const states = machine.definition.States as Record<string, { Retry?: { ErrorEquals: string[]; MaxDelaySeconds?: number; MaxAttempts?: number }[] }>;
    for (const [name, state] of Object.entries(states)) {
      for (const retrier of state.Retry ?? []) {
        expect({ name, all: retrier.ErrorEquals.some((e) => e === 'States.ALL' || e === 'States.TaskFailed') }).toEqual({ name, all: false });
        expect(retrier.MaxDelaySeconds).toBeDefined();
        expect(retrier.MaxAttempts).toBeLessThanOrEqual(10);
      }
    }
  });

  it('finds or creates the key through ApiKeyFunction and keeps only its id', () => {
    const create = (machine.definition.States as Record<string, { Resource?: string; ResultSelector?: object }>).CreateApiKey!;
    expect(create.Resource).toBe('arn:aws:states:::lambda:invoke');
    expect(create.ResultSelector).toEqual({ 'Id.$': '$.Payload.Id' });
  });
});

/**
 * API Gateway's IAM for a management API call: `apigateway:<HTTP verb>` on `arn:<partition>:apigateway:<region>::<path>`
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-create-and-manage-api.html),
 * the verb and path of the operation's REST request (API reference "Request Syntax", e.g. DeleteUsagePlanKey: DELETE
 * /usageplans/{usagePlanId}/keys/{keyId}) as the SDK's service model states them.
 */
function apiGatewayRequest(action: string): { verb: string; path: string } {
  const schema = (apigateway as unknown as Record<string, unknown>)[`${action.charAt(0).toUpperCase()}${action.slice(1)}$`] as [number, string, string, { http: [string, string] }];
  const [verb, path] = schema[3].http;
  return { verb, path };
}

/** Every Task state of a definition, Map and Parallel states' inner ones included. */
function taskStates(definition: unknown): { Resource: string; Parameters?: Record<string, unknown> }[] {
  const tasks: { Resource: string; Parameters?: Record<string, unknown> }[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const v = value as Record<string, unknown>;
      if (v.Type === 'Task' && typeof v.Resource === 'string') tasks.push(v as (typeof tasks)[number]);
      Object.values(v).forEach(walk);
    }
  };
  walk(definition);
  return tasks;
}

describe('API Gateway IAM for a management call', () => {
  it('is read from the service model as the API reference states it', () => {
    expect(['createApiKey', 'deleteApiKey', 'updateApiKey', 'deleteUsagePlanKey'].map(apiGatewayRequest)).toEqual([
      { verb: 'POST', path: '/apikeys' },
      { verb: 'DELETE', path: '/apikeys/{apiKey}' },
      { verb: 'PATCH', path: '/apikeys/{apiKey}' },
      { verb: 'DELETE', path: '/usageplans/{usagePlanId}/keys/{keyId}' },
    ]);
  });
});

describe.each(['OnboardingStateMachine', 'PlanChangeStateMachine', 'OffboardingStateMachine', 'BillingCloseStateMachine'])('%s', (logicalId) => {
  const machine = model.stateMachines.find((m) => m.logicalId === logicalId)!;
  const text = JSON.stringify(machine.definition);
  const statements = ((props(logicalId).Policies as { Statement?: { Action: string[] | string }[] }[]).flatMap((p) => p.Statement ?? [])).flatMap((s) =>
    Array.isArray(s.Action) ? s.Action : [s.Action],
  );

  it('is a Standard workflow with a fixed name and every substitution resolved', () => {
    expect(machine.type).toBe('STANDARD');
    expect(machine.name).toMatch(/^tg-/);
    expect(text).not.toMatch(/\$\{/);
  });

  it('calls AWS only through direct integrations its policy allows', () => {
    const resources = [...text.matchAll(/"Resource":"([^"]+)"/g)].map((m) => m[1]!);
    expect(resources.length).toBeGreaterThan(0);
    const upper = (action: string) => `${action.charAt(0).toUpperCase()}${action.slice(1)}`;
    for (const resource of resources) {
      const cognito = /aws-sdk:cognitoidentityprovider:(\w+)$/.exec(resource);
      if (cognito) expect(statements).toContain(`cognito-idp:${upper(cognito[1]!)}`);
      const dynamo = /(?::::dynamodb:|aws-sdk:dynamodb:)(\w+)$/.exec(resource);
      if (dynamo) expect(statements).toContain(`dynamodb:${upper(dynamo[1]!)}`);
      if (resource.startsWith('arn:aws:states:::states:startExecution')) expect(statements).toContain('states:StartExecution');
      // .sync waits through an EventBridge managed rule and DescribeExecution (AWS's policy for synchronous nesting).
      if (/:startExecution\.sync/.test(resource)) {
        expect(statements).toEqual(expect.arrayContaining(['states:DescribeExecution', 'states:StopExecution', 'events:PutTargets', 'events:PutRule', 'events:DescribeRule']));
      }
      if (resource === 'arn:aws:states:::lambda:invoke') {
        const policies = props(logicalId).Policies as Record<string, unknown>[];
        expect(policies.some((p) => 'LambdaInvokePolicy' in p)).toBe(true);
      }
    }
  });

  /**
   * Each direct API Gateway call is allowed exactly: its verb on its path, with a literal path parameter as it is, a
   * usage plan id read from the state as any of the stack's plans, any other one read from the state as `*`; and the
   * role allows no API Gateway call beyond those.
   */
  it('is allowed exactly the API Gateway calls its tasks make', () => {
    type Statement = { Effect: string; Action: string | string[]; Resource: string | string[] };
    const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
    const granted = (resolveValue(props(logicalId).Policies, model.context) as { Statement?: Statement[] }[]).flatMap((p) => p.Statement ?? []);
    const arn = (path: string) => `arn:aws:apigateway:${base.region}::${path}`;
    const needed = taskStates(machine.definition).flatMap((task) => {
      const action = /aws-sdk:apigateway:(\w+)$/.exec(task.Resource)?.[1];
      if (action === undefined) return [];
      const { verb, path } = apiGatewayRequest(action);
      let paths = [path];
      for (const [placeholder, name] of path.matchAll(/\{(\w+)\}/g)) {
        const key = `${name!.charAt(0).toUpperCase()}${name!.slice(1)}`;
        const literal = task.Parameters?.[key];
        const values = typeof literal === 'string' ? [literal] : name === 'usagePlanId' ? model.usagePlans.map((p) => p.id) : ['*'];
        expect({ action, key, given: typeof literal === 'string' || typeof task.Parameters?.[`${key}.$`] === 'string' }).toEqual({ action, key, given: true });
        paths = paths.flatMap((p) => values.map((v) => p.replace(placeholder, v)));
      }
      return paths.map((p) => `apigateway:${verb} ${arn(p)}`);
    });
    const allowedByRole = granted
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) => list(s.Action).flatMap((action) => list(s.Resource).map((resource) => `${action} ${resource}`)))
      .filter((pair) => pair.startsWith('apigateway:'));
    expect([...new Set(allowedByRole)].sort()).toEqual([...new Set(needed)].sort());
  });

  // Step Functions keeps every task's raw result in the execution history, whatever ResultSelector says: an API Gateway
  // call whose answer holds a key value (CreateApiKey, CreateUsagePlanKey, GetUsagePlanKey(s), GetApiKey(s) with
  // values) must go through ApiKeyFunction instead. UpdateApiKey answers without the value (the API reference's
  // response syntax lists it, but the service team calls that a documentation error: github.com/aws/aws-sdk/issues/560).
  it('makes no direct API Gateway call whose answer holds a key value', () => {
    for (const task of taskStates(machine.definition)) {
      const action = /aws-sdk:apigateway:(\w+)$/.exec(task.Resource)?.[1];
      if (action === undefined) continue;
      if (action === 'getApiKey' || action === 'getApiKeys') {
        expect({ action, includeValue: task.Parameters?.IncludeValue ?? task.Parameters?.IncludeValues ?? false }).toEqual({ action, includeValue: false });
      } else {
        expect(['deleteApiKey', 'deleteUsagePlanKey', 'getUsage', 'getUsagePlan', 'getUsagePlans', 'updateApiKey']).toContain(action);
      }
    }
  });

  it('retries only transient errors, with capped backoff', () => {
    type Retrier = { ErrorEquals: string[]; MaxDelaySeconds?: number; MaxAttempts?: number };
    const retriers: Retrier[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (k === 'Retry') retriers.push(...(v as Retrier[]));
          else walk(v);
        }
      }
    };
    walk(machine.definition);
    expect(retriers.length).toBeGreaterThan(0);
    for (const retrier of retriers) {
      expect(retrier.ErrorEquals).not.toEqual(expect.arrayContaining(['States.ALL']));
      expect(retrier.ErrorEquals).not.toEqual(expect.arrayContaining(['States.TaskFailed']));
      expect(retrier.MaxDelaySeconds).toBeDefined();
      expect(retrier.MaxAttempts).toBeLessThanOrEqual(10);
    }
  });
});

describe('plan-change workflow', () => {
  const machine = model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
  it('knows every plan by its usage plan id and the function that starts it has its ARN', () => {
    const text = JSON.stringify(machine.definition);
    for (const plan of model.usagePlans) expect(text).toContain(plan.id);
    const fn = model.functions.find((f) => f.logicalId === 'AccountFunction')!;
    expect(fn.environment.PLAN_CHANGE_STATE_MACHINE_ARN).toBe(machine.arn);
  });
  it('runs the billing close monthly (not simulated offline, listed as such)', () => {
    expect(model.notSimulated.join(' ')).toMatch(/BillingCloseStateMachine\.MonthlyClose/);
  });
});

describe('IAM', () => {
  it('uses "*" only for actions that have no resource-level permissions', () => {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const policies = (
        resource.Type === 'AWS::IAM::ManagedPolicy'
          ? [resource.Properties?.PolicyDocument]
          : resource.Type.startsWith('AWS::Serverless::')
            ? (resource.Properties?.Policies ?? [])
            : []
      ) as { Statement?: { Sid?: string; Resource: unknown }[] }[];
      for (const policy of policies) {
        for (const statement of policy.Statement ?? []) {
          if (statement.Resource === '*') expect({ logicalId, sid: statement.Sid }).toEqual({ logicalId, sid: expect.stringMatching(/^(LogDelivery|Tracing)$/) });
        }
      }
    }
  });
});

describe('outputs', () => {
  it('exposes what clients and tests need', () => {
    expect(Object.keys(model.outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'UserPoolId', 'UserPoolClientId', 'OnboardingStateMachineArn', 'AccountsTableName', 'BillingTableName', 'ResourcesTableName', 'IdempotencyTableName', 'FreeUsagePlanId', 'BasicUsagePlanId', 'ProUsagePlanId']),
    );
  });
});

describe('template loader', () => {
  it('fails loudly, naming the construct, on what the offline stack does not support', () => {
    const withQueue: Template = { ...template, Resources: { ...template.Resources, Queue: { Type: 'AWS::SQS::Queue', Properties: {} } } };
    expect(() => buildStackModel(withQueue, base)).toThrow(/Queue has type AWS::SQS::Queue/);
    const withImport: Template = {
      ...template,
      Outputs: { Bad: { Value: { 'Fn::ImportValue': 'x' } } },
    };
    expect(() => buildStackModel(withImport, base)).toThrow(/Fn::ImportValue is not supported/);
  });

  it('rejects parameter overrides that are not parameters or not allowed', () => {
    expect(() => buildStackModel(template, { ...base, parameterOverrides: { Nope: '1' } })).toThrow(/Nope is not a template parameter/);
    expect(() => buildStackModel(template, { ...base, parameterOverrides: { FreeQuotaPeriod: 'YEAR' } })).toThrow(/FreeQuotaPeriod=YEAR/);
  });
});
