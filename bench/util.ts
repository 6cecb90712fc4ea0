/** Small helpers shared by the bench sections: statistics, formatting, a plain-text table. */

/** The p-th percentile (0..100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** A number with `digits` decimals, or "-" when it is not finite. */
export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A target's value: 3 decimals below 10 (ratios, so 0.799 does not print as a PASS-looking 0.80), else 1. */
export const fmtTarget = (value: number): string => fmt(value, Math.abs(value) < 10 ? 3 : 1);

/** Dollars with enough decimals to show small per-unit amounts. */
export function usd(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value === 0) return '$0';
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  if (Math.abs(value) >= 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toPrecision(3)}`;
}

export const verdict = (ok: boolean): 'PASS' | 'MISS' => (ok ? 'PASS' : 'MISS');

/** Cells that read as figures ("12.5", "$0.20", "3 / 4", "1.5e-7", "-"), right-aligned in their column. */
const FIGURE = /^[-+]?\$?[\d.,]+(e[-+]?\d+)?( \/ [-+]?\$?[\d.,]+(e[-+]?\d+)?)*$|^-$/;

/** A plain-text table: columns of figures right-aligned, the others left-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const body = rows.map((r) => r.map(String));
  const cells = [headers, ...body];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const right = headers.map((_, i) => body.length > 0 && body.every((r) => FIGURE.test(r[i] ?? '')));
  const line = (r: string[]) =>
    r.map((c, i) => (right[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function heading(title: string): string {
  return `\n${title}\n${'='.repeat(title.length)}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `concurrency` at a time; results in input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A limiter: `run(task)` starts `task` once fewer than `concurrency` tasks started through it are still running. */
export function limiter(concurrency: number): <R>(task: () => Promise<R>) => Promise<R> {
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error('concurrency must be a whole number ≥ 1');
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else running -= 1;
    }
  };
}

/** `--<name> <whole number ≥ 1>` from the command line, or `fallback` when absent; throws on anything else. */
export function positiveOption(name: string, fallback: number, argv: readonly string[] = process.argv): number {
  const at = argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}
