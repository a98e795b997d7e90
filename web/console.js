// takedown console: plain JavaScript, no framework, no build step, no inline code (the page is
// served with a strict Content-Security-Policy). Every call goes to the /v1 API of the same
// origin with the pasted key as `Authorization: Bearer`. The key lives in sessionStorage only
// (gone when the tab closes) and never in a URL. Data from the API is put in the page with
// textContent only, never as HTML.
'use strict';

(function () {
  const KEY_ITEM = 'takedown.key';
  const PURPOSE_ITEM = 'takedown.purpose';
  const VIEWS = ['queue', 'orders', 'banks', 'eorders', 'reports', 'incidents', 'exchanges'];
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  // access: what the key may read, learnt from the API's answers at sign-in (probeAccess).
  const state = { view: 'queue', orders: [], ordersTimer: 0, bank: null, signalsAfter: null,
    access: null, eorder: null, report: null, revealUrls: [], incident: null };

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
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null;
    }
  }

  // An error in plain words: the HTTP status, the API's message and the member it names.
  function errorText(e) {
    if (!(e instanceof ApiError) || !e.status) return e.message;
    return 'Error ' + e.status + ': ' + e.message + (e.field ? ' (field: ' + e.field + ')' : '');
  }

  // One API call; resolves with the parsed JSON (null for 204), rejects with an ApiError whose
  // message is the API's own (`{"error": {"code", "message", "field"?}}`).
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
      throw new ApiError(resp.status, err ? err.code : 'http', message, err ? err.field : null);
    }
    return json;
  }

  // Runs an action; shows the API's error in plain words. A 401 signs out (the key is wrong).
  async function run(action) {
    clearError();
    try {
      return await action();
    } catch (e) {
      showError(errorText(e));
      if (e instanceof ApiError && e.status === 401) signOut(false);
      return undefined;
    }
  }

  // Runs a form's action; shows the API's error (message and field) in the form itself, next to
  // the button that failed. A 401 signs out, as everywhere.
  async function runInline(form, action) {
    const bad = form.querySelector('.inline-error');
    const good = form.querySelector('.inline-ok');
    bad.hidden = true;
    bad.textContent = '';
    if (good) good.hidden = true;
    clearError();
    try {
      const text = await action();
      if (good && text) {
        good.textContent = text;
        good.hidden = false;
      }
      return true;
    } catch (e) {
      bad.textContent = errorText(e);
      bad.hidden = false;
      if (e instanceof ApiError && e.status === 401) signOut(false);
      return false;
    }
  }

  const enc = encodeURIComponent;

  // ---- sign in / out, views ----

  // The views a key is offered: the review views to keys that read the queue, evidence orders to
  // keys that read them (legal officers and admins). Any view stays reachable by its #name, where
  // the API's 403 then speaks.
  function offered(view) {
    const a = state.access;
    if (!a) return true;
    if (view === 'exchanges') return a.review && a.eorders; // an admin key
    return view === 'eorders' ? a.eorders : a.review;
  }

  function signedIn() {
    const yes = !!getKey();
    $('signin-form').hidden = yes;
    $('signed-in').hidden = !yes;
    $('views').hidden = !yes;
    $('intro').hidden = yes;
    for (const b of document.querySelectorAll('#views button')) b.hidden = !offered(b.dataset.view);
    $('no-view').hidden = !yes || !state.access || VIEWS.some(offered);
    const role = state.access && state.access.role;
    $('who').textContent = role ? 'Signed in as ' + role : 'Signed in';
    for (const v of VIEWS) $('view-' + v).hidden = !yes || state.view !== v;
    return yes;
  }

  // What the key may read, from the API's answers (there is no "who am I" route): the review
  // queue answers 200 or 403 (whose message names the role); the evidence-order list asked
  // without a purpose answers 403 to a role that may not read it and 400 missing_purpose to one
  // that may, before anything is read (so this probe reads and audits nothing).
  async function probeAccess() {
    const a = { review: false, eorders: false, role: null };
    const roleIn = (e) => {
      const m = /role '([a-z_]+)'/.exec(e.message);
      return m ? m[1] : null;
    };
    try {
      await api('GET', '/v1/cases?limit=1');
      a.review = true;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 403) throw e;
      a.role = roleIn(e);
    }
    try {
      await api('GET', '/v1/evidence-orders?open=1&limit=1');
      a.eorders = true;
    } catch (e) {
      // 400 missing_purpose (expected) or 503 (evidence orders unavailable) come from the
      // handler, which the router calls only for a role that may read; the 503 shows in the view.
      if (!(e instanceof ApiError) || ![400, 403, 503].includes(e.status)) throw e;
      if (e.status === 403) a.role = a.role || roleIn(e);
      else a.eorders = true;
    }
    if (a.review && a.eorders) a.role = 'admin'; // only admins read both
    state.access = a;
    return a;
  }

  // The view to open after sign-in: the one in the URL if the key is offered it, else the
  // first the key is offered.
  function firstView(a) {
    const v = viewFromHash();
    if (v && offered(v)) return v;
    return !a.review && a.eorders ? 'eorders' : 'queue';
  }

  function signOut(clearMessages) {
    sessionStorage.removeItem(KEY_ITEM);
    sessionStorage.removeItem(PURPOSE_ITEM);
    state.access = null;
    state.eorder = null;
    clearEorders();
    dropRevealUrls();
    state.report = null;
    $('report-detail').hidden = true;
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
    sessionStorage.removeItem(PURPOSE_ITEM);
    state.view = 'queue';
    state.access = null;
    const a = await run(probeAccess);
    if (!a) return;
    if (!a.review && !a.eorders) {
      signedIn();
      showError('This key (role ' + (a.role || 'unknown') + ') may read neither the review queue ' +
        'nor evidence orders.');
      return;
    }
    await show(firstView(a), false);
  }

  function viewFromHash() {
    const v = location.hash.replace(/^#/, '');
    return VIEWS.includes(v) ? v : null;
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
    } else if (view === 'eorders') {
      await enterEorders();
      state.ordersTimer = setInterval(tick, 1000);
    } else if (view === 'reports') await loadReports();
    else if (view === 'incidents') {
      await loadIncidents();
      if (state.incident) await openIncident(state.incident, false);
      // Live figures while the view is open.
      state.ordersTimer = setInterval(() => {
        if (state.incident) openIncident(state.incident, false);
      }, 5000);
    } else if (view === 'exchanges') await loadExchanges();
    else await loadBanks();
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
      await refreshCases();
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
      await refreshCases();
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
      await refreshCases();
    }
  }

  // Cases are shown in the review queue and beside a reported message: after an action the
  // view it was taken in is read again.
  async function refreshCases() {
    if (state.view === 'reports') {
      await loadReports();
      if (state.report) await openReport(state.report);
    } else await loadQueue();
  }

  // ---- reported messages (end-to-end encrypted messaging, docs/e2ee.md) ----

  // Raw bytes of an API route (the review copy), as a Blob; errors as in api().
  async function apiBlob(path) {
    const headers = { Accept: '*/*', Authorization: 'Bearer ' + getKey() };
    let resp;
    try {
      resp = await fetch(path, { headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    } catch (e) {
      throw new ApiError(0, 'network', 'The server cannot be reached (' + e.message + ').');
    }
    if (!resp.ok) {
      let err = null;
      try {
        err = (await resp.json()).error;
      } catch (e) {
        err = null;
      }
      throw new ApiError(resp.status, err ? err.code : 'http',
        err && err.message ? err.message : 'HTTP ' + resp.status, err ? err.field : null);
    }
    return resp.blob();
  }

  // Text from a reported message, defanged so that nothing in it is a link or a live address:
  // schemes become hxxp(s) and the dots of host names [.]; shown as text only.
  function defang(text) {
    return text
      .replace(/\b(h)(tt)(ps?):\/\//gi, (m, a, b, c) => a + 'xx' + c + '[:]//')
      .replace(/\b([a-z0-9-]+)\.(?=[a-z0-9-]+\b)/gi, (m, label) => label + '[.]');
  }

  // What the bytes are, from their first bytes (the API serves them as a download).
  function sniff(bytes) {
    const b = (i) => bytes[i];
    if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'image/jpeg';
    if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'image/png';
    if (b(0) === 0x47 && b(1) === 0x49 && b(2) === 0x46) return 'image/gif';
    if (b(0) === 0x52 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x46 && b(8) === 0x57 &&
      b(9) === 0x45 && b(10) === 0x42 && b(11) === 0x50) return 'image/webp';
    if (b(4) === 0x66 && b(5) === 0x74 && b(6) === 0x79 && b(7) === 0x70) return 'video/mp4';
    if (b(0) === 0x1a && b(1) === 0x45 && b(2) === 0xdf && b(3) === 0xa3) return 'video/webm';
    return null;
  }

  function dropRevealUrls() {
    for (const u of state.revealUrls) URL.revokeObjectURL(u);
    state.revealUrls = [];
  }

  async function loadReports() {
    await run(async () => {
      const data = await api('GET', '/v1/reports?open=1&limit=100');
      const reports = data.reports || [];
      const body = $('reports-body');
      clear(body);
      $('reports-empty').hidden = reports.length !== 0;
      $('reports-table').hidden = reports.length === 0;
      for (const r of reports) {
        body.append(h('tr', { 'data-report-id': r.report_id },
          h('td', null, '#' + r.report_id),
          h('td', null, when(r.received_ms)),
          h('td', { class: 'mono' }, r.sender),
          h('td', { class: 'mono' }, r.conversation),
          h('td', null, when(r.accepted_ms)),
          h('td', null, String(r.reporters)),
          h('td', null, r.verdict),
          h('td', null, String(r.attachments)),
          h('td', null, h('button', { type: 'button', onclick: () => openReport(r.report_id) },
            'Open report #' + r.report_id))));
      }
    });
  }

  async function openReport(id) {
    dropRevealUrls();
    const ok = await run(async () => {
      const r = await api('GET', '/v1/reports/' + id);
      state.report = id;
      const facts = $('report-facts');
      clear(facts);
      fact(facts, 'Report', '#' + r.report_id);
      fact(facts, 'Content id', h('span', { class: 'mono' }, r.content_id));
      fact(facts, 'Sender (verified)', h('span', { class: 'mono' }, r.sender));
      fact(facts, 'Conversation', h('span', { class: 'mono' }, r.conversation));
      fact(facts, 'Sent (franked)', when(r.accepted_ms));
      fact(facts, 'First reported', when(r.received_ms));
      fact(facts, 'Reporters', String(r.reporters));
      fact(facts, 'Verdict', r.verdict);
      fact(facts, 'Franking key', String(r.key_id));
      fact(facts, 'Evidence', r.evidence_item ? 'sealed, item ' + r.evidence_item : 'not sealed');
      const c = r.case_id ? await api('GET', '/v1/cases/' + r.case_id) : null;
      const msg = $('report-message');
      const atts = $('report-attachments');
      clear(msg);
      clear(atts);
      // The copy is gone for readers once the case closes (deleted by the service soon after).
      if (!r.review_copy || (c && c.state === 'closed')) {
        msg.append(h('p', { class: 'muted' }, 'The review copy is gone: the case is closed.'));
      } else {
        msg.append(h('button', { type: 'button', class: 'secondary', id: 'report-show-text',
          onclick: () => showReportText(id) }, 'Show message (recorded in the audit log)'));
        for (let i = 0; i < r.attachments; i++) {
          atts.append(h('div', { class: 'attachment', id: 'report-att-' + i },
            h('button', { type: 'button', class: 'secondary', onclick: () => showAttachment(id, i) },
              'Show attachment ' + (i + 1) + ' (recorded in the audit log)')));
        }
      }
      if (r.attachments === 0) atts.append(h('p', { class: 'muted' }, 'none'));
      const kase = $('report-case');
      clear(kase);
      if (c) {
        const content = await api('GET', '/v1/content/' + enc(r.content_id)).catch(() => null);
        kase.append(renderCase(c, content));
      } else kase.append(h('p', { class: 'muted' }, 'no case'));
      $('report-detail').hidden = false;
      return true;
    });
    if (ok) $('report-detail-title').focus();
  }

  async function showReportText(id) {
    await run(async () => {
      const blob = await apiBlob('/v1/reports/' + id + '/text');
      const text = await blob.text();
      const msg = $('report-message');
      clear(msg);
      msg.append(h('p', { class: 'hint' }, 'Shown defanged: addresses are not links.'),
        h('pre', { class: 'reported-text' }, text ? defang(text) : '(no text)'));
    });
  }

  async function showAttachment(id, i) {
    await run(async () => {
      const blob = await apiBlob('/v1/reports/' + id + '/attachments/' + i);
      const bytes = new Uint8Array(await blob.slice(0, 16).arrayBuffer());
      const type = sniff(bytes);
      const box = $('report-att-' + i);
      clear(box);
      box.append(h('p', null, 'Attachment ' + (i + 1) + ': ' + (type || 'not an image or video') +
        ', ' + blob.size + ' bytes'));
      if (!type) return;
      const url = URL.createObjectURL(new Blob([blob], { type }));
      state.revealUrls.push(url);
      const media = type.startsWith('image/')
        ? h('img', { src: url, alt: 'Attachment ' + (i + 1) + ' of the reported message', class: 'shielded' })
        : h('video', { src: url, class: 'shielded', controls: true, muted: true, preload: 'metadata',
          'aria-label': 'Attachment ' + (i + 1) + ' of the reported message' });
      if (media.tagName === 'VIDEO') media.muted = true;
      const toggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' },
        'Reveal attachment ' + (i + 1));
      toggle.addEventListener('click', () => {
        const shown = media.classList.toggle('revealed');
        toggle.setAttribute('aria-pressed', shown ? 'true' : 'false');
        toggle.textContent = (shown ? 'Blur attachment ' : 'Reveal attachment ') + (i + 1);
      });
      box.append(h('div', { class: 'media-box' }, media), toggle);
    });
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
    eoTick(now);
    ++ticks;
    if (ticks % 15 === 0 && state.view === 'orders') loadOrders();
    if (ticks % EO_REFRESH_TICKS === 0 && state.view === 'eorders' && getPurpose()) loadEorders();
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

  // ---- evidence orders ----
  // Legal officers' view (docs/console.md). Every read states a purpose (?purpose=), asked once
  // per tab, shown above the list and written by the API into the audit log with each read. The
  // deadlines count down here between reads; the list is re-read every 5 minutes (each re-read
  // is an audited read too, so not every few seconds).

  const EO_REFRESH_TICKS = 300;
  const OPEN_STATES = ['received', 'collecting', 'preserved', 'approved', 'paused'];
  const FRAMEWORKS = {
    eu_epoc: 'EPOC (EU production)',
    eu_epoc_pr: 'EPOC-PR (EU preservation)',
    uk_opo: 'UK Overseas Production Order',
    us_cloud_act: 'US order (CLOUD Act agreement)',
  };
  const REASONS = [
    ['incomplete', 'incomplete: the certificate is incomplete'],
    ['manifest_errors', 'manifest_errors: the certificate has manifest errors'],
    ['insufficient_information', 'insufficient_information: not enough information to execute it'],
    ['data_not_held', 'data_not_held: the data is not held'],
    ['de_facto_impossibility', 'de_facto_impossibility: execution is impossible in fact'],
    ['invalid_issuing_authority', 'invalid_issuing_authority: not issued or validated by a competent authority'],
    ['offence_not_covered', 'offence_not_covered: the offence is not one the order may serve'],
    ['service_not_covered', 'service_not_covered: the service is not covered'],
    ['immunities_or_privileges', 'immunities_or_privileges: immunities, privileges or press freedom'],
    ['conflict_of_law', 'conflict_of_law: conflict with the law of a third country'],
  ];
  const CONFLICT_FIELDS = ['third_country', 'provisions', 'nature_of_obligation', 'why_applies',
    'link_to_country', 'consequences'];
  // Every clock of an order, in the order of the detail's table; the first four are deadlines
  // that count down (collect and due are breached when overdue).
  const CLOCKS = [
    ['collect', 'collect: the platform answers'],
    ['due', 'due: production'],
    ['transmit_from', 'transmit from'],
    ['preserve_until', 'preserve until'],
    ['clock_start', 'clock started'],
    ['grounds_until', 'grounds may restrict until'],
  ];
  const COUNTING = ['collect', 'due', 'transmit_from', 'preserve_until'];

  function getPurpose() {
    return sessionStorage.getItem(PURPOSE_ITEM);
  }

  function withPurpose(path) {
    return path + (path.includes('?') ? '&' : '?') + 'purpose=' + enc(getPurpose() || '');
  }

  function eoBase(id) {
    return '/v1/evidence-orders/' + enc(id);
  }

  function longDuration(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400);
    const two = (n) => String(n).padStart(2, '0');
    const hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    return (d ? d + 'd ' + two(hh) + ':' : hh ? hh + ':' : '') + (d || hh ? two(mm) : String(mm)) +
      ':' + two(ss);
  }

  // The clocks of an open order that still bind: collect while the platform's data is awaited,
  // the production's due and transmit-from times, the preservation's end.
  function clocksOf(o) {
    const d = o.deadlines || {};
    const out = [];
    if (!OPEN_STATES.includes(o.state)) return out;
    for (const kind of COUNTING) {
      if (!d[kind]) continue;
      if (kind === 'collect' && !['received', 'collecting'].includes(o.state)) continue;
      const at = Date.parse(d[kind]);
      if (!Number.isNaN(at)) out.push({ kind, at });
    }
    return out;
  }

  // One clock at now, in words: [text, overdue].
  function clockText(kind, at, now) {
    const left = at - now;
    if (kind === 'transmit_from')
      return left > 0 ? ['transmit from: in ' + longDuration(left), false] : ['transmission allowed', false];
    if (kind === 'preserve_until')
      return left > 0 ? ['preserve until: ' + longDuration(left) + ' left', false]
        : ['preservation period over', false];
    return left >= 0 ? [kind + ': ' + longDuration(left) + ' left', false]
      : [kind + ': overdue by ' + longDuration(left) + ' (breached)', true];
  }

  // The list's "next deadline" cell: the nearest clock still ahead, and every overdue one.
  function renderNext(el, now) {
    const clocks = el.eoClocks || [];
    const ahead = clocks.filter((c) => c.at >= now).sort((a, b) => a.at - b.at);
    const over = clocks.filter((c) => c.at < now && (c.kind === 'due' || c.kind === 'collect'));
    clear(el);
    if (ahead.length) {
      const [text] = clockText(ahead[0].kind, ahead[0].at, now);
      el.append(h('span', { class: 'eo-left' }, text),
        h('span', { class: 'eo-at mono' }, ' (' + new Date(ahead[0].at).toISOString() + ')'));
    } else if (!over.length) {
      el.append(h('span', { class: 'eo-left' }, el.eoPaused ? 'paused: no deadline' :
        clocks.length ? clockText(clocks[0].kind, clocks[0].at, now)[0] : 'no pending deadline'));
    }
    for (const c of over) el.append(h('span', { class: 'overdue eo-overdue' }, clockText(c.kind, c.at, now)[0]));
    if (el.eoBreachedAt) el.append(h('span', { class: 'breach' }, 'BREACHED ' + el.eoBreachedAt));
    const row = el.closest('tr');
    if (row) row.classList.toggle('breached', over.length > 0 || !!el.eoBreachedAt);
  }

  function eoTick(now) {
    for (const el of document.querySelectorAll('.eo-next')) renderNext(el, now);
    for (const el of document.querySelectorAll('.eo-clock[data-at]')) {
      const [text, overdue] = clockText(el.dataset.kind, Number(el.dataset.at), now);
      el.textContent = text;
      el.classList.toggle('overdue', overdue);
    }
  }

  function holdsOf(o) {
    const out = [];
    if (o.state === 'paused')
      out.push('paused' + (o.paused_at ? ' since ' + o.paused_at : '') + ': cannot comply sent, waiting for a clarification');
    if (o.grounds_blocked && o.grounds_blocked.length)
      out.push('grounds for refusal block ' + o.grounds_blocked.join(', '));
    if (o.production_pending) out.push('production pending: preservation held');
    if (o.restricted) out.push('restricted: grounds raised after delivery');
    return out;
  }

  function holdList(o) {
    const items = holdsOf(o);
    if (items.length === 0) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'labels holds' }, items.map((x) => h('li', null, x)));
  }

  function framework(name) {
    return FRAMEWORKS[name] ? FRAMEWORKS[name] + ' [' + name + ']' : name || '—';
  }

  function showPurpose(editing) {
    const p = getPurpose();
    $('eorders-denied').hidden = true;
    $('purpose-form').hidden = !!p && !editing;
    $('purpose-shown').hidden = !p || !!editing;
    $('purpose-text').textContent = p || '';
    $('eorders-main').hidden = !p;
  }

  function denyEorders(e) {
    const d = $('eorders-denied');
    d.textContent = 'This key may not read evidence orders (legal officers and admins only). ' + errorText(e);
    d.hidden = false;
    $('purpose-form').hidden = true;
    $('purpose-shown').hidden = true;
    $('eorders-main').hidden = true;
  }

  function eoFailed(e) {
    showError(errorText(e));
    if (e instanceof ApiError && e.status === 403) denyEorders(e);
    if (e instanceof ApiError && e.status === 401) signOut(false);
  }

  // Entering the view. A key the view is not offered to still asks the API (without a purpose,
  // so nothing is read) and sees its answer.
  async function enterEorders() {
    if (state.access && !state.access.eorders) {
      clearError();
      try {
        await api('GET', '/v1/evidence-orders?open=1&limit=1');
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 400) {
          eoFailed(e);
          return;
        }
      }
      state.access.eorders = true; // 400 missing_purpose: the role may read
      signedIn();
    }
    showPurpose(false);
    if (getPurpose()) await loadEorders();
    else $('purpose').focus();
  }

  async function setPurpose(ev) {
    ev.preventDefault();
    const p = $('purpose').value.trim();
    if (!p) {
      showError('Say why you read these orders: the purpose is written to the audit log.');
      return;
    }
    sessionStorage.setItem(PURPOSE_ITEM, p);
    showPurpose(false);
    await loadEorders();
    if (state.eorder) await loadEorder(state.eorder, false);
  }

  async function loadEorders() {
    clearError();
    try {
      const data = await api('GET', withPurpose('/v1/evidence-orders?open=1'));
      const orders = data.orders || [];
      const body = $('eorders-body');
      clear(body);
      $('eorders-empty').hidden = orders.length !== 0;
      $('eorders-table').hidden = orders.length === 0;
      for (const o of orders) {
        const next = h('td', { class: 'eo-next' });
        next.eoClocks = clocksOf(o);
        next.eoPaused = o.state === 'paused';
        next.eoBreachedAt = o.breached_at || null;
        body.append(h('tr', { 'data-eorder-id': o.id },
          h('td', { class: 'mono' }, o.id),
          h('td', null, framework(o.framework), o.deadline_class ? h('br') : null,
            o.deadline_class ? h('span', { class: 'muted' }, o.deadline_class) : null),
          h('td', null, o.issuing_state || '—'),
          h('td', { class: 'mono' }, o.reference || '—'),
          h('td', { class: 'eo-state' }, o.state),
          h('td', { class: 'eo-approvals' }, (o.approvals || 0) + '/' + (o.approvals_needed || 0)),
          h('td', { class: 'escalation' }, 'level ' + (o.escalation || 0)),
          next,
          h('td', { class: 'eo-holds' }, holdList(o)),
          h('td', null, h('button', { type: 'button', class: 'secondary', onclick: () => loadEorder(o.id, true) },
            'Details of ' + o.id))));
      }
      eoTick(Date.now());
    } catch (e) {
      eoFailed(e);
    }
  }

  function partyText(p) {
    if (!p) return null;
    return p.name + ' (' + p.type + '), file number ' + p.file_number;
  }

  function contactText(c) {
    if (!c) return null;
    return [c.name, c.email, c.phone].filter((x) => x).join(' · ');
  }

  function list(items) {
    return items && items.length ? items.join(', ') : 'none';
  }

  function renderEorder(o) {
    $('eorder-detail').hidden = false;
    $('eorder-detail-title').textContent = 'Evidence order ' + o.id + ' (' + (o.reference || '') + ')';
    const f = $('eorder-facts');
    clear(f);
    fact(f, 'State', h('span', { class: 'eo-detail-state' }, o.state));
    fact(f, 'Framework', framework(o.framework));
    fact(f, 'Received', o.received_at);
    fact(f, 'Escalation', 'level ' + (o.escalation || 0));
    fact(f, 'Breached', o.breached_at ? h('span', { class: 'breach' }, 'BREACHED ' + o.breached_at) : 'no');
    fact(f, 'Approvals', (o.approvals || 0) + '/' + (o.approvals_needed || 0) +
      (o.approved_at ? ', approved ' + o.approved_at : ''));
    fact(f, 'Release request', o.release_request ? '#' + o.release_request + ' (evidence custodians approve it)' : 'none yet');
    fact(f, 'Holds', holdList(o));
    fact(f, 'Preserved', list(o.preserved));
    fact(f, 'Records', String(o.records || 0));
    fact(f, 'Grounds for refusal', o.grounds ? o.grounds + (o.ground ? ' (' + o.ground + ')' : '') +
      (o.grounds_blocked && o.grounds_blocked.length ? ', blocking ' + o.grounds_blocked.join(', ') : '') : 'none raised');
    fact(f, 'Refused (Annex III)', list(o.refused));
    if (o.reason) fact(f, 'Reason', o.reason + (o.explanation ? ': ' + o.explanation : ''));
    if (o.paused_at) fact(f, 'Paused', o.paused_at);
    if (o.delivered_at) fact(f, 'Delivered', o.delivered_at);
    if (o.not_executed_at) fact(f, 'Not executed', o.not_executed_at);
    if (o.withdrawn_at) fact(f, 'Withdrawn', o.withdrawn_at);
    if (o.ended_at) fact(f, 'Ended', o.ended_at);
    if (o.linked_order) fact(f, 'Linked order', o.linked_order);
    if (o.extended) fact(f, 'Extended', 'yes (+30 days)');
    if (o.ext_id) fact(f, 'Transport id', h('span', { class: 'mono' }, o.ext_id));
    fact(f, 'Certificate SHA-256', h('span', { class: 'mono' }, o.body_sha256));

    const s = $('eorder-sections');
    clear(s);
    fact(s, 'A. Issuing state', o.issuing_state);
    fact(s, 'A. Issuing authority', partyText(o.issuing_authority));
    fact(s, 'A. Validating authority', partyText(o.validating_authority) || 'none');
    fact(s, 'B. Addressee', o.addressee);
    fact(s, 'C. Deadline', o.deadline_class || 'the order\'s own period');
    fact(s, 'E. Time range', (o.time_range ? o.time_range.from + ' to ' + o.time_range.to : '—'));
    fact(s, 'F. Data categories', h('span', { class: 'eo-categories' }, list(o.categories)));
    if (o.subscriber && o.subscriber.length) fact(s, 'F. Subscriber data', list(o.subscriber));
    fact(s, 'G. Offence', o.offence);
    fact(s, 'G. Legal classification', o.legal_classification);
    fact(s, 'K. Execution contact', contactText(o.execution_contact));
    if (o.recipient) {
      fact(s, 'L. Recipient', o.recipient.name + (o.recipient.member_state ? ' (' + o.recipient.member_state + ')' : ''));
      fact(s, 'L. Recipient key (X25519)', h('span', { class: 'mono' }, o.recipient.x25519_public_key));
    }

    const ids = $('eorder-identifiers');
    clear(ids);
    for (const x of o.identifiers || []) {
      ids.append(h('tr', null, h('td', null, x.type), h('td', { class: 'mono' }, x.value),
        h('td', null, x.port !== undefined ? String(x.port) : '—'), h('td', { class: 'mono' }, x.at || '—')));
    }

    const dl = $('eorder-deadlines');
    clear(dl);
    const binding = clocksOf(o);
    const d = o.deadlines || {};
    for (const [kind, label] of CLOCKS) {
      if (!d[kind]) continue;
      const c = binding.find((x) => x.kind === kind);
      const left = c ? h('td', { class: 'eo-clock', 'data-kind': kind, 'data-at': String(c.at) }, '')
        : h('td', { class: 'muted' }, COUNTING.includes(kind) ? 'not running' : '—');
      dl.append(h('tr', { 'data-clock': kind }, h('td', null, label), h('td', { class: 'mono' }, d[kind]), left));
    }
    if (!dl.firstChild) dl.append(h('tr', null, h('td', { colspan: 3 }, o.state === 'paused'
      ? 'Paused: no deadline until the authority clarifies or corrects the order.' : 'No deadlines.')));

    // Cannot comply: the order's categories, those already refused left out.
    const boxes = $('eo-cc-category-boxes');
    clear(boxes);
    for (const c of o.categories || []) {
      const id = 'eo-cc-cat-' + c;
      const refused = (o.refused || []).includes(c);
      boxes.append(h('label', { for: id, class: 'check' },
        h('input', { type: 'checkbox', id, name: 'categories', value: c, disabled: refused }),
        ' ' + c + (refused ? ' (refused already)' : '')));
    }
    const role = state.access && state.access.role;
    $('eo-approve-role').hidden = !role || role === 'legal';
    eoTick(Date.now());
  }

  function renderRecords(records) {
    const body = $('eorder-records');
    clear(body);
    $('eorder-records-empty').hidden = records.length !== 0;
    $('eorder-records-table').hidden = records.length === 0;
    for (const r of records) {
      body.append(h('tr', { 'data-record-id': r.id },
        h('td', null, '#' + r.id + (r.evidence_item ? ' (item ' + r.evidence_item + ')' : '')),
        h('td', null, r.category),
        h('td', { class: 'mono' }, r.identifier || '—'),
        h('td', { class: 'mono' }, r.at || '—'),
        h('td', null, String(r.bytes)),
        h('td', { class: 'mono sha' }, r.sha256 || '—'),
        h('td', { class: 'mono' }, r.fields_sha256 || '—'),
        h('td', { class: 'mono' }, r.sealed_at || '—'),
        h('td', { class: 'mono' }, r.delivered_at || 'no')));
    }
  }

  function renderMessages(messages) {
    const body = $('eorder-messages');
    clear(body);
    $('eorder-messages-empty').hidden = messages.length !== 0;
    $('eorder-messages-table').hidden = messages.length === 0;
    for (const m of messages) {
      body.append(h('tr', { 'data-message-id': m.id },
        h('td', null, '#' + m.id),
        h('td', { class: 'eo-msg-kind' }, m.kind),
        h('td', { class: 'eo-msg-state' }, m.state + (m.last_error ? ' (' + m.last_error + ')' : '')),
        h('td', { class: 'mono' }, m.created_at || '—'),
        h('td', { class: 'mono' }, m.sent_at || (m.next_attempt_at ? 'next attempt ' + m.next_attempt_at : '—')),
        h('td', null, String(m.attempts || 0)),
        h('td', null, h('details', null, h('summary', null, 'content'),
          h('pre', { class: 'mono' }, JSON.stringify(m.message, null, 2))))));
    }
  }

  // Forgets every evidence order shown (on sign-out: the next key has not read them).
  function clearEorders() {
    for (const id of ['eorders-body', 'eorder-facts', 'eorder-sections', 'eorder-identifiers',
      'eorder-deadlines', 'eorder-records', 'eorder-messages', 'eo-cc-category-boxes']) clear($(id));
    $('eorders-table').hidden = true;
    $('eorders-empty').hidden = true;
    $('eorder-detail').hidden = true;
    $('eorders-denied').hidden = true;
    $('purpose-text').textContent = '';
    resetActions();
  }

  function resetActions() {
    for (const form of document.querySelectorAll('#eorder-detail form')) {
      form.reset();
      for (const p of form.querySelectorAll('.inline-error, .inline-ok')) {
        p.hidden = true;
        p.textContent = '';
      }
    }
    clear($('eo-delivery'));
    $('eo-delivery').hidden = true;
    $('eo-cc-conflict').hidden = true;
  }

  // One order's detail: the order, its records and its messages (three audited reads).
  async function loadEorder(id, focus) {
    clearError();
    try {
      const base = eoBase(id);
      const [o, recs, msgs] = await Promise.all([api('GET', withPurpose(base)),
        api('GET', withPurpose(base + '/records')), api('GET', withPurpose(base + '/messages'))]);
      if (state.eorder !== id) resetActions();
      state.eorder = id;
      renderEorder(o);
      renderRecords(recs.records || []);
      renderMessages(msgs.messages || []);
      if (focus) {
        $('eorder-detail-title').setAttribute('tabindex', '-1');
        $('eorder-detail-title').focus();
      }
    } catch (e) {
      eoFailed(e);
    }
  }

  async function afterAction() {
    await loadEorders();
    if (state.eorder) await loadEorder(state.eorder, false);
  }

  async function approve(ev) {
    ev.preventDefault();
    const id = state.eorder;
    if (!id) return;
    const note = $('eo-approve-note').value.trim();
    const ok = await runInline(ev.target, async () => {
      const a = await api('POST', eoBase(id) + '/approvals', note ? { note } : {});
      return 'Approval recorded: ' + a.approvals + ' of ' + a.needed + ' needed' +
        (a.complete ? '; the delivery is approved, release request #' + a.release_request +
          ' now needs the evidence custodians.' : '.');
    });
    if (ok) {
      $('eo-approve-note').value = '';
      say(id + ': approval recorded.');
      await afterAction();
    }
  }

  async function deliver(ev) {
    ev.preventDefault();
    const id = state.eorder;
    if (!id) return;
    const out = $('eo-delivery');
    clear(out);
    out.hidden = true;
    const ok = await runInline(ev.target, async () => {
      const d = await api('POST', eoBase(id) + '/delivery');
      const p = d.package || {};
      fact(out, 'Package SHA-256', h('span', { class: 'mono eo-package-sha' }, p.sha256));
      fact(out, 'Package size', h('span', { class: 'eo-package-bytes' }, String(p.bytes) + ' bytes'));
      fact(out, 'Package URL', h('span', { class: 'mono eo-package-url' }, p.url));
      fact(out, 'Records', String(d.records));
      fact(out, 'Categories', list(d.categories));
      fact(out, 'Delivered', d.delivered_at);
      fact(out, 'Audit entry', '#' + d.audit_seq);
      out.hidden = false;
      return null;
    });
    if (ok) {
      say(id + ': delivered.');
      await loadEorders();
    }
  }

  async function cannotComply(ev) {
    ev.preventDefault();
    const id = state.eorder;
    if (!id) return;
    const reason = $('eo-cc-reason').value;
    const body = { reason, explanation: $('eo-cc-explanation').value.trim() };
    const cats = [...document.querySelectorAll('#eo-cc-category-boxes input:checked')].map((b) => b.value);
    if (cats.length) body.categories = cats;
    if (reason === 'conflict_of_law') {
      body.conflict_of_law = {};
      for (const k of CONFLICT_FIELDS) body.conflict_of_law[k] = $('eo-cc-' + k).value.trim();
    }
    const ok = await runInline(ev.target, async () => {
      const o = await api('POST', eoBase(id) + '/cannot-comply', body);
      return 'Annex III sent (' + reason + '): ' + (o.state === 'paused'
        ? 'the order is paused until the authority clarifies or corrects it.'
        : 'refused ' + list(o.refused) + '.');
    });
    if (ok) {
      say(id + ': cannot comply sent.');
      await afterAction();
    }
  }

  async function correspond(ev) {
    ev.preventDefault();
    const id = state.eorder;
    if (!id) return;
    const kind = $('eo-corr-kind').value;
    const text = $('eo-corr-text').value;
    const ok = await runInline(ev.target, async () => {
      await api('POST', eoBase(id) + '/correspondence', { kind, text });
      return 'Queued for the issuing authority (' + kind + ').';
    });
    if (ok) {
      $('eo-corr-text').value = '';
      say(id + ': correspondence queued.');
      await loadEorder(id, false);
    }
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

  // ---- exchanges ----

  async function loadExchanges() {
    await run(async () => {
      const data = await api('GET', '/v1/exchanges');
      const list = data.exchanges || [];
      const body = $('exchanges-body');
      clear(body);
      $('exchanges-empty').hidden = list.length !== 0;
      $('exchanges-table').hidden = list.length === 0;
      for (const x of list) {
        const st = x.state || {};
        body.append(h('tr', { 'data-exchange': x.id, class: x.enabled ? null : 'muted' },
          h('td', null, x.name),
          h('td', null, x.type),
          h('td', null, x.bank),
          h('td', { class: 'exchange-success' }, when(st.last_success_ms)),
          h('td', { class: 'exchange-items' }, String(st.items ?? 0)),
          h('td', { class: 'exchange-added' }, String(st.added ?? 0)),
          h('td', { class: 'exchange-removed' }, String(st.removed ?? 0)),
          h('td', { class: 'exchange-failures' }, String(st.failures ?? 0)),
          h('td', { class: 'exchange-error' }, st.last_error || '—'),
          h('td', null,
            h('button', { type: 'button', class: 'secondary', 'data-action': 'run',
              onclick: () => exchangeAction(x, 'run') }, 'Pull ' + x.name + ' now'),
            h('button', { type: 'button', class: 'secondary', 'data-action': 'toggle',
              onclick: () => exchangeAction(x, 'toggle') }, (x.enabled ? 'Disable ' : 'Enable ') + x.name),
            h('button', { type: 'button', class: 'secondary', 'data-action': 'delete',
              onclick: () => exchangeAction(x, 'delete') }, 'Delete ' + x.name))));
      }
    });
  }

  async function exchangeAction(x, what) {
    const err = $('exchanges-error');
    err.hidden = true;
    try {
      if (what === 'run') {
        const r = await api('POST', '/v1/exchanges/' + x.id + '/run');
        say(x.name + ': ' + (r.failed ? 'failed: ' + (r.exchange.state.last_error || '')
          : r.pages + ' pages, ' + r.added + ' added, ' + r.removed + ' removed'));
      } else if (what === 'toggle') {
        await api('PATCH', '/v1/exchanges/' + x.id, { enabled: !x.enabled });
        say(x.name + (x.enabled ? ' disabled' : ' enabled'));
      } else if (what === 'delete') {
        if (!window.confirm('Delete the exchange ' + x.name + '? Its signals stay in the bank.')) return;
        await api('DELETE', '/v1/exchanges/' + x.id);
        say(x.name + ' deleted');
      }
    } catch (e) {
      err.textContent = errorText(e);
      err.hidden = false;
      if (e instanceof ApiError && e.status === 401) signOut(false);
      return;
    }
    await loadExchanges();
  }

  async function createExchange(ev) {
    ev.preventDefault();
    const form = $('exchange-form');
    const done = await runInline(form, async () => {
      const body = {
        name: $('exchange-name').value.trim(),
        type: $('exchange-type').value,
        url: $('exchange-url').value.trim(),
        bank: $('exchange-bank').value.trim(),
        interval_ms: Math.round(Number($('exchange-interval').value) * 1000),
        reactions: $('exchange-reactions').checked,
      };
      const group = $('exchange-group').value.trim();
      if (group) body.group = group;
      const tags = words($('exchange-tags').value);
      if (tags.length) body.tags = tags;
      const cred = $('exchange-credentials').value.trim();
      if (cred) {
        try {
          body.credentials = JSON.parse(cred);
        } catch (e) {
          throw new Error('Credentials: not JSON (' + e.message + ')');
        }
      }
      const made = await api('POST', '/v1/exchanges', body);
      $('exchange-credentials').value = '';
      return 'Exchange ' + made.name + ' created (#' + made.id + '); its first pull starts now.';
    });
    if (done) {
      form.reset();
      await loadExchanges();
    }
  }

  // ---- incidents ----

  // A duration in words: "0.073 s", "4 min 05 s", "2 h 10 min".
  function span(ms) {
    if (ms === null || ms === undefined || ms < 0) return '—';
    if (ms < 60000) return (ms / 1000).toFixed(3) + ' s';
    const s = Math.floor(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ' min';
  }

  function words(text) {
    return text.split(/[\s,]+/).map((w) => w.trim()).filter((w) => w.length > 0);
  }

  async function loadIncidents() {
    await run(async () => {
      const data = await api('GET', '/v1/incidents?limit=100');
      const list = data.incidents || [];
      const body = $('incidents-body');
      clear(body);
      $('incidents-empty').hidden = list.length !== 0;
      $('incidents-table').hidden = list.length === 0;
      for (const i of list) {
        body.append(h('tr', { 'data-incident': i.id, class: i.state === 'open' ? 'incident-open' : null },
          h('td', null, '#' + i.id),
          h('td', null, i.name),
          h('td', null, i.level),
          h('td', { class: 'incident-state' }, i.state),
          h('td', null, i.enforcement),
          h('td', null, when(i.opened_ms)),
          h('td', null, h('button', { type: 'button', class: 'secondary', onclick: () => openIncident(i.id, true) },
            'Open incident #' + i.id))));
      }
    });
  }

  // Matches (and blocks) per hour as an SVG bar chart drawn here: one bar per hour from the
  // incident's start (or its first match) to now or its closing, the last week at most, the
  // blocked part darker.
  function chart(hours, fromMs, toMs) {
    const box = $('incident-chart');
    clear(box);
    if (!hours || hours.length === 0) {
      box.append(h('p', { class: 'muted' }, 'No matches yet.'));
      return;
    }
    const HOUR = 3600000;
    const floor = (ms) => ms - (ms % HOUR);
    const last = Math.max(hours[hours.length - 1].hour_ms, floor(toMs || 0));
    const first = Math.max(Math.min(hours[0].hour_ms, floor(fromMs || hours[0].hour_ms)), last - 167 * HOUR);
    const n = Math.round((last - first) / HOUR) + 1;
    const by = new Map(hours.map((x) => [x.hour_ms, x]));
    const max = Math.max(...hours.map((x) => x.matches), 1);
    const W = 640, H = 200, PAD = 28, bw = Math.min(40, Math.max(2, Math.floor((W - 2 * PAD) / n) - 2));
    const svg = document.createElementNS(SVG, 'svg');
    const total = hours.reduce((a, x) => a + x.matches, 0);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('class', 'chart-svg');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', total + ' matches over ' + n + ' hour(s), at most ' + max + ' in one hour');
    const el = (tag, attrs, text) => {
      const e = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    el('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: 'chart-axis' });
    el('text', { x: 2, y: PAD - 8, class: 'chart-label' }, String(max));
    for (let i = 0; i < n; i++) {
      const at = first + i * HOUR;
      const x = by.get(at) || { matches: 0, blocks: 0 };
      const hm = Math.round((H - 2 * PAD) * x.matches / max);
      const hb = Math.round((H - 2 * PAD) * x.blocks / max);
      const left = PAD + i * (bw + 2);
      const bar = el('rect', { x: left, y: H - PAD - hm, width: bw, height: hm, class: 'chart-match',
        'data-hour': at, 'data-matches': x.matches, 'data-blocks': x.blocks });
      const t = document.createElementNS(SVG, 'title');
      t.textContent = when(at) + ': ' + x.matches + ' matches, ' + x.blocks + ' blocked';
      bar.append(t);
      el('rect', { x: left, y: H - PAD - hb, width: bw, height: hb, class: 'chart-block' });
      if (i === 0 || i === n - 1)
        el('text', { x: left, y: H - 8, class: 'chart-label' }, new Date(at).toISOString().slice(11, 16) + 'Z');
    }
    box.append(svg, h('p', { class: 'hint' }, 'Bars: matches per hour (UTC); darker: blocked.'));
  }

  function renderIncident(inc) {
    const f = inc.figures || {};
    $('incident-detail').hidden = false;
    $('incident-detail-title').textContent = 'Incident #' + inc.id + ': ' + inc.name;
    const facts = $('incident-facts');
    clear(facts);
    fact(facts, 'Level', inc.level);
    fact(facts, 'State', inc.state);
    fact(facts, 'Enforcement', inc.enforcement === 'block' ? 'block at once' : 'review at top priority');
    fact(facts, 'Labels (any of)', labelList(inc.filter.labels));
    fact(facts, 'Banks', inc.filter.banks.length ? inc.filter.banks.join(', ') : 'any');
    if (inc.start_ms && inc.start_ms !== inc.opened_ms) fact(facts, 'Started', when(inc.start_ms));
    fact(facts, 'Opened', when(inc.opened_ms) + ' by ' + inc.opened_by);
    if (inc.state === 'closed') fact(facts, 'Closed', when(inc.closed_ms) + ' by ' + inc.closed_by);
    const figs = $('incident-figures');
    clear(figs);
    fact(figs, 'Hashes meeting the filter', h('span', { id: 'incident-signals' }, String(f.signals ?? 0)));
    fact(figs, 'Matches', h('span', { id: 'incident-matches' }, String(f.matches ?? 0)));
    fact(figs, 'Blocked', h('span', { id: 'incident-blocks' }, String(f.blocks ?? 0)));
    fact(figs, 'Sent to review', String(f.reviews ?? 0));
    fact(figs, 'First hash', when(f.first_signal_ms));
    fact(figs, 'First block', when(f.first_block_ms));
    fact(figs, 'Time from first hash to first block',
      h('span', { id: 'incident-first-block' }, span(f.first_hash_to_block_ms)));
    chart(f.matches_per_hour || [], inc.start_ms, inc.state === 'open' ? Date.now() : inc.closed_ms);
    const sources = $('incident-sources');
    clear(sources);
    const src = f.sources || [];
    $('incident-sources-empty').hidden = src.length !== 0;
    $('incident-sources-table').hidden = src.length === 0;
    for (const s of src) sources.append(h('tr', null, h('td', null, s.source), h('td', null, String(s.signals))));
    const open = inc.state === 'open';
    $('incident-close-form').hidden = !open;
    $('incident-report-json').disabled = open;
    $('incident-report-md').disabled = open;
    $('incident-report-hint').textContent = open ? 'Written when the incident closes.'
      : 'Written when the incident closed, from the recorded events.';
  }

  async function openIncident(id, focus) {
    await run(async () => {
      const inc = await api('GET', '/v1/incidents/' + id);
      state.incident = id;
      renderIncident(inc);
      if (focus) $('incident-detail-title').focus();
    });
  }

  async function createIncident(ev) {
    ev.preventDefault();
    const form = $('incident-form');
    let made = null;
    await runInline(form, async () => {
      const body = {
        name: $('incident-name').value.trim(),
        level: $('incident-level').value,
        filter: { labels: words($('incident-labels').value) },
        enforcement: $('incident-enforcement').value,
      };
      const banks = words($('incident-banks').value);
      if (banks.length) body.filter.banks = banks;
      made = await api('POST', '/v1/incidents', body);
      return 'Incident #' + made.id + ' is open.';
    });
    if (made) {
      form.reset();
      await loadIncidents();
      await openIncident(made.id, true);
      say('Incident #' + made.id + ' opened: matches meeting its filter are ' +
        (made.enforcement === 'block' ? 'blocked.' : 'reviewed at top priority.'));
    }
  }

  async function closeIncident(ev) {
    ev.preventDefault();
    const id = state.incident;
    if (!id) return;
    const done = await runInline($('incident-close-form'), async () => {
      await api('POST', '/v1/incidents/' + id + '/close');
      return 'Closed; the report is written.';
    });
    if (done) {
      await loadIncidents();
      await openIncident(id, false);
      say('Incident #' + id + ' closed; its after-action report is ready.');
    }
  }

  // The report as a file: fetched with the key, handed to the browser as a download.
  async function downloadReport(markdown) {
    const id = state.incident;
    if (!id) return;
    await runInline($('incident-report-form'), async () => {
      const key = getKey();
      const resp = await fetch('/v1/incidents/' + id + '/report' + (markdown ? '?format=markdown' : ''),
        { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store', credentials: 'omit',
          referrerPolicy: 'no-referrer' });
      if (!resp.ok) {
        let err = null;
        try { err = (await resp.json()).error; } catch (e) { err = null; }
        throw new ApiError(resp.status, err ? err.code : 'http', err ? err.message : 'HTTP ' + resp.status, null);
      }
      const blob = new Blob([await resp.arrayBuffer()],
        { type: markdown ? 'text/markdown' : 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: 'incident-' + id + '-report.' + (markdown ? 'md' : 'json') });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      return '';
    });
  }

  // ---- wiring ----

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(true));
    for (const b of document.querySelectorAll('#views button')) {
      b.addEventListener('click', () => show(b.dataset.view, true));
    }
    for (const v of VIEWS) $(v + '-title').setAttribute('tabindex', '-1');
    $('queue-refresh').addEventListener('click', loadQueue);
    $('orders-refresh').addEventListener('click', loadOrders);
    $('banks-refresh').addEventListener('click', () => {
      loadBanks();
      if (state.bank) loadSignals(state.bank, false);
    });
    $('signals-more').addEventListener('click', () => loadSignals(state.bank, true));
    $('reports-refresh').addEventListener('click', async () => {
      await loadReports();
      if (state.report) await openReport(state.report);
    });
    $('eorders-refresh').addEventListener('click', async () => {
      if (!getPurpose() || (state.access && !state.access.eorders)) return enterEorders();
      await loadEorders();
      if (state.eorder) await loadEorder(state.eorder, false);
    });
    $('purpose-form').addEventListener('submit', setPurpose);
    $('exchanges-refresh').addEventListener('click', loadExchanges);
    $('exchange-form').addEventListener('submit', createExchange);
    $('incidents-refresh').addEventListener('click', async () => {
      await loadIncidents();
      if (state.incident) await openIncident(state.incident, false);
    });
    $('incident-form').addEventListener('submit', createIncident);
    $('incident-close-form').addEventListener('submit', closeIncident);
    $('incident-report-json').addEventListener('click', () => downloadReport(false));
    $('incident-report-md').addEventListener('click', () => downloadReport(true));
    $('purpose-change').addEventListener('click', () => {
      $('purpose').value = getPurpose() || '';
      showPurpose(true);
      $('purpose').focus();
    });
    for (const [code, label] of REASONS) $('eo-cc-reason').append(h('option', { value: code }, label));
    $('eo-cc-reason').addEventListener('change', () => {
      $('eo-cc-conflict').hidden = $('eo-cc-reason').value !== 'conflict_of_law';
    });
    $('eo-approve-form').addEventListener('submit', approve);
    $('eo-deliver-form').addEventListener('submit', deliver);
    $('eo-cc-form').addEventListener('submit', cannotComply);
    $('eo-corr-form').addEventListener('submit', correspond);
    window.addEventListener('hashchange', () => {
      const v = viewFromHash();
      if (v && getKey() && v !== state.view) show(v, true);
    });
    signedIn();
    if (getKey()) {
      run(probeAccess).then((a) => {
        if (a) show(firstView(a), false);
      });
    } else {
      $('key').focus();
    }
  });
})();
