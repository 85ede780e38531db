// Small DOM helpers. Server text only ever reaches the page through text nodes and attributes set
// here (never innerHTML), so a store name or an error message cannot inject markup.

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, `dataset`, booleans (set when
 * true, left out when false), anything else as an attribute. Children: nodes, strings (as text), arrays,
 * and null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'text') element.textContent = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'value') element.value = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

let counter = 0;
/** A page-unique ID for label/aria wiring. */
export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${counter}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A <time> element: relative text ("2 minutes ago"), the exact time in its title and datetime. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const date = new Date(iso);
  const element = h('time', { datetime: iso, title: dateTime.format(date) }, relativeText(date));
  element.dataset.relative = 'true';
  return element;
}

export function absoluteTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

function relativeText(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return relative.format(seconds, 'second');
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), 'hour');
  return dateTime.format(date);
}

/** Refreshes the text of every relative <time> under `root`. */
export function refreshTimes(root = document) {
  for (const element of root.querySelectorAll('time[data-relative]')) {
    element.textContent = relativeText(new Date(element.getAttribute('datetime')));
  }
}

/** "18 ms", "2.4 s", "1 min 5 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

const statusLabels = {
  provisioning: 'Provisioning', ready: 'Ready', failed: 'Failed', deleting: 'Deleting', deleted: 'Deleted',
  updating: 'Updating', suspending: 'Suspending', suspended: 'Suspended', resuming: 'Resuming',
  applied: 'Applied', 'rolling-back': 'Rolling back', 'rolled-back': 'Rolled back',
  halted: 'Halted', completed: 'Completed', updated: 'Updated', unchanged: 'Unchanged', skipped: 'Skipped', done: 'Done',
  queued: 'Queued', running: 'Running', retrying: 'Retrying', succeeded: 'Succeeded', cancelled: 'Cancelled',
  pending: 'Pending',
};

export function statusLabel(status) {
  return statusLabels[status] || (status ? status.charAt(0).toUpperCase() + status.slice(1) : 'Unknown');
}

/** A status badge: the word is always shown, the color only repeats it. */
export function badge(status) {
  return h('span', { class: `badge badge-${String(status).replace(/[^a-z-]/g, '')}`, dataset: { status } }, statusLabel(status));
}

export const engineLabels = { woocommerce: 'WooCommerce', medusa: 'MedusaJS' };
export function engineLabel(engine) {
  return engineLabels[engine] || engine;
}

/** A link that leaves the dashboard: a new tab, no opener, no referrer. Only http(s) URLs become links. */
export function externalLink(url, label) {
  if (!/^https?:\/\//i.test(url || '')) return h('span', { class: 'muted', text: url || '—' });
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, label,
    h('span', { class: 'visually-hidden', text: ' (opens in a new tab)' }));
}
