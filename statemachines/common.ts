/**
 * What the Tollgate workflows share: the tables and the plan table as the template's DefinitionSubstitutions name
 * them (template.yaml), the account key and the execution's own fields.
 */
import { S } from './asl.ts';

export const ACCOUNTS = '${AccountsTable}';
export const BILLING = '${BillingTable}';
/** The key of an account (and the partition key of its billing entries): the user's sub, from the input. */
export const USER = { userId: S('$.userId') };
/** The execution's start: fixed for the execution's life, re-runs and re-drives included. */
export const NOW = S('$$.Execution.StartTime');
export const EXECUTION_ID = S('$$.Execution.Id');
/** A caught error (at `$.error`) as an account's failureReason: `<Error>: <Cause>`. */
export const FAILURE_REASON = S("States.Format('{}: {}', $.error.Error, $.error.Cause)");

/** Each plan's usage plan id and monthly price. */
export const PLANS = [
  { plan: 'free', usagePlanId: '${FreeUsagePlanId}', monthlyPrice: '${FreeMonthlyPrice}' },
  { plan: 'basic', usagePlanId: '${BasicUsagePlanId}', monthlyPrice: '${BasicMonthlyPrice}' },
  { plan: 'pro', usagePlanId: '${ProUsagePlanId}', monthlyPrice: '${ProMonthlyPrice}' },
] as const;
