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
  artifacts, ROOT,
  get base() { return base; },
  get admin() { return adminKey; },
  get checks() { return checks; },
};
