/**
 * Step 6, the usage plan of the key found in step 5: its throttle (429 Too Many Requests), then its quota (429 Limit
 * Exceeded); an admitted request is counted. Routes without an API key are not metered, whatever `x-api-key` says.
 */
import type { Step } from '../context.ts';
import { GatewayResponseError } from '../responses.ts';

export const usagePlanLimits: Step = (inv, { gate }) => {
  if (inv.usage === undefined) return undefined;
  const admission = gate.admit(...inv.usage);
  if (!admission.ok) throw new GatewayResponseError(admission.reason === 'quota' ? 'QUOTA_EXCEEDED' : 'THROTTLED');
  return undefined;
};
