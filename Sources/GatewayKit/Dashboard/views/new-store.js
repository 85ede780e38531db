// Create a store: name with inline validation (the server's rules), engine choice, then the create
// job's progress as it happens.
import { h, replace, badge, statusLabel, engineLabel } from '../dom.js';
import { ApiError } from '../api.js';
import { nameProblem } from '../validation.js';
import { coalesced, debounced } from '../util.js';
import { jobTimeline, progressText } from './timeline.js';

export function render(ctx) {
  const cleanups = [];
  const nameInput = h('input', {
    id: 'store-name', name: 'name', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none',
    required: true, maxlength: '60', 'aria-describedby': 'store-name-hint store-name-error', class: 'input-wide',
  });
  const nameError = h('p', { id: 'store-name-error', class: 'field-error', 'aria-live': 'polite' });
  const formError = h('div', { class: 'form-error', role: 'alert', id: 'create-error' });
  const submit = h('button', { type: 'submit', class: 'button-primary' }, 'Create store');
  const engines = [
    { value: 'woocommerce', label: 'WooCommerce', hint: 'WordPress with WooCommerce and MariaDB' },
    { value: 'medusa', label: 'MedusaJS', hint: 'Medusa with PostgreSQL and Redis' },
  ];
  const engineInputs = engines.map((engine, index) => h('input', {
    type: 'radio', name: 'engine', id: `engine-${engine.value}`, value: engine.value, checked: index === 0,
    'aria-describedby': `engine-${engine.value}-hint`,
  }));
  let touched = false;

  function showNameError(text) {
    nameError.textContent = text || '';
    if (text) nameInput.setAttribute('aria-invalid', 'true');
    else nameInput.removeAttribute('aria-invalid');
  }

  /** Inline validation. While typing, "too short" waits until the field is left (or on submit). */
  function validate({ final = false } = {}) {
    const value = nameInput.value;
    const problem = nameProblem(value);
    if (!problem) {
      showNameError('');
      return true;
    }
    const tooShortWhileTyping = !final && !touched && problem === 'must be 3 to 40 characters' && value.length < 3;
    showNameError(tooShortWhileTyping || (value === '' && !final) ? '' : `Name ${problem}.`);
    return false;
  }

  nameInput.addEventListener('input', () => {
    formError.textContent = '';
    validate();
  });
  nameInput.addEventListener('blur', () => {
    if (nameInput.value !== '') {
      touched = true;
      validate();
    }
  });

  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'new-title', id: 'create-form' },
    h('div', { class: 'field' },
      h('label', { for: 'store-name' }, 'Store name'),
      h('p', { id: 'store-name-hint', class: 'hint' },
        '3 to 40 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen. ',
        'It becomes the store\u2019s web address, so it must be unique.'),
      nameInput,
      nameError),
    h('fieldset', { class: 'field engines' },
      h('legend', {}, 'Engine'),
      engines.map((engine, index) => h('div', { class: 'radio' },
        engineInputs[index],
        h('label', { for: `engine-${engine.value}` }, engine.label),
        h('p', { class: 'hint', id: `engine-${engine.value}-hint` }, engine.hint)))),
    formError,
    h('div', { class: 'actions' }, submit, h('a', { href: '#/stores', class: 'button-link button-secondary' }, 'Cancel')));

  const progressSection = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'progress-title', id: 'create-progress' });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.textContent = '';
    touched = true;
    if (!validate({ final: true })) {
      nameInput.focus();
      return;
    }
    const engine = engineInputs.find((i) => i.checked)?.value || 'woocommerce';
    submit.disabled = true;
    submit.textContent = 'Creating\u2026';
    try {
      const accepted = await ctx.api.createStore(nameInput.value, engine);
      if (ctx.signal.aborted) return;
      track(accepted);
    } catch (error) {
      if (ctx.signal.aborted) return;
      submit.disabled = false;
      submit.textContent = 'Create store';
      const fieldMessage = error instanceof ApiError ? error.fieldErrors.name : null;
      if (fieldMessage) {
        showNameError(`${fieldMessage}.`.replace(/\.\.$/, '.'));
        nameInput.focus();
      } else {
        formError.textContent = error?.message || String(error);
      }
    }
  });

  /** After a 202: follow the create job until it ends. */
  function track(accepted) {
    const { store } = accepted;
    let job = accepted.job;
    let storeStatus = store.status;
    form.hidden = true;
    progressSection.hidden = false;
    const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'progress-live' });
    const statusLine = h('p', { class: 'store-status-line' });
    const timelineBox = h('div', { id: 'create-timeline' });
    const after = h('div', { class: 'actions', hidden: true });
    replace(progressSection,
      h('h2', { id: 'progress-title', tabindex: '-1' }, `Creating ${store.name}`),
      h('p', { class: 'hint' }, `${engineLabel(store.engine)} store. This page follows its provisioning job as it happens; you can leave it, the job keeps running.`),
      statusLine, live, after, timelineBox);
    progressSection.querySelector('h2').focus();
    ctx.announce(`Store ${store.name} accepted; provisioning started.`);
    let lastSpoken = '';
    let drawnKey = '';

    function draw() {
      const key = JSON.stringify([storeStatus, job]);
      if (key === drawnKey) return;
      drawnKey = key;
      replace(statusLine, 'Store status: ', h('span', { id: 'created-store-status', dataset: { status: storeStatus } }, badge(storeStatus)));
      if (job) replace(timelineBox, jobTimeline(job, { labelId: 'create-progress-label' }),
        h('span', { id: 'create-progress-label', class: 'visually-hidden' }, `Provisioning progress of ${store.name}`));
      const spoken = job ? progressText(job) : '';
      if (spoken !== lastSpoken) {
        lastSpoken = spoken;
        live.textContent = spoken;
      }
      const finished = storeStatus === 'ready' || storeStatus === 'failed' || storeStatus === 'deleted';
      if (finished && after.hidden) {
        after.hidden = false;
        const again = h('button', { type: 'button', class: 'button-secondary' }, 'Create another store');
        again.addEventListener('click', () => ctx.navigate('#/new', { replace: true }));
        replace(after,
          h('a', { href: `#/stores/${store.id}`, class: 'button-link button-primary', id: 'open-created-store' }, `Open ${store.name}`),
          again);
        ctx.announce(storeStatus === 'ready' ? `Store ${store.name} is ready.` : `Store ${store.name} is ${statusLabel(storeStatus).toLowerCase()}.`);
      }
    }

    const refresh = coalesced(async () => {
      if (job) job = await ctx.api.job(job.id, { signal: ctx.signal });
      if (!job || ['succeeded', 'failed', 'cancelled'].includes(job.status) || storeStatus !== 'provisioning') {
        const current = await ctx.api.store(store.id, { signal: ctx.signal });
        storeStatus = current.status;
        if (!job && current.latest_job) job = await ctx.api.job(current.latest_job.id, { signal: ctx.signal });
      }
      draw();
    }, (error) => ctx.showError(`Could not follow the job: ${error.message}`));
    const refreshSoon = debounced(refresh, 150);

    cleanups.push(
      ctx.bus.on('job', (event) => { if (event.job_id === job?.id || event.store_id === store.id) refreshSoon(); }),
      ctx.bus.on('store', (event) => {
        if (event.id !== store.id) return;
        storeStatus = event.status;
        refreshSoon();
      }),
      ctx.bus.on('poll', refresh),
      ctx.bus.on('resync', refresh),
      () => refreshSoon.cancel(),
    );
    draw();
    refresh();
  }

  const node = h('section', {},
    h('h1', { id: 'new-title', tabindex: '-1' }, 'Create a store'),
    form,
    progressSection);
  return { title: 'Create a store', node, cleanup: () => cleanups.forEach((c) => c()) };
}
