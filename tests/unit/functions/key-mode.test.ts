/** The data API caller in KeyMode SelfIssued: the customer comes from KeyAuthorizerFunction's context only. */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { keyModeFrom, selfIssuedCaller, selfIssuedOwnKey } from '../../../functions/shared/key-mode.ts';

const event = (authorizer: Record<string, unknown> | null): APIGatewayProxyEvent =>
  ({ requestContext: { authorizer, identity: { apiKeyId: 'backstop-key-id' } } }) as unknown as APIGatewayProxyEvent;

it('KEY_MODE: unset is ApiGateway; anything but the two modes is a deploy mistake', () => {
  expect(keyModeFrom(undefined)).toBe('ApiGateway');
  expect(keyModeFrom('SelfIssued')).toBe('SelfIssued');
  expect(() => keyModeFrom('selfissued')).toThrow(/KEY_MODE/);
});

it("takes the customer from the authorizer context, never from the shared backstop key's id", () => {
  expect(selfIssuedCaller(event({ customerId: 'user-1', principalId: 'user-1', plan: 'free' }))).toEqual({ userId: 'user-1', apiKeyId: 'self-issued' });
  expect(() => selfIssuedCaller(event({ principalId: 'api-key' }))).toThrow('A self-issued API key is required');
  expect(() => selfIssuedCaller(event(null))).toThrow('A self-issued API key is required');
});

it("with an ID token too: the token's user must own the key (401 without a user, 403 for someone else's key)", () => {
  const e = event({ customerId: 'user-1' });
  expect(selfIssuedOwnKey(e, 'user-1').userId).toBe('user-1');
  expect(() => selfIssuedOwnKey(e, undefined)).toThrow(expect.objectContaining({ statusCode: 401 }));
  expect(() => selfIssuedOwnKey(e, 'user-2')).toThrow('The API key does not belong to the signed-in user');
});
