import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { accountCaller } from '#shared/caller';
import { dynamodb } from '#shared/clients';
import { requireEnv } from '#shared/env';
import { ConflictError } from '#shared/errors';
import { createApiHandler, json, noContent, parseBody, parseParams, type Routes } from '#shared/http';
import { encodeNextToken, listQuerySchema, pageRequest } from '#shared/pagination';
import { planCatalog } from '#shared/plans';
import { DynamoAccountKeyWriter, DynamoAccountStore, DynamoUsageHistory } from '#shared/tables/accounts';
import { DynamoKeyOwnerRecords } from '#shared/tables/key-owners';
import { DynamoLedger } from '#shared/tables/billing';
import { usagePlanLookupWith } from '#shared/usage-plans';
import { startOffboarding } from '#shared/workflows';
import { ApiGatewayKeyService, CognitoUserDirectory, SfnKeyRetirement, SfnPlanChangeWorkflow } from './adapters.ts';
import { KeyValueCache, PlanUsageCache, usageFreshnessMs } from './caches.ts';
import {
  cancelOverlap,
  finishRotation,
  getApiKey,
  getBilling,
  getUsage,
  rotateApiKey,
  type AccountDeps,
  type Rotation,
  type RotationInput,
} from './domain.ts';
import { meRoutes } from './me.ts';
import { planRoutes } from './plan-change-routes.ts';
import { idempotencyKeyOf, parseUsageQuery } from './request.ts';
import { idempotentSelfIssuedRotation, rotateSelfIssued, selfIssuedKeyRoutes } from './self-issued.ts';
import { selfIssuedUsageRoutes } from './self-issued-usage.ts';
import { keyModeFrom } from '#shared/key-mode';
import { selfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { revealQuery, rotateBody, usageQuery } from './schemas.ts';

/**
 * AccountFunction: every `/me…` route, the caller's own account (the template gives one function to each top-level
 * path: /me…, /links, /tags, /auth). Routes by family, each behind its domain module:
 *   GET /me, DELETE /me                                   ./me.ts (the account itself; deleting it)
 *   GET /me/api-key, POST /me/api-key/rotate              here, over ./domain.ts (key, rotation)
 *   GET /me/usage, GET /me/billing                        here, over ./domain.ts (usage, billing)
 *   POST /me/plan, GET /me/plan-changes/{executionId}     ./plan-change-routes.ts, over ./plan-change.ts
 * and this module wires them to the adapters (./adapters.ts, shared/tables). Responses carrying a key value are
 * `Cache-Control: no-store`, and no value is ever logged.
 */

// ---------------------------------------------------------------------------------------------------- routes

export { revealQuery, rotateBody, usageQuery };

/** Idempotency-Key, or the API request id without one, in `requestKey`; the key being rotated in `fromKeyId`. */
export type RotationRequest = RotationInput;

export interface AccountRouteDeps extends AccountDeps {
  /** The idempotent rotation: the same request (user + key) commits once, and answers the same afterwards. */
  rotate: (request: RotationRequest) => Promise<Rotation>;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

export function accountRoutes(deps: AccountRouteDeps): Routes {
  /** The signed-in user (token only, see accountCaller), with the account read at most once per request. */
  const authorize = (event: APIGatewayProxyEvent): { caller: { userId: string }; request: AccountDeps } => {
    const { accounts, ...caller } = accountCaller(event, deps.accounts);
    return { caller, request: { ...deps, accounts } };
  };

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
      const { keyId, overlapSeconds } = event.body ? parseBody(event, rotateBody) : {};
      let rotation: Rotation;
      try {
        rotation = await deps.rotate({
          userId: caller.userId,
          ...(keyId ? { fromKeyId: keyId } : {}),
          ...(overlapSeconds ? { overlapSeconds } : {}),
          requestKey,
        });
      } catch (error: unknown) {
        if (error instanceof IdempotencyAlreadyInProgressError) {
          throw new ConflictError('This rotation is already in progress; retry in a moment');
        }
        throw error;
      }
      return json(200, await finishRotation(deps, rotation, caller.userId), NO_STORE);
    },

    // Ends a rotation's overlap early: the rotated-away key is retired at once (204), or 404 if none is in its overlap.
    'DELETE /me/api-key/previous': async ({ event }) => {
      const { caller, request } = authorize(event);
      await cancelOverlap(request, caller.userId);
      return noContent();
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
const sfn = new SFNClient({ maxAttempts: 3 });
const offboardingArn = requireEnv('OFFBOARDING_STATE_MACHINE_ARN');
const accounts = new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE'));
const usagePlanIdFor = usagePlanLookupWith(apiGateway, requireEnv('USAGE_PLAN_NAME_PREFIX'));

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
  keyOwners: new DynamoKeyOwnerRecords(requireEnv('KEY_OWNERS_TABLE')),
  ledger: new DynamoLedger(requireEnv('BILLING_TABLE')),
  usageHistory: new DynamoUsageHistory(requireEnv('ACCOUNTS_TABLE')),
  usagePlanIdFor,
  catalog: planCatalog(),
  now: () => new Date(),
  retirement: new SfnKeyRetirement(requireEnv('KEY_RETIREMENT_STATE_MACHINE_ARN'), sfn),
};

const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: '[userId, requestKey]',
  expiresAfterSeconds: 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

/** Where and how both key modes' rotations keep their idempotency records (IdempotencyTable, per user + request key). */
const rotationIdempotency = {
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: requireEnv('IDEMPOTENCY_TABLE'), awsSdkV3Client: dynamodb }),
  config: idempotencyConfig,
};

export const rotateOnce = makeIdempotent((request: RotationRequest): Promise<Rotation> => rotateApiKey(deps, request), rotationIdempotency);

/**
 * KeyMode SelfIssued's key and usage routes over one SelfIssuedKeys store; the rotation is idempotent on the same
 * table and key as the per-key mode's.
 */
function selfIssuedRoutes(): Routes {
  const siDeps = { ...deps, store: selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE')) };
  const rotate = idempotentSelfIssuedRotation(
    (r) => rotateSelfIssued(siDeps, r.userId, r.requestKey, r.fromKeyId),
    (fn) => makeIdempotent(fn, rotationIdempotency),
  );
  const keyRoutes = selfIssuedKeyRoutes(siDeps, async (request) => {
    try {
      return await rotate(request);
    } catch (error: unknown) {
      if (error instanceof IdempotencyAlreadyInProgressError) throw new ConflictError('This rotation is already in progress; retry in a moment');
      throw error;
    }
  });
  return { ...keyRoutes, ...selfIssuedUsageRoutes(siDeps) };
}

export const routes: Routes = {
  ...meRoutes({ accounts, offboard: (userId) => startOffboarding(sfn, offboardingArn, userId, 'SELF_SERVICE') }),
  ...accountRoutes({ ...deps, rotate: rotateOnce }),
  // KeyMode SelfIssued: the key is the project's own (shown once, stored as a hash), not an API Gateway key, and usage
  // comes from the authorizer's counters, not usage plans (same answer shapes).
  ...(keyModeFrom(process.env.KEY_MODE) === 'SelfIssued' ? selfIssuedRoutes() : {}),
  ...planRoutes({
    accounts,
    workflow: new SfnPlanChangeWorkflow(requireEnv('PLAN_CHANGE_STATE_MACHINE_ARN'), sfn),
    catalog: deps.catalog,
  }),
};

const apiHandler = createApiHandler(routes);

/** The Lambda context tells the idempotency layer when an in-progress record of a timed-out invocation expires. */
export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  idempotencyConfig.registerLambdaContext(context);
  return apiHandler(event, context);
}
