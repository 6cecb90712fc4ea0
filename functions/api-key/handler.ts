import { APIGatewayClient, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { TaskError } from '#shared/errors';
import { INVALID_EVENT, apiGatewayTaskError } from './errors.ts';

/**
 * The workflows' API key task (onboarding, plan change; `arn:aws:states:::lambda:invoke`), two actions:
 *   {action: "find-or-create", userId}           → {Id}: the key named by the user's sub, created (enabled, tagged
 *        `tollgate:userId`) only when none exists, so a repeat or a re-drive reuses the key an earlier try made
 *   {action: "attach", usagePlanId, keyId}       → {UsagePlanId, KeyId}: CreateUsagePlanKey (API_KEY)
 *
 * Why a function and not the `aws-sdk:apigateway:*` integrations: CreateApiKey's answer holds the key's `value`, and
 * so does CreateUsagePlanKey's (API reference: UsagePlanKey.value). Step Functions Standard keeps every task's raw
 * result in the execution history (`TaskSucceeded.output`) for 90 days whatever ResultSelector or ResultPath say, so a
 * direct call would put the key in front of anyone allowed `states:GetExecutionHistory`. Here the answer is reduced
 * to ids before it leaves the function; nothing here logs a response. GetApiKeys is called with includeValues=false
 * spelled out (the API reference, https://docs.aws.amazon.com/apigateway/latest/api/API_GetApiKeys.html, names the flag
 * but states no default; without it AWS answers without values, and the call does not rely on that).
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

const findOrCreateEvent = z.object({
  action: z.literal('find-or-create'),
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
});
const attachEvent = z.object({ action: z.literal('attach'), usagePlanId: id, keyId: id });
export const apiKeyEvent = z.discriminatedUnion('action', [findOrCreateEvent, attachEvent]);
export type ApiKeyEvent = z.output<typeof apiKeyEvent>;

export interface FoundOrCreated {
  Id: string;
}
export interface Attached {
  UsagePlanId: string;
  KeyId: string;
}

async function call<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error: unknown) {
    throw apiGatewayTaskError(error);
  }
}

/** The id of the key named `userId` (the oldest if there were ever two), creating it when there is none. */
export async function findOrCreateKey(userId: string): Promise<FoundOrCreated> {
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

export async function attachKey(usagePlanId: string, keyId: string): Promise<Attached> {
  await call(() => apigateway.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' })));
  logger.info('Key attached', { usagePlanId, keyId });
  return { UsagePlanId: usagePlanId, KeyId: keyId };
}

export async function handleApiKeyTask(event: unknown, _context: Context): Promise<FoundOrCreated | Attached> {
  const parsed = apiKeyEvent.safeParse(event);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(event)').join(', ');
    throw new TaskError(INVALID_EVENT, `Malformed event: ${fields}`);
  }
  const e = parsed.data;
  return e.action === 'find-or-create' ? findOrCreateKey(e.userId) : attachKey(e.usagePlanId, e.keyId);
}

export const handler = withLambda(handleApiKeyTask, (event) => {
  const userId = (event as { userId?: unknown } | null)?.userId;
  return typeof userId === 'string' ? userId : undefined;
});
