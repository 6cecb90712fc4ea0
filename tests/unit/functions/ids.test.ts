import { randomBytes } from 'node:crypto';
import { createUuidV7Generator, formatUuidV7, uuidv7, uuidV7Timestamp } from '#shared/ids';
import { idParams as linkIdParams } from '../../../functions/links/handler.ts';
import { createTagLinkBody } from '../../../functions/tags/handler.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const T0 = Date.parse('2025-11-23T13:00:00.000Z');

/** A clock that returns the given times in turn (then keeps the last). */
const clockOf = (...times: number[]) => {
  let i = 0;
  return () => times[Math.min(i++, times.length - 1)] ?? 0;
};
const zeros = (size: number) => Buffer.alloc(size);
const ones = (size: number) => Buffer.alloc(size, 0xff);
/** A random source that returns what the given sources make, in turn. */
const clockOfBuffers = (...sources: ((size: number) => Buffer)[]) => {
  let i = 0;
  return (size: number) => (sources[Math.min(i++, sources.length - 1)] ?? zeros)(size);
};

describe('uuidv7', () => {
  it('is a lower-case, 36-character RFC 9562 UUID of version 7 and variant 10', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidv7();
      expect(id).toMatch(UUID_V7);
      expect(id[14]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(id[19]);
    }
  });

  it('starts with the 48-bit Unix time in milliseconds', () => {
    const id = createUuidV7Generator(() => T0)();

    expect(id.slice(0, 13)).toBe(`${T0.toString(16).padStart(12, '0').slice(0, 8)}-${T0.toString(16).padStart(12, '0').slice(8)}`);
    expect(uuidV7Timestamp(id)).toBe(T0);
    expect(uuidV7Timestamp(uuidv7())).toBeLessThanOrEqual(Date.now());
  });

  it('puts the version and variant bits around the random bits', () => {
    expect(formatUuidV7(0, 0n)).toBe('00000000-0000-7000-8000-000000000000');
    expect(formatUuidV7(2 ** 48 - 1, (1n << 74n) - 1n)).toBe('ffffffff-ffff-7fff-bfff-ffffffffffff');
    expect(createUuidV7Generator(() => T0, ones)()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7fff-bfff-ffffffffffff$/);
  });

  it('sorts later milliseconds after earlier ones, whatever the random bits', () => {
    // The earlier ids get the largest random bits, the later ones the smallest: the timestamp still decides.
    const next = createUuidV7Generator(clockOf(T0, T0 + 1, T0 + 2, T0 + 1000, T0 + 86_400_000), clockOfBuffers(ones, ones, zeros, zeros, zeros));
    const ids = Array.from({ length: 5 }, () => next());

    expect([...ids].sort()).toEqual(ids);
    expect(ids.map(uuidV7Timestamp)).toEqual([T0, T0 + 1, T0 + 2, T0 + 1000, T0 + 86_400_000]);
  });

  it('stays increasing within one millisecond and when the clock steps back', () => {
    const next = createUuidV7Generator(clockOf(T0, T0, T0, T0 - 5, T0 - 5, T0 + 1), ones);
    const seeded = createUuidV7Generator(clockOf(T0, T0, T0 - 5, T0 + 1), randomBytes);
    const a = Array.from({ length: 6 }, () => next());
    const b = Array.from({ length: 4 }, () => seeded());

    for (const ids of [a, b]) {
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(ids);
      ids.forEach((id) => expect(id).toMatch(UUID_V7));
    }
    // All-ones random bits cannot be incremented: the id moves on to the next millisecond instead.
    expect(uuidV7Timestamp(a[1] ?? '')).toBe(T0 + 1);
    expect(b.map(uuidV7Timestamp)).toEqual([T0, T0, T0, T0 + 1]);
  });

  it('makes unique, ordered ids in a tight loop', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());

    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('rejects a clock outside the 48-bit range', () => {
    expect(() => createUuidV7Generator(() => -1)()).toThrow(RangeError);
    expect(() => createUuidV7Generator(() => 2 ** 48)()).toThrow(RangeError);
    expect(() => createUuidV7Generator(() => Number.NaN)()).toThrow(RangeError);
  });

  it('is accepted by the id validation of the link and tag routes', () => {
    const id = uuidv7();

    expect(linkIdParams.safeParse({ id })).toEqual({ success: true, data: { id } });
    expect(linkIdParams.safeParse({ id: id.toUpperCase() })).toEqual({ success: true, data: { id } });
    expect(createTagLinkBody.safeParse({ tagId: id, linkId: id }).success).toBe(true);
  });
});
