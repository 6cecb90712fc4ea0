/**
 * Daily requests as a bar chart of plain HTML (text stays readable at any width, on a phone too), with a summary
 * sentence for screen readers and a title on every bar.
 */
import { h } from './dom.ts';
import { count, date } from './format.ts';

/** A round top for the axis: 1, 2 or 5 × 10ⁿ at or above `max`. */
export function axisTop(max: number): number {
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= max) ?? max;
}

export function usageChart(days: { date: string; used: number }[]): HTMLElement {
  const total = days.reduce((sum, d) => sum + d.used, 0);
  const max = Math.max(0, ...days.map((d) => d.used));
  const top = axisTop(max);
  const summary = `${count(total)} requests from ${date(days[0]?.date)} to ${date(days[days.length - 1]?.date)}; busiest day ${count(max)}.`;
  const every = Math.max(1, Math.ceil(days.length / 7));

  const columns = days.map((d, i) => {
    const bar = h('span', { class: d.used > 0 ? 'bar' : 'bar bar-empty' });
    // CSSOM, not a style attribute: allowed under the portal's Content-Security-Policy.
    bar.style.height = `${(d.used / top) * 100}%`;
    // Counted back from today, so the newest day always has its label.
    const labelled = (days.length - 1 - i) % every === 0;
    return h(
      'div',
      { class: 'bar-col', title: `${date(d.date)}: ${count(d.used)} requests` },
      h('div', { class: 'bar-track' }, bar),
      h('span', { class: `bar-label${labelled ? '' : ' bar-label-hidden'}` }, d.date.slice(5)),
    );
  });
  return h(
    'figure',
    { class: 'chart-figure' },
    h(
      'div',
      { class: 'chart', role: 'img', 'aria-label': `Requests per day. ${summary}` },
      h('div', { class: 'chart-axis', 'aria-hidden': 'true' }, h('span', null, count(top)), h('span', null, Number.isInteger(top / 2) ? count(top / 2) : ''), h('span', null, '0')),
      h('div', { class: 'chart-bars', 'aria-hidden': 'true' }, columns),
    ),
    h('figcaption', { class: 'hint' }, summary),
  );
}
