// Sign in with an API token. The token is checked with GET /api/me and kept in sessionStorage (this
// tab only, gone when it closes); it never goes into a URL.
import { h } from '../dom.js';
import { ApiError } from '../api.js';

export function render(ctx, message) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none',
    required: true, 'aria-describedby': 'token-hint token-error', class: 'input-wide',
  });
  const error = h('p', { id: 'token-error', class: 'field-error', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'button-primary' }, 'Sign in');
  const notice = message ? h('p', { class: 'notice', role: 'status' }, message) : null;

  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'API token'),
      h('p', { id: 'token-hint', class: 'hint' }, 'Paste a token issued for your tenant. It starts with ', h('code', {}, 'sfk_'),
        '. It is kept only in this browser tab until you sign out or close it.'),
      input,
      error),
    h('div', { class: 'actions' }, button));

  function fail(text) {
    error.textContent = text;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return fail('Enter your API token.');
    if (!token.startsWith('sfk_')) return fail('That is not a Storefleet token: tokens start with sfk_.');
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    button.disabled = true;
    button.textContent = 'Signing in\u2026';
    try {
      await ctx.signIn(token);
    } catch (err) {
      if (ctx.signal.aborted) return;
      button.disabled = false;
      button.textContent = 'Sign in';
      if (err instanceof ApiError && err.status === 401) fail('That token was not accepted: it is unknown, mistyped, expired or revoked.');
      else fail(err?.message || String(err));
    }
  });

  const node = h('section', { class: 'narrow' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in'),
    notice,
    form);
  return { title: 'Sign in', node };
}
