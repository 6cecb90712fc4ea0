import { ExpiringMap } from '../../../functions/shared/expiring-map.ts';

describe('ExpiringMap', () => {
  it('answers a value until its expiry, then drops it', () => {
    const map = new ExpiringMap<string, number>();
    map.set('a', 1, 1_000, 0);
    expect(map.get('a', 999)).toBe(1);
    expect(map.get('a', 1_000)).toBeUndefined();
    map.set('a', 2, 3_000, 2_000);
    expect(map.get('a', 2_500)).toBe(2);
  });

  it('keeps nothing whose expiry is not after now (a freshness of 0 reads through)', () => {
    const map = new ExpiringMap<string, number>();
    map.set('a', 1, 500, 500);
    expect(map.get('a', 0)).toBeUndefined();
  });

  it('drops the oldest entry when full, so memory stays bounded', () => {
    const map = new ExpiringMap<string, number>(2);
    map.set('a', 1, 10, 0);
    map.set('b', 2, 10, 0);
    map.set('c', 3, 10, 0);
    expect([map.get('a', 1), map.get('b', 1), map.get('c', 1)]).toEqual([undefined, 2, 3]);
  });

  it('delete and clear drop entries', () => {
    const map = new ExpiringMap<string, number>();
    map.set('a', 1, 10, 0);
    map.set('b', 2, 10, 0);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    map.clear();
    expect(map.get('b', 1)).toBeUndefined();
  });
});
