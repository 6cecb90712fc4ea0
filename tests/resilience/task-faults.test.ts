/**
 * The Step Functions Task fault injector the resilience tests rely on: which call takes which fault, how often, and
 * how holds behave. (Its effect on real executions is what the other files here check.)
 */
import { TaskFaultInjector, type TaskCall } from '../../local/stepfunctions/index.ts';
import { faultResource } from '../../local/stepfunctions/faults.ts';

const call = (stateName: string, resource: string): TaskCall => ({
  stateName,
  resource,
  stateMachine: 'tollgate-onboarding',
  executionArn: 'arn:aws:states:us-east-1:000000000000:execution:tollgate-onboarding:x',
});
const errorOf = (faults: TaskFaultInjector, c: TaskCall) => (faults.next(c) as { error: string } | undefined)?.error;

describe('TaskFaultInjector', () => {
  it('names resources as Step Functions Task ARNs do, without the arn:aws:states::: and aws-sdk: prefixes', () => {
    expect(faultResource('arn:aws:states:::aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes')).toBe('cognitoidentityprovider:adminUpdateUserAttributes');
    expect(faultResource('arn:aws:states:::dynamodb:putItem')).toBe('dynamodb:putItem');
    expect(faultResource('arn:aws:states:::states:startExecution.sync:2')).toBe('states:startExecution.sync:2');
    expect(faultResource('arn:aws:lambda:us-east-1:000000000000:function:f')).toBe('arn:aws:lambda:us-east-1:000000000000:function:f');
  });

  it('fails the next `times` matching calls, state name first, then resource, then *', () => {
    const faults = new TaskFaultInjector()
      .inject('*', 'Any.Error')
      .inject('dynamodb:updateItem', 'DynamoDB.ThrottlingException', 2)
      .inject('MarkActive', 'DynamoDB.ConditionalCheckFailedException');
    const markActive = call('MarkActive', 'dynamodb:updateItem');
    const markOnboarding = call('MarkOnboarding', 'dynamodb:updateItem');

    expect(errorOf(faults, markActive)).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(errorOf(faults, markActive)).toBe('DynamoDB.ThrottlingException');
    expect(errorOf(faults, markOnboarding)).toBe('DynamoDB.ThrottlingException');
    expect(errorOf(faults, markOnboarding)).toBe('Any.Error');
    expect(errorOf(faults, markOnboarding)).toBeUndefined();
    expect(faults.injected.map((i) => i.fault?.error)).toHaveLength(4);
  });

  it('gives injected faults a Cause naming them, unless one is given', () => {
    const faults = new TaskFaultInjector().inject('S', 'E.One').inject('S', 'E.Two', 1, 'custom cause');
    expect(faults.next(call('S', 'r'))).toEqual({ error: 'E.One', cause: 'E.One (injected fault)' });
    expect(faults.next(call('S', 'r'))).toEqual({ error: 'E.Two', cause: 'custom cause' });
  });

  it('holds a call until released, and clear() releases held calls and drops the rest', async () => {
    const faults = new TaskFaultInjector();
    const hold = faults.hold('SetApiIdAttribute');
    faults.hold('SetApiIdAttribute'); // a second hold for the same state, never reached
    faults.inject('SetApiIdAttribute', 'Never.Taken');

    const held = faults.next(call('SetApiIdAttribute', 'cognitoidentityprovider:adminUpdateUserAttributes'));
    expect(held).toBeInstanceOf(Promise);
    expect((await hold.reached).stateName).toBe('SetApiIdAttribute');
    let settled = false;
    void Promise.resolve(held).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);

    faults.clear();
    await expect(held).resolves.toBeUndefined();
    expect(faults.next(call('SetApiIdAttribute', 'cognitoidentityprovider:adminUpdateUserAttributes'))).toBeUndefined();
  });

  it('lets a held call fail with a fault when released with one', async () => {
    const faults = new TaskFaultInjector();
    const hold = faults.hold('*');
    const held = faults.next(call('Any', 'r'));
    hold.release({ error: 'States.TaskFailed', cause: 'late' });
    await expect(held).resolves.toEqual({ error: 'States.TaskFailed', cause: 'late' });
  });
});
