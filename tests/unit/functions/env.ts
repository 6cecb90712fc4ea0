/**
 * Environment the handlers read at module load. Import this module FIRST in a test file, before any handler:
 * the esbuild CJS transform keeps import order, so these are set before the handler's `requireEnv` runs.
 */
export const ACCOUNTS_TABLE = 'tollgate-test-accounts';
export const RESOURCES_TABLE = 'tollgate-test-resources';

/** The template's default catalogue (Globals.PLAN_CATALOG with the parameter defaults). */
export const PLAN_CATALOG = [
  { name: 'free', monthlyPrice: 0, rateLimit: 5, burstLimit: 10, quotaLimit: 1000, quotaPeriod: 'MONTH' },
  { name: 'basic', monthlyPrice: 19, rateLimit: 25, burstLimit: 50, quotaLimit: 100000, quotaPeriod: 'MONTH' },
  { name: 'pro', monthlyPrice: 99, rateLimit: 100, burstLimit: 200, quotaLimit: 1000000, quotaPeriod: 'MONTH' },
];

process.env.ACCOUNTS_TABLE = ACCOUNTS_TABLE;
process.env.RESOURCES_TABLE = RESOURCES_TABLE;
process.env.PLAN_CATALOG = JSON.stringify(PLAN_CATALOG);
process.env.OFFBOARDING_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-offboarding';
// AccountFunction (every /me… route) reads these at load, whichever of its routes a test file exercises.
process.env.PLAN_CHANGE_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-plan-change';
process.env.BILLING_TABLE = 'tollgate-test-billing';
process.env.IDEMPOTENCY_TABLE = 'tollgate-test-idempotency';
process.env.USER_POOL_ID = 'us-east-1_EXAMPLE1';
process.env.USAGE_PLAN_NAME_PREFIX = 'tollgate-';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
// Quiet by default; tests that inspect the logs raise the level themselves.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
