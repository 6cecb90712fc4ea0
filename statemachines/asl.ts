/**
 * Small builders for the Amazon States Language (JSONPath) that the workflow sources in this folder use, so that a
 * workflow reads as its steps: each service's transient errors and the retry policy are named once here, and a task
 * states only what is particular to it. `npm run workflows` writes `<name>.asl.json` from `<name>.ts`; SAM deploys
 * those JSON files (`DefinitionUri`), and `tests/unit/workflows.test.ts` fails when they differ from the builders.
 *
 * Error names are Step Functions' own for each integration (https://docs.aws.amazon.com/step-functions/latest/dg/
 * supported-services-awssdk.html "Handling errors"; optimized DynamoDB: connect-ddb.html; Lambda: connect-lambda.html);
 * `tests/unit/workflow-errors.test.ts` checks every name against what the integration can emit.
 */

/** One state of a definition, as JSON. */
export type State = Record<string, unknown>;
/** A Retry entry. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds: number;
  JitterStrategy: 'FULL';
}
/** A Catch entry. */
export interface Catcher {
  ErrorEquals: string[];
  ResultPath: string | null;
  Next: string;
}

/** Each service's transient errors, as its Step Functions integration names them. */
export const TRANSIENT = {
  dynamodb: [
    'DynamoDB.ProvisionedThroughputExceededException',
    'DynamoDB.RequestLimitExceededException',
    'DynamoDB.ThrottlingException',
    'DynamoDB.InternalServerErrorException',
    'DynamoDB.SdkClientException',
  ],
  apigateway: ['ApiGateway.TooManyRequestsException', 'ApiGateway.ServiceUnavailableException', 'ApiGateway.SdkClientException'],
  cognitoidentityprovider: [
    'CognitoIdentityProvider.TooManyRequestsException',
    'CognitoIdentityProvider.InternalErrorException',
    'CognitoIdentityProvider.SdkClientException',
  ],
  sfn: ['Sfn.SfnException'],
  /** lambda:invoke's own (the call, not the function). */
  lambda: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
} as const;

/** What a retry policy may change of the default one. */
export type RetryOverrides = Partial<Omit<Retrier, 'ErrorEquals'>>;

/** The policy every transient error gets: 2 s, doubling, at most 20 s apart, 6 attempts, full jitter. */
export function retry(errors: readonly string[], overrides: RetryOverrides = {}): Retrier {
  return { ErrorEquals: [...errors], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 20, JitterStrategy: 'FULL', ...overrides };
}

/** Catch `errors` (one name or several) and go to `next`, keeping the error at `resultPath` (null: drop it). */
export function on(errors: string | string[], next: string, resultPath: string | null = '$.error'): Catcher {
  return { ErrorEquals: typeof errors === 'string' ? [errors] : errors, ResultPath: resultPath, Next: next };
}

/** Catch everything else (always last). */
export const onAny = (next: string, resultPath: string | null = '$.error'): Catcher => on('States.ALL', next, resultPath);

const isPath = (v: string) => v.startsWith('$.') || v === '$' || v.startsWith('$$.') || v.startsWith('States.');

/**
 * A payload template with the `.$` suffixes added: a string value that is a path (`$.x`, `$$.x`) or an intrinsic
 * (`States.Format(...)`) gets its key suffixed; `${Name}` (a DefinitionSubstitution) and other strings stay literal.
 */
export function payload(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(payload);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => (typeof v === 'string' && isPath(v) && !k.endsWith('.$') ? [`${k}.$`, v] : [k, payload(v)])),
  );
}

/** DynamoDB attribute values (native DynamoDB JSON, as the optimized integration takes them). */
export const S = (v: string) => ({ S: v });
export const N = (v: string | number) => ({ N: String(v) });

/** What every Task may carry besides its Resource and Parameters. */
export interface TaskOptions {
  Comment?: string;
  ResultSelector?: Record<string, unknown>;
  ResultPath?: string | null;
  OutputPath?: string;
  Catch?: Catcher[];
  Next?: string;
  End?: true;
}

/** A Task state; `retries` is its Retry field: the transient errors of the service it calls (none: no Retry). */
export function task(resource: string, parameters: Record<string, unknown>, retries: Retrier[], o: TaskOptions): State {
  return {
    Type: 'Task',
    ...(o.Comment === undefined ? {} : { Comment: o.Comment }),
    Resource: resource,
    Parameters: payload(parameters),
    ...(o.ResultSelector === undefined ? {} : { ResultSelector: payload(o.ResultSelector) }),
    ...(o.ResultPath === undefined ? {} : { ResultPath: o.ResultPath }),
    ...(o.OutputPath === undefined ? {} : { OutputPath: o.OutputPath }),
    ...(retries.length === 0 ? {} : { Retry: retries }),
    ...(o.Catch === undefined ? {} : { Catch: o.Catch }),
    ...(o.End ? { End: true } : { Next: o.Next }),
  };
}

/** The optimized DynamoDB integration (`arn:aws:states:::dynamodb:<action>`), retried on DynamoDB's transient errors. */
export const dynamodb = (action: string, parameters: Record<string, unknown>, o: TaskOptions): State =>
  task(`arn:aws:states:::dynamodb:${action}`, parameters, [retry(TRANSIENT.dynamodb)], o);

/** An AWS SDK integration (`arn:aws:states:::aws-sdk:<service>:<action>`), retried on that service's transient errors. */
export const sdk = (service: keyof typeof TRANSIENT, action: string, parameters: Record<string, unknown>, o: TaskOptions): State =>
  task(`arn:aws:states:::aws-sdk:${service}:${action}`, parameters, [retry(TRANSIENT[service])], o);

/**
 * `lambda:invoke` of a function (`functionArn`, usually a `${Substitution}`) with a payload; `retries` name the Lambda
 * call's transient errors together with those the function itself reports (see the function's `errors.ts`).
 */
export const invoke = (functionArn: string, body: Record<string, unknown>, retries: Retrier[], o: TaskOptions): State =>
  task('arn:aws:states:::lambda:invoke', { FunctionName: functionArn, Payload: body }, retries, o);

/** API Gateway's throttling error: CreateApiKey and the management API are rate-limited per account (not raisable). */
const API_GATEWAY_THROTTLED = 'ApiGateway.TooManyRequestsException';

/**
 * Retries for `lambda:invoke` of the ApiKeyFunction (it calls API Gateway and reports its errors under API Gateway's
 * names): throttling first, with its own budget (`throttled`), then the Lambda call's, API Gateway's other transient
 * errors and a timed-out invocation (`others`).
 */
export function apiKeyFunctionRetries(throttled: RetryOverrides = {}, others: RetryOverrides = {}): Retrier[] {
  const apigateway = TRANSIENT.apigateway.filter((e) => e !== API_GATEWAY_THROTTLED);
  return [retry([API_GATEWAY_THROTTLED], throttled), retry([...TRANSIENT.lambda, ...apigateway, 'Sandbox.Timedout'], others)];
}

/**
 * Retries for `lambda:invoke` of the StatementFunction: the Lambda call's transient errors and the SDK's throttling
 * errors the function lets through under their own names (functions/statement/errors.ts).
 */
export const STATEMENT_FUNCTION_RETRIES: Retrier[] = [
  retry([...TRANSIENT.lambda, 'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']),
];

/** A Pass state; `Parameters` is a payload template (see `payload`), `Result` is taken as it is. */
export function pass(o: { Comment?: string; Parameters?: Record<string, unknown>; Result?: unknown; ResultPath?: string; Next?: string }): State {
  const { Parameters, Next, ...rest } = o;
  return { Type: 'Pass', ...rest, ...(Parameters === undefined ? {} : { Parameters: payload(Parameters) }), ...(Next === undefined ? { End: true } : { Next }) };
}

/** Choice rule conditions. */
export const isPresent = (Variable: string) => ({ Variable, IsPresent: true });
export const isString = (Variable: string) => ({ Variable, IsString: true });

/** A Choice state. */
export function choice(choices: Record<string, unknown>[], defaultNext: string, comment?: string): State {
  return { Type: 'Choice', ...(comment === undefined ? {} : { Comment: comment }), Choices: choices, Default: defaultNext };
}

/** A Fail state with a fixed error and cause, or one read from `$.error` (`ErrorPath`/`CausePath`). */
export function fail(error?: string, cause?: string): State {
  return error === undefined ? { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' } : { Type: 'Fail', Error: error, Cause: cause };
}

/** The whole definition. */
export function machine(comment: string, startAt: string, states: Record<string, State>): Record<string, unknown> {
  return { Comment: comment, StartAt: startAt, States: states };
}

/** The committed text of a definition: 2-space JSON and a final newline, as the files have always been written. */
export const render = (definition: unknown): string => `${JSON.stringify(definition, null, 2)}\n`;
