import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Caller } from './caller.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';

/**
 * The deploy's key mode (template parameter KeyMode, given to the data functions and KeyAuthorizerFunction as
 * `KEY_MODE`). `ApiGateway`: one API Gateway key per customer (the request's `requestContext.identity.apiKeyId` is
 * the customer's key). `SelfIssued`: KeyAuthorizerFunction verified a self-issued key and put its owner in the
 * authorizer context (`requestContext.authorizer.customerId`); `apiKeyId` is then the stack's shared backstop key and
 * says nothing about the customer. Undefined (unset) is `ApiGateway`, the default.
 */
export type KeyMode = 'ApiGateway' | 'SelfIssued';

/** `KEY_MODE` as a KeyMode; anything else is a deploy mistake and fails at module load. */
export function keyModeFrom(value: string | undefined): KeyMode {
  if (value === undefined || value === '' || value === 'ApiGateway') return 'ApiGateway';
  if (value === 'SelfIssued') return value;
  throw new Error(`KEY_MODE must be ApiGateway or SelfIssued, not ${value}`);
}

/**
 * The caller of a data API route in SelfIssued mode: the customer KeyAuthorizerFunction verified (context
 * `customerId`, passed by API Gateway as `requestContext.authorizer.customerId` — AWS, "Output from an API Gateway
 * Lambda authorizer": context values reach the integration as `$context.authorizer.<key>`). `apiKeyId` is the marker
 * `self-issued` (the shared backstop key's id would mislead). 403 without it: the route is
 * not behind the authorizer (a deploy mistake) — never a guess.
 */
export function selfIssuedCaller(event: APIGatewayProxyEvent): Caller {
  const customerId = (event.requestContext?.authorizer as Record<string, unknown> | null | undefined)?.customerId;
  if (typeof customerId !== 'string' || customerId === '') throw new ForbiddenError('A self-issued API key is required');
  return { userId: customerId, apiKeyId: 'self-issued' };
}

/**
 * SelfIssued mode with an ID token too (DataApiAuth IdTokenAndApiKey): the token's user must own the verified key.
 * `tokenUserId`: the user the ID token names. 401 without one, 403 for someone else's key.
 */
export function selfIssuedOwnKey(event: APIGatewayProxyEvent, tokenUserId: string | undefined): Caller {
  if (!tokenUserId) throw new UnauthorizedError();
  const caller = selfIssuedCaller(event);
  if (caller.userId !== tokenUserId) throw new ForbiddenError('The API key does not belong to the signed-in user');
  return caller;
}
