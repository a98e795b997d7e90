#!/usr/bin/env node
// Browser test of the console's shell and review views (docs/console.md): the real
// `takedown serve` (tests/browser/harness.js), data set up through the API, Debian's Chromium
// driving the console; every result checked through the API.
//
// Usage: node review_test.js PATH/TO/takedown [--chromium /usr/bin/chromium]
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const H = require('./harness.js');
const { ok, assert, call, must } = H;

// The conformance files (Makefile: CONFORMANCE), beside the checkout by default.
const CONFORMANCE = process.env.TD_CONFORMANCE || path.join(H.ROOT, '..', 'shared', 'conformance');
const IMAGE = path.join(CONFORMANCE, 'threatexchange', 'pdq', 'data', 'reg-test-input', 'dih', 'bridge-1-original.jpg');
const VIDEO = path.join(CONFORMANCE, 'threatexchange', 'tmk', 'sample-videos', 'chair-19-sd-bar.mp4');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const BANK = 'REVIEW_SHA';

const FILES = [['/', 'text/html'], ['/console/console.css', 'text/css'],
  ['/console/console.js', 'text/javascript'], ['/console/review.js', 'text/javascript'],
  ['/console/charts.js', 'text/javascript'], ['/console/team.js', 'text/javascript']];

// The static files: no key, strict CSP, nosniff, types; unknown files 404.
async function staticFiles() {
  for (const [p, type] of FILES) {
    const r = await call('GET', p);
    assert(r.status === 200, 'GET ' + p + ' answers 200 without a key (' + r.status + ')');
    assert((r.headers.get('content-type') || '').startsWith(type), p + ' is ' + type);
    const csp = r.headers.get('content-security-policy') || '';
    assert(/default-src 'self'/.test(csp) && /script-src 'self';/.test(csp), p + ' has the CSP: ' + csp);
    assert(!/unsafe-inline|unsafe-eval/.test(csp), 'no unsafe-inline or unsafe-eval: ' + csp);
    assert(/img-src 'self' blob:/.test(csp) && /media-src blob:/.test(csp), 'blob: for images and video only: ' + csp);
    assert(!/(default|script|style|connect)-src[^;]*blob:/.test(csp), 'blob: nowhere else: ' + csp);
    assert(r.headers.get('x-content-type-options') === 'nosniff', p + ' has nosniff');
  }
  assert((await call('GET', '/console/nope.js')).status === 404, 'an unknown console file is 404');
  ok('console files (' + FILES.length + ') served without a key, with the strict CSP and nosniff; unknown file 404');
}

// The accessibility checks that need no library: every form control has a label (a <label for>,
// a wrapping label, aria-label or aria-labelledby), ids are unique, every button has a name.
async function a11y(page, where) {
  const bad = await page.evaluate(() => {
    const out = [];
    const seen = new Map();
    for (const e of document.querySelectorAll('[id]')) seen.set(e.id, (seen.get(e.id) || 0) + 1);
    for (const [id, n] of seen) if (n > 1) out.push('duplicate id ' + id);
    const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    for (const e of document.querySelectorAll('input, select, textarea')) {
      if (e.type === 'hidden' || !visible(e)) continue;
      const named = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
        (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.closest('label');
      if (!named) out.push('unlabelled ' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
    }
    for (const b of document.querySelectorAll('button, a[href]')) {
      if (!visible(b)) continue;
      if (!(b.textContent.trim() || b.getAttribute('aria-label'))) out.push('a button or link without a name');
    }
    return out;
  });
  assert(bad.length === 0, where + ': ' + bad.join('; '));
}

// Nav links shown to a role.
async function navOf(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#nav-list li:not([hidden]) a'))
    .map((a) => a.dataset.view));
}

async function shell(t) {
  const page = await H.page(t.browser);
  assert((await page.title()) === 'takedown console', 'the page title');
  ok('Chromium loaded the console');
  await contrastAndFocus(page, 'the sign-in page');

  // A wrong key shows the API's error in plain words; nothing is kept.
  const wrong = 'tdk_' + '0'.repeat(64);
  const expected = (await call('GET', '/v1/me', wrong)).json.error.message;
  await page.fill('#key', wrong);
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector('#message:not([hidden])');
  const msg = await page.textContent('#message');
  assert(msg.includes(expected) && msg.includes('401'), 'the error shows the API message "' + expected + '": ' + msg);
  assert(await page.isVisible('#signin-form'), 'the sign-in form is back after a wrong key');
  assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'a wrong key is not kept');
  ok('a wrong key shows the API\'s error: "' + msg.trim() + '"');

  // Keys of each role; the nav each one is offered, against the views' roles.
  const keys = {};
  for (const role of ['moderator', 'auditor', 'legal', 'custodian', 'authority', 'platform'])
    keys[role] = await H.key(role, 'browser-' + role);
  keys.admin = { key: t.admin };
  const navs = {};
  for (const role of ['admin', 'moderator', 'auditor', 'legal', 'custodian']) {
    await H.signIn(page, keys[role].key);
    const me = await must(200, 'GET', '/v1/me', keys[role].key);
    assert(me.role === role, 'API: GET /v1/me says ' + role + ': ' + JSON.stringify(me));
    const who = await page.textContent('#who');
    assert(who.includes(role), 'the header names the role ' + role + ': ' + who);
    navs[role] = await navOf(page);
    assert(!page.url().includes(keys[role].key), 'the key is not in the URL');
    assert((await page.evaluate(() => localStorage.getItem('takedown.key'))) === null, 'the key is not in localStorage');
  }
  for (const role of ['admin', 'moderator', 'auditor']) {
    assert(navs[role].includes('review') && navs[role].includes('qa'), role + ' is offered review and QA: ' + navs[role]);
  }
  for (const role of ['legal', 'custodian']) {
    assert(!navs[role].includes('review') && !navs[role].includes('qa'), role + ' is not offered review: ' + navs[role]);
  }
  ok('nav per role: ' + Object.entries(navs).map(([r, n]) => r + ' [' + n.join(', ') + ']').join('; '));

  // Authority and platform keys: the console refuses them.
  for (const role of ['authority']) {
    await page.click('#signout');
    await page.fill('#key', keys[role].key);
    await page.press('#key', 'Enter');
    await page.waitForSelector('#message:not([hidden])');
    const said = await page.textContent('#message');
    assert(/authority key cannot use it/.test(said), 'an authority key is refused: ' + said);
    assert(await page.isVisible('#signin-form'), 'the sign-in form stays');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'the refused key is not kept');
  }
  ok('an authority key is refused at sign-in: "This console is for the platform\'s team; an authority key cannot use it."');

  // Sign-out forgets the key; the page starts signed out again after a reload.
  await H.signIn(page, t.admin);
  await page.click('#signout');
  assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'sign out forgets the key');
  assert(await page.isHidden('#nav'), 'no nav when signed out');
  ok('sign out forgets the key and hides the views');

  await a11y(page, 'the sign-in page');
  const probs = H.pageProblems(page).filter((p) => !/401|403/.test(p));
  assert(probs.length === 0, 'no script error or CSP violation: ' + probs.join('; '));
  ok('sign-in page: every control labelled, unique ids; no script error or CSP violation');
  await page.context().close();
  return keys;
}


// ---- data through the API ----

// A review bank whose SHA-256 signals are the image and the video; contents uploaded with their
// bytes (the service keeps a review copy): image copies and one video, uploader u-77.
async function setUp(A) {
  const image = fs.readFileSync(IMAGE), video = fs.readFileSync(VIDEO);
  await must(201, 'POST', '/v1/banks', A, { name: BANK, labels: ['entity:group-a'], action: 'review' });
  const imgSig = await must(201, 'POST', '/v1/banks/' + BANK + '/signals', A,
    { type: 'sha256', value: sha256(image), labels: ['behaviour:glorification'], source: 'browser-test' });
  const vidSig = await must(201, 'POST', '/v1/banks/' + BANK + '/signals', A,
    { type: 'sha256', value: sha256(video), labels: ['behaviour:instruction'], source: 'browser-test' });
  const upload = async (id, bytes, type, url) => {
    const q = '?content_id=' + encodeURIComponent(id) + '&uploader=u-77' + (url ? '&url=' + encodeURIComponent(url) : '');
    const c = await must(201, 'POST', '/v1/content' + q, A, bytes, { 'Content-Type': type });
    assert(c.case && c.case.id, id + ' opened a case: ' + JSON.stringify(c).slice(0, 300));
    return c.case.id;
  };
  const cases = {};
  for (let i = 1; i <= 4; i++) cases['img' + i] = await upload('post/img-' + i, image, 'image/jpeg', 'https://bad.example.com/p/' + i);
  cases.vid = await upload('post/vid-1', video, 'video/mp4');
  ok('API setup: bank ' + BANK + ' (review) with SHA-256 signals #' + imgSig.id + ' (image) and #' + vidSig.id +
    ' (video); 4 image contents and 1 video uploaded with their bytes, cases ' + Object.values(cases).join(', '));
  return { image, video, imgSig, vidSig, cases };
}

// ---- helpers on the page ----

async function caseShown(page) {
  return page.evaluate(() => {
    const t = document.querySelector('#view-review .case-title');
    return t ? Number(t.dataset.caseId) : null;
  });
}

async function waitCase(page, id) {
  await page.waitForFunction((want) => {
    const t = document.querySelector('#view-review .case-title');
    return t && Number(t.dataset.caseId) === want;
  }, id);
}

async function liveText(page, sel) {
  return (await page.textContent(sel || '#review-live')).trim();
}

// Waits until the live region says something matching re; returns it.
async function waitLive(page, re, sel) {
  try {
    await page.waitForFunction(([src, s]) => new RegExp(src).test(document.querySelector(s).textContent),
      [re.source, sel || '#review-live']);
  } catch (e) {
    throw new Error('the live region ' + (sel || '#review-live') + ' never matched ' + re + ': "' +
      await liveText(page, sel) + '"');
  }
  return liveText(page, sel);
}

// The computed filter of the first media element (image or video) in the pane.
async function mediaFilter(page, scope) {
  return page.evaluate((sc) => {
    const m = document.querySelector(sc + ' figure.media-item .media');
    return m ? getComputedStyle(m).filter : null;
  }, scope || '#view-review .case-content');
}

// Presses a shortcut with the focus outside any field.
async function key(page, k) {
  await page.evaluate(() => {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  });
  await page.keyboard.press(k);
}

// Waits until the pane beside the case has everything it fetches (for screenshots).
async function settled(page, scope) {
  await page.waitForFunction((sc) => {
    const side = document.querySelector(sc);
    return side && side.querySelector('.uploader-list, .side-part p') &&
      !Array.from(side.querySelectorAll('.signal-source')).some((e) => /…/.test(e.textContent));
  }, scope || '#view-review .case-side');
}

async function noScroll(page, where) {
  const [h, inner] = await page.evaluate(() => [document.documentElement.scrollHeight, innerHeight]);
  assert(h <= inner, where + ': the page does not scroll at 1280x800 (' + h + ' > ' + inner + ')');
}

// ---- the review view ----

async function queues(page, M) {
  const api = (await must(200, 'GET', '/v1/queues', M)).queues;
  await page.waitForSelector('#view-review button.queue[data-queue="all"]');
  const shown = await page.evaluate(() => Array.from(document.querySelectorAll('#view-review button.queue')).map((b) => ({
    id: b.dataset.queue, open: Number(b.querySelector('.q-open').textContent),
    claimed: Number(b.querySelector('.q-claimed').textContent),
    escalated: Number(b.querySelector('.q-escalated').textContent), age: b.querySelector('.q-age').textContent })));
  for (const q of api) {
    const s = shown.find((x) => x.id === q.id);
    assert(s, 'queue ' + q.id + ' is shown: ' + JSON.stringify(shown));
    assert(s.open === q.open && s.claimed === q.claimed && s.escalated === q.escalated,
      'queue ' + q.id + ' counts as the API: ' + JSON.stringify(s) + ' vs ' + JSON.stringify(q));
    assert(q.oldest_age_s === null ? /nothing/.test(s.age) : /^oldest \d/.test(s.age), 'queue ' + q.id + ' shows the oldest age: ' + s.age);
  }
  assert(shown.length === api.length, 'no queue beyond the API\'s: ' + shown.length + ' vs ' + api.length);
  ok('queues as GET /v1/queues: ' + api.map((q) => q.id + ' ' + q.open + '/' + q.claimed + '/' + q.escalated).join(', '));

  // Choosing the bank's queue lists GET /v1/cases?queue=bank:...
  const qid = 'bank:' + BANK;
  await page.click('#view-review button.queue[data-queue="' + qid + '"]');
  await page.waitForFunction((q) => document.querySelector('#view-review button.queue[data-queue="' + q + '"]')
    .getAttribute('aria-pressed') === 'true', qid);
  const want = (await must(200, 'GET', '/v1/cases?queue=' + encodeURIComponent(qid) + '&limit=200', M)).cases
    .filter((c) => c.state !== 'closed').map((c) => c.id);
  await page.waitForFunction(([q, n]) => {
    const t = document.querySelector('#view-review .case-list .pane-title');
    return t && t.textContent === q + ' (' + n + ')' && location.hash.includes('queue=');
  }, [qid, want.length]);
  const got = await page.evaluate(() => Array.from(document.querySelectorAll('#view-review button.case-item'))
    .map((b) => Number(b.dataset.caseId)));
  assert(JSON.stringify(got) === JSON.stringify(want), 'the queue lists the API\'s cases in its order: ' + got + ' vs ' + want);
  assert(page.url().includes('queue=bank%3A' + BANK), 'the address names the queue: ' + page.url());
  ok('queue ' + qid + ' chosen: cases ' + got.join(', ') + ' as GET /v1/cases?queue=' + qid);
  return want;
}

async function casePane(page, M, d) {
  await waitCase(page, (await caseShown(page)) || 0).catch(() => {});
  const id = await caseShown(page);
  const kase = await must(200, 'GET', '/v1/cases/' + id, M);
  const content = await must(200, 'GET', '/v1/content/' + encodeURIComponent(kase.content_id), M);
  await page.waitForSelector('#view-review .signal-list li');
  await page.waitForFunction(() => !/…/.test(document.querySelector('#view-review .signal-source').textContent));
  const facts = await page.textContent('#view-review .content-facts');
  assert(facts.includes(kase.content_id) && facts.includes('u-77'), 'the pane shows the content id and uploader: ' + facts);
  if (content.url) {
    assert(facts.includes('hxxps://bad[.]example[.]com'), 'the URL is shown defanged: ' + facts);
    assert(!facts.includes('https://bad.example.com'), 'and never as written');
    assert(await page.locator('#view-review .content-facts a').count() === 0, 'no link in the facts');
  }
  const side = await page.textContent('#view-review .case-side');
  const m = content.matches[0];
  for (const want of [m.bank, 'signal #' + m.signal_id, 'distance ' + m.distance, 'browser-test', ...m.labels])
    assert(side.includes(want), 'beside the case: ' + want + ' (' + side + ')');
  ok('case #' + id + ': content ' + kase.content_id + ', uploader, URL defanged; beside it signal #' + m.signal_id + ' of ' +
    m.bank + ' with labels, source and distance');
  return id;
}

// The shortcuts: c claim, r remove (with a reason), k keep, e escalate, n/p; each through the API.
async function shortcuts(page, M, mName) {
  let id = await caseShown(page);
  await key(page, 'c');
  await waitLive(page, /claimed/);
  let k = await must(200, 'GET', '/v1/cases/' + id, M);
  assert(k.state === 'claimed' && k.claimed_by && k.claimed_by.name === mName, 'API: claimed by ' + mName + ': ' + JSON.stringify(k));
  ok('"c" claimed case #' + id + ' (API: claimed by ' + mName + '); the live region: "' + await liveText(page) + '"');

  // Typing in the note never triggers a shortcut.
  await page.fill('#review-note', '');
  await page.type('#review-note', 'rke');
  k = await must(200, 'GET', '/v1/cases/' + id, M);
  assert(k.state === 'claimed', 'typing "rke" in the note decided nothing: ' + k.state);
  await page.fill('#review-note', '');
  ok('typing r, k, e in the note field leaves case #' + id + ' as it was (API: ' + k.state + ')');

  // Remove without a reason: refused in the page; with one: recorded with its code.
  await key(page, 'r');
  await waitLive(page, /Choose a reason/);
  assert((await must(200, 'GET', '/v1/cases/' + id, M)).state === 'claimed', 'no decision without a reason');
  await page.selectOption('#review-reason', 'incitement');
  await page.press('#review-reason', 'Escape');
  await page.keyboard.press('r');
  await waitLive(page, new RegExp('Case #' + id + ': remove recorded'));
  k = await must(200, 'GET', '/v1/cases/' + id, M);
  const dr = (k.decisions || []).find((x) => x.decision === 'remove');
  assert(k.state === 'closed' && k.outcome === 'remove', 'API: case closed with remove: ' + JSON.stringify(k));
  assert(dr && dr.reason_code === 'incitement', 'API: the reason code chosen is recorded: ' + JSON.stringify(dr));
  ok('"r" with reason incitement chosen: API case #' + id + ' closed, outcome remove, reason_code incitement');
  const removed = id;

  // The next case is shown; keep with a reason.
  await page.waitForFunction((old) => {
    const t = document.querySelector('#view-review .case-title');
    return t && Number(t.dataset.caseId) !== old;
  }, id);
  id = await caseShown(page);
  await page.selectOption('#review-reason', 'not_terrorist_content');
  await page.press('#review-reason', 'Escape');
  await page.keyboard.press('k');
  await waitLive(page, new RegExp('Case #' + id + ': keep recorded'));
  k = await must(200, 'GET', '/v1/cases/' + id, M);
  const dk = (k.decisions || []).find((x) => x.decision === 'keep');
  assert(k.outcome === 'keep' && dk && dk.reason_code === 'not_terrorist_content', 'API: keep with its code: ' + JSON.stringify(k));
  ok('"k" with not_terrorist_content: API case #' + id + ' outcome keep, reason_code not_terrorist_content');

  await page.waitForFunction((old) => {
    const t = document.querySelector('#view-review .case-title');
    return t && Number(t.dataset.caseId) !== old;
  }, id);
  id = await caseShown(page);
  await key(page, 'e');
  await waitLive(page, new RegExp('Case #' + id + ': escalate recorded'));
  k = await must(200, 'GET', '/v1/cases/' + id, M);
  assert(k.state === 'escalated', 'API: escalated: ' + JSON.stringify(k));
  ok('"e": API case #' + id + ' escalated');
  await page.waitForFunction((old) => {
    const t = document.querySelector('#view-review .case-title');
    return t && Number(t.dataset.caseId) !== old;
  }, id);

  // n and p move through the queue.
  const list = await page.evaluate(() => Array.from(document.querySelectorAll('#view-review button.case-item'))
    .map((b) => Number(b.dataset.caseId)));
  const at = await caseShown(page);
  await key(page, 'n');
  const want = list[(list.indexOf(at) + 1) % list.length];
  await waitCase(page, want);
  await key(page, 'p');
  await waitCase(page, at);
  await key(page, 'j');
  await waitCase(page, want);
  ok('"n"/"j" show the next case (#' + want + '), "p" the previous (#' + at + ')');

  await key(page, '?');
  await page.waitForSelector('#review-help[open]');
  const help = await page.textContent('#review-help');
  for (const want2 of ['claim', 'remove', 'keep', 'escalate', 'next case', 'previous case']) assert(help.includes(want2), 'the help names ' + want2);
  await page.keyboard.press('Escape');
  await page.waitForSelector('#review-help:not([open])', { state: 'attached' });
  ok('"?" lists the shortcuts; Escape closes the list');
  return removed;
}

// The image: blurred and greyscale until revealed, the bytes those uploaded, blurred again after
// Next; the video: muted, paused, controls, a frame strip, blurred.
async function media(page, M, d) {
  const AU = (await H.key('auditor', 'browser-auditor-media')).key;
  const denied = await call('GET', '/v1/content/post%2Fimg-3/media', AU);
  assert(denied.status === 403, 'API: GET media is 403 for an auditor: ' + denied.status + ' ' + denied.text);
  ok('API: GET /v1/content/{id}/media answers 403 to an auditor');
  await page.goto(H.base + '/#review/case=' + d.cases.img4);
  await waitCase(page, d.cases.img4);
  await page.waitForSelector('#view-review .case-content figure.media-item[data-content-id="post/img-4"] img');
  assert(await mediaFilter(page) === 'blur(16px) grayscale(1)', 'the image is blurred and greyscale: ' + await mediaFilter(page));
  // The bytes behind the image are the uploaded file's, as the API serves them. The console's
  // CSP lets no script fetch a blob: URL (connect-src 'self'), so this is read in a second page
  // whose CSP is bypassed for the test's own script.
  const peek = await H.page(page.context().browser(), 1280, 800, { bypassCSP: true });
  await H.signIn(peek, M);
  await peek.goto(H.base + '/#review/case=' + d.cases.img4);
  await peek.waitForSelector('#view-review .case-content figure.media-item[data-content-id="post/img-4"] img');
  const shown = await peek.evaluate(async () => {
    const img = document.querySelector('#view-review .case-content figure.media-item img');
    const b = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', b));
    return { src: img.src, sha: Array.from(h).map((x) => x.toString(16).padStart(2, '0')).join('') };
  });
  await peek.context().close();
  const served = await call('GET', '/v1/content/post%2Fimg-4/media', M);
  assert(served.status === 200 && (served.headers.get('content-type') || '').startsWith('image/jpeg'),
    'API: GET media answers the image: ' + served.status + ' ' + served.headers.get('content-type'));
  assert(shown.src.startsWith('blob:'), 'the image comes from a blob: URL: ' + shown.src);
  assert(shown.sha === sha256(d.image) && sha256(served.bytes) === sha256(d.image),
    'the bytes shown are the uploaded file (' + shown.sha + ' vs ' + sha256(d.image) + ')');
  ok('image of case #' + d.cases.img4 + ' blurred and greyscale (filter ' + await mediaFilter(page) + '); its bytes are the file ' +
    'uploaded (SHA-256 ' + shown.sha.slice(0, 16) + '..., as GET /v1/content/{id}/media serves them)');
  await settled(page);
  await H.screenshot(page, 'review', true);

  await page.click('#view-review .case-content button.reveal');
  assert(await mediaFilter(page) === 'none', 'revealed: ' + await mediaFilter(page));
  assert((await page.getAttribute('#view-review .case-content button.reveal', 'aria-pressed')) === 'true', 'the button says revealed');
  ok('"Reveal media" shows the image as it is (filter none)');
  await key(page, 'v');
  assert(await mediaFilter(page) === 'blur(16px) grayscale(1)', '"v" blurs it again');
  await key(page, 'v');
  assert(await mediaFilter(page) === 'none', '"v" reveals it');
  ok('"v" blurs and reveals from the keyboard');

  await key(page, 'n');
  await page.waitForFunction((old) => {
    const t = document.querySelector('#view-review .case-title');
    return t && Number(t.dataset.caseId) !== old;
  }, d.cases.img4);
  await key(page, 'p');
  await waitCase(page, d.cases.img4);
  await page.waitForSelector('#view-review .case-content figure.media-item[data-content-id="post/img-4"] img');
  assert(await mediaFilter(page) === 'blur(16px) grayscale(1)', 'blurred again after Next and back: ' + await mediaFilter(page));
  ok('after Next and back the image is blurred again');

  // The video.
  await page.goto(H.base + '/#review/case=' + d.cases.vid);
  await waitCase(page, d.cases.vid);
  await page.waitForSelector('#view-review .case-content figure.media-item[data-content-id="post/vid-1"] video');
  await page.waitForSelector('#view-review .frame-strip canvas');
  const v = await page.evaluate(() => {
    const e = document.querySelector('#view-review .case-content figure.media-item video');
    const c = document.querySelector('#view-review .frame-strip canvas');
    return { muted: e.muted, paused: e.paused, autoplay: e.autoplay, controls: e.controls,
      filter: getComputedStyle(e).filter, frame: getComputedStyle(c).filter };
  });
  assert(v.muted && v.paused && !v.autoplay && v.controls, 'the video is muted, paused, with controls: ' + JSON.stringify(v));
  assert(v.filter === 'blur(16px) grayscale(1)' && v.frame === 'blur(16px) grayscale(1)', 'video and frames blurred: ' + JSON.stringify(v));
  await page.waitForFunction(() => document.querySelectorAll('#view-review .frame-strip canvas').length >= 4);
  ok('the video: muted, paused, no autoplay, controls; it and its frame strip (4 frames) blurred and greyscale');
  await settled(page);
  await H.screenshot(page, 'review-video', true);

  // Media settings: greyscale off for this queue only, kept in localStorage; back to default.
  await page.focus('#review-settings-open');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#review-settings[open]');
  await H.screenshot(page, 'review-settings', true);
  // The dialog keeps the focus while open (modal: the page behind is inert; Tab stays inside);
  // Escape closes it and gives the focus back.
  assert(await page.evaluate(() => document.querySelector('#review-settings').matches(':modal')), 'the settings dialog is modal');
  await contrastAndFocus(page, 'the media settings dialog');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#review-settings:not([open])', { state: 'attached' });
  const back = await page.evaluate(() => document.activeElement && document.activeElement.id);
  assert(back === 'review-settings-open', 'Escape closes the dialog and the focus returns to its opener: ' + back);
  ok('media settings dialog: Escape closes it and the focus returns to "Media settings"');
  await page.click('#review-settings-open');
  await page.waitForSelector('#review-settings[open]');
  await page.uncheck('#pref-grey');
  await page.selectOption('#pref-strength', 'strong');
  await page.click('#pref-save');
  await page.waitForFunction(() => /strong/.test(localStorage.getItem('takedown.review.prefs') || ''));
  assert(await mediaFilter(page) === 'blur(32px)', 'settings apply at once: ' + await mediaFilter(page));
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('takedown.review.prefs')));
  assert(stored && stored.grey === false && stored.strength === 'strong', 'kept in localStorage: ' + JSON.stringify(stored));
  await page.click('#review-settings-open');
  await page.check('#pref-grey');
  await page.selectOption('#pref-strength', 'medium');
  await page.selectOption('#pref-scope', 'queue');
  await page.click('#pref-save');
  await page.waitForFunction(() => /"queues":\{"all"/.test(localStorage.getItem('takedown.review.prefs') || ''));
  const stored2 = await page.evaluate(() => JSON.parse(localStorage.getItem('takedown.review.prefs')));
  assert(stored2.queues && stored2.queues.all && stored2.queues.all.grey === true, 'a per-queue override: ' + JSON.stringify(stored2));
  assert(await mediaFilter(page) === 'blur(16px) grayscale(1)', 'the queue override applies: ' + await mediaFilter(page));
  ok('media settings: greyscale off and strong blur saved (filter blur(32px)), then a per-queue override (' +
    JSON.stringify(stored2.queues.all) + ') in localStorage ' + '"takedown.review.prefs"');
  await page.evaluate(() => localStorage.removeItem('takedown.review.prefs'));
}

async function qa(t, d, keys, removedCase) {
  const M1 = keys.moderator.key, M2 = keys.moderator2.key;
  const pending = (await must(200, 'GET', '/v1/qa?state=pending', M2)).qa;
  const item = pending.find((q) => q.case_id === removedCase);
  assert(item && item.first.decision === 'remove', 'API: the remove decision opened a QA review (share 1): ' + JSON.stringify(pending));

  // The first reviewer may not review their own decision: the API's 409 is shown.
  const page1 = await H.page(t.browser);
  await H.signIn(page1, M1);
  await page1.goto(H.base + '/#qa');
  await page1.waitForSelector('#view-qa button.qa-item[data-qa-id="' + item.id + '"]');
  await page1.click('#view-qa button.qa-item[data-qa-id="' + item.id + '"]');
  await page1.waitForSelector('#qa-keep');
  await page1.click('#qa-keep');
  await waitLive(page1, /Choose a reason/, '#qa-live');
  await page1.selectOption('#qa-reason', 'other');
  await page1.click('#qa-keep');
  const said = await waitLive(page1, /409/, '#qa-live');
  assert(/same_reviewer|first decision|409/.test(said), 'the 409 is shown: ' + said);
  ok('the first reviewer deciding their own QA review sees "' + said + '"');
  await page1.context().close();

  const page = await H.page(t.browser);
  await H.signIn(page, M2);
  await page.goto(H.base + '/#qa');
  await page.waitForSelector('#view-qa button.qa-item[data-qa-id="' + item.id + '"]');
  await page.click('#view-qa button.qa-item[data-qa-id="' + item.id + '"]');
  await page.waitForSelector('#view-qa .qa-first-hidden');
  const head = await page.textContent('#view-qa .qa-head');
  assert(/hidden until the second reviewer decides/.test(head) && !/incitement/.test(head),
    'the first decision is hidden: ' + head);
  ok('QA #' + item.id + ' for the second moderator: the first decision hidden');
  await settled(page, '#view-qa .qa-side');
  await H.screenshot(page, 'qa', true);

  await page.selectOption('#qa-reason', 'not_terrorist_content');
  await page.click('#qa-keep');
  await waitLive(page, /disagree/, '#qa-live');
  const after = (await must(200, 'GET', '/v1/qa?state=disagreed', M2)).qa.find((q) => q.id === item.id);
  assert(after && after.state === 'disagreed' && after.second && after.second.decision === 'keep' &&
    after.second.reason_code === 'not_terrorist_content', 'API: the QA review is disagreed: ' + JSON.stringify(after));
  const caseAfter = await must(200, 'GET', '/v1/cases/' + removedCase, M2);
  assert(caseAfter.outcome === 'remove', 'the case\'s decision is unchanged: ' + caseAfter.outcome);
  await page.waitForSelector('#view-qa .qa-first');
  const shown = await page.textContent('#view-qa .qa-head');
  assert(/remove/.test(shown) && /incitement/.test(shown) && /keep/.test(shown) && /disagree/.test(shown),
    'both decisions and the disagreement shown: ' + shown);
  ok('second moderator keeps: API QA #' + item.id + ' disagreed (second keep, not_terrorist_content), case still remove; ' +
    'the page shows both decisions');

  await page.click('#qa-tab-disagreed');
  await page.waitForFunction((id) => {
    const b = document.querySelector('#view-qa button.qa-item[data-qa-id="' + id + '"]');
    return b && /disagreed/.test(b.textContent) && location.hash.includes('state=disagreed');
  }, item.id);
  const row = await page.textContent('#view-qa button.qa-item[data-qa-id="' + item.id + '"]');
  assert(/remove vs keep/.test(row), 'the disagreements tab lists it: ' + row);
  ok('"Disagreements" lists QA #' + item.id + ' (remove vs keep)');
  await settled(page, '#view-qa .qa-side');
  await H.screenshot(page, 'qa-disagreements', true);
  await a11yCheck(page, 'the QA view');
  await page.waitForSelector('#view-qa .qa-content figure.media-item .media');
  assert(await mediaFilter(page, '#view-qa .qa-content') === 'blur(16px) grayscale(1)', 'QA media blurred too');
  ok('QA: the content\'s media blurred and greyscale there too');
  await page.context().close();
}

async function auditor(t, keys, d) {
  const AU = keys.auditor.key;
  const page = await H.page(t.browser);
  await H.signIn(page, AU);
  await page.goto(H.base + '/#review/case=' + d.cases.img3);
  await waitCase(page, d.cases.img3);
  await page.waitForSelector('#view-review .media-box .note');
  const note = await page.textContent('#view-review .media-box');
  assert(/Media is shown to moderators only/.test(note), 'the auditor sees the note: ' + note);
  assert(await page.locator('#view-review .case-content img, #view-review .case-content video').count() === 0, 'and no media');
  const buttons = await page.locator('#view-review .decide-bar button, #act-claim, #act-remove').count();
  assert(buttons === 0, 'no action buttons for an auditor (' + buttons + ')');
  // Shortcuts do nothing; a forced POST answers 403, shown in words.
  const before = (await must(200, 'GET', '/v1/cases/' + d.cases.img3, AU)).state;
  await key(page, 'c');
  const refused = await waitLive(page, /403/);
  assert((await must(200, 'GET', '/v1/cases/' + d.cases.img3, AU)).state === before, '"c" changed nothing');
  const forced = await page.evaluate(async (id) => {
    const r = await window.TD.api('POST', '/v1/cases/' + id + '/claim');
    return { status: r.status, text: window.TD.errorText(r) };
  }, d.cases.img3);
  assert(forced.status === 403 && /403/.test(forced.text), 'a forced POST is 403: ' + JSON.stringify(forced));
  ok('auditor: case #' + d.cases.img3 + ' read with no action button and no media ("Media is shown to moderators only"); ' +
    '"c" tried anyway shows "' + refused + '" and changes nothing (API); a forced claim: "' + forced.text + '"');
  await settled(page);
  await H.screenshot(page, 'review-auditor', true);
  await page.goto(H.base + '/#qa/state=disagreed');
  await page.waitForSelector('#view-qa button.qa-item');
  assert(await page.locator('#qa-keep, #qa-remove').count() === 0, 'no QA buttons for an auditor');
  ok('auditor: the QA disagreements read, no QA decision buttons');
  await page.context().close();
}

async function phone(t, keys) {
  const page = await H.page(t.browser, 390, 844);
  await H.signIn(page, keys.moderator.key);
  await page.waitForSelector('#view-review .case-title');
  assert(await page.isVisible('#menu-toggle'), 'a menu button on a phone');
  assert(!(await page.isVisible('#nav')), 'the nav is folded');
  await page.click('#menu-toggle');
  assert(await page.isVisible('#nav-qa'), 'the menu opens');
  assert((await page.getAttribute('#menu-toggle', 'aria-expanded')) === 'true', 'aria-expanded true');
  await page.click('#menu-toggle');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, 'no sideways scrolling of the page at 390 px (' + wide + ')');
  await page.waitForSelector('#view-review .case-content figure.media-item .media').catch(() => {});
  ok('390-px phone: the nav folds into a menu button; the page is no wider than the screen (' + wide + ' px)');
  await contrastAndFocus(page, 'the review view at 390 px');
  await page.click('#menu-toggle');
  await contrastAndFocus(page, 'the review view at 390 px with the menu open');
  await page.keyboard.press('Escape');
  await H.screenshot(page, 'review-mobile', true);
  await page.context().close();
}

async function a11yCheck(page, where) {
  await a11y(page, where);
  await contrastAndFocus(page, where);
}

// The contrast and focus-order checks of the harness (H.checkContrast, H.checkFocusOrder).
async function contrastAndFocus(page, where) {
  // A pane still loading (its earlier decisions, the uploader's content) would add elements
  // during the walk: wait until none is busy.
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  const n = await H.checkContrast(page, where);
  const order = await H.checkFocusOrder(page, where);
  ok(where + ': contrast of ' + n + ' elements at least 4.5:1 (3:1 large); Tab reaches the ' + order.length +
    ' focusable elements in document order, each visible with a focus indicator, then ' + order.ended);
  return order;
}

H.run('review', async (t) => {
  await staticFiles();
  const keys = await shell(t);
  keys.moderator2 = await H.key('moderator', 'browser-moderator-2');
  const d = await setUp(t.admin);

  const page = await H.page(t.browser);
  await H.signIn(page, keys.moderator.key);
  await page.waitForSelector('#view-review .case-title');
  assert(page.url().includes('#review'), 'a moderator starts in the review view: ' + page.url());
  await queues(page, keys.moderator.key);
  await casePane(page, keys.moderator.key, d);
  await noScroll(page, 'the review view');
  ok('at 1280x800 the review view fits without page scrolling (its panes scroll)');
  const removed = await shortcuts(page, keys.moderator.key, 'browser-moderator');
  await a11y(page, 'the review view');
  ok('review view: every control labelled, unique ids');
  await contrastAndFocus(page, 'the review view with a case');
  await phone(t, keys);
  await qa(t, d, keys, removed);
  await auditor(t, keys, d);
  await media(page, keys.moderator.key, d);
  const probs = H.pageProblems(page);
  assert(probs.length === 0, 'no script error or CSP violation: ' + probs.join('; '));
  ok('no script error or CSP violation in the review view');
  await page.context().close();
}, { serveArgs: ['--review-qa-share', '1'] });
