/**
 * The offline Lambda service's Invoke API over real HTTP (a free port), driven with SDK v3 LambdaClient the way
 * scripts, the AWS CLI and cognito-local's triggers call it, plus raw requests for the wire details: status codes,
 * `x-amzn-ErrorType` and the `{"Type": …, "message"|"Message": …}` error bodies of Lambda's restJson1 model.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  GetFunctionCommand,
  InvalidRequestContentException,
  InvokeCommand,
  LambdaClient,
  RequestTooLargeException,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';

import { createLambdaRuntime, type LambdaRuntime } from '../../local/lambda/index.ts';
import type { FunctionModel } from '../../local/model.ts';
import { ARN_PREFIX, HANDLERS, fixtureFunction } from '../fixtures/lambda/model.ts';

jest.setTimeout(30_000);


const fn = (logicalId: string, handlerExport: string, overrides: Partial<FunctionModel> = {}): FunctionModel =>
  fixtureFunction('wire', logicalId, handlerExport, overrides);

const FUNCTIONS = [fn('Echo', 'echo'), fn('Fail', 'fail'), fn('Logs', 'logs'), fn('BigLog', 'bigLog'), fn('Exit', 'exit')];

let runtime: LambdaRuntime;
let server: http.Server;
let endpoint: string;
let client: LambdaClient;
const logs: { fn: string; text: string }[] = [];
const logWaiters: (() => void)[] = [];

beforeAll(async () => {
  runtime = createLambdaRuntime({
    functions: FUNCTIONS,
    bundles: new Map(FUNCTIONS.map((f) => [f.logicalId, HANDLERS])),
    baseEnvironment: {},
    maxConcurrency: 2,
    onLog: (fnId, text) => {
      logs.push({ fn: fnId, text });
      for (const wake of logWaiters.splice(0)) wake();
    },
  });
  server = http.createServer(runtime.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new LambdaClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
});

const json = (payload: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));
const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

async function waitForLog(predicate: (entry: { fn: string; text: string }) => boolean, ms = 5000): Promise<{ fn: string; text: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = logs.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('log entry never came');
    await new Promise<void>((resolve) => {
      logWaiters.push(resolve);
      setTimeout(resolve, 100);
    });
  }
}

/** A raw request, for what the SDK hides (headers, bodies of errors it turns into exceptions). */
async function raw(method: string, urlPath: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${endpoint}${urlPath}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('Invoke over HTTP with SDK v3', () => {
  it('RequestResponse: 200 with the payload and the executed version', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', Payload: bytes({ hello: 'world' }) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(json(out.Payload)).toMatchObject({ event: { hello: 'world' }, functionName: 'wire-Echo' });

    // By ARN, qualified, and with no payload at all (the function gets {}).
    const byArn = await client.send(new InvokeCommand({ FunctionName: `${ARN_PREFIX}wire-Echo`, Qualifier: '$LATEST' }));
    expect(json(byArn.Payload)).toMatchObject({ event: {} });
  });

  it('a function error: 200, X-Amz-Function-Error Unhandled, the error as the payload', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Fail', Payload: bytes({ reason: 'wire' }) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    const payload = json(out.Payload) as { errorType: string; errorMessage: string; trace: string[] };
    expect(payload.errorType).toBe('TypeError');
    expect(payload.errorMessage).toBe('bad input: wire');
    expect(payload.trace[0]).toBe('TypeError: bad input: wire');

    const crashed = await client.send(new InvokeCommand({ FunctionName: 'wire-Exit' }));
    expect(crashed.FunctionError).toBe('Unhandled');
    expect(json(crashed.Payload)).toMatchObject({ errorType: 'Runtime.ExitError' });
  });

  it('LogType Tail: the invocation log, base64, at most its last 4 KB', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Logs', LogType: 'Tail', Payload: bytes({ tag: 'tail', gap: 1 }) }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toContain('[tail] line 0');
    expect(log).toContain('[tail] line 4');

    const big = await client.send(new InvokeCommand({ FunctionName: 'wire-BigLog', LogType: 'Tail', Payload: bytes({ size: 20_000 }) }));
    const tail = Buffer.from(big.LogResult ?? '', 'base64');
    expect(tail.length).toBe(4096);
    expect(tail.toString('utf8').endsWith('the end\n')).toBe(true);

    const without = await client.send(new InvokeCommand({ FunctionName: 'wire-Logs', Payload: bytes({ tag: 'none', gap: 1 }) }));
    expect(without.LogResult).toBeUndefined();
  });

  it('InvocationType Event: 202 at once, and the function runs', async () => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Logs', InvocationType: 'Event', Payload: bytes({ tag: 'async-event', gap: 1 }) }));
    expect(out.StatusCode).toBe(202);
    expect(Buffer.from(out.Payload ?? []).length).toBe(0);
    const entry = await waitForLog((e) => e.text.includes('[async-event] line 4'));
    expect(entry.fn).toBe('Logs');
  });

  it('InvocationType DryRun: 204 and nothing runs', async () => {
    const before = runtime.stats.invocations;
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', InvocationType: 'DryRun', Payload: bytes({}) }));
    expect(out.StatusCode).toBe(204);
    expect(runtime.stats.invocations).toBe(before);
  });

  it('an unknown function: ResourceNotFoundException (404, Message with the ARN)', async () => {
    const error = await client.send(new InvokeCommand({ FunctionName: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as ResourceNotFoundException).name).toBe('ResourceNotFoundException');
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((error as ResourceNotFoundException).message).toBe(`Function not found: ${ARN_PREFIX}nope`);
    expect((error as ResourceNotFoundException).Type).toBe('User');

    const res = await raw('POST', '/2015-03-31/functions/nope/invocations', '{}');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).toEqual({ Type: 'User', Message: `Function not found: ${ARN_PREFIX}nope` });
  });

  it('a payload that is not JSON: InvalidRequestContentException (400)', async () => {
    const error = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', Payload: Buffer.from('{not json') })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestContentException);
    expect((error as InvalidRequestContentException).$metadata.httpStatusCode).toBe(400);
    expect((error as InvalidRequestContentException).message).toMatch(/^Could not parse request body into json/);

    const res = await raw('POST', '/2015-03-31/functions/wire-Echo/invocations', '{not json');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(res.body).toMatchObject({ Type: 'User', message: expect.stringMatching(/^Could not parse request body into json/) });
  });

  it('a payload over 6 MB (1 MB for Event): RequestTooLargeException (413), and the connection stays usable', async () => {
    const oversized = Buffer.from(JSON.stringify({ data: 'x'.repeat(6 * 1024 * 1024) }));
    const error = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', Payload: oversized })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTooLargeException);
    expect((error as RequestTooLargeException).$metadata.httpStatusCode).toBe(413);
    expect((error as RequestTooLargeException).message).toBe('Request must be smaller than 6291456 bytes for the InvokeFunction operation');

    const asyncTooLarge = Buffer.from(JSON.stringify({ data: 'x'.repeat(1024 * 1024) }));
    const asyncError = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', InvocationType: 'Event', Payload: asyncTooLarge })).catch((e: unknown) => e);
    expect(asyncError).toBeInstanceOf(RequestTooLargeException);

    // Just under the limit is fine.
    const fits = Buffer.from(JSON.stringify({ data: 'x'.repeat(6 * 1024 * 1024 - 100) }));
    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Fail', Payload: fits }));
    expect(out.FunctionError).toBe('Unhandled');

    // Repeatedly: the oversized body is read to its end, so the client gets the 413 rather than a reset connection.
    for (let i = 0; i < 3; i += 1) {
      const res = await raw('POST', '/2015-03-31/functions/wire-Echo/invocations', 'x'.repeat(8 * 1024 * 1024));
      expect(res.status).toBe(413);
      expect(res.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
      expect(res.body).toEqual({ Type: 'User', message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' });
    }
  });

  it('an unsupported path or method: an AWS-shaped error, and the service keeps serving', async () => {
    for (const [method, urlPath] of [
      ['GET', '/2015-03-31/functions/wire-Echo/invocations'],
      ['GET', '/2015-03-31/functions/wire-Echo'],
      ['POST', '/2015-03-31/functions/wire-Echo/invoke-async'],
      ['DELETE', '/'],
    ] as const) {
      const res = await raw(method, urlPath);
      expect(res.status).toBe(404);
      expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.body).toMatchObject({ Type: 'User', message: expect.stringContaining('Unsupported operation') });
    }

    const sdkError = await client.send(new GetFunctionCommand({ FunctionName: 'wire-Echo' })).catch((e: unknown) => e);
    expect((sdkError as Error).name).toBe('UnknownOperationException');

    const badType = await raw('POST', '/2015-03-31/functions/wire-Echo/invocations', '{}', { 'X-Amz-Invocation-Type': 'Sometimes' });
    expect(badType.status).toBe(400);
    expect(badType.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');

    const out = await client.send(new InvokeCommand({ FunctionName: 'wire-Echo', Payload: bytes({ still: 'serving' }) }));
    expect(json(out.Payload)).toMatchObject({ event: { still: 'serving' } });
  });
});
