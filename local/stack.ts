// Over 400 lines: the one place that starts every local service in order and wires their endpoints to each other.
/**
 * The offline stack: "deploys" template.yaml onto local parts — cognito-local, dynalite, and our Lambda, API Gateway
 * (control and data plane) and Step Functions services — and returns their endpoints. `npm start` and every
 * integration test use this one entry point (tests with `ports: 0` and a fresh temp directory).
 */
import { CognitoIdentityProviderClient, CreateUserPoolClientCommand, CreateUserPoolCommand, DescribeUserPoolClientCommand, DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createApiGatewayControlPlane, type FaultHook, type ManagementApiLimits } from './apigateway/index.ts';
import { buildFunctionsCached } from './build.ts';
import { startCognito, type LocalCognito } from './cognito.ts';
import type { PasswordPolicy } from '#shared/password-policy';
import { openApiDocument } from '../functions/openapi/document.ts';
import { createPortalListener, DEFAULT_PORTAL_PORT, ensurePortalBuilt, readOutboxFile, type PortalConfig } from './portal/index.ts';
import { cognitoIssuer, createCognitoVerifier, createGateway, jwksUrlOf, type AccessLogEntry } from './execute-api/index.ts';
import { createLambdaRuntime, type LambdaRuntime } from './lambda/index.ts';
import { buildStackModel, type CognitoIds, type StackModel } from './model.ts';
import { DEFAULT_PORTS, endpointEnvironment, samEnvVars, type ServiceName } from './endpoints.ts';
import { freePort } from './ports.ts';
import { createStepFunctionsService, type TaskFaultHook } from './stepfunctions/index.ts';
import { checkTaskDefinitions } from './stepfunctions/definition-check.ts';
import { authorizeServer, authorizingListener, createIam, taskIam, withFunctionCredentials, type IamAuthorizer, type IamMode } from './iam/index.ts';
import { loadTemplate, type JsonObject } from './template.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION, type Endpoints, type Listener } from './types.ts';

export { DEFAULT_PORTS, endpointEnvironment, type ServiceName };

const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;

export interface LocalStackOptions {
  /** cognito-local's store: 'journal' (default; local/cognito-store.ts) or 'stormdb', the whole-file save per write it ships with (bench/cognito-scale.ts compares). */
  cognitoStore?: 'journal' | 'stormdb';
  /** State directory (users, keys, tables, executions). `npm start` uses ./.local; tests a fresh temp dir. */
  dir: string;
  templatePath?: string;
  stackName?: string;
  host?: string;
  /** 0 = every port free-chosen; or per-service ports (0 for a free one); defaults as in DEFAULT_PORTS. */
  ports?: 0 | Partial<Record<ServiceName, number>>;
  /** Like `sam deploy --parameter-overrides`. */
  parameterOverrides?: Record<string, string>;
  log?: (line: string) => void;
  /** Execution environments per function (default 4; Lambda itself scales to the account's concurrency, 1,000). */
  lambdaMaxConcurrency?: number;
  /** Each request the gateway answered, with its timings (the bench's split of the request path). */
  gatewayAccessLog?: (entry: AccessLogEntry) => void;
  /** Scale Step Functions Retry waits (tests use a small factor). */
  retryIntervalScale?: number;
  /** Step Functions' history quota per execution (default 25,000, as in AWS); tests lower it. */
  maxHistoryEvents?: number;
  /** Milliseconds clock of the gateway's stage throttles (MethodSettings); tests move it by hand. Default Date.now. */
  gatewayClock?: () => number;
  /** CreateApiKey requests per second before 429 (AWS: 5). Infinity lifts this one limit only. */
  createApiKeyRateLimit?: number;
  /**
   * The API Gateway management API's limits (local/apigateway/limits.ts): AWS's by default (10 requests/s, burst 40,
   * for every control-plane call together; CreateApiKey and DeleteApiKey 5/s); `'off'` lifts them all.
   */
  managementApiLimits?: ManagementApiLimits | 'off';
  /** Milliseconds clock of the management API's limits; tests freeze or move it. Default Date.now. */
  managementApiClock?: () => number;
  /**
   * Also serve the developer portal (portal/dist, built first if missing or stale) with its /config.json and the
   * outbox (/outbox.json). Port: DEFAULT_PORTAL_PORT (5173), `{ port }` (0 = free), or free when `ports` is 0.
   */
  portal?: boolean | { port?: number };
  /**
   * Test only: fault injection. `apigateway` is asked before each control-plane operation (a `FaultInjector` of
   * local/apigateway), `stepFunctions` before each Task call (a `TaskFaultInjector` of local/stepfunctions).
   */
  faults?: LocalStackFaults;
  /**
   * Offline IAM (local/iam): calls from a function or state machine are checked against its execution role.
   * `enforce` (default) refuses a denied call as AWS does; `warn` logs it and lets it through (`npm start -- --iam warn`).
   */
  iam?: IamMode;
}

export interface LocalStackFaults {
  apigateway?: FaultHook;
  stepFunctions?: TaskFaultHook;
}

export interface LocalStackMetrics {
  /** Requests the DynamoDB server received, by operation (`GetItem`, `PutItem`, `Query`, …), since start or reset(). */
  dynamodb: Record<string, number>;
  /** Milliseconds the DynamoDB server spent on them (request received → response sent), by operation. */
  dynamodbMs: Record<string, number>;
  /** Zeroes the counters (the same objects stay in place). */
  reset(): void;
}

export interface LocalStack {
  endpoints: Endpoints;
  /** The template's Outputs, with ApiUrl pointing at the local gateway. */
  outputs: Record<string, string>;
  model: StackModel;
  /** Variables for an SDK/CLI client: AWS_ENDPOINT_URL_<SERVICE>, region, dummy credentials. */
  clientEnvironment: Record<string, string>;
  /** SAM CLI `--env-vars` file written at start (`<dir>/sam-env-vars.json`): see samEnvVars in local/endpoints.ts. */
  samEnvVarsFile: string;
  apiUrl: string;
  userPoolId: string;
  userPoolClientId: string;
  cognito: LocalCognito;
  lambda: LambdaRuntime;
  controlPlane: Awaited<ReturnType<typeof createApiGatewayControlPlane>>;
  stepFunctions: Awaited<ReturnType<typeof createStepFunctionsService>>;
  /** The developer portal, when `portal` was asked for: its URL and the config.json it serves. */
  portal?: { url: string; config: PortalConfig };
  /** The fault hooks given in the options (none: `{}`). */
  faults: LocalStackFaults;
  /** Request counters (bench, cost model): DynamoDB requests by operation, from X-Amz-Target. */
  metrics: LocalStackMetrics;
  /** Offline IAM: the principals (one per function and state machine), their roles and every decision. */
  iam: IamAuthorizer;
  close(): Promise<void>;
}

function listen(listener: Listener | Server, port: number, host: string): Promise<Server> {
  const server = typeof listener === 'function' ? createServer(listener) : listener;
  return new Promise((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use (set another port, see README "Ports")`) : error),
    );
    server.listen(port, host, () => resolvePromise(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolvePromise) => {
    server.close(() => resolvePromise());
    server.closeAllConnections?.();
  });
}

interface StackState {
  cognito: CognitoIds;
}

/** Maps a template's user pool properties to CreateUserPool's input (CloudFormation and the API differ in one name). */
function createUserPoolInput(properties: JsonObject): Record<string, unknown> {
  const { UserPoolName, LambdaConfig: _ignored, UserPoolTags, ...rest } = properties;
  return { ...rest, PoolName: UserPoolName ?? 'local', ...(UserPoolTags ? { UserPoolTags } : {}) };
}

/** The pool's `Policies.PasswordPolicy` as the portal's config.json carries it (`{}` when the template sets none). */
function passwordPolicyOf(properties: JsonObject): Pick<PortalConfig, 'passwordPolicy'> {
  const policy = (properties.Policies as JsonObject | undefined)?.PasswordPolicy;
  return policy && typeof policy === 'object' && !Array.isArray(policy) ? { passwordPolicy: policy as PasswordPolicy } : {};
}

async function deployCognito(
  model: StackModel,
  cognitoUrl: string,
  state: StackState,
): Promise<CognitoIds> {
  const client = new CognitoIdentityProviderClient({ endpoint: cognitoUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const ids: CognitoIds = { pools: {}, clients: {} };
  try {
    for (const pool of model.userPools) {
      const known = state.cognito.pools[pool.logicalId];
      const exists = known ? await client.send(new DescribeUserPoolCommand({ UserPoolId: known })).then(() => true, () => false) : false;
      if (known && exists) {
        ids.pools[pool.logicalId] = known;
        continue;
      }
      const created = await client.send(new CreateUserPoolCommand(createUserPoolInput(pool.properties) as never));
      ids.pools[pool.logicalId] = created.UserPool?.Id as string;
    }
    for (const appClient of model.userPoolClients) {
      const poolId = ids.pools[appClient.poolLogicalId];
      if (!poolId) throw new Error(`user pool client ${appClient.logicalId}: pool ${appClient.poolLogicalId} is not in the template`);
      const known = state.cognito.clients[appClient.logicalId];
      if (known && state.cognito.pools[appClient.poolLogicalId] === poolId) {
        const exists = await client
          .send(new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: known.id }))
          .then(() => true, () => false);
        if (exists) {
          ids.clients[appClient.logicalId] = known;
          continue;
        }
      }
      const { UserPoolId: _pool, ...props } = appClient.properties;
      const created = await client.send(new CreateUserPoolClientCommand({ ...(props as object), UserPoolId: poolId } as never));
      const secret = created.UserPoolClient?.ClientSecret;
      ids.clients[appClient.logicalId] = { id: created.UserPoolClient?.ClientId as string, ...(secret ? { secret } : {}) };
    }
  } finally {
    client.destroy();
  }
  return ids;
}

async function deployTables(model: StackModel, endpoint: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const table of model.tables) {
      const p = table.properties as Record<string, unknown>;
      try {
        await client.send(
          new CreateTableCommand({
            TableName: table.name,
            AttributeDefinitions: p.AttributeDefinitions as never,
            KeySchema: p.KeySchema as never,
            BillingMode: (p.BillingMode as 'PAY_PER_REQUEST' | undefined) ?? 'PAY_PER_REQUEST',
            ...(p.ProvisionedThroughput ? { ProvisionedThroughput: p.ProvisionedThroughput as never } : {}),
            ...(p.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes as never } : {}),
            ...(p.LocalSecondaryIndexes ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes as never } : {}),
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
    }
  } finally {
    client.destroy();
  }
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const root = resolve(__dirname, '..');
  const templatePath = opts.templatePath ?? join(root, 'template.yaml');
  const stackName = opts.stackName ?? 'tollgate';
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => undefined);

  const wantedPort = (name: ServiceName): number => (opts.ports === 0 ? 0 : (opts.ports?.[name] ?? DEFAULT_PORTS[name]));

  // The portal's build (only when stale) runs while the services start; awaited before the portal is served.
  const portalBuild = opts.portal ? ensurePortalBuilt({ log }).then(() => undefined, (error: unknown) => error) : undefined;

  const template = loadTemplate(templatePath);
  const modelOptions = {
    templatePath,
    stackName,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    ...(opts.parameterOverrides ? { parameterOverrides: opts.parameterOverrides } : {}),
  };
  // First pass (no Cognito ids yet) fails fast on anything unsupported and names the trigger functions.
  const draft = buildStackModel(template, modelOptions);
  // As Step Functions checks a definition at deploy: aws-sdk actions and parameter names (before anything starts).
  for (const machine of draft.stateMachines) checkTaskDefinitions(machine.definition, machine.logicalId);
  if (draft.userPools.length !== 1) throw new Error(`the offline stack supports exactly one user pool; the template has ${draft.userPools.length}`);
  if (draft.apis.length !== 1) throw new Error(`the offline stack supports exactly one REST API; the template has ${draft.apis.length}`);
  const pool = draft.userPools[0]!;
  const functionNameOf = (logicalId: string) => draft.functions.find((f) => f.logicalId === logicalId)?.name ?? logicalId;

  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };

  try {
    const stateFile = join(dir, 'stack.json');
    const state: StackState = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StackState) : { cognito: { pools: {}, clients: {} } };

    // Our services' sockets are bound first and held, so a free port (0) cannot be taken by anyone else while the
    // stack builds; their handlers are attached once each service is ready (until then they answer 503).
    const ports = {} as Record<ServiceName, number>;
    const handlers = new Map<ServiceName, Listener>();
    for (const name of ['gateway', 'lambda', 'apigateway', 'stepfunctions'] as const) {
      const server = await listen(
        createServer((req, res) => {
          const handler = handlers.get(name);
          if (handler) return handler(req, res);
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: `${name} is starting` }));
        }),
        wantedPort(name),
        host,
      );
      closers.push(() => closeServer(server));
      ports[name] = (server.address() as { port: number }).port;
    }
    const attach = (name: ServiceName, listener: Listener) => handlers.set(name, listener);

    // DynamoDB
    mkdirSync(join(dir, 'dynamodb'), { recursive: true });
    const dynamo = await listen(dynalite({ path: join(dir, 'dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }), wantedPort('dynamodb'), host);
    closers.push(() => closeServer(dynamo));
    ports.dynamodb = (dynamo.address() as { port: number }).port;
    // cognito-local binds its own server and must know its port first (its tokens' issuer): chosen right before it starts.
    ports.cognito = wantedPort('cognito') === 0 ? await freePort(host) : wantedPort('cognito');

    const url = (name: ServiceName) => `http://${host}:${ports[name]}`;
    const endpoints: Endpoints = {
      gateway: url('gateway'),
      lambda: url('lambda'),
      apigateway: url('apigateway'),
      stepfunctions: url('stepfunctions'),
      cognito: url('cognito'),
      dynamodb: url('dynamodb'),
    };
    const metrics: LocalStackMetrics = {
      dynamodb: {},
      dynamodbMs: {},
      reset: () => {
        for (const operation of Object.keys(metrics.dynamodb)) delete metrics.dynamodb[operation];
        for (const operation of Object.keys(metrics.dynamodbMs)) delete metrics.dynamodbMs[operation];
      },
    };
    dynamo.on('request', (req, res) => {
      const received = performance.now();
      const target = req.headers['x-amz-target'];
      const operation = (typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : '') || 'unknown';
      metrics.dynamodb[operation] = (metrics.dynamodb[operation] ?? 0) + 1;
      res.once('finish', () => (metrics.dynamodbMs[operation] = (metrics.dynamodbMs[operation] ?? 0) + performance.now() - received));
    });

    // Cognito (triggers call the Lambda service, which starts below: triggers only fire on requests)
    const cognito = await startCognito({
      dir,
      host,
      port: ports.cognito,
      region: LOCAL_REGION,
      lambdaEndpoint: endpoints.lambda,
      credentials: LOCAL_CREDENTIALS,
      triggers: Object.fromEntries(Object.entries(pool.triggers).map(([trigger, fn]) => [trigger, functionNameOf(fn)])),
      log,
      ...(opts.cognitoStore ? { store: opts.cognitoStore } : {}),
    });
    closers.push(() => cognito.close());
    const cognitoIds = await deployCognito(draft, endpoints.cognito, state);
    writeFileSync(stateFile, JSON.stringify({ cognito: cognitoIds }, null, 2));

    const model = buildStackModel(template, { ...modelOptions, cognito: cognitoIds });
    await deployTables(model, endpoints.dynamodb);

    // Offline IAM: every call a function or state machine makes is checked against its execution role.
    const iam = await createIam({ template, context: model.context, stackName, accountId: LOCAL_ACCOUNT_ID, mode: opts.iam ?? 'enforce', log: (line) => log(line) });
    const arnScope = { region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID };
    authorizeServer('dynamodb', dynamo, iam, arnScope);
    authorizeServer('cognito', cognito.server, iam, arnScope);

    // Lambda (bundles are reused between starts while what they are built from is unchanged: local/build.ts)
    const built = await buildFunctionsCached(model.functions, root);
    const lambda = createLambdaRuntime({
      functions: withFunctionCredentials(model.functions, iam),
      bundles: new Map(built.map((b) => [b.logicalId, b.file])),
      baseEnvironment: endpointEnvironment(endpoints),
      ...(opts.lambdaMaxConcurrency !== undefined ? { maxConcurrency: opts.lambdaMaxConcurrency } : {}),
      onLog: (fn, text) => {
        for (const line of text.split('\n')) if (line.trim()) log(`[${fn}] ${line}`);
      },
    });
    closers.push(() => lambda.close());
    attach('lambda', authorizingListener('lambda', lambda.listener, iam, arnScope));
    // For `sam local invoke <Function> -e events/… --env-vars <dir>/sam-env-vars.json`: the same environment, with
    // the endpoints as a container reaches them.
    const samEnvVarsFile = join(dir, 'sam-env-vars.json');
    writeFileSync(samEnvVarsFile, `${JSON.stringify(samEnvVars(model.functions, endpoints), null, 2)}\n`);

    // API Gateway control plane
    const controlPlane = await createApiGatewayControlPlane({
      dir,
      usagePlans: model.usagePlans,
      apiKeys: model.apiKeys,
      log: (line) => log(`[apigateway] ${line}`),
      ...(opts.createApiKeyRateLimit !== undefined ? { createApiKeyRateLimit: opts.createApiKeyRateLimit } : {}),
      ...(opts.managementApiLimits !== undefined ? { managementApiLimits: opts.managementApiLimits } : {}),
      ...(opts.managementApiClock ? { limitsClock: opts.managementApiClock } : {}),
      ...(opts.faults?.apigateway ? { faults: opts.faults.apigateway } : {}),
    });
    closers.push(() => controlPlane.close());
    attach('apigateway', authorizingListener('apigateway', controlPlane.listener, iam, arnScope));

    // Step Functions
    const stepFunctions = await createStepFunctionsService({
      dir,
      stateMachines: model.stateMachines,
      endpoints,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      credentials: LOCAL_CREDENTIALS,
      log: (line: string) => log(`[stepfunctions] ${line}`),
      // Interrupted executions re-run once every service they call is listening (below).
      resume: 'manual',
      ...(opts.retryIntervalScale !== undefined ? { retryIntervalScale: opts.retryIntervalScale } : {}),
      ...(opts.maxHistoryEvents !== undefined ? { maxHistoryEvents: opts.maxHistoryEvents } : {}),
      ...(opts.faults?.stepFunctions ? { faults: opts.faults.stepFunctions } : {}),
      iam: taskIam(iam, model.stateMachines),
    });
    closers.push(() => stepFunctions.close());
    attach('stepfunctions', authorizingListener('stepfunctions', stepFunctions.listener, iam, arnScope));

    // API Gateway data plane
    const api = model.apis[0]!;
    const poolId = cognitoIds.pools[pool.logicalId] as string;
    const audiences = model.userPoolClients.filter((c) => c.poolLogicalId === pool.logicalId).map((c) => cognitoIds.clients[c.logicalId]?.id as string);
    const issuer = cognitoIssuer(poolId, endpoints.cognito, LOCAL_REGION); // what cognito-local's IssuerDomain (local/cognito.ts) puts in `iss`
    const gateway = createGateway({
      apiId: api.id,
      stage: api.stage,
      routes: api.routes,
      ...(api.cors ? { cors: api.cors } : {}),
      gatewayResponseHeaders: api.gatewayResponseHeaders,
      methodThrottles: api.methodThrottles,
      ...(opts.gatewayClock ? { clock: opts.gatewayClock } : {}),
      additionalStages: api.stages.filter((s) => s.name !== api.stage).map((s) => ({ name: s.name, methodThrottles: s.methodThrottles })),
      invoker: lambda,
      gate: controlPlane.gate,
      apiKeySource: api.apiKeySource,
      verifier: createCognitoVerifier({ issuer, jwksUrl: jwksUrlOf(issuer), audiences }),
      log: (line) => log(`[gateway] ${line}`),
      ...(opts.gatewayAccessLog ? { onAccessLog: opts.gatewayAccessLog } : {}),
    });
    attach('gateway', gateway.listener);

    // An execution that was RUNNING when the last stack stopped re-runs from the start (the workflows are repeat-safe).
    await stepFunctions.resumeInterrupted();

    const apiUrl = `${endpoints.gateway}/${api.stage}`;
    const outputs = { ...model.outputs, ApiUrl: apiUrl };

    // Developer portal (optional): the built portal/dist, its config.json and, offline only, the Cognito outbox.
    let portal: { url: string; config: PortalConfig } | undefined;
    if (portalBuild) {
      const buildError = await portalBuild;
      if (buildError) throw buildError;
      const publicClient = model.userPoolClients.find((c) => c.properties.GenerateSecret !== true) ?? model.userPoolClients[0];
      const config: PortalConfig = {
        region: LOCAL_REGION,
        userPoolId: poolId,
        userPoolClientId: publicClient ? (cognitoIds.clients[publicClient.logicalId]?.id as string) : '',
        cognitoEndpoint: endpoints.cognito,
        apiUrl,
        dataApiAuth: model.parameters.DataApiAuth === 'ApiKey' ? 'ApiKey' : 'IdTokenAndApiKey',
        outboxUrl: '/outbox.json',
        // The template's own policy (one declaration): the portal checks new passwords against it before sending.
        ...passwordPolicyOf(pool.properties),
      };
      mkdirSync(join(dir, 'portal'), { recursive: true });
      writeFileSync(join(dir, 'portal', 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
      const outboxFile = join(dir, 'cognito', 'outbox.jsonl');
      const portalServer = await listen(
        createPortalListener({ config: () => config, outbox: () => readOutboxFile(outboxFile), openapi: () => openApiDocument({ serverUrl: apiUrl, ...(config.dataApiAuth ? { dataApiAuth: config.dataApiAuth } : {}) }) }),
        opts.ports === 0 ? 0 : ((typeof opts.portal === 'object' ? opts.portal.port : undefined) ?? DEFAULT_PORTAL_PORT),
        host,
      );
      closers.push(() => closeServer(portalServer));
      const { port } = portalServer.address() as { port: number };
      portal = { url: `http://${host}:${port}/`, config };
    }
    // The public app client (no secret) is what people and the portal use; a secret-bearing one stays server-side.
    const firstClient = model.userPoolClients.find((c) => c.properties.GenerateSecret !== true) ?? model.userPoolClients[0];
    return {
      endpoints,
      outputs,
      model,
      clientEnvironment: endpointEnvironment(endpoints),
      samEnvVarsFile,
      apiUrl,
      userPoolId: poolId,
      userPoolClientId: firstClient ? (cognitoIds.clients[firstClient.logicalId]?.id as string) : '',
      cognito,
      lambda,
      controlPlane,
      stepFunctions,
      ...(portal ? { portal } : {}),
      faults: { ...opts.faults },
      metrics,
      iam,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
