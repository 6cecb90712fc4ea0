import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';

/** Why an account is closed: its user was deleted in the pool (by an administrator), or deleted it themselves. */
export type OffboardingReason = 'USER_DELETED' | 'SELF_SERVICE';

/**
 * Execution names are the idempotency key Step Functions enforces: one offboarding per user (`offboard-<sub>`), and
 * one re-drive per account state (`offboard-<sub>-<redrive>`, see the reconciler).
 */
export function offboardingExecutionName(userId: string, redrive?: string): string {
  return redrive === undefined ? `offboard-${userId}` : `offboard-${userId}-${redrive}`;
}

/**
 * Starts the offboarding workflow (statemachines/offboarding.asl.json) for a user, once. Input `{userId, reason}`.
 * Returns false when an execution of that name exists already (running with another input, or closed): Standard
 * workflows answer ExecutionAlreadyExists then, and the same name and input while running return that execution
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). Other errors are thrown.
 */
export async function startOffboarding(
  sfn: SFNClient,
  stateMachineArn: string,
  userId: string,
  reason: OffboardingReason,
  redrive?: string,
): Promise<boolean> {
  try {
    await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: offboardingExecutionName(userId, redrive), input: JSON.stringify({ userId, reason }) }),
    );
    return true;
  } catch (error: unknown) {
    if (error instanceof ExecutionAlreadyExists) return false;
    throw error;
  }
}
