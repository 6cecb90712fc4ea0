import type { QuotaPeriod } from '../types.ts';

export const DAY_MS = 86_400_000;

/** Start of the UTC day holding `ms`. */
export const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** `YYYY-MM-DD` of the UTC day holding `ms`. */
export const dayKey = (ms: number): string => new Date(dayStart(ms)).toISOString().slice(0, 10);

/** Strictly parses `YYYY-MM-DD` (a real calendar date) to its UTC midnight in ms; undefined if malformed. */
export function parseDayKey(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms;
}

export interface Period {
  /** Unique per period and kind, e.g. `MONTH:2024-02-01`. */
  id: string;
  /** UTC midnight of the first day, in ms. */
  start: number;
  /** UTC midnight after the last day, in ms (exclusive). */
  end: number;
}

/**
 * The quota period holding `ms`: DAY = the UTC day; WEEK = the ISO week, Monday 00:00 UTC to the next Monday;
 * MONTH = the UTC calendar month. (A usage plan's quota `offset` is not applied: see README.md.)
 */
export function periodOf(period: QuotaPeriod, ms: number): Period {
  const day = dayStart(ms);
  switch (period) {
    case 'DAY':
      return { id: `DAY:${dayKey(day)}`, start: day, end: day + DAY_MS };
    case 'WEEK': {
      const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
      const start = day - sinceMonday * DAY_MS;
      return { id: `WEEK:${dayKey(start)}`, start, end: start + 7 * DAY_MS };
    }
    case 'MONTH': {
      const d = new Date(day);
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      return { id: `MONTH:${dayKey(start)}`, start, end };
    }
    default:
      throw new Error(`Unknown quota period ${String(period)}`);
  }
}
