/** Numbers, money, dates and keys as people read them. */

const numberFormat = new Intl.NumberFormat('en-US');

export function count(n: number): string {
  return numberFormat.format(n);
}

export function money(amount: number, currency = 'USD'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: amount % 1 === 0 ? 0 : 2 }).format(amount);
}

export function cents(amountCents: number, currency = 'USD'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amountCents / 100);
}

const PERIODS: Record<string, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month' };

export function period(p: string): string {
  return PERIODS[p] ?? p.toLowerCase();
}

/** "100 requests/s (bursts of 200), 1,000,000 requests a month". */
export function limits(plan: { rateLimit: number; burstLimit: number; quotaLimit: number; quotaPeriod: string }): string {
  return `${count(plan.rateLimit)} requests/s (bursts of ${count(plan.burstLimit)}), ${count(plan.quotaLimit)} requests a ${period(plan.quotaPeriod)}`;
}

export function date(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** "1 December 2026": a UTC calendar day, spelled out (the quota's reset day). */
export function longDate(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/**
 * The key card's dates: "Created 1 December 2026 · last used 3 December 2026 (UTC day)", or "… · not used yet". Last
 * used is the latest UTC day with requests in `days` (GET /me/usage): neither API Gateway nor the self-issued counters
 * keep a last-used time, both count requests per day.
 */
export function keyDatesText(created: string | undefined, days: readonly { date: string; used: number }[] | undefined): string {
  const lastUsed = [...(days ?? [])].reverse().find((d) => d.used > 0)?.date;
  return [created ? `Created ${longDate(created)}` : '', lastUsed ? `last used ${longDate(lastUsed)} (UTC day)` : 'not used yet'].filter(Boolean).join(' · ');
}

export function dateTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "Nov 30, 2026, 16:29:16 UTC": a ledger entry's instant, in UTC like the statement. */
export function utcDateTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' })}, ${d.toISOString().slice(11, 19)} UTC`;
}

const DAY_S = 86_400;
const shortDay = (ms: number): string => new Date(ms).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
/** "14:00", or "14:00:05" when the seconds are not zero (UTC). */
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, new Date(ms).getUTCSeconds() === 0 ? 16 : 19);

/**
 * When a statement line's plan was held, [from, to) in UTC: "Nov 1 – Nov 15" for whole days (midnight to midnight),
 * with times where it starts or ends within a day: "Nov 16 10:00 – 12:00", "Nov 16 18:00 – Dec 1 00:00".
 */
export function heldRange(from: string, to: string): string {
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (Number.isNaN(start) || Number.isNaN(end)) return `${from} – ${to}`;
  if (start % (DAY_S * 1000) === 0 && end % (DAY_S * 1000) === 0 && end > start) {
    const last = end - DAY_S * 1000;
    return shortDay(start) === shortDay(last) ? shortDay(start) : `${shortDay(start)} – ${shortDay(last)}`;
  }
  const sameDay = shortDay(start) === shortDay(end);
  return `${shortDay(start)} ${clock(start)} – ${sameDay ? '' : `${shortDay(end)} `}${clock(end)}`;
}

/** A time held, in its largest unit and the next one: "15 days 12 h", "1 day", "2 h", "1 h 30 min", "45 s". */
export function heldFor(seconds: number): string {
  const days = Math.floor(seconds / DAY_S);
  const units: [number, string][] = [
    [days, days === 1 ? 'day' : 'days'],
    [Math.floor((seconds % DAY_S) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'min'],
    [seconds % 60, 's'],
  ];
  const first = units.findIndex(([value]) => value > 0);
  if (first < 0) return '0 s';
  return units
    .slice(first, first + 2)
    .filter(([value]) => value > 0)
    .map(([value, unit]) => `${value} ${unit}`)
    .join(' ');
}

/** `YYYY-MM-DD` (UTC) of a day `offset` days from today. */
export function dayKey(offset = 0, now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + offset)).toISOString().slice(0, 10);
}

/** The key with all but its first and last four characters hidden. */
export function maskKey(value: string): string {
  if (value.length <= 8) return '•'.repeat(value.length);
  return `${value.slice(0, 4)}${'•'.repeat(Math.min(24, value.length - 8))}${value.slice(-4)}`;
}

export function capitalize(s: string | undefined): string {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : '';
}

/** Shell-quotes for a copy-paste curl line. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
