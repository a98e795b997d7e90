// takedown console, the review views (docs/console.md): the queues with their counts, the case
// pane (the content, its media shown safely, the matched signals, the uploader's other content,
// earlier decisions on the same signals), decisions with reasons and keyboard shortcuts, and
// the QA of a sampled share of decisions by a second reviewer. Uses the shell's TD helpers
// (console.js); every value from the API is put in the page as text.
//
// Media safety: the bytes are fetched with the key (GET /v1/content/{id}/media, moderators and
// admins only) and shown from blob: URLs, blurred and greyscale by default (a CSS filter on
// the figure), revealed per item on request and blurred again whenever another item is shown;
// video is muted, never plays by itself, and a strip of a few frames (drawn onto canvases,
// blurred the same way) shows what it holds. Text and links are shown defanged and never as
// links. Preferences live in this browser's localStorage under one key (PREFS_ITEM).
'use strict';

(function () {
  const TD = window.TD;
  const el = TD.el;
  const READERS = ['moderator', 'admin', 'auditor'];
  const MEDIA_ROLES = ['moderator', 'admin'];
  const PREFS_ITEM = 'takedown.review.prefs';
  const QUEUE_POLL_MS = 15000;
  const FRAMES = 4;
  const STRENGTHS = { light: '8 px', medium: '16 px', strong: '32 px' };
  const enc = encodeURIComponent;

  // ---- preferences (this browser only) ----

  const DEFAULT_PREFS = { blur: true, grey: true, strength: 'medium' };

  function loadPrefs() {
    let p = null;
    try {
      p = JSON.parse(localStorage.getItem(PREFS_ITEM) || 'null');
    } catch (e) {
      p = null;
    }
    p = p && typeof p === 'object' ? p : {};
    const out = Object.assign({}, DEFAULT_PREFS, pick(p), { queues: {} });
    for (const [q, o] of Object.entries(p.queues || {})) out.queues[q] = Object.assign({}, DEFAULT_PREFS, pick(o));
    return out;
  }

  function pick(o) {
    const r = {};
    if (o && typeof o.blur === 'boolean') r.blur = o.blur;
    if (o && typeof o.grey === 'boolean') r.grey = o.grey;
    if (o && Object.prototype.hasOwnProperty.call(STRENGTHS, o.strength)) r.strength = o.strength;
    return r;
  }

  function savePrefs(p) {
    localStorage.setItem(PREFS_ITEM, JSON.stringify(p));
  }

  // The preferences in force for a queue: its override, else the browser's.
  function prefsFor(queue) {
    const p = loadPrefs();
    return p.queues[queue] || { blur: p.blur, grey: p.grey, strength: p.strength };
  }

  // ---- shared helpers ----

  function byText(by) {
    if (!by) return '—';
    if (typeof by === 'string') return by;
    return by.name || (by.id !== undefined ? 'key #' + by.id : '—');
  }

  function atText(d) {
    if (!d) return '—';
    if (d.at) return TD.fmtTime(d.at);
    if (d.decided_ms) return TD.fmtTime(d.decided_ms);
    return '—';
  }

  function labels(list) {
    if (!list || !list.length) return el('span', { class: 'muted' }, 'none');
    return el('ul', { class: 'labels' }, list.map((l) => el('li', null, l)));
  }

  function fact(dl, name, value, cls) {
    dl.append(el('dt', null, name), el('dd', { class: cls || null }, value === null || value === undefined ||
      value === '' ? '—' : value));
  }

  let reasonsCache = null;
  async function reasons() {
    if (reasonsCache) return reasonsCache;
    const res = await TD.api('GET', '/v1/settings/review-reasons');
    if (res.ok && res.json && Array.isArray(res.json.reasons)) reasonsCache = res.json.reasons;
    return reasonsCache || [];
  }

  function reasonSelect(id, list) {
    return el('select', { id, name: 'reason_code' },
      el('option', { value: '' }, 'choose a reason'),
      list.map((r) => el('option', { value: r.code }, r.label + ' (' + r.code + ')')));
  }

  function reasonLabel(code, list) {
    const r = (list || []).find((x) => x.code === code);
    return r ? r.label : code;
  }

  // ---- the content pane: facts, media, matches, uploader, earlier decisions ----

  // Object URLs of the media shown: revoked when the item changes.
  let mediaUrls = [];
  function dropMedia() {
    for (const u of mediaUrls) URL.revokeObjectURL(u);
    mediaUrls = [];
  }

  function shieldClasses(prefs) {
    const c = ['media-item'];
    if (prefs.blur) c.push('shield-blur', 'blur-' + prefs.strength);
    if (prefs.grey) c.push('shield-grey');
    return c.join(' ');
  }

  // Draws FRAMES frames of the video at url onto canvases in strip (a second, hidden video
  // element seeks; the one shown is left alone).
  function frameStrip(url, strip, label) {
    const v = document.createElement('video');
    v.muted = true;
    v.preload = 'auto';
    v.src = url;
    let i = 0, times = [];
    const next = () => {
      if (i >= times.length) {
        v.removeAttribute('src');
        v.load();
        return;
      }
      v.currentTime = times[i];
    };
    v.addEventListener('loadedmetadata', () => {
      const d = isFinite(v.duration) && v.duration > 0 ? v.duration : 0;
      times = Array.from({ length: FRAMES }, (_, k) => d * (k + 0.5) / FRAMES);
      next();
    });
    v.addEventListener('seeked', () => {
      const w = 160, h = Math.max(1, Math.round(w * (v.videoHeight || 9) / (v.videoWidth || 16)));
      const c = el('canvas', { width: w, height: h, class: 'frame', role: 'img',
        'aria-label': label + ', frame at ' + times[i].toFixed(1) + ' s' });
      try {
        c.getContext('2d').drawImage(v, 0, 0, w, h);
      } catch (e) {
        // A frame that cannot be drawn is left blank.
      }
      strip.append(el('span', { class: 'frame-box' }, c));
      i++;
      next();
    });
  }

  function revealButton(fig, what) {
    const b = el('button', { type: 'button', class: 'secondary reveal', 'aria-pressed': 'false' }, 'Reveal ' + what);
    b.addEventListener('click', () => setRevealed(fig, !fig.classList.contains('revealed')));
    return b;
  }

  function setRevealed(fig, yes) {
    fig.classList.toggle('revealed', yes);
    const b = fig.querySelector('button.reveal');
    if (b) {
      b.setAttribute('aria-pressed', yes ? 'true' : 'false');
      b.textContent = (yes ? 'Blur ' : 'Reveal ') + b.dataset.what;
    }
  }

  // One part of the content's media (part 0: the main media) into box, or a note why not.
  async function showPart(box, contentId, part, prefs, gen, isCurrent) {
    const res = await TD.api('GET', '/v1/content/' + enc(contentId) + '/media', { query: part ? { part } : null, blob: true });
    if (!isCurrent(gen)) return;
    const what = part ? 'part ' + part : 'media';
    if (!res.ok) {
      if (res.status === 403) box.append(el('p', { class: 'note' }, 'Media is shown to moderators only.'));
      else box.append(el('p', { class: 'note' }, 'No ' + what + ': ' + TD.errorText(res)));
      return;
    }
    const type = (res.headers.get('content-type') || res.blob.type || '').split(';')[0].trim();
    const url = URL.createObjectURL(res.blob);
    mediaUrls.push(url);
    const label = 'Content ' + contentId + (part ? ' part ' + part : '');
    const fig = el('figure', { class: shieldClasses(prefs), 'data-content-id': contentId, 'data-part': part, 'data-type': type });
    const cap = el('figcaption', null, type + ', ' + TD.fmtBytes(res.blob.size) + ' ');
    if (type.startsWith('image/')) {
      fig.append(el('div', { class: 'media-frame' }, el('img', { src: url, alt: label + ' (' + type + ')', class: 'media' })));
    } else if (type.startsWith('video/')) {
      const v = el('video', { src: url, controls: true, preload: 'metadata', playsinline: true, class: 'media',
        'aria-label': label + ' (' + type + ', muted)' });
      v.muted = true;
      v.defaultMuted = true;
      v.autoplay = false;
      v.addEventListener('volumechange', () => {
        // Sound stays off unless the moderator turns it on from the controls.
      });
      const strip = el('div', { class: 'frame-strip', 'aria-label': 'Frames of ' + label });
      fig.append(el('div', { class: 'media-frame' }, v), strip);
      frameStrip(url, strip, label);
    } else if (type.startsWith('text/')) {
      const text = await res.blob.text();
      if (!isCurrent(gen)) return;
      fig.className = 'media-item text-item';
      fig.append(el('pre', { class: 'defanged' }, TD.defang(text.slice(0, 20000))));
      box.append(fig);
      fig.append(cap);
      return;
    } else {
      fig.className = 'media-item';
      fig.append(el('p', { class: 'note' }, 'No preview for ' + (type || 'this type') + '.'));
      box.append(fig);
      fig.append(cap);
      return;
    }
    const b = revealButton(fig, what);
    b.dataset.what = what;
    cap.prepend(b);
    fig.prepend(cap);
    box.append(fig);
  }

  // The content's facts and media into main; its signals, uploader and earlier decisions into
  // side. opts: {queue, caseId, isCurrent(gen), gen}.
  async function renderContent(main, side, contentId, opts) {
    dropMedia();
    TD.clear(main);
    TD.clear(side);
    const res = await TD.api('GET', '/v1/content/' + enc(contentId));
    if (!opts.isCurrent(opts.gen)) return null;
    if (!res.ok) {
      main.append(el('p', { class: 'inline-error' }, 'Content ' + contentId + ': ' + TD.errorText(res)));
      return null;
    }
    const c = res.json;
    const dl = el('dl', { class: 'facts content-facts' });
    fact(dl, 'Content', el('span', { class: 'mono' }, c.content_id));
    fact(dl, 'Uploader', c.uploader ? el('span', { class: 'mono' }, TD.defang(c.uploader)) : null);
    fact(dl, 'URL', c.url ? el('span', { class: 'mono defanged' }, TD.defang(c.url)) : null);
    fact(dl, 'Time', c.time_ms ? TD.fmtTime(c.time_ms) : null);
    fact(dl, 'Received', TD.fmtTime(c.received_ms));
    fact(dl, 'Source', c.source);
    fact(dl, 'Verdict', c.verdict);
    const m = c.media || null;
    fact(dl, 'Media', m ? (m.state || (m.kept ? 'kept' : 'none')) + (m.content_type ? ', ' + m.content_type : '') +
      (m.bytes ? ', ' + TD.fmtBytes(m.bytes) : '') + (m.parts ? ', ' + m.parts + ' parts' : '') +
      (m.delete_after ? ', deleted after ' + TD.fmtTime(m.delete_after) : '') : 'not reported');
    for (const [k, v] of Object.entries(c.metadata || {})) {
      if (v === null || typeof v === 'object') continue;
      fact(dl, k, el('span', { class: 'defanged' }, TD.defang(String(v))));
    }
    const box = el('div', { class: 'media-box', 'aria-label': 'Media' });
    main.append(box, dl);
    if (!MEDIA_ROLES.includes(TD.me.role)) {
      box.append(el('p', { class: 'note' }, 'Media is shown to moderators only.'));
    } else if (m && m.kept === false && m.state === 'deleted') {
      box.append(el('p', { class: 'note' }, 'The media was deleted after the case closed' +
        (m.delete_after ? ' (' + TD.fmtTime(m.delete_after) + ')' : '') + '.'));
    } else if (m && !m.kept && m.state !== 'preserved') {
      box.append(el('p', { class: 'note' }, 'No media kept for this content (hashes only, or keeping is off).'));
    } else {
      const prefs = prefsFor(opts.queue);
      const parts = [0];
      for (let i = 1; m && i <= Math.min(m.parts || 0, 16); i++) parts.push(i);
      for (const p of parts) await showPart(box, c.content_id, p, prefs, opts.gen, opts.isCurrent);
    }

    // Beside it: the matched signals, earlier decisions on each, the uploader's other content.
    const matches = c.matches || [];
    const sig = el('section', { class: 'side-part', 'aria-labelledby': 'side-signals-' + opts.gen },
      el('h3', { id: 'side-signals-' + opts.gen }, 'Matched signals (' + matches.length + ')'));
    const earlier = el('section', { class: 'side-part', 'aria-labelledby': 'side-earlier-' + opts.gen },
      el('h3', { id: 'side-earlier-' + opts.gen }, 'Earlier decisions on these signals'));
    const others = el('section', { class: 'side-part', 'aria-labelledby': 'side-uploader-' + opts.gen },
      el('h3', { id: 'side-uploader-' + opts.gen }, 'Other content of the uploader'));
    side.append(sig, earlier, others);
    side.setAttribute('aria-busy', 'true'); // until the earlier decisions and the uploader's content are in
    if (!matches.length) sig.append(el('p', { class: 'muted' }, 'No matches.'));
    const sigList = el('ul', { class: 'signal-list' });
    sig.append(sigList);
    const earlierList = el('ul', { class: 'earlier-list' });
    earlier.append(earlierList);
    const seen = new Set();
    for (const x of matches.slice(0, 20)) {
      const li = el('li', { class: 'signal', 'data-signal-id': x.signal_id },
        el('strong', null, x.bank), ' · ', x.type, ' · signal #' + x.signal_id,
        x.distance !== undefined ? ' · distance ' + x.distance : '', x.action ? ' · ' + x.action : '',
        el('div', null, 'Labels: ', labels(x.labels)));
      const src = el('div', { class: 'signal-source' }, 'Source: …');
      li.append(src);
      sigList.append(li);
      const key = x.bank + '/' + x.signal_id;
      if (seen.has(key)) continue;
      seen.add(key);
      TD.api('GET', '/v1/banks/' + enc(x.bank) + '/signals/' + x.signal_id).then((r) => {
        src.textContent = 'Source: ' + (r.ok && r.json ? (r.json.source || r.json.added_by || '—') : TD.errorText(r));
      });
      const dr = await TD.api('GET', '/v1/banks/' + enc(x.bank) + '/signals/' + x.signal_id + '/decisions');
      if (!opts.isCurrent(opts.gen)) return c;
      if (!dr.ok) {
        earlierList.append(el('li', { class: 'muted' }, 'Signal #' + x.signal_id + ': ' + TD.errorText(dr)));
        continue;
      }
      const ds = (dr.json && dr.json.decisions) || [];
      if (!ds.length) earlierList.append(el('li', { class: 'muted' }, 'Signal #' + x.signal_id + ': none yet'));
      for (const d of ds.slice(0, 10)) {
        earlierList.append(el('li', { 'data-case-id': d.case_id },
          'Signal #' + x.signal_id + ': case #' + d.case_id + (d.case_id === opts.caseId ? ' (this case)' : '') + ' ',
          el('strong', null, d.decision), d.reason_code ? ' (' + d.reason_code + ')' : '',
          ' by ' + byText(d.by) + ', ' + atText(d)));
      }
    }
    if (!matches.length) earlierList.append(el('li', { class: 'muted' }, 'No signals matched.'));
    if (!c.uploader) {
      others.append(el('p', { class: 'muted' }, 'No uploader given.'));
    } else {
      const ur = await TD.api('GET', '/v1/content', { query: { uploader: c.uploader, limit: 20 } });
      if (!opts.isCurrent(opts.gen)) return c;
      if (!ur.ok) others.append(el('p', { class: 'muted' }, TD.errorText(ur)));
      else {
        const list = ((ur.json && ur.json.content) || []).filter((o) => o.id !== c.content_id && o.content_id !== c.content_id);
        if (!list.length) others.append(el('p', { class: 'muted' }, 'None.'));
        const ul = el('ul', { class: 'uploader-list' });
        for (const o of list) {
          const id = o.id || o.content_id;
          ul.append(el('li', { 'data-content-id': id }, el('span', { class: 'mono' }, id), ' · ',
            TD.fmtTime(o.received_at || o.received_ms), ' · ', o.source || '', ' · ',
            (o.matches || 0) + ' matches',
            o.case_id ? el('span', null, ' · ', el('a', { href: '#review/case=' + o.case_id }, 'case #' + o.case_id),
              ' ' + (o.case_state || '') + (o.decision ? ', ' + o.decision : '')) : ''));
        }
        others.append(ul);
      }
    }
    side.setAttribute('aria-busy', 'false');
    return c;
  }

  // ---- the review view ----

  const R = {
    section: null, built: false, queue: 'all', queues: [], cases: [], caseId: null, kase: null,
    timer: 0, gen: 0, reasons: [], active: false,
  };
  const $r = (cls) => R.section.querySelector('.' + cls);

  function live(text, bad) {
    const l = R.section.querySelector('#review-live');
    l.textContent = text;
    l.classList.toggle('bad', !!bad);
  }

  function canAct() {
    return TD.can('POST /v1/cases/{id}/decision');
  }

  function build(section) {
    R.section = section;
    TD.clearView(section);
    const actions = canAct();
    const bar = el('div', { class: 'review-bar' },
      el('div', { class: 'queue-picker', role: 'group', 'aria-label': 'Queues' }, el('ul', { class: 'queues' })),
      el('div', { class: 'review-tools' },
        el('button', { type: 'button', class: 'secondary', id: 'review-refresh', on: { click: () => refresh() } }, 'Refresh'),
        MEDIA_ROLES.includes(TD.me.role) ? el('button', { type: 'button', class: 'secondary', id: 'review-settings-open',
          on: { click: openSettings } }, 'Media settings') : null,
        el('button', { type: 'button', class: 'secondary', id: 'review-help-open', on: { click: openHelp } },
          'Shortcuts (?)')));
    const listPane = el('div', { class: 'pane case-list', 'aria-label': 'Cases of the queue', role: 'region', tabindex: '0' });
    const mainPane = el('div', { class: 'pane case-main', role: 'region', 'aria-label': 'The case', tabindex: '0' },
      el('div', { class: 'case-head' }), el('div', { class: 'case-actions' }), el('div', { class: 'case-content' }));
    const sidePane = el('div', { class: 'pane case-side', role: 'region', 'aria-label': 'Signals, earlier decisions, uploader',
      tabindex: '0' });
    section.append(bar,
      el('p', { id: 'review-live', class: 'live', role: 'status', 'aria-live': 'polite' }),
      el('div', { class: 'review-grid' }, listPane, mainPane, sidePane),
      settingsDialog(), helpDialog(actions));
    R.built = true;
  }

  async function refreshQueues() {
    const res = await TD.api('GET', '/v1/queues');
    if (!R.active) return;
    const ul = $r('queues');
    if (!res.ok) {
      TD.clear(ul);
      ul.append(el('li', { class: 'inline-error' }, 'Queues: ' + TD.errorText(res)));
      return;
    }
    R.queues = (res.json && res.json.queues) || [];
    if (!R.queues.some((q) => q.id === R.queue)) R.queues.push({ id: R.queue, kind: 'queue', open: 0, claimed: 0, escalated: 0 });
    TD.clear(ul);
    for (const q of R.queues) {
      const b = el('button', { type: 'button', class: 'queue', 'data-queue': q.id, 'aria-pressed': q.id === R.queue ? 'true' : 'false',
        on: { click: () => chooseQueue(q.id) } },
      el('span', { class: 'q-name' }, q.id === 'all' ? 'All cases' : q.id),
      el('span', { class: 'q-counts' },
        el('span', { class: 'q-open' }, String(q.open || 0)), ' open · ',
        el('span', { class: 'q-claimed' }, String(q.claimed || 0)), ' claimed · ',
        el('span', { class: 'q-escalated' }, String(q.escalated || 0)), ' escalated'),
      el('span', { class: 'q-age' }, q.oldest_age_s === null || q.oldest_age_s === undefined ? 'nothing waiting'
        : 'oldest ' + TD.fmtAge(q.oldest_age_s)));
      ul.append(el('li', null, b));
    }
  }

  async function refreshCases() {
    const res = await TD.api('GET', '/v1/cases', { query: { queue: R.queue === 'all' ? null : R.queue, limit: 200 } });
    if (!R.active) return;
    const pane = $r('case-list');
    TD.clear(pane);
    if (!res.ok) {
      pane.append(el('p', { class: 'inline-error' }, TD.errorText(res)));
      R.cases = [];
      return;
    }
    R.cases = ((res.json && res.json.cases) || []).filter((c) => c.state !== 'closed');
    pane.append(el('h3', { class: 'pane-title' }, (R.queue === 'all' ? 'All cases' : R.queue) + ' (' + R.cases.length + ')'));
    if (!R.cases.length) {
      pane.append(el('p', { class: 'muted', id: 'review-empty' }, 'Nothing to review in this queue.'));
      return;
    }
    const ul = el('ul', { class: 'cases' });
    for (const c of R.cases) {
      ul.append(el('li', null, el('button', { type: 'button', class: 'case-item', 'data-case-id': c.id,
        'aria-current': c.id === R.caseId ? 'true' : null, on: { click: () => openCase(c.id) } },
      el('span', { class: 'case-no' }, 'Case #' + c.id), ' ',
      el('span', { class: 'case-state state-' + c.state }, c.state), ' ',
      el('span', { class: 'case-prio' }, 'priority ' + c.priority),
      el('span', { class: 'case-cid mono' }, c.content_id))));
    }
    pane.append(ul);
  }

  function markCurrent() {
    for (const b of R.section.querySelectorAll('button.case-item')) {
      if (Number(b.dataset.caseId) === R.caseId) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  function paramsText() {
    const p = new URLSearchParams();
    if (R.queue !== 'all') p.set('queue', R.queue);
    if (R.caseId) p.set('case', String(R.caseId));
    return p.toString();
  }

  async function chooseQueue(q) {
    R.queue = q;
    for (const b of R.section.querySelectorAll('button.queue')) b.setAttribute('aria-pressed', b.dataset.queue === q ? 'true' : 'false');
    R.caseId = null;
    await refreshCases();
    TD.setParams(paramsText());
    if (R.cases.length) await openCase(R.cases[0].id);
    else clearCase('Choose a queue with cases.');
  }

  function clearCase(text) {
    R.gen++;
    dropMedia();
    R.caseId = null;
    R.kase = null;
    TD.clear($r('case-head'));
    TD.clear($r('case-actions'));
    TD.clear($r('case-content'));
    TD.clear($r('case-side'));
    $r('case-head').append(el('p', { class: 'muted' }, text));
  }

  // Shows a case: its facts, the decision bar, the content pane. Media start blurred again.
  async function openCase(id) {
    const gen = ++R.gen;
    const isCurrent = (g) => g === R.gen && R.active;
    R.caseId = id;
    markCurrent();
    TD.setParams(paramsText());
    // Nothing of the case shown before stays under the new one.
    dropMedia();
    TD.clear($r('case-content'));
    TD.clear($r('case-side'));
    const res = await TD.api('GET', '/v1/cases/' + id);
    if (!isCurrent(gen)) return;
    const head = $r('case-head');
    TD.clear(head);
    TD.clear($r('case-actions'));
    if (!res.ok) {
      head.append(el('p', { class: 'inline-error' }, 'Case #' + id + ': ' + TD.errorText(res)));
      return;
    }
    const c = res.json;
    R.kase = c;
    head.append(el('h3', { class: 'case-title', id: 'case-title', 'data-case-id': c.id, tabindex: '-1' },
      'Case #' + c.id + ' — priority ' + c.priority + ' — ' + c.state +
      (c.claimed_by ? ' by ' + byText(c.claimed_by) : '') + (c.outcome ? ' (' + c.outcome + ')' : '')),
    el('div', { class: 'case-labels' }, 'Labels: ', labels(c.labels), ' Queues: ', labels(c.queues)));
    renderActions(c);
    await renderContent($r('case-content'), $r('case-side'), c.content_id,
      { queue: R.queue, caseId: c.id, gen, isCurrent });
  }

  function renderActions(c) {
    const box = $r('case-actions');
    TD.clear(box);
    if (!canAct()) {
      box.append(el('p', { class: 'muted' }, 'Role ' + TD.me.role + ': read only.'));
      return;
    }
    const open = c.state !== 'closed';
    const sel = reasonSelect('review-reason', R.reasons);
    const note = el('textarea', { id: 'review-note', name: 'note', maxlength: '1024', rows: '1' });
    const btn = (id, text, key, fn, cls) => el('button', { type: 'button', id, class: cls || null, 'aria-keyshortcuts': key,
      disabled: !open, on: { click: fn } }, text, el('kbd', { 'aria-hidden': 'true' }, key));
    box.append(el('div', { class: 'decide-bar' },
      btn('act-claim', 'Claim ', 'c', () => act('claim')),
      btn('act-release', 'Release ', 'u', () => act('release'), 'secondary'),
      el('label', { for: 'review-reason' }, 'Reason', sel),
      el('label', { for: 'review-note' }, 'Note', note),
      btn('act-remove', 'Remove ', 'r', () => act('remove'), 'danger'),
      btn('act-keep', 'Keep ', 'k', () => act('keep')),
      btn('act-escalate', 'Escalate ', 'e', () => act('escalate'), 'secondary'),
      el('button', { type: 'button', id: 'act-prev', class: 'secondary', 'aria-keyshortcuts': 'p', on: { click: () => step(-1) } },
        'Previous ', el('kbd', { 'aria-hidden': 'true' }, 'p')),
      el('button', { type: 'button', id: 'act-next', class: 'secondary', 'aria-keyshortcuts': 'n', on: { click: () => step(1) } },
        'Next ', el('kbd', { 'aria-hidden': 'true' }, 'n'))));
  }

  async function step(d) {
    if (!R.cases.length) return;
    let i = R.cases.findIndex((c) => c.id === R.caseId);
    i = i < 0 ? 0 : (i + d + R.cases.length) % R.cases.length;
    await openCase(R.cases[i].id);
    live('Case #' + R.caseId + ' (' + (i + 1) + ' of ' + R.cases.length + ').');
  }

  // claim, release, remove, keep, escalate on the case shown; the result in the live region.
  async function act(what) {
    if (!R.kase) return;
    const id = R.kase.id;
    let res;
    if (!canAct()) {
      // A role that may not act has no buttons; a shortcut tried anyway gets the API's answer.
      const claimish = what === 'claim' || what === 'release';
      res = await TD.api('POST', '/v1/cases/' + id + '/' + (claimish ? what : 'decision'),
        { body: claimish ? null : { decision: what, reason: what } });
      return live(what + ' case #' + id + ': ' + (res.ok ? 'done' : TD.errorText(res)), !res.ok);
    }
    if (what === 'claim' || what === 'release') {
      res = await TD.api('POST', '/v1/cases/' + id + '/' + what);
      if (!res.ok) return live(what + ' case #' + id + ': ' + TD.errorText(res), true);
      live('Case #' + id + (what === 'claim' ? ' claimed.' : ' released.'));
      await refreshCases();
      await openCase(id);
      refreshQueues();
      return;
    }
    const code = R.section.querySelector('#review-reason').value;
    const note = R.section.querySelector('#review-note').value.trim();
    if (!code && what !== 'escalate') {
      R.section.querySelector('#review-reason').focus();
      return live('Choose a reason for "' + what + '" first (then press the button, or Esc and ' + what[0] + ').', true);
    }
    const body = { decision: what, reason: note || (code ? reasonLabel(code, R.reasons) : 'Escalated for a second opinion') };
    if (code) body.reason_code = code;
    res = await TD.api('POST', '/v1/cases/' + id + '/decision', { body });
    if (!res.ok) return live(what + ' case #' + id + ': ' + TD.errorText(res), true);
    const i = R.cases.findIndex((c) => c.id === id);
    await refreshCases();
    refreshQueues();
    const next = R.cases.filter((c) => c.id !== id);
    live('Case #' + id + ': ' + what + ' recorded' + (code ? ' (' + code + ')' : '') + '.' +
      (next.length ? '' : ' The queue is empty.'));
    if (next.length) {
      const n = next[Math.min(Math.max(i, 0), next.length - 1)];
      await openCase(n.id);
    } else clearCase('Nothing left in this queue.');
  }

  // ---- settings and shortcuts dialogs ----

  function settingsDialog() {
    const strength = el('select', { id: 'pref-strength', name: 'strength' },
      Object.entries(STRENGTHS).map(([k, v]) => el('option', { value: k }, k + ' (' + v + ')')));
    const scope = el('select', { id: 'pref-scope', name: 'scope' },
      el('option', { value: '' }, 'every queue (this browser)'), el('option', { value: 'queue' }, 'this queue only'));
    const form = el('form', { method: 'dialog', class: 'settings-form' },
      el('h3', { id: 'pref-title' }, 'Media settings'),
      el('p', { class: 'hint' }, 'Kept in this browser only. Media are always blurred again when another item is shown.'),
      el('label', { class: 'check', for: 'pref-blur' }, el('input', { type: 'checkbox', id: 'pref-blur', name: 'blur' }),
        ' Blur images and video until revealed'),
      el('label', { class: 'check', for: 'pref-grey' }, el('input', { type: 'checkbox', id: 'pref-grey', name: 'grey' }),
        ' Greyscale until revealed'),
      el('label', { for: 'pref-strength' }, 'Blur strength', strength),
      el('label', { for: 'pref-scope' }, 'Apply to', scope),
      el('div', { class: 'dialog-buttons' },
        el('button', { type: 'submit', value: 'save', id: 'pref-save' }, 'Save'),
        el('button', { type: 'submit', value: 'reset', id: 'pref-reset', class: 'secondary' }, 'Drop this queue\'s override'),
        el('button', { type: 'submit', value: 'cancel', id: 'pref-cancel', class: 'secondary' }, 'Cancel')));
    const d = el('dialog', { id: 'review-settings', 'aria-labelledby': 'pref-title' }, form);
    d.addEventListener('close', () => {
      const p = loadPrefs();
      if (d.returnValue === 'save') {
        const v = { blur: R.section.querySelector('#pref-blur').checked, grey: R.section.querySelector('#pref-grey').checked,
          strength: strength.value };
        if (scope.value === 'queue') p.queues[R.queue] = v;
        else Object.assign(p, v);
        savePrefs(p);
        live('Media settings saved' + (scope.value === 'queue' ? ' for queue ' + R.queue : '') + '.');
      } else if (d.returnValue === 'reset') {
        delete p.queues[R.queue];
        savePrefs(p);
        live('Queue ' + R.queue + ' follows the browser\'s media settings again.');
      }
      if (d.returnValue === 'save' || d.returnValue === 'reset') applyPrefs();
    });
    return d;
  }

  // Media shown now take the new settings, blurred again.
  function applyPrefs() {
    const prefs = prefsFor(R.queue);
    for (const fig of R.section.querySelectorAll('figure.media-item:not(.text-item)')) {
      if (!fig.querySelector('.media')) continue;
      fig.className = shieldClasses(prefs);
      setRevealed(fig, false);
    }
  }

  function openSettings() {
    const d = R.section.querySelector('#review-settings');
    const p = loadPrefs();
    const q = p.queues[R.queue];
    const cur = q || p;
    R.section.querySelector('#pref-blur').checked = cur.blur;
    R.section.querySelector('#pref-grey').checked = cur.grey;
    R.section.querySelector('#pref-strength').value = cur.strength;
    R.section.querySelector('#pref-scope').value = q ? 'queue' : '';
    R.section.querySelector('#pref-reset').hidden = !q;
    d.returnValue = '';
    d.showModal();
  }

  const SHORTCUTS = [['c', 'claim the case'], ['u', 'release the claim'], ['r', 'remove'], ['k', 'keep'],
    ['e', 'escalate'], ['n or j', 'next case'], ['p', 'previous case'], ['v', 'reveal or blur the first media item'],
    ['s', 'media settings'], ['?', 'this list'], ['Esc', 'leave a field (then the keys work again)']];

  function helpDialog(actions) {
    const list = el('dl', { class: 'facts shortcuts' });
    for (const [k, what] of SHORTCUTS) {
      if (!actions && ['c', 'u', 'r', 'k', 'e'].includes(k)) continue;
      list.append(el('dt', null, el('kbd', null, k)), el('dd', null, what));
    }
    return el('dialog', { id: 'review-help', 'aria-labelledby': 'help-title' },
      el('form', { method: 'dialog' }, el('h3', { id: 'help-title' }, 'Keyboard shortcuts'),
        el('p', { class: 'hint' }, 'Not while typing in a field. Remove and keep need a reason chosen first.'), list,
        el('button', { type: 'submit', id: 'help-close' }, 'Close')));
  }

  function openHelp() {
    R.section.querySelector('#review-help').showModal();
  }

  function firstFigure() {
    return R.section.querySelector('.case-content figure.media-item:not(.text-item)');
  }

  function onKey(ev) {
    if (!R.active || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    if (ev.key === 'Escape' && TD.isTyping(ev)) {
      ev.target.blur();
      R.section.querySelector('.case-main').focus();
      return;
    }
    if (TD.isTyping(ev)) return;
    const map = {
      c: () => act('claim'), u: () => act('release'), r: () => act('remove'),
      k: () => act('keep'), e: () => act('escalate'), n: () => step(1), j: () => step(1),
      p: () => step(-1), s: MEDIA_ROLES.includes(TD.me.role) && openSettings, '?': openHelp,
      v: () => {
        const f = firstFigure();
        if (f) setRevealed(f, !f.classList.contains('revealed'));
      },
    };
    const fn = map[ev.key];
    if (!fn) return;
    ev.preventDefault();
    fn();
  }

  async function refresh() {
    await refreshQueues();
    await refreshCases();
    if (R.caseId) await openCase(R.caseId);
  }

  async function renderReview(section, params) {
    R.active = true;
    if (!R.built || R.section !== section) build(section);
    else clearCase('Loading…');
    live('');
    R.reasons = await reasons();
    if (!R.active) return;
    const p = new URLSearchParams(params || '');
    R.queue = p.get('queue') || 'all';
    const want = Number(p.get('case')) || null;
    await refreshQueues();
    await refreshCases();
    if (!R.active) return;
    if (want) await openCase(want);
    else if (R.cases.length) await openCase(R.cases[0].id);
    else clearCase('Nothing to review in this queue.');
    clearInterval(R.timer);
    if (R.active) R.timer = setInterval(refreshQueues, QUEUE_POLL_MS);
  }

  function leaveReview() {
    R.active = false;
    clearInterval(R.timer);
    R.timer = 0;
    if (R.built) clearCase('');
  }

  document.addEventListener('keydown', onKey);
  document.addEventListener('td:signin', () => {
    R.built = false;
    reasonsCache = null;
  });
  document.addEventListener('td:signout', () => {
    leaveReview();
    leaveQa();
    R.built = false;
    Q.built = false;
  });

  TD.registerView({ id: 'review', title: 'Review', roles: READERS, order: 10, render: renderReview, leave: leaveReview });

  // ---- QA: a second reviewer decides again, blind to the first decision ----

  const Q = { section: null, built: false, state: 'pending', items: [], item: null, gen: 0, active: false };
  const $q = (cls) => Q.section.querySelector('.' + cls);

  function qLive(text, bad) {
    const l = Q.section.querySelector('#qa-live');
    l.textContent = text;
    l.classList.toggle('bad', !!bad);
  }

  function buildQa(section) {
    Q.section = section;
    TD.clearView(section);
    const tab = (state, text) => el('button', { type: 'button', role: 'tab', class: 'tab', id: 'qa-tab-' + state,
      'data-state': state, 'aria-selected': state === Q.state ? 'true' : 'false', 'aria-controls': 'qa-panel',
      on: { click: () => chooseQaState(state) } }, text);
    section.append(
      el('p', { class: 'hint' }, 'A sampled share of decisions is reviewed again by a second reviewer, who does not see the ' +
        'first decision until deciding. A QA review never changes the case\'s decision; disagreements are listed here.'),
      el('div', { role: 'tablist', 'aria-label': 'QA reviews', class: 'tabs' },
        tab('pending', 'Pending'), tab('disagreed', 'Disagreements'), tab('agreed', 'Agreed')),
      el('p', { id: 'qa-live', class: 'live', role: 'status', 'aria-live': 'polite' }),
      el('div', { id: 'qa-panel', role: 'tabpanel', class: 'review-grid qa-grid', 'aria-label': 'QA reviews' },
        el('div', { class: 'pane qa-list', role: 'region', 'aria-label': 'QA reviews', tabindex: '0' }),
        el('div', { class: 'pane qa-main', role: 'region', 'aria-label': 'The QA review', tabindex: '0' },
          el('div', { class: 'qa-head' }), el('div', { class: 'qa-decide' }), el('div', { class: 'qa-content' })),
        el('div', { class: 'pane qa-side', role: 'region', 'aria-label': 'Signals, earlier decisions, uploader', tabindex: '0' })));
    Q.built = true;
  }

  async function chooseQaState(state) {
    Q.state = state;
    for (const b of Q.section.querySelectorAll('button.tab')) b.setAttribute('aria-selected', b.dataset.state === state ? 'true' : 'false');
    TD.setParams(state === 'pending' ? '' : 'state=' + state);
    await loadQa();
  }

  function decisionText(d) {
    if (!d) return '—';
    return d.decision + (d.reason_code ? ' (' + d.reason_code + ')' : '') + (d.reason ? ': ' + d.reason : '') +
      ' — ' + byText(d.by) + ', ' + atText(d);
  }

  async function loadQa() {
    const res = await TD.api('GET', '/v1/qa', { query: { state: Q.state, limit: 100 } });
    if (!Q.active) return;
    const pane = $q('qa-list');
    TD.clear(pane);
    Q.item = null;
    Q.gen++;
    dropMedia();
    for (const c of ['qa-head', 'qa-decide', 'qa-content', 'qa-side']) TD.clear($q(c));
    if (!res.ok) {
      pane.append(el('p', { class: 'inline-error' }, TD.errorText(res)));
      return;
    }
    Q.items = (res.json && res.json.qa) || [];
    if (!Q.items.length) {
      pane.append(el('p', { class: 'muted', id: 'qa-empty' }, 'No ' + (Q.state === 'disagreed' ? 'disagreements' : Q.state +
        ' QA reviews') + '.'));
      return;
    }
    const ul = el('ul', { class: 'cases' });
    for (const q of Q.items) {
      ul.append(el('li', null, el('button', { type: 'button', class: 'case-item qa-item', 'data-qa-id': q.id,
        on: { click: () => openQa(q.id) } },
      el('span', { class: 'case-no' }, 'QA #' + q.id), ' ', el('span', { class: 'case-state' }, q.state), ' ',
      el('span', null, 'case #' + q.case_id), el('span', { class: 'case-cid mono' }, q.content_id),
      q.state === 'disagreed' ? el('span', { class: 'disagree' }, q.first.decision + ' vs ' + q.second.decision) : '')));
    }
    pane.append(ul);
    await openQa(Q.items[0].id);
  }

  async function openQa(id, fresh) {
    const q = fresh || Q.items.find((x) => x.id === id);
    if (!q) return;
    const gen = ++Q.gen;
    const isCurrent = (g) => g === Q.gen && Q.active;
    Q.item = q;
    for (const b of Q.section.querySelectorAll('button.qa-item')) {
      if (Number(b.dataset.qaId) === q.id) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    const head = $q('qa-head');
    TD.clear(head);
    const dl = el('dl', { class: 'facts qa-facts' });
    fact(dl, 'QA review', '#' + q.id + ' (' + q.state + ')');
    fact(dl, 'Case', el('a', { href: '#review/case=' + q.case_id }, 'case #' + q.case_id));
    fact(dl, 'Opened', TD.fmtTime(q.created_at));
    const hidden = q.state === 'pending' || !q.second;
    fact(dl, 'First decision', hidden ? el('span', { class: 'muted qa-first-hidden' }, 'hidden until the second reviewer decides')
      : el('span', { class: 'qa-first' }, decisionText(q.first)));
    fact(dl, 'Second decision', q.second ? el('span', { class: 'qa-second' }, decisionText(q.second)) : 'not yet');
    if (q.state === 'disagreed') fact(dl, 'Outcome', el('strong', { class: 'disagree' }, 'The reviewers disagree'));
    else if (q.state === 'agreed') fact(dl, 'Outcome', 'The reviewers agree');
    head.append(el('h3', { id: 'qa-title', tabindex: '-1' }, 'QA #' + q.id + ' — content ' + q.content_id), dl);
    const box = $q('qa-decide');
    TD.clear(box);
    if (q.state === 'pending' && TD.can('POST /v1/qa/{id}/decision')) {
      const sel = reasonSelect('qa-reason', R.reasons.length ? R.reasons : await reasons());
      const note = el('textarea', { id: 'qa-note', name: 'note', maxlength: '1024', rows: '2' });
      const decide = async (what) => {
        if (!sel.value) {
          sel.focus();
          return qLive('Choose a reason for "' + what + '" first.', true);
        }
        const body = { decision: what };
        if (sel.value) body.reason_code = sel.value;
        const n = note.value.trim() || (sel.value ? reasonLabel(sel.value, reasonsCache) : '');
        if (n) body.reason = n;
        const res = await TD.api('POST', '/v1/qa/' + q.id + '/decision', { body });
        if (!res.ok) return qLive('QA #' + q.id + ': ' + TD.errorText(res), true);
        qLive('QA #' + q.id + ': ' + what + ' recorded; the reviewers ' + (res.json.state === 'disagreed' ? 'disagree' : 'agree') + '.');
        const i = Q.items.findIndex((x) => x.id === q.id);
        if (i >= 0) Q.items[i] = res.json;
        await openQa(q.id, res.json);
      };
      box.append(el('div', { class: 'decide-bar' },
        el('label', { for: 'qa-reason' }, 'Reason', sel), el('label', { for: 'qa-note' }, 'Note', note),
        el('button', { type: 'button', id: 'qa-remove', class: 'danger', on: { click: () => decide('remove') } }, 'Remove'),
        el('button', { type: 'button', id: 'qa-keep', on: { click: () => decide('keep') } }, 'Keep')));
    }
    if (fresh && gen !== Q.gen) return;
    await renderContent($q('qa-content'), $q('qa-side'), q.content_id, { queue: 'qa', caseId: q.case_id, gen, isCurrent });
  }

  async function renderQa(section, params) {
    Q.active = true;
    if (!Q.built || Q.section !== section) buildQa(section);
    if (!R.reasons.length) R.reasons = await reasons();
    const p = new URLSearchParams(params || '');
    Q.state = ['pending', 'disagreed', 'agreed'].includes(p.get('state')) ? p.get('state') : 'pending';
    for (const b of Q.section.querySelectorAll('button.tab')) b.setAttribute('aria-selected', b.dataset.state === Q.state ? 'true' : 'false');
    await loadQa();
  }

  function leaveQa() {
    Q.active = false;
    Q.gen++;
    dropMedia();
    if (Q.built) for (const c of ['qa-content', 'qa-side']) TD.clear($q(c));
  }

  TD.registerView({ id: 'qa', title: 'QA', roles: READERS, order: 11, render: renderQa, leave: leaveQa });
})();
