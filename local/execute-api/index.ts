/** Offline API Gateway data plane, execute-api (REST API v1 behaviour): see gateway.ts (the chain of steps) and README.md. */
export { createGateway, type AccessLogEntry, type GatewayOptions } from './gateway.ts';
export { StageThrottle, type MethodThrottleSpec } from './throttle.ts';
export * from './verifier.ts';
