/**
 * An ended session is found in several places (a refused refresh, the API refusing fresh tokens, no session where one
 * is needed) and handled in one: SessionStore.onEnded's listener (the shell sends the user to sign in and back).
 */
import { ApiClient } from '../../../portal/src/api.ts';
import { CognitoError, type CognitoClient } from '../../../portal/src/cognito.ts';
import type { PortalConfig } from '../../../portal/src/config.ts';
import { SessionExpiredError, SessionStore } from '../../../portal/src/session.ts';

function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, v),
  };
}

const tokens = (expiresAt: number) => ({ idToken: 'id', accessToken: 'access', refreshToken: 'refresh', expiresAt });

function store(refresh: () => Promise<unknown>): { session: SessionStore; ended: jest.Mock; storage: Storage } {
  const storage = memoryStorage();
  const session = new SessionStore({ refresh } as unknown as CognitoClient, storage);
  const ended = jest.fn();
  session.onEnded(ended);
  return { session, ended, storage };
}

let fetchMock: jest.SpyInstance;
beforeEach(() => {
  fetchMock = jest.spyOn(globalThis, 'fetch');
});
afterEach(() => fetchMock.mockRestore());

describe('the session ends in one place', () => {
  it('a refused refresh clears the session, tells the listener once, and throws SessionExpiredError to every caller', async () => {
    const { session, ended } = store(() => Promise.reject(new CognitoError('NotAuthorizedException', 'Refresh Token has been revoked')));
    session.save({ email: 'ada@example.com', tokens: tokens(0) });

    const calls = await Promise.allSettled([session.idToken(), session.idToken(), session.accessToken()]);
    expect(calls.map((c) => c.status === 'rejected' && c.reason instanceof SessionExpiredError)).toEqual([true, true, true]);
    expect(ended).toHaveBeenCalledTimes(1);
    expect(session.current()).toBeUndefined();
  });

  it('a network failure while refreshing is not an ended session', async () => {
    const { session, ended } = store(() => Promise.reject(new Error('offline')));
    session.save({ email: 'ada@example.com', tokens: tokens(0) });
    await expect(session.idToken()).rejects.toThrow('offline');
    expect(ended).not.toHaveBeenCalled();
    expect(session.current()).toBeDefined();
  });

  it('the API refusing the token again after a refresh ends the session (401 twice)', async () => {
    const { session, ended } = store(() => Promise.resolve({ ...tokens(Date.now() + 3_600_000), idToken: 'fresh' }));
    session.save({ email: 'ada@example.com', tokens: tokens(Date.now() + 3_600_000) });
    fetchMock.mockImplementation(() => Promise.resolve(new Response('{"message":"Unauthorized"}', { status: 401 })));
    const api = new ApiClient({ apiUrl: 'https://api.example.test/v1' } as PortalConfig, session);

    await expect(api.me()).rejects.toBeInstanceOf(SessionExpiredError);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(ended).toHaveBeenCalledTimes(1);
    expect(session.current()).toBeUndefined();
  });
});
