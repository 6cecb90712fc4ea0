/**
 * Step 4, the Cognito user pool authorizer on routes that have it: the ID token in `Authorization` (raw or
 * `Bearer <token>`), verified by ./verifier.ts. Missing or invalid → 401 Unauthorized; expired → 401 "The incoming
 * token has expired"; the pool's keys unreachable → 500 AuthorizerConfigurationException. The claims, as strings,
 * go to `requestContext.authorizer.claims`.
 */
import type { TokenVerifier } from '../../types.ts';
import { routed, type Invocation, type Step } from '../context.ts';
import { stringClaims } from '../event.ts';
import { GatewayResponseError } from '../responses.ts';
import { bearerToken } from '../verifier.ts';

export const authorizeCognito: Step = (inv, { verifier }) => {
  // Synchronous when the route has no Cognito authorizer: the chain then goes on without a microtask turn.
  if (routed(inv).route.authorizer !== 'cognito') return undefined;
  return verifyToken(inv, verifier);
};

async function verifyToken(inv: Invocation, verifier: TokenVerifier): Promise<undefined> {
  const token = bearerToken(inv.req.headers.authorization);
  if (token === undefined) throw new GatewayResponseError('UNAUTHORIZED');
  try {
    inv.claims = stringClaims(await verifier.verify(token));
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'TOKEN_EXPIRED') throw new GatewayResponseError('EXPIRED');
    if (code === 'JWKS_UNAVAILABLE') {
      throw new GatewayResponseError('AUTHORIZER_CONFIGURATION_ERROR', `Cognito authorizer could not load the pool's keys: ${(error as Error).message}`);
    }
    throw new GatewayResponseError('UNAUTHORIZED');
  }
  return undefined;
}
