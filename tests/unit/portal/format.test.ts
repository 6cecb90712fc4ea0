import { heldFor, heldRange, keyDatesText, longDate, utcDateTime } from '../../../portal/src/format.ts';

describe('statement line formatting', () => {
  it('shows whole days as a day range, and times where a line starts or ends within a day (UTC)', () => {
    expect(heldRange('2025-11-01T00:00:00.000Z', '2025-11-16T00:00:00.000Z')).toBe('Nov 1 – Nov 15');
    expect(heldRange('2025-11-16T00:00:00.000Z', '2025-11-17T00:00:00.000Z')).toBe('Nov 16');
    expect(heldRange('2025-11-16T10:00:00.000Z', '2025-11-16T12:00:00.000Z')).toBe('Nov 16 10:00 – 12:00');
    expect(heldRange('2025-11-16T10:00:00.100Z', '2025-11-16T10:00:05.900Z')).toBe('Nov 16 10:00 – 10:00:05');
    expect(heldRange('2025-11-16T18:00:00.000Z', '2025-12-01T00:00:00.000Z')).toBe('Nov 16 18:00 – Dec 1 00:00');
  });

  it('says how long a plan was held in its two largest units', () => {
    expect(heldFor(15 * 86_400 + 12 * 3_600)).toBe('15 days 12 h');
    expect(heldFor(86_400)).toBe('1 day');
    expect(heldFor(3_600)).toBe('1 h');
    expect(heldFor(5_400)).toBe('1 h 30 min');
    expect(heldFor(86_400 + 59)).toBe('1 day');
    expect(heldFor(45)).toBe('45 s');
    expect(heldFor(0)).toBe('0 s');
  });
});

describe('ledger entry times', () => {
  it('show the date and time in UTC, so same-day changes read in order', () => {
    expect(utcDateTime('2025-11-16T10:00:00.100Z')).toBe('Nov 16, 2025, 10:00:00 UTC');
    expect(utcDateTime('nope')).toBe('nope');
  });
});

describe('the quota reset day', () => {
  it('spells out the UTC calendar day of the reset instant', () => {
    expect(longDate('2026-12-01T00:00:00.000Z')).toBe('1 December 2026');
    expect(longDate('2027-01-01T00:00:00.000Z')).toBe('1 January 2027');
    expect(longDate(undefined)).toBe('');
  });
});

describe("the key card's dates", () => {
  it('says when the key was created and the last UTC day with requests, or that it was not used yet', () => {
    const days = [
      { date: '2026-11-28', used: 4 },
      { date: '2026-11-29', used: 0 },
      { date: '2026-11-30', used: 1 },
      { date: '2026-12-01', used: 0 },
    ];
    expect(keyDatesText('2026-11-27T23:59:59.000Z', days)).toBe('Created 27 November 2026 · last used 30 November 2026 (UTC day)');
    expect(keyDatesText('2026-11-27T10:00:00.000Z', days.map((d) => ({ ...d, used: 0 })))).toBe('Created 27 November 2026 · not used yet');
    expect(keyDatesText(undefined, undefined)).toBe('not used yet');
  });
});
