import * as z from 'zod/mini';
import type { AccountView, Deletion } from '../account/me.ts';
import type { ApiKeyView, BillingView, RotationResponse, UsageView } from '../account/domain.ts';
import type { PlanChangeAccepted, PlanChangeView } from '../account/plan-change.ts';
import type { SelfIssuedKeyView, SelfIssuedRotation } from '../account/self-issued.ts';
import type { SignUpResult, Tokens } from '../auth/domain.ts';
import type { AccountStatus } from '../shared/accounts.ts';
import type { Statement } from '../shared/billing.ts';
import { planSchema, QUOTA_PERIODS, type Plan } from '../shared/plans.ts';
import type { Link, Tag, TagLink } from '../shared/tables/resources.ts';
import type { ClosedEntry, StatementEntry } from '../statement/domain.ts';

/**
 * What every route answers, as zod schemas: the API reference's response bodies (functions/openapi/document.ts turns
 * them into JSON Schema, output side) and what tests/integration/openapi-responses.test.ts validates each real answer
 * of the offline stack against. Objects are strict (`additionalProperties: false`), so a field a handler adds or drops
 * fails that test. The handlers' own answer types are checked equal to these schemas' types at compile time (the
 * `Same<…>` lines at the end: `npm run typecheck` fails when one side changes without the other); the plan catalogue's
 * shape is the handler's own schema (shared/plans.ts `planSchema`).
 *
 * The error bodies: the functions' (shared/http.ts `errorResponse`: `message`, `code`, `requestId`, with `details` and,
 * on a 503 with a delay, `retryAfterSeconds`) and API Gateway's own (`{"message": …}`, its default gateway responses:
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
 */

const dateTime = z.iso.datetime();
const day = z.iso.date();

// ---------------------------------------------------------------------------------------------------- errors

export const errorBody = z.strictObject({
  message: z.string(),
  code: z.string(),
  details: z.optional(z.record(z.string(), z.unknown())),
  requestId: z.string(),
  retryAfterSeconds: z.optional(z.int()),
});

export const gatewayErrorBody = z.strictObject({ message: z.string() });

// ---------------------------------------------------------------------------------------------------- public

export const healthResponse = z.strictObject({ status: z.literal('ok'), time: dateTime });

const plan = z.strictObject({ ...planSchema.shape, currency: z.literal('USD') });
export const plansResponse = z.strictObject({ plans: z.array(plan) });

// ---------------------------------------------------------------------------------------------------- auth

export const signUpResponse = z.strictObject({
  userSub: z.string(),
  userConfirmed: z.boolean(),
  codeDelivery: z.nullable(
    z.strictObject({ destination: z.optional(z.string()), deliveryMedium: z.optional(z.string()), attributeName: z.optional(z.string()) }),
  ),
});

export const tokensResponse = z.strictObject({
  idToken: z.string(),
  accessToken: z.string(),
  refreshToken: z.optional(z.string()),
  expiresIn: z.int(),
  tokenType: z.string(),
  username: z.string(),
});

export const confirmedResponse = z.strictObject({ confirmed: z.literal(true), message: z.string() });
export const signedOutResponse = z.strictObject({ signedOut: z.literal(true), message: z.string() });
export const messageResponse = z.strictObject({ message: z.string() });

// ---------------------------------------------------------------------------------------------------- data API

export const linkResponse = z.strictObject({ id: z.uuid(), url: z.string(), title: z.optional(z.string()), createdAt: dateTime });
export const tagResponse = z.strictObject({ id: z.uuid(), name: z.string(), createdAt: dateTime });
export const tagLinkResponse = z.strictObject({ tagId: z.uuid(), linkId: z.uuid(), createdAt: dateTime });

/** A list answer (shared/pagination.ts `pageBody`): a page of items, `nextToken` when there is more. */
function pageResponse<T extends z.ZodMiniType>(item: T) {
  return z.strictObject({ items: z.array(item), nextToken: z.optional(z.string()) });
}
export const linkPageResponse = pageResponse(linkResponse);
export const tagPageResponse = pageResponse(tagResponse);

// ---------------------------------------------------------------------------------------------------- account

const ACCOUNT_STATUSES = ['ONBOARDING', 'ACTIVE', 'FAILED', 'CLOSING', 'CLOSED'] as const satisfies readonly AccountStatus[];

export const accountResponse = z.strictObject({
  email: z.optional(z.string()),
  plan: z.optional(z.string()),
  status: z.enum(ACCOUNT_STATUSES),
  apiKeyId: z.optional(z.string()),
  createdAt: z.optional(dateTime),
  updatedAt: z.optional(dateTime),
  failureReason: z.optional(z.string()),
  keySuspendedAt: z.optional(dateTime),
});

export const deletionResponse = z.strictObject({ status: z.literal('CLOSING'), executionName: z.string(), message: z.string() });

/** KeyMode ApiGateway's key (account/domain.ts `getApiKey`). */
const apiGatewayKey = z.strictObject({
  id: z.string(),
  plan: z.string(),
  value: z.optional(z.string()),
  createdAt: z.optional(dateTime),
  previous: z.optional(z.strictObject({ expiresAt: dateTime, createdAt: z.optional(dateTime) })),
});
/** KeyMode SelfIssued's key (account/self-issued.ts `selfIssuedKeyView`): never the value. */
const selfIssuedKey = z.strictObject({
  id: z.string(),
  plan: z.string(),
  issued: z.boolean(),
  hint: z.optional(z.string()),
  createdAt: z.optional(dateTime),
});
export const apiKeyResponse = z.union([apiGatewayKey, selfIssuedKey]);

const apiGatewayRotation = z.strictObject({
  id: z.string(),
  value: z.string(),
  previousKeyId: z.string(),
  quotaCarriedOver: z.int(),
  previousKeyExpiresAt: z.optional(dateTime),
});
const selfIssuedRotation = z.strictObject({ id: z.string(), value: z.string(), previousKeyId: z.string(), plan: z.string() });
export const rotationResponse = z.union([apiGatewayRotation, selfIssuedRotation]);

export const usageResponse = z.strictObject({
  keyId: z.string(),
  plan: z.string(),
  from: day,
  to: day,
  days: z.array(z.strictObject({ date: day, used: z.int() })),
  quota: z.strictObject({
    limit: z.int(),
    period: z.enum(QUOTA_PERIODS),
    /** The period's first day (YYYY-MM-DD, UTC; account/domain.ts quotaPeriodStart), while `resetsAt` is an instant. */
    periodStart: day,
    resetsAt: dateTime,
    used: z.int(),
    remaining: z.int(),
  }),
});

const statementFields = {
  period: z.string(),
  periodStart: dateTime,
  periodEnd: dateTime,
  lines: z.array(
    z.strictObject({ plan: z.string(), from: dateTime, to: dateTime, seconds: z.int(), monthlyPrice: z.number(), amountCents: z.int() }),
  ),
  totalCents: z.int(),
  currency: z.literal('USD'),
};
const statement = z.strictObject(statementFields);

/**
 * The ledger's entries as the Billing table holds them, less `userId` (shared/tables/billing.ts `ledgerEntry`): written
 * by the onboarding (PLAN_STARTED) and plan-change (PLAN_CHANGED) workflows (statemachines/*.ts, RecordPlan… states)
 * and the billing close (STATEMENT, ACCOUNT_CLOSED: functions/statement).
 */
const planStartedEntry = z.strictObject({
  entryId: z.string(),
  type: z.literal('PLAN_STARTED'),
  plan: z.string(),
  monthlyPrice: z.number(),
  currency: z.literal('USD'),
  effectiveAt: dateTime,
  executionId: z.string(),
});
const planChangedEntry = z.strictObject({
  entryId: z.string(),
  type: z.literal('PLAN_CHANGED'),
  fromPlan: z.string(),
  toPlan: z.string(),
  plan: z.string(),
  fromPrice: z.number(),
  toPrice: z.number(),
  monthlyPrice: z.number(),
  currency: z.literal('USD'),
  effectiveAt: dateTime,
  prorationBasis: z.literal('SECOND'),
  requestId: z.string(),
  executionId: z.string(),
});
const statementEntry = z.strictObject({ ...statementFields, entryId: z.string(), type: z.literal('STATEMENT'), requests: z.int(), createdAt: dateTime });
const closedEntry = z.strictObject({ entryId: z.string(), type: z.literal('ACCOUNT_CLOSED'), effectiveAt: dateTime, createdAt: dateTime });

const ledgerEntry = z.discriminatedUnion('type', [planStartedEntry, planChangedEntry, statementEntry, closedEntry]);

export const billingResponse = z.strictObject({
  ledger: z.array(ledgerEntry),
  nextToken: z.optional(z.string()),
  statement,
});

const PLAN_CHANGE_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const satisfies readonly PlanChangeView['status'][];

export const planChangeAcceptedResponse = z.strictObject({
  executionId: z.string(),
  status: z.enum(PLAN_CHANGE_STATUSES),
  plan: z.string(),
  links: z.strictObject({ self: z.string() }),
});

export const planChangeResponse = z.strictObject({
  executionId: z.string(),
  status: z.enum(PLAN_CHANGE_STATUSES),
  requestedPlan: z.string(),
  startedAt: dateTime,
  stoppedAt: z.optional(dateTime),
  outcome: z.optional(z.strictObject({ fromPlan: z.string(), toPlan: z.string(), effectiveAt: dateTime })),
  error: z.optional(z.strictObject({ code: z.string(), message: z.optional(z.string()) })),
});

// ---------------------------------------------------------------------------------------------------- names

/**
 * Every body schema by the name the document gives it (`#/components/schemas/<name>`, what a client generator names
 * its types after); a schema used inside another (Plan in PlanCatalog, Link in LinkPage) is referenced, not repeated.
 */
export const responseSchemas = z.registry<{ id: string }>();
for (const [id, schema] of Object.entries({
  Error: errorBody,
  GatewayError: gatewayErrorBody,
  Health: healthResponse,
  Plan: plan,
  PlanCatalog: plansResponse,
  SignUpResult: signUpResponse,
  Tokens: tokensResponse,
  Confirmed: confirmedResponse,
  SignedOut: signedOutResponse,
  Message: messageResponse,
  Link: linkResponse,
  LinkPage: linkPageResponse,
  Tag: tagResponse,
  TagPage: tagPageResponse,
  TagLink: tagLinkResponse,
  Account: accountResponse,
  Deletion: deletionResponse,
  ApiKey: apiKeyResponse,
  ApiGatewayKey: apiGatewayKey,
  SelfIssuedKey: selfIssuedKey,
  Rotation: rotationResponse,
  ApiGatewayRotation: apiGatewayRotation,
  SelfIssuedRotation: selfIssuedRotation,
  Usage: usageResponse,
  Statement: statement,
  LedgerEntry: ledgerEntry,
  Billing: billingResponse,
  PlanChangeAccepted: planChangeAcceptedResponse,
  PlanChange: planChangeResponse,
})) {
  responseSchemas.add(schema, { id });
}

// ---------------------------------------------------------------------------------------------------- the handlers' types

type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Every field's path (`quota.used`, `previous.createdAt`), optional ones too: assignability alone misses those. */
type Paths<T> = T extends readonly (infer E)[]
  ? Paths<E>
  : T extends object
    ? { [K in keyof T & string]-?: K | `${K}.${Paths<NonNullable<T[K]>>}` }[keyof T & string]
    : never;
/** `true` when A and B are assignable both ways and name the same fields at every depth. */
type Same<A, B> = Mutual<A, B> extends true ? Mutual<Paths<A>, Paths<B>> : false;
type Out<S extends z.ZodMiniType> = z.output<S>;

/**
 * Each line fails to compile when a handler's answer type and its schema here disagree: the fix is to change both (and
 * the example in operations.ts). The ledger's workflow-written entries have no TypeScript type (the workflows are
 * ASL); the integration test checks real ones.
 */
export const handlerTypesMatch: Record<string, true> = {
  plan: true satisfies Same<Out<typeof plan>, Plan>,
  signUp: true satisfies Same<Out<typeof signUpResponse>, SignUpResult>,
  tokens: true satisfies Same<Out<typeof tokensResponse>, Tokens>,
  link: true satisfies Same<Out<typeof linkResponse>, Link>,
  tag: true satisfies Same<Out<typeof tagResponse>, Tag>,
  tagLink: true satisfies Same<Out<typeof tagLinkResponse>, TagLink>,
  account: true satisfies Same<Out<typeof accountResponse>, AccountView>,
  deletion: true satisfies Same<Out<typeof deletionResponse>, Deletion>,
  apiGatewayKey: true satisfies Same<Out<typeof apiGatewayKey>, ApiKeyView>,
  selfIssuedKey: true satisfies Same<Out<typeof selfIssuedKey>, SelfIssuedKeyView>,
  apiGatewayRotation: true satisfies Same<Out<typeof apiGatewayRotation>, RotationResponse>,
  selfIssuedRotation: true satisfies Same<Out<typeof selfIssuedRotation>, SelfIssuedRotation>,
  usage: true satisfies Same<Out<typeof usageResponse>, UsageView>,
  statement: true satisfies Same<Out<typeof statement>, Statement>,
  statementEntry: true satisfies Same<Out<typeof statementEntry>, Omit<StatementEntry, 'userId'>>,
  closedEntry: true satisfies Same<Out<typeof closedEntry>, Omit<ClosedEntry, 'userId'>>,
  billing: true satisfies Same<Omit<Out<typeof billingResponse>, 'ledger' | 'nextToken'>, Omit<BillingView, 'ledger' | 'cursor'>>,
  planChangeAccepted: true satisfies Same<Omit<Out<typeof planChangeAcceptedResponse>, 'links'>, PlanChangeAccepted>,
  planChange: true satisfies Same<Out<typeof planChangeResponse>, PlanChangeView>,
};
