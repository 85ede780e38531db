// The store list: name, engine, status, links, created; kept current by the live feed (or polling).
import { h, replace, time, badge, engineLabel, externalLink, statusLabel } from '../dom.js';
import { coalesced, debounced } from '../util.js';

const SHOW_DELETED_KEY = 'storefleet.showDeleted';

export function render(ctx) {
  const isAdmin = ctx.session.me?.tenant.role === 'admin';
  let stores = [];
  let nextCursor = null;
  let pages = 1;
  let loaded = false;

  const status = h('p', { class: 'muted', role: 'status' }, 'Loading stores\u2026');
  const showDeleted = h('input', { type: 'checkbox', id: 'show-deleted' });
  showDeleted.checked = sessionStorage.getItem(SHOW_DELETED_KEY) === '1';
  const body = h('tbody');
  const table = h('table', { class: 'stores-table', 'aria-labelledby': 'stores-title' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col' }, 'Engine'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Links'),
      h('th', { scope: 'col' }, 'Created'),
      isAdmin ? h('th', { scope: 'col' }, 'Tenant') : null)),
    body);
  const empty = h('div', { class: 'empty', hidden: true },
    h('p', {}, 'No stores yet.'), h('a', { href: '#/new', class: 'button-link button-primary' }, 'Create your first store'));
  const more = h('button', { type: 'button', class: 'button-secondary', hidden: true }, 'Load more stores');

  function row(store) {
    const links = store.status === 'deleted'
      ? h('span', { class: 'muted' }, 'gone')
      : h('span', { class: 'links' }, externalLink(store.urls.storefront, 'Storefront'), ' ', externalLink(store.urls.admin, 'Admin'));
    return h('tr', { dataset: { storeId: store.id, storeName: store.name, status: store.status } },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/stores/${store.id}`, class: 'store-link' }, store.name)),
      h('td', { 'data-label': 'Engine' }, engineLabel(store.engine)),
      h('td', { 'data-label': 'Status', class: 'status-cell' }, badge(store.status)),
      h('td', { 'data-label': 'Links' }, links),
      h('td', { 'data-label': 'Created' }, time(store.created_at)),
      isAdmin ? h('td', { 'data-label': 'Tenant' }, h('code', { title: store.tenant_id }, store.tenant_id.slice(0, 8))) : null);
  }

  let drawnKey = '';
  function draw() {
    const key = JSON.stringify([stores, nextCursor, loaded, showDeleted.checked]);
    if (key === drawnKey) return;
    drawnKey = key;
    const visible = stores.filter((s) => showDeleted.checked || s.status !== 'deleted');
    replace(body, visible.map(row));
    table.hidden = visible.length === 0;
    empty.hidden = !loaded || visible.length > 0;
    more.hidden = !nextCursor;
    const counts = {};
    for (const s of stores) counts[s.status] = (counts[s.status] || 0) + 1;
    const summary = Object.entries(counts).filter(([k]) => showDeleted.checked || k !== 'deleted')
      .map(([k, n]) => `${n} ${statusLabel(k).toLowerCase()}`).join(', ');
    status.textContent = loaded ? (visible.length ? `${visible.length} store${visible.length === 1 ? '' : 's'}: ${summary}.` : '') : 'Loading stores\u2026';
  }

  // Reload as many pages as are shown, so live updates keep "Load more" results in place.
  const reload = coalesced(async () => {
    let items = [];
    let cursor = null;
    for (let page = 0; page < pages; page += 1) {
      const result = await ctx.api.stores({ cursor, signal: ctx.signal });
      items = items.concat(result.items);
      cursor = result.next_cursor || null;
      if (!cursor) break;
    }
    stores = items;
    nextCursor = cursor;
    loaded = true;
    draw();
  }, (error) => {
    status.textContent = `Could not load the stores. ${error.message}`;
  });
  const reloadSoon = debounced(reload, 200);

  more.addEventListener('click', async () => {
    pages += 1;
    await reload();
  });
  showDeleted.addEventListener('change', () => {
    sessionStorage.setItem(SHOW_DELETED_KEY, showDeleted.checked ? '1' : '0');
    draw();
  });

  const unsubscribe = [
    ctx.bus.on('store', (event) => {
      const store = stores.find((s) => s.id === event.id);
      if (!store) {
        reloadSoon();
        return;
      }
      if (store.status !== event.status) {
        store.status = event.status;
        store.updated_at = event.updated_at;
        draw();
        ctx.announce(`Store ${store.name} is now ${statusLabel(event.status).toLowerCase()}.`);
      }
      // Ready stores get their final URLs at the end of provisioning.
      if (event.status === 'ready') reloadSoon();
    }),
    ctx.bus.on('poll', reload),
    ctx.bus.on('resync', reload),
  ];

  reload();

  const node = h('section', {},
    h('div', { class: 'view-head' },
      h('h1', { id: 'stores-title', tabindex: '-1' }, 'Stores'),
      h('a', { href: '#/new', class: 'button-link button-primary' }, 'New store')),
    isAdmin ? h('p', { class: 'hint' }, 'You are an admin: this list shows every tenant\u2019s stores.') : null,
    h('div', { class: 'toolbar' }, h('label', { class: 'checkbox' }, showDeleted, ' Show deleted stores')),
    status,
    h('div', { class: 'table-wrap' }, table),
    empty,
    more);
  return { title: 'Stores', node, cleanup: () => { unsubscribe.forEach((u) => u()); reloadSoon.cancel(); } };
}
