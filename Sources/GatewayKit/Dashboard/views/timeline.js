// A job's progress and timeline: a progress bar, then each step with its status, attempts, duration
// and message, every attempt that did not succeed with its error, and the job's own events.
import { h, badge, duration, time, absoluteTime, statusLabel } from '../dom.js';
import { gantt, formatMs } from '../plots.js';

const stepDescriptions = {
  'store.create': {
    namespace: 'create the store\u2019s namespace',
    guardrails: 'apply quota, limits and network policy',
    secrets: 'generate the admin credentials',
    release: 'install the Helm release',
    readiness: 'wait until the store is ready',
    finalize: 'record the store\u2019s URLs',
  },
  'store.delete': {
    uninstall: 'uninstall the Helm release',
    namespace: 'delete the namespace',
    'wait-gone': 'wait until the namespace is gone',
    finalize: 'mark the store deleted',
  },
};

const failedAttemptStatuses = new Set(['retrying', 'failed', 'interrupted', 'cancelled']);

export function jobKindLabel(kind) {
  if (kind === 'store.create') return 'Create';
  if (kind === 'store.delete') return 'Delete';
  if (kind === 'store.update') return 'Update';
  if (kind === 'store.suspend') return 'Suspend';
  if (kind === 'store.resume') return 'Resume';
  return kind;
}

/** "3 of 6 steps done", plus what runs now. */
export function progressText(job) {
  const total = job.steps.length;
  const done = job.steps.filter((s) => s.status === 'succeeded').length;
  const current = job.steps.find((s) => s.status === 'running' || s.status === 'retrying');
  let text = `${done} of ${total} steps done`;
  if (job.status === 'succeeded') text = `All ${total} steps done`;
  else if (job.status === 'failed') text += ` \u2014 failed at step ${job.current_step + 1}`;
  else if (job.status === 'cancelled') text += ' \u2014 cancelled';
  else if (current) text += ` \u2014 ${current.status === 'retrying' ? 'waiting to retry' : 'running'}: ${current.name}`;
  else if (job.status === 'queued') text += ' \u2014 waiting for a worker';
  return text;
}

/** The progress bar with its label, as a <progress> element. */
export function progressBar(job, labelId) {
  const percent = Math.round((job.progress || 0) * 100);
  return h('div', { class: 'progress-block' },
    h('progress', { max: '100', value: String(percent), 'aria-labelledby': labelId, class: `progress-${job.status}` }, `${percent}%`),
    h('p', { class: 'progress-text', id: `${labelId}-text` }, `${percent}% \u00b7 ${progressText(job)}`));
}

function attemptsOf(job, position) {
  const byAttempt = new Map();
  for (const t of job.transitions || []) {
    if (t.position !== position || t.position === undefined || t.position === null) continue;
    if (!byAttempt.has(t.attempt)) byAttempt.set(t.attempt, []);
    byAttempt.get(t.attempt).push(t);
  }
  return [...byAttempt.entries()].sort((a, b) => a[0] - b[0]).map(([attempt, transitions]) => {
    const last = transitions[transitions.length - 1];
    return { attempt, status: last.status, at: last.at, duration_ms: last.duration_ms, message: last.message, worker: last.worker_id };
  });
}

function stepItem(job, step) {
  const attempts = attemptsOf(job, step.position);
  const failures = attempts.filter((a) => failedAttemptStatuses.has(a.status));
  const facts = [];
  if (step.attempts > 0) facts.push(`${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`);
  // A running step's duration is its previous attempt's; show durations of finished steps only.
  const took = ['running', 'pending'].includes(step.status) ? '' : duration(step.duration_ms);
  if (took) facts.push(took);
  const description = stepDescriptions[job.kind]?.[step.name];
  return h('li', { class: `step step-${step.status}`, dataset: { step: step.name, status: step.status } },
    h('div', { class: 'step-head' },
      h('span', { class: 'step-marker', 'aria-hidden': 'true' }, String(step.position + 1)),
      h('span', { class: 'step-name' }, step.name, description ? h('span', { class: 'step-description' }, ` \u2014 ${description}`) : null),
      badge(step.status),
      facts.length ? h('span', { class: 'step-facts' }, facts.join(' \u00b7 ')) : null),
    step.message && !failures.some((f) => f.message === step.message)
      ? h('p', { class: 'step-message' }, step.message) : null,
    failures.length
      ? h('ul', { class: 'attempts', 'aria-label': `Failed attempts of ${step.name}` }, failures.map((a) =>
        h('li', { class: 'attempt attempt-failed' },
          h('span', { class: 'attempt-title' }, `Attempt ${a.attempt} ${a.status === 'retrying' ? 'failed, retried' : statusLabel(a.status).toLowerCase()}`),
          a.duration_ms !== undefined && a.duration_ms !== null ? ` after ${duration(a.duration_ms)}` : '',
          ' \u00b7 ', time(a.at),
          a.message ? h('p', { class: 'attempt-error' }, h('span', { class: 'visually-hidden' }, 'Error: '), a.message) : null)))
      : null);
}

function jobEvents(job) {
  const events = (job.transitions || []).filter((t) => t.position === undefined || t.position === null);
  if (!events.length) return null;
  return h('details', { class: 'job-events' },
    h('summary', {}, `Job history (${events.length} event${events.length === 1 ? '' : 's'})`),
    h('ol', {}, events.map((t) => h('li', {},
      h('span', { class: 'event-time', title: absoluteTime(t.at) }, absoluteTime(t.at)), ' ',
      badge(t.status),
      t.duration_ms ? ` after ${duration(t.duration_ms)}` : '',
      t.message ? h('span', { class: 'event-message' }, ` \u2014 ${t.message}`) : null))));
}

/**
 * The job's step attempts on one time axis (a Gantt chart): each attempt a bar from its start to its
 * end, failed and retried attempts in their own colour, the gaps between them the retry waits.
 */
export function jobGantt(job, now = Date.now()) {
  const transitions = (job.transitions || []).filter((t) => t.position !== undefined && t.position !== null);
  if (!transitions.length) return null;
  const bars = [];
  const open = new Map();
  for (const t of transitions) {
    const at = Date.parse(t.at);
    const key = `${t.position}:${t.attempt}`;
    if (t.status === 'running') { open.set(key, { at, t }); continue; }
    const started = open.get(key);
    open.delete(key);
    const start = t.duration_ms !== undefined && t.duration_ms !== null ? at - t.duration_ms : (started ? started.at : at);
    const status = t.status === 'succeeded' ? 'succeeded' : 'failed';
    bars.push({ row: t.step, attempt: t.attempt, start, end: at, status,
      label: `${t.step}, attempt ${t.attempt}: ${t.status} after ${formatMs(at - start)}${t.message ? ` — ${t.message}` : ''}` });
  }
  const finished = job.finished_at ? Date.parse(job.finished_at) : null;
  for (const { at, t } of open.values()) {
    // A run that ended without its own transition (a worker that died) ends where the job did.
    const end = finished || now;
    bars.push({ row: t.step, attempt: t.attempt, start: at, end, status: finished ? 'failed' : 'running',
      label: `${t.step}, attempt ${t.attempt}: ${finished ? 'interrupted' : 'running'} for ${formatMs(end - at)}` });
  }
  bars.sort((a, b) => a.start - b.start);
  const from = Date.parse(job.started_at || job.created_at);
  const to = Math.max(finished || now, ...bars.map((b) => b.end));
  const rows = job.steps.map((step) => step.name).filter((name) => bars.some((b) => b.row === name));
  const retried = bars.filter((b) => b.status === 'failed').length;
  return gantt({
    id: `gantt-${job.id}`, title: 'Step timeline', rows, bars, width: 900, from: Math.min(from, ...bars.map((b) => b.start)), to,
    describe: () => `${bars.length} attempt${bars.length === 1 ? '' : 's'} over ${formatMs(to - from)}; ` +
      `${retried ? `${retried} failed or retried` : 'none failed'}. ` +
      rows.map((row) => `${row}: ${formatMs(bars.filter((b) => b.row === row).reduce((sum, b) => sum + (b.end - b.start), 0))}`).join(', ') + '.',
  });
}

/** The whole timeline block for a job fetched with include=transitions. */
export function jobTimeline(job, { labelId }) {
  return h('div', { class: 'job', dataset: { jobId: job.id, jobStatus: job.status } },
    h('p', { class: 'job-summary' },
      h('strong', {}, `${jobKindLabel(job.kind)} job`), ' ', badge(job.status), ' \u00b7 started ', time(job.started_at || job.created_at),
      job.finished_at ? [' \u00b7 finished ', time(job.finished_at)] : null),
    progressBar(job, labelId),
    job.error ? h('p', { class: 'job-error', role: 'note' }, h('strong', {}, 'Error: '), job.error) : null,
    jobGantt(job),
    h('ol', { class: 'timeline', 'aria-label': 'Steps' }, job.steps.map((step) => stepItem(job, step))),
    jobEvents(job));
}
