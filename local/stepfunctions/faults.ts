/**
 * Test-only fault injection for Task states. When `createStepFunctionsService({ faults })` (or
 * `startLocalStack({ faults: { stepFunctions } })`) is given a {@link TaskFaultHook}, the Task bridge asks it before
 * every Task call, after the resource passed its preflight and before any request is sent:
 *
 * - `undefined`: the call goes ahead as usual;
 * - `{ error, cause? }`: the call fails with that Step Functions error name instead, exactly as if the service had
 *   answered so: a `TaskFailed` history event, then Retry / Catch matched on the name. So spell it as Step Functions
 *   does — `CognitoIdentityProvider.InternalErrorException` (retried by the workflows) vs
 *   `CognitoIdentityProvider.UserNotFoundException` (not), `DynamoDB.ProvisionedThroughputExceededException`,
 *   `ApiGateway.TooManyRequestsException`;
 * - a promise: awaited first (the call is held). Stopping or closing the service abandons a held call like any
 *   in-flight request, so a promise that never settles parks the execution in that state until the service is
 *   closed — which leaves it RUNNING on disk for the next service on the same directory to re-run.
 *
 * {@link TaskFaultInjector} is the ready-made hook: queues of faults and holds per state name or resource.
 */

/** One Task call, as the hook sees it. */
export interface TaskCall {
  /**
   * The Resource without `arn:aws:states:::` and `aws-sdk:`: `apigateway:createApiKey`,
   * `cognitoidentityprovider:adminUpdateUserAttributes`, `dynamodb:putItem`, `lambda:invoke`,
   * `states:startExecution.sync`; a Lambda function ARN as it is.
   */
  resource: string;
  /** The Task state's name, e.g. `SetApiIdAttribute`. */
  stateName: string;
  /** The state machine's name, e.g. `tollgate-onboarding`. */
  stateMachine: string;
  executionArn: string;
}

/** The error a Task call fails with: a Step Functions error name and the Cause. */
export interface TaskFault {
  error: string;
  cause?: string;
}

export interface TaskFaultHook {
  next(call: TaskCall): TaskFault | undefined | Promise<TaskFault | undefined>;
}

/** The Cause of an injected fault given without one. */
export const injectedCause = (error: string): string => `${error} (injected fault)`;

/** `TaskCall.resource` for a Resource ARN. */
export function faultResource(resourceArn: string): string {
  return resourceArn.replace(/^arn:aws:states:::/, '').replace(/^aws-sdk:/, '');
}

/** A held call: `reached` resolves when a call arrives; `release()` lets it go on (or fail with a fault). */
export interface TaskHold {
  reached: Promise<TaskCall>;
  release(fault?: TaskFault): void;
}

interface QueuedFault {
  fault: TaskFault;
  remaining: number;
}

interface PendingHold {
  arrived: (call: TaskCall) => void;
  gate: Promise<TaskFault | undefined>;
}

/**
 * Faults per target: a state name (`MarkActive`), a resource (`dynamodb:putItem`, see {@link TaskCall.resource})
 * or `'*'` (every call). A call takes the first fault queued for its state name, else for its resource, else for
 * `'*'`. Holds are consulted before faults. Like the API Gateway control plane's `FaultInjector`.
 */
export class TaskFaultInjector implements TaskFaultHook {
  private readonly faults = new Map<string, QueuedFault[]>();
  private readonly holds = new Map<string, PendingHold[]>();
  private readonly held = new Set<() => void>();
  /** Every call this injector failed or held, in order. */
  readonly injected: { call: TaskCall; fault?: TaskFault; held?: true }[] = [];

  /** The next `times` calls matching `target` fail with `error` (Cause: `cause`, or "<error> (injected fault)"). */
  inject(target: string, error: string, times = 1, cause?: string): this {
    const list = this.faults.get(target) ?? [];
    list.push({ fault: { error, cause: cause ?? injectedCause(error) }, remaining: times });
    this.faults.set(target, list);
    return this;
  }

  /** The next call matching `target` waits until `release()` (forever if it is never called). */
  hold(target: string): TaskHold {
    let arrived!: (call: TaskCall) => void;
    const reached = new Promise<TaskCall>((resolve) => (arrived = resolve));
    let resolveGate!: (fault?: TaskFault) => void;
    const gate = new Promise<TaskFault | undefined>((resolve) => (resolveGate = resolve));
    const release = (fault?: TaskFault) => {
      this.held.delete(release);
      resolveGate(fault);
    };
    this.held.add(release);
    const list = this.holds.get(target) ?? [];
    list.push({ arrived, gate });
    this.holds.set(target, list);
    return { reached, release };
  }

  /**
   * Forgets queued faults and holds not yet reached, and lets held calls go on (a call held by a service that has
   * been closed since sends nothing).
   */
  clear(): void {
    this.faults.clear();
    this.holds.clear();
    for (const release of [...this.held]) release();
  }

  next(call: TaskCall): TaskFault | undefined | Promise<TaskFault | undefined> {
    const targets = [call.stateName, call.resource, '*'];
    for (const target of targets) {
      const hold = this.holds.get(target)?.shift();
      if (!hold) continue;
      if (this.holds.get(target)?.length === 0) this.holds.delete(target);
      this.injected.push({ call, held: true });
      hold.arrived(call);
      return hold.gate;
    }
    for (const target of targets) {
      const list = this.faults.get(target);
      const queued = list?.[0];
      if (!list || !queued) continue;
      queued.remaining -= 1;
      if (queued.remaining <= 0) list.shift();
      if (list.length === 0) this.faults.delete(target);
      this.injected.push({ call, fault: queued.fault });
      return queued.fault;
    }
    return undefined;
  }
}
