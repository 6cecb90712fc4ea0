/**
 * The offline Step Functions' definition handling, history mapping and naming rules, and how
 * `aws-local-stepfunctions` matches the bridge's errors in Retry/Catch.
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

import {
  collectTaskStates,
  MAX_TASK_TIMEOUT_SECONDS,
  prepareDefinition,
  simplePath,
  substituteStateName,
  type JsonObject,
} from '../../../local/stepfunctions/definition.ts';
import { SfnApiError, StatesRuntimeError, TaskError } from '../../../local/stepfunctions/errors.ts';
import { detailsKey, HistoryRecorder, renderEvent, type TaskDescriptor } from '../../../local/stepfunctions/history.ts';
import { isValidExecutionName } from '../../../local/stepfunctions/index.ts';
import type { ExecutionRecord } from '../../../local/stepfunctions/types.ts';

const nested: JsonObject = {
  StartAt: 'Top',
  States: {
    Top: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'Fan' },
    Fan: {
      Type: 'Parallel',
      Branches: [
        { StartAt: 'InBranch', States: { InBranch: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:getItem', TimeoutSeconds: 5, End: true } } },
        {
          StartAt: 'Loop',
          States: {
            Loop: {
              Type: 'Map',
              ItemProcessor: { StartAt: 'InMap', States: { InMap: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution', End: true } } },
              End: true,
            },
          },
        },
      ],
      Next: 'Legacy',
    },
    Legacy: {
      Type: 'Map',
      Iterator: { StartAt: 'InIterator', States: { InIterator: { Type: 'Pass', End: true } } },
      End: true,
    },
  },
};

describe('collectTaskStates', () => {
  it('finds Task states at every depth (Parallel branches, Map ItemProcessor and Iterator)', () => {
    const tasks = collectTaskStates(nested);
    expect([...tasks.keys()].sort()).toEqual(['InBranch', 'InMap', 'Top']);
    expect(tasks.get('InBranch')).toEqual({ name: 'InBranch', resource: 'arn:aws:states:::dynamodb:getItem', timeoutSeconds: 5 });
  });

  it('rejects a name used by two different states', () => {
    const dup: JsonObject = {
      StartAt: 'A',
      States: {
        A: { Type: 'Parallel', Branches: [{ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }], End: true },
      },
    };
    expect(() => collectTaskStates(dup)).toThrow(/unique/);
  });
});

describe('prepareDefinition', () => {
  const definition: JsonObject = {
    StartAt: 'Call',
    States: {
      Call: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { 'me.$': '$$.State.Name', 'msg.$': "States.Format('{} at {}', $$.State.Name, $.x)", 'x.$': '$.x', nested: { 'who.$': '$$.State.Name' } },
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxDelaySeconds: 10 }, { ErrorEquals: ['X'] }],
        End: true,
      },
    },
  };

  it('scales Retry pauses, keeps BackoffRate, and leaves the original untouched', () => {
    const prepared = prepareDefinition(definition, { retryIntervalScale: 0.01 }) as { States: { Call: { Retry: JsonObject[]; TimeoutSeconds: number } } };
    expect(prepared.States.Call.Retry[0]).toEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 0.02, MaxDelaySeconds: 0.1 });
    expect(prepared.States.Call.Retry[1]).toEqual({ ErrorEquals: ['X'], IntervalSeconds: 0.01 });
    expect(prepared.States.Call.TimeoutSeconds).toBe(MAX_TASK_TIMEOUT_SECONDS);
    expect((definition.States as { Call: JsonObject }).Call.TimeoutSeconds).toBeUndefined();
  });

  it('substitutes $$.State.Name in paths and intrinsic functions', () => {
    const prepared = prepareDefinition(definition, { retryIntervalScale: 1 }) as { States: { Call: { Parameters: JsonObject } } };
    expect(prepared.States.Call.Parameters).toEqual({
      me: 'Call',
      'msg.$': "States.Format('{} at {}', 'Call', $.x)",
      'x.$': '$.x',
      nested: { who: 'Call' },
    });
    expect(substituteStateName({ 'a.$': "States.Format('{}', $$.State.Name)" }, "it's {odd}")).toEqual({
      'a.$': "States.Format('{}', 'it\\'s \\{odd\\}')",
    });
  });

  it('runs with the library and yields the substituted name', async () => {
    const def: JsonObject = { StartAt: 'Named', States: { Named: { Type: 'Pass', Parameters: { 'n.$': '$$.State.Name' }, End: true } } };
    const machine = new StateMachine(prepareDefinition(def, { retryIntervalScale: 1 }) as unknown as StateMachineDefinition);
    await expect(machine.run({}).result).resolves.toEqual({ n: 'Named' });
  });
});

describe('simplePath', () => {
  it('reads dotted, bracketed and indexed paths', () => {
    const data = { a: { b: [10, { c: 'x' }] }, 'odd key': 1 };
    expect(simplePath('$', data)).toBe(data);
    expect(simplePath('$.a.b[1].c', data)).toBe('x');
    expect(simplePath("$['odd key']", data)).toBe(1);
    expect(simplePath('$.missing', data)).toBeUndefined();
    expect(simplePath('$..deep', data)).toBeUndefined();
  });
});

describe('isValidExecutionName', () => {
  it.each(['onboard-123e4567-e89b-12d3-a456-426614174000', 'a', 'x'.repeat(80), 'ünïcödé', 'with.dots_and-dashes+plus=eq@at!'])('accepts %s', (n) => {
    expect(isValidExecutionName(n)).toBe(true);
  });
  it.each(['', 'x'.repeat(81), 'has space', 'tab\there', 'a:b', 'a/b', 'a*b', 'a?b', 'a{b', 'a[b', 'a<b', 'a"b', 'a#b', 'a%b', 'a\\b', 'a^b', 'a|b', 'a~b', 'a`b', 'a$b', 'a&b', 'a,b', 'a;b', 'nul\u0000', 'c1\u0085'])(
    'rejects %j',
    (n) => {
      expect(isValidExecutionName(n)).toBe(false);
    },
  );
});

describe('SfnApiError wire shape', () => {
  it('uses the Step Functions namespace, and coral.validate for ValidationException', () => {
    expect(new SfnApiError('ExecutionDoesNotExist', 'm').toBody()).toEqual({
      __type: 'com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist',
      message: 'm',
    });
    expect(new SfnApiError('ValidationException', 'v').toBody().__type).toBe('com.amazon.coral.validate#ValidationException');
  });
});

describe('HistoryRecorder', () => {
  const task: TaskDescriptor = { resourceType: 'aws-sdk:apigateway', resource: 'createApiKey', legacyLambda: false, arn: 'arn:aws:states:::aws-sdk:apigateway:createApiKey' };
  const newRecord = (): ExecutionRecord => ({
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:e',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    name: 'e',
    status: 'RUNNING',
    startDate: 1_000,
    input: '{"a":1}',
    redriveCount: 0,
    events: [],
  });
  const definition: JsonObject = {
    StartAt: 'T',
    States: {
      T: { Type: 'Task', Resource: task.arn, Next: 'Each' },
      Each: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }, Next: 'Stop' },
      Stop: { Type: 'Fail' },
    },
  };

  it('maps library events and bridge notifications to AWS history events', () => {
    const rec = newRecord();
    let changes = 0;
    const r = new HistoryRecorder(rec, { region: 'us-east-1', roleArn: 'role', definition, onChange: () => (changes += 1) });
    const tasks = new Map([['T', task]]);
    r.executionStarted();
    r.onLibraryEvent({ type: 'ExecutionStarted', timestamp: 1_001, input: {} }, tasks);
    r.onLibraryEvent({ type: 'StateEntered', timestamp: 1_002, state: { name: 'T', type: 'Task', input: { a: 1 } } }, tasks);
    r.taskScheduled(task, { Name: 'n' });
    r.taskFailed(task, 'ApiGateway.TooManyRequestsException', 'slow down');
    r.onLibraryEvent({ type: 'StateFailed', timestamp: 1_003, state: { name: 'T', type: 'Task' }, Error: 'ApiGateway.TooManyRequestsException', Cause: 'slow down' }, tasks);
    r.onLibraryEvent({ type: 'StateRetried', timestamp: 1_004, state: { name: 'T', type: 'Task' } }, tasks);
    r.taskScheduled(task, { Name: 'n' });
    r.taskSucceeded(task, { Id: 'k' });
    r.onLibraryEvent({ type: 'StateExited', timestamp: 1_005, state: { name: 'T', type: 'Task', output: { items: [1, 2] } } }, tasks);
    r.onLibraryEvent({ type: 'StateEntered', timestamp: 1_006, state: { name: 'Each', type: 'Map', input: { items: [1, 2] } } }, tasks);
    r.onLibraryEvent({ type: 'MapIterationStarted', timestamp: 1_007, index: 0, parentState: { name: 'Each', type: 'Map' } }, tasks);
    r.onLibraryEvent({ type: 'MapIterationSucceeded', timestamp: 1_008, index: 0, parentState: { name: 'Each', type: 'Map' } }, tasks);
    r.onLibraryEvent({ type: 'StateExited', timestamp: 1_009, state: { name: 'Each', type: 'Map', output: [1] } }, tasks);
    r.onLibraryEvent({ type: 'StateEntered', timestamp: 1_010, state: { name: 'Stop', type: 'Fail', input: [1] } }, tasks);
    const failed = { type: 'ExecutionFailed', timestamp: 1_011, Error: 'FailStateError', Cause: 'Execution failed because of a Fail state' };
    r.onLibraryEvent(failed, tasks);

    expect(rec.events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
      'MapIterationSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'FailStateEntered',
      'ExecutionFailed',
    ]);
    expect(rec.events.map((e) => e.id)).toEqual(rec.events.map((_, i) => i + 1));
    expect(rec.events[1]!.previousEventId).toBe(0);
    expect(rec.events[2]!.previousEventId).toBe(2);
    expect(rec.events[0]).toMatchObject({ timestamp: 1_000, executionStartedEventDetails: { input: '{"a":1}', roleArn: 'role' } });
    expect(rec.events[2]!.taskScheduledEventDetails).toEqual({
      resourceType: 'aws-sdk:apigateway',
      resource: 'createApiKey',
      region: 'us-east-1',
      parameters: '{"Name":"n"}',
    });
    expect(rec.events[4]!.taskFailedEventDetails).toMatchObject({ error: 'ApiGateway.TooManyRequestsException', cause: 'slow down' });
    expect(rec.events[10]!.mapStateStartedEventDetails).toEqual({ length: 2 });
    expect(rec.events[11]!.mapIterationStartedEventDetails).toEqual({ name: 'Each', index: 0 });
    // A Fail state without Error/Cause: AWS reports neither.
    expect(rec.events[16]!.executionFailedEventDetails).toEqual({});
    expect(r.failureOf(failed)).toEqual({ error: undefined, cause: undefined });
    expect(changes).toBe(rec.events.length);

    r.freeze();
    r.add('TaskStarted');
    expect(rec.events).toHaveLength(17);
  });

  it('renders epoch-second timestamps and can leave execution data out', () => {
    const ev = { id: 1, previousEventId: 0, timestamp: 1_500, type: 'TaskScheduled', taskScheduledEventDetails: { resource: 'r', parameters: '{}' } };
    expect(renderEvent(ev, true)).toEqual({ ...ev, timestamp: 1.5 });
    expect(renderEvent(ev, false)).toEqual({ ...ev, timestamp: 1.5, taskScheduledEventDetails: { resource: 'r' } });
    expect(detailsKey('PassStateExited')).toBe('stateExitedEventDetails');
    expect(detailsKey('ExecutionRedriven')).toBe('executionRedrivenEventDetails');
  });
});

describe('aws-local-stepfunctions matching of bridged errors', () => {
  const catching = (errorEquals: string[]): StateMachineDefinition =>
    ({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:apigateway:createApiKey',
          Catch: [{ ErrorEquals: errorEquals, Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    }) as unknown as StateMachineDefinition;
  const runWith = (errorEquals: string[], error: Error) =>
    new StateMachine(catching(errorEquals)).run({}, { overrides: { taskResourceLocalHandlers: { T: () => Promise.reject(error) } } }).result;

  it.each([['ApiGateway.ConflictException'], ['States.TaskFailed'], ['States.ALL']])('catches a TaskError with %s', async (errorEquals) => {
    await expect(runWith([errorEquals], new TaskError('ApiGateway.ConflictException', 'exists'))).resolves.toEqual({
      Error: 'ApiGateway.ConflictException',
      Cause: 'exists',
    });
  });

  it('does not catch States.Runtime, even with States.ALL', async () => {
    await expect(runWith(['States.ALL'], new StatesRuntimeError('unsupported'))).rejects.toThrow(/unsupported/);
  });

  it('retries a TaskError matched by name', async () => {
    let calls = 0;
    const def = {
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:apigateway:createApiKey',
          Retry: [{ ErrorEquals: ['ApiGateway.TooManyRequestsException'], IntervalSeconds: 1, MaxAttempts: 2 }],
          End: true,
        },
      },
    };
    const machine = new StateMachine(prepareDefinition(def, { retryIntervalScale: 0.001 }) as unknown as StateMachineDefinition);
    const result = await machine.run({}, {
      overrides: {
        taskResourceLocalHandlers: {
          T: async () => {
            calls += 1;
            if (calls < 3) throw new TaskError('ApiGateway.TooManyRequestsException', 'slow down');
            return { ok: true };
          },
        },
      },
    }).result;
    expect(result).toEqual({ ok: true });
    expect(calls).toBe(3);
  });
});
