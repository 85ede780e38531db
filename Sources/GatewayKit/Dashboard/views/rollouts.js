// Rollouts (administrators): each rollout's target and status, its waves as progress bars (canary
// first), the stores that did not take the new version and why, and halt, resume and cancel.
import { h, replace, time, badge } from '../dom.js';
import { coalesced, debounced } from '../util.js';

const SETTLED = ['updated', 'unchanged', 'rolled-back', 'failed', 'skipped'];

function targetText(target) {
  return [target.app_version && `application ${target.app_version}`, target.chart_version && `chart ${target.chart_version}`].filter(Boolean).join(', ');
}

function countsText(counts) {
  const order = ['updated', 'unchanged', 'updating', 'pending', 'rolled-back', 'failed', 'skipped'];
  return order.filter((k) => counts[k]).map((k) => `${counts[k]} ${k.replace('-', ' ')}`).join(', ') || 'nothing yet';
}

export function render(ctx) {
  const list = h('div', { id: 'rollouts' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading the rollouts\u2026');
  const actionError = h('p', { class: 'form-error', role: 'alert', id: 'rollout-error' });
  let drawnKey = '';

  function wave(w) {
    const done = SETTLED.reduce((sum, k) => sum + (w.counts[k] || 0), 0);
    const label = w.canary ? `Canary (wave ${w.wave})` : `Wave ${w.wave}`;
    const id = `wave-${w.wave}-label`;
    return h('li', { class: 'wave', dataset: { wave: String(w.wave), status: w.status } },
      h('span', { id }, label),
      h('progress', { max: String(w.stores), value: String(done), 'aria-labelledby': id, 'aria-valuetext': `${done} of ${w.stores} stores done` }),
      h('span', { class: 'wave-counts' }, `${done}/${w.stores} \u00b7 ${countsText(w.counts)}`));
  }

  function actionButton(rollout, action, label, className) {
    const button = h('button', { type: 'button', class: className, dataset: { action, rollout: rollout.id } }, label);
    button.addEventListener('click', async () => {
      actionError.textContent = '';
      button.disabled = true;
      try {
        await ctx.api.rolloutAction(rollout.id, action);
        ctx.announce(`Rollout ${action === 'halt' ? 'halting' : action === 'resume' ? 'resumed' : 'cancelling'}.`);
        await refresh();
      } catch (error) {
        if (!ctx.signal.aborted) actionError.textContent = error?.message || String(error);
        button.disabled = false;
      }
    });
    return button;
  }

  function card(rollout) {
    const actions = [];
    if (rollout.status === 'running' && !rollout.halt_requested) actions.push(actionButton(rollout, 'halt', 'Halt', 'button-secondary'));
    if (rollout.status === 'halted') actions.push(actionButton(rollout, 'resume', 'Resume', 'button-primary'));
    if (rollout.status === 'running' || rollout.status === 'halted') actions.push(actionButton(rollout, 'cancel', 'Cancel rollout', 'button-danger'));
    const titleId = `rollout-${rollout.id}-title`;
    const failed = rollout.failed_stores || [];
    return h('section', { class: 'card rollout', 'aria-labelledby': titleId, dataset: { rollout: rollout.id, status: rollout.status } },
      h('div', { class: 'view-head' }, h('h2', { id: titleId }, `To ${targetText(rollout.target)}`), badge(rollout.status)),
      h('p', { class: 'hint' }, `${rollout.stores} store${rollout.stores === 1 ? '' : 's'} \u00b7 started `, time(rollout.created_at),
        rollout.halt_requested && rollout.status === 'running' ? ' \u00b7 halting after the updates running now' : null),
      rollout.reason ? h('p', { class: 'job-error' }, h('strong', {}, 'Why it stopped: '), rollout.reason) : null,
      h('ul', { class: 'waves', 'aria-label': 'Waves' }, rollout.waves.map(wave)),
      failed.length ? h('details', { open: true },
        h('summary', {}, `${failed.length} store${failed.length === 1 ? '' : 's'} did not take it`),
        h('table', { class: 'revisions' },
          h('thead', {}, h('tr', {}, ['Store', 'Wave', 'Outcome', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, failed.map((s) => h('tr', { dataset: { store: s.store_id } },
            h('td', {}, h('a', { href: `#/stores/${s.store_id}` }, s.name)), h('td', {}, String(s.wave)),
            h('td', {}, badge(s.status)), h('td', { class: 'reason' }, s.message || '')))))) : null,
      actions.length ? h('div', { class: 'actions' }, actions) : null);
  }

  const refresh = coalesced(async () => {
    const page = await ctx.api.rollouts({ signal: ctx.signal });
    // The list shows no failed stores; each rollout's own read does.
    const detailed = await Promise.all(page.items.map((r) => (r.status === 'completed' ? r : ctx.api.get(`/api/rollouts/${encodeURIComponent(r.id)}`, { signal: ctx.signal }))));
    const key = JSON.stringify(detailed);
    if (key !== drawnKey) {
      drawnKey = key;
      replace(list, detailed.length ? detailed.map(card)
        : h('p', { class: 'muted' }, 'No rollout yet. Start one with storefleet rollouts create or POST /api/rollouts.'));
    }
    status.textContent = '';
  }, (error) => { status.textContent = `Could not load the rollouts. ${error.message}`; });
  const refreshSoon = debounced(refresh, 300);

  const unsubscribe = [
    ctx.bus.on('job', refreshSoon),
    ctx.bus.on('poll', refresh),
    ctx.bus.on('resync', refresh),
  ];
  const timer = setInterval(() => { if (!document.hidden) refresh(); }, 3000);
  refresh();

  const node = h('section', {},
    h('h1', { tabindex: '-1' }, 'Rollouts'),
    h('p', { class: 'hint' }, 'A new version across stores in waves, canary first. A wave starts once the one before has ended within its failure threshold; stores that did not take the new version are back on their previous one.'),
    status, actionError, list);
  return { title: 'Rollouts', node, cleanup: () => { unsubscribe.forEach((u) => u()); refreshSoon.cancel(); clearInterval(timer); } };
}
