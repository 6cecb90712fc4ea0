// Over 400 lines: the offline Step Functions service's wire API, one case per operation and state type.
/**
 * The offline Step Functions service, driven over HTTP with SDK v3 SFNClient: small inline state machines, a
 * dynalite DynamoDB, and stub HTTP servers standing in for the API Gateway control plane and the Lambda Invoke
 * API (both on free ports). Every test uses its own execution names, so none depends on another's order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  ValidationException,
} from '@aws-sdk/client-sfn';

import { createStepFunctionsService, type StepFunctionsService } from '../../local/stepfunctions/index.ts';
import type { StateMachineSpec } from '../../local/types.ts';

jest.setTimeout(30_000);

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const TABLE = 'Accounts';

const machineArn = (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
const executionArn = (machine: string, name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:${name}`;

function machine(name: string, definition: Record<string, unknown>): StateMachineSpec {
  return { logicalId: name, name, arn: machineArn(name), type: 'STANDARD', definition };
}

const STATE_MACHINES: StateMachineSpec[] = [
  machine('pass', {
    StartAt: 'Shape',
    States: {
      Shape: {
        Type: 'Pass',
        Parameters: {
          'greeting.$': "States.Format('hello {}', $.who)",
          'executionId.$': '$$.Execution.Id',
          'executionName.$': '$$.Execution.Name',
          'machine.$': '$$.StateMachine.Name',
          'state.$': '$$.State.Name',
        },
        End: true,
      },
    },
  }),
  machine('ddb', {
    StartAt: 'PutAccount',
    States: {
      PutAccount: {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:putItem',
        Parameters: {
          TableName: TABLE,
          Item: { userId: { 'S.$': '$.userId' }, plan: { S: 'FREE' }, active: { BOOL: true }, version: { N: '1' } },
          ConditionExpression: 'attribute_not_exists(userId)',
        },
        ResultPath: '$.put',
        Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.error', Next: 'AlreadyThere' }],
        Next: 'GetAccount',
      },
      GetAccount: {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:getItem',
        Parameters: { TableName: TABLE, Key: { userId: { 'S.$': '$.userId' } } },
        ResultSelector: { 'item.$': '$.Item', 'status.$': '$.SdkHttpMetadata.HttpStatusCode' },
        ResultPath: '$.get',
        End: true,
      },
      AlreadyThere: { Type: 'Pass', End: true },
    },
  }),
  machine('ddbsdk', {
    StartAt: 'Get',
    States: {
      Get: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:getItem',
        Parameters: { TableName: 'NoSuchTable', Key: { userId: { S: 'x' } } },
        Catch: [{ ErrorEquals: ['DynamoDb.ResourceNotFoundException'], ResultPath: '$.error', Next: 'Missing' }],
        End: true,
      },
      Missing: { Type: 'Pass', End: true },
    },
  }),
  machine('apikey', {
    StartAt: 'CreateKey',
    States: {
      CreateKey: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:apigateway:createApiKey',
        Parameters: { 'Name.$': '$.name', Enabled: true, Tags: { 'tollgate:userId.$': '$.userId' } },
        Retry: [{ ErrorEquals: ['ApiGateway.TooManyRequestsException'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }],
        Catch: [{ ErrorEquals: ['ApiGateway.ConflictException'], ResultPath: '$.error', Next: 'Conflict' }],
        ResultPath: '$.key',
        Next: 'Done',
      },
      Conflict: { Type: 'Pass', End: true },
      Done: { Type: 'Pass', End: true },
    },
  }),
  machine('wildcards', {
    StartAt: 'CreateKey',
    States: {
      CreateKey: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:apigateway:createApiKey',
        Parameters: { 'Name.$': '$.name' },
        Catch: [
          { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.taskFailed', Next: 'ViaTaskFailed' },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.all', Next: 'ViaAll' },
        ],
        End: true,
      },
      ViaTaskFailed: { Type: 'Pass', End: true },
      ViaAll: { Type: 'Pass', End: true },
    },
  }),
  machine('lambda', {
    StartAt: 'Invoke',
    States: {
      Invoke: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: 'Worker', 'Payload.$': '$' },
        Catch: [{ ErrorEquals: ['ValidationError'], ResultPath: '$.error', Next: 'Invalid' }],
        OutputPath: '$.Payload',
        End: true,
      },
      Invalid: { Type: 'Pass', End: true },
    },
  }),
  machine('unsupported', {
    StartAt: 'Publish',
    States: {
      Publish: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sns:publish',
        Parameters: { TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: 'x' },
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  }),
  machine('nested', {
    StartAt: 'Both',
    States: {
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'Left', States: { Left: { Type: 'Pass', Result: 'L', End: true } } },
          {
            StartAt: 'Each',
            States: {
              Each: {
                Type: 'Map',
                ItemsPath: '$.names',
                ItemProcessor: {
                  StartAt: 'MakeKey',
                  States: {
                    MakeKey: {
                      Type: 'Task',
                      Resource: 'arn:aws:states:::aws-sdk:apigateway:createApiKey',
                      Parameters: { 'Name.$': '$' },
                      ResultSelector: { 'id.$': '$.Id' },
                      End: true,
                    },
                  },
                },
                End: true,
              },
            },
          },
        ],
        End: true,
      },
    },
  }),
];

// ---------- stubs ----------

interface Stub {
  server: http.Server;
  url: string;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
}

async function startStub(
  handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void,
): Promise<Stub> {
  const requests: Stub['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handle(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

async function stopServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return; // a held response released after its client went away
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-RequestId': 'stub-request', ...headers });
  res.end(JSON.stringify(body));
}

/** Held responses of the API Gateway stub (names starting with `hold-`), released by the test. */
const held = new Map<string, () => void>();
const throttled = new Map<string, number>();

function apiGatewayStub(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
  if (req.method !== 'POST' || req.url !== '/apikeys') return json(res, 404, { message: 'no route' }, { 'x-amzn-ErrorType': 'NotFoundException' });
  const { name, tags } = JSON.parse(body) as { name: string; tags?: Record<string, string> };
  const created = () =>
    json(res, 201, { id: `id-${name}`, value: `value-${name}`, name, enabled: true, createdDate: 1700000000, tags: tags ?? {} });
  if (name.startsWith('conflict')) {
    return json(res, 409, { message: `API key ${name} already exists` }, { 'x-amzn-ErrorType': 'ConflictException' });
  }
  if (name.startsWith('weird')) return json(res, 400, { message: 'something odd' }, { 'x-amzn-ErrorType': 'WeirdError' });
  const throttle = /^throttle-(\d+)/.exec(name);
  if (throttle) {
    const seen = throttled.get(name) ?? 0;
    throttled.set(name, seen + 1);
    if (seen < Number(throttle[1])) {
      return json(res, 429, { message: 'Too Many Requests' }, { 'x-amzn-ErrorType': 'TooManyRequestsException' });
    }
    return created();
  }
  if (name.startsWith('hold-') && !held.has(`done:${name}`)) {
    held.set(`done:${name}`, () => {}); // only the first request for a name is held
    held.set(name, created);
    return;
  }
  created();
}

function lambdaStub(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
  const payload = JSON.parse(body || 'null') as { fail?: boolean; n?: number };
  if (!req.url?.startsWith('/2015-03-31/functions/Worker/invocations')) {
    return json(res, 404, { message: 'Function not found: x' }, { 'x-amzn-ErrorType': 'ResourceNotFoundException' });
  }
  if (payload?.fail) {
    return json(
      res,
      200,
      { errorType: 'ValidationError', errorMessage: 'n must be positive', trace: [] },
      { 'X-Amz-Function-Error': 'Unhandled', 'X-Amz-Executed-Version': '$LATEST' },
    );
  }
  json(res, 200, { doubled: (payload?.n ?? 0) * 2 }, { 'X-Amz-Executed-Version': '$LATEST' });
}

// ---------- fixture ----------

let dir: string;
let dynaliteServer: http.Server;
let dynamodbUrl: string;
let apigw: Stub;
let lambdaApi: Stub;
let service: StepFunctionsService;
let sfnServer: http.Server;
let sfn: SFNClient;

async function startService(serviceDir: string): Promise<{ service: StepFunctionsService; server: http.Server; client: SFNClient }> {
  const svc = await createStepFunctionsService({
    dir: serviceDir,
    stateMachines: STATE_MACHINES,
    endpoints: { dynamodb: dynamodbUrl, apigateway: apigw.url, lambda: lambdaApi.url },
    region: REGION,
    accountId: ACCOUNT,
    credentials: CREDENTIALS,
    retryIntervalScale: 0.01,
  });
  const server = http.createServer(svc.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new SFNClient({
    region: REGION,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  return { service: svc, server, client };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-sfn-'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dynaliteServer = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as http.Server;
  await new Promise<void>((resolve) => dynaliteServer.listen(0, '127.0.0.1', () => resolve()));
  dynamodbUrl = `http://127.0.0.1:${(dynaliteServer.address() as AddressInfo).port}`;
  const ddb = new DynamoDBClient({ region: REGION, endpoint: dynamodbUrl, credentials: CREDENTIALS });
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'userId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  ddb.destroy();
  apigw = await startStub(apiGatewayStub);
  lambdaApi = await startStub(lambdaStub);
  ({ service, server: sfnServer, client: sfn } = await startService(dir));
});

afterAll(async () => {
  for (const [key, release] of held) if (!key.startsWith('done:')) release();
  sfn?.destroy();
  await service?.close();
  if (sfnServer) await stopServer(sfnServer);
  if (apigw) await stopServer(apigw.server);
  if (lambdaApi) await stopServer(lambdaApi.server);
  if (dynaliteServer) await stopServer(dynaliteServer);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(machineName: string, name: string, input: unknown, client = sfn, svc = service) {
  const { executionArn: arn } = await client.send(
    new StartExecutionCommand({ stateMachineArn: machineArn(machineName), name, input: JSON.stringify(input) }),
  );
  await svc.waitForExecution(arn!);
  return client.send(new DescribeExecutionCommand({ executionArn: arn }));
}

async function history(arn: string, client = sfn): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn: arn, nextToken, maxResults: 1000 }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------- tests ----------

describe('Pass machine and the context object', () => {
  it('runs and fills $$.Execution, $$.StateMachine and $$.State', async () => {
    const d = await run('pass', 'pass-1', { who: 'world' });
    expect(d.status).toBe('SUCCEEDED');
    expect(d.startDate).toBeInstanceOf(Date);
    expect(d.stopDate!.getTime()).toBeGreaterThanOrEqual(d.startDate!.getTime());
    expect(JSON.parse(d.output!)).toEqual({
      greeting: 'hello world',
      executionId: executionArn('pass', 'pass-1'),
      executionName: 'pass-1',
      machine: 'pass',
      state: 'Shape',
    });
  });

  it('defaults the name to a UUID and the input to {}', async () => {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('pass') }));
    expect(started.executionArn).toMatch(/:execution:pass:[0-9a-f-]{36}$/);
    const d = await service.waitForExecution(started.executionArn!);
    expect(d.input).toBe('{}');
    expect(d.status).toBe('FAILED'); // $.who is missing: States.Runtime, as in AWS
    expect(d.error).toBe('States.Runtime');
  });
});

describe('optimized DynamoDB integration', () => {
  it('puts then reads native DynamoDB JSON, and a repeated put is caught by DynamoDB.ConditionalCheckFailedException', async () => {
    const first = await run('ddb', 'ddb-1', { userId: 'user-ddb' });
    expect(first.status).toBe('SUCCEEDED');
    const out = JSON.parse(first.output!);
    expect(out.put.SdkHttpMetadata.HttpStatusCode).toBe(200);
    expect(typeof out.put.SdkResponseMetadata.RequestId).toBe('string');
    expect(out.get.status).toBe(200);
    expect(out.get.item).toEqual({ userId: { S: 'user-ddb' }, plan: { S: 'FREE' }, active: { BOOL: true }, version: { N: '1' } });

    const second = await run('ddb', 'ddb-2', { userId: 'user-ddb' });
    expect(second.status).toBe('SUCCEEDED');
    const caught = JSON.parse(second.output!);
    expect(caught.error.Error).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(caught.error.Cause).toMatch(/\(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; Request ID: .*; Proxy: null\)$/);
    const types = (await history(executionArn('ddb', 'ddb-2'))).map((e) => e.type);
    expect(types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('names aws-sdk:dynamodb errors DynamoDb.<Error>', async () => {
    const d = await run('ddbsdk', 'ddbsdk-1', {});
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!).error.Error).toBe('DynamoDb.ResourceNotFoundException');
  });
});

describe('aws-sdk:apigateway integration', () => {
  it('sends camelCase to API Gateway, keeps map keys, and returns PascalCase', async () => {
    const d = await run('apikey', 'key-ok', { name: 'alice', userId: 'u-1' });
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.key).toMatchObject({ Id: 'id-alice', Value: 'value-alice', Name: 'alice', Enabled: true, Tags: { 'tollgate:userId': 'u-1' } });
    expect(out.key.CreatedDate).toBe(new Date(1700000000 * 1000).toISOString());
    const sent = apigw.requests.find((r) => r.body.includes('"alice"'))!;
    expect(JSON.parse(sent.body)).toEqual({ name: 'alice', enabled: true, tags: { 'tollgate:userId': 'u-1' } });
  });

  it('catches a 409 as ApiGateway.ConflictException', async () => {
    const d = await run('apikey', 'key-conflict', { name: 'conflict-bob', userId: 'u-2' });
    expect(d.status).toBe('SUCCEEDED');
    const { error } = JSON.parse(d.output!);
    expect(error.Error).toBe('ApiGateway.ConflictException');
    expect(error.Cause).toBe('API key conflict-bob already exists (Service: ApiGateway, Status Code: 409, Request ID: stub-request)');
  });

  it('retries a 429 (ApiGateway.TooManyRequestsException) and then succeeds; the history shows every attempt', async () => {
    const d = await run('apikey', 'key-throttle', { name: 'throttle-2-carol', userId: 'u-3' });
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!).key.Id).toBe('id-throttle-2-carol');
    expect(throttled.get('throttle-2-carol')).toBe(3);
    const events = await history(d.executionArn!);
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    const failures = events.filter((e) => e.type === 'TaskFailed').map((e) => e.taskFailedEventDetails);
    expect(failures.map((f) => f?.error)).toEqual(['ApiGateway.TooManyRequestsException', 'ApiGateway.TooManyRequestsException']);
    const scheduled = events.find((e) => e.type === 'TaskScheduled')!.taskScheduledEventDetails!;
    expect(scheduled).toMatchObject({ resourceType: 'aws-sdk:apigateway', resource: 'createApiKey', region: REGION });
    expect(JSON.parse(scheduled.parameters!)).toEqual({ Name: 'throttle-2-carol', Enabled: true, Tags: { 'tollgate:userId': 'u-3' } });
  });

  it('matches bridged errors with States.TaskFailed (before States.ALL)', async () => {
    const d = await run('wildcards', 'wild-1', { name: 'weird-dave' });
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output!);
    expect(out.taskFailed.Error).toBe('ApiGateway.ApiGatewayException'); // an error API Gateway's model does not declare
    expect(out.all).toBeUndefined();
  });

  it('runs Task states nested in Parallel branches and Map iterations', async () => {
    const d = await run('nested', 'nested-1', { names: ['n-one', 'n-two'] });
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toEqual(['L', [{ id: 'id-n-one' }, { id: 'id-n-two' }]]);
    const types = (await history(d.executionArn!)).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['ExecutionStarted', 'ParallelStateEntered', 'ParallelStateStarted']);
    expect(types).toContain('MapStateStarted');
    expect(types.filter((t) => t === 'MapIterationStarted')).toHaveLength(2);
    expect(types.filter((t) => t === 'TaskSucceeded')).toHaveLength(2);
    expect(types.slice(-3)).toEqual(['ParallelStateSucceeded', 'ParallelStateExited', 'ExecutionSucceeded']);
  });
});

describe('lambda:invoke integration', () => {
  it('returns {ExecutedVersion, Payload, StatusCode, ...}', async () => {
    const d = await run('lambda', 'lambda-ok', { n: 21 });
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toEqual({ doubled: 42 });
    const events = await history(d.executionArn!);
    const result = JSON.parse(events.find((e) => e.type === 'TaskSucceeded')!.taskSucceededEventDetails!.output!);
    expect(result).toMatchObject({ ExecutedVersion: '$LATEST', Payload: { doubled: 42 }, StatusCode: 200 });
  });

  it("names a function error by its errorType, with the error payload as Cause", async () => {
    const d = await run('lambda', 'lambda-fail', { fail: true });
    expect(d.status).toBe('SUCCEEDED');
    const { error } = JSON.parse(d.output!);
    expect(error.Error).toBe('ValidationError');
    expect(JSON.parse(error.Cause)).toEqual({ errorType: 'ValidationError', errorMessage: 'n must be positive', trace: [] });
  });
});

describe('unsupported resources', () => {
  it('fail the execution with States.Runtime, which States.ALL does not catch', async () => {
    const d = await run('unsupported', 'sns-1', {});
    expect(d.status).toBe('FAILED');
    expect(d.error).toBe('States.Runtime');
    expect(d.cause).toContain('arn:aws:states:::sns:publish');
  });
});

describe('StartExecution naming semantics', () => {
  it('is idempotent for the same name and input while RUNNING, and refuses other inputs and closed executions', async () => {
    const input = JSON.stringify({ name: 'hold-erin', userId: 'u-5' });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'same-name', input }));
    expect(first.executionArn).toBe(executionArn('apikey', 'same-name'));
    await eventually(() => held.has('hold-erin'), 'the held API Gateway request');

    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'same-name', input }));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);

    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'same-name', input: '{"other":1}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    held.get('hold-erin')!();
    expect((await service.waitForExecution(first.executionArn!)).status).toBe('SUCCEEDED');
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'same-name', input })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('validates names, inputs and ARNs with the AWS error codes', async () => {
    const start = (params: { stateMachineArn?: string; name?: string; input?: string }) =>
      sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn('pass'), ...params }));
    await expect(start({ name: 'has space' })).rejects.toBeInstanceOf(InvalidName);
    await expect(start({ name: 'a:b' })).rejects.toBeInstanceOf(InvalidName);
    await expect(start({ name: 'x'.repeat(81) })).rejects.toBeInstanceOf(InvalidName);
    await expect(start({ name: 'bad-input', input: '{not json' })).rejects.toBeInstanceOf(InvalidExecutionInput);
    await expect(start({ name: 'big-input', input: JSON.stringify({ s: 'x'.repeat(256 * 1024) }) })).rejects.toBeInstanceOf(
      ValidationException,
    );
    await expect(start({ stateMachineArn: machineArn('nope') })).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(start({ stateMachineArn: 'not-an-arn' })).rejects.toBeInstanceOf(InvalidArn);
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: executionArn('pass', 'never') }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    const err = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn('pass', 'never') })).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(`Execution Does Not Exist: '${executionArn('pass', 'never')}'`);
  });
});

describe('StopExecution', () => {
  it('aborts a running execution and records ExecutionAborted', async () => {
    const { executionArn: arn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'to-stop', input: '{"name":"hold-frank","userId":"u"}' }),
    );
    await eventually(() => held.has('hold-frank'), 'the held API Gateway request');
    const stopped = await sfn.send(new StopExecutionCommand({ executionArn: arn, error: 'Manual', cause: 'test' }));
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'test' });
    const events = await history(arn!);
    expect(events[events.length - 1]).toMatchObject({ type: 'ExecutionAborted', executionAbortedEventDetails: { error: 'Manual', cause: 'test' } });
    held.get('hold-frank')!();
  });
});

describe('history, listings and machine descriptions', () => {
  it('numbers events, links them and pages them in both orders', async () => {
    const d = await run('pass', 'history-1', { who: 'h' });
    const all = await history(d.executionArn!);
    expect(all.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(all.map((e) => e.previousEventId)).toEqual([0, 0, 2, 3]);
    expect(all[0]!.executionStartedEventDetails).toMatchObject({ input: '{"who":"h"}', inputDetails: { truncated: false } });
    expect(all[1]!.stateEnteredEventDetails).toMatchObject({ name: 'Shape', input: '{"who":"h"}' });
    expect(all[3]!.executionSucceededEventDetails!.output).toBe(d.output);
    expect(all.every((e) => e.timestamp instanceof Date)).toBe(true);

    const firstPage = await sfn.send(new GetExecutionHistoryCommand({ executionArn: d.executionArn, maxResults: 3, reverseOrder: true }));
    expect(firstPage.events!.map((e) => e.id)).toEqual([4, 3, 2]);
    const secondPage = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: d.executionArn, maxResults: 3, reverseOrder: true, nextToken: firstPage.nextToken }),
    );
    expect(secondPage.events!.map((e) => e.id)).toEqual([1]);
    expect(secondPage.nextToken).toBeUndefined();

    const bare = await sfn.send(new GetExecutionHistoryCommand({ executionArn: d.executionArn, includeExecutionData: false }));
    expect(bare.events![0]!.executionStartedEventDetails!.input).toBeUndefined();
  });

  it('lists executions newest first with a status filter, and describes machines', async () => {
    await run('pass', 'list-1', { who: 'a' });
    await run('pass', 'list-2', { who: 'b' });
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn('pass'), statusFilter: 'SUCCEEDED' }));
    const names = listed.executions!.map((e) => e.name);
    expect(names.indexOf('list-2')).toBeLessThan(names.indexOf('list-1'));
    expect(listed.executions!.every((e) => e.status === 'SUCCEEDED')).toBe(true);

    const machines = await sfn.send(new ListStateMachinesCommand({}));
    expect(machines.stateMachines!.map((m) => m.name)).toEqual(expect.arrayContaining(['pass', 'ddb', 'apikey']));
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machineArn('pass') }));
    expect(JSON.parse(described.definition!)).toEqual(STATE_MACHINES[0]!.definition);
    const forExecution = await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn: executionArn('pass', 'list-1') }));
    expect(forExecution.stateMachineArn).toBe(machineArn('pass'));
  });
});

describe('wire protocol robustness', () => {
  it('answers malformed requests with JSON 1.0 errors and keeps serving', async () => {
    const port = (sfnServer.address() as AddressInfo).port;
    const post = async (headers: Record<string, string>, body: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body });
      return { status: res.status, body: (await res.json()) as { __type: string; message: string } };
    };
    const target = { 'content-type': 'application/x-amz-json-1.0' };
    const bad = await post({ ...target, 'x-amz-target': 'AWSStepFunctions.StartExecution' }, '{not json');
    expect(bad).toMatchObject({ status: 400, body: { __type: expect.stringContaining('SerializationException') } });
    const noTarget = await post(target, '{}');
    expect(noTarget.status).toBe(400);
    const wrongType = await post({ ...target, 'x-amz-target': 'AWSStepFunctions.StartExecution' }, '{"stateMachineArn": 5}');
    expect(wrongType.body.__type).toBe('com.amazon.coral.validate#ValidationException');
    const missing = await post({ ...target, 'x-amz-target': 'AWSStepFunctions.DescribeExecution' }, '{}');
    expect(missing.body.__type).toBe('com.amazon.coral.validate#ValidationException');
    const notFound = await post(
      { ...target, 'x-amz-target': 'AWSStepFunctions.DescribeExecution' },
      JSON.stringify({ executionArn: executionArn('pass', 'never') }),
    );
    expect(notFound.body.__type).toBe('com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist');
    const create = await post({ ...target, 'x-amz-target': 'AWSStepFunctions.CreateStateMachine' }, '{}');
    expect(create.body.message).toContain('template.yaml');
    expect((await sfn.send(new ListStateMachinesCommand({}))).stateMachines!.length).toBe(STATE_MACHINES.length);
  });
});

describe('persistence across restarts', () => {
  it('keeps closed executions and re-runs one that was RUNNING', async () => {
    const restartDir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-sfn-restart-'));
    let current = await startService(restartDir);
    try {
      const done = await run('pass', 'kept', { who: 'restart' }, current.client, current.service);
      const doneHistory = await history(done.executionArn!, current.client);
      const { executionArn: runningArn } = await current.client.send(
        new StartExecutionCommand({ stateMachineArn: machineArn('apikey'), name: 'interrupted', input: '{"name":"hold-gina","userId":"u-7"}' }),
      );
      await eventually(() => held.has('hold-gina'), 'the held API Gateway request');

      current.client.destroy();
      await current.service.close();
      await stopServer(current.server);
      current = await startService(restartDir);

      const kept = await current.client.send(new DescribeExecutionCommand({ executionArn: done.executionArn }));
      expect(kept).toMatchObject({ status: 'SUCCEEDED', output: done.output, input: done.input });
      expect(kept.startDate).toEqual(done.startDate);
      expect(await history(done.executionArn!, current.client)).toEqual(doneHistory);

      const rerun = await current.service.waitForExecution(runningArn!);
      expect(rerun).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
      expect(JSON.parse(rerun.output!).key.Id).toBe('id-hold-gina');
      const types = (await history(runningArn!, current.client)).map((e) => e.type);
      expect(types.slice(0, 4)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted']);
      expect(types.slice(4, 6)).toEqual(['ExecutionRedriven', 'TaskStateEntered']);
      expect(types[types.length - 1]).toBe('ExecutionSucceeded');
    } finally {
      held.get('hold-gina')?.();
      current.client.destroy();
      await current.service.close();
      await stopServer(current.server);
      await rm(restartDir, { recursive: true, force: true });
    }
  });
});
