/**
 * API Gateway's management API limit on the offline stack, ON as in AWS (10 requests/s, burst 40, for every caller
 * together): while other callers keep it exhausted, the control plane answers 429 TooManyRequestsException with
 * Retry-After; a customer read that needs a management call (a key reveal or usage on a cold cache) answers 503 with
 * Retry-After and a JSON message, never 500; a read served from the account record (GET /me/api-key without reveal)
 * still answers 200; once the callers stop, the reads answer 200 again.
 */
import { onboardCustomer, startTestStack, type Customer, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;
// The limits' clock moves only when the test says so: no refill can slip in, however busy the machine is.
let nowMs = Date.parse('2026-01-01T00:00:00Z');

beforeAll(async () => {
  t = await startTestStack({ managementApiClock: () => nowMs }); // AWS's management API limits: the default
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** Callers that keep the account's bucket empty: `loops` concurrent GetUsagePlans in a row until stopped. */
function exhaust(loops: number): { stop: () => Promise<{ status: number; retryAfter: string | null; type: string | null }[]> } {
  let running = true;
  const seen: { status: number; retryAfter: string | null; type: string | null }[] = [];
  const workers = Array.from({ length: loops }, async () => {
    while (running) {
      const r = await fetch(`${t.stack.endpoints.apigateway}/usageplans`);
      await r.arrayBuffer();
      seen.push({ status: r.status, retryAfter: r.headers.get('retry-after'), type: r.headers.get('x-amzn-errortype') });
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return seen;
    },
  };
}

function get(c: Customer, path: string): Promise<Response> {
  return fetch(`${t.stack.apiUrl}${path}`, { headers: { Authorization: c.idToken, 'x-api-key': c.keyValue } });
}

it('429 from the control plane; 503 with Retry-After (not 500) for a customer read that needs it; 200 from the store', async () => {
  const c = await onboardCustomer(t, 'limits');
  const today = new Date().toISOString().slice(0, 10);

  const callers = exhaust(4);
  let reveal: Response;
  let usage: Response;
  let metadata: Response;
  try {
    await new Promise((r) => setTimeout(r, 300)); // the burst of 40 is spent by now
    [reveal, usage, metadata] = await Promise.all([
      get(c, '/me/api-key?reveal=true'),
      get(c, `/me/usage?from=${today}&to=${today}`),
      get(c, '/me/api-key'),
    ]);
  } finally {
    const seen = await callers.stop();
    const throttled = seen.filter((s) => s.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]).toMatchObject({ type: 'TooManyRequestsException', retryAfter: '1' });
    expect(seen.every((s) => s.status === 200 || s.status === 429)).toBe(true);
  }

  for (const response of [reveal, usage]) {
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await response.json()).toMatchObject({ code: 'ServiceUnavailable', message: expect.stringMatching(/try again/) });
  }
  // The key id comes from the account record: no management call, so no throttling.
  expect(metadata.status).toBe(200);
  expect(await metadata.json()).toEqual({ id: c.keyId, plan: 'free' });

  // The limit refills at 10 requests/s: the reads answer again.
  nowMs += 1_500;
  const again = await get(c, '/me/api-key?reveal=true');
  expect(again.status).toBe(200);
  expect(await again.json()).toEqual({ id: c.keyId, plan: 'free', value: c.keyValue });
  expect((await get(c, `/me/usage?from=${today}&to=${today}`)).status).toBe(200);
}, 60_000);
