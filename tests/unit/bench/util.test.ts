/** bench/util.ts: the limiter (never more than its concurrency at once, every task run, errors to their own caller) and positiveOption. */
import { limiter, positiveOption } from '../../../bench/util.ts';

describe('limiter', () => {
  it('runs at most `concurrency` tasks at once and every task in the end', async () => {
    const slot = limiter(2);
    let running = 0;
    let most = 0;
    const task = (i: number) => async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      return i;
    };
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => slot(task(i))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(2);
  });

  it("gives a failing task's error to its caller and frees its slot", async () => {
    const slot = limiter(1);
    const failing = slot(() => Promise.reject(new Error('boom')));
    const next = slot(async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  it('refuses a concurrency that is not a whole number ≥ 1', () => {
    expect(() => limiter(0)).toThrow('concurrency');
  });
});

describe('positiveOption', () => {
  it('reads --name N, falls back when absent, and refuses what is not a whole number ≥ 1', () => {
    expect(positiveOption('customers', 7, ['node', 'x', '--customers', '12'])).toBe(12);
    expect(positiveOption('customers', 7, ['node', 'x'])).toBe(7);
    expect(() => positiveOption('customers', 7, ['--customers', '0'])).toThrow('--customers must be a positive integer');
    expect(() => positiveOption('customers', 7, ['--customers'])).toThrow('--customers');
  });
});
