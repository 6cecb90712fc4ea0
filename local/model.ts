// Over 400 lines: one pass over the template resolves every resource the offline parts need, sharing one resolve context.
/**
 * The stack as the offline parts need it, built from template.yaml: functions with resolved environments, the REST
 * API's routes, usage plans, tables, Cognito pool/client properties and state machines with DefinitionSubstitutions
 * applied. Physical ids are deterministic from the stack name (so a restart finds its state again), except
 * Cognito's, which cognito-local assigns and the stack passes in.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  TemplateError,
  activeResources,
  evaluateConditions,
  isNoValue,
  loadTemplate,
  pseudoParameters,
  resolveParameters,
  resolveValue,
  unquote,
  withFunctionGlobals,
  type JsonObject,
  type ResolveContext,
  type Template,
} from './template.ts';
import { isLambdaAuthorizer, lambdaAuthorizerSpec } from './authorizers.ts';
import { stableId } from './ids.ts';
import type { CorsSpec, QuotaPeriod, RouteSpec, StateMachineSpec, TemplateApiKeySpec, UsagePlanSpec } from './types.ts';

export interface BuildProperties {
  entryPoints: string[];
  minify: boolean;
  target: string;
  sourcemap: boolean;
  external: string[];
  format: 'cjs' | 'esm';
}

export interface FunctionModel {
  logicalId: string;
  name: string;
  arn: string;
  /** File name and export of the handler inside the bundle (`handler.handler` → handler.js, export handler). */
  handlerFile: string;
  handlerExport: string;
  build: BuildProperties;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  runtime: string;
}

export interface ApiModel {
  logicalId: string;
  id: string;
  /** The Api's StageName: where the template's MethodSettings apply and usage plans bind (`!Ref Api.Stage`). */
  stage: string;
  /**
   * Every stage SAM creates for the Api, StageName first. Without OpenApiVersion SAM's translator also gives the
   * deployment a second stage named `Stage` (same routes, authorizers and API key requirement, but no MethodSettings
   * and no usage plan). Source: the translator (samtranslator/model/api/api_generator.py `_construct_deployment`:
   * `if not self.remove_extra_stage: deployment.StageName = "Stage"`, `remove_extra_stage = open_api_version`) and
   * the SAM docs (AWS::Serverless::Api, OpenApiVersion: "Setting this property to any valid value will also remove
   * the stage Stage that SAM creates").
   */
  stages: ApiStageModel[];
  routes: RouteSpec[];
  cors?: CorsSpec;
  gatewayResponseHeaders: { DEFAULT_4XX?: Record<string, string>; DEFAULT_5XX?: Record<string, string> };
  /** Logical ids of the user pools behind its Cognito authorizers. */
  authorizerPools: string[];
  /** Stage-level MethodSettings throttles ("*" matches any path or method), shared by all callers. */
  methodThrottles: MethodThrottle[];
  /** The Api's ApiKeySourceType: HEADER (default) or AUTHORIZER (a Lambda authorizer's usageIdentifierKey). */
  apiKeySource: 'HEADER' | 'AUTHORIZER';
}

export interface ApiStageModel {
  name: string;
  /** False for the `Stage` stage SAM adds through the deployment. */
  declared: boolean;
  /** This stage's MethodSettings throttles (none on SAM's implicit `Stage`). */
  methodThrottles: MethodThrottle[];
}

export interface MethodThrottle {
  path: string;
  method: string;
  rateLimit: number;
  burstLimit: number;
}

export interface TableModel {
  logicalId: string;
  name: string;
  arn: string;
  properties: JsonObject;
}

export interface UserPoolModel {
  logicalId: string;
  properties: JsonObject;
  /** Logical ids of the functions wired as triggers, by trigger name (PostConfirmation, PreSignUp, …). */
  triggers: Record<string, string>;
}

export interface UserPoolClientModel {
  logicalId: string;
  poolLogicalId: string;
  properties: JsonObject;
}

export interface StackModel {
  stackName: string;
  region: string;
  accountId: string;
  templateDir: string;
  parameters: Record<string, string>;
  conditions: Record<string, boolean>;
  functions: FunctionModel[];
  apis: ApiModel[];
  usagePlans: (UsagePlanSpec & { logicalId: string })[];
  /** AWS::ApiGateway::ApiKey resources, with the plans their AWS::ApiGateway::UsagePlanKey resources name. */
  apiKeys: (TemplateApiKeySpec & { logicalId: string })[];
  tables: TableModel[];
  userPools: UserPoolModel[];
  userPoolClients: UserPoolClientModel[];
  stateMachines: StateMachineSpec[];
  schedules: ScheduleModel[];
  outputs: Record<string, string>;
  /** Resources the template declares that have no offline counterpart and need none (log groups, permissions). */
  ignored: { logicalId: string; type: string }[];
  /** Function events that are not simulated offline (e.g. schedules), named so people know. */
  notSimulated: string[];
  /**
   * How this model resolved the template: parameters, conditions, and Ref / GetAtt of the stack's physical ids. For
   * resolving other documents about the same stack (the fidelity test resolves the SAM translator's output with it).
   */
  context: ResolveContext;
}

/**
 * An EventBridge Scheduler schedule SAM makes from a `ScheduleV2` event (AWS::Scheduler::Schedule, logical id
 * `<Resource><EventId>`). Not run offline; kept so the names and expressions can be checked against the translator.
 * Without `Name`, SAM names the schedule after its logical id (SAM docs, "ScheduleV2": Name), so two stacks in one
 * account and Region would collide.
 */
export interface ScheduleModel {
  logicalId: string;
  /** The state machine or function it starts. */
  target: string;
  name: string;
  scheduleExpression: string;
  scheduleExpressionTimezone?: string;
  state: string;
}

export interface CognitoIds {
  pools: Record<string, string>;
  clients: Record<string, { id: string; secret?: string }>;
}

export interface ModelOptions {
  templatePath: string;
  stackName: string;
  region: string;
  accountId: string;
  parameterOverrides?: Record<string, string>;
  /** Ids cognito-local assigned; placeholders when absent (validation, wiring tests). */
  cognito?: CognitoIds;
}

const SUPPORTED = new Set([
  'AWS::Serverless::Function',
  'AWS::Serverless::Api',
  'AWS::Serverless::StateMachine',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::ApiKey',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::DynamoDB::Table',
  'AWS::Cognito::UserPool',
  'AWS::Cognito::UserPoolClient',
]);
/** Declared for AWS only; offline there is nothing to create (logs go to the console, permissions always pass). */
const IGNORED = new Set(['AWS::Logs::LogGroup', 'AWS::Lambda::Permission', 'AWS::IAM::ManagedPolicy']);
const NOT_SIMULATED_EVENTS = new Set(['Schedule', 'ScheduleV2', 'CloudWatchEvent', 'EventBridgeRule']);
/** The Api Globals the offline stack understands (others are refused rather than ignored). */
const API_GLOBALS = new Set(['OpenApiVersion']);
/** SAM's SwaggerEditor.get_openapi_versions_supported_regex(): what OpenApiVersion may be. */
const OPEN_API_VERSION = /^[2-3](\.\d)(\.\d)?$/;
const TRIGGERS = ['PreSignUp', 'PostConfirmation', 'PostAuthentication', 'PreTokenGeneration', 'CustomMessage', 'UserMigration'];

/** A stable 10-character id, like API Gateway's (see stableId in ./ids.ts). */
export const shortId = (...parts: string[]): string => stableId(parts);

/** The only transform the offline stack implements; any other (AWS::LanguageExtensions, a macro) is refused. */
const SAM_TRANSFORM = 'AWS::Serverless-2016-10-31';

function checkTransform(template: Template): void {
  const transform = (template as { Transform?: unknown }).Transform;
  if (transform === undefined) return;
  const list = Array.isArray(transform) ? transform : [transform];
  if (list.length !== 1 || list[0] !== SAM_TRANSFORM) {
    throw new TemplateError(`Transform must be ${SAM_TRANSFORM} alone (the offline stack implements no other), not ${JSON.stringify(transform)}`);
  }
}

export function loadStackModel(opts: ModelOptions): StackModel {
  return buildStackModel(loadTemplate(opts.templatePath), opts);
}

export function buildStackModel(source: Template, opts: ModelOptions): StackModel {
  const { stackName, region, accountId } = opts;
  const templateDir = dirname(opts.templatePath);
  const parameters = { ...resolveParameters(source, opts.parameterOverrides), ...pseudoParameters({ region, accountId, stackName }) };
  checkTransform(source);
  const template = source;

  // Every resource exists for Ref/GetAtt purposes before conditions are known (conditions only use parameters).
  const all = template.Resources;
  const typeOf = (logicalId: string): string => {
    const resource = all[logicalId];
    if (!resource) throw new TemplateError(`reference to unknown resource ${logicalId}`);
    return resource.Type;
  };
  const poolId = (logicalId: string) => opts.cognito?.pools[logicalId] ?? `${region}_${shortId(stackName, logicalId).slice(0, 9)}`;
  const functionName = (logicalId: string) => `${stackName}-${logicalId}`;
  const tableName = (logicalId: string) => `${stackName}-${logicalId}`;
  const stateMachineName = (logicalId: string): string => {
    const name = all[logicalId]?.Properties?.Name;
    return name === undefined ? `${logicalId}-${shortId(stackName, logicalId)}` : String(resolveValue(name, ctx));
  };
  const ref = (name: string): string => {
    const [logicalId, suffix] = name.split('.') as [string, string | undefined];
    const type = typeOf(logicalId);
    if (suffix !== undefined) {
      if (type === 'AWS::Serverless::Api' && suffix === 'Stage') return String(resolveValue(all[logicalId]?.Properties?.StageName, ctx));
      throw new TemplateError(`!Ref ${name} is not supported`);
    }
    switch (type) {
      case 'AWS::Serverless::Function':
        return functionName(logicalId);
      case 'AWS::DynamoDB::Table':
        return tableName(logicalId);
      case 'AWS::Serverless::Api':
      case 'AWS::ApiGateway::UsagePlan':
      case 'AWS::ApiGateway::ApiKey':
        return shortId(stackName, logicalId);
      case 'AWS::Cognito::UserPool':
        return poolId(logicalId);
      case 'AWS::Cognito::UserPoolClient':
        return opts.cognito?.clients[logicalId]?.id ?? shortId(stackName, logicalId).padEnd(26, '0');
      case 'AWS::Serverless::StateMachine':
        return `arn:aws:states:${region}:${accountId}:stateMachine:${stateMachineName(logicalId)}`;
      case 'AWS::Logs::LogGroup':
        return String(resolveValue(all[logicalId]?.Properties?.LogGroupName ?? logicalId, ctx));
      default:
        return `${logicalId}-${shortId(stackName, logicalId)}`;
    }
  };
  const getAtt = (logicalId: string, attribute: string): string => {
    const type = typeOf(logicalId);
    const key = `${type}.${attribute}`;
    switch (key) {
      case 'AWS::Serverless::Function.Arn':
        return `arn:aws:lambda:${region}:${accountId}:function:${functionName(logicalId)}`;
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:aws:dynamodb:${region}:${accountId}:table/${tableName(logicalId)}`;
      case 'AWS::DynamoDB::Table.StreamArn':
        return `arn:aws:dynamodb:${region}:${accountId}:table/${tableName(logicalId)}/stream/local`;
      case 'AWS::Cognito::UserPool.Arn':
        return `arn:aws:cognito-idp:${region}:${accountId}:userpool/${poolId(logicalId)}`;
      case 'AWS::Cognito::UserPool.ProviderName':
        return `cognito-idp.${region}.amazonaws.com/${poolId(logicalId)}`;
      case 'AWS::Cognito::UserPool.ProviderURL':
        return `https://cognito-idp.${region}.amazonaws.com/${poolId(logicalId)}`;
      case 'AWS::Cognito::UserPoolClient.ClientId':
        return ref(logicalId);
      case 'AWS::Cognito::UserPoolClient.ClientSecret': {
        const secret = opts.cognito?.clients[logicalId]?.secret;
        return secret ?? 'client-secret-assigned-at-deploy';
      }
      case 'AWS::Serverless::StateMachine.Arn':
        return ref(logicalId);
      case 'AWS::Serverless::StateMachine.Name':
        return stateMachineName(logicalId);
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:aws:logs:${region}:${accountId}:log-group:${ref(logicalId)}:*`;
      case 'AWS::Serverless::Api.RootResourceId':
        return shortId(stackName, logicalId, 'root');
      default:
        throw new TemplateError(`!GetAtt ${logicalId}.${attribute} (${type}) is not supported by the offline stack`);
    }
  };
  const ctx: ResolveContext = { parameters, conditions: {}, ref, getAtt, mappings: template.Mappings };
  ctx.conditions = evaluateConditions(template, ctx);
  const r = <T = unknown>(value: unknown): T => resolveValue(value, ctx) as T;

  const model: StackModel = {
    stackName,
    region,
    accountId,
    templateDir,
    parameters,
    conditions: ctx.conditions,
    functions: [],
    apis: [],
    usagePlans: [],
    apiKeys: [],
    tables: [],
    userPools: [],
    userPoolClients: [],
    stateMachines: [],
    schedules: [],
    outputs: {},
    ignored: [],
    notSimulated: [],
    context: ctx,
  };

  const resources = activeResources(template, ctx.conditions);
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (IGNORED.has(resource.Type)) {
      model.ignored.push({ logicalId, type: resource.Type });
      continue;
    }
    if (!SUPPORTED.has(resource.Type)) {
      throw new TemplateError(`resource ${logicalId} has type ${resource.Type}, which the offline stack does not support`);
    }
  }

  const routesByApi = new Map<string, RouteSpec[]>();
  const planKeys: { keyId: string; planId: string }[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::Serverless::Function': {
        const merged = withFunctionGlobals(template, props);
        const handler = String(r(merged.Handler) ?? '');
        const dot = handler.lastIndexOf('.');
        if (dot <= 0) throw new TemplateError(`function ${logicalId}: Handler "${handler}" must be file.export`);
        const meta = resource.Metadata ?? {};
        if (meta.BuildMethod !== 'esbuild') throw new TemplateError(`function ${logicalId}: only Metadata.BuildMethod esbuild is supported`);
        const bp = (r<JsonObject>(meta.BuildProperties) ?? {}) as Record<string, unknown>;
        const entryPoints = (bp.EntryPoints as string[] | undefined) ?? [];
        if (entryPoints.length !== 1) throw new TemplateError(`function ${logicalId}: BuildProperties.EntryPoints must name one file`);
        const env = r<{ Variables?: Record<string, unknown> }>(merged.Environment)?.Variables ?? {};
        model.functions.push({
          logicalId,
          name: functionName(logicalId),
          arn: getAtt(logicalId, 'Arn'),
          handlerFile: handler.slice(0, dot),
          handlerExport: handler.slice(dot + 1),
          build: {
            entryPoints: entryPoints.map((e) => join(String(r(merged.CodeUri) ?? '.'), e)),
            minify: bp.Minify === true || bp.Minify === 'true',
            target: String(bp.Target ?? 'es2022'),
            sourcemap: bp.Sourcemap === true || bp.Sourcemap === 'true',
            external: (bp.External as string[] | undefined) ?? [],
            format: bp.Format === 'esm' ? 'esm' : 'cjs',
          },
          environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
          timeoutSeconds: Number(r(merged.Timeout) ?? 3),
          memoryMb: Number(r(merged.MemorySize) ?? 128),
          runtime: String(r(merged.Runtime) ?? ''),
        });
        for (const [eventId, event] of Object.entries((props.Events ?? {}) as Record<string, { Type: string; Properties?: JsonObject }>)) {
          if (NOT_SIMULATED_EVENTS.has(event.Type)) {
            model.notSimulated.push(`${logicalId}.${eventId} (${event.Type})`);
            if (event.Type === 'ScheduleV2') model.schedules.push(scheduleOf(logicalId, eventId, event.Properties ?? {}, r));
            continue;
          }
          if (event.Type !== 'Api') throw new TemplateError(`function ${logicalId}: event ${eventId} of type ${event.Type} is not supported offline`);
          const ep = event.Properties ?? {};
          const apiRef = ep.RestApiId as { Ref?: string } | undefined;
          if (!apiRef?.Ref) throw new TemplateError(`function ${logicalId}: event ${eventId} needs RestApiId: !Ref <Api> (the implicit API is not supported)`);
          const api = resources[apiRef.Ref];
          if (api?.Type !== 'AWS::Serverless::Api') throw new TemplateError(`function ${logicalId}: event ${eventId} refers to ${apiRef.Ref}, not an AWS::Serverless::Api`);
          const apiAuth = (api.Properties?.Auth ?? {}) as Record<string, unknown>;
          const auth = (ep.Auth ?? {}) as Record<string, unknown>;
          const authorizerName = (auth.Authorizer ?? apiAuth.DefaultAuthorizer ?? 'NONE') as string;
          const authorizer = (apiAuth.Authorizers as Record<string, Record<string, unknown>> | undefined)?.[authorizerName];
          const lambdaAuthorizer = isLambdaAuthorizer(authorizer) ? lambdaAuthorizerSpec(apiRef.Ref, authorizerName, authorizer as Record<string, unknown>, r) : undefined;
          if (authorizerName !== 'NONE' && !lambdaAuthorizer) {
            if (!authorizer?.UserPoolArn) throw new TemplateError(`function ${logicalId}: authorizer ${authorizerName} is not a Cognito authorizer of ${apiRef.Ref}`);
          }
          const list = routesByApi.get(apiRef.Ref) ?? [];
          list.push({
            method: String(ep.Method).toUpperCase(),
            path: String(ep.Path),
            functionName: logicalId,
            authorizer: authorizerName === 'NONE' ? 'none' : lambdaAuthorizer ? 'lambda' : 'cognito',
            ...(lambdaAuthorizer ? { lambdaAuthorizer } : {}),
            apiKeyRequired: Boolean(auth.ApiKeyRequired ?? apiAuth.ApiKeyRequired ?? false),
          });
          routesByApi.set(apiRef.Ref, list);
        }
        break;
      }
      case 'AWS::DynamoDB::Table':
        model.tables.push({ logicalId, name: tableName(logicalId), arn: getAtt(logicalId, 'Arn'), properties: r<JsonObject>(props) });
        break;
      case 'AWS::ApiGateway::UsagePlan': {
        const p = r<Record<string, unknown>>(props);
        const throttle = p.Throttle as { RateLimit?: unknown; BurstLimit?: unknown } | undefined;
        const quota = p.Quota as { Limit?: unknown; Period?: unknown; Offset?: unknown } | undefined;
        model.usagePlans.push({
          logicalId,
          id: ref(logicalId),
          name: String(p.UsagePlanName ?? logicalId),
          ...(p.Description ? { description: String(p.Description) } : {}),
          ...(throttle ? { throttle: { rateLimit: Number(throttle.RateLimit), burstLimit: Number(throttle.BurstLimit) } } : {}),
          ...(quota ? { quota: { limit: Number(quota.Limit), period: String(quota.Period) as QuotaPeriod, offset: Number(quota.Offset ?? 0) } } : {}),
          apiStages: ((p.ApiStages as { ApiId: string; Stage: string }[] | undefined) ?? []).map((s) => ({ apiId: String(s.ApiId), stage: String(s.Stage) })),
          tags: Object.fromEntries(((p.Tags as { Key: string; Value: string }[] | undefined) ?? []).map((t) => [t.Key, String(t.Value)])),
        });
        break;
      }
      case 'AWS::ApiGateway::ApiKey': {
        const p = r<Record<string, unknown>>(props);
        if (p.StageKeys !== undefined || p.GenerateDistinctId !== undefined) throw new TemplateError(`API key ${logicalId}: StageKeys and GenerateDistinctId are not supported offline`);
        model.apiKeys.push({
          logicalId,
          id: ref(logicalId),
          name: String(p.Name ?? logicalId),
          enabled: p.Enabled === true || p.Enabled === 'true',
          ...(p.Description !== undefined ? { description: String(p.Description) } : {}),
          ...(p.Value !== undefined ? { value: String(p.Value) } : {}),
          usagePlanIds: [],
        });
        break;
      }
      case 'AWS::ApiGateway::UsagePlanKey': {
        const p = r<Record<string, unknown>>(props);
        if (p.KeyType !== 'API_KEY') throw new TemplateError(`usage plan key ${logicalId}: KeyType must be API_KEY`);
        planKeys.push({ keyId: String(p.KeyId), planId: String(p.UsagePlanId) });
        break;
      }
      case 'AWS::Cognito::UserPool': {
        const p = r<JsonObject>(props);
        const lambdaConfig = (props.LambdaConfig ?? {}) as Record<string, unknown>;
        const triggers: Record<string, string> = {};
        for (const [trigger, value] of Object.entries(lambdaConfig)) {
          if (!TRIGGERS.includes(trigger)) throw new TemplateError(`user pool ${logicalId}: trigger ${trigger} is not supported offline`);
          const resolved = r(value);
          if (resolved === undefined || isNoValue(resolved)) continue; // !If … AWS::NoValue
          const fn = model.functions.find((f) => f.arn === resolved) ?? null;
          const target = fn?.logicalId ?? findFunctionByArn(resources, String(resolved), getAtt);
          if (!target) throw new TemplateError(`user pool ${logicalId}: trigger ${trigger} does not point at a function of this template`);
          triggers[trigger] = target;
        }
        model.userPools.push({ logicalId, properties: p, triggers });
        break;
      }
      case 'AWS::Cognito::UserPoolClient': {
        const poolRef = props.UserPoolId as { Ref?: string } | undefined;
        if (!poolRef?.Ref) throw new TemplateError(`user pool client ${logicalId}: UserPoolId must be !Ref <UserPool>`);
        model.userPoolClients.push({ logicalId, poolLogicalId: poolRef.Ref, properties: r<JsonObject>(props) });
        break;
      }
      case 'AWS::Serverless::StateMachine': {
        const name = stateMachineName(logicalId);
        for (const [eventId, event] of Object.entries((props.Events ?? {}) as Record<string, { Type: string; Properties?: JsonObject }>)) {
          if (!NOT_SIMULATED_EVENTS.has(event.Type)) throw new TemplateError(`state machine ${logicalId}: event ${eventId} of type ${event.Type} is not supported offline`);
          model.notSimulated.push(`${logicalId}.${eventId} (${event.Type}: start it by hand offline)`);
          if (event.Type === 'ScheduleV2') model.schedules.push(scheduleOf(logicalId, eventId, event.Properties ?? {}, r));
        }
        model.stateMachines.push({
          logicalId,
          name,
          arn: ref(logicalId),
          type: String(r(props.Type) ?? 'STANDARD') as 'STANDARD' | 'EXPRESS',
          definition: stateMachineDefinition(logicalId, props, templateDir, r),
        });
        break;
      }
      default:
        break;
    }
  }

  for (const { keyId, planId } of planKeys) {
    const key = model.apiKeys.find((k) => k.id === keyId);
    if (!key || !model.usagePlans.some((p) => p.id === planId)) throw new TemplateError(`usage plan key: KeyId and UsagePlanId must be !Ref an API key and a usage plan of this template`);
    key.usagePlanIds.push(planId);
  }

  const apiGlobals = template.Globals?.Api ?? {};
  for (const key of Object.keys(apiGlobals)) {
    if (!API_GLOBALS.has(key)) throw new TemplateError(`Globals.Api.${key} is not supported by the offline stack`);
  }
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Serverless::Api') continue;
    const props = resource.Properties ?? {};
    const openApiVersion = r<unknown>(props.OpenApiVersion ?? apiGlobals.OpenApiVersion);
    if (openApiVersion !== undefined && String(openApiVersion) !== '' && !OPEN_API_VERSION.test(String(openApiVersion))) {
      throw new TemplateError(`API ${logicalId}: OpenApiVersion ${String(openApiVersion)} must be of the format '3.0.0' (or '2.0')`);
    }
    const auth = (props.Auth ?? {}) as Record<string, unknown>;
    const authorizers = (auth.Authorizers ?? {}) as Record<string, { UserPoolArn?: unknown }>;
    const authorizerPools = Object.values(authorizers).filter((a) => !isLambdaAuthorizer(a)).map((a) => {
      const arn = a.UserPoolArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
      const pool = arn?.['Fn::GetAtt']?.[0];
      if (!pool) throw new TemplateError(`API ${logicalId}: authorizer UserPoolArn must be !GetAtt <UserPool>.Arn`);
      return pool;
    });
    const cors = r<Record<string, unknown> | string | undefined>(props.Cors);
    const corsSpec: CorsSpec | undefined =
      cors === undefined
        ? undefined
        : typeof cors === 'string'
          ? { allowOrigin: unquote(cors), allowHeaders: '*', allowMethods: '*' }
          : {
              allowOrigin: unquote(cors.AllowOrigin ?? "'*'"),
              allowHeaders: unquote(cors.AllowHeaders ?? "'*'"),
              allowMethods: unquote(cors.AllowMethods ?? "'*'"),
              ...(cors.MaxAge ? { maxAge: unquote(cors.MaxAge) } : {}),
            };
    const responses = r<Record<string, { ResponseParameters?: { Headers?: Record<string, string> } }>>(props.GatewayResponses) ?? {};
    const headersOf = (type: string) => {
      const headers = responses[type]?.ResponseParameters?.Headers;
      return headers ? Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, unquote(v)])) : undefined;
    };
    const methodThrottles: MethodThrottle[] = [];
    for (const setting of r<Record<string, unknown>[] | undefined>(props.MethodSettings) ?? []) {
      if (setting.ThrottlingRateLimit === undefined && setting.ThrottlingBurstLimit === undefined) continue;
      // Stage method settings name the resource with "/" escaped as "~1" ("/~1auth~1sign-in"); "/*" is every resource.
      const rawPath = String(setting.ResourcePath ?? '/*');
      const path = rawPath === '/*' ? '*' : rawPath.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
      methodThrottles.push({
        path,
        method: String(setting.HttpMethod ?? '*').toUpperCase(),
        rateLimit: Number(setting.ThrottlingRateLimit ?? Number.POSITIVE_INFINITY),
        burstLimit: Number(setting.ThrottlingBurstLimit ?? Number.POSITIVE_INFINITY),
      });
    }
    const d4 = headersOf('DEFAULT_4XX');
    const d5 = headersOf('DEFAULT_5XX');
    const stage = String(r(props.StageName));
    const stages: ApiStageModel[] = [{ name: stage, declared: true, methodThrottles }];
    // Any valid OpenApiVersion, 2.0 included, removes it (the translator tests truthiness only).
    if (openApiVersion === undefined || String(openApiVersion) === '') {
      if (stage !== 'Stage') stages.push({ name: 'Stage', declared: false, methodThrottles: [] });
    }
    model.apis.push({
      logicalId,
      id: ref(logicalId),
      stage,
      stages,
      routes: routesByApi.get(logicalId) ?? [],
      ...(corsSpec ? { cors: corsSpec } : {}),
      gatewayResponseHeaders: { ...(d4 ? { DEFAULT_4XX: d4 } : {}), ...(d5 ? { DEFAULT_5XX: d5 } : {}) },
      authorizerPools,
      methodThrottles,
      apiKeySource: String(r(props.ApiKeySourceType) ?? 'HEADER') === 'AUTHORIZER' ? 'AUTHORIZER' : 'HEADER',
    });
  }

  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    if (output.Condition && !ctx.conditions[output.Condition]) continue;
    model.outputs[name] = String(r(output.Value));
  }
  return model;
}

/** A ScheduleV2 event as SAM translates it (AWS::Scheduler::Schedule `<Resource><EventId>`, named after it by default). */
function scheduleOf(target: string, eventId: string, properties: JsonObject, r: <T>(value: unknown) => T): ScheduleModel {
  const p = r<Record<string, unknown>>(properties);
  const logicalId = `${target}${eventId}`;
  if (p.ScheduleExpression === undefined) throw new TemplateError(`${logicalId}: a ScheduleV2 event needs ScheduleExpression`);
  return {
    logicalId,
    target,
    name: String(p.Name ?? logicalId),
    scheduleExpression: String(p.ScheduleExpression),
    ...(p.ScheduleExpressionTimezone !== undefined ? { scheduleExpressionTimezone: String(p.ScheduleExpressionTimezone) } : {}),
    state: String(p.State ?? 'ENABLED'),
  };
}

function findFunctionByArn(
  resources: Template['Resources'],
  arn: string,
  getAtt: (logicalId: string, attribute: string) => string,
): string | undefined {
  return Object.entries(resources).find(([id, res]) => res.Type === 'AWS::Serverless::Function' && getAtt(id, 'Arn') === arn)?.[0];
}

function stateMachineDefinition(
  logicalId: string,
  props: JsonObject,
  templateDir: string,
  r: <T>(value: unknown) => T,
): Record<string, unknown> {
  let text: string;
  if (props.DefinitionUri !== undefined) {
    if (typeof props.DefinitionUri !== 'string') throw new TemplateError(`state machine ${logicalId}: DefinitionUri must be a local file path`);
    text = readFileSync(join(templateDir, props.DefinitionUri), 'utf8');
  } else if (props.Definition !== undefined) {
    text = JSON.stringify(props.Definition);
  } else {
    throw new TemplateError(`state machine ${logicalId}: needs DefinitionUri or Definition`);
  }
  const substitutions = r<Record<string, unknown>>(props.DefinitionSubstitutions) ?? {};
  const missing = new Set<string>();
  const substituted = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_whole, name: string) => {
    if (!(name in substitutions)) {
      missing.add(name);
      return '';
    }
    return String(substitutions[name]);
  });
  if (missing.size > 0) throw new TemplateError(`state machine ${logicalId}: no DefinitionSubstitutions for ${[...missing].join(', ')}`);
  try {
    return JSON.parse(substituted) as Record<string, unknown>;
  } catch (error) {
    throw new TemplateError(`state machine ${logicalId}: definition is not valid JSON after substitution (${(error as Error).message})`);
  }
}
