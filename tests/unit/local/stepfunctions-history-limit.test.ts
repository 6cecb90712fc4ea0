/**
 * The offline Step Functions enforces AWS's history quota: 25,000 events per Standard execution; the last slot is
 * kept for ExecutionSucceeded, anything else there fails the execution with States.Runtime. The quota is injectable
 * (`maxHistoryEvents`), so these tests reach it with a few dozen events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createStepFunctionsService, type StepFunctionsService } from '../../../local/stepfunctions/index.ts';
import { HistoryRecorder, MAX_HISTORY_EVENTS, historyLimitCause } from '../../../local/stepfunctions/history.ts';
import type { ExecutionRecord } from '../../../local/stepfunctions/types.ts';
import type { StateMachineSpec } from '../../../local/types.ts';
import { listenerHistory } from '../../support/listener-history.ts';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

/** `n` Pass states in a row: 2 + 2n history events (ExecutionStarted, n × Entered/Exited, ExecutionSucceeded). */
function passes(n: number): Record<string, unknown> {
  const states: Record<string, unknown> = {};
  for (let i = 0; i < n; i += 1) states[`P${i}`] = { Type: 'Pass', ...(i === n - 1 ? { End: true } : { Next: `P${i + 1}` }) };
  return { StartAt: 'P0', States: states };
}

/** A loop of `$.n` turns (Pass + Choice, 4 events a turn). */
const loop = {
  StartAt: 'Count',
  States: {
    Count: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.n, -1)' }, Next: 'More' },
    More: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericGreaterThan: 0, Next: 'Count' }], Default: 'Done' },
    Done: { Type: 'Succeed' },
  },
};

function spec(name: string, definition: Record<string, unknown>, type: 'STANDARD' | 'EXPRESS' = 'STANDARD'): StateMachineSpec {
  return { logicalId: name, name, arn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`, type, definition };
}

const MACHINES = [spec('three', passes(3)), spec('loop', loop), spec('express-loop', loop, 'EXPRESS')];

async function service(maxHistoryEvents?: number): Promise<{ sfn: StepFunctionsService; done: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sfn-limit-'));
  const sfn = await createStepFunctionsService({
    dir,
    stateMachines: MACHINES,
    endpoints: {},
    region: REGION,
    accountId: ACCOUNT,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...(maxHistoryEvents !== undefined ? { maxHistoryEvents } : {}),
  });
  return {
    sfn,
    done: async () => {
      await sfn.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function run(sfn: StepFunctionsService, machine: string, input: unknown) {
  const { executionArn } = await sfn.startExecution({ stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machine}`, input: JSON.stringify(input) });
  return sfn.waitForExecution(executionArn, 20_000);
}

describe('HistoryRecorder at the quota', () => {
  const record = (): ExecutionRecord => ({
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:e',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    name: 'e',
    status: 'RUNNING',
    startDate: 1_000,
    input: '{}',
    redriveCount: 0,
    events: [],
  });

  it('is 25,000 by default, as in AWS', () => {
    expect(MAX_HISTORY_EVENTS).toBe(25_000);
    expect(historyLimitCause(25_000)).toBe('The execution reached the maximum number of history events (25000).');
  });

  it('replaces an event that would take the last slot with ExecutionFailed (States.Runtime) and stops recording', () => {
    const rec = record();
    const reached: unknown[] = [];
    const recorder = new HistoryRecorder(rec, { region: REGION, roleArn: 'r', definition: {}, onChange: () => {}, maxEvents: 4, onLimitReached: (f) => reached.push(f) });
    recorder.executionStarted();
    recorder.add('PassStateEntered', { name: 'A' });
    recorder.add('PassStateExited', { name: 'A' });
    recorder.add('PassStateEntered', { name: 'B' });
    recorder.add('PassStateExited', { name: 'B' });

    expect(rec.events.map((e) => e.type)).toEqual(['ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'ExecutionFailed']);
    expect(rec.events[3]).toMatchObject({ id: 4, previousEventId: 3, executionFailedEventDetails: { error: 'States.Runtime', cause: historyLimitCause(4) } });
    expect(reached).toEqual([{ error: 'States.Runtime', cause: historyLimitCause(4) }]);
    expect(recorder.isFrozen).toBe(true);
  });

  it('lets ExecutionSucceeded take the last slot', () => {
    const rec = record();
    const recorder = new HistoryRecorder(rec, { region: REGION, roleArn: 'r', definition: {}, onChange: () => {}, maxEvents: 3, onLimitReached: () => { throw new Error('not at the limit'); } });
    recorder.executionStarted();
    recorder.add('PassStateEntered', { name: 'A' });
    recorder.add('ExecutionSucceeded', { output: '{}' });

    expect(rec.events.map((e) => e.type)).toEqual(['ExecutionStarted', 'PassStateEntered', 'ExecutionSucceeded']);
  });
});

/**
 * Each test starts a Step Functions service, which validates the three definitions with asl-validator (as Step
 * Functions does on CreateStateMachine). The validator compiles its JSON schemas on every call (about 0.2 s of CPU a
 * definition), so local/stepfunctions/machines.ts remembers definitions it accepted; the first service in a fresh
 * clone still pays for all three, which takes more than jest's 5 s default on a loaded 2-core machine.
 */
const SERVICE_TEST_TIMEOUT_MS = 30_000;

describe('an execution at the quota', () => {
  it('succeeds when its last event is ExecutionSucceeded, exactly at the quota', async () => {
    const { sfn, done } = await service(8); // 3 Pass states: 2 + 2 × 3 = 8 events
    try {
      const result = await run(sfn, 'three', {});
      expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    } finally {
      await done();
    }
  }, SERVICE_TEST_TIMEOUT_MS);

  it('fails with States.Runtime one event short of its end, with exactly maxHistoryEvents events', async () => {
    const { sfn, done } = await service(7);
    try {
      const result = await run(sfn, 'three', {});
      expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'FAILED', error: 'States.Runtime', cause: historyLimitCause(7) });
    } finally {
      await done();
    }
  }, SERVICE_TEST_TIMEOUT_MS);

  it('stops a loop at the quota: the history ends with ExecutionFailed as event number maxHistoryEvents', async () => {
    const { sfn, done } = await service(50);
    try {
      const { executionArn } = await sfn.startExecution({ stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:loop`, input: '{"n":1000}' });
      const result = await sfn.waitForExecution(executionArn, 20_000);
      expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'States.Runtime' });
      const history = await listenerHistory(sfn.listener, executionArn);
      expect(history).toHaveLength(50);
      expect(history.at(-1)).toMatchObject({ id: 50, type: 'ExecutionFailed' });
      expect(history.filter((e) => e.type === 'ExecutionFailed')).toHaveLength(1);
    } finally {
      await done();
    }
  }, SERVICE_TEST_TIMEOUT_MS);

  it('applies to Standard workflows only: an Express execution has no quota', async () => {
    const { sfn, done } = await service(50);
    try {
      const result = await run(sfn, 'express-loop', { n: 30 }); // 2 + 4 × 30 + … events
      expect(result.status).toBe('SUCCEEDED');
    } finally {
      await done();
    }
  }, SERVICE_TEST_TIMEOUT_MS);
});
