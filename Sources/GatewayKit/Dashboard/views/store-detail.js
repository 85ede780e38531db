// One store: its facts, its job timeline (every failed attempt with its error), credentials on
// demand (audited), retry for failed stores, its plan, versions and revisions with update, suspend
// and resume (store-changes.js), and delete behind a confirmation that names the store.
import { h, replace, time, badge, engineLabel, externalLink, absoluteTime, statusLabel } from '../dom.js';
import { ApiError } from '../api.js';
import { coalesced, debounced } from '../util.js';
import { jobTimeline, jobKindLabel } from './timeline.js';
import { storeChanges } from './store-changes.js';

export function render(ctx, storeId) {
  const isAdmin = ctx.session.me?.tenant.role === 'admin';
  let store = null;
  let jobs = [];
  let selectedJobId = null; // null: follow the latest job
  let job = null;
  let credentialsShown = false;

  const heading = h('h1', { tabindex: '-1', id: 'store-title' }, 'Store');
  const headBadge = h('span', { id: 'store-status' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading the store\u2026');
  const facts = h('dl', { class: 'facts' });
  const lastError = h('div', { class: 'job-error', hidden: true });
  const actions = h('div', { class: 'actions', id: 'store-actions' });
  const credentials = h('div', { id: 'credentials-panel', class: 'credentials', hidden: true });
  const credentialsButton = h('button', { type: 'button', class: 'button-secondary', id: 'reveal-credentials', 'aria-expanded': 'false', 'aria-controls': 'credentials-panel' }, 'Reveal credentials');
  const retryButton = h('button', { type: 'button', class: 'button-primary', id: 'retry-store', hidden: true }, 'Retry');
  const deleteButton = h('button', { type: 'button', class: 'button-danger', id: 'delete-store', hidden: true }, 'Delete store\u2026');
  const actionMessage = h('p', { class: 'form-error', role: 'alert', id: 'action-error' });
  const jobsNav = h('div', { class: 'job-picker' });
  const timelineBox = h('div', { id: 'store-timeline', 'aria-live': 'off' });
  const jobLive = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const deleteDialog = buildDeleteDialog();
  const dialog = deleteDialog.element;
  const noActions = h('p', { class: 'muted', hidden: true }, 'This store is deleted: its credentials and data are gone, so there is nothing more to do with it.');
  replace(actions, credentialsButton, retryButton, deleteButton, noActions);
  // `refresh` is defined below; the closure only runs after a change, by which time it exists.
  const changes = storeChanges(ctx, storeId, { isAdmin, onChanged: () => { selectedJobId = null; return refresh(); } });

  function fact(term, ...value) {
    return [h('dt', {}, term), h('dd', {}, ...value)];
  }

  function drawStore() {
    heading.textContent = store.name;
    document.title = `${store.name} \u00b7 Storefleet`;
    replace(headBadge, badge(store.status));
    headBadge.dataset.status = store.status;
    const gone = store.status === 'deleted';
    replace(facts,
      fact('Status', badge(store.status)),
      fact('Engine', engineLabel(store.engine)),
      fact('Storefront', gone ? h('span', { class: 'muted' }, store.urls.storefront) : externalLink(store.urls.storefront, store.urls.storefront)),
      fact('Admin', gone ? h('span', { class: 'muted' }, store.urls.admin) : externalLink(store.urls.admin, store.urls.admin)),
      fact('Namespace', h('code', {}, store.namespace)),
      fact('Created', time(store.created_at), h('span', { class: 'muted' }, ` (${absoluteTime(store.created_at)})`)),
      fact('Updated', time(store.updated_at)),
      store.deleted_at ? fact('Deleted', time(store.deleted_at)) : null,
      isAdmin ? fact('Tenant', h('code', {}, store.tenant_id)) : null,
      fact('ID', h('code', {}, store.id)));
    if (store.last_error && store.status === 'failed') {
      lastError.hidden = false;
      replace(lastError, h('strong', {}, 'Why it failed: '), store.last_error);
    } else if (store.last_error && store.status === 'ready') {
      // An update that was rolled back: the store serves its previous revision.
      lastError.hidden = false;
      replace(lastError, h('strong', {}, 'The last update did not stand: '), store.last_error);
    } else {
      lastError.hidden = true;
    }
    credentialsButton.hidden = gone;
    retryButton.hidden = store.status !== 'failed';
    deleteButton.hidden = gone || store.status === 'deleting';
    noActions.hidden = !gone;
    if (gone && credentialsShown) hideCredentials();
    status.textContent = '';
  }

  function drawJobs() {
    if (jobs.length < 2) {
      jobsNav.replaceChildren();
      return;
    }
    const current = selectedJobId || jobs[0]?.id;
    replace(jobsNav, h('p', { class: 'hint', id: 'jobs-label' }, 'Jobs of this store, newest first:'),
      h('ul', { class: 'job-list', 'aria-labelledby': 'jobs-label' }, jobs.map((j, index) => {
        const button = h('button', { type: 'button', class: 'button-link-like', 'aria-pressed': String(j.id === current) },
          `${jobKindLabel(j.kind)} \u00b7 `, badge(j.status), ` \u00b7 ${absoluteTime(j.created_at)}`);
        button.addEventListener('click', () => {
          selectedJobId = index === 0 ? null : j.id;
          refresh();
        });
        return h('li', {}, button);
      })));
  }

  function drawJob() {
    if (!job) {
      replace(timelineBox, h('p', { class: 'muted' }, 'This store has no jobs.'));
      return;
    }
    replace(timelineBox, jobTimeline(job, { labelId: 'store-job-label' }),
      h('span', { id: 'store-job-label', class: 'visually-hidden' }, `Progress of the ${jobKindLabel(job.kind).toLowerCase()} job`));
  }

  let lastJobState = '';
  let drawn = {};
  const refresh = coalesced(async () => {
    const [fresh, jobPage] = await Promise.all([
      ctx.api.store(storeId, { signal: ctx.signal }),
      ctx.api.jobs(storeId, { signal: ctx.signal }),
    ]);
    const before = store?.status;
    store = fresh;
    jobs = jobPage.items;
    const wanted = selectedJobId || store.latest_job?.id || jobs[0]?.id;
    job = wanted ? await ctx.api.job(wanted, { signal: ctx.signal }) : null;
    // Redraw only what changed: keeps focus, selection and the reading position where they are.
    const storeKey = JSON.stringify(store);
    const jobsKey = JSON.stringify([jobs, selectedJobId]);
    const jobKey = JSON.stringify(job);
    if (storeKey !== drawn.store) drawStore();
    if (storeKey !== drawn.store || jobKey !== drawn.job) await changes.refresh(store);
    if (jobsKey !== drawn.jobs) drawJobs();
    if (jobKey !== drawn.job) drawJob();
    drawn = { store: storeKey, jobs: jobsKey, job: jobKey };
    if (before && before !== store.status) ctx.announce(`${store.name} is now ${statusLabel(store.status).toLowerCase()}.`);
    const jobState = job ? `${jobKindLabel(job.kind)} job ${statusLabel(job.status).toLowerCase()}, ${Math.round(job.progress * 100)}%` : '';
    if (jobState !== lastJobState) {
      lastJobState = jobState;
      jobLive.textContent = jobState;
    }
  }, (error) => {
    if (error instanceof ApiError && error.status === 404) {
      status.textContent = '';
      replace(node, h('h1', { tabindex: '-1' }, 'Store not found'),
        h('p', {}, 'There is no such store, or it belongs to another tenant. ', h('a', { href: '#/stores' }, 'Back to the store list'), '.'));
      node.querySelector('h1').focus();
      return;
    }
    status.textContent = `Could not load the store. ${error.message}`;
  });
  const refreshSoon = debounced(refresh, 150);

  // --- credentials ---------------------------------------------------------------------------
  function hideCredentials() {
    credentialsShown = false;
    credentials.hidden = true;
    credentials.replaceChildren();
    credentialsButton.textContent = 'Reveal credentials';
    credentialsButton.setAttribute('aria-expanded', 'false');
  }

  function copyButton(label, value) {
    const button = h('button', { type: 'button', class: 'button-small' }, `Copy ${label}`);
    button.addEventListener('click', async () => {
      try {
        if (!navigator.clipboard) throw new Error('no clipboard');
        await navigator.clipboard.writeText(value);
        ctx.announce(`${label} copied to the clipboard.`);
        button.textContent = 'Copied';
        setTimeout(() => { button.textContent = `Copy ${label}`; }, 2000);
      } catch {
        ctx.announce(`Could not copy the ${label}; select it and copy it by hand.`);
        button.textContent = 'Select and copy by hand';
      }
    });
    return button;
  }

  function secretRow(label, id, value) {
    return [h('dt', {}, label), h('dd', {}, h('code', { id, class: 'secret' }, value), ' ', copyButton(label.toLowerCase(), value))];
  }

  credentialsButton.addEventListener('click', async () => {
    if (credentialsShown) {
      hideCredentials();
      return;
    }
    credentials.hidden = false;
    replace(credentials, h('p', { class: 'muted', role: 'status' }, 'Reading the credentials from the cluster\u2026'));
    credentialsButton.disabled = true;
    try {
      const c = await ctx.api.credentials(storeId);
      if (ctx.signal.aborted) return;
      credentialsShown = true;
      credentialsButton.textContent = 'Hide credentials';
      credentialsButton.setAttribute('aria-expanded', 'true');
      replace(credentials,
        h('h3', {}, 'Admin credentials'),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Admin URL'), h('dd', {}, externalLink(c.admin_url, c.admin_url)),
          secretRow('Username', 'credential-username', c.username),
          secretRow('Password', 'credential-password', c.password),
          c.email ? secretRow('Email', 'credential-email', c.email) : null),
        h('p', { class: 'hint' }, 'Viewing credentials is recorded in the audit log. They are hidden again when you leave this page.'));
      ctx.announce('Credentials shown. This view was recorded in the audit log.');
      credentials.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      if (ctx.signal.aborted) return;
      replace(credentials, h('p', { class: 'form-error', role: 'alert', id: 'credentials-error' }, error?.message || String(error)));
    } finally {
      credentialsButton.disabled = false;
    }
  });

  // --- retry -------------------------------------------------------------------------------------
  retryButton.addEventListener('click', async () => {
    actionMessage.textContent = '';
    retryButton.disabled = true;
    try {
      await ctx.api.retryStore(storeId);
      selectedJobId = null;
      ctx.announce(`Retrying ${store.name} from its failed step.`);
      await refresh();
    } catch (error) {
      if (!ctx.signal.aborted) actionMessage.textContent = error?.message || String(error);
    } finally {
      retryButton.disabled = false;
    }
  });

  // --- delete ------------------------------------------------------------------------------------
  function buildDeleteDialog() {
    const confirmInput = h('input', { type: 'text', id: 'delete-confirm-name', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', 'aria-describedby': 'delete-explain' });
    const confirmButton = h('button', { type: 'submit', class: 'button-danger', id: 'delete-confirm', disabled: true }, 'Delete');
    const cancelButton = h('button', { type: 'button', class: 'button-secondary', id: 'delete-cancel' }, 'Cancel');
    const title = h('h2', { id: 'delete-title' }, 'Delete store');
    const explain = h('p', { id: 'delete-explain' });
    const label = h('label', { for: 'delete-confirm-name' }, 'Type the store name to confirm');
    const error = h('p', { class: 'form-error', role: 'alert', id: 'delete-error' });
    const form = h('form', { method: 'dialog', class: 'form' }, title, explain, h('div', { class: 'field' }, label, confirmInput), error,
      h('div', { class: 'actions' }, confirmButton, cancelButton));
    const element = h('dialog', { class: 'dialog', 'aria-labelledby': 'delete-title', 'aria-describedby': 'delete-explain', id: 'delete-dialog' }, form);
    confirmInput.addEventListener('input', () => {
      confirmButton.disabled = confirmInput.value !== store?.name;
    });
    cancelButton.addEventListener('click', () => element.close('cancel'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!store || confirmInput.value !== store.name) return;
      confirmButton.disabled = true;
      cancelButton.disabled = true;
      confirmButton.textContent = 'Deleting\u2026';
      error.textContent = '';
      try {
        await ctx.api.deleteStore(storeId);
        element.close('deleted');
        selectedJobId = null;
        ctx.announce(`Deleting ${store.name}.`);
        await refresh();
        heading.focus();
      } catch (err) {
        if (!ctx.signal.aborted) error.textContent = err?.message || String(err);
      } finally {
        cancelButton.disabled = false;
        confirmButton.textContent = `Delete ${store?.name || 'store'}`;
        confirmButton.disabled = confirmInput.value !== store?.name;
      }
    });
    const open = () => {
      title.textContent = `Delete store \u201c${store.name}\u201d?`;
      replace(explain, 'This uninstalls ', h('strong', {}, store.name), ', deletes its namespace and every piece of its data, including orders and customers. It cannot be undone. Type ',
        h('strong', {}, store.name), ' below to confirm.');
      label.textContent = `Store name (type ${store.name})`;
      confirmButton.textContent = `Delete ${store.name}`;
      confirmInput.value = '';
      confirmButton.disabled = true;
      error.textContent = '';
      element.showModal();
      confirmInput.focus();
    };
    return { element, open };
  }

  deleteButton.addEventListener('click', () => {
    if (store) deleteDialog.open();
  });

  // --- live updates --------------------------------------------------------------------------------
  const unsubscribe = [
    ctx.bus.on('store', (event) => { if (event.id === storeId) refreshSoon(); }),
    ctx.bus.on('job', (event) => { if (event.store_id === storeId) refreshSoon(); }),
    ctx.bus.on('poll', refresh),
    ctx.bus.on('resync', refresh),
  ];
  refresh();

  const node = h('section', { class: 'detail' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/stores' }, '\u2190 All stores')),
    h('div', { class: 'view-head' }, heading, headBadge),
    status,
    lastError,
    h('section', { class: 'card', 'aria-labelledby': 'actions-title' }, h('h2', { id: 'actions-title' }, 'Actions'), actions, actionMessage, credentials),
    h('section', { class: 'card', 'aria-labelledby': 'facts-title' }, h('h2', { id: 'facts-title' }, 'Details'), facts),
    changes.node,
    h('section', { class: 'card', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Job timeline'), jobsNav, jobLive, timelineBox),
    dialog);
  return {
    title: 'Store',
    node,
    cleanup: () => {
      unsubscribe.forEach((u) => u());
      refreshSoon.cancel();
      if (dialog.open) dialog.close();
      hideCredentials();
    },
  };
}
