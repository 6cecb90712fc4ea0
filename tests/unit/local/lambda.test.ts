/**
 * The offline Lambda runtime (local/lambda), driven in-process through createLambdaRuntime: tiny CommonJS handlers
 * from tests/fixtures/lambda run in real worker threads, one per execution environment. Each test builds its own
 * runtime (so stats and environments are its own) and every runtime is closed afterwards.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { build } from 'esbuild';

import { createLambdaRuntime, type LambdaRuntime, type LambdaRuntimeOptions } from '../../../local/lambda/index.ts';
import type { FunctionModel } from '../../../local/model.ts';
import { ARN_PREFIX as ACCOUNT_ARN, HANDLERS, fixtureFunction } from '../../fixtures/lambda/model.ts';
import type { InvokeResult } from '../../../local/types.ts';

jest.setTimeout(20_000);

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'lambda');

const fn = (logicalId: string, handlerExport: string, overrides: Partial<FunctionModel> = {}): FunctionModel =>
  fixtureFunction('test', logicalId, handlerExport, overrides);

const runtimes: LambdaRuntime[] = [];

function runtime(
  functions: FunctionModel[],
  opts: Partial<Omit<LambdaRuntimeOptions, 'functions' | 'bundles'>> & { files?: Record<string, string> } = {},
): LambdaRuntime {
  const { files = {}, ...rest } = opts;
  const created = createLambdaRuntime({
    functions,
    bundles: new Map(functions.map((f) => [f.logicalId, files[f.logicalId] ?? HANDLERS])),
    baseEnvironment: {},
    ...rest,
  });
  runtimes.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` holds, checking every 10 ms (a cold start's length varies with the machine's load). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

function expectError(result: InvokeResult, errorType: string): NonNullable<InvokeResult['error']> {
  expect(result.payload).toBeUndefined();
  expect(result.error?.errorType).toBe(errorType);
  return result.error as NonNullable<InvokeResult['error']>;
}

describe('invocation results', () => {
  it('answers with the handler payload, a request id, the context and the invocation logs', async () => {
    const rt = runtime([fn('Echo', 'echo')]);
    const result = await rt.invoke('Echo', { hello: 'world', n: [1, 2] });

    expect(result.error).toBeUndefined();
    const payload = result.payload as { event: unknown; requestId: string; functionName: string; remaining: number };
    expect(payload.event).toEqual({ hello: 'world', n: [1, 2] });
    expect(payload.requestId).toBe(result.requestId);
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.functionName).toBe('test-Echo');
    expect(payload.remaining).toBeGreaterThan(0);
    expect(payload.remaining).toBeLessThanOrEqual(3000);
    // The cold start's init output comes with the first invocation's logs.
    expect(result.logs).toContain('init: handlers.js loaded');
    expect(result.logs).toContain('echo {"hello":"world","n":[1,2]}');

    const warm = await rt.invoke('Echo', { again: true });
    expect(warm.logs).toBe('echo {"again":true}\n');
  });

  it('finds a function by logical id, name, ARN, qualified ARN and partial ARN; rejects an unknown one', async () => {
    const rt = runtime([fn('Echo', 'echo')]);
    for (const name of ['Echo', 'test-Echo', `${ACCOUNT_ARN}test-Echo`, `${ACCOUNT_ARN}test-Echo:$LATEST`, '000000000000:function:test-Echo', 'test-Echo%3A%24LATEST']) {
      expect(rt.has(name)).toBe(true);
      expect((await rt.invoke(name, { name })).payload).toMatchObject({ event: { name } });
    }
    expect(rt.has('Nope')).toBe(false);
    await expect(rt.invoke('Nope', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: 'Function not found: Nope' });
  });

  it('hands the function its event as JSON, as Lambda does', async () => {
    const rt = runtime([fn('Echo', 'echo')]);
    const at = new Date('2024-01-02T03:04:05.000Z');
    const result = await rt.invoke('Echo', { at, skip: undefined });
    expect((result.payload as { event: unknown }).event).toEqual({ at: '2024-01-02T03:04:05.000Z' });
    expect(((await rt.invoke('Echo', undefined)).payload as { event: unknown }).event).toEqual({});
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expectError(await rt.invoke('Echo', circular), 'InvalidRequestContentException');
  });

  it('turns a thrown error into {errorType, errorMessage, trace} and keeps the logs written before it', async () => {
    const rt = runtime([fn('Fail', 'fail'), fn('ThrowString', 'throwString')]);
    const result = await rt.invoke('Fail', { reason: 'no name' });
    const error = expectError(result, 'TypeError');
    expect(error.errorMessage).toBe('bad input: no name');
    expect(error.trace?.[0]).toBe('TypeError: bad input: no name');
    expect(error.trace?.some((line) => line.includes('handlers.js'))).toBe(true);
    expect(result.logs).toContain('about to fail');

    // Not an Error: the runtime interface client's shape (typeof, toString, empty trace).
    expect((await rt.invoke('ThrowString', {})).error).toEqual({ errorType: 'string', errorMessage: 'just a string', trace: [] });
  });

  it('supports callback-style and synchronous handlers', async () => {
    const rt = runtime([fn('Callback', 'callback'), fn('Sync', 'syncValue')]);
    expect((await rt.invoke('Callback', { n: 7 })).payload).toEqual({ via: 'callback', n: 7 });
    expect(expectError(await rt.invoke('Callback', { fail: true }), 'Error').errorMessage).toBe('callback failure');
    expect((await rt.invoke('Sync', { n: 1 })).payload).toEqual({ sync: true, n: 1 });
  });

  it('answers null for a handler that returns undefined', async () => {
    const rt = runtime([fn('Undef', 'undef')]);
    const result = await rt.invoke('Undef', {});
    expect(result.error).toBeUndefined();
    expect(result).toHaveProperty('payload', null);
  });

  it('answers Runtime.MarshalError for a result JSON cannot hold, and the environment stays usable', async () => {
    const rt = runtime([fn('Circular', 'circular'), fn('BigInt', 'bigint')]);
    expect(expectError(await rt.invoke('Circular', {}), 'Runtime.MarshalError').errorMessage).toMatch(/^Unable to marshal response: .*circular/i);
    expect(expectError(await rt.invoke('BigInt', {}), 'Runtime.MarshalError').errorMessage).toMatch(/BigInt/);
    expectError(await rt.invoke('Circular', {}), 'Runtime.MarshalError');
    expect(rt.stats.coldStarts).toBe(2);
  });
});

describe('init failures', () => {
  it('answers Runtime.ImportModuleError for a bundle whose dependency is missing, and retries init next time', async () => {
    const rt = runtime([fn('Broken', 'handler', { handlerFile: 'import-error' })], { files: { Broken: path.join(FIXTURES, 'import-error.js') } });
    const error = expectError(await rt.invoke('Broken', {}), 'Runtime.ImportModuleError');
    expect(error.errorMessage).toContain("Cannot find module 'tollgate-fixture-module-that-does-not-exist'");
    expectError(await rt.invoke('Broken', {}), 'Runtime.ImportModuleError');
    // Like Lambda, a failed init is not kept: each invocation is a new cold start.
    expect(rt.stats.coldStarts).toBe(2);
    expect(rt.stats.invocations).toBe(2);
  });

  it('answers Runtime.HandlerNotFound for a missing export or one that is not a function', async () => {
    const rt = runtime([fn('Missing', 'nope'), fn('NotAFunction', 'notAFunction')]);
    expect(expectError(await rt.invoke('Missing', {}), 'Runtime.HandlerNotFound').errorMessage).toBe('handlers.nope is undefined or not exported');
    expect(expectError(await rt.invoke('NotAFunction', {}), 'Runtime.HandlerNotFound').errorMessage).toBe('handlers.notAFunction is not a function');
  });

  it('reports an error thrown by module code as itself', async () => {
    const rt = runtime([fn('InitThrows', 'handler', { handlerFile: 'init-throws' })], { files: { InitThrows: path.join(FIXTURES, 'init-throws.js') } });
    const error = expectError(await rt.invoke('InitThrows', {}), 'Error');
    expect(error.errorMessage).toBe('configuration missing');
  });
});

describe('execution environments', () => {
  it('times out with Sandbox.Timedout and gives the next invocation a fresh environment', async () => {
    const rt = runtime([fn('Slow', 'slow', { timeoutSeconds: 0.3 })], { maxConcurrency: 1 });
    const started = Date.now();
    const result = await rt.invoke('Slow', { ms: 10_000 });
    const elapsed = Date.now() - started;
    const error = expectError(result, 'Sandbox.Timedout');
    expect(error.errorMessage).toBe(`RequestId: ${result.requestId} Error: Task timed out after 0.30 seconds`);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
    expect(rt.stats.coldStarts).toBe(1);

    // Not wedged (maxConcurrency 1), and cold again: the timed-out sandbox was thrown away.
    expect((await rt.invoke('Slow', { ms: 10 })).payload).toEqual({ slept: 10 });
    expect(rt.stats.coldStarts).toBe(2);
    expect((await rt.invoke('Slow', { ms: 10 })).payload).toEqual({ slept: 10 });
    expect(rt.stats.coldStarts).toBe(2);
  });

  it('gives each function its own environment variables on top of the base environment', async () => {
    const rt = runtime(
      [fn('EnvA', 'env', { environment: { GREETING: 'hello from A' } }), fn('EnvB', 'env', { environment: { GREETING: 'hello from B', BASE_ONLY: 'overridden' } })],
      { baseEnvironment: { GREETING: 'base', BASE_ONLY: 'from base' } },
    );
    const [a, b] = await Promise.all([rt.invoke('EnvA', {}), rt.invoke('EnvB', {})]);
    expect(a.payload).toEqual({ value: 'hello from A', functionName: 'test-EnvA', base: 'from base' });
    expect(b.payload).toEqual({ value: 'hello from B', functionName: 'test-EnvB', base: 'overridden' });
    expect((await rt.invoke('EnvA', { name: 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE' })).payload).toMatchObject({ value: '128' });
    expect((await rt.invoke('EnvA', { name: 'AWS_EXECUTION_ENV' })).payload).toMatchObject({ value: 'AWS_Lambda_nodejs22.x' });
    // Nothing leaks into the test's own process.
    expect(process.env.GREETING).toBeUndefined();
  });

  it('keeps module state between invocations of one environment (warm starts), per function', async () => {
    const rt = runtime([fn('Counter', 'counter'), fn('OtherCounter', 'counter')], { maxConcurrency: 1 });
    const first = (await rt.invoke('Counter', {})).payload as { invocations: number; loadedAt: number };
    const second = (await rt.invoke('Counter', {})).payload as { invocations: number; loadedAt: number };
    const third = (await rt.invoke('Counter', {})).payload as { invocations: number; loadedAt: number };
    expect([first.invocations, second.invocations, third.invocations]).toEqual([1, 2, 3]);
    expect(second.loadedAt).toBe(first.loadedAt);
    expect(third.loadedAt).toBe(first.loadedAt);
    expect((await rt.invoke('OtherCounter', {})).payload).toMatchObject({ invocations: 1 });
    expect(rt.stats).toMatchObject({ coldStarts: 2, invocations: 4 });
    expect(rt.stats.initMs).toHaveLength(2);
  });

  it('captures logs per invocation without mixing concurrent ones', async () => {
    const rt = runtime([fn('Logs', 'logs')], { maxConcurrency: 4 });
    const tags = ['alpha', 'bravo', 'charlie', 'delta'];
    const results = await Promise.all(tags.map((tag) => rt.invoke('Logs', { tag, gap: 15 })));
    results.forEach((result, i) => {
      const tag = tags[i] as string;
      expect(result.payload).toBe(tag);
      const lines = result.logs.split('\n').filter((line) => line.startsWith('['));
      expect(lines).toEqual([0, 1, 2, 3, 4].map((n) => `[${tag}] line ${n}`));
    });
    expect(rt.stats.coldStarts).toBe(4);
  });

  it('keeps what a function wrote before it timed out in a busy loop (read from the buffer it shares with the runtime)', async () => {
    const rt = runtime([fn('Spin', 'logThenSpin', { timeoutSeconds: 0.3 })], { maxConcurrency: 1 });
    const result = await rt.invoke('Spin', {});
    expectError(result, 'Sandbox.Timedout');
    // (after the cold start's init output)
    expect(result.logs).toBe('init: handlers.js loaded\nabout to spin\n');
  });

  it('delivers output larger than the shared buffer whole and in order', async () => {
    const rt = runtime([fn('Big', 'bigLog')]);
    const size = 200_000;
    const result = await rt.invoke('Big', { size });
    expect(result.payload).toBeNull();
    // Compared as a boolean: a failing toBe would print 200,000 characters.
    expect(result.logs === `init: handlers.js loaded\n${'x'.repeat(size)}\nthe end\n`).toBe(true);
    // And the next invocation's output is its own.
    const again = await rt.invoke('Big', { size: 3 });
    expect(again.logs).toBe('xxx\nthe end\n');
  });

  it('hands output written after an invocation answered (a timer) to the next invocation of that environment', async () => {
    const rt = runtime([fn('After', 'logAfterAnswer')], { maxConcurrency: 1 });
    const first = await rt.invoke('After', { n: 1 });
    expect(first.payload).toBe(1);
    expect(first.logs).not.toContain('after answer 1');
    await sleep(100);
    const second = await rt.invoke('After', { n: 2 });
    expect(second.logs).toContain('after answer 1');
    expect(second.logs).not.toContain('after answer 2');
  });

  it("reports the handler's run time (Lambda's REPORT Duration) and the wait for an environment", async () => {
    const rt = runtime([fn('Slow', 'slow')], { maxConcurrency: 1 });
    const [first, second] = await Promise.all([rt.invoke('Slow', { ms: 50 }), rt.invoke('Slow', { ms: 50 })]);
    for (const result of [first, second]) {
      expect(result?.payload).toEqual({ slept: 50 });
      // The handler slept 50 ms: its Duration covers that (a lower bound, never a ceiling).
      expect(result?.durationMs).toBeGreaterThanOrEqual(45);
    }
    // One environment: the second invocation waited for the first to finish.
    expect(second?.queueMs).toBeGreaterThanOrEqual(45);
    // An invocation that never ran (its environment's init failed) has no Duration.
    const broken = runtime([fn('Missing', 'nope')]);
    expect((await broken.invoke('Missing', {})).durationMs).toBeUndefined();
  });

  it('bounds concurrency by maxConcurrency: extra invocations queue and none is lost', async () => {
    const rt = runtime([fn('Instance', 'instance')], { maxConcurrency: 2 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 7 }, () => rt.invoke('Instance', { ms: 120 })));
    const elapsed = Date.now() - started;
    expect(results.every((r) => r.error === undefined)).toBe(true);
    const streams = new Set(results.map((r) => (r.payload as { stream: string }).stream));
    expect(streams.size).toBe(2);
    expect(rt.stats).toMatchObject({ coldStarts: 2, invocations: 7 });
    // Four rounds of 120 ms, at most two at a time.
    expect(elapsed).toBeGreaterThanOrEqual(4 * 120 - 20);
  });

  it('lets a bundle with external @aws-sdk/* require the SDK through NODE_PATH, like the Lambda runtime', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-lambda-test-'));
    try {
      const entry = path.join(dir, 'handler.ts');
      await writeFile(
        entry,
        [
          "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
          'export const handler = async () => ({ client: typeof DynamoDBClient, nodePath: process.env.NODE_PATH });',
        ].join('\n'),
      );
      const outfile = path.join(dir, 'out', 'handler.js');
      await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node22', format: 'cjs', external: ['@aws-sdk/*'] });
      // The SDK really is left out of the bundle, and the temp dir has no node_modules to find it in.
      expect(await readFile(outfile, 'utf8')).toContain('require("@aws-sdk/client-dynamodb")');

      const rt = runtime([fn('Sdk', 'handler', { handlerFile: 'handler' })], { files: { Sdk: outfile } });
      const result = await rt.invoke('Sdk', {});
      expect(result.error).toBeUndefined();
      const payload = result.payload as { client: string; nodePath: string };
      expect(payload.client).toBe('function');
      expect(payload.nodePath).toMatch(/node_modules$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('crashes', () => {
  it('answers Runtime.ExitError when the handler calls process.exit, keeping its logs, and replaces the environment', async () => {
    const rt = runtime([fn('Exit', 'exit'), fn('Counter', 'counter')], { maxConcurrency: 1 });
    const result = await rt.invoke('Exit', {});
    const error = expectError(result, 'Runtime.ExitError');
    expect(error.errorMessage).toBe(`RequestId: ${result.requestId} Error: Runtime exited with error: exit status 3`);
    expect(result.logs).toContain('exiting now');
    // Not wedged: the next invocation runs in a new environment.
    expectError(await rt.invoke('Exit', {}), 'Runtime.ExitError');
    expect(rt.stats.coldStarts).toBe(2);
  });

  it('answers the error of an uncaught exception thrown while the invocation runs, quickly', async () => {
    const rt = runtime([fn('Throw', 'throwInFlight')], { maxConcurrency: 1 });
    const started = Date.now();
    const result = await rt.invoke('Throw', {});
    expect(Date.now() - started).toBeLessThan(1500);
    const error = expectError(result, 'RangeError');
    expect(error.errorMessage).toBe('thrown while the invocation waits');
    expect(result.logs).toContain('Uncaught Exception');
    expectError(await rt.invoke('Throw', {}), 'RangeError');
    expect(rt.stats.coldStarts).toBe(2);
  });

  it('answers Runtime.UnhandledPromiseRejection for a rejection nobody handles', async () => {
    const rt = runtime([fn('Reject', 'rejectInFlight')]);
    const error = expectError(await rt.invoke('Reject', {}), 'Runtime.UnhandledPromiseRejection');
    expect(error.errorMessage).toBe('Error: nobody catches this');
  });

  it('replaces an environment that crashed from a timer after it answered, without losing the next invocation', async () => {
    const rt = runtime([fn('Late', 'lateThrow')], { maxConcurrency: 1 });
    expect((await rt.invoke('Late', {})).payload).toBe('returned before the timer');
    await sleep(150); // the timer throws; the environment is gone
    const next = await rt.invoke('Late', {});
    expect(next.payload).toBe('returned before the timer');
    expect(rt.stats.coldStarts).toBe(2);
  });

  it('loses no invocation to an environment that crashes right after answering', async () => {
    const rt = runtime([fn('Immediate', 'immediateThrow')], { maxConcurrency: 1 });
    // Each waits for the only environment, which crashes just after answering the one before. Depending on timing,
    // the next one ran in that environment before the crash, or is handed on to a fresh environment: never lost.
    const results = await Promise.all(Array.from({ length: 40 }, () => rt.invoke('Immediate', {})));
    expect(results.map((r) => r.payload)).toEqual(Array.from({ length: 40 }, () => 'answered'));
    expect(rt.stats.invocations).toBe(40);
    await sleep(50);
    expect((await rt.invoke('Immediate', {})).payload).toBe('answered');
  });

  it('answers Runtime.OutOfMemory when the handler exhausts its memory, and replaces the environment', async () => {
    const rt = runtime([fn('Oom', 'oom', { memoryMb: 64, timeoutSeconds: 15 }), fn('Echo', 'echo')]);
    const result = await rt.invoke('Oom', {});
    expect(expectError(result, 'Runtime.OutOfMemory').errorMessage).toBe(`RequestId: ${result.requestId} Error: Runtime exited with error: signal: killed`);
    expect((await rt.invoke('Echo', {})).error).toBeUndefined();
  });

  it('runs invocations that were queued behind a crashing one', async () => {
    const rt = runtime([fn('Exit', 'exit')], { maxConcurrency: 1 });
    const results = await Promise.all([rt.invoke('Exit', {}), rt.invoke('Exit', {}), rt.invoke('Exit', {})]);
    expect(results.map((r) => r.error?.errorType)).toEqual(['Runtime.ExitError', 'Runtime.ExitError', 'Runtime.ExitError']);
    expect(rt.stats).toMatchObject({ coldStarts: 3, invocations: 3 });
  });
});

describe('close', () => {
  it('answers running and queued invocations, and later ones, and resolves', async () => {
    const rt = runtime([fn('Slow', 'slow', { timeoutSeconds: 30 })], { maxConcurrency: 1 });
    const running = rt.invoke('Slow', { ms: 20_000 });
    const queued = [rt.invoke('Slow', { ms: 10 }), rt.invoke('Slow', { ms: 10 })];
    // The environment has loaded the bundle and been handed the first invocation; the other two are waiting.
    await until(() => rt.stats.coldStarts === 1 && rt.stats.invocations === 1);
    const started = Date.now();
    await rt.close();
    const results = await Promise.all([running, ...queued]);
    expect(Date.now() - started).toBeLessThan(2000);
    for (const result of results) expect(expectError(result, 'Runtime.ExitError').errorMessage).toContain('The Lambda service was closed');
    expectError(await rt.invoke('Slow', { ms: 10 }), 'Runtime.ExitError');
    expect(rt.stats.coldStarts).toBe(1);
  });
});
