// takedown console: plain JavaScript, no framework, no build step, no inline code (the page is
// served with a strict Content-Security-Policy). Every call goes to the /v1 API of the same
// origin with the pasted key as `Authorization: Bearer`. The key lives in sessionStorage only
// (gone when the tab closes) and never in a URL. Data from the API is put in the page with
// textContent only, never as HTML.
'use strict';

(function () {
  const KEY_ITEM = 'takedown.key';
  const $ = (id) => document.getElementById(id);
  const state = { view: 'queue', orders: [], ordersTimer: 0, bank: null, signalsAfter: null };

  // ---- helpers ----

  // Creates an element: attrs (class, data-*, aria-*, type, ...), children (strings or nodes).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function fact(dl, name, value) {
    dl.append(h('dt', null, name), h('dd', null, value === null || value === undefined ? '—' : value));
  }

  function labelList(labels) {
    if (!labels || labels.length === 0) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'labels' }, labels.map((l) => h('li', null, l)));
  }

  function when(ms) {
    return ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '—';
  }

  function showError(text) {
    const m = $('message');
    m.textContent = text;
    m.hidden = false;
  }

  function clearError() {
    $('message').hidden = true;
    $('message').textContent = '';
  }

  function say(text) {
    $('status').textContent = text;
  }

  function getKey() {
    return sessionStorage.getItem(KEY_ITEM);
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // One API call; resolves with the parsed JSON (null for 204), rejects with an ApiError whose
  // message is the API's own (`{"error": {"code", "message"}}`).
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const key = getKey();
    if (key) headers.Authorization = 'Bearer ' + key;
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'The server cannot be reached (' + e.message + ').');
    }
    if (resp.status === 204) return null;
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!resp.ok) {
      const err = json && json.error ? json.error : null;
      const message = err && err.message ? err.message : 'HTTP ' + resp.status + ' ' + resp.statusText;
      throw new ApiError(resp.status, err ? err.code : 'http', message);
    }
    return json;
  }

  // Runs an action; shows the API's error in plain words. A 401 signs out (the key is wrong).
  async function run(action) {
    clearError();
    try {
      return await action();
    } catch (e) {
      const text = e instanceof ApiError && e.status ? 'Error ' + e.status + ': ' + e.message : e.message;
      showError(text);
      if (e instanceof ApiError && e.status === 401) signOut(false);
      return undefined;
    }
  }

  const enc = encodeURIComponent;

  // ---- sign in / out, views ----

  function signedIn() {
    const yes = !!getKey();
    $('signin-form').hidden = yes;
    $('signed-in').hidden = !yes;
    $('views').hidden = !yes;
    $('intro').hidden = yes;
    for (const v of ['queue', 'orders', 'banks']) $('view-' + v).hidden = !yes || state.view !== v;
    return yes;
  }

  function signOut(clearMessages) {
    sessionStorage.removeItem(KEY_ITEM);
    stopOrdersTimer();
    if (clearMessages) clearError();
    say('');
    signedIn();
    $('key').focus();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const key = $('key').value.trim();
    $('key').value = '';
    if (!key) return;
    sessionStorage.setItem(KEY_ITEM, key);
    state.view = 'queue';
    signedIn();
    const ok = await run(async () => {
      await api('GET', '/v1/cases?limit=1');
      return true;
    });
    if (ok) await show(viewFromHash() || 'queue', false);
  }

  function viewFromHash() {
    const v = location.hash.replace(/^#/, '');
    return ['queue', 'orders', 'banks'].includes(v) ? v : null;
  }

  async function show(view, focus) {
    state.view = view;
    if (location.hash !== '#' + view) history.replaceState(null, '', '#' + view);
    for (const b of document.querySelectorAll('#views button')) {
      if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    signedIn();
    stopOrdersTimer();
    if (focus) $(view + '-title').focus();
    if (view === 'queue') await loadQueue();
    else if (view === 'orders') {
      await loadOrders();
      state.ordersTimer = setInterval(tick, 1000);
    } else await loadBanks();
  }

  // ---- review queue ----

  async function loadQueue() {
    await run(async () => {
      const data = await api('GET', '/v1/cases?limit=100');
      const cases = data.cases || [];
      // Matches come with the content (GET /v1/content/{id}); a failure there leaves them out.
      const contents = await Promise.all(
        cases.map((c) => api('GET', '/v1/content/' + enc(c.content_id)).catch(() => null)));
      const list = $('queue-list');
      clear(list);
      $('queue-empty').hidden = cases.length !== 0;
      cases.forEach((c, i) => list.append(renderCase(c, contents[i])));
    });
  }

  function renderMatches(content) {
    if (!content) return 'not available';
    const m = content.matches || [];
    if (m.length === 0) return 'none';
    return h('ul', { class: 'matches' }, m.map((x) => h('li', null,
      x.bank + ' · ' + x.type + (x.distance !== undefined ? ' · distance ' + x.distance : '') +
        ' · signal ' + x.signal_id + (x.action ? ' · ' + x.action : ''))));
  }

  function renderCase(c, content) {
    const titleId = 'case-' + c.id + '-title';
    const card = h('article', { class: 'case', 'data-case-id': c.id, 'aria-labelledby': titleId });
    card.append(h('h3', { id: titleId }, 'Case #' + c.id + ' — priority ' + c.priority));
    const dl = h('dl', { class: 'facts' });
    fact(dl, 'Content id', h('span', { class: 'mono' }, c.content_id));
    fact(dl, 'Priority', String(c.priority));
    fact(dl, 'State', c.state + (c.claimed_by ? ' by ' + (c.claimed_by.name || '#' + c.claimed_by.id) : ''));
    fact(dl, 'Labels', labelList(c.labels));
    fact(dl, 'Matches', renderMatches(content));
    fact(dl, 'Opened', when(c.opened_ms) + (c.opened_by ? ' (' + c.opened_by + ')' : ''));
    card.append(dl);
    const actions = h('div', { class: 'decide' });
    if (c.state !== 'claimed') {
      actions.append(h('button', { type: 'button', class: 'claim', onclick: () => claim(c.id) },
        'Claim case #' + c.id));
    } else {
      const sel = h('select', { id: 'decision-' + c.id, name: 'decision' },
        h('option', { value: 'remove' }, 'remove'),
        h('option', { value: 'keep' }, 'keep'),
        h('option', { value: 'escalate' }, 'escalate'));
      const reason = h('textarea', { id: 'reason-' + c.id, name: 'reason', maxlength: 1024, required: true });
      const form = h('form', { class: 'decide', 'aria-label': 'Decide case #' + c.id },
        h('label', { for: sel.id }, 'Decision', sel),
        h('label', { for: reason.id }, 'Reason', reason),
        h('button', { type: 'submit' }, 'Decide case #' + c.id),
        h('button', { type: 'button', class: 'secondary', onclick: () => release(c.id) }, 'Release'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        decide(c.id, sel.value, reason.value);
      });
      actions.append(form);
    }
    card.append(actions);
    return card;
  }

  async function claim(id) {
    const ok = await run(async () => {
      await api('POST', '/v1/cases/' + id + '/claim');
      return true;
    });
    if (ok) {
      say('Case #' + id + ' claimed.');
      await loadQueue();
      const sel = $('decision-' + id);
      if (sel) sel.focus();
    }
  }

  async function release(id) {
    const ok = await run(async () => {
      await api('POST', '/v1/cases/' + id + '/release');
      return true;
    });
    if (ok) {
      say('Case #' + id + ' released.');
      await loadQueue();
    }
  }

  async function decide(id, decision, reason) {
    if (!reason.trim()) {
      showError('A reason is needed for the decision.');
      return;
    }
    const d = await run(() => api('POST', '/v1/cases/' + id + '/decision', { decision, reason }));
    if (d) {
      say('Case #' + id + ': ' + d.decision + ' recorded.');
      await loadQueue();
    }
  }

  // ---- orders ----

  function stopOrdersTimer() {
    if (state.ordersTimer) clearInterval(state.ordersTimer);
    state.ordersTimer = 0;
  }

  function duration(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    return (hh ? hh + ':' + two(mm) : String(mm)) + ':' + two(ss);
  }

  // Updates every countdown; refreshes the list from the API every 15 seconds.
  let ticks = 0;
  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll('.countdown[data-deadline]')) {
      const left = Date.parse(el.dataset.deadline) - now;
      const row = el.closest('tr');
      if (left >= 0) {
        el.textContent = duration(left) + ' left';
        el.classList.remove('overdue');
        if (row) row.classList.toggle('soon', left < 10 * 60 * 1000);
      } else {
        el.textContent = 'overdue by ' + duration(left);
        el.classList.add('overdue');
      }
    }
    if (++ticks % 15 === 0 && state.view === 'orders') loadOrders();
  }

  async function loadOrders() {
    await run(async () => {
      const data = await api('GET', '/v1/orders');
      const orders = data.orders || [];
      const body = $('orders-body');
      clear(body);
      $('orders-empty').hidden = orders.length !== 0;
      $('orders-table').hidden = orders.length === 0;
      for (const o of orders) {
        const breached = !!o.breached_at;
        const cd = o.deadline
          ? h('span', { class: 'countdown', 'data-deadline': o.deadline }, '')
          : h('span', null, 'no deadline');
        const row = h('tr', { 'data-order-id': o.id, class: breached ? 'breached' : null },
          h('td', null, '#' + o.id + (o.emergency ? ' (emergency)' : '') +
            (o.type && o.type !== 'removal_order' ? ' ' + o.type : '')),
          h('td', null, o.issuing_authority || '—'),
          h('td', { class: 'mono' }, o.reference || '—'),
          h('td', null, o.state),
          h('td', { class: 'escalation' }, 'level ' + (o.escalation || 0)),
          h('td', { class: 'mono' }, o.deadline || '—'),
          h('td', null, cd, breached ? h('span', { class: 'breach' }, ' BREACHED ' + o.breached_at) : null),
          h('td', null, h('button', { type: 'button', class: 'secondary', onclick: () => loadOrder(o.id) },
            'Details of order #' + o.id)));
        body.append(row);
      }
      tick();
    });
  }

  async function loadOrder(id) {
    await run(async () => {
      const [o, fb] = await Promise.all([
        api('GET', '/v1/orders/' + id),
        api('GET', '/v1/orders/' + id + '/feedback').catch((e) => ({ _error: e.message }))]);
      $('order-detail').hidden = false;
      $('order-detail-title').textContent = 'Order #' + o.id + ' (' + (o.reference || '') + ')';
      const facts = $('order-facts');
      clear(facts);
      fact(facts, 'State', o.state);
      fact(facts, 'Authority', o.issuing_authority);
      fact(facts, 'Member state', o.issuing_member_state);
      fact(facts, 'Received', o.received_at);
      fact(facts, 'Deadline', o.deadline);
      fact(facts, 'Escalation', 'level ' + (o.escalation || 0));
      fact(facts, 'Breached', o.breached_at || 'no');
      fact(facts, 'Measure', o.measure ? o.measure + ' at ' + (o.measure_at || '—') : 'none yet');
      fact(facts, 'Reasons', o.statement_of_reasons);
      fact(facts, 'Preserved', o.preserved ? 'yes' : 'no');
      const targets = $('order-targets');
      clear(targets);
      (o.content || []).forEach((t, i) => targets.append(h('tr', null,
        h('td', null, String(i)), h('td', { class: 'mono' }, t.content_id || '—'),
        h('td', { class: 'mono' }, t.url || '—'), h('td', null, t.located ? 'yes' : 'no'),
        h('td', null, t.removed ? 'yes' : 'no'))));
      const f = $('order-feedback');
      clear(f);
      if (fb._error) fact(f, 'Feedback', fb._error);
      else {
        fact(f, 'Time of receipt', fb.time_of_receipt);
        fact(f, 'Measure', fb.measure);
        fact(f, 'Time of measure', fb.time_of_measure);
        fact(f, 'Within deadline', fb.within_deadline === null || fb.within_deadline === undefined
          ? 'not yet known' : fb.within_deadline ? 'yes' : 'no');
      }
      $('order-detail-title').setAttribute('tabindex', '-1');
      $('order-detail-title').focus();
    });
  }

  // ---- banks and signals ----

  async function loadBanks() {
    await run(async () => {
      const data = await api('GET', '/v1/banks');
      const banks = data.banks || [];
      const body = $('banks-body');
      clear(body);
      $('banks-empty').hidden = banks.length !== 0;
      $('banks-table').hidden = banks.length === 0;
      for (const b of banks) {
        body.append(h('tr', { 'data-bank': b.name },
          h('td', { class: 'mono' }, b.name),
          h('td', null, b.action || '—'),
          h('td', null, labelList(b.labels)),
          h('td', { class: 'signal-count' }, String(b.signal_count ?? '—')),
          h('td', null, b.enabled === false ? 'no' : 'yes'),
          h('td', null, h('button', { type: 'button', class: 'secondary', onclick: () => loadSignals(b.name, false) },
            'Signals of ' + b.name))));
      }
      if (state.bank && !banks.some((b) => b.name === state.bank)) {
        state.bank = null;
        $('signals').hidden = true;
      }
    });
  }

  async function loadSignals(bank, more) {
    await run(async () => {
      const after = more && state.signalsAfter ? '&after=' + state.signalsAfter : '';
      const data = await api('GET', '/v1/banks/' + enc(bank) + '/signals?limit=100' + after);
      state.bank = bank;
      state.signalsAfter = data.next_after || null;
      $('signals').hidden = false;
      $('signals-title').textContent = 'Signals of ' + bank;
      const body = $('signals-body');
      if (!more) clear(body);
      for (const s of data.signals || []) body.append(renderSignal(bank, s));
      $('signals-more').hidden = !state.signalsAfter;
    });
  }

  function renderSignal(bank, s) {
    const row = h('tr', { 'data-signal-id': s.id, class: s.enabled ? null : 'disabled' },
      h('td', null, '#' + s.id),
      h('td', null, s.type),
      h('td', { class: 'mono' }, s.display || s.value),
      h('td', null, labelList(s.labels)),
      h('td', { class: 'enabled' }, s.enabled ? 'yes' : 'no'),
      h('td', null, h('button', {
        type: 'button', class: s.enabled ? 'danger' : null,
        onclick: () => toggleSignal(bank, s, row),
      }, (s.enabled ? 'Disable' : 'Enable') + ' signal #' + s.id)));
    return row;
  }

  async function toggleSignal(bank, s, row) {
    const updated = await run(() => api('PATCH', '/v1/banks/' + enc(bank) + '/signals/' + s.id,
      { enabled: !s.enabled }));
    if (updated) {
      const fresh = renderSignal(bank, updated);
      row.replaceWith(fresh);
      fresh.querySelector('button').focus();
      say('Signal #' + updated.id + (updated.enabled ? ' enabled.' : ' disabled.'));
    }
  }

  // ---- wiring ----

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(true));
    for (const b of document.querySelectorAll('#views button')) {
      b.addEventListener('click', () => show(b.dataset.view, true));
    }
    for (const v of ['queue', 'orders', 'banks']) $(v + '-title').setAttribute('tabindex', '-1');
    $('queue-refresh').addEventListener('click', loadQueue);
    $('orders-refresh').addEventListener('click', loadOrders);
    $('banks-refresh').addEventListener('click', () => {
      loadBanks();
      if (state.bank) loadSignals(state.bank, false);
    });
    $('signals-more').addEventListener('click', () => loadSignals(state.bank, true));
    window.addEventListener('hashchange', () => {
      const v = viewFromHash();
      if (v && getKey() && v !== state.view) show(v, true);
    });
    if (signedIn()) show(viewFromHash() || 'queue', false);
    else $('key').focus();
  });
})();
