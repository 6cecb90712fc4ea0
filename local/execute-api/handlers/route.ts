/**
 * Step 2, routing: the `/<stage>` prefix (a stage of the deployment), then the resource and the method (or `ANY`).
 * Anything unknown, a resource without the method included, is 403 Missing Authentication Token. An `OPTIONS`
 * request on a resource with methods, when the Api has CORS, is SAM's MOCK preflight method: 200 `{}`, no token, no
 * key. (LocalStack: handlers/resource_router.py.)
 */
import type { Step } from '../context.ts';
import { GatewayResponseError } from '../responses.ts';

export const routeRequest: Step = (inv, { stages, router, cors, preflightHeaders }) => {
  const { rawPath } = inv;
  const stageEnd = rawPath.indexOf('/', 1);
  const stage = stages.get(stageEnd === -1 ? rawPath.slice(1) : rawPath.slice(1, stageEnd));
  if (stage === undefined) throw new GatewayResponseError('MISSING_AUTHENTICATION_TOKEN');
  const path = stageEnd === -1 || stageEnd === rawPath.length - 1 ? '/' : rawPath.slice(stageEnd);
  const match = router.match(path);
  if (match === undefined) throw new GatewayResponseError('MISSING_AUTHENTICATION_TOKEN');
  const { resource } = match;
  const explicit = resource.methods.get(inv.method);
  if (explicit === undefined && inv.method === 'OPTIONS' && cors && resource.methods.size > 0) {
    return { status: 200, headers: { ...preflightHeaders, 'Content-Type': 'application/json' }, body: Buffer.from('{}') };
  }
  const route = explicit ?? resource.methods.get('ANY');
  if (route === undefined) throw new GatewayResponseError('MISSING_AUTHENTICATION_TOKEN');
  Object.assign(inv, { stage, path, match, route });
  return undefined;
};
