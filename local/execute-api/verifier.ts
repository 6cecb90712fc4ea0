/**
 * The Cognito authorizer's token check: the very verifier the data API functions use (functions/shared/id-token.ts),
 * so the offline authorizer and the functions agree on issuer, audience, token_use and expiry.
 */
export {
  bearerToken,
  cognitoIssuer,
  createCognitoVerifier,
  jwksUrlOf,
  JwksUnavailableError,
  TokenExpiredError,
  TokenInvalidError,
  type CognitoVerifierOptions,
} from '../../functions/shared/id-token.ts';
