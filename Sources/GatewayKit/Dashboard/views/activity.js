// Activity: the operations panel (GET /api/stats, refreshed every few seconds) and the audit log
// (GET /api/audit, newest first, "Load more" follows next_cursor).
import { h, replace, time, statusLabel } from '../dom.js';
import { coalesced } from '../util.js';
import { stackedColumns, rangeBars, countBars, formatMs } from '../plots.js';

const STATS_EVERY_MS = 5000;
const SERIES_EVERY_MS = 10000;
const outcomes = [
  { key: 'succeeded', label: 'Succeeded', className: 'plot-succeeded' },
  { key: 'failed', label: 'Failed', className: 'plot-failed' },
  { key: 'cancelled', label: 'Cancelled', className: 'plot-cancelled' },
];

const actionLabels = {
  'store.create': 'Store created',
  'store.delete': 'Store deletion requested',
  'store.retry': 'Store retried',
  'store.credentials.view': 'Credentials viewed',
  'tenant.create': 'Tenant created',
  'tenant.update': 'Tenant changed',
  'token.issued': 'Token issued',
  'token.revoked': 'Token revoked',
};

export function render(ctx) {
  const isAdmin = ctx.session.me?.tenant.role === 'admin';

  // --- operations ------------------------------------------------------------------------------
  const stats = h('dl', { class: 'stats', id: 'stats' });
  const statsStatus = h('p', { class: 'muted' }, 'Loading\u2026');
  const byStatus = h('p', { class: 'hint' });

  function tile(term, value, id, note) {
    return h('div', { class: 'stat' }, h('dt', {}, term), h('dd', { id, dataset: { value: String(value) } }, String(value)),
      note ? h('dd', { class: 'stat-note' }, note) : null);
  }

  const loadStats = coalesced(async () => {
    const s = await ctx.api.stats({ signal: ctx.signal });
    replace(stats,
      tile('Queue depth', s.queue_depth, 'stat-queue-depth', s.retry_scheduled ? `${s.retry_scheduled} waiting to retry` : 'jobs waiting for a worker'),
      tile('Running jobs', s.running_jobs, 'stat-running', isAdmin ? 'all tenants' : 'your stores'),
      tile('Live workers', s.live_workers, 'stat-workers', s.live_workers === 0 ? 'no worker is running!' : 'worker processes'),
      tile('Jobs per minute', s.jobs_finished_last_minute, 'stat-per-minute', 'finished in the last minute'));
    const entries = Object.entries(s.jobs_by_status || {}).sort((a, b) => b[1] - a[1]);
    byStatus.textContent = entries.length
      ? `All jobs by status: ${entries.map(([k, n]) => `${statusLabel(k).toLowerCase()} ${n}`).join(', ')}.`
      : 'No jobs yet.';
    statsStatus.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${STATS_EVERY_MS / 1000} seconds.`;
  }, (error) => { statsStatus.textContent = `Could not load the statistics. ${error.message}`; });
  const statsTimer = setInterval(() => { if (!document.hidden) loadStats(); }, STATS_EVERY_MS);
  loadStats();

  // --- the last hour, plotted (GET /api/stats/series) ----------------------------------------------
  const plots = h('div', { class: 'plots', id: 'plots' });
  const plotsStatus = h('p', { class: 'muted' }, 'Loading\u2026');
  const loadSeries = coalesced(async () => {
    const series = await ctx.api.statsSeries({ signal: ctx.signal });
    const minuteLabel = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const points = series.jobs_per_minute.map((p) => ({ label: minuteLabel(p.minute), values: p }));
    const steps = series.step_durations.map((d) => ({ label: `${d.step} (${d.kind.replace('store.', '')})`, p50: d.p50_ms, p95: d.p95_ms, count: d.count }));
    const causes = new Map();
    for (const f of series.failures) causes.set(f.cause, (causes.get(f.cause) || 0) + f.count);
    const causeRows = [...causes.entries()].sort((a, b) => b[1] - a[1]).map(([label, value]) => ({ label, value }));
    // Drawn at the size they are shown, so that their text is the page's size: the columns across the
    // card, the bars in half of it when there is room for two side by side.
    const inner = Math.max(280, (plots.clientWidth || 960) - 26);
    const half = plots.clientWidth >= 880 ? Math.floor((plots.clientWidth - 16) / 2) - 26 : inner;
    replace(plots,
      stackedColumns({
        id: 'plot-jobs-per-minute', title: 'Jobs finished per minute', points, series: outcomes, width: inner, wide: true,
        describe: (totals) => {
          const sum = (key) => series.jobs_per_minute.reduce((n, p) => n + (p[key] || 0), 0);
          return `Over the last ${series.window_minutes} minutes: ${sum('succeeded')} succeeded, ${sum('failed')} failed, ` +
            `${sum('cancelled')} cancelled; at most ${Math.max(0, ...totals)} in one minute.`;
        },
      }),
      rangeBars({
        id: 'plot-step-durations', title: 'Step durations (p50 and p95)', rows: steps, width: half,
        describe: () => steps.length
          ? `Successful step attempts of jobs finished in the last hour. ${steps.map((r) => `${r.label}: p50 ${formatMs(r.p50)}, p95 ${formatMs(r.p95)}`).join('; ')}.`
          : 'No step finished in the last hour.',
      }),
      countBars({
        id: 'plot-failures', title: 'Failed attempts by cause', rows: causeRows, width: half,
        describe: () => causeRows.length
          ? `Failed or retried step attempts in the last hour: ${causeRows.map((r) => `${r.label} ${r.value}`).join(', ')}.`
          : 'No step attempt failed in the last hour.',
      }));
    plotsStatus.textContent = `Last ${series.window_minutes} minutes, ${isAdmin ? 'every tenant' : 'your stores'}; updated ${new Date().toLocaleTimeString()}, every ${SERIES_EVERY_MS / 1000} seconds.`;
  }, (error) => { plotsStatus.textContent = `Could not load the plots. ${error.message}`; });
  const seriesTimer = setInterval(() => { if (!document.hidden) loadSeries(); }, SERIES_EVERY_MS);
  loadSeries();

  // --- audit log ---------------------------------------------------------------------------------
  const auditBody = h('tbody');
  const auditStatus = h('p', { class: 'muted', role: 'status' }, 'Loading the audit log\u2026');
  const more = h('button', { type: 'button', class: 'button-secondary', hidden: true }, 'Load more');
  let cursor = null;

  function target(event) {
    const label = event.details?.name || (event.target_id ? event.target_id.slice(0, 8) : '');
    if (event.target_type === 'store' && event.target_id) {
      return h('a', { href: `#/stores/${event.target_id}` }, `store ${label}`);
    }
    return `${event.target_type}${label ? ` ${label}` : ''}`;
  }

  function details(event) {
    const entries = Object.entries(event.details || {}).filter(([key]) => key !== 'name');
    if (!entries.length) return h('span', { class: 'muted' }, '\u2014');
    return h('ul', { class: 'kv' }, entries.map(([key, value]) => h('li', {}, h('span', { class: 'kv-key' }, `${key.replace(/_/g, ' ')}: `), value)));
  }

  function row(event) {
    return h('tr', { dataset: { action: event.action } },
      h('td', { 'data-label': 'When' }, time(event.at)),
      h('td', { 'data-label': 'Action' }, actionLabels[event.action] || event.action),
      h('td', { 'data-label': 'Target' }, target(event)),
      h('td', { 'data-label': 'Details' }, details(event)),
      h('td', { 'data-label': 'Client' }, event.client_ip || '\u2014'),
      isAdmin ? h('td', { 'data-label': 'Tenant' }, event.tenant_id ? h('code', { title: event.tenant_id }, event.tenant_id.slice(0, 8)) : '\u2014') : null);
  }

  async function loadAudit({ append }) {
    more.disabled = true;
    try {
      const page = await ctx.api.audit({ cursor: append ? cursor : null });
      if (ctx.signal.aborted) return;
      if (!append) auditBody.replaceChildren();
      for (const event of page.items) auditBody.append(row(event));
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      const count = auditBody.children.length;
      auditStatus.textContent = count ? `${count} event${count === 1 ? '' : 's'} shown${cursor ? '; more are available' : ''}.` : 'Nothing has been recorded yet.';
    } catch (error) {
      if (!ctx.signal.aborted) auditStatus.textContent = `Could not load the audit log. ${error.message}`;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => loadAudit({ append: true }));
  const refreshAudit = h('button', { type: 'button', class: 'button-secondary' }, 'Refresh');
  refreshAudit.addEventListener('click', () => loadAudit({ append: false }));
  loadAudit({ append: false });

  const node = h('section', {},
    h('h1', { tabindex: '-1' }, 'Activity'),
    h('section', { class: 'card', 'aria-labelledby': 'ops-title' },
      h('h2', { id: 'ops-title' }, 'Operations'),
      h('p', { class: 'hint' }, 'Queue depth and live workers are platform-wide; job figures cover ', isAdmin ? 'every tenant.' : 'your stores.'),
      stats, byStatus, statsStatus),
    h('section', { class: 'card', 'aria-labelledby': 'plots-title' },
      h('h2', { id: 'plots-title' }, 'The last hour'),
      plotsStatus, plots),
    h('section', { class: 'card', 'aria-labelledby': 'audit-title' },
      h('div', { class: 'view-head' }, h('h2', { id: 'audit-title' }, 'Audit log'), refreshAudit),
      h('p', { class: 'hint' }, isAdmin ? 'Every tenant\u2019s recorded actions, newest first.' : 'Your tenant\u2019s recorded actions, newest first.'),
      auditStatus,
      h('div', { class: 'table-wrap' }, h('table', { class: 'audit-table', 'aria-labelledby': 'audit-title' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Action'), h('th', { scope: 'col' }, 'Target'),
          h('th', { scope: 'col' }, 'Details'), h('th', { scope: 'col' }, 'Client'), isAdmin ? h('th', { scope: 'col' }, 'Tenant') : null)),
        auditBody)),
      more));
  return { title: 'Activity', node, cleanup: () => { clearInterval(statsTimer); clearInterval(seriesTimer); } };
}
