// The gateway's JSON API: bearer token, JSON bodies, Idempotency-Key on changes, and problem+json
// errors turned into sentences a person can act on.

const fieldNames = {
  name: 'Name', engine: 'Engine', store_limit: 'Store limit', limit: 'Limit', cursor: 'Cursor',
  plan: 'Plan', app_version: 'Application version', chart_version: 'Chart version', reason: 'Reason',
};

/** An API refusal or a failure to reach the API, with `message` written for people. */
export class ApiError extends Error {
  constructor(message, { status = 0, problem = null, requestId = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.requestId = requestId;
  }

  /** Per-field messages from a validation problem: { name: 'Name is reserved' }. */
  get fieldErrors() {
    const out = {};
    for (const error of this.problem?.errors || []) out[error.field] = sentence(error.field, error.message);
    return out;
  }

  get slug() {
    const type = this.problem?.type || '';
    return type.slice(type.lastIndexOf('/') + 1);
  }
}

function sentence(field, message) {
  return `${fieldNames[field] || field} ${message}`;
}

function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

function withStop(text) {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Words for a problem+json answer (or a bare status when the body is not one). */
export function describeProblem(status, problem, retryAfter) {
  const detail = problem?.detail ? withStop(capitalize(problem.detail)) : '';
  const errors = problem?.errors || [];
  switch (status) {
    case 400:
      return `The gateway could not read the request: ${detail || 'it was malformed.'}`;
    case 401:
      return 'Your token was not accepted: it is unknown, mistyped, expired or revoked. Sign in again with a valid token.';
    case 403:
      return `You are not allowed to do that. ${detail}`.trim();
    case 404:
      return 'That item does not exist, or it belongs to another tenant.';
    case 409:
      if (errors.length) return withStop(errors.map((e) => sentence(e.field, e.message)).join('; '));
      return detail || 'That conflicts with the current state; reload and try again.';
    case 422:
      if (errors.length) return withStop(errors.map((e) => sentence(e.field, e.message)).join('; '));
      return detail || 'Some fields are not valid.';
    case 429: {
      const seconds = Number.parseInt(retryAfter || '', 10);
      return `Too many changes in a short time. Try again ${Number.isFinite(seconds) ? `in ${seconds} second${seconds === 1 ? '' : 's'}` : 'shortly'}.`;
    }
    case 502:
      return `The Kubernetes cluster did not answer as expected. ${detail}`.trim();
    case 503:
      return detail || 'The service is unavailable right now. Try again shortly.';
    default:
      if (status >= 500) {
        const id = problem?.request_id ? ` Quote request ID ${problem.request_id} when reporting it.` : '';
        return `The gateway failed to handle the request (error ${status}).${id}`;
      }
      return detail || `The request failed (HTTP ${status}).`;
  }
}

/** A random Idempotency-Key (works outside secure contexts too, unlike crypto.randomUUID). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Api {
  /** `onUnauthorized` is called when a request with a token answers 401 (the token was revoked). */
  constructor({ token = null, onUnauthorized = () => {} } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    const headers = { Accept: 'application/json', ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  /** Sends a request; resolves with the JSON body, rejects with an ApiError. */
  async request(method, path, { body, signal, idempotent = false, token } = {}) {
    const headers = this.headers();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (idempotent) headers['Idempotency-Key'] = newKey();
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      throw new ApiError('Cannot reach the gateway. Check your network connection; the dashboard keeps trying.', { status: 0 });
    }
    const type = response.headers.get('Content-Type') || '';
    let data = null;
    if (type.includes('json')) {
      try {
        data = await response.json();
      } catch (error) {
        if (error?.name === 'AbortError') throw error;
        data = null;
      }
    }
    if (!response.ok) {
      const problem = type.includes('problem+json') || (data && data.title) ? data : null;
      if (response.status === 401 && !token) this.onUnauthorized();
      throw new ApiError(describeProblem(response.status, problem, response.headers.get('Retry-After')), {
        status: response.status, problem, requestId: response.headers.get('X-Request-ID'),
      });
    }
    return data;
  }

  get(path, options) { return this.request('GET', path, options); }

  me(token) { return this.get('/api/me', { token }); }
  stores({ cursor, limit = 100, status, signal } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    if (status) query.set('status', status);
    return this.get(`/api/stores?${query}`, { signal });
  }
  store(id, options) { return this.get(`/api/stores/${encodeURIComponent(id)}`, options); }
  createStore(name, engine) { return this.request('POST', '/api/stores', { body: { name, engine }, idempotent: true }); }
  deleteStore(id) { return this.request('DELETE', `/api/stores/${encodeURIComponent(id)}`, { idempotent: true }); }
  retryStore(id) { return this.request('POST', `/api/stores/${encodeURIComponent(id)}/retry`, { idempotent: true }); }
  credentials(id) { return this.get(`/api/stores/${encodeURIComponent(id)}/credentials`); }
  updateStore(id, changes) { return this.request('PATCH', `/api/stores/${encodeURIComponent(id)}`, { body: changes, idempotent: true }); }
  suspendStore(id, reason) {
    return this.request('POST', `/api/stores/${encodeURIComponent(id)}/suspend`, { body: reason ? { reason } : {}, idempotent: true });
  }
  resumeStore(id) { return this.request('POST', `/api/stores/${encodeURIComponent(id)}/resume`, { idempotent: true }); }
  revisions(id, options) { return this.get(`/api/stores/${encodeURIComponent(id)}/revisions?limit=20`, options); }
  plans(options) { return this.get('/api/plans', options); }
  rollouts(options) { return this.get('/api/rollouts?limit=20', options); }
  rolloutAction(id, action) { return this.request('POST', `/api/rollouts/${encodeURIComponent(id)}/${action}`, { idempotent: true }); }
  job(id, options) { return this.get(`/api/jobs/${encodeURIComponent(id)}?include=transitions`, options); }
  jobs(storeId, options) { return this.get(`/api/jobs?store=${encodeURIComponent(storeId)}&limit=20`, options); }
  audit({ cursor, limit = 50 } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.get(`/api/audit?${query}`);
  }
  stats(options) { return this.get('/api/stats', options); }
  statsSeries(options) { return this.get('/api/stats/series', options); }
}
