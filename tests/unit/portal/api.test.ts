/**
 * The portal's API client (portal/src/api.ts): its own calls (account management, /me*) send the ID token and never the
 * API key, so they cost the customer nothing; only "Try it" (authHeaders) adds the key. A 429 from the account routes'
 * shared stage throttle is waited out and repeated a few times before the customer is told.
 */
import { ApiClient, ApiError, THROTTLE_RETRY_MS } from '../../../portal/src/api.ts';
import type { PortalConfig } from '../../../portal/src/config.ts';
import type { SessionStore } from '../../../portal/src/session.ts';

const API = 'https://api.example.test/v1';
const config = { apiUrl: API } as PortalConfig;
const session = {
  idToken: () => Promise.resolve('id-token'),
  refresh: () => Promise.resolve(),
  current: () => ({ email: 'ada@example.com', tokens: {}, apiKey: { id: 'k1', value: 'SECRET-KEY-VALUE' } }),
} as unknown as SessionStore;

const answer = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const throttled = (): Response => answer(429, { message: 'Too Many Requests' });

let fetchMock: jest.SpyInstance;
beforeEach(() => {
  fetchMock = jest.spyOn(globalThis, 'fetch');
});
afterEach(() => {
  fetchMock.mockRestore();
  jest.useRealTimers();
});

const sentHeaders = (): Record<string, string>[] => fetchMock.mock.calls.map(([, init]) => (init as RequestInit).headers as Record<string, string>);

describe('the portal\'s own calls', () => {
  it('send the ID token and never the API key, although the session holds it', async () => {
    fetchMock.mockImplementation(() => Promise.resolve(answer(200, {})));
    const api = new ApiClient(config, session);

    await api.me();
    await api.apiKey();
    await api.usage('2026-11-01', '2026-11-30');
    await api.billing();
    await api.changePlan('pro', 'idem-1');
    await api.planChange('plan-0000000000000000000000000000000000000000');
    await api.rotateKey('idem-2');

    expect(fetchMock.mock.calls.map(([url]) => String(url).slice(API.length).split('?')[0])).toEqual([
      '/me', '/me/api-key', '/me/usage', '/me/billing', '/me/plan', '/me/plan-changes/plan-0000000000000000000000000000000000000000', '/me/api-key/rotate',
    ]);
    for (const headers of sentHeaders()) {
      expect(headers.Authorization).toBe('id-token');
      expect(Object.keys(headers).map((h) => h.toLowerCase())).not.toContain('x-api-key');
    }
  });

  it('leaves the key to "Try it", which calls the data API', async () => {
    const api = new ApiClient(config, session);

    expect(await api.authHeaders()).toEqual({ Authorization: 'id-token', 'x-api-key': 'SECRET-KEY-VALUE' });
  });

  it('follows the deployed mode: with dataApiAuth ApiKey the data API gets the key alone, /me still the token', async () => {
    const keyOnly = new ApiClient({ ...config, dataApiAuth: 'ApiKey' }, session);
    expect(await keyOnly.authHeaders('/links')).toEqual({ 'x-api-key': 'SECRET-KEY-VALUE' });
    expect(await keyOnly.authHeaders('/tags/t1/links')).toEqual({ 'x-api-key': 'SECRET-KEY-VALUE' });
    expect(await keyOnly.authHeaders('/me')).toEqual({ Authorization: 'id-token', 'x-api-key': 'SECRET-KEY-VALUE' });
    expect(keyOnly.sendsIdToken('/me/api-key')).toBe(true);
    const tokenMode = new ApiClient({ ...config, dataApiAuth: 'IdTokenAndApiKey' }, session);
    expect(await tokenMode.authHeaders('/links')).toEqual({ Authorization: 'id-token', 'x-api-key': 'SECRET-KEY-VALUE' });
  });
});

describe('a 429 from the shared account throttle', () => {
  it('is waited out and repeated, with the same Idempotency-Key', async () => {
    jest.useFakeTimers();
    fetchMock.mockResolvedValueOnce(throttled()).mockResolvedValueOnce(throttled()).mockResolvedValueOnce(answer(202, { executionId: 'plan-1', status: 'RUNNING' }));
    const api = new ApiClient(config, session);

    const accepted = api.changePlan('pro', 'idem-3');
    await jest.advanceTimersByTimeAsync(THROTTLE_RETRY_MS[0]! + THROTTLE_RETRY_MS[1]!);

    await expect(accepted).resolves.toEqual({ executionId: 'plan-1', status: 'RUNNING' });
    expect(fetchMock).toHaveBeenCalledTimes(3);
    expect(sentHeaders().map((h) => h['Idempotency-Key'])).toEqual(['idem-3', 'idem-3', 'idem-3']);
  });

  it('reaches the customer as an ApiError 429 once the retries are spent', async () => {
    jest.useFakeTimers();
    fetchMock.mockImplementation(() => Promise.resolve(throttled()));
    const api = new ApiClient(config, session);

    const usage = api.usage('2026-11-01', '2026-11-30');
    const outcome = usage.then(
      () => undefined,
      (error: unknown) => error,
    );
    await jest.advanceTimersByTimeAsync(THROTTLE_RETRY_MS.reduce((a, b) => a + b, 0));

    const error = await outcome;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    expect(fetchMock).toHaveBeenCalledTimes(THROTTLE_RETRY_MS.length + 1);
  });

  it('does not delay any other answer', async () => {
    fetchMock.mockResolvedValueOnce(answer(409, { message: 'The account is not active (status ONBOARDING)', details: { status: 'ONBOARDING' } }));
    const api = new ApiClient(config, session);

    await expect(api.apiKey()).rejects.toMatchObject({ status: 409, details: { status: 'ONBOARDING' } });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});
