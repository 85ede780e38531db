// Live updates from GET /api/events. EventSource cannot send an Authorization header and tokens must
// not go in URLs (they would land in access logs), so the text/event-stream format is read from a
// fetch() body here. The stream resumes with Last-Event-ID, reconnects with exponential backoff and
// jitter, and while it is down the views are told to poll instead.

/**
 * Parses text/event-stream chunks (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * `push(text)` feeds decoded text; `onEvent({ type, data, id })` gets each dispatched event;
 * `onRetry(ms)` a retry field.
 */
export class EventStreamParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = '';
    this.reset();
    this.lastEventId = null;
  }

  reset() {
    this.type = '';
    this.data = [];
    this.hasData = false;
  }

  push(text) {
    this.buffer += text;
    // Keep a trailing '\r' in the buffer: the next chunk may start with its '\n'.
    const pattern = /\r\n|\r(?!$)|\n/;
    let match;
    while ((match = pattern.exec(this.buffer)) !== null) {
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.hasData) this.onEvent({ type: this.type || 'message', data: this.data.join('\n'), id: this.lastEventId });
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event': this.type = value; break;
      case 'data': this.data.push(value); this.hasData = true; break;
      case 'id': if (!value.includes('\0')) this.lastEventId = value; break;
      case 'retry': if (/^\d+$/.test(value)) this.onRetry(Number(value)); break;
      default: break;
    }
  }
}

/**
 * One live connection per signed-in session. Emits on `bus`: `job` and `store` (the event's JSON),
 * `feed` ({ state: 'connecting' | 'live' | 'down', retryIn }), `resync` (after a reconnect: views refetch,
 * since store changes made while disconnected are not replayed) and `poll` (every `pollMs` while down).
 */
export class LiveFeed {
  constructor({ token, bus, pollMs = 2000, maxBackoffMs = 30000 }) {
    this.token = token;
    this.bus = bus;
    this.pollMs = pollMs;
    this.maxBackoffMs = maxBackoffMs;
    this.baseMs = 1000;
    this.failures = 0;
    this.lastEventId = null;
    this.controller = null;
    this.stopped = true;
    this.pollTimer = null;
    this.retryTimer = null;
    this.connectedOnce = false;
    this.state = 'connecting';
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Ends the stream, the polling and any pending reconnect (on sign-out). */
  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    this.controller = null;
    clearTimeout(this.retryTimer);
    this.stopPolling();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.bus.emit('feed', { state, ...extra });
  }

  startPolling() {
    if (this.pollTimer || this.stopped) return;
    this.bus.emit('poll');
    this.pollTimer = setInterval(() => this.bus.emit('poll'), this.pollMs);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async connect() {
    if (this.stopped) return;
    const controller = new AbortController();
    this.controller = controller;
    this.setState(this.connectedOnce ? 'reconnecting' : 'connecting');
    let ended = 'error';
    try {
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${this.token}` };
      if (this.lastEventId !== null) headers['Last-Event-ID'] = this.lastEventId;
      const response = await fetch('/api/events', { headers, signal: controller.signal, cache: 'no-store', credentials: 'omit' });
      if (response.status === 401) {
        this.bus.emit('unauthorized');
        return;
      }
      if ((response.status === 409 || response.status === 422) && this.lastEventId !== null) {
        // The server does not know our position (409: a restored or moved database; 422: not one of
        // its IDs): start afresh and refetch everything.
        this.lastEventId = null;
        throw new Error('stale Last-Event-ID');
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const wasConnected = this.connectedOnce;
      this.connectedOnce = true;
      this.failures = 0;
      this.stopPolling();
      this.setState('live');
      // Whatever changed while we were not listening: one refetch brings the views up to date.
      if (wasConnected) this.bus.emit('resync');
      ended = await this.read(response.body, controller.signal);
    } catch (error) {
      if (controller.signal.aborted || this.stopped) return;
      ended = 'error';
    }
    if (this.stopped || controller.signal.aborted) return;
    if (ended === 'close') {
      // The server ends streams on purpose (maximum age, shutdown): reconnect at once, resuming.
      this.failures = 0;
      this.connect();
      return;
    }
    this.failures += 1;
    const ceiling = Math.min(this.maxBackoffMs, this.baseMs * 2 ** Math.min(this.failures - 1, 10));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.setState('down', { retryIn: delay });
    this.startPolling();
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reads the stream until it ends; resolves 'close' for a deliberate end, else 'eof'. */
  async read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let closed = false;
    const parser = new EventStreamParser((event) => {
      if (event.id !== null && event.id !== undefined && event.id !== '') this.lastEventId = event.id;
      if (event.type === 'close') {
        closed = true;
        return;
      }
      if (event.type !== 'job' && event.type !== 'store') return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.bus.emit(event.type, data);
    }, (ms) => { this.baseMs = Math.max(500, Math.min(ms, 10000)); });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
        if (closed) break;
      }
    } finally {
      if (!signal.aborted) reader.cancel().catch(() => {});
    }
    return closed ? 'close' : 'eof';
  }
}

/** A tiny synchronous event bus. `on` returns an unsubscribe function. */
export class Bus {
  constructor() { this.handlers = new Map(); }
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type)?.delete(handler);
  }
  emit(type, data) {
    for (const handler of [...(this.handlers.get(type) || [])]) {
      try {
        handler(data);
      } catch (error) {
        // One broken subscriber must not stop the others; surface it like any other failure.
        queueMicrotask(() => { throw error; });
      }
    }
  }
}
