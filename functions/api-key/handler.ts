import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeysCommand,
  GetUsageCommand,
  UpdateUsageCommand,
} from '@aws-sdk/client-api-gateway';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { dayKey, quotaPeriodStart } from '#shared/dates';
import { errorName } from '#shared/aws-errors';
import { TaskError } from '#shared/errors';
import { findPlan, planCatalog } from '#shared/plans';
import { DynamoAccountStore, DynamoUsageHistory } from '#shared/tables/accounts';
import { USAGE_READ_DAYS, mergeDays, segmentOf, segmentsOf, type UsageHistory } from '#shared/usage-history';
import { keyModeFrom } from '#shared/key-mode';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { INVALID_EVENT, USAGE_NOT_RECORDED, apiGatewayTaskError } from './errors.ts';
import { recordOwner, retireOwner, type RetiredOwner } from './key-owner.ts';
import { findOrCreateSlot, movePlan } from './self-issued.ts';

/**
 * The workflows' API key task (onboarding, plan change; `arn:aws:states:::lambda:invoke`), two actions:
 *   {action: "find-or-create", userId}           → {Id}: the key named by the user's sub, created (enabled, tagged
 *        `tollgate:userId`) only when none exists, so a repeat or a re-drive reuses the key an earlier try made; its
 *        owner is recorded in the KeyOwners table before the id is answered, so before it joins a plan (a repeat
 *        records it again, changing nothing)
 *   {action: "attach", usagePlanId, keyId}       → {UsagePlanId, KeyId}: CreateUsagePlanKey (API_KEY)
 *   {action: "attach", usagePlanId, keyId, userId, plan}: the same (a key already in the plan counts as attached),
 *        then the quota carried over: the plan's `remaining` (UpdateUsage) set to its limit minus what the account
 *        used in the plan's current quota period with every key and plan (its usage history + this plan's own count)
 *   {action: "record-usage", userId, usagePlanId, keyId, segmentId} → {Days}: the key's daily usage in the plan (the
 *        last 92 days), kept in the account's usage history under `segmentId` before the key leaves the plan; safe
 *        to repeat; a key no longer in the plan has nothing left to read ({Days: 0})
 *   {action: "retire-owner", userId, keyId}      → {Retired}: after the key's deletion, its KeyOwners record retired
 *        with its TTL (./key-owner.ts)
 *
 * Why a function and not the `aws-sdk:apigateway:*` integrations: CreateApiKey's answer holds the key's `value`, and
 * so does CreateUsagePlanKey's (API reference: UsagePlanKey.value). Step Functions Standard keeps every task's raw
 * result in the execution history (`TaskSucceeded.output`) for 90 days whatever ResultSelector or ResultPath say, so a
 * direct call would put the key in front of anyone allowed `states:GetExecutionHistory`. Here the answer is reduced
 * to ids before it leaves the function; nothing here logs a response. GetApiKeys is called with includeValues=false
 * spelled out (the API reference, https://docs.aws.amazon.com/apigateway/latest/api/API_GetApiKeys.html, names the flag
 * but states no default; without it AWS answers without values, and the call does not rely on that).
 *
 * KeyMode SelfIssued (`KEY_MODE`): the same actions over the SelfIssuedKeys table, without API Gateway (./self-issued.ts).
 *
 * Errors: API Gateway's as `ApiGateway.<Error>Exception` (see ./errors.ts), so Retry/Catch read as for the direct
 * integration; a malformed event is `ApiKey.InvalidEvent`. The SDK does not retry (maxAttempts 1): the workflow's
 * Retry fields decide, with CreateApiKey's own budget for AWS's 5 requests/s limit.
 */

const apigateway = new APIGatewayClient({
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
});

const KEY_DESCRIPTION = 'Tollgate API key';
/** API Gateway ids: 10 lower-case letters and digits. */
const id = z.string().check(z.regex(/^[a-z0-9]{1,64}$/));

const userIdSchema = z.string().check(z.minLength(1), z.maxLength(128));
const findOrCreateEvent = z.object({ action: z.literal('find-or-create'), userId: userIdSchema });
const attachEvent = z.object({
  action: z.literal('attach'),
  usagePlanId: id,
  keyId: id,
  userId: z.optional(userIdSchema),
  plan: z.optional(z.string().check(z.minLength(1))),
});
const recordUsageEvent = z.object({
  action: z.literal('record-usage'),
  userId: userIdSchema,
  usagePlanId: id,
  keyId: id,
  segmentId: z.string().check(z.minLength(1), z.maxLength(256)),
});
const retireOwnerEvent = z.object({ action: z.literal('retire-owner'), userId: userIdSchema, keyId: id });
export const apiKeyEvent = z.discriminatedUnion('action', [findOrCreateEvent, attachEvent, recordUsageEvent, retireOwnerEvent]);
export type ApiKeyEvent = z.output<typeof apiKeyEvent>;

export interface FoundOrCreated {
  Id: string;
}
export interface Attached {
  UsagePlanId: string;
  KeyId: string;
  /** With `userId`: the requests of the period counted as used in the new plan (0: none, no UpdateUsage). */
  QuotaCarriedOver?: number;
}
export interface Recorded {
  /** Days with requests kept in the segment. */
  Days: number;
}

async function call<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error: unknown) {
    throw apiGatewayTaskError(error);
  }
}

/**
 * The id of the key named `userId` (the oldest if there were ever two), creating it when there is none; its owner
 * recorded (recordOwner) before the id is answered.
 */
export async function findOrCreateKey(userId: string): Promise<FoundOrCreated> {
  const found = await findOrCreate(userId);
  await recordOwner(userId, found.Id);
  return found;
}

async function findOrCreate(userId: string): Promise<FoundOrCreated> {
  // nameQuery matches by prefix: keep exact names only. A user has one key, so one page is plenty.
  const found = await call(() => apigateway.send(new GetApiKeysCommand({ nameQuery: userId, includeValues: false, limit: 500 })));
  const own = (found.items ?? []).filter((k) => k.name === userId && k.id);
  if (own.length > 0) {
    own.sort((a, b) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0));
    if (own.length > 1) logger.warn('More than one key carries this user name; reusing the oldest', { keyIds: own.map((k) => k.id) });
    logger.info('Reusing the existing key', { keyId: own[0]!.id });
    return { Id: own[0]!.id! };
  }
  const created = await call(() =>
    apigateway.send(new CreateApiKeyCommand({ name: userId, description: KEY_DESCRIPTION, enabled: true, tags: { 'tollgate:userId': userId } })),
  );
  if (!created.id) throw new TaskError('ApiGateway.ApiGatewayException', 'CreateApiKey answered without an id');
  logger.info('Key created', { keyId: created.id });
  return { Id: created.id };
}

// Created on first use: onboarding's find-or-create needs neither the Accounts table nor the catalogue.
let accountStore: DynamoAccountStore | undefined;
let usageHistory: DynamoUsageHistory | undefined;
const accounts = (): DynamoAccountStore => (accountStore ??= new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE')));
const history = (): DynamoUsageHistory => (usageHistory ??= new DynamoUsageHistory(requireEnv('ACCOUNTS_TABLE')));

/** A DynamoDB call of the usage history, its failure named for the workflow's Retry. */
async function store<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error: unknown) {
    throw new TaskError(USAGE_NOT_RECORDED, `Usage history: ${errorName(error)}`);
  }
}

/** The key's `used` per day in the plan, `from`..`to`: GetUsage with the key id (404 once the key is not in the plan). */
async function usedPerDay(usagePlanId: string, keyId: string, from: string, to: string): Promise<number[]> {
  const { items } = await call(() => apigateway.send(new GetUsageCommand({ usagePlanId, keyId, startDate: from, endDate: to })));
  return (items?.[keyId] ?? []).map(([used]) => used ?? 0);
}

const DAY_MS = 86_400_000;

/**
 * Before a key leaves a usage plan: its daily usage there (last USAGE_READ_DAYS days) kept in the account's usage
 * history as segment `segmentId`, since GetUsage no longer reports a key once it is out of the plan.
 */
export async function recordUsage(userId: string, usagePlanId: string, keyId: string, segmentId: string, now = new Date()): Promise<Recorded> {
  const from = dayKey(now.getTime() - (USAGE_READ_DAYS - 1) * DAY_MS);
  let used: number[];
  try {
    used = await usedPerDay(usagePlanId, keyId, from, dayKey(now));
  } catch (error: unknown) {
    if (error instanceof TaskError && error.name === 'ApiGateway.NotFoundException') return { Days: 0 }; // left already
    throw error;
  }
  const account = (await store(() => accounts().get(userId))) as { usageHistory?: UsageHistory } | undefined;
  const segment = segmentOf({ keyId, usagePlanId, from, used }, now);
  await store(() => history().record(userId, segmentId, segment, account?.usageHistory, now));
  logger.info('Usage recorded', { usagePlanId, keyId, segmentId, days: Object.keys(segment.days).length });
  return { Days: Object.keys(segment.days).length };
}

/**
 * After a key joined the plan `plan` (catalogue name) for a plan change: the account's requests in the plan's current
 * quota period (usage history merged with the key's own count in this plan) set as used, through UpdateUsage
 * `replace /remaining` = max(0, limit − used). Answers the count carried over.
 */
async function carryQuotaOver(userId: string, plan: string, usagePlanId: string, keyId: string, now = new Date()): Promise<number> {
  const spec = findPlan(planCatalog(), plan);
  if (!spec) throw new TaskError(INVALID_EVENT, `Plan ${plan} is not in PLAN_CATALOG`);
  const from = quotaPeriodStart(spec.quotaPeriod, now);
  const today = dayKey(now);
  const live = await usedPerDay(usagePlanId, keyId, from, today);
  const account = await store(() => accounts().get(userId));
  const used = mergeDays(segmentsOf(account), [{ keyId, usagePlanId, from, used: live }], from, today).reduce((a, b) => a + b, 0);
  if (used > 0) {
    const remaining = String(Math.max(0, spec.quotaLimit - used));
    await call(() =>
      apigateway.send(new UpdateUsageCommand({ usagePlanId, keyId, patchOperations: [{ op: 'replace', path: '/remaining', value: remaining }] })),
    );
  }
  return used;
}

export async function attachKey(usagePlanId: string, keyId: string, carry?: { userId: string; plan: string }): Promise<Attached> {
  try {
    await call(() => apigateway.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' })));
    logger.info('Key attached', { usagePlanId, keyId });
  } catch (error: unknown) {
    // A retry after the attach but before the carry-over: the key is in the plan, the carry-over still to do.
    if (!(carry && error instanceof TaskError && error.name === 'ApiGateway.ConflictException')) throw error;
  }
  if (!carry) return { UsagePlanId: usagePlanId, KeyId: keyId };
  const carried = await carryQuotaOver(carry.userId, carry.plan, usagePlanId, keyId);
  logger.info('Quota carried over', { usagePlanId, keyId, quotaCarriedOver: carried });
  return { UsagePlanId: usagePlanId, KeyId: keyId, QuotaCarriedOver: carried };
}

let selfIssuedStore: SelfIssuedKeysStore | undefined;
const selfIssued = (): SelfIssuedKeysStore => (selfIssuedStore ??= selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE')));

export async function handleApiKeyTask(event: unknown, _context: Context): Promise<FoundOrCreated | Attached | Recorded | RetiredOwner> {
  const parsed = apiKeyEvent.safeParse(event);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(event)').join(', ');
    throw new TaskError(INVALID_EVENT, `Malformed event: ${fields}`);
  }
  const e = parsed.data;
  if (keyModeFrom(process.env.KEY_MODE) === 'SelfIssued') {
    switch (e.action) {
      case 'find-or-create':
        return findOrCreateSlot(selfIssued(), e.userId);
      case 'attach':
        if (e.userId !== undefined && e.plan !== undefined) await movePlan(selfIssued(), e.userId, e.plan);
        return { UsagePlanId: e.usagePlanId, KeyId: e.keyId };
      case 'record-usage':
        return { Days: 0 };
      case 'retire-owner':
        return { Retired: false };
    }
  }
  switch (e.action) {
    case 'find-or-create':
      return findOrCreateKey(e.userId);
    case 'attach':
      return attachKey(e.usagePlanId, e.keyId, e.userId !== undefined && e.plan !== undefined ? { userId: e.userId, plan: e.plan } : undefined);
    case 'record-usage':
      return recordUsage(e.userId, e.usagePlanId, e.keyId, e.segmentId);
    case 'retire-owner':
      return retireOwner(e.userId, e.keyId);
  }
}

export const handler = withLambda(handleApiKeyTask, (event) => {
  const userId = (event as { userId?: unknown } | null)?.userId;
  return typeof userId === 'string' ? userId : undefined;
});
