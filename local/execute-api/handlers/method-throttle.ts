/**
 * Step 3, the stage's method throttle (MethodSettings): before the authorizer and the key, one bucket per route for
 * every caller (./throttle.ts); none left → 429 Too Many Requests.
 */
import { routed, type Step } from '../context.ts';
import { GatewayResponseError } from '../responses.ts';

export const methodThrottle: Step = (inv) => {
  const { stage, match, route } = routed(inv);
  if (!stage.throttle.admit(match.resource.path, route.method)) {
    throw new GatewayResponseError('THROTTLED', `stage throttle on ${route.method} ${match.resource.path}`);
  }
  return undefined;
};
