/**
 * Fidelity safety net (issue 10, item 6): the offline stack's model of template.yaml against what AWS's own SAM
 * translator makes of it (`../shared/tools/sam-translate`, the CloudFormation `sam deploy` creates). Compared
 * generically, resource by resource of the translator's output, so a function, route or state machine added later is
 * covered without touching this file:
 *   - API stages (the StageName stage, and the stage a deployment names: SAM's implicit `Stage`) and their method
 *     throttles;
 *   - routes (method, path, function) and their auth: Cognito or Lambda authorizer, API key required;
 *   - usage plans: name, throttle, quota, and the API stages they bind;
 *   - functions: handler, runtime, memory, timeout and the resolved environment;
 *   - schedules: name, expression, time zone, state, target;
 *   - state machines: name, type, and the definition with the translator's DefinitionSubstitutions applied.
 * A resource type the translator emits that is neither compared nor known to need no offline counterpart fails too.
 * Both sides are resolved with the same parameters (defaults, and AutoConfirmSignUp=true so conditional resources are
 * there) through the model's own Ref / GetAtt. Without python3 + cfn-lint or ../shared/tools it skips with a warning
 * (fails in CI): tests/support/aws-tools.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStackModel, type StackModel } from '../../local/model.ts';
import { activeResources, loadTemplate, resolveValue, type ResolveContext, type Template } from '../../local/template.ts';
import { describeWithAwsTools, projectRoot, runAwsTool } from '../support/aws-tools.ts';

type Resources = Template['Resources'];
type Obj = Record<string, unknown>;

const templatePath = join(projectRoot, 'template.yaml');
const template = loadTemplate(templatePath);

/** Translated resource types with no offline counterpart to compare (IAM is not enforced offline; logs go to the console). */
const NO_OFFLINE_COUNTERPART = new Set(['AWS::IAM::Role', 'AWS::IAM::ManagedPolicy', 'AWS::Lambda::Permission', 'AWS::Logs::LogGroup']);
const COMPARED = new Set([
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Stage',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::UsagePlan',
  'AWS::Lambda::Function',
  'AWS::Scheduler::Schedule',
  'AWS::StepFunctions::StateMachine',
  'AWS::DynamoDB::Table',
  'AWS::Cognito::UserPool',
  'AWS::Cognito::UserPoolClient',
  'AWS::ApiGateway::ApiKey',
  'AWS::ApiGateway::UsagePlanKey',
]);

const byKey = <T>(items: T[]): T[] => [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
/** A method setting's ResourcePath as API Gateway writes it: "/" then the resource path with "~" as "~0", "/" as "~1". */
const settingPath = (path: string) => (path === '*' ? '/*' : `/${path.replace(/~/g, '~0').replace(/\//g, '~1')}`);

/** Resolves the translator's values with the model's parameters, conditions and physical ids. */
function translatedContext(model: StackModel, translated: Resources): ResolveContext {
  const base = model.context;
  const own = (id: string) => template.Resources[id] !== undefined;
  const ctx: ResolveContext = {
    ...base,
    ref: (name) => {
      if (own(name.split('.')[0] as string)) return base.ref(name);
      const resource = translated[name];
      // Resources SAM generates: a stage is referred to by its name; roles and deployments by a readable placeholder.
      if (resource?.Type === 'AWS::ApiGateway::Stage') return String(resolveValue(resource.Properties?.StageName, ctx));
      return `generated:${name}`;
    },
    getAtt: (id, attribute) => (own(id) ? base.getAtt(id, attribute) : `generated:${id}.${attribute}`),
  };
  return ctx;
}

function compare(translatedTemplate: Template, overrides: Record<string, string>): void {
  const model = buildStackModel(template, { templatePath, stackName: 'fidelity', region: 'us-east-1', accountId: '123456789012', parameterOverrides: overrides });
  const ctx = translatedContext(model, translatedTemplate.Resources);
  const r = <T = unknown>(value: unknown): T => resolveValue(value, ctx) as T;
  const resources = activeResources(translatedTemplate, ctx.conditions);
  const ofType = (type: string) => Object.entries(resources).filter(([, res]) => res.Type === type) as [string, { Properties: Obj; DependsOn?: unknown }][];
  const apiLogicalIdOf = (id: string) => model.apis.find((a) => a.id === id)?.logicalId ?? `unknown api ${id}`;

  // Every translated type is compared below or knowingly has no offline counterpart.
  const unknownTypes = [...new Set(Object.values(resources).map((res) => res.Type))].filter((type) => !COMPARED.has(type) && !NO_OFFLINE_COUNTERPART.has(type));
  expect(unknownTypes).toEqual([]);

  // Stages: declared stages, and the stage a deployment creates by naming one (SAM's implicit `Stage`).
  const translatedStages = [
    ...ofType('AWS::ApiGateway::Stage').map(([, res]) => ({
      api: (res.Properties.RestApiId as { Ref: string }).Ref,
      name: r<string>(res.Properties.StageName),
      throttles: byKey(
        (r<Obj[] | undefined>(res.Properties.MethodSettings) ?? [])
          .filter((m) => m.ThrottlingRateLimit !== undefined || m.ThrottlingBurstLimit !== undefined)
          .map((m) => ({ path: String(m.ResourcePath), method: String(m.HttpMethod), rate: Number(m.ThrottlingRateLimit), burst: Number(m.ThrottlingBurstLimit) })),
      ),
    })),
    ...ofType('AWS::ApiGateway::Deployment')
      .filter(([, res]) => res.Properties.StageName !== undefined)
      .map(([, res]) => ({ api: (res.Properties.RestApiId as { Ref: string }).Ref, name: r<string>(res.Properties.StageName), throttles: [] })),
  ];
  const modelStages = model.apis.flatMap((api) =>
    api.stages.map((stage) => ({
      api: api.logicalId,
      name: stage.name,
      throttles: byKey(stage.methodThrottles.map((t) => ({ path: settingPath(t.path), method: t.method, rate: t.rateLimit, burst: t.burstLimit }))),
    })),
  );
  expect(byKey(modelStages)).toEqual(byKey(translatedStages));

  // Routes and their auth, from the OpenAPI body SAM generates (CORS preflights are its MOCK OPTIONS methods).
  const translatedRoutes = ofType('AWS::ApiGateway::RestApi').flatMap(([api, res]) => {
    const body = res.Properties.Body as { paths: Record<string, Record<string, Obj>>; components?: { securitySchemes?: Record<string, Obj> }; securityDefinitions?: Record<string, Obj> };
    const schemes = body.components?.securitySchemes ?? body.securityDefinitions ?? {};
    return Object.entries(body.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => (op['x-amazon-apigateway-integration'] as Obj | undefined)?.type === 'aws_proxy')
        .map(([method, op]) => {
          const uri = JSON.stringify((op['x-amazon-apigateway-integration'] as Obj).uri);
          const names = ((op.security as Obj[] | undefined) ?? []).flatMap((s) => Object.keys(s));
          return {
            api,
            method: method === 'x-amazon-apigateway-any-method' ? 'ANY' : method.toUpperCase(),
            path,
            function: /\$\{(\w+)\.Arn\}/.exec(uri)?.[1] ?? uri,
            // SAM writes a Lambda authorizer as authtype `custom` (x-amazon-apigateway-authorizer type request/token).
            authorizer: names.some((n) => schemes[n]?.['x-amazon-apigateway-authtype'] === 'cognito_user_pools')
              ? 'cognito'
              : names.some((n) => schemes[n]?.['x-amazon-apigateway-authtype'] === 'custom')
                ? 'lambda'
                : 'none',
            apiKeyRequired: names.some((n) => schemes[n]?.type === 'apiKey' && String(schemes[n]?.name).toLowerCase() === 'x-api-key' && !schemes[n]?.['x-amazon-apigateway-authtype']),
          };
        }),
    );
  });
  const modelRoutes = model.apis.flatMap((api) =>
    api.routes.map((route) => ({ api: api.logicalId, method: route.method, path: route.path, function: route.functionName, authorizer: route.authorizer, apiKeyRequired: route.apiKeyRequired })),
  );
  expect(byKey(modelRoutes)).toEqual(byKey(translatedRoutes));

  // Usage plans and the stages they bind.
  const translatedPlans = ofType('AWS::ApiGateway::UsagePlan').map(([id, res]) => {
    const p = r<Obj>(res.Properties);
    const throttle = p.Throttle as Obj | undefined;
    const quota = p.Quota as Obj | undefined;
    return {
      id,
      name: String(p.UsagePlanName),
      stages: byKey(((res.Properties.ApiStages as Obj[] | undefined) ?? []).map((s) => ({ api: (s.ApiId as { Ref: string }).Ref, stage: r<string>(s.Stage) }))),
      throttle: throttle ? { rate: Number(throttle.RateLimit), burst: Number(throttle.BurstLimit) } : null,
      quota: quota ? { limit: Number(quota.Limit), period: String(quota.Period) } : null,
    };
  });
  const modelPlans = model.usagePlans.map((plan) => ({
    id: plan.logicalId,
    name: plan.name,
    stages: byKey(plan.apiStages.map((s) => ({ api: apiLogicalIdOf(s.apiId), stage: s.stage }))),
    throttle: plan.throttle ? { rate: plan.throttle.rateLimit, burst: plan.throttle.burstLimit } : null,
    quota: plan.quota ? { limit: plan.quota.limit, period: plan.quota.period } : null,
  }));
  expect(byKey(modelPlans)).toEqual(byKey(translatedPlans));

  // API keys the template declares (KeyMode SelfIssued's backstop key) and the plans their usage plan keys name.
  const planKeys = ofType('AWS::ApiGateway::UsagePlanKey').map(([, res]) => ({ key: (res.Properties.KeyId as { Ref: string }).Ref, plan: (res.Properties.UsagePlanId as { Ref: string }).Ref }));
  const translatedKeys = ofType('AWS::ApiGateway::ApiKey').map(([id, res]) => {
    const p = r<Obj>(res.Properties);
    return { id, name: String(p.Name), enabled: p.Enabled === true, value: p.Value === undefined ? null : String(p.Value), plans: planKeys.filter((k) => k.key === id).map((k) => k.plan).sort() };
  });
  const planLogicalId = (planId: string) => model.usagePlans.find((plan) => plan.id === planId)?.logicalId ?? `unknown plan ${planId}`;
  const modelKeys = model.apiKeys.map((k) => ({ id: k.logicalId, name: k.name, enabled: k.enabled, value: k.value ?? null, plans: k.usagePlanIds.map(planLogicalId).sort() }));
  expect(byKey(modelKeys)).toEqual(byKey(translatedKeys));

  // Functions and their environment.
  const translatedFunctions = ofType('AWS::Lambda::Function').map(([id, res]) => {
    const p = r<Obj>(res.Properties);
    const variables = ((p.Environment as { Variables?: Obj } | undefined)?.Variables ?? {}) as Obj;
    return {
      id,
      handler: String(p.Handler),
      runtime: String(p.Runtime),
      memory: Number(p.MemorySize ?? 128),
      timeout: Number(p.Timeout ?? 3),
      environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
    };
  });
  const modelFunctions = model.functions.map((fn) => ({
    id: fn.logicalId,
    handler: `${fn.handlerFile}.${fn.handlerExport}`,
    runtime: fn.runtime,
    memory: fn.memoryMb,
    timeout: fn.timeoutSeconds,
    environment: fn.environment,
  }));
  expect(byKey(modelFunctions)).toEqual(byKey(translatedFunctions));

  // Schedules.
  const targetOf = (arn: unknown) => {
    const ref = arn as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    return ref.Ref ?? ref['Fn::GetAtt']?.[0] ?? JSON.stringify(arn);
  };
  const translatedSchedules = ofType('AWS::Scheduler::Schedule').map(([id, res]) => ({
    id,
    target: targetOf((res.Properties.Target as Obj).Arn),
    name: r<string>(res.Properties.Name),
    expression: r<string>(res.Properties.ScheduleExpression),
    timezone: res.Properties.ScheduleExpressionTimezone === undefined ? null : r<string>(res.Properties.ScheduleExpressionTimezone),
    state: res.Properties.State === undefined ? 'ENABLED' : r<string>(res.Properties.State),
  }));
  const modelSchedules = model.schedules.map((s) => ({
    id: s.logicalId,
    target: s.target,
    name: s.name,
    expression: s.scheduleExpression,
    timezone: s.scheduleExpressionTimezone ?? null,
    state: s.state,
  }));
  expect(byKey(modelSchedules)).toEqual(byKey(translatedSchedules));

  // State machines: the definition file with the translator's substitutions is the definition the model runs.
  const translatedMachines = ofType('AWS::StepFunctions::StateMachine').map(([id, res]) => {
    const substitutions = r<Obj | undefined>(res.Properties.DefinitionSubstitutions) ?? {};
    const uri = template.Resources[id]?.Properties?.DefinitionUri;
    const text = typeof uri === 'string' ? readFileSync(join(projectRoot, uri), 'utf8') : JSON.stringify(res.Properties.Definition);
    const definition = JSON.parse(text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => (name in substitutions ? String(substitutions[name]) : whole))) as unknown;
    return { id, name: r<string>(res.Properties.StateMachineName), type: String(res.Properties.StateMachineType ?? 'STANDARD'), definition };
  });
  const modelMachines = model.stateMachines.map((m) => ({ id: m.logicalId, name: m.name, type: m.type, definition: m.definition }));
  expect(byKey(modelMachines)).toEqual(byKey(translatedMachines));

  // Resources both sides simply have: tables, user pools, app clients.
  const ids = (type: string) => ofType(type).map(([id]) => id).sort();
  expect(model.tables.map((t) => t.logicalId).sort()).toEqual(ids('AWS::DynamoDB::Table'));
  expect(model.userPools.map((p) => p.logicalId).sort()).toEqual(ids('AWS::Cognito::UserPool'));
  expect(model.userPoolClients.map((c) => c.logicalId).sort()).toEqual(ids('AWS::Cognito::UserPoolClient'));
}

describeWithAwsTools('the offline model against the AWS SAM translator', () => {
  // The translator sees template.yaml as CloudFormation hands it over (SAM is its only transform): one translation,
  // whose parameters and conditions CloudFormation resolves at deploy, compared with the model of each parameter set.
  let translated: Template;
  beforeAll(() => {
    const run = runAwsTool('sam-translate', [templatePath], 120_000);
    if (run.status !== 0) throw new Error(`sam-translate failed: ${run.stderr}`);
    translated = JSON.parse(run.stdout) as Template;
  }, 130_000);

  it.each([
    ['default parameters', {}],
    ['AutoConfirmSignUp=true, an SES sender, other limits', { AutoConfirmSignUp: 'true', SesSourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/example.com', AuthRateLimit: '3', FreeQuotaLimit: '50' }],
    ['DataApiAuth=ApiKey (key-only data API)', { DataApiAuth: 'ApiKey' }],
    ['KeyMode=SelfIssued (self-issued keys, the backstop usage plan)', { KeyMode: 'SelfIssued' }],
  ])('agree on stages, routes and auth, usage plans, functions, schedules and state machines (%s)', (_name, overrides) => {
    compare(translated, overrides);
  }, 130_000);

  it('catches a difference: the model of a template the translator never saw disagrees', () => {
    const drifted = JSON.parse(JSON.stringify(translated)) as Template;
    const stage = Object.values(drifted.Resources).find((res) => res.Type === 'AWS::ApiGateway::Deployment');
    (stage!.Properties as Obj).StageName = 'Stage';
    expect(() => compare(drifted, {})).toThrow();
  });

  it('catches a difference: a data method the translator gives the Cognito authorizer disagrees with the model', () => {
    // Both DataApiAuth modes deploy the same methods (KeyAuthorizer on the data API), so the drift is made by hand.
    const drifted = JSON.parse(JSON.stringify(translated)) as Template;
    const api = Object.values(drifted.Resources).find((res) => res.Type === 'AWS::ApiGateway::RestApi');
    const links = ((api!.Properties as Obj).Body as { paths: Record<string, Record<string, Obj>> }).paths['/links']!;
    links.get!.security = [{ CognitoAuthorizer: [] }, { api_key: [] }];
    expect(() => compare(drifted, {})).toThrow();
    expect(() => compare(drifted, { DataApiAuth: 'ApiKey' })).toThrow();
  });
});
