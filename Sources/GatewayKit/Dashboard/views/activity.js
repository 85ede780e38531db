// Activity: the operations panel (GET /api/stats, refreshed every few seconds) and the audit log
// (GET /api/audit, newest first, "Load more" follows next_cursor).
import { h, replace, time, statusLabel } from '../dom.js';
import { coalesced } from '../util.js';

const STATS_EVERY_MS = 5000;

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
  return { title: 'Activity', node, cleanup: () => clearInterval(statsTimer) };
}
