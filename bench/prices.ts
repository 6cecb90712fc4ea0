/**
 * AWS list prices the cost model uses (US East, N. Virginia; no free tier, no Savings Plans). Each figure names the
 * page it was read from and what that page showed. They were looked up in stored copies of public pages on
 * 2026-11-23; `confirmed: false` means no AWS-owned page in those copies showed the figure itself (it comes from a
 * third-party page that quotes AWS) — check it against the live AWS page before relying on it.
 */
export interface Price {
  usd: number;
  unit: string;
  source: string;
  seen: string;
  confirmed: boolean;
  note?: string;
}

/** Step Functions Standard: per state transition (retries are billed as transitions too). */
export const STEP_FUNCTIONS_PER_1000_TRANSITIONS: Price = {
  usd: 0.025,
  unit: 'per 1,000 state transitions',
  source: 'https://aws.amazon.com/step-functions/pricing/',
  seen: 'stored copy (no date on the page), retrieved 2026-11-23: "US East (N. Virginia) $0.0250" per 1,000 state transitions',
  confirmed: true,
  note: '"each retry will be charged as an additional state transition"; free tier 4,000 transitions/month not applied',
};

/** DynamoDB on-demand, Standard table class: write request units. */
export const DYNAMODB_PER_MILLION_WRU: Price = {
  usd: 0.625,
  unit: 'per million write request units',
  source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
  seen: 'page dated 2025-07-21: "Write Request Units (WRU): $0.625 per million" (US East, after the November 2024 50% cut)',
  confirmed: false,
  note: 'AWS\'s own page (https://aws.amazon.com/dynamodb/pricing/on-demand/) is stored with the unit definitions but not the figures',
};

/** DynamoDB on-demand, Standard table class: read request units (1 strongly consistent read of up to 4 KB). */
export const DYNAMODB_PER_MILLION_RRU: Price = {
  usd: 0.125,
  unit: 'per million read request units',
  source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
  seen: 'page dated 2025-07-21: "Read Request Units (RRU): $0.125 per million"',
  confirmed: false,
  note: 'as for WRU; 1 RRU = one strongly consistent read up to 4 KB, an eventually consistent one is 0.5 RRU',
};

/** Lambda on Arm (Graviton), first pricing tier: duration. */
export const LAMBDA_ARM_PER_GB_SECOND: Price = {
  usd: 0.0000133334,
  unit: 'per GB-second (Arm, first 7.5 billion GB-s/month)',
  source: 'https://cloudchipr.com/blog/aws-lambda-pricing',
  seen: 'stored copy ("Ultimate Guide 2024"), retrieved 2026-11-23: "ARM Pricing — First 7.5 Billion GB-seconds per month: $0.0000133334 per GB-second"',
  confirmed: false,
  note: 'the stored https://aws.amazon.com/lambda/pricing/ renders its rate table from tokens, without the figures; artillery\'s prices.js, which cites that page, has the same arm64 rate',
};

/** Lambda: requests (same for x86 and Arm). */
export const LAMBDA_PER_MILLION_REQUESTS: Price = {
  usd: 0.2,
  unit: 'per million requests',
  source: 'https://aws.amazon.com/lambda/pricing/ (via the api-evangelist transcript of that page, read 2026-09-20)',
  seen: '"$0.20 per million requests" (quoted there for Lambda Managed Instances; the same $0.20 in every third-party copy of the on-demand table)',
  confirmed: false,
};

/** API Gateway REST APIs: requests, first 333 million a month. */
export const API_GATEWAY_REST_PER_MILLION: Price = {
  usd: 3.5,
  unit: 'per million REST API calls (first 333 million/month)',
  source: 'https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html',
  seen: 'AWS whitepaper, Table 4, stored copy retrieved 2026-11-23: "First 333 million requests (per month): $3.50 (per million)"',
  confirmed: true,
  note: 'control-plane calls the workflows make (CreateApiKey, CreateUsagePlanKey, GetApiKeys, …) are management API calls, not billed API calls — an assumption, no page states it',
};

/** Cognito user pools, Essentials plan (the default for new pools): per monthly active user above the free tier. */
export const COGNITO_ESSENTIALS_PER_MAU: Price = {
  usd: 0.015,
  unit: 'per monthly active user (Essentials, above 10,000 free MAU)',
  source: 'https://aws.amazon.com/cognito/pricing/ (via the api-evangelist transcript of that page, read 2026-09-20)',
  seen: '"Essentials $0.015 per MAU … free tier of 10,000 monthly active user (MAU) per month per account"; Lite $0.0055',
  confirmed: false,
  note: 'a transcript of AWS\'s page (its tables render from tokens); a user who signs up is one MAU in that month',
};

export const ALL_PRICES: Record<string, Price> = {
  STEP_FUNCTIONS_PER_1000_TRANSITIONS,
  DYNAMODB_PER_MILLION_WRU,
  DYNAMODB_PER_MILLION_RRU,
  LAMBDA_ARM_PER_GB_SECOND,
  LAMBDA_PER_MILLION_REQUESTS,
  API_GATEWAY_REST_PER_MILLION,
  COGNITO_ESSENTIALS_PER_MAU,
};
