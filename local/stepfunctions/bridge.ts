// Over 400 lines: the Task integrations and the error names each may throw belong together (the tables document the integrations).
/**
 * The Task bridge: runs a Task state's Resource against the local endpoints with AWS SDK v3 clients (one per
 * service, created on first use and kept for the service's lifetime, SDK retries off: Step Functions' own
 * Retry fields decide what is retried, as in AWS), and reproduces what Step Functions does with parameters,
 * results and errors.
 *
 * | Resource | parameters / result | error names |
 * |---|---|---|
 * | `arn:aws:states:::aws-sdk:<service>:<action>` | PascalCase ↔ SDK model names ({@link toSdkInput}) | `<Service>.<Error>Exception`, e.g. `ApiGateway.ConflictException`, `DynamoDb.ResourceNotFoundException`; an error the service model does not declare → `<Service>.<Service>Exception`; no HTTP answer → `<Service>.SdkClientException` |
 * | `arn:aws:states:::dynamodb:getItem\|putItem\|updateItem\|deleteItem` | DynamoDB API names, native DynamoDB JSON; result = API output + `SdkHttpMetadata` + `SdkResponseMetadata` | `DynamoDB.<Error>` (`DynamoDB.ConditionalCheckFailedException`); undeclared (e.g. ValidationException) → `DynamoDB.AmazonDynamoDBException` |
 * | `arn:aws:states:::lambda:invoke` | FunctionName, Payload, ...; result `{ExecutedVersion, Payload, SdkHttpMetadata, SdkResponseMetadata, StatusCode}` | function error → its `errorType`, Cause = the error payload (JSON text); Lambda API error → `Lambda.<Error>` |
 * | `arn:aws:states:::states:startExecution[.sync[:2]]` | StateMachineArn, Input, Name; result `{ExecutionArn, StartDate, ...}` | `StepFunctions.<Error>Exception`; a failed child of `.sync` → `States.TaskFailed` |
 * | `arn:aws:lambda:<region>:<account>:function:<name>` | the state input is the event; result = the function's return value | function error → its `errorType` |
 *
 * Causes carry the service's message followed by the request details, in the format Step Functions uses
 * (AWS SDK for Java v2 for aws-sdk integrations: `... (Service: DynamoDb, Status Code: 400, Request ID: ...)`,
 * v1 for optimized ones: `... (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ...; Request ID: ...;
 * Proxy: null)`). Anything else (another service, `.waitForTaskToken`, a service without a local endpoint) fails
 * the execution with `States.Runtime` naming the resource.
 */
import * as apigateway from '@aws-sdk/client-api-gateway';
import * as cognito from '@aws-sdk/client-cognito-identity-provider';
import * as dynamodb from '@aws-sdk/client-dynamodb';
import * as lambda from '@aws-sdk/client-lambda';
import * as sfn from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { NormalizedSchema } from '@smithy/core/schema';

import type { Endpoints } from '../types.ts';
import { commandSchemas, fromSdkOutput, sfnServicePrefix, toSdkInput } from './casing.ts';
import { apiErrors, SfnApiError, StatesRuntimeError, TaskError } from './errors.ts';
import { faultResource, injectedCause, type TaskCall, type TaskFaultHook } from './faults.ts';
import type { TaskDescriptor } from './history.ts';
import type { ExecutionDescription, StartExecutionResult } from './types.ts';

type SdkModule = Record<string, unknown>;
type CommandCtor = new (input: Record<string, unknown>) => unknown;

interface SdkClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy(): void;
  config: { serviceId?: string };
  middlewareStack: { add(middleware: unknown, options: Record<string, unknown>): void };
}
type ClientCtor = new (config: Record<string, unknown>) => SdkClient;

interface SdkService {
  module: SdkModule;
  client: string;
  baseException: string;
  endpoint: keyof Endpoints;
  /** Step Functions' error prefix for aws-sdk integrations (AWS SDK for Java v2 client name). */
  prefix: string;
}

/** Services reachable through `aws-sdk:` integrations offline, by their Step Functions names. */
export const SDK_SERVICES: Record<string, SdkService> = {
  apigateway: {
    module: apigateway as unknown as SdkModule,
    client: 'APIGatewayClient',
    baseException: 'APIGatewayServiceException',
    endpoint: 'apigateway',
    prefix: sfnServicePrefix('API Gateway'),
  },
  cognitoidentityprovider: {
    module: cognito as unknown as SdkModule,
    client: 'CognitoIdentityProviderClient',
    baseException: 'CognitoIdentityProviderServiceException',
    endpoint: 'cognito',
    prefix: sfnServicePrefix('Cognito Identity Provider'),
  },
  dynamodb: {
    module: dynamodb as unknown as SdkModule,
    client: 'DynamoDBClient',
    baseException: 'DynamoDBServiceException',
    endpoint: 'dynamodb',
    prefix: sfnServicePrefix('DynamoDB'),
  },
  lambda: {
    module: lambda as unknown as SdkModule,
    client: 'LambdaClient',
    baseException: 'LambdaServiceException',
    endpoint: 'lambda',
    prefix: sfnServicePrefix('Lambda'),
  },
  sfn: {
    module: sfn as unknown as SdkModule,
    client: 'SFNClient',
    baseException: 'SFNServiceException',
    endpoint: 'stepfunctions',
    prefix: sfnServicePrefix('SFN'),
  },
};

export type ParsedResource =
  | { kind: 'aws-sdk'; service: string; action: string; pattern: string }
  | { kind: 'dynamodb'; action: 'getItem' | 'putItem' | 'updateItem' | 'deleteItem'; pattern: string }
  | { kind: 'lambda'; action: 'invoke'; pattern: string }
  | { kind: 'states'; action: 'startExecution'; pattern: string }
  | { kind: 'lambda-function'; functionArn: string }
  | { kind: 'unsupported' };

export function parseResource(arn: string): ParsedResource {
  let m = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.[A-Za-z0-9:]+)?$/.exec(arn);
  if (m) return { kind: 'aws-sdk', service: m[1]!, action: m[2]!, pattern: m[3] ?? '' };
  m = /^arn:aws:states:::dynamodb:(getItem|putItem|updateItem|deleteItem)(\.[A-Za-z0-9:]+)?$/.exec(arn);
  if (m) return { kind: 'dynamodb', action: m[1] as 'getItem', pattern: m[2] ?? '' };
  m = /^arn:aws:states:::lambda:invoke(\.[A-Za-z0-9:]+)?$/.exec(arn);
  if (m) return { kind: 'lambda', action: 'invoke', pattern: m[1] ?? '' };
  m = /^arn:aws:states:::states:startExecution(\.[A-Za-z0-9:]+)?$/.exec(arn);
  if (m) return { kind: 'states', action: 'startExecution', pattern: m[1] ?? '' };
  if (/^arn:aws:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/.test(arn)) return { kind: 'lambda-function', functionArn: arn };
  return { kind: 'unsupported' };
}

/** `resourceType` / `resource` of the history's Task events for a Resource ARN. */
export function describeTask(arn: string): TaskDescriptor {
  const p = parseResource(arn);
  switch (p.kind) {
    case 'aws-sdk':
      return { resourceType: `aws-sdk:${p.service}`, resource: `${p.action}${p.pattern}`, legacyLambda: false, arn };
    case 'dynamodb':
    case 'lambda':
      return { resourceType: p.kind, resource: `${p.action}${p.pattern}`, legacyLambda: false, arn };
    case 'states':
      return { resourceType: 'states', resource: `${p.action}${p.pattern}`, legacyLambda: false, arn };
    case 'lambda-function':
      return { resourceType: 'lambda', resource: arn, legacyLambda: true, arn };
    default: {
      const parts = arn.split(':');
      return { resourceType: parts.slice(5, -1).join(':') || arn, resource: parts[parts.length - 1] ?? arn, legacyLambda: false, arn };
    }
  }
}

/** Parameters the optimized DynamoDB integration accepts (Step Functions developer guide, "connect-ddb"). */
const DYNAMODB_PARAMETERS: Record<string, string[]> = {
  getItem: ['Key', 'TableName', 'AttributesToGet', 'ConsistentRead', 'ExpressionAttributeNames', 'ProjectionExpression', 'ReturnConsumedCapacity'],
  putItem: ['Item', 'TableName', 'ConditionalOperator', 'ConditionExpression', 'Expected', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ReturnConsumedCapacity', 'ReturnItemCollectionMetrics', 'ReturnValues'],
  deleteItem: ['Key', 'TableName', 'ConditionalOperator', 'ConditionExpression', 'Expected', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ReturnConsumedCapacity', 'ReturnItemCollectionMetrics', 'ReturnValues'],
  updateItem: ['Key', 'TableName', 'AttributeUpdates', 'ConditionalOperator', 'ConditionExpression', 'Expected', 'ExpressionAttributeNames', 'ExpressionAttributeValues', 'ReturnConsumedCapacity', 'ReturnItemCollectionMetrics', 'ReturnValues', 'UpdateExpression'],
};
/**
 * What an `arn:aws:states:::states:startExecution[.sync[:2]]` task needs of its role: states:StartExecution on the
 * state machine and, for `.sync`, DescribeExecution / StopExecution on its executions and the EventBridge managed rule
 * Step Functions uses to learn of their end (Step Functions developer guide, "IAM policies for starting Step Functions
 * workflow executions": https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html).
 */
export function startExecutionPermissions(stateMachineArn: string, pattern: string): { action: string; resource: string }[] {
  const needs = [{ action: 'states:StartExecution', resource: stateMachineArn }];
  if (pattern === '') return needs;
  const m = /^arn:(aws[a-z-]*):states:([^:]*):([^:]*):stateMachine:(.+)$/.exec(stateMachineArn);
  if (!m) return needs;
  const [, partition, region, account, name] = m;
  const executions = `arn:${partition}:states:${region}:${account}:execution:${name}:*`;
  const rule = `arn:${partition}:events:${region}:${account}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
  return [
    ...needs,
    { action: 'states:DescribeExecution', resource: executions },
    { action: 'states:StopExecution', resource: executions },
    { action: 'events:PutTargets', resource: rule },
    { action: 'events:PutRule', resource: rule },
    { action: 'events:DescribeRule', resource: rule },
  ];
}

const LAMBDA_INVOKE_PARAMETERS = ['ClientContext', 'FunctionName', 'InvocationType', 'Qualifier', 'Payload', 'LogType'];
const START_EXECUTION_PARAMETERS = ['StateMachineArn', 'Input', 'Name'];

/** The SDK command of an aws-sdk action spelt as Step Functions requires it (camelCase: `getItem`), or undefined. */
export function commandFor(svc: SdkService, action: string): CommandCtor | undefined {
  if (!action || action[0] !== action[0]!.toLowerCase()) return undefined;
  const Command = svc.module[`${action[0]!.toUpperCase()}${action.slice(1)}Command`];
  return typeof Command === 'function' ? (Command as CommandCtor) : undefined;
}

/** The parameters an optimized integration accepts (undefined for aws-sdk tasks and function ARNs). */
export function definitionParameterNames(p: ParsedResource): string[] | undefined {
  if (p.kind === 'dynamodb') return DYNAMODB_PARAMETERS[p.action];
  if (p.kind === 'lambda') return LAMBDA_INVOKE_PARAMETERS;
  if (p.kind === 'states') return START_EXECUTION_PARAMETERS;
  return undefined;
}

// ---------- errors ----------

interface SdkErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export const withExceptionSuffix = (name: string): string => (name.endsWith('Exception') ? name : `${name}Exception`);

/** Whether the SDK module declares this error (a modeled exception class), as opposed to a generic service error. */
export function isModeledError(err: unknown, module: SdkModule, baseException: string): boolean {
  const name = (err as SdkErrorLike)?.name;
  if (!name) return false;
  const cls = module[name];
  return typeof cls === 'function' && cls !== module[baseException] && err instanceof (cls as new () => unknown);
}

function httpStatus(err: unknown): number | undefined {
  return (err as SdkErrorLike)?.$metadata?.httpStatusCode;
}

/** Step Functions' error name and cause for an error thrown by an aws-sdk integration's SDK call. */
export function awsSdkTaskError(err: unknown, service: Pick<SdkService, 'module' | 'baseException' | 'prefix'>): TaskError {
  const e = err as SdkErrorLike;
  const message = e?.message ?? String(err);
  const status = httpStatus(err);
  if (status === undefined) return new TaskError(`${service.prefix}.SdkClientException`, message);
  const name = isModeledError(err, service.module, service.baseException)
    ? `${service.prefix}.${withExceptionSuffix(e.name!)}`
    : `${service.prefix}.${service.prefix}Exception`;
  const cause = `${message} (Service: ${service.prefix}, Status Code: ${status}, Request ID: ${e.$metadata?.requestId ?? ''})`;
  return new TaskError(name, cause);
}

/** Error name and cause of an optimized integration (AWS SDK for Java v1 naming), e.g. `DynamoDB.*`. */
export function optimizedTaskError(
  err: unknown,
  spec: { prefix: string; genericException: string; serviceName: string; module: SdkModule; baseException: string },
): TaskError {
  const e = err as SdkErrorLike;
  const message = e?.message ?? String(err);
  const status = httpStatus(err);
  if (status === undefined) return new TaskError(`${spec.prefix}.SdkClientException`, message);
  const code = e.name ?? 'UnknownError';
  const name = isModeledError(err, spec.module, spec.baseException)
    ? `${spec.prefix}.${withExceptionSuffix(code)}`
    : `${spec.prefix}.${spec.genericException}`;
  const cause =
    `${message} (Service: ${spec.serviceName}; Status Code: ${status}; Error Code: ${code}; ` +
    `Request ID: ${e.$metadata?.requestId ?? ''}; Proxy: null)`;
  return new TaskError(name, cause);
}

/** Naming of the optimized DynamoDB integration (`arn:aws:states:::dynamodb:*`). */
export const DYNAMODB_OPTIMIZED = {
  prefix: 'DynamoDB',
  genericException: 'AmazonDynamoDBException',
  serviceName: 'AmazonDynamoDBv2',
  module: dynamodb as unknown as SdkModule,
  baseException: 'DynamoDBServiceException',
};
/** Naming of the optimized Lambda integration (`arn:aws:states:::lambda:invoke`). */
export const LAMBDA_OPTIMIZED = {
  prefix: 'Lambda',
  genericException: 'AWSLambdaException',
  serviceName: 'AWSLambda',
  module: lambda as unknown as SdkModule,
  baseException: 'LambdaServiceException',
};

// ---------- the names a Task can fail with ----------

/** The error classes an SDK module declares (its service model's modeled exceptions), by name. */
export function modeledErrors(module: SdkModule, baseException: string): string[] {
  const base = module[baseException] as (new () => unknown) | undefined;
  if (typeof base !== 'function') throw new Error(`no ${baseException} in the SDK module`);
  return Object.entries(module)
    .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof base)
    .map(([name]) => name)
    .sort();
}

/**
 * Step Functions' own error names (Amazon States Language, "Error names"): States.ALL and States.TaskFailed match
 * others; the rest are raised by Step Functions itself. `States.Runtime` is left out: it can be neither retried nor
 * caught. https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
 */
export const STATES_ERRORS = [
  'States.ALL',
  'States.TaskFailed',
  'States.Timeout',
  'States.HeartbeatTimeout',
  'States.Permissions',
  'States.ResultPathMatchFailure',
  'States.ParameterPathFailure',
  'States.QueryEvaluationError',
  'States.BranchFailed',
  'States.NoChoiceMatched',
  'States.IntrinsicFailure',
  'States.ExceedToleratedFailureThreshold',
  'States.ItemReaderFailed',
  'States.ResultWriterFailed',
];

/**
 * `errorType`s of the Lambda runtime itself (a timeout, a crash, a handler that cannot load), which Step Functions
 * reports like the function's own (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html).
 */
export const LAMBDA_RUNTIME_ERRORS = [
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Runtime.OutOfMemory',
  'Runtime.HandlerNotFound',
  'Runtime.ImportModuleError',
  'Runtime.UserCodeSyntaxError',
  'Runtime.UnhandledPromiseRejection',
  'Runtime.MarshalError',
];

/**
 * Every error name a Task with this Resource can end with, offline as in AWS: exactly the names the bridge's
 * {@link awsSdkTaskError} / {@link optimizedTaskError} / function-error rules produce, built from the same SDK
 * service models, plus {@link STATES_ERRORS}. `functionErrors` are the `errorType`s the invoked function declares it
 * throws (a Lambda function's error reaches Step Functions under its own errorType). Throws for a Resource the
 * bridge cannot run.
 *
 * - `aws-sdk:<service>:<action>`: `<Prefix>.<Error>Exception` for each modeled error, `<Prefix>.<Prefix>Exception`,
 *   `<Prefix>.SdkClientException` (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html)
 * - `dynamodb:*`: `DynamoDB.<Error>Exception` for each modeled error (so `DynamoDB.RequestLimitExceededException`,
 *   never `DynamoDB.RequestLimitExceeded`), `DynamoDB.AmazonDynamoDBException`, `DynamoDB.SdkClientException`
 * - `lambda:invoke`, a function ARN: `Lambda.<Error>` for each modeled Lambda API error (`Lambda.ServiceException`,
 *   `Lambda.TooManyRequestsException`, ...), `Lambda.AWSLambdaException`, `Lambda.SdkClientException`,
 *   `Lambda.Unknown`, the runtime's {@link LAMBDA_RUNTIME_ERRORS}, and `functionErrors`
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)
 * - `states:startExecution`: `StepFunctions.<Code>Exception` for the Step Functions API's errors
 */
export function errorNamesFor(resourceArn: string, functionErrors: readonly string[] = []): Set<string> {
  const names = new Set(STATES_ERRORS);
  const family = (spec: { prefix: string; module: SdkModule; baseException: string }, generic: string) => {
    for (const e of modeledErrors(spec.module, spec.baseException)) names.add(`${spec.prefix}.${withExceptionSuffix(e)}`);
    names.add(`${spec.prefix}.${generic}`);
    names.add(`${spec.prefix}.SdkClientException`);
  };
  const p = parseResource(resourceArn);
  switch (p.kind) {
    case 'aws-sdk': {
      const svc = SDK_SERVICES[p.service];
      if (!svc) throw new Error(`aws-sdk service '${p.service}' is not bridged offline`);
      family(svc, `${svc.prefix}Exception`);
      break;
    }
    case 'dynamodb':
      family(DYNAMODB_OPTIMIZED, DYNAMODB_OPTIMIZED.genericException);
      break;
    case 'lambda':
    case 'lambda-function':
      family(LAMBDA_OPTIMIZED, LAMBDA_OPTIMIZED.genericException);
      for (const e of ['Lambda.Unknown', ...LAMBDA_RUNTIME_ERRORS, ...functionErrors]) names.add(e);
      break;
    case 'states':
      for (const code of Object.values(apiErrors).map((make) => make('x').code)) names.add(`StepFunctions.${withExceptionSuffix(code)}`);
      names.add('StepFunctions.AWSStepFunctionsException'); // an error the API does not model (AWS SDK for Java v1), e.g. AccessDenied
      break;
    default:
      throw new Error(`the resource '${resourceArn}' is not supported by the offline Step Functions`);
  }
  return names;
}

// ---------- HTTP metadata of optimized integrations ----------

const RAW_HTTP = Symbol('tollgate.rawHttp');
interface RawHttp {
  statusCode: number;
  headers: Record<string, string>;
}

const HEADER_NAMES: Record<string, string> = {
  'x-amzn-requestid': 'x-amzn-RequestId',
  'x-amz-crc32': 'x-amz-crc32',
  'x-amz-executed-version': 'X-Amz-Executed-Version',
  'x-amz-function-error': 'X-Amz-Function-Error',
  'x-amz-log-result': 'X-Amz-Log-Result',
  'x-amzn-trace-id': 'X-Amzn-Trace-Id',
};
const canonicalHeader = (h: string): string =>
  HEADER_NAMES[h] ?? h.replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());

/** `SdkHttpMetadata` / `SdkResponseMetadata` as Step Functions' optimized integrations add them to results. */
export function sdkMetadata(output: unknown): Record<string, unknown> {
  const raw = (output as Record<symbol, RawHttp | undefined>)?.[RAW_HTTP];
  const meta = (output as { $metadata?: { httpStatusCode?: number; requestId?: string } })?.$metadata;
  const headers: Record<string, string> = {};
  const allHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(raw?.headers ?? {})) {
    headers[canonicalHeader(k)] = v;
    allHeaders[canonicalHeader(k)] = [v];
  }
  return {
    SdkHttpMetadata: { AllHttpHeaders: allHeaders, HttpHeaders: headers, HttpStatusCode: raw?.statusCode ?? meta?.httpStatusCode ?? 200 },
    SdkResponseMetadata: { RequestId: meta?.requestId ?? headers['x-amzn-RequestId'] ?? '' },
  };
}

// ---------- the bridge ----------

export interface BridgeOptions {
  endpoints: Partial<Endpoints>;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** In-process StartExecution / DescribeExecution / wait, for `arn:aws:states:::states:startExecution`. */
  stepFunctions: {
    startExecution(req: { stateMachineArn: string; name?: string; input?: string }): Promise<StartExecutionResult>;
    waitForExecution(arn: string, timeoutMs?: number): Promise<ExecutionDescription>;
  };
  /** Test only: asked before each Task call that names its state (see ./faults.ts). */
  faults?: TaskFaultHook;
  /** Offline IAM (local/iam): each state machine's own credentials, and the check of calls made in-process. */
  iam?: TaskIam;
}

/** How the bridge acts as a state machine's execution role (local/iam/tasks.ts builds it). */
export interface TaskIam {
  /** Credentials the state machine's task SDK clients sign with; undefined: the bridge's default credentials. */
  credentialsFor(stateMachineName: string): { accessKeyId: string; secretAccessKey: string } | undefined;
  /** AWS's AccessDenied message when the role does not allow all of `permissions`, else undefined. */
  authorize(stateMachineName: string, permissions: { action: string; resource: string }[]): string | undefined;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkParameters(resource: string, params: unknown, allowed: string[]): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (!isPlainObject(params)) throw new StatesRuntimeError(`The parameters of ${resource} must be a JSON object`);
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw new StatesRuntimeError(
        `The field '${key}' is not supported by Step Functions for ${resource} (supported: ${allowed.join(', ')})`,
      );
    }
  }
  return params;
}

export class TaskBridge {
  private readonly clients = new Map<string, SdkClient>();
  private readonly schemas = new Map<CommandCtor, { input: NormalizedSchema; output: NormalizedSchema }>();
  private closed = false;

  constructor(private readonly options: BridgeOptions) {}

  /**
   * Throws the StatesRuntimeError that running this resource would end with, if it cannot run offline at all
   * (unknown resource, unsupported integration pattern, service or action, or no local endpoint for it).
   */
  preflight(resourceArn: string): void {
    const p = parseResource(resourceArn);
    switch (p.kind) {
      case 'aws-sdk': {
        if (p.pattern) throw this.unsupported(resourceArn, `the ${p.pattern} integration pattern`);
        const svc = SDK_SERVICES[p.service];
        if (!svc) {
          throw this.unsupported(
            resourceArn,
            `aws-sdk service '${p.service}' has no local counterpart; available: ${Object.keys(SDK_SERVICES).join(', ')}`,
          );
        }
        if (!this.commandFor(svc, p.action)) throw this.unsupported(resourceArn, `'${p.service}' has no action '${p.action}'`);
        this.endpointFor(p.service);
        return;
      }
      case 'dynamodb':
      case 'lambda':
        if (p.pattern) throw this.unsupported(resourceArn, `the ${p.pattern} integration pattern`);
        this.endpointFor(p.kind);
        return;
      case 'states':
        if (p.pattern !== '' && p.pattern !== '.sync' && p.pattern !== '.sync:2') {
          throw this.unsupported(resourceArn, `the ${p.pattern} integration pattern`);
        }
        return;
      case 'lambda-function':
        this.endpointFor('lambda');
        return;
      default:
        throw this.unsupported(resourceArn);
    }
  }

  /**
   * Runs the resource; resolves to the task result or rejects with TaskError / StatesRuntimeError. With `call`
   * (the state making it) and a `faults` hook, the hook is asked first and may fail or hold the call.
   */
  async invoke(resourceArn: string, params: unknown, signal?: AbortSignal, call?: Omit<TaskCall, 'resource'>): Promise<unknown> {
    this.preflight(resourceArn);
    if (call && this.options.faults) {
      const fault = await this.options.faults.next({ ...call, resource: faultResource(resourceArn) });
      if (signal?.aborted) throw new StatesRuntimeError('execution aborted');
      if (fault) {
        // A fault AWS could never raise here would test a path that cannot happen (a function's own error types are
        // the function's business, so only service integrations are checked).
        const kind = parseResource(resourceArn).kind;
        if ((kind === 'aws-sdk' || kind === 'dynamodb') && !errorNamesFor(resourceArn).has(fault.error)) {
          throw new StatesRuntimeError(`The injected fault '${fault.error}' is not an error Step Functions emits for ${resourceArn}`);
        }
        throw new TaskError(fault.error, fault.cause ?? injectedCause(fault.error));
      }
    }
    const p = parseResource(resourceArn);
    const as = call?.stateMachine;
    switch (p.kind) {
      case 'aws-sdk':
        return this.awsSdk(p.service, p.action, params, signal, as);
      case 'dynamodb':
        return this.dynamodbOptimized(resourceArn, p.action, params, signal, as);
      case 'lambda':
        return this.lambdaInvoke(resourceArn, params, signal, as);
      case 'states':
        return this.startExecution(resourceArn, p.pattern, params, as);
      case 'lambda-function':
        return this.lambdaFunction(p.functionArn, params, signal, as);
      default:
        throw this.unsupported(resourceArn);
    }
  }

  private commandFor(svc: SdkService, action: string): CommandCtor | undefined {
    return commandFor(svc, action);
  }

  private endpointFor(serviceName: string): string {
    const svc = SDK_SERVICES[serviceName]!;
    const endpoint = this.options.endpoints[svc.endpoint];
    if (!endpoint) {
      throw new StatesRuntimeError(`No local endpoint for '${svc.endpoint}' is configured, so '${serviceName}' tasks cannot run`);
    }
    return endpoint;
  }

  destroy(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  private unsupported(resourceArn: string, what?: string): StatesRuntimeError {
    return new StatesRuntimeError(
      `The resource '${resourceArn}' is not supported by the offline Step Functions` + (what ? ` (${what})` : ''),
    );
  }

  /** The SDK client for a service, signing as the state machine `as` (its execution role) when offline IAM is on. */
  private client(serviceName: string, as?: string): SdkClient {
    if (this.closed) throw new StatesRuntimeError('the offline Step Functions service is closing');
    const credentials = (as !== undefined ? this.options.iam?.credentialsFor(as) : undefined) ?? this.options.credentials;
    const cacheKey = `${serviceName}/${credentials.accessKeyId}`;
    const existing = this.clients.get(cacheKey);
    if (existing) return existing;
    const svc = SDK_SERVICES[serviceName]!;
    const endpoint = this.endpointFor(serviceName);
    const Ctor = svc.module[svc.client] as ClientCtor;
    const client = new Ctor({
      region: this.options.region,
      endpoint,
      credentials,
      maxAttempts: 1, // Step Functions' Retry fields decide; the SDK must not retry behind their back.
      requestHandler: new NodeHttpHandler({
        connectionTimeout: 5_000,
        // A Lambda invocation lasts as long as the function's own timeout allows.
        requestTimeout: serviceName === 'lambda' ? 0 : 60_000,
      }),
    });
    client.middlewareStack.add(
      (next: (args: unknown) => Promise<{ output?: unknown; response?: { statusCode?: number; headers?: Record<string, string> } }>) =>
        async (args: unknown) => {
          const result = await next(args);
          if (result.output && typeof result.output === 'object') {
            const raw: RawHttp = { statusCode: result.response?.statusCode ?? 200, headers: result.response?.headers ?? {} };
            Object.defineProperty(result.output, RAW_HTTP, { value: raw, enumerable: false });
          }
          return result;
        },
      { step: 'deserialize', name: 'tollgateCaptureHttpMetadata', priority: 'high' },
    );
    this.clients.set(cacheKey, client);
    return client;
  }

  private schemasOf(Command: CommandCtor): { input: NormalizedSchema; output: NormalizedSchema } {
    let s = this.schemas.get(Command);
    if (!s) {
      s = commandSchemas(Command);
      this.schemas.set(Command, s);
    }
    return s;
  }

  private async awsSdk(serviceName: string, action: string, params: unknown, signal?: AbortSignal, as?: string): Promise<unknown> {
    const svc = SDK_SERVICES[serviceName]!;
    const Command = this.commandFor(svc, action)!;
    const schemas = this.schemasOf(Command);
    const input = toSdkInput(params, schemas.input, { naming: 'sfn', resource: `aws-sdk:${serviceName}:${action}` });
    const client = this.client(serviceName, as);
    let output: unknown;
    try {
      output = await client.send(new Command(input), { abortSignal: signal });
    } catch (err) {
      throw awsSdkTaskError(err, svc);
    }
    return fromSdkOutput(output, schemas.output, 'sfn');
  }

  private async dynamodbOptimized(resourceArn: string, action: string, params: unknown, signal?: AbortSignal, as?: string): Promise<unknown> {
    const checked = checkParameters(resourceArn, params, DYNAMODB_PARAMETERS[action]!);
    const Command = (dynamodb as unknown as SdkModule)[`${action[0]!.toUpperCase()}${action.slice(1)}Command`] as CommandCtor;
    const schemas = this.schemasOf(Command);
    const input = toSdkInput(checked, schemas.input, { naming: 'sdk', resource: `dynamodb:${action}` });
    const client = this.client('dynamodb', as);
    let output: unknown;
    try {
      output = await client.send(new Command(input), { abortSignal: signal });
    } catch (err) {
      throw optimizedTaskError(err, DYNAMODB_OPTIMIZED);
    }
    return { ...fromSdkOutput(output, schemas.output, 'sdk'), ...sdkMetadata(output) };
  }

  private async invokeLambda(functionName: string, payload: unknown, extra: Record<string, unknown>, signal?: AbortSignal, as?: string) {
    const client = this.client('lambda', as);
    let output: lambda.InvokeCommandOutput;
    try {
      output = (await client.send(
        new lambda.InvokeCommand({
          ...extra,
          FunctionName: functionName,
          // Step Functions sends the Payload parameter as JSON (a string value becomes a JSON string).
          ...(payload === undefined ? {} : { Payload: encoder.encode(JSON.stringify(payload)) }),
        }),
        { abortSignal: signal },
      )) as lambda.InvokeCommandOutput;
    } catch (err) {
      throw optimizedTaskError(err, LAMBDA_OPTIMIZED);
    }
    const text = output.Payload ? decoder.decode(output.Payload) : '';
    let parsed: unknown = text;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (output.FunctionError) {
      const errorType = isPlainObject(parsed) && typeof parsed.errorType === 'string' ? parsed.errorType : 'Lambda.Unknown';
      throw new TaskError(errorType, text);
    }
    return { output, payload: parsed };
  }

  private async lambdaInvoke(resourceArn: string, params: unknown, signal?: AbortSignal, as?: string): Promise<unknown> {
    const checked = checkParameters(resourceArn, params, LAMBDA_INVOKE_PARAMETERS);
    const { FunctionName, Payload, ...extra } = checked;
    if (typeof FunctionName !== 'string' || !FunctionName) {
      throw new StatesRuntimeError(`${resourceArn} needs a FunctionName string parameter`);
    }
    const { output, payload } = await this.invokeLambda(FunctionName, Payload, extra, signal, as);
    const result: Record<string, unknown> = {
      ExecutedVersion: output.ExecutedVersion ?? '$LATEST',
      Payload: payload,
      ...sdkMetadata(output),
      StatusCode: output.StatusCode ?? 200,
    };
    if (output.LogResult) result.LogResult = output.LogResult;
    return result;
  }

  private async lambdaFunction(functionArn: string, input: unknown, signal?: AbortSignal, as?: string): Promise<unknown> {
    const { payload } = await this.invokeLambda(functionArn, input, {}, signal, as);
    return payload;
  }

  private async startExecution(resourceArn: string, pattern: string, params: unknown, as?: string): Promise<unknown> {
    const checked = checkParameters(resourceArn, params, START_EXECUTION_PARAMETERS);
    if (typeof checked.StateMachineArn !== 'string') {
      throw new StatesRuntimeError(`${resourceArn} needs a StateMachineArn string parameter`);
    }
    // In-process, so the execution role is checked here (the HTTP fronts of local/iam do it for the other calls).
    const denied = as !== undefined ? this.options.iam?.authorize(as, startExecutionPermissions(checked.StateMachineArn, pattern)) : undefined;
    if (denied) {
      throw new TaskError(
        'StepFunctions.AWSStepFunctionsException',
        `${denied} (Service: AWSStepFunctions; Status Code: 400; Error Code: AccessDeniedException; Request ID: local; Proxy: null)`,
      );
    }
    const input = checked.Input === undefined ? '{}' : typeof checked.Input === 'string' ? checked.Input : JSON.stringify(checked.Input);
    let started: StartExecutionResult;
    try {
      started = await this.options.stepFunctions.startExecution({
        stateMachineArn: checked.StateMachineArn,
        input,
        ...(typeof checked.Name === 'string' ? { name: checked.Name } : {}),
      });
    } catch (err) {
      if (err instanceof SfnApiError) {
        throw new TaskError(
          `StepFunctions.${withExceptionSuffix(err.code)}`,
          `${err.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: ${err.code}; Request ID: local; Proxy: null)`,
        );
      }
      throw err;
    }
    if (pattern === '') {
      return { ExecutionArn: started.executionArn, StartDate: started.startDate, ...sdkMetadata(undefined) };
    }
    const d = await this.options.stepFunctions.waitForExecution(started.executionArn, 2 ** 31 - 1);
    const parse = (s: string | undefined) => {
      if (pattern !== '.sync:2' || s === undefined) return s;
      try {
        return JSON.parse(s) as unknown;
      } catch {
        return s;
      }
    };
    const result: Record<string, unknown> = {
      ExecutionArn: d.executionArn,
      Input: parse(d.input),
      InputDetails: { Included: true },
      Name: d.name,
      Output: parse(d.output),
      OutputDetails: { Included: true },
      RedriveCount: d.redriveCount,
      StartDate: d.startDate.getTime(),
      StateMachineArn: d.stateMachineArn,
      Status: d.status,
      StopDate: d.stopDate?.getTime(),
    };
    if (d.error !== undefined) result.Error = d.error;
    if (d.cause !== undefined) result.Cause = d.cause;
    if (d.status !== 'SUCCEEDED') throw new TaskError('States.TaskFailed', JSON.stringify(result));
    return result;
  }
}
