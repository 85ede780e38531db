// Small SVG plots, drawn here (no chart library, no build step). Every plot is a <figure> whose SVG
// has role="img" with a title and a description, and a table of the same numbers for screen readers
// and for anyone who would rather read them (a <details> under the picture). Colours come from CSS
// classes (styles.css), like the rest of the page.
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
let counter = 0;

/** An SVG element; attributes as for `h`, children nodes or strings. */
export function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') element.setAttribute('class', value);
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** "1.2 s", "850 ms", "3 min 5 s". */
export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '\u2014';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** A "nice" upper bound for an axis: 1, 2, 5 × a power of ten, at least `value`. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The figure around an SVG: title and description for assistive technology, caption, data table. */
function figure({ id, title, description, svg, table, legend, className, wide }) {
  const titleId = `${id}-title`, descId = `${id}-desc`;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-labelledby', `${titleId} ${descId}`);
  svg.prepend(s('title', { id: titleId }, title), s('desc', { id: descId }, description));
  return h('figure', { class: `plot ${className || ''}${wide ? ' plot-wide' : ''}`, id, dataset: { plot: id } },
    h('figcaption', {}, h('strong', {}, title), legend || null),
    svg,
    h('details', { class: 'plot-data' }, h('summary', {}, 'Show the numbers'), table));
}

function legendOf(series) {
  return h('ul', { class: 'plot-legend' }, series.map(({ label, className }) =>
    h('li', {}, h('span', { class: `swatch ${className}`, 'aria-hidden': 'true' }), label)));
}

function dataTable(caption, head, rows) {
  return h('table', { class: 'plot-table' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, head.map((cell) => h('th', { scope: 'col' }, cell)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, i) => i === 0 ? h('th', { scope: 'row' }, cell) : h('td', {}, cell))))));
}

/**
 * Stacked columns over time: `points` [{ label, values: { key: n } }], `series` [{ key, label, className }].
 */
export function stackedColumns({ id, title, describe, points, series, width = 640, height = 180, wide = false }) {
  const pad = { left: 34, right: 8, top: 8, bottom: 22 };
  const innerW = width - pad.left - pad.right, innerH = height - pad.top - pad.bottom;
  const totals = points.map((p) => series.reduce((sum, { key }) => sum + (p.values[key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = innerW / Math.max(points.length, 1);
  const barW = Math.max(1, slot - (slot > 4 ? 1.5 : 0.5));
  const y = (v) => pad.top + innerH - (v / max) * innerH;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'plot-svg', preserveAspectRatio: 'none' });
  for (const tick of [0, max / 2, max]) {
    svg.append(s('line', { class: 'plot-grid', x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick) }),
      s('text', { class: 'plot-tick', x: pad.left - 4, y: y(tick) + 3, 'text-anchor': 'end' }, String(Math.round(tick * 10) / 10)));
  }
  points.forEach((point, i) => {
    let base = 0;
    for (const { key, label, className } of series) {
      const value = point.values[key] || 0;
      if (!value) continue;
      const top = y(base + value), bottom = y(base);
      svg.append(s('rect', { class: `plot-bar ${className}`, x: pad.left + i * slot, y: top, width: barW, height: Math.max(bottom - top, 0.5) },
        s('title', {}, `${point.label}: ${value} ${label.toLowerCase()}`)));
      base += value;
    }
  });
  const labelEvery = Math.ceil(points.length / 6) || 1;
  points.forEach((point, i) => {
    if (i % labelEvery === 0 || i === points.length - 1) {
      svg.append(s('text', { class: 'plot-tick', x: pad.left + i * slot + barW / 2, y: height - 6, 'text-anchor': 'middle' }, point.label));
    }
  });
  const rows = points.filter((_, i) => totals[i] > 0).map((p) => [p.label, ...series.map(({ key }) => String(p.values[key] || 0))]);
  return figure({
    id: id || `plot-${++counter}`, title, description: describe(totals), svg, legend: legendOf(series), wide,
    table: rows.length ? dataTable(title, ['Minute', ...series.map((x) => x.label)], rows) : h('p', { class: 'muted' }, 'Nothing finished in this window.'),
  });
}

/**
 * One labelled row per item, each with bars from zero (`segments`, drawn in order, so the longest first)
 * and the row's value written after them. Returns the SVG.
 */
function barRows({ rows, width, right, segments, value, empty }) {
  const rowH = 22, pad = { left: Math.min(170, width * 0.4), right, top: 4, bottom: 4 };
  const height = pad.top + pad.bottom + rowH * Math.max(rows.length, 1);
  const max = niceMax(Math.max(0, ...rows.map((r) => value(r).at)));
  const x = (v) => pad.left + (v / max) * (width - pad.left - pad.right);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'plot-svg' });
  rows.forEach((row, i) => {
    const top = pad.top + i * rowH;
    const { at, text } = value(row);
    svg.append(
      s('text', { class: 'plot-label', x: pad.left - 6, y: top + rowH / 2 + 4, 'text-anchor': 'end' }, row.label),
      ...segments.map(({ of, className, title }) =>
        s('rect', { class: `plot-bar ${className}`, x: pad.left, y: top + 4, width: Math.max(x(of(row)) - pad.left, 1), height: rowH - 8 },
          s('title', {}, title(row)))),
      s('text', { class: 'plot-value', x: x(at) + 4, y: top + rowH / 2 + 4 }, text));
  });
  if (!rows.length) svg.append(s('text', { class: 'plot-label', x: width / 2, y: height / 2 + 4, 'text-anchor': 'middle' }, empty));
  return svg;
}

/**
 * Horizontal ranges per row: a bar from 0 to p50 and a lighter one on to p95. `rows` [{ label, p50, p95, count }].
 */
export function rangeBars({ id, title, describe, rows, width = 640 }) {
  const empty = 'No step finished in this window.';
  const svg = barRows({
    rows, width, right: 70, empty,
    segments: [
      { of: (r) => r.p95, className: 'plot-p95', title: (r) => `${r.label}: p95 ${formatMs(r.p95)}` },
      { of: (r) => r.p50, className: 'plot-p50', title: (r) => `${r.label}: p50 ${formatMs(r.p50)}` },
    ],
    value: (r) => ({ at: r.p95 || 0, text: formatMs(r.p95) }),
  });
  return figure({
    id: id || `plot-${++counter}`, title, description: describe(), svg,
    legend: legendOf([{ label: 'p50', className: 'plot-p50' }, { label: 'p95', className: 'plot-p95' }]),
    table: rows.length
      ? dataTable(title, ['Step', 'p50', 'p95', 'Attempts'], rows.map((r) => [r.label, formatMs(r.p50), formatMs(r.p95), String(r.count)]))
      : h('p', { class: 'muted' }, empty),
  });
}

/** Horizontal bars of counts: `rows` [{ label, value }]. */
export function countBars({ id, title, describe, rows, width = 640, className = 'plot-failed' }) {
  const empty = 'No step attempt failed in this window.';
  const svg = barRows({
    rows, width, right: 50, empty,
    segments: [{ of: (r) => r.value, className, title: (r) => `${r.label}: ${r.value}` }],
    value: (r) => ({ at: r.value, text: String(r.value) }),
  });
  return figure({
    id: id || `plot-${++counter}`, title, description: describe(), svg,
    table: rows.length ? dataTable(title, ['Cause', 'Failed attempts'], rows.map((r) => [r.label, String(r.value)]))
      : h('p', { class: 'muted' }, empty),
  });
}

/**
 * A Gantt chart of a job's step attempts: `bars` [{ row, start, end, status, label }] (times in ms),
 * `rows` the row labels in order, `from`/`to` the time range.
 */
export function gantt({ id, title, describe, rows, bars, from, to, width = 640 }) {
  const rowH = 22, pad = { left: 110, right: 12, top: 4, bottom: 22 };
  const height = pad.top + pad.bottom + rowH * Math.max(rows.length, 1);
  const span = Math.max(to - from, 1);
  const x = (t) => pad.left + ((t - from) / span) * (width - pad.left - pad.right);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'plot-svg' });
  rows.forEach((label, i) => {
    svg.append(s('text', { class: 'plot-label', x: pad.left - 6, y: pad.top + i * rowH + rowH / 2 + 4, 'text-anchor': 'end' }, label));
  });
  for (const tick of [0, 0.5, 1]) {
    const t = from + tick * span;
    svg.append(s('line', { class: 'plot-grid', x1: x(t), x2: x(t), y1: pad.top, y2: height - pad.bottom }),
      s('text', { class: 'plot-tick', x: x(t), y: height - 6, 'text-anchor': tick === 0 ? 'start' : tick === 1 ? 'end' : 'middle' },
        tick === 0 ? '0' : `+${formatMs(t - from)}`));
  }
  for (const bar of bars) {
    const row = rows.indexOf(bar.row);
    const left = x(bar.start), right = Math.max(x(bar.end), left + 2);
    svg.append(s('rect', {
      class: `plot-bar gantt-${bar.status}`, x: left, y: pad.top + row * rowH + 4, width: right - left, height: rowH - 8,
      'data-status': bar.status,
    }, s('title', {}, bar.label)));
  }
  return figure({
    id: id || `plot-${++counter}`, title, description: describe(), svg, className: 'plot-gantt',
    legend: legendOf([{ label: 'succeeded', className: 'gantt-succeeded' }, { label: 'failed or retried', className: 'gantt-failed' },
      { label: 'running', className: 'gantt-running' }]),
    table: dataTable(title, ['Step', 'Attempt', 'Started', 'Took', 'Outcome'],
      bars.map((b) => [b.row, String(b.attempt), `+${formatMs(b.start - from)}`, formatMs(b.end - b.start), b.status])),
  });
}
