/**
 * SAM's Lambda authorizers (`AWS::Serverless::Api` `Auth.Authorizers.<name>` with `FunctionArn`) as the offline
 * gateway runs them. Only `FunctionPayloadType: REQUEST` is supported offline; TOKEN authorizers are a TemplateError.
 * SAM's properties: FunctionArn, FunctionPayloadType (default TOKEN), Identity.Headers / QueryStrings /
 * ReauthorizeEvery (default 300 s; 0 turns the cache off) — AWS SAM docs, "LambdaRequestAuthorizer"
 * (docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-api-lambdarequestauthorizer.html);
 * API Gateway's authorizerResultTtlInSeconds allows 0..3600 (API reference, `Authorizer`).
 */
import { TemplateError } from './template.ts';
import type { LambdaAuthorizerSpec } from './types.ts';

/** True for an `Auth.Authorizers` entry that is a Lambda authorizer (it has FunctionArn). */
export function isLambdaAuthorizer(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && 'FunctionArn' in raw;
}

/**
 * The spec of one Lambda authorizer entry. `resolve` resolves intrinsics (parameters may set ReauthorizeEvery).
 * Throws TemplateError for a TOKEN authorizer, a FunctionArn that is not `!GetAtt <Function>.Arn`, or a TTL outside
 * 0..3600.
 */
export function lambdaAuthorizerSpec(apiLogicalId: string, name: string, raw: Record<string, unknown>, resolve: <T>(value: unknown) => T): LambdaAuthorizerSpec {
  const where = `API ${apiLogicalId}: authorizer ${name}`;
  const payloadType = String(resolve(raw.FunctionPayloadType) ?? 'TOKEN');
  if (payloadType !== 'REQUEST') throw new TemplateError(`${where}: FunctionPayloadType ${payloadType} is not supported offline (REQUEST only)`);
  const fn = (raw.FunctionArn as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  if (!fn || fn[1] !== 'Arn') throw new TemplateError(`${where}: FunctionArn must be !GetAtt <Function>.Arn`);
  const identity = (resolve<Record<string, unknown> | undefined>(raw.Identity) ?? {}) as Record<string, unknown>;
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  const ttlSeconds = Number(identity.ReauthorizeEvery ?? 300);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 3600) throw new TemplateError(`${where}: ReauthorizeEvery must be 0..3600`);
  return { name, functionName: fn[0], identityHeaders: list(identity.Headers), identityQueryStrings: list(identity.QueryStrings), ttlSeconds };
}
