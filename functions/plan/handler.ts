import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import type { AccountStore } from '#shared/accounts';
import { isExecutionDoesNotExist, unless } from '#shared/aws-errors';
import { accountCaller } from '#shared/caller';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, parseBody, parseParams, type Routes } from '#shared/http';
import { planCatalog, type Plan } from '#shared/plans';
import { DynamoAccountStore } from '#shared/tables/accounts';
import { startExecution } from '#shared/workflows';
import {
  EXECUTION_NAME,
  getPlanChange,
  requestPlanChange,
  type PlanChangeExecution,
  type PlanChangeInput,
  type PlanChangeStatus,
  type PlanChangeWorkflow,
} from './domain.ts';
import { idempotencyKeyOf, locationOf } from './request.ts';

/** `POST /me/plan` (start a plan change) and `GET /me/plan-changes/{executionId}` (how it went). */

/** `{plan}`: one of the catalogue's plan names. */
export function planChangeBody(catalog: readonly Plan[]) {
  const names = catalog.map((plan) => plan.name);
  return z.strictObject({
    plan: z.string().check(z.refine((name) => names.includes(name), `Must be one of ${names.join(', ')}`)),
  });
}

export const executionParams = z.strictObject({
  executionId: z.string().check(z.regex(EXECUTION_NAME, 'Must be plan- followed by 40 lower-case hex digits')),
});

const STATUSES: Record<string, PlanChangeStatus> = {
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  TIMED_OUT: 'TIMED_OUT',
  ABORTED: 'ABORTED',
  // A failed execution that may still be redriven: failed, as far as the client is concerned.
  PENDING_REDRIVE: 'FAILED',
};

/** The plan-change state machine through the Step Functions API. */
export class SfnPlanChangeWorkflow implements PlanChangeWorkflow {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient,
  ) {}

  /** `arn:…:stateMachine:<machine>` → `arn:…:execution:<machine>:<name>`. */
  executionArn(name: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  start(name: string, input: PlanChangeInput): Promise<boolean> {
    return startExecution(this.client, { stateMachineArn: this.stateMachineArn, name, input });
  }

  async describe(name: string): Promise<PlanChangeExecution | undefined> {
    const described = this.client.send(new DescribeExecutionCommand({ executionArn: this.executionArn(name) }));
    const execution = await unless(isExecutionDoesNotExist, undefined, described);
    if (execution === undefined) return undefined;
    return {
      name,
      status: STATUSES[execution.status ?? ''] ?? 'FAILED',
      startedAt: (execution.startDate ?? new Date(0)).toISOString(),
      ...(execution.stopDate ? { stoppedAt: execution.stopDate.toISOString() } : {}),
      ...(execution.input !== undefined ? { input: execution.input } : {}),
      ...(execution.output !== undefined ? { output: execution.output } : {}),
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
    };
  }
}

export interface PlanRouteDeps {
  accounts: AccountStore;
  workflow: PlanChangeWorkflow;
  catalog: readonly Plan[];
}

export function planRoutes(deps: PlanRouteDeps): Routes {
  const bodySchema = planChangeBody(deps.catalog);

  /**
   * The signed-in user, from the ID token alone (accountCaller): plan changes are account management, so a customer
   * who has used up the quota can still upgrade. The account is read at most once.
   */
  const authorize = (event: APIGatewayProxyEvent): { caller: { userId: string }; accounts: AccountStore } => {
    const { accounts, ...caller } = accountCaller(event, deps.accounts);
    return { caller, accounts };
  };

  return {
    'POST /me/plan': async ({ event, requestId }) => {
      const { caller, accounts } = authorize(event);
      const { plan } = parseBody(event, bodySchema);
      const key = idempotencyKeyOf(event) ?? requestId;
      const accepted = await requestPlanChange({ accounts, workflow: deps.workflow }, caller.userId, plan, key);
      const self = `/me/plan-changes/${accepted.executionId}`;
      return json(
        202,
        { ...accepted, links: { self } },
        { Location: locationOf(event, self), 'Cache-Control': 'no-store' },
      );
    },

    'GET /me/plan-changes/{executionId}': async ({ event }) => {
      const { caller, accounts } = authorize(event);
      const { executionId } = parseParams(event.pathParameters, executionParams, 'path');
      const view = await getPlanChange({ accounts, workflow: deps.workflow }, caller.userId, executionId);
      return json(200, view, { 'Cache-Control': 'no-store' });
    },
  };
}

const sfn = new SFNClient({ maxAttempts: 3 });

export const routes = planRoutes({
  accounts: new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE')),
  workflow: new SfnPlanChangeWorkflow(requireEnv('PLAN_CHANGE_STATE_MACHINE_ARN'), sfn),
  catalog: planCatalog(),
});

export const handler = createApiHandler(routes);
