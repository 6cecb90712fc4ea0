/**
 * The portal's key in both key modes (portal/src/key.ts): the mode comes from GET /me/api-key (only SelfIssued answers
 * `issued`); in SelfIssued mode the value is never asked of the server, a held value of another key is forgotten, and
 * a pasted value is checked against the key's shape and hint before it is used.
 */
import type { ApiKeyInfo } from '../../../portal/src/api.ts';
import type { App } from '../../../portal/src/app.ts';
import { currentKey, maskedHint, pastedKeyProblem } from '../../../portal/src/key.ts';

const KEY = `tg_live_Abcd${'x'.repeat(39)}`;

function app(info: ApiKeyInfo, held?: { id: string; value: string }): { app: App; reveal: jest.Mock; held: () => { id: string; value: string } | undefined } {
  let apiKey = held;
  const reveal = jest.fn(() => Promise.resolve({ id: info.id, value: 'revealed-value' }));
  const fake = {
    api: { apiKey: () => Promise.resolve(info), revealApiKey: reveal },
    session: {
      current: () => ({ email: 'ada@example.com', tokens: {}, ...(apiKey ? { apiKey } : {}) }),
      setApiKey: (key: { id: string; value: string } | undefined) => {
        apiKey = key;
      },
    },
  } as unknown as App;
  return { app: fake, reveal, held: () => apiKey };
}

describe('currentKey', () => {
  it('ApiGateway (no `issued`): reveals the value when this session does not hold that key, and keeps it', async () => {
    const a = app({ id: 'k1', plan: 'free' });
    await expect(currentKey(a.app)).resolves.toEqual({ mode: 'ApiGateway', id: 'k1', value: 'revealed-value' });
    expect(a.reveal).toHaveBeenCalledTimes(1);
    expect(a.held()).toEqual({ id: 'k1', value: 'revealed-value' });
    await expect(currentKey(a.app)).resolves.toEqual({ mode: 'ApiGateway', id: 'k1', value: 'revealed-value' });
    expect(a.reveal).toHaveBeenCalledTimes(1);
  });

  it('SelfIssued, no key issued yet: no value, nothing revealed', async () => {
    const a = app({ id: 'si1', plan: 'free', issued: false });
    await expect(currentKey(a.app)).resolves.toEqual({ mode: 'SelfIssued', id: 'si1', issued: false });
    expect(a.reveal).not.toHaveBeenCalled();
  });

  it('SelfIssued: the value this session holds for that key, never one asked of the server', async () => {
    const a = app({ id: 'si2', plan: 'free', issued: true, hint: 'tg_live_Abcd' }, { id: 'si2', value: KEY });
    await expect(currentKey(a.app)).resolves.toEqual({ mode: 'SelfIssued', id: 'si2', issued: true, hint: 'tg_live_Abcd', value: KEY });
    expect(a.reveal).not.toHaveBeenCalled();
  });

  it('SelfIssued: a held value of another key (rotated elsewhere) is forgotten, not sent', async () => {
    const a = app({ id: 'si3', plan: 'free', issued: true, hint: 'tg_live_Wxyz' }, { id: 'si2', value: KEY });
    await expect(currentKey(a.app)).resolves.toEqual({ mode: 'SelfIssued', id: 'si3', issued: true, hint: 'tg_live_Wxyz' });
    expect(a.held()).toBeUndefined();
    expect(a.reveal).not.toHaveBeenCalled();
  });
});

describe('pastedKeyProblem', () => {
  it('accepts a key of the right shape that starts with the hint', () => {
    expect(pastedKeyProblem({ hint: 'tg_live_Abcd' }, KEY)).toBeUndefined();
    expect(pastedKeyProblem({}, KEY)).toBeUndefined();
  });

  it('refuses another shape, and another key (another hint), naming the problem', () => {
    expect(pastedKeyProblem({ hint: 'tg_live_Abcd' }, 'sk_live_123')).toMatch(/^That is not an API key of this API/);
    expect(pastedKeyProblem({ hint: 'tg_live_Abcd' }, `${KEY}x`)).toMatch(/^That is not an API key of this API/);
    expect(pastedKeyProblem({ hint: 'tg_live_Wxyz' }, KEY)).toBe('That is not your current key: yours starts with tg_live_Wxyz.');
  });
});

it('maskedHint shows the hint and hides the rest', () => {
  expect(maskedHint('tg_live_Abcd')).toBe(`tg_live_Abcd${'•'.repeat(24)}`);
});
