// The dashboard's shell: session (token in sessionStorage), hash routing, live feed, banners.
import { Api, ApiError } from './api.js';
import { Bus, LiveFeed } from './events.js';
import { h, replace, refreshTimes } from './dom.js';
import * as signIn from './views/signin.js';
import * as storeList from './views/stores.js';
import * as newStore from './views/new-store.js';
import * as storeDetail from './views/store-detail.js';
import * as activity from './views/activity.js';
import * as rollouts from './views/rollouts.js';

const TOKEN_KEY = 'storefleet.token';
const $ = (id) => document.getElementById(id);

const bus = new Bus();
const session = { token: null, me: null, feed: null };
const api = new Api({ onUnauthorized: () => endSession('Your session ended: the token is no longer valid (it may have been revoked). Sign in again.') });
let current = null; // { cleanup, controller }

// --- errors nobody handled: shown in words, never left as an unhandled rejection ---------------------
function readable(reason) {
  if (reason instanceof ApiError) return reason.message;
  if (reason?.name === 'AbortError') return null;
  const text = reason?.message || String(reason || 'unknown error');
  return `Something went wrong in the dashboard: ${text}. Reload the page if it keeps happening.`;
}

export function showError(message) {
  if (!message) return;
  $('error-text').textContent = message;
  $('error-banner').hidden = false;
}

function hideError() {
  $('error-banner').hidden = true;
  $('error-text').textContent = '';
}

window.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  showError(readable(event.reason));
});
window.addEventListener('error', (event) => {
  showError(readable(event.error || { message: event.message }));
});

function announce(text) {
  const region = $('announcer');
  region.textContent = '';
  // A fresh text node after a tick makes screen readers announce a repeated message too.
  setTimeout(() => { region.textContent = text; }, 50);
}

// --- routing -----------------------------------------------------------------------------------
const routes = [
  { pattern: /^#\/stores\/?$/, nav: 'stores', view: storeList },
  { pattern: /^#\/stores\/([0-9a-fA-F-]{36})\/?$/, nav: 'stores', view: storeDetail },
  { pattern: /^#\/new\/?$/, nav: 'new', view: newStore },
  { pattern: /^#\/activity\/?$/, nav: 'activity', view: activity },
  { pattern: /^#\/rollouts\/?$/, nav: 'rollouts', view: rollouts },
];

function navigate(hash, { replace: replaceEntry = false } = {}) {
  if (replaceEntry) {
    history.replaceState(null, '', hash);
    route();
  } else if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

function notFoundView() {
  return {
    title: 'Page not found',
    node: h('section', {},
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is no such page in the dashboard. ', h('a', { href: '#/stores' }, 'Go to the store list'), '.')),
  };
}

function route() {
  if (current) {
    current.controller.abort();
    try { current.cleanup?.(); } catch (error) { showError(readable(error)); }
    current = null;
  }
  const hash = location.hash || '';
  if (hash === '' || hash === '#' || hash === '#/') {
    history.replaceState(null, '', '#/stores');
  }
  const target = location.hash;
  const controller = new AbortController();
  const ctx = { api, bus, session, navigate, announce, showError, hideError, signal: controller.signal, signIn: startSession };
  let rendered;
  let nav = null;
  if (!session.token) {
    rendered = signIn.render(ctx, pendingMessage);
    pendingMessage = null;
  } else {
    const match = routes.map((r) => ({ r, m: target.match(r.pattern) })).find((x) => x.m);
    rendered = match ? match.r.view.render(ctx, ...match.m.slice(1)) : notFoundView();
    nav = match?.r.nav || null;
  }
  current = { cleanup: rendered.cleanup, controller };
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${rendered.title} \u00b7 Storefleet`;
  replace($('main'), rendered.node);
  // Focus the new view's heading so keyboard and screen reader users start at the top of it.
  const heading = $('main').querySelector('h1');
  (heading || $('main')).focus({ preventScroll: false });
  window.scrollTo(0, 0);
}

// --- session -----------------------------------------------------------------------------------
let pendingMessage = null;

function showSessionChrome() {
  const signedIn = Boolean(session.token);
  $('nav').hidden = !signedIn;
  $('account').hidden = !signedIn;
  $('simulated-banner').hidden = !(signedIn && session.me?.simulated_cluster);
  // Rollouts are an administrator's tool: members do not see the entry (the API refuses them anyway).
  $('nav-rollouts').hidden = !(signedIn && session.me?.tenant.role === 'admin');
  const who = $('who');
  if (signedIn && session.me) {
    const { tenant, token } = session.me;
    replace(who, h('span', { class: 'who-name' }, tenant.name),
      tenant.role === 'admin' ? h('span', { class: 'role-badge', title: 'Admins see and manage every tenant\u2019s stores' }, 'admin') : null,
      h('span', { class: 'who-token', title: `Signed in with token \u201c${token.name}\u201d` }, ` ${token.prefix}\u2026`));
  } else {
    who.replaceChildren();
  }
}

/** Checks a token with GET /api/me; on success keeps it for this tab and starts the live feed. */
async function startSession(token) {
  const me = await api.me(token);
  session.token = token;
  session.me = me;
  api.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  session.feed = new LiveFeed({ token, bus });
  session.feed.start();
  showSessionChrome();
  hideError();
  route();
  announce(`Signed in as ${me.tenant.name}.`);
}

function endSession(message) {
  if (!session.token) return;
  session.feed?.stop();
  session.feed = null;
  session.token = null;
  session.me = null;
  api.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSessionChrome();
  pendingMessage = message;
  route();
}

function signOut() {
  endSession('You are signed out. The token was removed from this browser tab.');
  announce('Signed out.');
}

// --- live feed status --------------------------------------------------------------------------
bus.on('feed', ({ state, retryIn }) => {
  const element = $('connection');
  element.dataset.state = state;
  if (state === 'live') element.textContent = 'Live updates on';
  else if (state === 'down') element.textContent = `Live updates lost \u2014 checking every 2 s, reconnecting in ${Math.ceil((retryIn || 0) / 1000)} s`;
  else if (state === 'reconnecting') element.textContent = 'Reconnecting\u2026';
  else element.textContent = 'Connecting\u2026';
});
bus.on('unauthorized', () => endSession('Your session ended: the token is no longer valid (it may have been revoked). Sign in again.'));

// --- start -------------------------------------------------------------------------------------
async function boot() {
  $('sign-out').addEventListener('click', signOut);
  $('error-dismiss').addEventListener('click', hideError);
  $('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    const heading = $('main').querySelector('h1');
    (heading || $('main')).focus();
  });
  window.addEventListener('hashchange', route);
  setInterval(() => refreshTimes(), 30000);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    try {
      await startSession(saved);
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        pendingMessage = 'Your saved token is no longer valid. Sign in again.';
      } else {
        pendingMessage = error?.message || String(error);
      }
    }
  }
  showSessionChrome();
  route();
}

boot().catch((error) => showError(readable(error)));
