// Shared helpers of the console's browser tests (tests/browser/*_test.js; docs/testing.md):
// starts the real `takedown serve` on a free loopback port with a fresh data directory, calls
// the API, makes keys of each role, launches Debian's Chromium through Playwright
// (playwright-core only: no browser download), signs in, takes screenshots.
//
//   const H = require('./harness.js');
//   H.run('review', async (t) => {            // t: {srv, admin, browser, base, binary}
//     const mod = await H.key('moderator', 'mod-1');
//     const page = await H.page(t.browser);  // 1280x800; H.page(t.browser, 390, 844) for a phone
//     await H.signIn(page, mod.key);
//     H.ok('...');
//   }, { serveArgs: ['--review-qa-share', '1'], evidence: true });
//
// Usage of a test: node X_test.js PATH/TO/takedown [--chromium /usr/bin/chromium]
// Screenshots go to $TD_BROWSER_ARTIFACTS (default build/browser-artifacts/); with
// TD_DOC_SCREENSHOTS=1 the ones marked for the documentation also to docs/img/console-<name>.png.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const binary = args[0];
const chromiumPath = args.includes('--chromium') ? args[args.indexOf('--chromium') + 1]
  : process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;
const artifacts = process.env.TD_BROWSER_ARTIFACTS || path.join(ROOT, 'build', 'browser-artifacts');
const docShots = process.env.TD_DOC_SCREENSHOTS === '1';

let checks = 0;
let testName = 'browser';

function ok(what) {
  checks++;
  console.log('ok ' + checks + ' - ' + what);
}

function assert(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

// ---- the server ----

function runCli(cliArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, cliArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

// `takedown evidence init` (2 of alice, bob, carol) before the server starts: the custodians'
// release shares, {alice: share, ...}.
async function evidenceInit(dataDir) {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const r = await runCli(['evidence', 'init', '--data', dataDir, '--threshold', '2',
    '--custodians', 'alice,bob,carol']);
  const shares = {};
  for (const m of r.out.matchAll(/^custodian (\S+) share (\S+)$/gm)) shares[m[1]] = m[2];
  if (r.code !== 0 || !shares.alice || !shares.bob)
    throw new Error('takedown evidence init failed (' + r.code + '):\n' + r.out + r.err);
  return shares;
}

// `takedown serve` on 127.0.0.1:0 with the data directory and extra arguments (config options
// as --name value); resolves with {child, url, key (the admin key it printed), stderr()}.
function startServer(dataDir, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', ...(extra || [])],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', key = null;
    const timer = setTimeout(() => reject(new Error('the server did not start in 30 s:\n' + out + err)), 30000);
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const k = /admin key \(shown once\): (\S+)/.exec(out);
      if (k) key = k[1];
      const u = /listening on (http:\/\/\S+)/.exec(out);
      if (u && key) {
        clearTimeout(timer);
        resolve({ child, url: u[1], key, stderr: () => err });
      }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error('the server exited (' + code + '):\n' + out + err)); });
  });
}

function stopServer(srv) {
  return new Promise((resolve) => {
    if (!srv || srv.child.exitCode !== null) return resolve();
    const t = setTimeout(() => srv.child.kill('SIGKILL'), 10000);
    srv.child.removeAllListeners('exit');
    srv.child.on('exit', () => { clearTimeout(t); resolve(); });
    srv.child.kill('SIGTERM');
  });
}

// ---- the API ----

let base = '';
let adminKey = '';

// One call. body: an object (sent as JSON), a string (as is, JSON type unless headers say
// otherwise) or a Buffer (as is, application/octet-stream unless headers say otherwise).
// Resolves with {status, json, text, bytes (Buffer), headers}.
async function call(method, p, key, body, headers) {
  const h = Object.assign({}, headers || {});
  if (key) h.Authorization = 'Bearer ' + key;
  let data;
  if (body !== undefined && body !== null) {
    if (Buffer.isBuffer(body)) {
      data = body;
      if (!h['Content-Type']) h['Content-Type'] = 'application/octet-stream';
    } else {
      data = typeof body === 'string' ? body : JSON.stringify(body);
      if (!h['Content-Type']) h['Content-Type'] = 'application/json';
    }
  }
  const resp = await fetch(base + p, { method, headers: h, body: data });
  const bytes = Buffer.from(await resp.arrayBuffer());
  const text = bytes.toString('utf8');
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: resp.status, json, text, bytes, headers: resp.headers };
}

async function must(status, method, p, key, body, headers) {
  const r = await call(method, p, key, body, headers);
  if (r.status !== status)
    throw new Error(method + ' ' + p + ': HTTP ' + r.status + ', expected ' + status + ': ' + r.text.slice(0, 500));
  return r.json;
}

// A new key of the role (made by the admin key): {id, key, role, name, ...}.
async function key(role, name) {
  return must(201, 'POST', '/v1/keys', adminKey, { role, name });
}

// ---- the browser ----

// A page of the browser at width x height (1280x800 by default) that records script errors
// and CSP violations in page.problems.
// opts.bypassCSP: a page whose own scripts (page.evaluate) may read blob: URLs, for checks of
// what the console shows; never for checking the console itself.
async function page(browser, width, height, opts) {
  const ctx = await browser.newContext({ viewport: { width: width || 1280, height: height || 800 },
    bypassCSP: !!(opts && opts.bypassCSP) });
  const p = await ctx.newPage();
  p.setDefaultTimeout(STEP_MS);
  p.problems = [];
  p.on('console', (m) => {
    if (m.type() === 'error') p.problems.push('console: ' + m.text());
  });
  p.on('pageerror', (e) => p.problems.push('page error: ' + e.message));
  await p.goto(base + '/');
  return p;
}

// Signs in with the key (typed, Enter); waits until the shell says who signed in.
async function signIn(p, k) {
  if (await p.isVisible('#signout')) await p.click('#signout');
  await p.fill('#key', k);
  await p.press('#key', 'Enter');
  await p.waitForSelector('#signed-in:not([hidden])');
}

// The problems the page logged, other than the browser's own lines about HTTP errors the test
// provoked; CSP violations are always problems.
function pageProblems(p) {
  return p.problems.filter((x) => /Content Security Policy|Refused to/.test(x) || !/Failed to load resource/.test(x));
}

// A PNG of the page in the artifacts folder; doc: also docs/img/console-<name>.png when
// TD_DOC_SCREENSHOTS=1.
async function screenshot(p, name, doc) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, (name.startsWith(testName) ? name : testName + '-' + name) + '.png');
  await p.screenshot({ path: file });
  if (doc && docShots) {
    fs.mkdirSync(path.join(ROOT, 'docs', 'img'), { recursive: true });
    fs.copyFileSync(file, path.join(ROOT, 'docs', 'img', 'console-' + name + '.png'));
  }
  return file;
}

// ---- accessibility checks (written here, no library; docs/console.md) ----

// In the page: colour parsing, WCAG 2.x relative luminance and contrast, the effective
// background of an element (its own and its ancestors' background-color composited over the
// root's, white behind that), visibility, focusability. Installed once per page as
// window.__tdA11y by the checks below.
function a11yLib() {
  if (window.__tdA11y) return window.__tdA11y;
  const probe = document.createElement('canvas').getContext('2d');
  // [r, g, b, a] with r, g, b in 0..255 and a in 0..1, from any CSS colour the browser computes.
  function rgba(css) {
    let m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(css || '');
    if (!m) {
      // Other notations (color(srgb ...), named): let a canvas normalise them.
      probe.fillStyle = '#000';
      probe.fillStyle = css;
      m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(probe.fillStyle);
      if (!m) {
        const h = /^#([0-9a-f]{6})$/i.exec(probe.fillStyle);
        return h ? [parseInt(h[1].slice(0, 2), 16), parseInt(h[1].slice(2, 4), 16), parseInt(h[1].slice(4), 16), 1] : [0, 0, 0, 1];
      }
    }
    let a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3]), a];
  }
  // top over bottom (bottom opaque): source-over compositing.
  function over(top, bottom) {
    const a = top[3];
    return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
  }
  // WCAG 2.x relative luminance of an sRGB colour.
  function luminance(c) {
    const lin = (v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  }
  function ratio(a, b) {
    const la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  // The opaque colour behind el's content: the background-colors from el up to the root,
  // composited from the first opaque one (the root's, or white, the canvas, below all).
  function background(el) {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  function visible(el) {
    if (!el.getClientRects().length) return false;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible') return false;
    for (let e = el; e; e = e.parentElement) if (getComputedStyle(e).opacity === '0') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }
  // Whether the element is out of reach: inert, or outside the open modal dialog.
  function inert(el) {
    if (el.closest('[inert]')) return true;
    const modal = document.querySelector('dialog[open]:modal');
    return !!(modal && !modal.contains(el));
  }
  function disabled(el) {
    return !!(el.matches(':disabled') || el.closest('fieldset:disabled'));
  }
  function describe(el) {
    if (!el || el === document.body || el === document.documentElement) return 'the document';
    const text = (el.getAttribute('aria-label') || el.value || el.textContent || '').replace(/\s+/g, ' ').trim();
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.classList.length ? '.' + Array.from(el.classList).join('.') : '') + (text ? ' "' + text.slice(0, 30) + '"' : '');
  }
  // The elements Tab reaches, in document order: links, buttons, fields, summaries, media with
  // controls, tabindex >= 0, and (as Chromium does) scroll containers that overflow and hold
  // nothing focusable; not disabled, inert, hidden or with a negative tabindex.
  const FOCUSABLE = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, ' +
    'video[controls], audio[controls], iframe, [contenteditable=""], [contenteditable="true"], [tabindex]';
  function focusables(scope) {
    const out = [];
    for (const e of (scope || document).querySelectorAll('*')) {
      const cs = getComputedStyle(e);
      let f = e.matches(FOCUSABLE);
      if (!f && /(auto|scroll)/.test(cs.overflowX + ' ' + cs.overflowY) &&
          (e.scrollHeight > e.clientHeight || e.scrollWidth > e.clientWidth) && !e.querySelector(FOCUSABLE)) f = true;
      if (!f || e.tabIndex < 0 || disabled(e) || inert(e) || !visible(e)) continue;
      if (e.closest('details:not([open])') && !e.matches('details > summary')) continue;
      out.push(e);
    }
    return out;
  }
  window.__tdA11y = { rgba, over, luminance, ratio, background, visible, inert, disabled, describe, focusables };
  return window.__tdA11y;
}

// Contrast (WCAG 2.x, 1.4.3): every visible element with a text node of its own, and every
// button, link, input, select, textarea and label, has a contrast ratio of at least 4.5:1
// between its computed color (composited over its background) and its effective background;
// 3:1 for large text (>= 24px, or >= 18.66px and bold). Disabled controls are exempt, as are
// elements inside the shielded media (.media-frame, .frame-strip, .shielded); with a modal dialog
// open, only the dialog is checked. Fails naming each
// element (tag, class, text start, ratio). Returns the number of elements checked.
async function checkContrast(p, where) {
  const res = await p.evaluate(`(${a11yLib.toString()})()`).then(() => p.evaluate(() => {
    const A = window.__tdA11y;
    const bad = [];
    let checked = 0;
    // With a modal dialog open the page behind it is inert and dimmed: the dialog is checked.
    const scope = document.querySelector('dialog[open]:modal') || document.body;
    for (const e of scope.querySelectorAll('*')) {
      if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'OPTGROUP'].includes(e.tagName)) continue;
      const own = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.nodeValue.trim());
      if (!own && !e.matches('button, a[href], input:not([type="hidden"]), select, textarea, label')) continue;
      if (e.closest('.media-frame, .frame-strip, .shielded') || A.disabled(e) || !A.visible(e)) continue;
      if (e.matches('input[type="checkbox"], input[type="radio"], input[type="range"], input[type="color"]')) continue;
      const cs = getComputedStyle(e);
      const bg = A.background(e);
      const fg = A.over(A.rgba(cs.color), bg);
      const size = parseFloat(cs.fontSize);
      const bold = parseInt(cs.fontWeight, 10) >= 700;
      const large = size >= 24 || (size >= 18.66 && bold);
      const need = large ? 3 : 4.5;
      const r = A.ratio(fg, bg);
      checked++;
      if (r < need - 1e-9)
        bad.push(A.describe(e) + ': ' + r.toFixed(2) + ':1 (' + cs.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(', ') +
          '), needs ' + need + ':1)');
    }
    return { bad, checked };
  }));
  assert(res.bad.length === 0, where + ': text below the contrast ratio: ' + res.bad.join('; '));
  return res.checked;
}

// Focus order (WCAG 2.4.3, 2.4.7, 2.1.2): from the top of the page (or of the open modal
// dialog), Tab pressed until max elements were reached (default: the focusable elements + 5;
// the controls of a video count as one). Each element
// focused must be visible in the viewport and show a focus indicator: its computed outline or
// box-shadow differs from the unfocused state, and an outline's colour has at least 3:1 against
// the background around it (1.4.11). The elements reached, in order, must be exactly the
// focusable, visible ones in document order (none skipped, none extra; no positive tabindex
// anywhere), and the walk must end: focus leaves the page (or dialog) after the last, or wraps
// to the first. Returns the descriptions of the elements in order; its .ended says how the walk
// ended ('left the page', 'wrapped to the first'; in a modal dialog, whose last element hands the
// focus to the browser, one more Tab must come back into it: 'came back into the dialog').
async function checkFocusOrder(p, where, max) {
  await p.evaluate(`(${a11yLib.toString()})()`);
  const setup = await p.evaluate(() => {
    const A = window.__tdA11y;
    const modal = document.querySelector('dialog[open]:modal');
    const scope = modal || document;
    const positive = Array.from(scope.querySelectorAll('[tabindex]')).filter((e) => e.tabIndex > 0).map(A.describe);
    const list = A.focusables(modal || document.body);
    // The unfocused look of each, to compare with its look when focused.
    const look = (e) => {
      const cs = getComputedStyle(e);
      return cs.outlineStyle + ' ' + cs.outlineWidth + ' ' + cs.outlineColor + '|' + cs.boxShadow;
    };
    // A starting point before the first element of the scope.
    const start = document.createElement('span');
    start.tabIndex = -1;
    start.id = '__td-focus-start';
    (modal || document.body).prepend(start);
    start.focus();
    const looks = list.map((e) => (e === document.activeElement ? null : look(e)));
    window.__tdFocus = { list, looks, look, start };
    return { positive, expected: list.map(A.describe), modal: !!modal };
  });
  assert(setup.positive.length === 0, where + ': positive tabindex on ' + setup.positive.join(', '));
  // Distinct elements; a media element's own controls take several presses on the one element.
  const limit = max || setup.expected.length + 5;
  const seen = [];
  let ended = false;
  for (let i = 0; i < 4 * limit && seen.length <= limit; i++) {
    await p.keyboard.press('Tab');
    const f = await p.evaluate(() => {
      const A = window.__tdA11y, F = window.__tdFocus;
      if (F.start.isConnected) F.start.remove();
      const e = document.activeElement;
      if (!e || e === document.body || e === document.documentElement) return { end: true };
      const idx = F.list.indexOf(e);
      const cs = getComputedStyle(e);
      const now = F.look(e);
      const r = e.getBoundingClientRect();
      const inView = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
      let ring = null;
      if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) {
        const around = e.parentElement ? A.background(e.parentElement) : [255, 255, 255, 1];
        ring = A.ratio(A.over(A.rgba(cs.outlineColor), around), around);
      }
      return { idx, what: A.describe(e), visible: A.visible(e) && inView,
        indicator: idx < 0 || F.looks[idx] === null || F.looks[idx] !== now, ring, look: now };
    });
    if (f.end) { ended = 'left the page'; break; }
    if (seen.length && seen[seen.length - 1].idx === f.idx && f.idx >= 0) continue; // inside a control (video)
    if (seen.length && f.idx === seen[0].idx) { ended = 'wrapped to the first'; break; }
    seen.push(f);
    assert(f.visible, where + ': the focused element is not visible: ' + f.what);
    assert(f.indicator, where + ': no visible focus indicator on ' + f.what + ' (' + f.look + ')');
    assert(f.ring === null || f.ring >= 3, where + ': the focus outline of ' + f.what + ' has ' +
      (f.ring || 0).toFixed(2) + ':1 against its background, below 3:1');
  }
  const got = seen.map((f) => f.what);
  assert(ended, where + ': Tab pressed ' + limit + ' times never left the ' + 'page or wrapped (a trap?): ' + got.join(' > '));
  const extra = seen.filter((f) => f.idx < 0).map((f) => f.what);
  assert(extra.length === 0, where + ': Tab reached elements outside the expected order: ' + extra.join(', '));
  const order = seen.map((f) => f.idx);
  const skipped = setup.expected.filter((_, i) => !order.includes(i));
  assert(skipped.length === 0, where + ': focusable elements Tab skipped: ' + skipped.join(', ') + ' (reached: ' + got.join(' > ') + ')');
  assert(order.every((v, i) => v === i), where + ': Tab order differs from the document order: ' + got.join(' > '));
  if (setup.modal && ended === 'left the page') {
    // Past the dialog's last element focus goes to the browser, never to the inert page: one
    // more Tab comes back into the dialog.
    await p.keyboard.press('Tab');
    const back = await p.evaluate(() => {
      const d = document.querySelector('dialog[open]:modal');
      return { inside: !!(d && d.contains(document.activeElement)), what: window.__tdA11y.describe(document.activeElement) };
    });
    assert(back.inside, where + ': after the dialog\'s last element Tab went to ' + back.what + ', outside the dialog');
    ended = 'came back into the dialog';
  }
  got.ended = ended;
  return got;
}

// Runs a test: a fresh data directory (with `evidence init` when opts.evidence), the server
// (opts.serveArgs), Chromium; fn(t) with t = {srv, admin, browser, base, binary, shares,
// dataDir}. Always stops the browser and the server and removes the data directory; exits 1 on
// the first failed check.
async function run(name, fn, opts) {
  opts = opts || {};
  testName = name;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'takedown-browser-'));
  let srv = null, browser = null;
  try {
    if (!binary) throw new Error('usage: node ' + name + '_test.js PATH/TO/takedown');
    assert(fs.existsSync(binary), 'the binary ' + binary + ' exists');
    assert(fs.existsSync(chromiumPath), 'Chromium at ' + chromiumPath + ' (Debian package chromium)');
    const data = path.join(dataDir, 'data');
    const shares = opts.evidence ? await evidenceInit(data) : null;
    srv = await startServer(data, opts.serveArgs);
    base = srv.url;
    adminKey = srv.key;
    ok('takedown serve started on ' + base + ' with a fresh data directory' +
      (opts.serveArgs && opts.serveArgs.length ? ' (' + opts.serveArgs.join(' ') + ')' : ''));
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
    await fn({ srv, admin: srv.key, browser, base, binary, shares, dataDir: data });
    console.log(name + ' browser test: ' + checks + ' checks passed');
  } catch (e) {
    console.error(name + ' browser test FAILED after ' + checks + ' checks: ' + (e && e.stack ? e.stack : e));
    if (srv) console.error('server stderr (last 2000 characters):\n' + srv.stderr().slice(-2000));
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer(srv);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = {
  ok, assert, call, must, key, page, signIn, pageProblems, screenshot, run, runCli,
  checkContrast, checkFocusOrder,
  artifacts, ROOT,
  get base() { return base; },
  get admin() { return adminKey; },
  get checks() { return checks; },
};
