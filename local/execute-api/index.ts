/** Offline API Gateway data plane (REST API v1 behaviour): see gateway.ts and README.md. */
export { createGateway, type GatewayOptions } from './gateway.ts';
export { StageThrottle, type MethodThrottleSpec } from './throttle.ts';
export {
  createCognitoVerifier,
  JwksUnavailableError,
  TokenExpiredError,
  TokenInvalidError,
  type CognitoVerifierOptions,
} from './verifier.ts';
