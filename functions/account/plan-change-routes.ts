import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import type { AccountStore } from '#shared/accounts';
import { accountCaller } from '#shared/caller';
import { json, parseBody, parseParams, type Routes } from '#shared/http';
import type { Plan } from '#shared/plans';
import {
  EXECUTION_NAME,
  getPlanChange,
  requestPlanChange,
  type PlanChangeWorkflow,
} from './plan-change.ts';
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
