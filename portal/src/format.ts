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

export function dateTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
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
