/**
 * What the Tollgate workflows share: the tables and the plan table as the template's DefinitionSubstitutions name
 * them (template.yaml), the account key and the execution's own fields.
 */
import { S, apiKeyFunctionRetries, invoke, retry, type State, type TaskOptions } from './asl.ts';

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

/**
 * After a key's deletion in API Gateway: its KeyOwners record retired, with its TTL, by ApiKeyFunction's `retire-owner`
 * (functions/api-key/key-owner.ts; the TTL is epoch seconds, which no JSONPath intrinsic can compute from a time).
 * Ids only in and out; the answer is dropped. Safe to repeat.
 */
export const retireKeyOwner = (userIdPath: string, keyIdPath: string, o: TaskOptions): State =>
  invoke(
    '${ApiKeyFunctionArn}',
    { action: 'retire-owner', userId: userIdPath, keyId: keyIdPath },
    [...apiKeyFunctionRetries(), retry(['ApiKey.KeyOwnerNotRecorded'])],
    { ResultPath: null, ...o },
  );
