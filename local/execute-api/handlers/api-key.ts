/**
 * Step 5, the API key on routes that require one: the last `x-api-key` header (any case), an enabled key in a usage
 * plan on this API and stage; otherwise 403 Forbidden. With the API's
 * ApiKeySourceType AUTHORIZER the key is the Lambda authorizer's usageIdentifierKey instead of the header. (LocalStack: handlers/api_key_validation.py.)
 */
import type { IncomingMessage } from 'node:http';
import { routed, type Step } from '../context.ts';
import { GatewayResponseError } from '../responses.ts';

/** Every value of a request header (lower-case name), in order. */
export function headerValues(req: IncomingMessage, lowerName: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === lowerName) out.push(raw[i + 1] as string);
  }
  return out;
}

export const validateApiKey: Step = (inv, { gate, apiId, apiKeySource }) => {
  const { route, stage } = routed(inv);
  if (!route.apiKeyRequired) return undefined;
  const values = apiKeySource === 'AUTHORIZER' ? [inv.usageIdentifierKey ?? ''] : headerValues(inv.req, 'x-api-key');
  const value = values[values.length - 1] ?? '';
  if (value === '') throw new GatewayResponseError('INVALID_API_KEY');
  const resolved = gate.resolve(value, apiId, stage.name);
  if (resolved === undefined || !resolved.key.enabled) throw new GatewayResponseError('INVALID_API_KEY');
  inv.usage = [resolved.key.id, resolved.plan];
  inv.apiKey = resolved.key.value;
  inv.apiKeyId = resolved.key.id;
  return undefined;
};
