// takedown console: the team's views (docs/console.md, "Team views"): banks, orders, evidence
// and its release approvals, authorities, API keys, webhooks, the audit log (checkpoint and
// inclusion proof verified in the browser), the transparency report with charts, live figures
// from /metrics, evidence orders, reported messages, exchanges and incidents. Built on the
// shell's window.TD (console.js): every call goes through TD.api with the signed-in key; data
// from the API goes into the page as text only; each action is a form whose API error is shown
// next to its button; actions the role may not take (TD.can) are not shown.
'use strict';

(function () {
  const TD = window.TD;
  const Charts = window.TDCharts;
  const enc = encodeURIComponent;
  const READ = ['admin', 'moderator', 'auditor'];
  const PAGE = 20;

  // ---- helpers ----

  // Creates an element: attrs (class, text, id, for, type, name, value, aria-*, data-*, ...;
  // on: {event: fn}); children: nodes or strings (text nodes).
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else if (k === 'value' && (tag === 'input' || tag === 'textarea' || tag === 'select')) e.value = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
    return e;
  }

  const can = (action) => !!(TD.can && TD.can(action));
  const time = (iso) => (iso ? (TD.fmtTime ? TD.fmtTime(iso) : iso) : '—');
  const ms = (v) => (v ? time(new Date(v).toISOString()) : '—');
  const list = (a) => (a && a.length ? a.join(', ') : '—');
  const words = (text) => text.split(/[\s,]+/).map((w) => w.trim()).filter((w) => w);

  class ApiError extends Error {
    constructor(res) {
      super(TD.errorText ? TD.errorText(res) : 'Error ' + res.status);
      this.status = res.status;
      this.res = res;
    }
  }

  // One API call; resolves with the parsed JSON (or the result when opts.raw / opts.blob),
  // rejects with an ApiError whose message is TD.errorText's.
  async function api(method, path, opts) {
    const res = await TD.api(method, path, opts || {});
    if (!res.ok) throw new ApiError(res);
    return opts && (opts.raw || opts.blob) ? res : res.json;
  }

  function fact(dl, name, value) {
    dl.append(h('dt', null, name), h('dd', null, value === null || value === undefined || value === '' ? '—' : value));
  }

  function facts(pairs, cls) {
    const dl = h('dl', { class: 'facts' + (cls ? ' ' + cls : '') });
    for (const [k, v] of pairs) fact(dl, k, v);
    return dl;
  }

  // A status line of a view (polite live region) and an alert line for failed reads.
  function notes() {
    const ok = h('p', { class: 'status-line', role: 'status', 'aria-live': 'polite' });
    const bad = h('p', { class: 'inline-error', role: 'alert', hidden: true });
    return {
      ok, bad,
      say(text) { ok.textContent = text; },
      fail(e) { bad.textContent = e.message; bad.hidden = false; },
      reset() { bad.hidden = true; bad.textContent = ''; },
    };
  }

  // Runs a read; shows its error in n.bad.
  async function guard(n, fn) {
    n.reset();
    try {
      return await fn();
    } catch (e) {
      n.fail(e);
      return undefined;
    }
  }

  let uid = 0;
  const nextId = (p) => p + '-' + (++uid);

  // A field: {name, label, type ('text', 'number', 'select', 'textarea', 'file', 'checkbox',
  // 'date', 'password'), options [[value, label]], value, required, hint, attrs}.
  function field(f, prefix) {
    const id = prefix + '-' + f.name;
    let input;
    const attrs = Object.assign({ id, name: f.name, required: f.required || null }, f.attrs || {});
    if (f.type === 'select') {
      input = h('select', attrs, (f.options || []).map(([v, l]) => h('option', { value: v }, l)));
      if (f.value !== undefined) input.value = f.value;
    } else if (f.type === 'textarea') {
      input = h('textarea', attrs);
      if (f.value !== undefined) input.value = f.value;
    } else {
      input = h('input', Object.assign({ type: f.type || 'text' }, attrs));
      if (f.type === 'checkbox') input.checked = !!f.value;
      else if (f.value !== undefined && f.value !== null) input.value = String(f.value);
    }
    const hint = f.hint ? h('span', { class: 'hint', id: id + '-hint' }, f.hint) : null;
    if (hint) input.setAttribute('aria-describedby', id + '-hint');
    const wrap = f.type === 'checkbox'
      ? h('div', { class: 'field check' }, input, h('label', { for: id }, f.label), hint)
      : h('div', { class: 'field' }, h('label', { for: id }, f.label), input, hint);
    return { wrap, input };
  }

  // An action form: its fields, its button, and beside the button the API's error (role=alert)
  // or the outcome (role=status). submit(values, form) returns the outcome's text (or a node).
  function actionForm(opts) {
    const prefix = opts.id || nextId('f');
    const inputs = {};
    const bad = h('p', { class: 'inline-error', role: 'alert', hidden: true });
    const good = h('p', { class: 'inline-ok', role: 'status', hidden: true });
    const button = h('button', { type: 'submit', class: opts.danger ? 'danger' : null }, opts.button);
    const form = h('form', { class: 'action', id: prefix, autocomplete: 'off', 'aria-labelledby': prefix + '-title' },
      h(opts.level || 'h4', { id: prefix + '-title' }, opts.title),
      opts.intro ? h('p', { class: 'hint' }, opts.intro) : null);
    for (const f of opts.fields || []) {
      const { wrap, input } = field(f, prefix);
      inputs[f.name] = input;
      form.append(wrap);
    }
    if (opts.extra) form.append(opts.extra);
    form.append(h('div', { class: 'form-actions' }, button, bad, good));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      bad.hidden = true;
      good.hidden = true;
      const values = {};
      for (const [k, input] of Object.entries(inputs)) {
        values[k] = input.type === 'checkbox' ? input.checked : input.type === 'file' ? input.files[0] || null : input.value;
      }
      if (opts.confirm && !window.confirm(opts.confirm(values))) return;
      button.disabled = true;
      try {
        const out = await opts.submit(values, form);
        if (opts.reset) form.reset();
        // After the view re-read what changed, the outcome is shown: in this form, or in the
        // one the view drew anew (with any partial error).
        if (opts.after) await opts.after(out);
        const fresh = document.getElementById(prefix);
        if (fresh && fresh !== form && fresh.showOutcome) fresh.showOutcome(out, bad.hidden ? null : bad.textContent);
        else if (form.isConnected) form.showOutcome(out, null);
        else if (out) TD.say(typeof out === 'string' ? out : out.textContent); // the action is done with
      } catch (e) {
        bad.textContent = e.message;
        bad.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    form.inputs = inputs;
    form.showError = (text) => {
      bad.textContent = text;
      bad.hidden = false;
    };
    form.showOutcome = (out, error) => {
      if (out) {
        clear(good).append(out);
        good.hidden = false;
      }
      if (error) form.showError(error);
    };
    return form;
  }

  // A one-button action (a small form, so that its error shows next to it).
  function actionButton(label, fn, opts) {
    return actionForm(Object.assign({ title: '', button: label, fields: [], submit: fn, level: 'span' }, opts || {}));
  }

  // A table with its header, in a horizontally scrolling box.
  function table(caption, columns, rows, attrs) {
    return h('div', { class: 'table-wrap' }, h('table', attrs || null,
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows)));
  }

  // A paged list. load(page) -> {items, more}; row(item) -> <tr>. Pages of PAGE items, with
  // Previous / Next buttons and the page number.
  function pager(box, opts) {
    let page = 0;
    const body = h('div');
    const prev = h('button', { type: 'button', class: 'secondary', on: { click: () => go(page - 1) } }, 'Previous page');
    const next = h('button', { type: 'button', class: 'secondary', on: { click: () => go(page + 1) } }, 'Next page');
    const where = h('span', { class: 'page-no', 'aria-live': 'polite' });
    const nav = h('div', { class: 'pager', role: 'group', 'aria-label': opts.caption + ': pages' }, prev, where, next);
    const err = h('p', { class: 'inline-error', role: 'alert', hidden: true });
    box.append(body, nav, err);
    async function go(p) {
      err.hidden = true;
      try {
        const { items, more } = await opts.load(p);
        page = p;
        clear(body);
        if (!items.length && p === 0) body.append(h('p', { class: 'muted empty' }, opts.empty || 'None.'));
        else body.append(table(opts.caption, opts.columns, items.map(opts.row), opts.tableAttrs));
        prev.disabled = p === 0;
        next.disabled = !more;
        nav.hidden = p === 0 && !more;
        where.textContent = 'Page ' + (p + 1);
      } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
      }
    }
    return { reload: () => go(page), first: () => go(0) };
  }

  // Client-side pages of a list read whole (routes without offset).
  function slicePage(all, p) {
    return { items: all.slice(p * PAGE, (p + 1) * PAGE), more: all.length > (p + 1) * PAGE };
  }

  // Hands bytes to the browser as a file download.
  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name, class: 'visually-hidden' }, name);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function view(def) {
    TD.registerView(def);
  }

  // The frame of a view: the shell's title (kept), a bar for its buttons, an intro, the view's
  // status lines.
  function frame(section, title, intro) {
    TD.clearView(section);
    if (TD.say) TD.say(''); // the shell's status line spoke of the view left
    const n = notes();
    const head = h('div', { class: 'bar' });
    section.append(head, intro ? h('p', { class: 'hint' }, intro) : null, n.ok, n.bad);
    return { n, head };
  }

  function refreshButton(head, fn) {
    head.append(h('button', { type: 'button', class: 'secondary', on: { click: fn } }, 'Refresh'));
  }

  // ---- banks ----

  const ACTIONS = [['review', 'review: send to the review queue'], ['block', 'block: refuse the upload'], ['log', 'log: record only']];
  const HASH_TYPES = [['pdq', 'pdq'], ['md5', 'md5'], ['sha256', 'sha256'], ['url', 'url'], ['raw_text', 'raw_text']];

  view({
    id: 'banks', title: 'Banks', roles: READ, order: 30,
    render(section, params) {
      const { n, head } = frame(section, 'Banks', 'Hash lists matched at upload: threshold (PDQ distance), action, labels and signals.');
      const listBox = h('section', { 'aria-label': 'Bank list' });
      const detail = h('section', { id: 'bank-detail', 'aria-labelledby': 'bank-detail-title', hidden: true });
      section.append(listBox);
      let banks = [];
      const p = pager(listBox, {
        caption: 'Banks', empty: 'No banks yet.',
        columns: ['Bank', 'Action', 'Threshold', 'Labels', 'Signals', 'Enabled', ''],
        load: async (pg) => {
          banks = (await api('GET', '/v1/banks')).banks || [];
          return slicePage(banks, pg);
        },
        row: (b) => h('tr', { 'data-bank': b.name },
          h('td', { class: 'mono' }, b.name), h('td', null, b.action), h('td', { class: 'bank-threshold' }, String(b.threshold)),
          h('td', null, list(b.labels)), h('td', { class: 'signal-count' }, String(b.signal_count)),
          h('td', null, b.enabled ? 'yes' : 'no'),
          h('td', null, h('a', { href: '#banks/' + enc(b.name), class: 'button secondary' }, 'Open ' + b.name))),
      });
      refreshButton(head, () => p.reload());
      if (can('POST /v1/banks')) {
        section.append(actionForm({
          id: 'bank-create', title: 'Create a bank', level: 'h3', button: 'Create bank', reset: true,
          fields: [
            { name: 'name', label: 'Name', required: true, hint: 'Capitals, digits and _ (e.g. TERROR_PDQ)', attrs: { pattern: '[A-Z_][A-Z0-9_]*', maxlength: 64 } },
            { name: 'action', label: 'Action on a match', type: 'select', options: ACTIONS },
            { name: 'threshold', label: 'Threshold (largest PDQ distance that matches)', type: 'number', value: 31, attrs: { min: 0, max: 256 } },
            { name: 'labels', label: 'Labels', hint: 'comma or space separated' },
          ],
          submit: async (v) => {
            const body = { name: v.name.trim(), action: v.action, threshold: Number(v.threshold) };
            const labels = words(v.labels);
            if (labels.length) body.labels = labels;
            const b = await api('POST', '/v1/banks', { body });
            return 'Bank ' + b.name + ' created (threshold ' + b.threshold + ', ' + b.action + ').';
          },
          after: () => p.reload(),
        }));
      }
      section.append(detail);
      p.first();
      if (params) openBank(detail, decodeURIComponent(params), n, () => p.reload());
    },
  });

  async function openBank(box, name, n, relist) {
    let b;
    try {
      b = await api('GET', '/v1/banks/' + enc(name));
    } catch (e) {
      n.fail(e);
      return;
    }
    clear(box).hidden = false;
    box.append(h('h3', { id: 'bank-detail-title', tabindex: '-1' }, 'Bank ' + b.name),
      facts([['Action', b.action], ['Threshold', String(b.threshold)], ['Kind', b.kind], ['Labels', list(b.labels)],
        ['Signals', String(b.signal_count)], ['Enabled', b.enabled ? 'yes' : 'no'], ['Created', ms(b.created_ms)]], 'bank-facts'));
    const base = '/v1/banks/' + enc(b.name);
    const reopen = async () => {
      await relist();
      await openBank(box, name, n, relist);
    };
    const actions = h('div', { class: 'actions' });
    if (can('PATCH /v1/banks/{name}')) {
      actions.append(actionForm({
        id: 'bank-edit', title: 'Edit threshold and action', button: 'Save ' + b.name,
        fields: [
          { name: 'threshold', label: 'Threshold', type: 'number', value: b.threshold, attrs: { min: 0, max: 256 } },
          { name: 'action', label: 'Action', type: 'select', options: ACTIONS, value: b.action },
          { name: 'enabled', label: 'Enabled', type: 'checkbox', value: b.enabled },
        ],
        submit: async (v) => {
          const u = await api('PATCH', base, { body: { threshold: Number(v.threshold), action: v.action, enabled: v.enabled } });
          return 'Saved: threshold ' + u.threshold + ', ' + u.action + (u.enabled ? '' : ', disabled') + '.';
        },
        after: reopen,
      }));
    }
    if (can('POST /v1/banks/{name}/signals')) {
      actions.append(actionForm({
        id: 'bank-upload', title: 'Add a signal from media', button: 'Upload and hash',
        intro: 'The server hashes the image or video (PDQ, MD5, SHA-256; vPDQ for video) and adds each hash.',
        fields: [
          { name: 'file', label: 'Media file', type: 'file', required: true, attrs: { accept: 'image/*,video/*' } },
          { name: 'labels', label: 'Labels (optional)' },
        ],
        submit: async (v) => {
          const query = { source: 'console' };
          if (words(v.labels).length) query.labels = words(v.labels).join(',');
          const out = await api('POST', base + '/signals', { body: v.file, query, headers: { 'Content-Type': v.file.type || 'application/octet-stream' } });
          return (out.signals || []).length + ' signal(s) added: ' + (out.signals || []).map((s) => s.type + ' #' + s.id).join(', ');
        },
        reset: true, after: reopen,
      }));
      actions.append(actionForm({
        id: 'bank-paste', title: 'Paste hashes', button: 'Add hashes',
        fields: [
          { name: 'type', label: 'Type', type: 'select', options: HASH_TYPES },
          { name: 'values', label: 'Hashes, one per line', type: 'textarea', required: true, attrs: { rows: 4, spellcheck: 'false' } },
        ],
        submit: async (v, form) => {
          const lines = v.values.split('\n').map((l) => l.trim()).filter((l) => l);
          let added = 0;
          const failed = [];
          for (const [i, value] of lines.entries()) {
            const res = await TD.api('POST', base + '/signals', { body: { type: v.type, value, source: 'console' } });
            if (res.ok) added++;
            else failed.push('line ' + (i + 1) + ': ' + TD.errorText(res));
          }
          if (failed.length) {
            form.showError(failed.join('; '));
            if (!added) throw new Error(failed.join('; '));
          }
          return added + ' of ' + lines.length + ' added.';
        },
        after: reopen,
      }));
    }
    if (can('POST /v1/banks/{name}/import')) actions.append(importForm(b, base, reopen));
    actions.append(actionForm({
      id: 'bank-export', title: 'Export', button: 'Download ' + b.name,
      fields: [{ name: 'format', label: 'Format', type: 'select', options: [['te', 'ThreatExchange lines (type value)'], ['csv', 'CSV (HMA)']] },
        { name: 'disabled', label: 'Include disabled signals', type: 'checkbox' }],
      submit: async (v) => {
        const query = { format: v.format };
        if (v.disabled) query.include_disabled = '1';
        const res = await api('GET', base + '/export', { query, blob: true });
        const blob = res.blob || new Blob([res.text], { type: 'text/plain' });
        download(blob, b.name + (v.format === 'csv' ? '.csv' : '.txt'));
        return 'Downloaded ' + TD.fmtBytes(blob.size) + '.';
      },
    }));
    box.append(h('h4', null, 'Actions'), actions);
    const sigBox = h('section', { 'aria-labelledby': 'signals-title' }, h('h4', { id: 'signals-title' }, 'Signals of ' + b.name));
    box.append(sigBox);
    const cursors = [0];
    const sp = pager(sigBox, {
      caption: 'Signals of ' + b.name, empty: 'No signals.',
      columns: ['Signal', 'Type', 'Value', 'Labels', 'Source', 'Enabled', ''],
      load: async (pg) => {
        const query = { limit: String(PAGE) };
        if (cursors[pg]) query.after = String(cursors[pg]);
        const d = await api('GET', base + '/signals', { query });
        if (d.next_after) cursors[pg + 1] = d.next_after;
        return { items: d.signals || [], more: !!d.next_after };
      },
      row: (s) => h('tr', { 'data-signal-id': s.id, class: s.enabled ? null : 'disabled' },
        h('td', null, '#' + s.id), h('td', null, s.type), h('td', { class: 'mono hash' }, s.display || s.value),
        h('td', null, list(s.labels)), h('td', null, s.source), h('td', { class: 'enabled' }, s.enabled ? 'yes' : 'no'),
        h('td', null, can('PATCH /v1/banks/{name}/signals/{id}') ? actionButton((s.enabled ? 'Disable' : 'Enable') + ' signal #' + s.id,
          async () => {
            const u = await api('PATCH', base + '/signals/' + s.id, { body: { enabled: !s.enabled } });
            n.say('Signal #' + u.id + (u.enabled ? ' enabled.' : ' disabled.'));
            return '';
          }, { danger: s.enabled, after: () => sp.reload() }) : null)),
    });
    sp.first();
    document.getElementById('bank-detail-title').focus();
  }

  // Import a list with a progress bar: the upload's progress (XMLHttpRequest's upload events,
  // when the shell lends the key), then the API's answer (lines, added, duplicates, errors).
  let lastImport = null; // {bank, value, text}: the bar as the last import of a bank left it
  function importForm(b, base, after) {
    const kept = lastImport && lastImport.bank === b.name ? lastImport : { value: 0, text: '' };
    const bar = h('progress', { id: 'import-progress', max: '100', value: String(kept.value), 'aria-label': 'Import progress' });
    const barText = h('span', { class: 'hint', id: 'import-progress-text', 'aria-live': 'polite' }, kept.text);
    const extra = h('div', { class: 'progress-box' }, bar, barText);
    return actionForm({
      id: 'bank-import', title: 'Import a list', button: 'Import into ' + b.name, extra,
      intro: 'Lines "type hash" (ThreatExchange) or the HMA CSV; in one transaction.',
      fields: [
        { name: 'file', label: 'List file', type: 'file', required: true, attrs: { accept: '.txt,.csv,text/plain,text/csv' } },
        { name: 'format', label: 'Format', type: 'select', options: [['auto', 'detect'], ['te', 'type value lines'], ['csv', 'CSV']] },
        { name: 'labels', label: 'Labels (optional)' },
      ],
      submit: async (v) => {
        const query = { format: v.format, source: 'console-import' };
        if (words(v.labels).length) query.labels = words(v.labels).join(',');
        bar.value = 0;
        barText.textContent = 'Uploading ' + TD.fmtBytes(v.file.size) + '…';
        const r = await uploadWithProgress(base + '/import', query, v.file, (done, total) => {
          bar.value = total ? Math.round(99 * done / total) : 50;
          barText.textContent = 'Uploaded ' + TD.fmtBytes(done) + ' of ' + TD.fmtBytes(total);
        });
        bar.value = 100;
        barText.textContent = 'Done: ' + r.lines + ' lines read.';
        lastImport = { bank: b.name, value: 100, text: barText.textContent };
        return 'Imported: ' + r.lines + ' lines, ' + r.added + ' added, ' + r.duplicates + ' duplicates, ' +
          r.disabled + ' disabled, ' + r.unsupported + ' unsupported, ' + r.errors + ' errors' +
          ((r.error_list || []).length ? ' (' + r.error_list.slice(0, 3).map((x) => 'line ' + x.line + ': ' + x.message).join('; ') + ')' : '') + '.';
      },
      after,
    });
  }

  function uploadWithProgress(path, query, file, progress) {
    // XMLHttpRequest (fetch has no upload progress) with the key the shell keeps for this tab.
    const key = typeof TD.key === 'function' ? TD.key() : sessionStorage.getItem('takedown.key');
    if (!key) return api('POST', path, { query, body: file, headers: { 'Content-Type': 'text/plain' } });
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path + '?' + new URLSearchParams(query).toString());
      xhr.setRequestHeader('Authorization', 'Bearer ' + key);
      xhr.setRequestHeader('Content-Type', 'text/plain');
      xhr.upload.onprogress = (ev) => progress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
      xhr.onerror = () => reject(new Error('The server cannot be reached.'));
      xhr.onload = () => {
        let json = null;
        try {
          json = JSON.parse(xhr.responseText);
        } catch (e) {
          json = null;
        }
        const res = { status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, json, text: xhr.responseText };
        if (res.ok) resolve(json);
        else reject(new ApiError(res));
      };
      xhr.send(file);
    });
  }

  // ---- orders, referrals, complaints ----

  const GROUNDS = [['force_majeure', 'force majeure or de facto impossibility'], ['manifest_error', 'manifest errors'],
    ['missing_information', 'insufficient information']];
  let orderTimer = 0;
  let ordersOpenOnly = true; // the list's filter, kept while details are opened

  function countdown(deadline) {
    return h('span', { class: 'countdown', 'data-deadline': deadline }, '');
  }

  function tickCountdowns() {
    const now = Date.now();
    for (const e of document.querySelectorAll('.countdown[data-deadline]')) {
      const left = Date.parse(e.dataset.deadline) - now;
      const s = Math.floor(Math.abs(left) / 1000);
      const t = Math.floor(s / 3600) + ':' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
      e.textContent = left >= 0 ? t + ' left' : 'overdue by ' + t;
      e.classList.toggle('overdue', left < 0);
    }
  }

  view({
    id: 'orders', title: 'Orders', roles: READ, order: 40,
    render(section, params) {
      const { n, head } = frame(section, 'Removal orders and referrals',
        'Open orders first (most escalated, then the earliest deadline), with the time left of the hour.');
      const openOnly = field({ name: 'open', label: 'Open only', type: 'checkbox', value: ordersOpenOnly }, 'orders-filter');
      section.append(openOnly.wrap);
      const listBox = h('section', { 'aria-label': 'Order list' });
      const detail = h('section', { id: 'order-detail', 'aria-labelledby': 'order-detail-title', hidden: true });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'Orders', empty: 'No orders.',
        columns: ['Order', 'Type', 'Authority', 'Reference', 'State', 'Escalation', 'Deadline', 'Time left', ''],
        load: async (pg) => slicePage((await api('GET', '/v1/orders', { query: { open: openOnly.input.checked ? '1' : '0', limit: '1000' } })).orders || [], pg),
        row: (o) => h('tr', { 'data-order-id': o.id, class: o.breached_at ? 'breached' : null },
          h('td', null, '#' + o.id + (o.emergency ? ' (emergency)' : '')), h('td', null, o.type),
          h('td', null, o.issuing_authority), h('td', { class: 'mono' }, o.reference), h('td', { class: 'order-state' }, o.state),
          h('td', null, 'level ' + o.escalation), h('td', { class: 'mono' }, o.deadline || '—'),
          h('td', null, o.deadline && ['received', 'executed'].includes(o.state) ? countdown(o.deadline) : '—',
            o.breached_at ? h('span', { class: 'breach' }, ' BREACHED ' + o.breached_at) : null),
          h('td', null, h('a', { href: '#orders/' + o.id, class: 'button secondary' }, 'Details of order #' + o.id))),
      });
      openOnly.input.addEventListener('change', () => {
        ordersOpenOnly = openOnly.input.checked;
        p.first();
      });
      refreshButton(head, () => p.reload());
      section.append(detail, complaintBox(n));
      p.first().then(tickCountdowns);
      clearInterval(orderTimer);
      orderTimer = setInterval(tickCountdowns, 1000);
      if (params) openOrder(detail, Number(params), n, () => p.reload());
    },
    leave() {
      clearInterval(orderTimer);
      orderTimer = 0;
    },
  });

  async function openOrder(box, id, n, relist) {
    let o, fb;
    try {
      [o, fb] = await Promise.all([api('GET', '/v1/orders/' + id),
        api('GET', '/v1/orders/' + id + '/feedback').catch((e) => ({ error: e.message }))]);
    } catch (e) {
      n.fail(e);
      return;
    }
    const again = async () => {
      await relist();
      await openOrder(box, id, n, relist);
    };
    clear(box).hidden = false;
    box.append(h('h3', { id: 'order-detail-title', tabindex: '-1' }, (o.type === 'referral' ? 'Referral #' : 'Order #') + o.id + ' (' + o.reference + ')'),
      facts([['State', h('span', { class: 'order-detail-state' }, o.state)], ['Authority', o.issuing_authority],
        ['Member state', o.issuing_member_state], ['Received', time(o.received_at)], ['Deadline', o.deadline ? time(o.deadline) : 'none'],
        ['Time left', o.deadline && ['received', 'executed'].includes(o.state) ? countdown(o.deadline) : '—'],
        ['Escalation', 'level ' + o.escalation], ['Breached', o.breached_at || 'no'],
        ['Measure', o.measure ? o.measure + ' at ' + time(o.measure_at) : 'none yet'],
        ['Cannot comply', o.cannot_comply ? o.cannot_comply.ground + ': ' + o.cannot_comply.explanation : 'no'],
        ['Reasons', o.statement_of_reasons], ['Preserved', o.preserved ? 'yes' : 'no']]));
    box.append(h('h4', null, 'Targets'), table('Targets', ['#', 'Content id', 'URL', 'Located', 'Removed'],
      (o.content || []).map((t, i) => h('tr', null, h('td', null, String(i)), h('td', { class: 'mono' }, t.content_id || '—'),
        h('td', { class: 'mono' }, t.url || '—'), h('td', null, t.located ? 'yes' : 'no'), h('td', null, t.removed ? 'yes' : 'no')))));
    if (o.type !== 'referral') {
      box.append(h('h4', null, 'Feedback (Annex II)'), fb.error ? h('p', { class: 'muted' }, fb.error)
        : facts([['Time of receipt', fb.time_of_receipt], ['Measure', fb.measure], ['Time of measure', fb.time_of_measure],
          ['Within deadline', fb.within_deadline === null || fb.within_deadline === undefined ? 'not yet known' : fb.within_deadline ? 'yes' : 'no']], 'order-feedback'));
    }
    const actions = h('div', { class: 'actions' });
    if (o.type === 'referral' && can('POST /v1/referrals/{id}/decision') && o.state === 'received') {
      actions.append(actionForm({
        id: 'referral-decide', title: 'Decide the referral', button: 'Decide referral #' + o.id,
        fields: [{ name: 'decision', label: 'Decision', type: 'select', options: [['remove', 'remove'], ['keep', 'keep']] },
          { name: 'reason', label: 'Reason', type: 'textarea', required: true }],
        submit: async (v) => {
          await api('POST', '/v1/referrals/' + o.id + '/decision', { body: { decision: v.decision, reason: v.reason } });
          return 'Referral #' + o.id + ': ' + v.decision + ' recorded.';
        },
        after: again,
      }));
    }
    if (o.type !== 'referral' && can('POST /v1/orders/{id}/cannot-comply') && ['received', 'executed'].includes(o.state)) {
      actions.append(actionForm({
        id: 'order-cc', title: 'Cannot comply (Annex III)', button: 'Send cannot-comply for order #' + o.id, danger: true,
        intro: 'The clock pauses until the authority clarifies.',
        fields: [{ name: 'ground', label: 'Ground', type: 'select', options: GROUNDS },
          { name: 'explanation', label: 'Explanation', type: 'textarea', required: true }],
        submit: async (v) => {
          const u = await api('POST', '/v1/orders/' + o.id + '/cannot-comply', { body: { ground: v.ground, explanation: v.explanation } });
          return 'Sent; the order is ' + (u && u.state ? u.state : 'paused') + '.';
        },
        after: again,
      }));
    }
    if (actions.firstChild) box.append(h('h4', null, 'Actions'), actions);
    tickCountdowns();
    document.getElementById('order-detail-title').focus();
  }

  // Complaints have no list route: one is read by its id (from the complaint webhook or the
  // user's ticket) and decided here.
  function complaintBox(n) {
    const out = h('div', { id: 'complaint-detail' });
    const box = h('section', { 'aria-labelledby': 'complaints-title' }, h('h3', { id: 'complaints-title' }, 'Complaints'));
    box.append(actionForm({
      id: 'complaint-find', title: 'Open a complaint', button: 'Read complaint',
      fields: [{ name: 'id', label: 'Complaint id', type: 'number', required: true, attrs: { min: 1 } }],
      submit: async (v) => {
        const c = await api('GET', '/v1/complaints/' + Number(v.id));
        clear(out).append(facts([['Complaint', '#' + c.id], ['Content', c.content_id], ['Order', c.order_id ? '#' + c.order_id : '—'],
          ['Text', c.text], ['State', h('span', { class: 'complaint-state' }, c.state)], ['Received', time(c.received_at)],
          ['Due', time(c.due)], ['Decided', time(c.decided_at)], ['Reinstated', time(c.reinstated_at)], ['Reasons', c.reasons]]));
        if (c.state === 'open' && can('POST /v1/complaints/{id}/decision')) {
          out.append(actionForm({
            id: 'complaint-decide', title: 'Decide complaint #' + c.id, button: 'Decide complaint #' + c.id,
            fields: [{ name: 'upheld', label: 'Upheld (the content is restored)', type: 'checkbox' },
              { name: 'reasons', label: 'Reasons', type: 'textarea', required: true }],
            submit: async (w) => {
              const d = await api('POST', '/v1/complaints/' + c.id + '/decision', { body: { upheld: w.upheld, reasons: w.reasons } });
              n.say('Complaint #' + c.id + (w.upheld ? ' upheld.' : ' rejected.'));
              return 'Recorded: ' + (d && d.state ? d.state : w.upheld ? 'upheld' : 'rejected') + '.';
            },
          }));
        }
        return '';
      },
    }), out);
    return box;
  }

  // ---- evidence ----

  view({
    id: 'evidence', title: 'Evidence', roles: ['admin', 'auditor'], order: 50,
    render(section, params) {
      const { n, head } = frame(section, 'Evidence',
        'Sealed evidence cases (metadata only: the content stays encrypted), their retention and holds; release requests need k custodians.');
      const master = h('div', { id: 'evidence-master' });
      const listBox = h('section', { 'aria-label': 'Evidence cases' });
      const detail = h('section', { id: 'evidence-detail', 'aria-labelledby': 'evidence-detail-title', hidden: true });
      section.append(master, listBox);
      const p = pager(listBox, {
        caption: 'Evidence cases', empty: 'No evidence cases.',
        columns: ['Case', 'Created', 'Retained until', 'Items', 'Hold', 'State', ''],
        load: async (pg) => {
          const d = await api('GET', '/v1/evidence/cases', { query: { limit: String(PAGE + 1), offset: String(pg * PAGE) } });
          clear(master).append(facts([['Master key', d.master && d.master.exists ? d.master.threshold + ' of ' + d.master.custodians +
            ' custodians (' + list(d.master.names) + ')' : 'not created (takedown evidence init)'],
          ['Cases', String(d.counts.cases)], ['Held', String(d.counts.cases_held)], ['Items', String(d.counts.items)],
          ['Release requests open', String(d.counts.requests_open)]]));
          const cases = d.cases || [];
          return { items: cases.slice(0, PAGE), more: cases.length > PAGE };
        },
        row: (c) => h('tr', { 'data-case': c.case },
          h('td', { class: 'mono' }, c.case), h('td', null, time(c.created_at)), h('td', null, time(c.retain_until)),
          h('td', null, String(c.item_count)), h('td', null, c.hold ? 'held' : 'no'), h('td', null, c.purged_at ? 'purged' : 'retained'),
          h('td', null, h('a', { href: '#evidence/' + enc(c.case), class: 'button secondary' }, 'Open ' + c.case))),
      });
      refreshButton(head, () => p.reload());
      section.append(detail);
      if (can('GET /v1/evidence/releases')) section.append(releaseBox(n));
      p.first();
      if (params) openCase(detail, decodeURIComponent(params), n, () => p.reload());
    },
  });

  async function openCase(box, ref, n, relist) {
    let c;
    try {
      c = await api('GET', '/v1/evidence/cases/' + enc(ref));
    } catch (e) {
      n.fail(e);
      return;
    }
    const again = async () => {
      await relist();
      await openCase(box, ref, n, relist);
    };
    clear(box).hidden = false;
    box.append(h('h3', { id: 'evidence-detail-title', tabindex: '-1' }, 'Evidence case ' + c.case),
      facts([['Created', time(c.created_at)], ['Retained until', h('span', { class: 'retain-until' }, time(c.retain_until))],
        ['Hold', h('span', { class: 'case-hold' }, c.hold ? 'held' : 'no')], ['Purged', time(c.purged_at)]]),
      h('h4', null, 'Items (labels and sizes only)'),
      table('Items', ['Item', 'Label', 'Bytes', 'Sealed'], (c.items || []).map((i) => h('tr', { 'data-item': i.id },
        h('td', null, '#' + i.id), h('td', { class: 'mono' }, i.label), h('td', null, String(i.bytes)), h('td', null, time(i.sealed_at))))));
    const actions = h('div', { class: 'actions' });
    if (can('POST /v1/evidence/cases/{id}/extend')) {
      actions.append(actionForm({
        id: 'evidence-extend', title: 'Extend retention', button: 'Extend ' + c.case,
        intro: 'At an authority\'s request; retention is never shortened.',
        fields: [{ name: 'until', label: 'Keep until (date)', type: 'date', required: true },
          { name: 'reason', label: 'Reason', required: true }],
        submit: async (v) => {
          await api('POST', '/v1/evidence/cases/' + enc(c.case) + '/extend', { body: { until: v.until + 'T00:00:00Z', reason: v.reason } });
          return 'Retention extended to ' + v.until + '.';
        },
        after: again,
      }));
    }
    if (can('POST /v1/evidence/cases/{id}/hold')) {
      actions.append(actionForm({
        id: 'evidence-hold', title: c.hold ? 'Lift the review hold' : 'Set a review hold', button: (c.hold ? 'Lift hold on ' : 'Hold ') + c.case,
        fields: [{ name: 'reason', label: 'Reason', required: true }],
        submit: async (v) => {
          await api('POST', '/v1/evidence/cases/' + enc(c.case) + '/hold', { body: { hold: !c.hold, reason: v.reason } });
          return c.hold ? 'Hold lifted.' : 'Held.';
        },
        after: again,
      }));
    }
    if (actions.firstChild) box.append(h('h4', null, 'Actions'), actions);
    document.getElementById('evidence-detail-title').focus();
  }

  // Release requests: the list (GET /v1/evidence/releases, by state, with approvals x of k);
  // an admin requests one and releases an approved one from its row.
  function releaseBox(n) {
    const out = h('div', { id: 'release-out' });
    const box = h('section', { 'aria-labelledby': 'releases-title' }, h('h3', { id: 'releases-title' }, 'Release requests'));
    const stateField = field({ name: 'state', label: 'Show', type: 'select', value: 'all',
      options: [['all', 'all requests'], ['pending', 'pending (awaiting custodians)'], ['approved', 'approved (may be released)'], ['released', 'released']] }, 'releases');
    const listBox = h('div', { id: 'release-list' });
    box.append(h('div', { class: 'filters' }, stateField.wrap), listBox);
    const releaseItems = async (id) => {
      const r = await api('POST', '/v1/evidence/releases/' + Number(id) + '/release', { body: {} });
      clear(out).append(table('Released items', ['Item', 'Label', 'Bytes', 'SHA-256', ''], (r.items || []).map((i) => h('tr', null,
        h('td', null, '#' + i.id), h('td', { class: 'mono' }, i.label), h('td', null, String(i.bytes)),
        h('td', { class: 'mono sha' }, i.sha256),
        h('td', null, h('button', { type: 'button', class: 'secondary', on: { click: () => {
          const bin = atob(i.content_base64);
          download(new Blob([Uint8Array.from(bin, (ch) => ch.charCodeAt(0))]), 'evidence-item-' + i.id + '.bin');
        } } }, 'Save item #' + i.id))))));
      const said = (r.items || []).length + ' item(s) released.';
      out.prepend(h('p', { class: 'inline-ok release-result', role: 'status' }, 'Request #' + Number(id) + ': ' + said));
      return said;
    };
    const canRelease = can('POST /v1/evidence/releases/{id}/release');
    const p = pager(listBox, {
      caption: 'Release requests', empty: 'No release requests.',
      columns: ['Request', 'Case', 'Requester', 'Legal basis', 'Purpose', 'Approvals', 'State', 'Requested', ''],
      load: async (pg) => {
        const d = await api('GET', '/v1/evidence/releases', { query: { state: stateField.input.value, limit: String(PAGE + 1), offset: String(pg * PAGE) } });
        const rs = d.releases || [];
        return { items: rs.slice(0, PAGE), more: rs.length > PAGE };
      },
      row: (q) => h('tr', { 'data-release': q.id, 'data-state': q.state },
        h('td', null, '#' + q.id), h('td', { class: 'mono' }, q.case), h('td', null, q.requester), h('td', null, q.legal_basis),
        h('td', null, q.purpose), h('td', { class: 'approvals' }, q.approvals + ' of ' + q.needed), h('td', null, q.state),
        h('td', null, time(q.created_at)),
        h('td', null, canRelease && q.state !== 'released' ? actionButton('Release the items of #' + q.id, () => releaseItems(q.id),
          { id: 'release-do-' + q.id, after: () => p.reload() }) : '')),
    });
    stateField.input.addEventListener('change', () => p.first());
    p.first();
    box.append(h('div', { class: 'actions' },
      can('POST /v1/evidence/releases') ? actionForm({
        id: 'release-request', title: 'Request a release', button: 'Request release',
        fields: [{ name: 'case', label: 'Case', required: true, hint: 'e.g. order-1' },
          { name: 'requester', label: 'Requester (who asks)', required: true },
          { name: 'legal_basis', label: 'Legal basis (production order reference)', required: true },
          { name: 'purpose', label: 'Purpose', required: true },
          { name: 'items', label: 'Item ids (optional; none: every item)' }],
        submit: async (v) => {
          const body = { case: v.case.trim(), requester: v.requester, legal_basis: v.legal_basis, purpose: v.purpose };
          const ids = words(v.items).map(Number);
          if (ids.length) body.items = ids;
          const r = await api('POST', '/v1/evidence/releases', { body });
          n.say('Release request #' + r.id + ' created; custodians approve it with their shares.');
          return h('span', null, 'Release request ', h('strong', { class: 'release-id' }, '#' + r.id), ' created: it needs the custodians\' approvals.');
        },
        after: () => p.reload(),
      }) : null), canRelease ? h('p', { class: 'hint' }, 'Once k custodians approved, "Release the items" gives the decrypted items, in that answer only (audited).') : null, out);
    return box;
  }

  // Custodians: approve a release request with their share (the only thing the role does).
  view({
    id: 'approvals', title: 'Release approvals', roles: ['custodian'], order: 10,
    render(section) {
      const { n, head } = frame(section, 'Approve an evidence release',
        'You hold one share of the evidence master key. Check the request\'s legal basis with the requester out of band, then approve it with your share. The share is sent once and kept in the server\'s memory only.');
      const listBox = h('section', { 'aria-labelledby': 'approvals-pending-title' },
        h('h3', { id: 'approvals-pending-title' }, 'Requests awaiting approval'));
      const formBox = h('div');
      section.append(listBox, formBox);
      const draw = async () => {
        const pending = (await api('GET', '/v1/evidence/releases', { query: { state: 'pending', limit: '200' } })).releases || [];
        clear(listBox).append(h('h3', { id: 'approvals-pending-title' }, 'Requests awaiting approval'),
          pending.length ? table('Requests awaiting approval', ['Request', 'Case', 'Requester', 'Legal basis', 'Purpose', 'Approvals', 'Requested'],
            pending.map((q) => h('tr', { 'data-release': q.id }, h('td', null, '#' + q.id), h('td', { class: 'mono' }, q.case),
              h('td', null, q.requester), h('td', null, q.legal_basis), h('td', null, q.purpose),
              h('td', { class: 'approvals' }, q.approvals + ' of ' + q.needed), h('td', null, time(q.created_at)))))
            : h('p', { class: 'muted empty' }, 'No release request awaits approval.'));
        clear(formBox).append(actionForm({
          id: 'approve-release', title: 'Approval', button: 'Approve with my share',
          fields: [{ name: 'id', label: 'Release request', type: 'select', required: true,
            options: pending.map((q) => [String(q.id), '#' + q.id + ' ' + q.case + ' (' + q.approvals + ' of ' + q.needed + ')']) },
          { name: 'share', label: 'Your share (tdss1-…)', type: 'password', required: true, attrs: { spellcheck: 'false', autocomplete: 'off' } }],
          submit: async (v) => {
            const a = await api('POST', '/v1/evidence/releases/' + Number(v.id) + '/approvals', { body: { share: v.share.trim() } });
            return h('span', { class: 'approval-result' }, 'Approval of ' + a.custodian + ' recorded for #' + a.request + ': ' + a.approvals + ' of ' + a.needed +
              (a.ready ? '; the release may now be made.' : ' needed.'));
          },
          after: draw,
          reset: true,
        }));
      };
      refreshButton(head, () => guard(n, draw));
      guard(n, draw);
    },
  });

  // ---- authorities ----

  view({
    id: 'authorities', title: 'Authorities', roles: READ, order: 60,
    render(section) {
      const { head } = frame(section, 'Authorities', 'Competent authorities and referral units whose signed orders the service accepts.');
      const listBox = h('section', { 'aria-label': 'Authority list' });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'Authorities', empty: 'No authorities registered.',
        columns: ['Id', 'Name', 'Kind', 'Member state', 'Contact', 'Public key (Ed25519)', 'Announced'],
        load: async (pg) => slicePage((await api('GET', '/v1/authorities')).authorities || [], pg),
        row: (a) => h('tr', { 'data-authority': a.id }, h('td', null, '#' + a.id), h('td', null, a.name), h('td', null, a.kind),
          h('td', null, a.member_state), h('td', null, a.contact), h('td', { class: 'mono hash' }, a.public_key),
          h('td', null, time(a.announced_at))),
      });
      refreshButton(head, () => p.reload());
      const actions = h('div', { class: 'actions' });
      if (can('POST /v1/authorities')) {
        actions.append(actionForm({
          id: 'authority-create', title: 'Register an authority', button: 'Register authority', reset: true,
          fields: [{ name: 'name', label: 'Name (as in its orders)', required: true },
            { name: 'kind', label: 'Kind', type: 'select', options: [['competent', 'competent authority (removal orders)'], ['referral_unit', 'referral unit (referrals)'], ['evidence', 'evidence authority (evidence orders)'], ['third_country', 'third-country authority (UK-US agreement)']] },
            { name: 'member_state', label: 'Member state (2 letters)', required: true, attrs: { maxlength: 2 } },
            { name: 'contact', label: 'Contact', required: true },
            { name: 'public_key', label: 'Ed25519 public key (hex)', required: true, attrs: { spellcheck: 'false' } }],
          submit: async (v) => {
            const a = await api('POST', '/v1/authorities', { body: { name: v.name, kind: v.kind, member_state: v.member_state.toUpperCase(), contact: v.contact, public_key: v.public_key.trim() } });
            return 'Authority #' + a.id + ' registered.';
          },
          after: () => p.reload(),
        }));
      }
      if (can('POST /v1/authorities/{id}/keys')) {
        actions.append(actionForm({
          id: 'authority-link', title: 'Link an authority key', button: 'Link key',
          intro: 'An API key of role authority, created under API keys, sends this authority\'s orders.',
          fields: [{ name: 'id', label: 'Authority id', type: 'number', required: true }, { name: 'key_id', label: 'Key id', type: 'number', required: true }],
          submit: async (v) => {
            await api('POST', '/v1/authorities/' + Number(v.id) + '/keys', { body: { key_id: Number(v.key_id) } });
            return 'Key #' + v.key_id + ' linked to authority #' + v.id + '.';
          },
          after: () => p.reload(),
        }));
      }
      if (actions.firstChild) section.append(actions);
      p.first();
    },
  });

  // ---- API keys ----

  const ROLES = ['moderator', 'auditor', 'platform', 'legal', 'custodian', 'authority', 'peer', 'admin'];

  view({
    id: 'keys', title: 'API keys', roles: ['admin'], order: 70,
    render(section) {
      const { n, head } = frame(section, 'API keys', 'Keys and their roles. A key\'s secret is shown once, when it is created.');
      const listBox = h('section', { 'aria-label': 'Key list' });
      const secret = h('div', { id: 'key-secret', 'aria-live': 'polite' });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'API keys', empty: 'No keys.',
        columns: ['Id', 'Name', 'Role', 'Prefix', 'Created', 'Revoked', ''],
        load: async (pg) => slicePage((await api('GET', '/v1/keys')).keys || [], pg),
        row: (k) => h('tr', { 'data-key-id': k.id, class: k.revoked_ms ? 'disabled' : null },
          h('td', null, '#' + k.id), h('td', null, k.name), h('td', null, k.role), h('td', { class: 'mono' }, k.prefix),
          h('td', null, ms(k.created_ms)), h('td', { class: 'key-revoked' }, k.revoked_ms ? ms(k.revoked_ms) : 'no'),
          h('td', null, !k.revoked_ms && can('DELETE /v1/keys/{id}') && (!TD.me || TD.me.key_id !== k.id && String(TD.me.key_id) !== String(k.id))
            ? actionButton('Revoke key #' + k.id, async () => {
              await api('DELETE', '/v1/keys/' + k.id);
              n.say('Key #' + k.id + ' (' + k.name + ') revoked.');
              return '';
            }, { danger: true, confirm: () => 'Revoke key #' + k.id + ' (' + k.name + ')? It is refused at once.', after: () => p.reload() }) : null)),
      });
      refreshButton(head, () => p.reload());
      if (can('POST /v1/keys')) {
        section.append(actionForm({
          id: 'key-create', title: 'Create a key', level: 'h3', button: 'Create key', reset: true,
          fields: [{ name: 'name', label: 'Name (a person or a service; a custodian\'s key is named as the custodian)', required: true },
            { name: 'role', label: 'Role', type: 'select', options: ROLES.map((r) => [r, r]) },
            { name: 'platform_key', label: 'Acts for the platform of key id (platform keys, optional)', type: 'number' }],
          submit: async (v) => {
            const body = { name: v.name, role: v.role };
            if (v.platform_key) body.platform_key = Number(v.platform_key);
            const k = await api('POST', '/v1/keys', { body });
            clear(secret).append(h('div', { class: 'secret-once' },
              h('p', null, 'The secret of key #' + k.id + ' (' + k.name + ', ' + k.role + '), shown this once: copy it now.'),
              h('code', { class: 'mono key-secret', id: 'key-secret-value' }, k.key),
              h('button', { type: 'button', class: 'secondary', on: { click: () => clear(secret) } }, 'I have copied it: hide')));
            return 'Key #' + k.id + ' created.';
          },
          after: () => p.reload(),
        }), secret);
      }
      p.first();
    },
    leave() {
      const s = document.getElementById('key-secret');
      if (s) clear(s); // the secret is not kept on screen once the view is left
    },
  });

  // ---- webhooks ----

  const EVENTS = ['remove', 'restore', 'case.opened', 'case.decided', 'match', 'notice', 'order_feedback', 'referral_answer', 'evidence.collect', 'incident'];

  view({
    id: 'webhooks', title: 'Webhooks', roles: ['admin', 'auditor'], order: 75,
    render(section) {
      const { n, head } = frame(section, 'Webhooks', 'Where the service sends its events, signed with each webhook\'s secret, and what happened to each delivery.');
      const listBox = h('section', { 'aria-label': 'Webhook list' });
      const log = h('section', { id: 'webhook-log', 'aria-labelledby': 'webhook-log-title', hidden: true });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'Webhooks', empty: 'No webhooks.',
        columns: ['Id', 'URL', 'Events', 'Enabled', 'Created', ''],
        load: async (pg) => slicePage((await api('GET', '/v1/webhooks')).webhooks || [], pg),
        row: (w) => h('tr', { 'data-webhook': w.id }, h('td', null, '#' + w.id), h('td', { class: 'mono' }, w.url),
          h('td', null, w.events.length === EVENTS.length ? 'all' : list(w.events)), h('td', null, w.enabled ? 'yes' : 'no'),
          h('td', null, ms(w.created_ms)),
          h('td', null, h('button', { type: 'button', class: 'secondary', on: { click: () => deliveries(log, w) } }, 'Delivery log of #' + w.id),
            can('DELETE /v1/webhooks/{id}') ? actionButton('Delete webhook #' + w.id, async () => {
              await api('DELETE', '/v1/webhooks/' + w.id);
              n.say('Webhook #' + w.id + ' deleted.');
              return '';
            }, { danger: true, confirm: () => 'Delete webhook #' + w.id + ' (' + w.url + ')?', after: () => p.reload() }) : null)),
      });
      refreshButton(head, () => p.reload());
      if (can('POST /v1/webhooks')) {
        const boxes = h('fieldset', { class: 'events' }, h('legend', null, 'Events (none ticked: all)'),
          EVENTS.map((e) => h('span', { class: 'check' }, h('input', { type: 'checkbox', id: 'wh-ev-' + e, value: e }), h('label', { for: 'wh-ev-' + e }, e))));
        section.append(actionForm({
          id: 'webhook-create', title: 'Create a webhook', level: 'h3', button: 'Create webhook', reset: true, extra: boxes,
          fields: [{ name: 'url', label: 'URL (https)', type: 'url', required: true },
            { name: 'secret', label: 'Secret (signs each delivery; at least 16 characters)', type: 'password', required: true, attrs: { minlength: 16 } }],
          submit: async (v) => {
            const body = { url: v.url, secret: v.secret };
            const ev = [...boxes.querySelectorAll('input:checked')].map((b) => b.value);
            if (ev.length) body.events = ev;
            const w = await api('POST', '/v1/webhooks', { body });
            return 'Webhook #' + w.id + ' created.';
          },
          after: () => p.reload(),
        }));
      }
      section.append(log);
      p.first();
    },
  });

  async function deliveries(box, w) {
    clear(box).hidden = false;
    box.append(h('h3', { id: 'webhook-log-title', tabindex: '-1' }, 'Delivery log of webhook #' + w.id));
    pager(box, {
      caption: 'Deliveries', empty: 'No deliveries yet.',
      columns: ['Delivery', 'Event', 'State', 'Attempts', 'Last status', 'Created', 'Last error'],
      load: async (pg) => slicePage((await api('GET', '/v1/webhooks/' + w.id + '/deliveries', { query: { limit: '1000' } })).deliveries || [], pg),
      row: (d) => h('tr', null, h('td', null, '#' + d.id), h('td', null, d.event), h('td', null, d.state),
        h('td', null, String(d.attempts ?? '—')), h('td', null, String(d.last_status ?? d.status ?? '—')),
        h('td', null, d.created_ms ? ms(d.created_ms) : time(d.created_at)), h('td', null, d.last_error || '—')),
    }).first();
    document.getElementById('webhook-log-title').focus();
  }

  // ---- the audit log: browse, verify a checkpoint and an inclusion proof in the browser ----

  const PUBKEY_ITEM = 'takedown.audit-pubkey';
  const te = new TextEncoder();

  function unhex(s) {
    if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/i.test(s)) throw new Error('not hex');
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }

  const tohex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');

  async function sha256(...parts) {
    const len = parts.reduce((a, p) => a + p.length, 0);
    const all = new Uint8Array(len);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  }

  const leafHash = (entry) => sha256(Uint8Array.of(0), te.encode(entry));
  const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r);

  // The 76 bytes a checkpoint's signature covers (docs/audit.md): the text, be64 size,
  // be64 time_ms, the root.
  function checkpointMessage(cp) {
    const head = te.encode('takedown audit checkpoint 1\n');
    const m = new Uint8Array(head.length + 8 + 8 + 32);
    m.set(head, 0);
    const dv = new DataView(m.buffer);
    dv.setBigUint64(head.length, BigInt(cp.size));
    dv.setBigUint64(head.length + 8, BigInt(cp.time_ms));
    m.set(unhex(cp.root), head.length + 16);
    return m;
  }

  async function verifyCheckpoint(cp, pubHex) {
    const key = await crypto.subtle.importKey('raw', unhex(pubHex), { name: 'Ed25519' }, false, ['verify']);
    return crypto.subtle.verify({ name: 'Ed25519' }, key, unhex(cp.signature), checkpointMessage(cp));
  }

  // RFC 9162 §2.1.3.2: the root computed from a leaf hash, its index, the tree size and the
  // audit path; null when the path does not fit the size.
  async function rootFromInclusion(index, size, leaf, path) {
    if (index >= size) return null;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // A list of steps, each with its outcome; the whole has data-result="valid" or "invalid".
  function stepList(id) {
    const ol = h('ol', { class: 'steps', id, 'aria-live': 'polite' });
    const add = (ok, text) => {
      ol.append(h('li', { class: ok ? 'step-ok' : 'step-bad', 'data-ok': ok ? '1' : '0' }, h('strong', null, ok ? 'passed: ' : 'FAILED: '), text));
      return ok;
    };
    const done = (ok, text) => {
      ol.dataset.result = ok ? 'valid' : 'invalid';
      ol.after(h('p', { class: ok ? 'verdict verdict-ok' : 'verdict verdict-bad', id: id + '-verdict', role: 'status' }, text));
    };
    return { ol, add, done };
  }

  view({
    id: 'audit', title: 'Audit log', roles: ['admin', 'auditor'], order: 80,
    render(section, params) {
      const { n, head } = frame(section, 'Audit log',
        'Every change is an entry of a Merkle log (RFC 9162) with Ed25519-signed checkpoints. This page checks them here, in the browser, with the log\'s public key (published by the operator: takedown audit pubkey), not trusting the server\'s word.');
      const keyField = field({ name: 'pubkey', label: 'Log public key (Ed25519, hex)', value: localStorage.getItem(PUBKEY_ITEM) || '', attrs: { spellcheck: 'false', size: 66 },
        hint: 'Kept in this browser; the service does not serve it (a key served with the log would prove nothing).' }, 'audit');
      keyField.input.addEventListener('change', () => localStorage.setItem(PUBKEY_ITEM, keyField.input.value.trim()));
      const cpOut = h('div', { id: 'checkpoint-out' });
      const proofOut = h('div', { id: 'proof-out' });
      let latest = null;
      const pub = () => keyField.input.value.trim().toLowerCase();

      const cpForm = actionForm({
        id: 'checkpoint-verify', title: 'Latest checkpoint', level: 'h3', button: 'Fetch and verify the checkpoint',
        submit: async () => {
          const d = await api('GET', '/v1/log/checkpoint');
          const cp = d.checkpoint;
          latest = cp;
          clear(cpOut).append(facts([['Entries', h('span', { id: 'checkpoint-size' }, String(cp.size))], ['Signed', ms(cp.time_ms)],
            ['Root', h('span', { class: 'mono hash', id: 'checkpoint-root' }, cp.root)], ['Signature', h('span', { class: 'mono hash' }, cp.signature)]]));
          const s = stepList('checkpoint-steps');
          cpOut.append(s.ol);
          let ok = s.add(/^[0-9a-f]{64}$/.test(pub()), 'public key: 32 bytes of hex' + (pub() ? '' : ' (none given)'));
          const msg = checkpointMessage(cp);
          s.add(msg.length === 76, 'message: "takedown audit checkpoint 1\\n", size, time and root (' + msg.length + ' bytes)');
          if (ok) {
            let valid = false;
            try {
              valid = await verifyCheckpoint(cp, pub());
            } catch (e) {
              s.add(false, 'Ed25519 not available or the key is malformed: ' + e.message);
            }
            ok = s.add(valid, 'Ed25519 signature over the message with the log\'s public key (WebCrypto)');
          }
          s.done(ok, ok ? 'The checkpoint of ' + cp.size + ' entries is signed by the log\'s key.' : 'The checkpoint does NOT verify.');
          await browse.first();
          return '';
        },
      });

      const proofForm = actionForm({
        id: 'proof-verify', title: 'Inclusion proof', level: 'h3', button: 'Fetch and verify the proof',
        intro: 'Fetches the entry with its audit path in the tree of the latest checkpoint and recomputes the root here (SHA-256).',
        fields: [{ name: 'seq', label: 'Entry number (seq)', type: 'number', required: true, value: params || '', attrs: { min: 0 } }],
        submit: async (v) => {
          await verifyProof(Number(v.seq));
          return '';
        },
      });

      async function verifyProof(seq) {
        if (!latest) latest = (await api('GET', '/v1/log/checkpoint')).checkpoint;
        const d = await api('GET', '/v1/log/proof/inclusion', { query: { seq: String(seq), size: String(latest.size) } });
        clear(proofOut).append(h('h4', null, 'Entry #' + d.seq + ' in the tree of ' + d.tree_size),
          h('pre', { class: 'mono entry-text' }, d.entry));
        const s = stepList('proof-steps');
        proofOut.append(s.ol);
        let ok = true;
        const leaf = await leafHash(d.entry);
        let entry = null;
        try {
          entry = JSON.parse(d.entry);
        } catch (e) {
          entry = null;
        }
        ok = s.add(entry && entry.seq === d.seq, 'the entry is entry #' + d.seq) && ok;
        ok = s.add(tohex(leaf) === d.leaf_hash, 'leaf hash SHA-256(0x00 || entry) = ' + tohex(leaf).slice(0, 16) + '… ' +
          (tohex(leaf) === d.leaf_hash ? 'equals' : 'differs from') + ' the proof\'s ' + String(d.leaf_hash).slice(0, 16) + '…') && ok;
        let path = [];
        try {
          path = d.path.map(unhex);
        } catch (e) {
          ok = s.add(false, 'the path holds something that is not a hash') && ok;
        }
        const root = await rootFromInclusion(d.seq, d.tree_size, unhex(d.leaf_hash), path);
        ok = s.add(!!root, 'audit path of ' + path.length + ' hash(es) fits a tree of ' + d.tree_size + (root ? ': root ' + tohex(root).slice(0, 16) + '…' : '')) && ok;
        ok = s.add(!!root && tohex(root) === d.checkpoint.root, 'recomputed root equals the proof\'s checkpoint root') && ok;
        ok = s.add(d.checkpoint.root === latest.root && d.checkpoint.size === latest.size, 'the proof\'s checkpoint is the latest checkpoint fetched (' + latest.size + ' entries)') && ok;
        let sig = false;
        if (/^[0-9a-f]{64}$/.test(pub())) {
          try {
            sig = await verifyCheckpoint(d.checkpoint, pub());
          } catch (e) {
            sig = false;
          }
        }
        ok = s.add(sig, 'the proof\'s checkpoint signature verifies with the log\'s public key') && ok;
        s.done(ok, ok ? 'Entry #' + d.seq + ' is in the signed log.' : 'The inclusion proof does NOT verify.');
      }

      // Entries: GET /v1/log/entries, newest first, ten a page (the API's `before` cursor; the
      // cursors of the pages seen are kept for "Previous page"), up to the latest checkpoint
      // once one was fetched; an action filter. "Verify entry #N" checks one in the browser.
      const actionField = field({ name: 'action', label: 'Only the action (e.g. order.received; empty: all)', attrs: { spellcheck: 'false', list: 'audit-actions' } }, 'audit');
      const actionList = h('datalist', { id: 'audit-actions' });
      const entriesBox = h('section', { 'aria-labelledby': 'audit-entries-title' }, h('h3', { id: 'audit-entries-title' }, 'Entries'),
        h('p', { class: 'hint' }, 'Newest first, up to the latest checkpoint fetched (or the whole log before).'), h('div', { class: 'filters' }, actionField.wrap, actionList));
      const cursors = [];
      const browse = pager(entriesBox, {
        caption: 'Audit entries', empty: 'No entries.',
        columns: ['Seq', 'Time', 'Actor', 'Action', 'Object', 'Details', ''],
        load: async (pg) => {
          if (pg === 0) cursors.length = 0;
          cursors[0] = latest ? String(latest.size) : null;
          const query = { limit: '10' };
          if (cursors[pg] !== null && cursors[pg] !== undefined) query.before = cursors[pg];
          const action = actionField.input.value.trim();
          if (action) query.action = action;
          const d = await api('GET', '/v1/log/entries', { query });
          const items = d.entries || [];
          cursors[pg + 1] = d.next_before === null ? undefined : String(d.next_before);
          for (const e of items) {
            if (![...actionList.options].some((o) => o.value === e.action)) actionList.append(h('option', { value: e.action }));
          }
          return { items, more: d.next_before !== null };
        },
        row: (e) => h('tr', { 'data-seq': e.seq }, h('td', null, String(e.seq)), h('td', null, ms(e.time_ms)), h('td', null, e.actor),
          h('td', null, e.action), h('td', { class: 'mono' }, e.object), h('td', { class: 'mono details' }, e.details),
          h('td', null, h('button', { type: 'button', class: 'secondary', on: { click: async () => {
            proofForm.inputs.seq.value = String(e.seq);
            await guard(n, () => verifyProof(e.seq));
            proofOut.scrollIntoView({ block: 'nearest' });
          } } }, 'Verify entry #' + e.seq))),
      });
      actionField.input.addEventListener('change', () => browse.first());
      section.append(keyField.wrap, cpForm, cpOut, proofForm, proofOut, entriesBox);
      browse.first();
      refreshButton(head, () => cpForm.requestSubmit());
    },
  });

  // ---- transparency report with charts ----

  const DAY = 86400000, WEEK = 7 * DAY;

  function mondayOf(t) {
    const d = new Date(t);
    const day = (d.getUTCDay() + 6) % 7;
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - day * DAY;
  }

  // Every figure of the report as [path, value] rows (nested members joined by dots).
  function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj || {})) {
      const p = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, p, out);
      else out.push([p, v]);
    }
    return out;
  }

  const csvCell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };

  // The figures behind the charts, all from the report (GET /v1/reports/transparency): orders
  // per week, the distribution of the time from receipt to removal, matches per bank, decisions
  // per outcome (with the referrals and complaints decided).
  async function reportData(from, to) {
    const fromIso = new Date(from).toISOString().replace(/\.\d+Z$/, 'Z');
    const toIso = new Date(to).toISOString().replace(/\.\d+Z$/, 'Z');
    const report = await api('GET', '/v1/reports/transparency', { query: { from: fromIso, to: toIso } });
    const weeks = (report.orders_per_week || []).map((w) => ({ label: 'week of ' + w.week_start, short: w.week_start.slice(5), value: w.orders, referrals: w.referrals }));
    const fmtMin = (m) => (m >= 60 ? m / 60 + ' h' : m + ' min');
    const shortMin = (m) => (m >= 60 ? m / 60 + 'h' : m + 'm');
    const hist = report.removal_time_histogram || { buckets: [] };
    const dist = hist.buckets.map((b) => ({
      label: b.to_minutes === null ? '≥ ' + fmtMin(b.from_minutes) : b.from_minutes === 0 ? '< ' + fmtMin(b.to_minutes) : fmtMin(b.from_minutes) + '–' + fmtMin(b.to_minutes),
      short: b.to_minutes === null ? '≥' + shortMin(b.from_minutes) : b.from_minutes === 0 ? '<' + shortMin(b.to_minutes) : shortMin(b.from_minutes) + '–' + shortMin(b.to_minutes),
      value: b.orders, from_min: b.from_minutes, to_min: b.to_minutes,
    }));
    const outcomes = report.decisions_per_outcome || {};
    const decisions = Object.keys(outcomes).map((k) => ({ label: 'review: ' + k, value: outcomes[k] }));
    decisions.push({ label: 'referral: removed', value: report.referrals.removed }, { label: 'referral: kept', value: report.referrals.kept },
      { label: 'complaint: upheld', value: report.complaints.upheld }, { label: 'complaint: rejected', value: report.complaints.rejected });
    return {
      period: report.period, report,
      orders_per_week: weeks,
      receipt_to_removal: dist,
      removal_median_s: hist.median_s, removal_p95_s: hist.p95_s,
      matches_per_bank: (report.matches_per_bank || []).map((b) => ({ label: b.bank, value: b.matches })),
      decisions_per_outcome: decisions,
    };
  }

  view({
    id: 'transparency', title: 'Transparency report', roles: READ, order: 85,
    render(section) {
      frame(section, 'Transparency report', 'The figures of Art. 7 of the TCO Regulation for a period, with charts; the numbers behind every chart are beside it and can be downloaded.');
      const out = h('div', { id: 'transparency-out' });
      let data = null;
      const now = Date.now();
      const dlBox = h('div', { class: 'downloads', hidden: true },
        h('button', { type: 'button', class: 'secondary', on: { click: () => download(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }), 'transparency-' + data.period.from.slice(0, 10) + '.json') } }, 'Download the numbers (JSON)'),
        h('button', { type: 'button', class: 'secondary', on: { click: () => download(new Blob([toCsv(data)], { type: 'text/csv' }), 'transparency-' + data.period.from.slice(0, 10) + '.csv') } }, 'Download the numbers (CSV)'));
      section.append(actionForm({
        id: 'transparency-period', title: 'Period', level: 'h3', button: 'Show the report',
        fields: [{ name: 'from', label: 'From (UTC, inclusive)', type: 'date', required: true, value: new Date(mondayOf(now) - 11 * WEEK).toISOString().slice(0, 10) },
          { name: 'to', label: 'To (UTC, exclusive)', type: 'date', required: true, value: new Date(mondayOf(now) + WEEK).toISOString().slice(0, 10) }],
        submit: async (v) => {
          const from = Date.parse(v.from + 'T00:00:00Z'), to = Date.parse(v.to + 'T00:00:00Z');
          if (!(to > from)) throw new Error('The period ends before it starts.');
          data = await reportData(from, to);
          renderReport(out, data);
          dlBox.hidden = false;
          return 'Report of ' + v.from + ' to ' + v.to + '.';
        },
      }), dlBox, out);
    },
  });

  function toCsv(d) {
    const rows = [['figure', 'label', 'value']];
    for (const [k, v] of flatten(d.report, '', [])) if (!Array.isArray(v)) rows.push(['report.' + k, '', v]);
    for (const key of ['orders_per_week', 'receipt_to_removal', 'matches_per_bank', 'decisions_per_outcome'])
      for (const x of d[key]) rows.push([key, x.label, x.value]);
    return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
  }

  function renderReport(out, d) {
    const r = d.report;
    const secs = (s) => (s === null || s === undefined ? '—' : s >= 120 ? Math.round(s / 60) + ' min' : s + ' s');
    clear(out);
    const C = Charts.bars;
    const hourIndex = d.receipt_to_removal.findIndex((x) => x.from_min >= 60);
    out.append(
      facts([['Period', d.period.from + ' to ' + d.period.to], ['Orders received', String(r.orders.received)],
        ['Executed within the hour', String(r.orders.executed_within_deadline)], ['Executed late', String(r.orders.executed_late)],
        ['Breaches', String(r.orders.breaches)], ['Receipt to measure (average / max)', Math.round(r.orders.receipt_to_measure_ms.average / 1000) + ' s / ' + Math.round(r.orders.receipt_to_measure_ms.max / 1000) + ' s'],
        ['Receipt to removal (median / 95th percentile)', h('span', { id: 'removal-median' }, secs(d.removal_median_s)), ' / ', h('span', { id: 'removal-p95' }, secs(d.removal_p95_s))],
        ['Items removed after orders', String(r.items_removed.after_orders)], ['Uploads blocked', String(r.anti_reupload.blocked_uploads)],
        ['Audit log at the time', r.audit_log.size + ' entries, root ' + r.audit_log.root.slice(0, 16) + '…']], 'report-facts'),
      h('div', { class: 'charts' },
        C({ id: 'chart-orders-week', title: 'Removal orders received per week', items: d.orders_per_week, unit: 'orders', category: 'week (from Monday, UTC)' }),
        C({ id: 'chart-removal-time', title: 'Time from receipt to removal (' + r.removal_time_histogram.orders + ' orders)', items: d.receipt_to_removal, unit: 'orders', category: 'time to removal',
          marker: hourIndex >= 0 ? { index: hourIndex, label: 'one hour (the legal deadline)' } : null, highlight: (x) => x.from_min >= 60 }),
        C({ id: 'chart-bank-matches', title: 'Matches per bank (content received in the period, blocked uploads included; checks are not recorded)', items: d.matches_per_bank, unit: 'matches', category: 'bank' }),
        C({ id: 'chart-decisions', title: 'Decisions per outcome', items: d.decisions_per_outcome, unit: 'decisions', category: 'outcome' })),
      h('details', null, h('summary', null, 'Every figure of the report'),
        table('Every figure of the report', ['Figure', 'Value'], flatten(r, '', []).filter(([, v]) => !Array.isArray(v)).map(([k, v]) => h('tr', null, h('th', { scope: 'row', class: 'mono' }, k), h('td', { class: 'num' }, String(v)))))));
  }

  // ---- live figures from /metrics ----

  // Prometheus text format: name{labels} value. Returns [{name, labels, value}].
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      for (const l of (m[3] || '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      out.push({ name: m[1], labels, value: Number(m[4]) });
    }
    return out;
  }

  const sumOf = (ms, name, pred) => ms.filter((m) => m.name === name && (!pred || pred(m.labels))).reduce((a, m) => a + m.value, 0);

  let liveTimer = 0;
  view({
    id: 'live', title: 'Live figures', roles: READ, order: 90,
    render(section) {
      const { n } = frame(section, 'Live figures', 'From the service\'s /metrics, read every 5 seconds while this page is shown.');
      const out = h('dl', { class: 'facts live-figures', id: 'live-figures' });
      const when = h('p', { class: 'hint', id: 'live-when', 'aria-live': 'off' });
      section.append(out, when);
      let last = null;
      const scrape = async () => {
        const res = await TD.api('GET', '/metrics');
        if (!res.ok) throw new ApiError(res);
        const m = parseMetrics(res.text);
        const t = performance.now();
        const checks = sumOf(m, 'takedown_http_requests_total', (l) => l.method === 'POST' && (l.route === '/v1/check' || l.route === '/v1/content'));
        const matches = sumOf(m, 'takedown_matches_total');
        const rate = last ? (checks - last.checks) / ((t - last.t) / 1000) : null;
        const matchRate = last ? (matches - last.matches) / ((t - last.t) / 1000) : null;
        last = { checks, matches, t };
        const open = sumOf(m, 'takedown_orders_open');
        clear(out);
        const fig = (name, id, v) => fact(out, name, h('span', { id, 'data-value': String(v) }, String(v)));
        fig('Checks per second (POST /v1/check and /v1/content)', 'live-checks-rate', rate === null ? '…' : rate.toFixed(2));
        fig('Checks and submissions since start', 'live-checks', checks);
        fig('Content received (submissions)', 'live-content', sumOf(m, 'takedown_content_total'));
        fig('Matches per second (checks and submissions)', 'live-matches-rate', matchRate === null ? '…' : matchRate.toFixed(2));
        fig('Matches since start (block / review / log)', 'live-matches', matches);
        fact(out, 'Matches by action', h('span', { id: 'live-matches-by-action' }, ['block', 'review', 'log'].map((a) => a + ' ' + sumOf(m, 'takedown_matches_total', (l) => l.action === a)).join(', ')));
        fig('Review queue depth (undecided cases)', 'live-queue', sumOf(m, 'takedown_review_queue_depth'));
        fig('Webhook queue depth', 'live-webhooks', sumOf(m, 'takedown_webhook_queue_depth'));
        fig('Open removal orders', 'live-orders', open);
        fig('Order breaches', 'live-breaches', sumOf(m, 'takedown_order_breaches_total'));
        fig('Signals in the banks', 'live-signals', sumOf(m, 'takedown_signals'));
        fig('Up', 'live-up', Math.round(sumOf(m, 'takedown_uptime_seconds')) + ' s');
        when.textContent = 'Read at ' + new Date().toISOString().slice(11, 19) + ' UTC.';
      };
      guard(n, scrape);
      clearInterval(liveTimer);
      liveTimer = setInterval(() => guard(n, scrape), 5000);
    },
    leave() {
      clearInterval(liveTimer);
      liveTimer = 0;
    },
  });

  // ---- incidents ----

  let incidentTimer = 0;
  view({
    id: 'incidents', title: 'Incidents', roles: READ, order: 47,
    render(section, params) {
      const { n, head } = frame(section, 'Incidents',
        'While an incident is open, every match whose labels meet its filter is blocked (or reviewed at top priority) at once, whatever the hash\'s source. Closing it writes the after-action report.');
      const listBox = h('section', { 'aria-label': 'Incident list' });
      const detail = h('section', { id: 'incident-detail', 'aria-labelledby': 'incident-detail-title', hidden: true });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'Incidents', empty: 'No incidents.',
        columns: ['Incident', 'Name', 'Level', 'State', 'Enforcement', 'Opened', ''],
        load: async (pg) => {
          const d = await api('GET', '/v1/incidents', { query: { limit: String(PAGE + 1), offset: String(pg * PAGE) } });
          const all = d.incidents || [];
          return { items: all.slice(0, PAGE), more: all.length > PAGE };
        },
        row: (i) => h('tr', { 'data-incident': i.id, class: i.state === 'open' ? 'incident-open' : null },
          h('td', null, '#' + i.id), h('td', null, i.name), h('td', null, i.level), h('td', { class: 'incident-state' }, i.state),
          h('td', null, i.enforcement), h('td', null, ms(i.opened_ms)),
          h('td', null, h('a', { href: '#incidents/' + i.id, class: 'button secondary' }, 'Open incident #' + i.id))),
      });
      refreshButton(head, () => p.reload());
      if (can('POST /v1/incidents')) {
        section.append(actionForm({
          id: 'incident-create', title: 'Open an incident', level: 'h3', button: 'Open incident', reset: true,
          fields: [{ name: 'name', label: 'Name', required: true },
            { name: 'level', label: 'Level', type: 'select', options: [['incident', 'incident'], ['content_incident', 'content incident'], ['cip', 'crisis protocol (CIP)']] },
            { name: 'labels', label: 'Labels (any of)', required: true, hint: 'comma or space separated' },
            { name: 'banks', label: 'Banks (optional)' },
            { name: 'enforcement', label: 'Enforcement', type: 'select', options: [['block', 'block at once'], ['review', 'review at top priority']] }],
          submit: async (v) => {
            const body = { name: v.name, level: v.level, filter: { labels: words(v.labels) }, enforcement: v.enforcement };
            if (words(v.banks).length) body.filter.banks = words(v.banks);
            const i = await api('POST', '/v1/incidents', { body });
            n.say('Incident #' + i.id + ' is open.');
            return 'Incident #' + i.id + ' opened.';
          },
          after: () => p.reload(),
        }));
      }
      section.append(detail);
      p.first();
      clearInterval(incidentTimer);
      incidentTimer = 0;
      if (params) {
        const id = Number(params);
        openIncident(detail, id, n, () => p.reload(), true);
        incidentTimer = setInterval(() => openIncident(detail, id, n, null, false), 5000);
      }
    },
    leave() {
      clearInterval(incidentTimer);
      incidentTimer = 0;
    },
  });

  // A duration in words: "0.073 s", "4 min 05 s", "2 h 10 min"; "—" when there is none.
  function durationText(d) {
    if (d === null || d === undefined || d < 0) return '—';
    if (d < 60000) return (d / 1000).toFixed(3) + ' s';
    const s = Math.floor(d / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ' min';
  }

  async function openIncident(box, id, n, relist, focus) {
    let inc;
    try {
      inc = await api('GET', '/v1/incidents/' + id);
    } catch (e) {
      n.fail(e);
      return;
    }
    const f = inc.figures || {};
    const again = async () => {
      if (relist) await relist();
      await openIncident(box, id, n, relist, false);
    };
    const figures = h('div', { id: 'incident-live' },
      facts([['Hashes meeting the filter', String(f.signals ?? 0)], ['Matches', h('span', { id: 'incident-matches' }, String(f.matches ?? 0))],
        ['Blocked', String(f.blocks ?? 0)], ['Sent to review', String(f.reviews ?? 0)], ['First hash', ms(f.first_signal_ms)],
        ['First block', ms(f.first_block_ms)],
        ['Time from first hash to first block', h('span', { id: 'incident-first-block' }, durationText(f.first_hash_to_block_ms))]]),
      h('h5', null, 'Sources of the hashes meeting the filter'),
      table('Sources', ['Source', 'Hashes'], f.sources && f.sources.length
        ? f.sources.map((x) => h('tr', { 'data-source': x.source }, h('td', null, x.source), h('td', { class: 'incident-source-signals' }, String(x.signals))))
        : h('tr', null, h('td', { colspan: 2, class: 'muted' }, 'No hash meets the filter yet.')), { id: 'incident-sources' }),
      Charts.bars({ id: 'incident-chart', title: 'Matches per hour (UTC)', unit: 'matches', category: 'hour',
        items: (f.matches_per_hour || []).map((x) => ({ label: new Date(x.hour_ms).toISOString().slice(0, 13) + ':00Z', short: new Date(x.hour_ms).toISOString().slice(11, 13) + 'h', value: x.matches })) }));
    // A refresh of the incident shown, in the same state: only its figures change (the forms
    // and the focus stay where they are).
    const shown = document.getElementById('incident-live');
    if (!relist && !focus && shown && box.dataset.incident === String(id) && box.dataset.state === inc.state) {
      shown.replaceWith(figures);
      return;
    }
    box.dataset.incident = String(id);
    box.dataset.state = inc.state;
    clear(box).hidden = false;
    box.append(h('h3', { id: 'incident-detail-title', tabindex: '-1' }, 'Incident #' + inc.id + ': ' + inc.name),
      facts([['Level', inc.level], ['State', h('span', { class: 'incident-detail-state' }, inc.state)],
        ['Enforcement', inc.enforcement === 'block' ? 'block at once' : 'review at top priority'],
        ['Labels (any of)', list(inc.filter.labels)], ['Banks', inc.filter.banks && inc.filter.banks.length ? inc.filter.banks.join(', ') : 'any'],
        ['Opened', ms(inc.opened_ms) + ' by ' + inc.opened_by], ['Closed', inc.closed_ms ? ms(inc.closed_ms) + ' by ' + inc.closed_by : '—']]),
      h('h4', null, 'Live figures (every 5 s)'), figures);
    const actions = h('div', { class: 'actions' });
    if (inc.state === 'open' && can('POST /v1/incidents/{id}/close')) {
      actions.append(actionButton('Close incident #' + inc.id, async () => {
        await api('POST', '/v1/incidents/' + inc.id + '/close');
        n.say('Incident #' + inc.id + ' closed; its report is written.');
        return 'Closed.';
      }, { danger: true, confirm: () => 'Close incident #' + inc.id + '? Its enforcement stops.', after: again }));
    }
    if (inc.state === 'closed') {
      for (const md of [false, true]) {
        actions.append(actionButton('Download the report (' + (md ? 'Markdown' : 'JSON') + ')', async () => {
          const res = await api('GET', '/v1/incidents/' + inc.id + '/report', { query: md ? { format: 'markdown' } : null, blob: true });
          download(res.blob, 'incident-' + inc.id + '-report.' + (md ? 'md' : 'json'));
          return 'Downloaded.';
        }));
      }
    }
    if (actions.firstChild) box.append(h('h4', null, 'Actions'), actions);
    if (focus) document.getElementById('incident-detail-title').focus();
  }

  // ---- exchanges ----

  view({
    id: 'exchanges', title: 'Exchanges', roles: ['admin', 'auditor'], order: 65,
    render(section, params) {
      const { n, head } = frame(section, 'Exchanges', 'Sources that keep banks in step with shared hash lists (ThreatExchange, TCAP, other takedown instances, URL lists), and the signals shared back with them.');
      const listBox = h('section', { 'aria-label': 'Exchange list' });
      const detail = h('section', { id: 'exchange-detail', 'aria-labelledby': 'exchange-detail-title', hidden: true });
      section.append(listBox);
      const p = pager(listBox, {
        caption: 'Exchanges', empty: 'No exchanges.',
        columns: ['Name', 'Type', 'Bank', 'Enabled', 'Last success', 'Items', 'Added', 'Failures', 'Last error', ''],
        load: async (pg) => slicePage((await api('GET', '/v1/exchanges')).exchanges || [], pg),
        row: (x) => {
          const st = x.state || {};
          return h('tr', { 'data-exchange': x.id }, h('td', null, x.name), h('td', null, x.type), h('td', null, x.bank),
            h('td', null, x.enabled ? 'yes' : 'no'), h('td', null, ms(st.last_success_ms)), h('td', null, String(st.items ?? 0)),
            h('td', null, String(st.added ?? 0)), h('td', null, String(st.failures ?? 0)), h('td', null, st.last_error || '—'),
            h('td', null, h('a', { href: '#exchanges/' + x.id, class: 'button secondary' }, 'Open ' + x.name)));
        },
      });
      refreshButton(head, () => p.reload());
      if (can('POST /v1/exchanges')) {
        section.append(actionForm({
          id: 'exchange-create', title: 'Create an exchange', level: 'h3', button: 'Create exchange', reset: true,
          fields: [{ name: 'name', label: 'Name', required: true },
            { name: 'type', label: 'Type', type: 'select', options: [['url_list', 'url_list: a list file at a URL'], ['takedown', 'takedown: another instance\'s feed'], ['threatexchange', 'threatexchange'], ['tcap', 'tcap']] },
            { name: 'url', label: 'Source URL', type: 'url', required: true },
            { name: 'bank', label: 'Bank', required: true },
            { name: 'group', label: 'Privacy group or peer bank (optional)' },
            { name: 'interval', label: 'Interval (seconds)', type: 'number', value: 3600, attrs: { min: 60 } },
            { name: 'credentials', label: 'Credentials (JSON, optional; never shown again)', type: 'textarea' }],
          submit: async (v) => {
            const body = { name: v.name, type: v.type, url: v.url, bank: v.bank, interval_ms: Math.round(Number(v.interval) * 1000) };
            if (v.group.trim()) body.group = v.group.trim();
            if (v.credentials.trim()) {
              try {
                body.credentials = JSON.parse(v.credentials);
              } catch (e) {
                throw new Error('Credentials: not JSON (' + e.message + ')');
              }
            }
            const x = await api('POST', '/v1/exchanges', { body });
            return 'Exchange ' + x.name + ' created (#' + x.id + ').';
          },
          after: () => p.reload(),
        }));
      }
      section.append(detail);
      p.first();
      if (params) openExchange(detail, Number(params), n, () => p.reload());
    },
  });

  async function openExchange(box, id, n, relist) {
    let x;
    try {
      x = await api('GET', '/v1/exchanges/' + id);
    } catch (e) {
      n.fail(e);
      return;
    }
    const again = async () => {
      await relist();
      await openExchange(box, id, n, relist);
    };
    const st = x.state || {};
    clear(box).hidden = false;
    box.append(h('h3', { id: 'exchange-detail-title', tabindex: '-1' }, 'Exchange ' + x.name),
      facts([['Type', x.type], ['Source', h('span', { class: 'mono' }, x.url)], ['Bank', x.bank], ['Group', x.group || '—'],
        ['Interval', Math.round(x.interval_ms / 1000) + ' s'], ['Enabled', x.enabled ? 'yes' : 'no'],
        ['Last success', ms(st.last_success_ms)], ['Items / added / removed', (st.items ?? 0) + ' / ' + (st.added ?? 0) + ' / ' + (st.removed ?? 0)],
        ['Failures', String(st.failures ?? 0)], ['Last error', st.last_error || '—']]));
    const actions = h('div', { class: 'actions' });
    if (can('POST /v1/exchanges/{id}/run')) {
      actions.append(actionButton('Pull ' + x.name + ' now', async () => {
        const r = await api('POST', '/v1/exchanges/' + x.id + '/run');
        return r.failed ? 'Failed: ' + ((r.exchange && r.exchange.state && r.exchange.state.last_error) || '') : r.pages + ' page(s), ' + r.added + ' added, ' + r.removed + ' removed.';
      }, { after: again }));
    }
    if (can('PATCH /v1/exchanges/{id}')) {
      actions.append(actionButton((x.enabled ? 'Disable ' : 'Enable ') + x.name, async () => {
        await api('PATCH', '/v1/exchanges/' + x.id, { body: { enabled: !x.enabled } });
        return x.enabled ? 'Disabled.' : 'Enabled.';
      }, { after: again }));
    }
    if (can('DELETE /v1/exchanges/{id}')) {
      actions.append(actionButton('Delete ' + x.name, async () => {
        await api('DELETE', '/v1/exchanges/' + x.id);
        n.say('Exchange ' + x.name + ' deleted; its signals stay in the bank.');
        clear(box).hidden = true;
        await relist();
        return '';
      }, { danger: true, confirm: () => 'Delete the exchange ' + x.name + '? Its signals stay in the bank.' }));
    }
    if (actions.firstChild) box.append(h('h4', null, 'Actions'), actions);
    // Signals shared with the source: a moderator asks, a second person (an admin) approves.
    const up = h('section', { 'aria-labelledby': 'uploads-title' }, h('h4', { id: 'uploads-title' }, 'Signals shared with the source'));
    box.append(up);
    const up2 = pager(up, {
      caption: 'Shares', empty: 'No shares asked.',
      columns: ['Share', 'Signal', 'State', 'Asked by', 'Decided by', 'Description', ''],
      load: async (pg) => slicePage((await api('GET', '/v1/exchanges/' + x.id + '/uploads')).uploads || [], pg),
      row: (u) => h('tr', { 'data-upload': u.id }, h('td', null, '#' + u.id), h('td', null, '#' + u.signal_id), h('td', { class: 'upload-state' }, u.state),
        h('td', null, u.requested ? u.requested.name : '—'), h('td', null, u.decided ? u.decided.name : '—'), h('td', null, u.description),
        h('td', null, u.state === 'pending' && can('POST /v1/exchanges/{id}/uploads/{uid}/approve') ? [
          actionButton('Approve share #' + u.id, async () => {
            await api('POST', '/v1/exchanges/' + x.id + '/uploads/' + u.id + '/approve');
            return 'Approved.';
          }, { after: () => up2.reload() }),
          actionButton('Reject share #' + u.id, async () => {
            await api('POST', '/v1/exchanges/' + x.id + '/uploads/' + u.id + '/reject');
            return 'Rejected.';
          }, { danger: true, after: () => up2.reload() })] : null)),
    });
    up2.first();
    if (can('POST /v1/exchanges/{id}/uploads')) {
      up.append(actionForm({
        id: 'upload-ask', title: 'Share a signal with the source', button: 'Ask to share',
        intro: 'A second person approves before anything is sent.',
        fields: [{ name: 'signal_id', label: 'Signal id', type: 'number', required: true, attrs: { min: 1 } },
          { name: 'description', label: 'Description', required: true }],
        submit: async (v) => {
          const u = await api('POST', '/v1/exchanges/' + x.id + '/uploads', { body: { signal_id: Number(v.signal_id), description: v.description } });
          return 'Share #' + u.id + ' asked.';
        },
        reset: true, after: () => up2.reload(),
      }));
    }
    document.getElementById('exchange-detail-title').focus();
  }

  // ---- reported messages (franked reports, docs/e2ee.md) ----

  // What bytes are, from their first bytes (the API serves review copies as downloads).
  function sniff(b) {
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
    if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
    if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'image/webp';
    if (b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) return 'video/mp4';
    if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'video/webm';
    return null;
  }

  let revealUrls = [];
  function dropUrls() {
    for (const u of revealUrls) URL.revokeObjectURL(u);
    revealUrls = [];
  }

  view({
    id: 'reports', title: 'Reported messages', roles: ['moderator', 'admin'], order: 45,
    render(section, params) {
      dropUrls();
      const { n, head } = frame(section, 'Reported messages',
        'Messages users reported from end-to-end encrypted conversations, each verified by its frank, newest first. Showing a message or an attachment is written to the audit log; images and video are blurred and greyscale until revealed, video muted.');
      const listBox = h('section', { 'aria-label': 'Report list' });
      const detail = h('section', { id: 'report-detail', 'aria-labelledby': 'report-detail-title', hidden: true });
      section.append(listBox, detail);
      const p = pager(listBox, {
        caption: 'Reported messages', empty: 'No reported messages awaiting review.',
        columns: ['Report', 'Reported', 'Sender', 'Conversation', 'Sent', 'Reporters', 'Verdict', 'Attachments', ''],
        load: async (pg) => {
          const d = await api('GET', '/v1/reports', { query: { open: '1', limit: String(PAGE + 1), offset: String(pg * PAGE) } });
          const all = d.reports || [];
          return { items: all.slice(0, PAGE), more: all.length > PAGE };
        },
        row: (r) => h('tr', { 'data-report-id': r.report_id }, h('td', null, '#' + r.report_id), h('td', null, ms(r.received_ms)),
          h('td', { class: 'mono' }, r.sender), h('td', { class: 'mono' }, r.conversation), h('td', null, ms(r.accepted_ms)),
          h('td', null, String(r.reporters)), h('td', null, r.verdict), h('td', null, String(r.attachments)),
          h('td', null, h('a', { href: '#reports/' + r.report_id, class: 'button secondary' }, 'Open report #' + r.report_id))),
      });
      refreshButton(head, () => p.reload());
      p.first();
      if (params) openReport(detail, Number(params), n);
    },
    leave: dropUrls,
  });

  async function openReport(box, id, n) {
    let r, c = null;
    try {
      r = await api('GET', '/v1/reports/' + id);
      if (r.case_id) c = await api('GET', '/v1/cases/' + r.case_id);
    } catch (e) {
      n.fail(e);
      return;
    }
    clear(box).hidden = false;
    const msg = h('div', { id: 'report-message' });
    const atts = h('div', { id: 'report-attachments' });
    box.append(h('h3', { id: 'report-detail-title', tabindex: '-1' }, 'Report #' + r.report_id),
      facts([['Content id', h('span', { class: 'mono' }, r.content_id)], ['Sender (verified)', h('span', { class: 'mono' }, r.sender)],
        ['Conversation', h('span', { class: 'mono' }, r.conversation)], ['Sent (franked)', ms(r.accepted_ms)], ['First reported', ms(r.received_ms)],
        ['Reporters', String(r.reporters)], ['Verdict', r.verdict], ['Evidence', r.evidence_item ? 'sealed, item ' + r.evidence_item : 'not sealed'],
        ['Case', c ? '#' + c.id + ' (' + c.state + ')' + (c.outcome ? ': ' + c.outcome : '') : 'none']]),
      h('h4', null, 'Message'), msg, h('h4', null, 'Attachments'), atts);
    if (!r.review_copy || (c && c.state === 'closed')) {
      msg.append(h('p', { class: 'muted' }, 'The review copy is gone: the case is closed.'));
    } else {
      msg.append(actionButton('Show message (recorded in the audit log)', async () => {
        const res = await api('GET', '/v1/reports/' + id + '/text', { blob: true });
        const text = await res.blob.text();
        clear(msg).append(h('p', { class: 'hint' }, 'Shown defanged: addresses are not links.'),
          h('pre', { class: 'reported-text' }, text ? TD.defang(text) : '(no text)'));
        return '';
      }));
      for (let i = 0; i < r.attachments; i++) {
        const slot = h('div', { class: 'attachment', id: 'report-att-' + i });
        slot.append(actionButton('Show attachment ' + (i + 1) + ' (recorded in the audit log)', async () => {
          const res = await api('GET', '/v1/reports/' + id + '/attachments/' + i, { blob: true });
          const type = sniff(new Uint8Array(await res.blob.slice(0, 16).arrayBuffer()));
          clear(slot).append(h('p', null, 'Attachment ' + (i + 1) + ': ' + (type || 'not an image or video') + ', ' + TD.fmtBytes(res.blob.size)));
          if (!type) return '';
          const url = URL.createObjectURL(new Blob([res.blob], { type }));
          revealUrls.push(url);
          const media = type.startsWith('image/') ? h('img', { src: url, alt: 'Attachment ' + (i + 1) + ' of the reported message', class: 'shielded' })
            : h('video', { src: url, class: 'shielded', controls: true, preload: 'metadata', 'aria-label': 'Attachment ' + (i + 1) + ' of the reported message' });
          if (media.tagName === 'VIDEO') media.muted = true;
          const toggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Reveal attachment ' + (i + 1));
          toggle.addEventListener('click', () => {
            const shown = media.classList.toggle('revealed');
            toggle.setAttribute('aria-pressed', shown ? 'true' : 'false');
            toggle.textContent = (shown ? 'Blur attachment ' : 'Reveal attachment ') + (i + 1);
          });
          slot.append(h('div', { class: 'media-box' }, media), toggle);
          return '';
        }));
        atts.append(slot);
      }
    }
    if (!r.attachments) atts.append(h('p', { class: 'muted' }, 'none'));
    if (c && c.state !== 'closed') box.append(h('p', null, h('a', { href: '#review/case=' + c.id }, 'Decide its case #' + c.id + ' in the review queue')));
    document.getElementById('report-detail-title').focus();
  }

  // ---- evidence orders (legal officers and admins; docs/evidence-orders.md) ----

  const PURPOSE_ITEM = 'takedown.purpose';
  const FRAMEWORKS = { eu_epoc: 'EPOC (EU production)', eu_epoc_pr: 'EPOC-PR (EU preservation)', uk_opo: 'UK Overseas Production Order', us_cloud_act: 'US order (CLOUD Act agreement)' };
  const CC_REASONS = ['incomplete', 'manifest_errors', 'insufficient_information', 'data_not_held', 'de_facto_impossibility',
    'invalid_issuing_authority', 'offence_not_covered', 'service_not_covered', 'immunities_or_privileges', 'conflict_of_law'];
  const CONFLICT_FIELDS = [['third_country', 'Third country'], ['provisions', 'Provisions of its law'], ['nature_of_obligation', 'Nature of the conflicting obligation'],
    ['why_applies', 'Why that law applies'], ['link_to_country', 'Link to that country'], ['consequences', 'Consequences for the operator']];
  const COUNTING = ['collect', 'due', 'transmit_from', 'preserve_until'];
  const OPEN_STATES = ['received', 'collecting', 'preserved', 'approved', 'paused'];
  let eoTimer = 0;

  function longSpan(msLeft) {
    const s = Math.floor(Math.abs(msLeft) / 1000);
    const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
    return (d ? d + 'd ' : '') + hh + 'h ' + String(mm).padStart(2, '0') + 'm ' + String(s % 60).padStart(2, '0') + 's';
  }

  // The clocks of an open order that still bind.
  function clocksOf(o) {
    const d = o.deadlines || {};
    if (!OPEN_STATES.includes(o.state)) return [];
    return COUNTING.filter((k) => d[k] && !(k === 'collect' && !['received', 'collecting'].includes(o.state)))
      .map((k) => ({ kind: k, at: Date.parse(d[k]) })).filter((c) => !Number.isNaN(c.at));
  }

  // Why an order waits (the list's summaries and the order carry them).
  function holdsOf(o) {
    const out = [];
    if (o.state === 'paused') out.push('paused' + (o.paused_at ? ' since ' + o.paused_at : '') + ': cannot comply sent, waiting for a clarification');
    if (o.grounds_blocked && o.grounds_blocked.length) out.push('grounds for refusal block ' + o.grounds_blocked.join(', '));
    if (o.production_pending) out.push('production pending: preservation held');
    if (o.restricted) out.push('restricted: grounds raised after delivery');
    return out;
  }

  function holdList(o) {
    const items = holdsOf(o);
    if (!items.length) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'labels holds' }, items.map((x) => h('li', null, x)));
  }

  const partyText = (p) => (p ? p.name + ' (' + p.type + '), file number ' + p.file_number : null);
  const contactText = (c) => (c ? [c.name, c.email, c.phone].filter((x) => x).join(' · ') : null);

  function eoTick() {
    const now = Date.now();
    for (const e of document.querySelectorAll('.eo-clock[data-at]')) {
      const left = Number(e.dataset.at) - now, kind = e.dataset.kind;
      let text;
      if (kind === 'transmit_from') text = left > 0 ? 'transmit from: in ' + longSpan(left) : 'transmission allowed';
      else if (kind === 'preserve_until') text = left > 0 ? 'preserve until: ' + longSpan(left) + ' left' : 'preservation period over';
      else text = left >= 0 ? kind + ': ' + longSpan(left) + ' left' : kind + ': overdue by ' + longSpan(left) + ' (breached)';
      e.textContent = text;
      const over = left < 0 && (kind === 'due' || kind === 'collect');
      e.classList.toggle('overdue', over);
      const row = e.closest('tr[data-eorder-id]');
      if (row && over) row.classList.add('breached');
    }
  }

  view({
    id: 'eorders', title: 'Evidence orders', roles: ['legal', 'admin'], order: 55,
    render(section, params) {
      const { n, head } = frame(section, 'Evidence orders',
        'Every read of an evidence order is written to the audit log with your key and the purpose below, asked once for this tab.');
      const main = h('div', { id: 'eorders-main' });
      const purposeBox = h('div', { id: 'eorders-purpose' });
      section.append(purposeBox, main);
      const purpose = () => sessionStorage.getItem(PURPOSE_ITEM);
      const showMain = () => {
        clear(purposeBox);
        clear(main);
        if (!purpose()) {
          purposeBox.append(actionForm({
            id: 'purpose-form', title: 'Purpose of these reads', button: 'Set purpose',
            fields: [{ name: 'purpose', label: 'Purpose', required: true, attrs: { maxlength: 1024, placeholder: 'e.g. daily review of open orders' } }],
            submit: async (v) => {
              if (!v.purpose.trim()) throw new Error('Say why you read these orders: the purpose is written to the audit log.');
              sessionStorage.setItem(PURPOSE_ITEM, v.purpose.trim());
              return '';
            },
            after: showMain,
          }));
          return;
        }
        purposeBox.append(h('p', { class: 'purpose-shown' }, 'Purpose of these reads: ', h('strong', { id: 'purpose-text' }, purpose()), ' ',
          h('button', { type: 'button', class: 'secondary', on: { click: () => {
            sessionStorage.removeItem(PURPOSE_ITEM);
            showMain();
          } } }, 'Change purpose')));
        const listBox = h('section', { 'aria-label': 'Open evidence orders' });
        const detail = h('section', { id: 'eorder-detail', 'aria-labelledby': 'eorder-detail-title', hidden: true });
        main.append(listBox, detail);
        const p = pager(listBox, {
          caption: 'Open evidence orders', empty: 'No open evidence orders.',
          columns: ['Order', 'Framework', 'Issuing state', 'Reference', 'State', 'Approvals', 'Escalation', 'Next deadline', 'Holds', ''],
          load: async (pg) => slicePage((await api('GET', '/v1/evidence-orders', { query: { open: '1', purpose: purpose() } })).orders || [], pg),
          row: (o) => {
            const clocks = clocksOf(o).sort((a, b) => a.at - b.at);
            const next = clocks.find((c) => c.at >= Date.now()) || clocks[0];
            return h('tr', { 'data-eorder-id': o.id, class: o.breached_at ? 'breached' : null }, h('td', { class: 'mono' }, o.id),
              h('td', null, FRAMEWORKS[o.framework] || o.framework), h('td', null, o.issuing_state || '—'), h('td', { class: 'mono' }, o.reference || '—'),
              h('td', { class: 'eo-state' }, o.state), h('td', { class: 'eo-approvals' }, (o.approvals || 0) + '/' + (o.approvals_needed || 0)),
              h('td', null, 'level ' + (o.escalation || 0)),
              h('td', { class: 'eo-next' }, o.state === 'paused' ? 'paused: no deadline' : next ? h('span', { class: 'eo-clock', 'data-kind': next.kind, 'data-at': String(next.at) }) : 'no pending deadline',
                o.breached_at ? h('span', { class: 'breach' }, ' BREACHED ' + o.breached_at) : null),
              h('td', { class: 'eo-holds' }, holdList(o)),
              h('td', null, h('a', { href: '#eorders/' + enc(o.id), class: 'button secondary' }, 'Details of ' + o.id)));
          },
        });
        p.first().then(eoTick);
        if (params) openEorder(detail, decodeURIComponent(params), n, purpose, () => p.reload());
      };
      refreshButton(head, showMain);
      showMain();
      clearInterval(eoTimer);
      eoTimer = setInterval(eoTick, 1000);
    },
    leave() {
      clearInterval(eoTimer);
      eoTimer = 0;
    },
  });

  async function openEorder(box, id, n, purpose, relist) {
    const base = '/v1/evidence-orders/' + enc(id);
    const q = { query: { purpose: purpose() } };
    let o, recs, msgs;
    try {
      [o, recs, msgs] = await Promise.all([api('GET', base, q), api('GET', base + '/records', q), api('GET', base + '/messages', q)]);
    } catch (e) {
      n.fail(e);
      return;
    }
    const again = async () => {
      await relist();
      await openEorder(box, id, n, purpose, relist);
    };
    const d = o.deadlines || {};
    const binding = clocksOf(o);
    clear(box).hidden = false;
    box.append(h('h3', { id: 'eorder-detail-title', tabindex: '-1' }, 'Evidence order ' + o.id + ' (' + (o.reference || '') + ')'),
      facts([['State', h('span', { class: 'eo-detail-state' }, o.state)], ['Framework', FRAMEWORKS[o.framework] || o.framework],
        ['Received', time(o.received_at)], ['Escalation', 'level ' + (o.escalation || 0)], ['Breached', o.breached_at || 'no'],
        ['Approvals', (o.approvals || 0) + '/' + (o.approvals_needed || 0)], ['Release request', o.release_request ? '#' + o.release_request + ' (custodians approve it)' : 'none yet'],
        ['Holds', h('span', { class: 'eo-detail-holds' }, holdList(o))], ['Refused (Annex III)', list(o.refused)],
        ['Certificate SHA-256', h('span', { class: 'mono' }, o.body_sha256)]]),
      h('h4', null, 'Certificate sections'),
      facts([['A. Issuing state', o.issuing_state], ['A. Issuing authority', partyText(o.issuing_authority)],
        ['A. Validating authority', partyText(o.validating_authority) || 'none'], ['B. Addressee', o.addressee],
        ['C. Deadline', o.deadline_class || 'the order\'s own period'],
        ['E. Time range', o.time_range ? (o.time_range.from || '—') + ' to ' + (o.time_range.to || '—') : '—'],
        ['F. Data categories', h('span', { class: 'eo-categories' }, list(o.categories))], ['F. Subscriber data', list(o.subscriber)],
        ['G. Offence', o.offence], ['G. Legal classification', o.legal_classification], ['K. Execution contact', contactText(o.execution_contact)],
        ['L. Recipient', o.recipient ? o.recipient.name + (o.recipient.member_state ? ' (' + o.recipient.member_state + ')' : '') : '—'],
        ['L. Recipient key (X25519)', o.recipient ? h('span', { class: 'mono' }, o.recipient.x25519_public_key) : '—']], 'eo-sections'),
      h('h4', null, 'Deadlines'),
      table('Deadlines', ['Clock', 'Time', 'Time left'], Object.keys(d).filter((k) => d[k]).map((k) => {
        const c = binding.find((x) => x.kind === k);
        return h('tr', { 'data-clock': k }, h('td', null, k), h('td', { class: 'mono' }, d[k]),
          c ? h('td', null, h('span', { class: 'eo-clock', 'data-kind': k, 'data-at': String(c.at) })) : h('td', { class: 'muted' }, COUNTING.includes(k) ? 'not running' : '—'));
      })),
      h('h4', null, 'Identifiers'),
      table('Identifiers', ['Type', 'Value', 'At'], (o.identifiers || []).map((x) => h('tr', null, h('td', null, x.type), h('td', { class: 'mono' }, x.value), h('td', { class: 'mono' }, x.at || '—')))),
      h('h4', null, 'Records (metadata and SHA-256 only)'),
      table('Records', ['Record', 'Category', 'Identifier', 'Bytes', 'SHA-256', 'Sealed', 'Delivered'], (recs.records || []).map((r) => h('tr', { 'data-record-id': r.id },
        h('td', null, '#' + r.id), h('td', null, r.category), h('td', { class: 'mono' }, r.identifier || '—'), h('td', null, String(r.bytes)),
        h('td', { class: 'mono sha' }, r.sha256 || '—'), h('td', { class: 'mono' }, r.sealed_at || '—'), h('td', { class: 'mono' }, r.delivered_at || 'no')))),
      h('h4', null, 'Messages to the issuing side'),
      table('Messages', ['Message', 'Kind', 'State', 'Created', 'Sent'], (msgs.messages || []).map((m) => h('tr', { 'data-message-id': m.id },
        h('td', null, '#' + m.id), h('td', { class: 'eo-msg-kind' }, m.kind), h('td', { class: 'eo-msg-state' }, m.state), h('td', { class: 'mono' }, m.created_at || '—'),
        h('td', { class: 'mono' }, m.sent_at || '—')))));
    const actions = h('div', { class: 'actions' });
    if (can('POST /v1/evidence-orders/{id}/approvals')) {
      actions.append(actionForm({
        id: 'eo-approve', title: 'Approve delivery', button: 'Approve delivery',
        fields: [{ name: 'note', label: 'Note (optional)', type: 'textarea' }],
        submit: async (v) => {
          const a = await api('POST', base + '/approvals', { body: v.note.trim() ? { note: v.note.trim() } : {} });
          return 'Approval recorded: ' + a.approvals + ' of ' + a.needed + ' needed' + (a.complete ? '; release request #' + a.release_request + ' now needs the evidence custodians.' : '.');
        },
        after: again,
      }));
    } else if (TD.me && TD.me.role === 'admin') {
      actions.append(h('p', { class: 'hint' }, 'Approvals are given by legal officers (role legal).'));
    }
    if (can('POST /v1/evidence-orders/{id}/delivery')) {
      actions.append(actionForm({
        id: 'eo-deliver', title: 'Deliver', button: 'Deliver',
        intro: 'Writes the package encrypted to the recipient\'s key, once legal officers and k custodians approved and the clock allows transmission.',
        submit: async () => {
          const r = await api('POST', base + '/delivery', { body: {} });
          const pk = r.package || {};
          return facts([['Package SHA-256', h('span', { class: 'mono eo-package-sha' }, pk.sha256)], ['Size', h('span', { class: 'eo-package-bytes' }, String(pk.bytes) + ' bytes')],
            ['URL', h('span', { class: 'mono eo-package-url' }, pk.url)], ['Records', String(r.records)], ['Delivered', r.delivered_at]]);
        },
      }));
    }
    if (can('POST /v1/evidence-orders/{id}/cannot-comply')) {
      const cats = h('fieldset', null, h('legend', null, 'Categories (none ticked: the whole order, which pauses its clock)'),
        (o.categories || []).map((c) => h('span', { class: 'check' }, h('input', { type: 'checkbox', id: 'eo-cc-cat-' + c, value: c, disabled: (o.refused || []).includes(c) }),
          h('label', { for: 'eo-cc-cat-' + c }, c))));
      const conflict = h('fieldset', { hidden: true }, h('legend', null, 'Conflict of law'));
      const cinputs = {};
      for (const [k, label] of CONFLICT_FIELDS) {
        const f = field({ name: k, label, type: 'textarea' }, 'eo-cc');
        cinputs[k] = f.input;
        conflict.append(f.wrap);
      }
      const form = actionForm({
        id: 'eo-cc', title: 'Annex III: cannot comply', button: 'Send Annex III (cannot comply)', danger: true,
        extra: h('div', null, cats, conflict),
        fields: [{ name: 'reason', label: 'Reason', type: 'select', options: [['', 'choose an Annex III reason']].concat(CC_REASONS.map((r) => [r, r])), required: true },
          { name: 'explanation', label: 'Explanation', type: 'textarea', required: true }],
        submit: async (v) => {
          const body = { reason: v.reason, explanation: v.explanation.trim() };
          const ticked = [...cats.querySelectorAll('input:checked')].map((b) => b.value);
          if (ticked.length) body.categories = ticked;
          if (v.reason === 'conflict_of_law') {
            body.conflict_of_law = {};
            for (const [k] of CONFLICT_FIELDS) body.conflict_of_law[k] = cinputs[k].value.trim();
          }
          const u = await api('POST', base + '/cannot-comply', { body });
          return 'Annex III sent (' + v.reason + '): ' + (u.state === 'paused' ? 'the order is paused.' : 'refused ' + list(u.refused) + '.');
        },
        after: again,
      });
      form.inputs.reason.addEventListener('change', () => {
        conflict.hidden = form.inputs.reason.value !== 'conflict_of_law';
      });
      actions.append(form);
    }
    if (can('POST /v1/evidence-orders/{id}/correspondence')) {
      actions.append(actionForm({
        id: 'eo-corr', title: 'Correspondence', button: 'Send to the issuing authority',
        fields: [{ name: 'kind', label: 'Kind', type: 'select', options: [['request_additional_information', 'request additional information'], ['provide_additional_information', 'provide additional information'], ['other', 'other']] },
          { name: 'text', label: 'Text', type: 'textarea', required: true }],
        submit: async (v) => {
          await api('POST', base + '/correspondence', { body: { kind: v.kind, text: v.text } });
          return 'Queued for the issuing authority (' + v.kind + ').';
        },
        after: again,
      }));
    }
    if (actions.firstChild) box.append(h('h4', null, 'Actions'), actions);
    eoTick();
    document.getElementById('eorder-detail-title').focus();
  }

  document.addEventListener('td:signout', () => {
    sessionStorage.removeItem(PURPOSE_ITEM);
    dropUrls();
  });

  window.TDTeam = { parseMetrics, rootFromInclusion, checkpointMessage, leafHash, reportData };
})();
