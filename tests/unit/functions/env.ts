/**
 * The environment the handlers read at module load, set once for every unit test: jest's `setupFiles` (jest.config.js,
 * unit project) runs this before a test file's imports, so test files import handlers like any module, and import
 * the values below when they assert on them.
 */
export const ACCOUNTS_TABLE = 'tollgate-test-accounts';
export const RESOURCES_TABLE = 'tollgate-test-resources';
export const BILLING_TABLE = 'tollgate-test-billing';
export const IDEMPOTENCY_TABLE = 'tollgate-test-idempotency';
export const KEY_OWNERS_TABLE = 'tollgate-test-key-owners';
export const USER_POOL_ID = 'us-east-1_EXAMPLE1';
/** The app clients whose ID tokens the data API accepts (the template's `!Sub '${UserPoolClient},${ServerUserPoolClient}'`). */
export const USER_POOL_CLIENT_IDS = '4examplewebclient00000000,5exampleserverclient000000';
export const USAGE_PLAN_NAME_PREFIX = 'tollgate-';
export const AUTH_CLIENT_ID = '5exampleserverclient000000';
export const AUTH_CLIENT_SECRET = 'EXAMPLE-CLIENT-SECRET-1q2w3e4r5t6y7u8i9o0p';
export const ONBOARDING_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-onboarding';
export const PLAN_CHANGE_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-plan-change';
export const OFFBOARDING_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-offboarding';
export const KEY_RETIREMENT_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-key-retirement';

/** The template's default catalogue (Globals.PLAN_CATALOG with the parameter defaults). */
export const PLAN_CATALOG = [
  { name: 'free', monthlyPrice: 0, rateLimit: 5, burstLimit: 10, quotaLimit: 1000, quotaPeriod: 'MONTH' },
  { name: 'basic', monthlyPrice: 19, rateLimit: 25, burstLimit: 50, quotaLimit: 100000, quotaPeriod: 'MONTH' },
  { name: 'pro', monthlyPrice: 99, rateLimit: 100, burstLimit: 200, quotaLimit: 1000000, quotaPeriod: 'MONTH' },
];

Object.assign(process.env, {
  DATA_API_AUTH: 'IdTokenAndApiKey',
  ACCOUNTS_TABLE,
  RESOURCES_TABLE,
  BILLING_TABLE,
  IDEMPOTENCY_TABLE,
  KEY_OWNERS_TABLE,
  USER_POOL_ID,
  USER_POOL_CLIENT_IDS,
  USAGE_PLAN_NAME_PREFIX,
  AUTH_CLIENT_ID,
  AUTH_CLIENT_SECRET,
  ONBOARDING_STATE_MACHINE_ARN,
  PLAN_CHANGE_STATE_MACHINE_ARN,
  OFFBOARDING_STATE_MACHINE_ARN,
  KEY_RETIREMENT_STATE_MACHINE_ARN,
  PLAN_CATALOG: JSON.stringify(PLAN_CATALOG),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  // Quiet by default; tests that inspect the logs raise the level themselves.
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
