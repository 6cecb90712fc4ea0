import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetUsageCommand,
  GetUsagePlansCommand,
  UpdateApiKeyCommand,
  UpdateUsageCommand,
} from '@aws-sdk/client-api-gateway';
import { AdminUpdateUserAttributesCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { DynamoAccountStore } from '#shared/accounts';
import type { LedgerEntry } from '#shared/billing';
import { ledgerEntry, readPlanEntries } from '#shared/ledger';
import { userFrom } from '#shared/caller';
import { documentClient, dynamodb } from '#shared/clients';
import { requireEnv } from '#shared/env';
import { BadRequestError, ConflictError } from '#shared/errors';
import { createApiHandler, json, parseBody, parseParams, type Routes } from '#shared/http';
import { encodeNextToken, listQuerySchema, pageRequest, type Cursor, type Page, type PageRequest } from '#shared/pagination';
import { planCatalog, readOnce, usagePlanLookup } from '#shared/plans';
import { DynamoUsageHistory } from '#shared/usage-history';
import { idempotencyKeyOf } from '../plan/request.ts';
import { KeyValueCache, PlanUsageCache, usageFreshnessMs } from './caches.ts';
import {
  finishRotation,
  getApiKey,
  getBilling,
  getUsage,
  rotateApiKey,
  type AccountDeps,
  type AccountKeyWriter,
  type ApiKeyDetails,
  type DailyUsage,
  type KeyService,
  type Ledger,
  type Rotation,
  type RotationInput,
  type UserDirectory,
} from './domain.ts';

/**
 * `GET /me/api-key`, `POST /me/api-key/rotate`, `GET /me/usage`, `GET /me/billing`: the caller's own key, usage and
 * billing. Responses carrying a key value are `Cache-Control: no-store`, and no value is ever logged.
 */

// ---------------------------------------------------------------------------------------------------- adapters

const isNotFound = (error: unknown): boolean => error instanceof Error && error.name === 'NotFoundException';

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error: unknown) {
    if (!isNotFound(error)) throw error;
  }
}

/** GetUsage's `[used, remaining]` for one day. */
const dailyUsage = ([used, remaining]: number[]): DailyUsage => ({
  used: used ?? 0,
  ...(remaining !== undefined ? { remaining } : {}),
});

/**
 * API keys, usage plan keys and usage through the API Gateway control plane. Key values go into `values` (memory of
 * this execution environment only): the value CreateApiKey answers with, and any GetApiKey, so a reveal right after a
 * rotation costs no management API call.
 */
export class ApiGatewayKeyService implements KeyService {
  constructor(
    private readonly client: APIGatewayClient,
    private readonly values: KeyValueCache = new KeyValueCache(),
  ) {}

  async getKey(id: string): Promise<ApiKeyDetails | undefined> {
    const cached = this.values.get(id);
    if (cached !== undefined) return { id, value: cached, enabled: true };
    try {
      const key = await this.client.send(new GetApiKeyCommand({ apiKey: id, includeValue: true }));
      if (key.value !== undefined && key.enabled) this.values.set(id, key.value);
      return {
        id: key.id ?? id,
        ...(key.value !== undefined ? { value: key.value } : {}),
        ...(key.name !== undefined ? { name: key.name } : {}),
        enabled: key.enabled ?? false,
        ...(key.createdDate ? { createdDate: key.createdDate.toISOString() } : {}),
      };
    } catch (error: unknown) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async createKey(name: string, tags: Record<string, string>): Promise<string> {
    // The response carries the value: only the id leaves this method.
    const { id, value } = await this.client.send(
      new CreateApiKeyCommand({ name, description: 'Tollgate API key', enabled: true, tags }),
    );
    if (!id) throw new Error('CreateApiKey answered without an id');
    if (value !== undefined) this.values.set(id, value);
    return id;
  }

  async attachKey(usagePlanId: string, keyId: string): Promise<void> {
    await this.client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' }));
  }

  async usage(usagePlanId: string, keyId: string, from: string, to: string): Promise<DailyUsage[]> {
    const { items } = await this.client.send(new GetUsageCommand({ usagePlanId, keyId, startDate: from, endDate: to }));
    return (items?.[keyId] ?? []).map(dailyUsage);
  }

  async planUsage(usagePlanId: string, from: string, to: string): Promise<Map<string, DailyUsage[]>> {
    const byKey = new Map<string, DailyUsage[]>();
    let position: string | undefined;
    do {
      const page = await this.client.send(
        new GetUsageCommand({ usagePlanId, startDate: from, endDate: to, limit: 500, ...(position ? { position } : {}) }),
      );
      for (const [keyId, days] of Object.entries(page.items ?? {})) byKey.set(keyId, days.map(dailyUsage));
      position = page.position;
    } while (position);
    return byKey;
  }

  async setRemaining(usagePlanId: string, keyId: string, remaining: number): Promise<void> {
    await this.client.send(
      new UpdateUsageCommand({
        usagePlanId,
        keyId,
        patchOperations: [{ op: 'replace', path: '/remaining', value: String(remaining) }],
      }),
    );
  }

  disableKey(id: string): Promise<void> {
    this.values.delete(id);
    return ignoreNotFound(
      this.client.send(
        new UpdateApiKeyCommand({ apiKey: id, patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }] }),
      ),
    );
  }

  detachKey(usagePlanId: string, keyId: string): Promise<void> {
    return ignoreNotFound(this.client.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId })));
  }

  deleteKey(id: string): Promise<void> {
    this.values.delete(id);
    return ignoreNotFound(this.client.send(new DeleteApiKeyCommand({ apiKey: id })));
  }
}

export class CognitoUserDirectory implements UserDirectory {
  constructor(
    private readonly userPoolId: string,
    private readonly client: CognitoIdentityProviderClient,
  ) {}

  async setApiKeyId(userId: string, keyId: string): Promise<void> {
    await this.client.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: this.userPoolId,
        Username: userId,
        UserAttributes: [{ Name: 'custom:apiid', Value: keyId }],
      }),
    );
  }
}

const isConditionFailed = (error: unknown): boolean => error instanceof Error && error.name === 'ConditionalCheckFailedException';

/** The rotation lock and the key swap: conditional single-item updates of the account (no transactions needed). */
export class DynamoAccountKeyWriter implements AccountKeyWriter {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async lockRotation(userId: string, fromKeyId: string, lockId: string, now: Date, until: Date): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET rotationLock = :lock, rotationLockExpiresAt = :until',
      ConditionExpression:
        'apiKeyId = :from AND #status = :active AND attribute_not_exists(pendingPlanChange) AND ' +
        '(attribute_not_exists(rotationLock) OR rotationLock = :lock OR rotationLockExpiresAt < :now)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':lock': lockId,
        ':until': until.toISOString(),
        ':from': fromKeyId,
        ':active': 'ACTIVE',
        ':now': now.toISOString(),
      },
    }, userId);
  }

  async swapKey(userId: string, oldKeyId: string, newKeyId: string, plan: string, lockId: string, now: Date): Promise<boolean> {
    return this.conditional({
      UpdateExpression:
        'SET apiKeyId = :new, updatedAt = :now, version = if_not_exists(version, :zero) + :one REMOVE rotationLock, rotationLockExpiresAt',
      // The plan too: a plan change that finished meanwhile moved the account, not this new key.
      ConditionExpression:
        'apiKeyId = :old AND #status = :active AND #plan = :plan AND attribute_not_exists(pendingPlanChange) AND rotationLock = :lock',
      ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
      ExpressionAttributeValues: {
        ':new': newKeyId,
        ':old': oldKeyId,
        ':active': 'ACTIVE',
        ':plan': plan,
        ':lock': lockId,
        ':now': now.toISOString(),
        ':zero': 0,
        ':one': 1,
      },
    }, userId);
  }

  async releaseRotation(userId: string, lockId: string): Promise<void> {
    await this.conditional({
      UpdateExpression: 'REMOVE rotationLock, rotationLockExpiresAt',
      ConditionExpression: 'rotationLock = :lock',
      ExpressionAttributeValues: { ':lock': lockId },
    }, userId);
  }

  /** One conditional UpdateItem on the account; false when the condition does not hold. */
  private async conditional(
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
    userId: string,
  ): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: { userId }, ...update }));
      return true;
    } catch (error: unknown) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}

/** The Billing table: `userId` + `entryId` (`<ISO time>#<TYPE>#…`, so the sort key is time order). */
export class DynamoLedger implements Ledger {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async page(userId: string, page: PageRequest): Promise<Page<LedgerEntry>> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'userId = :userId',
        ExpressionAttributeValues: { ':userId': userId },
        ScanIndexForward: false,
        Limit: page.limit,
        ...(page.cursor ? { ExclusiveStartKey: { userId: page.cursor.userId, entryId: page.cursor.sk } } : {}),
      }),
    );
    const cursor: Cursor | undefined = LastEvaluatedKey
      ? { userId: String(LastEvaluatedKey.userId), sk: String(LastEvaluatedKey.entryId) }
      : undefined;
    return { items: (Items ?? []).map(ledgerEntry), ...(cursor ? { cursor } : {}) };
  }

  async planEntries(userId: string): Promise<LedgerEntry[]> {
    return readPlanEntries(this.client, this.tableName, userId);
  }
}

// ---------------------------------------------------------------------------------------------------- routes

const DAY_MS = 86_400_000;
export const MAX_USAGE_DAYS = 92;

const isoDate = z.iso.date({ error: 'Must be a date, YYYY-MM-DD' });
export const usageQuery = z.strictObject({ from: isoDate, to: isoDate });

/** `?from=&to=`: both dates, from ≤ to, at most 92 days (API Gateway keeps usage per day). */
export function parseUsageQuery(values: Record<string, string | undefined> | null | undefined): { from: string; to: string } {
  const { from, to } = parseParams(values, usageQuery, 'query');
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  const invalid = (message: string) =>
    new BadRequestError(`Invalid query: to: ${message}`, { issues: [{ field: 'to', message }] });
  if (days < 1) throw invalid('Must not be before from');
  if (days > MAX_USAGE_DAYS) throw invalid(`Must be at most ${MAX_USAGE_DAYS} days after from (both included)`);
  return { from, to };
}

export const revealQuery = z.strictObject({ reveal: z.optional(z.enum(['true', 'false'])) });

/** POST /me/api-key/rotate's optional body: the id of the key the client means to rotate (API Gateway key ids). */
export const rotateBody = z.strictObject({ keyId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/, 'Must be an API key id'))) });

/** Idempotency-Key, or the API request id without one, in `requestKey`; the key being rotated in `fromKeyId`. */
export type RotationRequest = RotationInput;

export interface AccountRouteDeps extends AccountDeps {
  /** The idempotent rotation: the same request (user + key) commits once, and answers the same afterwards. */
  rotate: (request: RotationRequest) => Promise<Rotation>;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

export function accountRoutes(deps: AccountRouteDeps): Routes {
  /**
   * The signed-in user, from the ID token alone: account management needs no API key (the template's /me* routes are
   * `ApiKeyRequired: false`), so it never spends the customer's quota. Any `x-api-key` sent along is ignored; the
   * routes only ever act on the account of the token's `sub`. The account is read at most once per request.
   */
  const authorize = (event: APIGatewayProxyEvent): { caller: { userId: string }; request: AccountDeps } => ({
    caller: userFrom(event),
    request: { ...deps, accounts: readOnce(deps.accounts) },
  });

  return {
    // A customer whose rotate response was lost (old key already deleted) can still fetch the key they now have.
    // It only ever answers the caller's own key. `?reveal=true` adds the value; without it, metadata from the account
    // record only (no management API call).
    'GET /me/api-key': async ({ event }) => {
      const { caller, request } = authorize(event);
      const { reveal } = parseParams(event.queryStringParameters, revealQuery, 'query');
      return json(200, await getApiKey(request, caller.userId, reveal === 'true'), NO_STORE);
    },

    'POST /me/api-key/rotate': async ({ event, requestId }) => {
      const { caller } = authorize(event);
      const requestKey = idempotencyKeyOf(event) ?? requestId;
      // Token only, so no request key to go by: the client may name the key it means to rotate (`{"keyId": …}`, a
      // precondition like If-Match). Requests racing one rotation then all lose with 409 once it has won.
      const { keyId } = event.body ? parseBody(event, rotateBody) : {};
      let rotation: Rotation;
      try {
        rotation = await deps.rotate({ userId: caller.userId, ...(keyId ? { fromKeyId: keyId } : {}), requestKey });
      } catch (error: unknown) {
        if (error instanceof IdempotencyAlreadyInProgressError) {
          throw new ConflictError('This rotation is already in progress; retry in a moment');
        }
        throw error;
      }
      return json(200, await finishRotation(deps, rotation, caller.userId), NO_STORE);
    },

    'GET /me/usage': async ({ event }) => {
      const { caller, request } = authorize(event);
      const { from, to } = parseUsageQuery(event.queryStringParameters);
      return json(200, await getUsage(request, caller.userId, from, to), NO_STORE);
    },

    'GET /me/billing': async ({ event }) => {
      const { caller, request } = authorize(event);
      const query = parseParams(event.queryStringParameters, listQuerySchema, 'query');
      const billing = await getBilling(request, caller.userId, pageRequest(query, caller.userId, ''));
      const nextToken = encodeNextToken(billing.cursor);
      return json(
        200,
        { ledger: billing.ledger, ...(nextToken ? { nextToken } : {}), statement: billing.statement },
        NO_STORE,
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------- wiring

const apiGateway = new APIGatewayClient({ maxAttempts: 3 });
const cognito = new CognitoIdentityProviderClient({ maxAttempts: 3 });
const accounts = new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE'));
const usagePlanIdFor = usagePlanLookup(requireEnv('USAGE_PLAN_NAME_PREFIX'), (position) =>
  apiGateway.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) })),
);

/** This environment's key values (15 min) and usage snapshots (USAGE_FRESHNESS_SECONDS, default 60 s): see caches.ts. */
export const keyValues = new KeyValueCache();
const keys = new ApiGatewayKeyService(apiGateway, keyValues);
export const usageCache = new PlanUsageCache(
  (usagePlanId, from, to) => keys.planUsage(usagePlanId, from, to),
  (usagePlanId, keyId, from, to) => keys.usage(usagePlanId, keyId, from, to),
  usageFreshnessMs(process.env.USAGE_FRESHNESS_SECONDS),
);

const deps: AccountDeps = {
  accounts,
  keys,
  readUsage: (usagePlanId, keyId, from, to) => usageCache.usage(usagePlanId, keyId, from, to),
  users: new CognitoUserDirectory(requireEnv('USER_POOL_ID'), cognito),
  accountKeys: new DynamoAccountKeyWriter(requireEnv('ACCOUNTS_TABLE')),
  ledger: new DynamoLedger(requireEnv('BILLING_TABLE')),
  usageHistory: new DynamoUsageHistory(requireEnv('ACCOUNTS_TABLE')),
  usagePlanIdFor,
  catalog: planCatalog(),
  now: () => new Date(),
};

const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: '[userId, requestKey]',
  expiresAfterSeconds: 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

export const rotateOnce = makeIdempotent(
  (request: RotationRequest): Promise<Rotation> => rotateApiKey(deps, request),
  {
    persistenceStore: new DynamoDBPersistenceLayer({ tableName: requireEnv('IDEMPOTENCY_TABLE'), awsSdkV3Client: dynamodb }),
    config: idempotencyConfig,
  },
);

export const routes = accountRoutes({ ...deps, rotate: rotateOnce });

const apiHandler = createApiHandler(routes);

/** The Lambda context tells the idempotency layer when an in-progress record of a timed-out invocation expires. */
export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  idempotencyConfig.registerLambdaContext(context);
  return apiHandler(event, context);
}
