// takedown console, the shell: sign-in, the views' navigation and the helpers every view uses
// (window.TD). Plain JavaScript, no framework, no build step, no inline code (the page is served
// with a strict Content-Security-Policy). Every call goes to the /v1 API of the same origin with
// the pasted key as `Authorization: Bearer`. The key lives in sessionStorage only (gone when the
// tab closes) and never in a URL. Data from the API is put in the page as text only (TD.el),
// never as HTML.
//
// The views live in their own files (review.js, team.js), loaded after this one, each calling
// TD.registerView({id, title, roles, order, render(section, params), leave()}). The shell shows
// a view when location.hash is '#<id>' or '#<id>/<params>' and the signed-in key's role is one
// of its roles (docs/console.md).
'use strict';

(function () {
  const KEY_ITEM = 'takedown.key';
  // Roles the console refuses: their keys belong to other parties, not the platform's team.
  const REFUSED = ['authority', 'peer'];
  const $ = (id) => document.getElementById(id);

  const views = new Map(); // id -> {def, link, section}
  let current = null; // the view shown: {id, params}
  let allowed = null; // 'METHOD /template' -> [roles], from /v1/openapi.yaml

  // ---- helpers ----

  // Creates an element. attrs: class, text, id, for, type, name, value, checked, disabled,
  // hidden, aria-*, data-*, on: {event: handler}, any other attribute as a string; children:
  // strings (text nodes) or nodes, nested arrays flattened, null/undefined/false skipped.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      } else if (k === 'value' || k === 'checked' || k === 'selected') e[k] = v;
      else if (k === 'for') e.htmlFor = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // A view's section without what its render put there: its heading stays.
  function clearView(section) {
    for (const c of Array.from(section.children)) {
      if (!c.classList.contains('view-title')) c.remove();
    }
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  // "2026-12-06 14:03:09 UTC" from an RFC 3339 text or milliseconds since the epoch.
  function fmtTime(t) {
    if (t === null || t === undefined || t === '') return '—';
    const d = typeof t === 'number' ? new Date(t) : new Date(String(t));
    if (isNaN(d.getTime())) return String(t);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
  }

  // "45 s", "12 min", "3 h 5 min", "2 d 4 h".
  function fmtAge(s) {
    if (s === null || s === undefined || isNaN(Number(s))) return '—';
    s = Math.max(0, Math.floor(Number(s)));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 24) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    const d = Math.floor(h / 24);
    return d + ' d' + (h % 24 ? ' ' + (h % 24) + ' h' : '');
  }

  // "812 B", "1.5 KB", "3.2 MB" (powers of 1024).
  function fmtBytes(n) {
    if (n === null || n === undefined || isNaN(Number(n))) return '—';
    n = Number(n);
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  // Text and links made harmless to copy or click by mistake: hxxp(s), [.] in host names, [@].
  function defang(text) {
    return String(text === null || text === undefined ? '' : text)
      .replace(/\bhttp(s?):\/\//gi, (m, s) => 'hxxp' + s + '://')
      .replace(/\bftp:\/\//gi, 'fxp://')
      .replace(/([A-Za-z0-9-])\.(?=[A-Za-z0-9-])/g, '$1[.]')
      .replace(/@/g, '[@]');
  }

  function say(text) {
    $('status').textContent = text;
  }

  function showError(text) {
    const m = $('message');
    m.textContent = text;
    m.hidden = !text;
  }

  function clearError() {
    showError('');
  }

  // "Error 409: message (field: x)" from an api() result; the API's errors are
  // {"error": {"code", "message", "field"?}} (also read: {"error": code, "message"}).
  function errorText(res) {
    if (!res) return 'No answer';
    if (res.status === 0) return res.text || 'The server cannot be reached.';
    const j = res.json || {};
    const e = j.error;
    let message = '', field = null;
    if (e && typeof e === 'object') {
      message = e.message || e.code || '';
      field = e.field || null;
    } else {
      message = j.message || (typeof e === 'string' ? e : '') || (res.text || '').slice(0, 200);
      field = j.field || null;
    }
    return 'Error ' + res.status + ': ' + (message || 'HTTP ' + res.status) +
      (field ? ' (field: ' + field + ')' : '');
  }

  function getKey() {
    return sessionStorage.getItem(KEY_ITEM);
  }

  // One API call. opts: body (an object is sent as JSON; a Blob, FormData, ArrayBuffer or string
  // as is), headers, query (object: null/undefined members left out), blob (read the answer as
  // a Blob). Resolves for every HTTP status with {status, ok, json, text, blob, headers};
  // rejects only when the server cannot be reached. A 401 while signed in signs out.
  async function api(method, path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    const key = getKey();
    if (key) headers.Authorization = 'Bearer ' + key;
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    const b = opts.body;
    if (b !== undefined && b !== null) {
      if (typeof b === 'string' || b instanceof Blob || b instanceof FormData || b instanceof ArrayBuffer ||
        ArrayBuffer.isView(b)) {
        init.body = b;
      } else {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(b);
      }
    }
    let url = path;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) {
        if (v !== null && v !== undefined && v !== '') q.append(k, String(v));
      }
      const s = q.toString();
      if (s) url += (url.includes('?') ? '&' : '?') + s;
    }
    const resp = await fetch(url, init);
    const res = { status: resp.status, ok: resp.ok, json: null, text: '', blob: null, headers: resp.headers };
    if (opts.blob && resp.ok) {
      res.blob = await resp.blob();
    } else {
      res.text = await resp.text();
      try {
        res.json = res.text ? JSON.parse(res.text) : null;
      } catch (e) {
        res.json = null;
      }
    }
    if (resp.status === 401 && key && TD.me) {
      signOut();
      showError('The key was refused: ' + errorText(res) + '. Sign in again.');
    }
    return res;
  }

  // Saves a Blob (or text) as a file named name.
  function download(data, name, type) {
    const blob = data instanceof Blob ? data : new Blob([data], { type: type || 'application/octet-stream' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // True when a key press belongs to a field (typing), so views' shortcuts leave it alone.
  function isTyping(ev) {
    const t = ev.target;
    if (!t || !t.tagName) return false;
    if (t.isContentEditable) return true;
    if (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
    if (t.tagName === 'INPUT') {
      return !['button', 'submit', 'reset', 'checkbox', 'radio', 'range'].includes(t.type);
    }
    return false;
  }

  // ---- what each role may call, from the API's own document ----

  // /v1/openapi.yaml lists, for each path and method, the roles in `x-roles: [a, b]` (the API
  // test checks it against the router). Read once at sign-in.
  function parseRoles(yaml) {
    const out = new Map();
    let p = null, m = null, inPaths = false;
    for (const line of yaml.split('\n')) {
      if (/^paths:\s*$/.test(line)) {
        inPaths = true;
        continue;
      }
      if (/^\S/.test(line)) inPaths = false;
      if (!inPaths) continue;
      let r = /^ {2}(\/\S*):\s*$/.exec(line);
      if (r) {
        p = r[1];
        m = null;
        continue;
      }
      r = /^ {4}(get|post|put|patch|delete):\s*$/.exec(line);
      if (r) {
        m = r[1].toUpperCase();
        continue;
      }
      r = /^ {6}x-roles:\s*\[(.*)\]\s*$/.exec(line);
      if (r && p && m) out.set(m + ' ' + p, r[1].split(',').map((s) => s.trim()).filter(Boolean));
    }
    return out;
  }

  function templateMatches(template, path) {
    const a = template.split('/'), b = path.split('/');
    if (a.length !== b.length) return false;
    return a.every((s, i) => s === b[i] || (/^\{[^}]+\}$/.test(s) && b[i] !== ''));
  }

  // can('POST /v1/banks'), can('POST /v1/cases/{id}/claim') or with a real path
  // ('POST /v1/cases/12/claim'): true when the signed-in role may call it.
  function can(action) {
    if (!TD.me || !allowed) return false;
    const [method, full] = String(action).trim().split(/\s+/, 2);
    const path = (full || '').split('?')[0];
    let roles = allowed.get(method.toUpperCase() + ' ' + path);
    if (!roles) {
      for (const [k, v] of allowed) {
        const [km, kp] = k.split(' ');
        if (km === method.toUpperCase() && templateMatches(kp, path)) {
          roles = v;
          break;
        }
      }
    }
    return !!roles && (roles.includes(TD.me.role) || roles.includes('public'));
  }

  // ---- views ----

  function registerView(def) {
    if (!def || !def.id || views.has(def.id)) throw new Error('registerView: a new id is needed');
    const titleId = 'view-' + def.id + '-title';
    const section = el('section', { class: 'view', id: 'view-' + def.id, 'aria-labelledby': titleId, hidden: true },
      el('h2', { class: 'view-title', id: titleId, tabindex: '-1' }, def.title));
    const link = el('a', { href: '#' + def.id, id: 'nav-' + def.id, 'data-view': def.id }, def.title);
    const item = el('li', { hidden: true, 'data-order': def.order || 0 }, link);
    const list = $('nav-list');
    const after = Array.from(list.children).find((li) => Number(li.dataset.order) > (def.order || 0));
    list.insertBefore(item, after || null);
    $('main').append(section);
    views.set(def.id, { def, link, item, section });
    if (TD.me) updateNav();
  }

  function offered(v) {
    return !!TD.me && (v.def.roles || []).includes(TD.me.role);
  }

  function updateNav() {
    let any = false;
    for (const v of views.values()) {
      v.item.hidden = !offered(v);
      any = any || offered(v);
    }
    $('no-view').hidden = !TD.me || any;
  }

  function firstOffered() {
    const list = Array.from(views.values()).filter(offered);
    list.sort((a, b) => (a.def.order || 0) - (b.def.order || 0));
    return list.length ? list[0].def.id : null;
  }

  // '#id/params': the id decoded, the params as written (a view decodes its own, e.g. with
  // URLSearchParams).
  function parseHash() {
    const h = location.hash.replace(/^#/, '');
    const i = h.indexOf('/');
    const id = i < 0 ? h : h.slice(0, i);
    let dec = id;
    try {
      dec = decodeURIComponent(id);
    } catch (e) {
      dec = id;
    }
    return { id: dec, params: i < 0 ? '' : h.slice(i + 1) };
  }

  // Records the shown view's params in the address without showing it again (a view that
  // changed its own state, e.g. the case shown).
  function setParams(params) {
    if (!current) return;
    current.params = params || '';
    history.replaceState(null, '', '#' + current.id + (params ? '/' + params : ''));
  }

  // Sets the address to '#id' or '#id/params' (which shows that view).
  function go(id, params) {
    const h = '#' + id + (params ? '/' + params : '');
    if (location.hash === h) route();
    else location.hash = h;
  }

  function leaveCurrent() {
    if (!current) return;
    const v = views.get(current.id);
    if (v) {
      v.section.hidden = true;
      v.link.removeAttribute('aria-current');
      if (typeof v.def.leave === 'function') {
        try {
          v.def.leave();
        } catch (e) {
          showError('Leaving the view failed: ' + e.message);
        }
      }
    }
    current = null;
  }

  async function route() {
    if (!TD.me) return;
    const { id, params } = parseHash();
    let v = views.get(id);
    if (!v || !offered(v)) {
      const first = firstOffered();
      if (v && !offered(v)) showError('The view "' + v.def.title + '" is not for role ' + TD.me.role + '.');
      if (!first) {
        leaveCurrent();
        return;
      }
      if (first !== id) {
        history.replaceState(null, '', '#' + first);
        v = views.get(first);
      }
    }
    const sameView = current && current.id === v.def.id;
    if (sameView && current.params === params) return;
    if (!sameView) leaveCurrent();
    current = { id: v.def.id, params };
    for (const o of views.values()) o.section.hidden = o !== v;
    v.link.setAttribute('aria-current', 'page');
    closeMenu();
    try {
      await v.def.render(v.section, params);
    } catch (e) {
      showError('The view failed: ' + (e && e.message ? e.message : e));
    }
  }

  // ---- sign in / out ----

  function showSignedIn() {
    const yes = !!TD.me;
    $('signin-form').hidden = yes;
    $('signed-in').hidden = !yes;
    $('nav').hidden = !yes;
    $('menu-toggle').hidden = !yes;
    $('intro').hidden = yes;
    $('who').textContent = yes ? 'Signed in as ' + (TD.me.name || TD.me.key_id) + ' (' + TD.me.role + ')' : '';
    updateNav();
  }

  function signOut() {
    const was = !!TD.me;
    leaveCurrent();
    for (const v of views.values()) v.section.hidden = true;
    sessionStorage.removeItem(KEY_ITEM);
    TD.me = null;
    allowed = null;
    say('');
    showSignedIn();
    if (was) document.dispatchEvent(new CustomEvent('td:signout'));
  }

  // Asks the API who the key in sessionStorage is; signs in unless it is refused.
  async function whoAmI() {
    let res;
    try {
      res = await api('GET', '/v1/me');
    } catch (e) {
      showError('The server cannot be reached (' + e.message + ').');
      return false;
    }
    if (!res.ok || !res.json || !res.json.role) {
      sessionStorage.removeItem(KEY_ITEM);
      showError(errorText(res));
      return false;
    }
    if (REFUSED.includes(res.json.role)) {
      sessionStorage.removeItem(KEY_ITEM);
      showError('This console is for the platform\'s team; ' + (res.json.role === 'peer' ? 'a peer' : 'an authority') +
        ' key cannot use it.');
      return false;
    }
    try {
      const doc = await fetch('/v1/openapi.yaml', { cache: 'no-store', credentials: 'omit' });
      allowed = parseRoles(await doc.text());
    } catch (e) {
      allowed = new Map();
    }
    TD.me = res.json;
    clearError();
    showSignedIn();
    document.dispatchEvent(new CustomEvent('td:signin', { detail: TD.me }));
    await route();
    return true;
  }

  async function signIn(ev) {
    ev.preventDefault();
    const key = $('key').value.trim();
    $('key').value = '';
    if (!key) return;
    signOut();
    sessionStorage.setItem(KEY_ITEM, key);
    if (!(await whoAmI())) $('key').focus();
    else {
      const v = current && views.get(current.id);
      if (v) v.section.querySelector('.view-title').focus();
    }
  }

  // ---- the menu on narrow screens ----

  function closeMenu() {
    $('nav').classList.remove('open');
    $('menu-toggle').setAttribute('aria-expanded', 'false');
  }

  function toggleMenu() {
    const open = !$('nav').classList.contains('open');
    $('nav').classList.toggle('open', open);
    $('menu-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      const first = $('nav').querySelector('li:not([hidden]) a');
      if (first) first.focus();
    }
  }

  window.TD = {
    api,
    me: null,
    registerView,
    can,
    errorText,
    el,
    fmtTime,
    fmtAge,
    fmtBytes,
    // Additions views may use:
    clear,
    clearView,
    defang,
    say,
    showError,
    clearError,
    download,
    isTyping,
    go,
    setParams,
  };

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => {
      signOut();
      clearError();
      $('key').focus();
    });
    $('menu-toggle').addEventListener('click', toggleMenu);
    $('nav').addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && $('nav').classList.contains('open')) {
        closeMenu();
        $('menu-toggle').focus();
      }
    });
    window.addEventListener('hashchange', route);
    showSignedIn();
    if (getKey()) whoAmI();
    else $('key').focus();
  });
})();
