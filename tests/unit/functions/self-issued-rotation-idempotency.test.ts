/**
 * idempotentSelfIssuedRotation (functions/account/self-issued.ts): a repeat of the same request answers the first
 * one's record without rotating again, and neither the record nor the replay holds the key value.
 */
import { idempotentSelfIssuedRotation, type SelfIssuedRotation, type SelfIssuedRotationRecord, type SelfIssuedRotationRequest } from '../../../functions/account/self-issued.ts';

/** What makeIdempotent does, in memory: the first call's result per (userId, requestKey), stored as JSON. */
function memoryOnce(stored: Map<string, string>) {
  return (fn: (r: SelfIssuedRotationRequest) => Promise<SelfIssuedRotationRecord>) => async (r: SelfIssuedRotationRequest) => {
    const key = `${r.userId}#${r.requestKey}`;
    const hit = stored.get(key);
    if (hit !== undefined) return JSON.parse(hit) as SelfIssuedRotationRecord;
    const result = await fn(r);
    stored.set(key, JSON.stringify(result));
    return result;
  };
}

describe('idempotentSelfIssuedRotation', () => {
  let n: number;
  const run = async (r: SelfIssuedRotationRequest): Promise<SelfIssuedRotation> => {
    n += 1;
    return { id: `si-new-${n}`, value: `tg_live_value-${n}`, previousKeyId: r.fromKeyId ?? 'si-old', plan: 'free' };
  };
  beforeEach(() => {
    n = 0;
  });

  it('answers the value once; a repeat answers the record without the value and rotates nothing', async () => {
    const stored = new Map<string, string>();
    const rotate = idempotentSelfIssuedRotation(run, memoryOnce(stored));
    const request = { userId: 'u1', requestKey: 'k1' };

    expect(await rotate(request)).toEqual({ id: 'si-new-1', value: 'tg_live_value-1', previousKeyId: 'si-old', plan: 'free' });
    expect(await rotate(request)).toEqual({ id: 'si-new-1', previousKeyId: 'si-old', plan: 'free' });
    expect(n).toBe(1);
    expect([...stored.values()].join()).not.toContain('tg_live_');
  });

  it('rotates again for another Idempotency-Key or another user', async () => {
    const rotate = idempotentSelfIssuedRotation(run, memoryOnce(new Map()));
    await rotate({ userId: 'u1', requestKey: 'k1' });
    expect(await rotate({ userId: 'u1', requestKey: 'k2' })).toMatchObject({ id: 'si-new-2', value: 'tg_live_value-2' });
    expect(await rotate({ userId: 'u2', requestKey: 'k1' })).toMatchObject({ id: 'si-new-3', value: 'tg_live_value-3' });
  });

  it('keeps nothing of a failed rotation: its retry runs it again', async () => {
    let fail = true;
    const rotate = idempotentSelfIssuedRotation(async (r) => {
      if (fail) throw new Error('ConditionalCheckFailed');
      return run(r);
    }, memoryOnce(new Map()));
    await expect(rotate({ userId: 'u1', requestKey: 'k1' })).rejects.toThrow('ConditionalCheckFailed');
    fail = false;
    expect(await rotate({ userId: 'u1', requestKey: 'k1' })).toMatchObject({ value: 'tg_live_value-1' });
  });
});
