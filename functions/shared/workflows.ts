import { createHash } from 'node:crypto';
import { StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { isExecutionAlreadyExists, unless } from './aws-errors.ts';

/**
 * Starting the Step Functions workflows the functions start (onboarding, offboarding, plan change): their inputs and
 * execution names, and the one way an execution is started. Execution names are the idempotency key Step Functions
 * enforces: a Standard workflow refuses a second execution of a name (ExecutionAlreadyExists) and answers the same
 * name with the same input, while it runs, with that execution
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
 */

export interface StartExecution {
  stateMachineArn: string;
  name: string;
  /** Serialised with JSON.stringify: keep it deterministic (no timestamps), so a retry sends the same input. */
  input: unknown;
}

/**
 * Starts the execution; false when one of that name exists already (running with another input, or closed), true
 * when it was started now or is running with this very input. Other errors are thrown. `abortSignal` cuts the request
 * short (a trigger's deadline).
 */
export function startExecution(sfn: SFNClient, execution: StartExecution, abortSignal?: AbortSignal): Promise<boolean> {
  const command = new StartExecutionCommand({
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    input: JSON.stringify(execution.input),
  });
  const sent = abortSignal ? sfn.send(command, { abortSignal }) : sfn.send(command);
  return unless(isExecutionAlreadyExists, false, sent.then(() => true));
}

/** 12 hex of sha256(`updatedAt`): a re-drive's name suffix, the same for every attempt that sees the same account state. */
export function redriveSuffix(updatedAt: string | undefined): string {
  return createHash('sha256').update(updatedAt ?? '', 'utf8').digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------------- onboarding

/** The onboarding workflow's input (statemachines/onboarding.asl.json): the same from both Cognito triggers. */
export interface OnboardingInput {
  userId: string;
  email: string;
  username: string;
}

/** The input, in a fixed key order, so both triggers send byte-identical input for one user. */
export function onboardingInput(userId: string, email: string, username: string): OnboardingInput {
  return { userId, email, username };
}

/** One onboarding per user: `onboard-<sub>`; a re-drive of a FAILED one: `onboard-<sub>-<redriveSuffix(updatedAt)>`. */
export function onboardingExecutionName(userId: string, failedAt?: string): string {
  return failedAt === undefined ? `onboard-${userId}` : `onboard-${userId}-${redriveSuffix(failedAt)}`;
}

// ---------------------------------------------------------------------------------------------------- offboarding

/** Why an account is closed: its user was deleted in the pool (by an administrator), or deleted it themselves. */
export type OffboardingReason = 'USER_DELETED' | 'SELF_SERVICE';

/**
 * One offboarding per user (`offboard-<sub>`), and one re-drive per account state (`offboard-<sub>-<redrive>`, see the
 * reconciler).
 */
export function offboardingExecutionName(userId: string, redrive?: string): string {
  return redrive === undefined ? `offboard-${userId}` : `offboard-${userId}-${redrive}`;
}

/**
 * Starts the offboarding workflow (statemachines/offboarding.asl.json) for a user, once. Input `{userId, reason}`.
 * False when an execution of that name exists already (see startExecution).
 */
export function startOffboarding(
  sfn: SFNClient,
  stateMachineArn: string,
  userId: string,
  reason: OffboardingReason,
  redrive?: string,
): Promise<boolean> {
  return startExecution(sfn, { stateMachineArn, name: offboardingExecutionName(userId, redrive), input: { userId, reason } });
}

// ---------------------------------------------------------------------------------------------------- key retirement

/**
 * The key-retirement workflow's input (statemachines/key-retirement.asl.json): the rotation whose old key it retires
 * at `rotation.retireAt` (ISO 8601, the Wait state's TimestampPath). Key ids only, never a value.
 */
export interface KeyRetirementInput {
  userId: string;
  rotation: { id: string; previousKeyId: string; plan: string; usagePlanId: string; quotaCarriedOver: number; retireAt: string };
}

/** `retire-<rotation id>` (the new key's id): one retirement per rotation, whoever starts it and however often. */
export const retirementExecutionName = (rotationId: string): string => `retire-${rotationId}`;
