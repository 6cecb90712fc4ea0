import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { requireActive, type AccountStore, type PlanAccount } from '#shared/accounts';
import { ConflictError, NotFoundError } from '#shared/errors';

/**
 * Plan changes of one user. The change itself is the plan-change workflow's (Step Functions): this side only starts it
 * (once per request) and reports on it. Knows nothing of API Gateway or of the SDK.
 */

export type PlanChangeStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The workflow's input; the key order is fixed, so a retry sends byte-identical input. */
export interface PlanChangeInput {
  userId: string;
  plan: string;
  requestId: string;
}

/** One execution of the workflow, as DescribeExecution tells it (input and output still JSON text). */
export interface PlanChangeExecution {
  name: string;
  status: PlanChangeStatus;
  input?: string;
  output?: string;
  startedAt: string;
  stoppedAt?: string;
  error?: string;
  cause?: string;
}

export interface PlanChangeWorkflow {
  /** Starts execution `name`: false if one with this name exists and is closed (or runs with another input). */
  start(name: string, input: PlanChangeInput): Promise<boolean>;
  /** The execution called `name`, or undefined if there is none. */
  describe(name: string): Promise<PlanChangeExecution | undefined>;
}

export interface PlanDeps {
  accounts: AccountStore;
  workflow: PlanChangeWorkflow;
}

export const EXECUTION_NAME = /^plan-[0-9a-f]{40}$/;

/** Error names of the plan-change workflow's own Fail states, whose causes are meant to be read by the user. */
const AUTHORED_ERRORS = 'PlanChange.';

/** Deterministic per user and request: `plan-` + 40 hex of sha256(userId/requestId) (45 characters, within SFN's 80). */
export function planChangeExecutionName(userId: string, requestId: string): string {
  return `plan-${createHash('sha256').update(`${userId}/${requestId}`).digest('hex').slice(0, 40)}`;
}

export function planChangeInput(userId: string, plan: string, requestId: string): PlanChangeInput {
  return { userId, plan, requestId };
}

const inputSchema = z.object({ userId: z.string(), plan: z.string(), requestId: z.optional(z.string()) });
const outputSchema = z.object({ fromPlan: z.string(), toPlan: z.string(), effectiveAt: z.string() });

function parseJson<S extends z.ZodMiniType>(text: string | undefined, schema: S): z.output<S> | undefined {
  if (text === undefined) return undefined;
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

export interface PlanChangeAccepted {
  executionId: string;
  status: PlanChangeStatus;
  plan: string;
}

export interface PlanChangeView {
  executionId: string;
  status: PlanChangeStatus;
  requestedPlan: string;
  startedAt: string;
  stoppedAt?: string;
  outcome?: z.output<typeof outputSchema>;
  error?: { code: string; message?: string };
}

/**
 * The existing execution of this very request (same name), if it is the caller's and asks for the same plan.
 * Another plan under the same Idempotency-Key is a conflict: the key names one request, not one of several.
 */
async function sameRequest(
  deps: PlanDeps,
  userId: string,
  name: string,
  plan: string,
): Promise<PlanChangeAccepted | undefined> {
  const execution = await deps.workflow.describe(name);
  const input = parseJson(execution?.input, inputSchema);
  if (!execution || input?.userId !== userId) return undefined;
  if (input.plan !== plan) {
    throw new ConflictError(`This Idempotency-Key was already used to request the ${input.plan} plan`, {
      executionId: name,
      requestedPlan: input.plan,
    });
  }
  return { executionId: name, status: execution.status, plan };
}

/**
 * Starts the plan change `requestId` asks for, once. A retry of the same request (same Idempotency-Key) answers with
 * the execution the first attempt started, whatever state it is in now, and never starts another.
 */
export async function requestPlanChange(
  deps: PlanDeps,
  userId: string,
  plan: string,
  requestId: string,
): Promise<PlanChangeAccepted> {
  const name = planChangeExecutionName(userId, requestId);
  const account = requireActive((await deps.accounts.get(userId)) as PlanAccount | undefined);

  const conflict =
    account.pendingPlanChange !== undefined
      ? new ConflictError('A plan change is in progress', { executionId: account.pendingPlanChange })
      : account.plan === plan
        ? new ConflictError(`The account is already on plan ${plan}`, { plan })
        : undefined;
  if (conflict) {
    // The lock or the new plan may be this very request's doing: a retry of it is answered, not refused.
    const retried = await sameRequest(deps, userId, name, plan);
    if (retried) return retried;
    throw conflict;
  }

  if (await deps.workflow.start(name, planChangeInput(userId, plan, requestId))) {
    return { executionId: name, status: 'RUNNING', plan };
  }
  const existing = await sameRequest(deps, userId, name, plan);
  if (!existing) throw new ConflictError('A plan change with this Idempotency-Key exists already');
  return existing;
}

/** One of the caller's plan changes; someone else's is as unknown as a missing one. */
export async function getPlanChange(deps: PlanDeps, userId: string, executionId: string): Promise<PlanChangeView> {
  const execution = await deps.workflow.describe(executionId);
  const input = parseJson(execution?.input, inputSchema);
  if (!execution || input?.userId !== userId) throw new NotFoundError(`Plan change ${executionId} not found`);
  const outcome = execution.status === 'SUCCEEDED' ? parseJson(execution.output, outputSchema) : undefined;
  const failed = execution.status !== 'RUNNING' && execution.status !== 'SUCCEEDED';
  const code = execution.error ?? (failed && execution.cause !== undefined ? execution.status : undefined);
  // The workflow's own failures (PlanChange.*) carry causes written for people; a failed AWS call's cause is AWS's
  // raw error text (request ids, ARNs), which stays in the execution history.
  const message = code?.startsWith(AUTHORED_ERRORS) ? execution.cause : undefined;
  return {
    executionId,
    status: execution.status,
    requestedPlan: input.plan,
    startedAt: execution.startedAt,
    ...(execution.stoppedAt ? { stoppedAt: execution.stoppedAt } : {}),
    ...(outcome ? { outcome: { fromPlan: outcome.fromPlan, toPlan: outcome.toPlan, effectiveAt: outcome.effectiveAt } } : {}),
    ...(failed && code !== undefined ? { error: { code, ...(message !== undefined ? { message } : {}) } } : {}),
  };
}
