// Day two on a store's page: its plan and versions with a form to change them (a new revision, rolled
// back by its job when it does not become ready), suspend and resume, and the revision history.
import { h, replace, time, badge } from '../dom.js';

export function storeChanges(ctx, storeId, { isAdmin, onChanged }) {
  let store = null;
  let plans = [];
  // Whether the person picked a plan; until then the select follows the store's live plan.
  let planPicked = false;

  const planSelect = h('select', { id: 'update-plan', name: 'plan' });
  const appInput = h('input', {
    type: 'text', id: 'update-app-version', name: 'app_version', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'unchanged', 'aria-describedby': 'update-hint',
  });
  const submit = h('button', { type: 'submit', class: 'button-primary', id: 'update-submit' }, 'Update store');
  const updateError = h('p', { class: 'form-error', role: 'alert', id: 'update-error' });
  const hint = h('p', { class: 'hint', id: 'update-hint' },
    'The application version is the tag of the store\u2019s images. If the new revision does not become ready, its job puts the store back on the one it runs now.');
  const form = h('form', { class: 'change-form', id: 'update-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'update-plan' }, 'Plan'), planSelect),
    h('div', { class: 'field' }, h('label', { for: 'update-app-version' }, 'Application version'), appInput),
    submit);
  const current = h('dl', { class: 'facts', id: 'store-spec' });

  const reasonInput = h('input', { type: 'text', id: 'suspend-reason', maxlength: '500', autocomplete: 'off', placeholder: 'optional' });
  const suspendButton = h('button', { type: 'button', class: 'button-secondary', id: 'suspend-store' }, 'Suspend store');
  const resumeButton = h('button', { type: 'button', class: 'button-primary', id: 'resume-store' }, 'Resume store');
  const suspension = h('p', { id: 'suspension-note' });
  const suspendError = h('p', { class: 'form-error', role: 'alert', id: 'suspend-error' });
  const suspendBox = h('div', { class: 'change-form', id: 'suspend-box' },
    h('div', { class: 'field' }, h('label', { for: 'suspend-reason' }, 'Reason for suspending'), reasonInput), suspendButton);

  const revisionsBody = h('tbody');
  const revisionsTable = h('table', { class: 'revisions', id: 'revisions' },
    h('caption', { class: 'visually-hidden' }, 'Revisions of this store, newest first'),
    h('thead', {}, h('tr', {}, ['Revision', 'Plan', 'Application', 'Chart', 'Outcome', 'Asked', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
    revisionsBody);

  function fact(term, ...value) { return [h('dt', {}, term), h('dd', {}, ...value)]; }
  const orDefault = (value, text) => value || h('span', { class: 'muted' }, text);

  function draw(fresh) {
    store = fresh;
    replace(current,
      fact('Plan', store.plan),
      fact('Application version', orDefault(store.app_version, 'the chart\u2019s default')),
      fact('Chart version', orDefault(store.chart_version, 'the worker\u2019s chart')),
      fact('Live revision', String(store.revision)));
    const ready = store.status === 'ready';
    for (const control of [planSelect, appInput, submit]) control.disabled = !ready;
    if (!ready) updateError.textContent = '';
    if (!planPicked || !ready) {
      planPicked = false;
      planSelect.value = store.plan;
    }
    suspendBox.hidden = !ready;
    const suspended = store.status === 'suspended';
    resumeButton.hidden = !suspended;
    const lockedByAdmin = suspended && store.suspended_by === 'admin' && !isAdmin;
    resumeButton.disabled = lockedByAdmin;
    if (store.suspended_by) {
      const who = store.suspended_by === 'admin' ? 'a platform administrator' : 'its tenant';
      replace(suspension, `Suspended by ${who}`, store.suspension_reason ? `: ${store.suspension_reason}` : '', '. ',
        lockedByAdmin ? 'Only an administrator can resume it.' : 'Its workloads are at zero and its data is kept.');
      suspension.hidden = false;
    } else {
      suspension.hidden = true;
    }
  }

  function drawPlans() {
    const usable = plans.filter((plan) => plan.allowed && (!store || plan.engines[store.engine]));
    replace(planSelect, usable.map((plan) => h('option', { value: plan.name },
      plan.description ? `${plan.name} \u2014 ${plan.description}` : plan.name)));
    if (store) planSelect.value = store.plan;
  }

  function drawRevisions(items) {
    replace(revisionsBody, items.map((r) => h('tr', { dataset: { revision: String(r.revision), outcome: r.outcome } },
      h('td', {}, String(r.revision)), h('td', {}, r.spec.plan),
      h('td', {}, orDefault(r.spec.app_version, 'default')), h('td', {}, orDefault(r.spec.chart_version, 'default')),
      h('td', {}, badge(r.outcome)), h('td', {}, time(r.created_at)),
      h('td', { class: 'reason' }, r.reason || ''))));
  }

  async function refresh(fresh) {
    const [planPage, revisionPage] = await Promise.all([
      plans.length ? null : ctx.api.plans({ signal: ctx.signal }),
      ctx.api.revisions(storeId, { signal: ctx.signal }),
    ]);
    if (planPage) plans = planPage.items;
    draw(fresh);
    if (planPage) drawPlans();
    drawRevisions(revisionPage.items);
  }

  planSelect.addEventListener('change', () => { planPicked = true; });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    updateError.textContent = '';
    const changes = {};
    if (planSelect.value && planSelect.value !== store.plan) changes.plan = planSelect.value;
    const version = appInput.value.trim();
    if (version) changes.app_version = version;
    if (!Object.keys(changes).length) {
      updateError.textContent = 'Choose another plan or type an application version first.';
      return;
    }
    submit.disabled = true;
    try {
      const answer = await ctx.api.updateStore(storeId, changes);
      appInput.value = '';
      planPicked = false;
      ctx.announce(answer?.job ? `Updating ${store.name}.` : `${store.name} already runs that.`);
      await onChanged();
    } catch (error) {
      if (ctx.signal.aborted) return;
      const fields = error.fieldErrors || {};
      updateError.textContent = fields.plan || fields.app_version || error?.message || String(error);
      submit.disabled = false;
    }
  });

  suspendButton.addEventListener('click', async () => {
    suspendError.textContent = '';
    suspendButton.disabled = true;
    try {
      await ctx.api.suspendStore(storeId, reasonInput.value.trim());
      reasonInput.value = '';
      ctx.announce(`Suspending ${store.name}.`);
      await onChanged();
    } catch (error) {
      if (!ctx.signal.aborted) suspendError.textContent = error?.fieldErrors?.reason || error?.message || String(error);
    } finally {
      suspendButton.disabled = false;
    }
  });

  resumeButton.addEventListener('click', async () => {
    suspendError.textContent = '';
    resumeButton.disabled = true;
    try {
      await ctx.api.resumeStore(storeId);
      ctx.announce(`Resuming ${store.name}.`);
      await onChanged();
    } catch (error) {
      if (!ctx.signal.aborted) suspendError.textContent = error?.message || String(error);
      resumeButton.disabled = false;
    }
  });

  const node = [
    h('section', { class: 'card', 'aria-labelledby': 'spec-title', id: 'changes-card' },
      h('h2', { id: 'spec-title' }, 'Plan and version'), current, form, hint, updateError,
      h('h3', {}, 'Suspend'), suspension, suspendBox, resumeButton, suspendError),
    h('section', { class: 'card', 'aria-labelledby': 'revisions-title' },
      h('h2', { id: 'revisions-title' }, 'Revisions'), revisionsTable),
  ];
  return { node, refresh };
}
