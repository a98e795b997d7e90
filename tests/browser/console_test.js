#!/usr/bin/env node
// Browser test of the web console (docs/console.md): starts the real `takedown serve` on a free
// loopback port with a fresh data directory, sets up data through the API, then drives Debian's
// Chromium (Playwright, playwright-core only: no browser download) through the console and
// checks the outcome through the API. Exits non-zero on the first failed step; always stops the
// server and the browser and removes the data directory.
//
// Usage: node console_test.js PATH/TO/takedown [--chromium /usr/bin/chromium]
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const binary = args[0];
const chromiumPath = args.includes('--chromium') ? args[args.indexOf('--chromium') + 1]
  : process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;
const DEADLINE_MS = 60000; // removal orders' deadline on the test server (its minimum)

let checks = 0;
function ok(what) {
  checks++;
  console.log('ok ' + checks + ' - ' + what);
}
function assert(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

// ---- the server ----

function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    // The shortest legal deadline the server accepts (60 s), so that the test sees a breach.
    const child = spawn(binary, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0',
      '--order-deadline-ms', String(DEADLINE_MS)],
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
async function call(method, p, key, body, headers) {
  const h = Object.assign({}, headers || {});
  if (key) h.Authorization = 'Bearer ' + key;
  let data;
  if (body !== undefined) {
    data = typeof body === 'string' ? body : JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  const resp = await fetch(base + p, { method, headers: h, body: data });
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: resp.status, json, text, headers: resp.headers };
}

async function must(status, method, p, key, body, headers) {
  const r = await call(method, p, key, body, headers);
  if (r.status !== status)
    throw new Error(method + ' ' + p + ': HTTP ' + r.status + ', expected ' + status + ': ' + r.text);
  return r.json;
}

// An order document as tests/support/api_client.c api_order_doc writes it.
function orderDoc(authority, reference, contentId, url) {
  return JSON.stringify({
    type: 'removal_order',
    issuing_member_state: 'DE',
    addressee: 'Example Platform Ltd',
    reference,
    issued_at: new Date(Date.now() - 60000).toISOString(),
    content: [{ content_id: contentId, url }],
    reason: { category: 'a', statement: 'Incitement to commit a terrorist offence' },
    do_not_inform: false,
    cross_border: false,
    issuing_authority: { name: authority, contact: 'ops@authority.example' },
    follow_up_contact: 'desk@authority.example',
    redress: 'Verwaltungsgericht Wiesbaden',
  });
}

// ---- the test ----

async function main() {
  if (!binary) throw new Error('usage: node console_test.js PATH/TO/takedown');
  assert(fs.existsSync(binary), 'the binary ' + binary + ' exists');
  assert(fs.existsSync(chromiumPath), 'Chromium at ' + chromiumPath + ' (Debian package chromium)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'takedown-browser-'));
  let srv = null, browser = null;
  try {
    srv = await startServer(path.join(dataDir, 'data'));
    base = srv.url;
    const A = srv.key;
    ok('takedown serve started on ' + base + ' with a fresh data directory');

    // The static files: no key, strict CSP, nosniff, types; unknown files 404.
    for (const [p, type] of [['/', 'text/html'], ['/console/console.css', 'text/css'],
      ['/console/console.js', 'text/javascript']]) {
      const r = await call('GET', p);
      assert(r.status === 200, 'GET ' + p + ' answers 200 without a key (' + r.status + ')');
      assert((r.headers.get('content-type') || '').startsWith(type), p + ' is ' + type);
      assert(/default-src 'self'/.test(r.headers.get('content-security-policy') || ''), p + ' has the CSP');
      assert(r.headers.get('x-content-type-options') === 'nosniff', p + ' has nosniff');
    }
    assert((await call('GET', '/console/nope.js')).status === 404, 'an unknown console file is 404');
    ok('console files served without a key, with CSP default-src \'self\' and nosniff; unknown file 404');

    // Data: a review bank, a PDQ signal, content matching it (a case opens).
    const bank = 'CONSOLE_TEST';
    const pdq = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
    await must(201, 'POST', '/v1/banks', A, { name: bank, labels: ['entity:group-a'], action: 'review' });
    const sig = await must(201, 'POST', '/v1/banks/' + bank + '/signals', A,
      { type: 'pdq', value: pdq, labels: ['behaviour:glorification'] });
    const contentId = 'post/console-1';
    const content = await must(201, 'POST', '/v1/content', A,
      { content_id: contentId, uploader: 'u1', hashes: { pdq, quality: 100 } });
    assert(content.case && content.case.id, 'the content opened a case: ' + JSON.stringify(content));
    const caseId = content.case.id;
    ok('API setup: bank ' + bank + ' (review), PDQ signal #' + sig.id + ', content ' + contentId +
      ' opened case #' + caseId);

    // An authority with an Ed25519 key and a signed removal order.
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    const rawPk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const authKey = await must(201, 'POST', '/v1/keys', A, { role: 'authority', name: 'bka' });
    const auth = await must(201, 'POST', '/v1/authorities', A, {
      name: 'BKA', kind: 'competent', member_state: 'DE', contact: 'ops@bka.example',
      public_key: rawPk.toString('hex'),
      announced_at: new Date(Date.now() - 48 * 3600 * 1000).toISOString(),
    });
    await must(201, 'POST', '/v1/authorities/' + auth.id + '/keys', A, { key_id: authKey.id });
    const doc = orderDoc('BKA', 'BKA-2026-CONSOLE', contentId, 'https://platform.example/post/console-1');
    const signature = crypto.sign(null, Buffer.from(doc), privateKey).toString('base64');
    const receivedAt = Date.now();
    const receipt = await must(201, 'POST', '/v1/orders', authKey.key, doc,
      { 'Takedown-Signature': 'ed25519=' + signature });
    const orderId = receipt.id || receipt.order_id;
    assert(orderId, 'the order receipt has an id: ' + JSON.stringify(receipt));
    ok('API setup: authority BKA with an Ed25519 key, signed removal order #' + orderId + ' received');

    // ---- the browser ----
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_MS);
    const problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push('console: ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    await page.goto(base + '/');
    assert((await page.title()) === 'takedown console', 'the page title');
    ok('Chromium loaded the console');

    // A wrong key shows the API's error in plain words.
    const wrong = 'tdk_' + '0'.repeat(64);
    const expected = (await call('GET', '/v1/cases?limit=1', wrong)).json.error.message;
    await page.fill('#key', wrong);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('#message:not([hidden])');
    const msg = await page.textContent('#message');
    assert(msg.includes(expected), 'the error shows the API message "' + expected + '": ' + msg);
    assert(await page.isVisible('#signin-form'), 'the sign-in form is back after a wrong key');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'a wrong key is not kept');
    problems.splice(0); // the browser logs the 401 itself
    ok('a wrong key shows the API\'s error: "' + msg.trim() + '"');

    // Sign in with the keyboard (Enter in the key field).
    await page.fill('#key', A);
    await page.press('#key', 'Enter');
    const card = page.locator('article.case[data-case-id="' + caseId + '"]');
    await card.waitFor();
    assert(!page.url().includes(A), 'the key is not in the URL');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === A, 'the key is in sessionStorage');
    assert((await page.evaluate(() => localStorage.length)) === 0, 'nothing in localStorage');
    const text = await card.textContent();
    for (const want of [contentId, 'entity:group-a', 'behaviour:glorification', bank, 'priority']) {
      assert(text.includes(want), 'the case card shows ' + want + ': ' + text);
    }
    ok('signed in (keyboard); case #' + caseId + ' in the queue with content id, labels, priority and matches');

    await card.locator('button', { hasText: 'Claim case #' + caseId }).click();
    await page.waitForSelector('#decision-' + caseId);
    assert((await must(200, 'GET', '/v1/cases/' + caseId, A)).state === 'claimed', 'the case is claimed');
    ok('claimed case #' + caseId + ' (API: state claimed)');

    const reason = 'Glorification of an attack (console test)';
    await page.selectOption('#decision-' + caseId, 'remove');
    await page.fill('#reason-' + caseId, reason);
    await page.click('button:has-text("Decide case #' + caseId + '")');
    await page.waitForFunction((id) => !document.querySelector('article.case[data-case-id="' + id + '"]') &&
      /remove recorded/.test(document.getElementById('status').textContent), caseId);
    const closed = await must(200, 'GET', '/v1/cases/' + caseId, A);
    assert(closed.state === 'closed', 'API: the case is closed (' + closed.state + ')');
    assert(closed.outcome === 'remove', 'API: the outcome is remove (' + closed.outcome + ')');
    const d = (closed.decisions || []).find((x) => x.decision === 'remove');
    assert(d && d.reason === reason, 'API: the decision has the reason: ' + JSON.stringify(closed.decisions));
    ok('decided remove with a reason; API: case #' + caseId + ' closed, outcome remove, reason kept');

    // Orders: the order with a live countdown and its escalation level, then its detail.
    await page.click('nav button[data-view="orders"]');
    const row = page.locator('tr[data-order-id="' + orderId + '"]');
    await row.waitFor();
    const cd = row.locator('.countdown');
    const t1 = (await cd.textContent()).trim();
    assert(/^(\d+:)?\d+:\d\d left$/.test(t1), 'a countdown: ' + t1);
    await page.waitForFunction((first) => {
      const el = document.querySelector('.countdown');
      return el && el.textContent.trim() !== first;
    }, t1);
    const t2 = (await cd.textContent()).trim();
    assert((await row.locator('.escalation').textContent()).includes('level'), 'the escalation level is shown');
    assert(!(await row.getAttribute('class') || '').includes('breached'), 'not breached');
    const first = await page.locator('#orders-body tr').first().getAttribute('data-order-id');
    assert(first === String(orderId), 'the order is first in the list');
    ok('order #' + orderId + ' listed with a live countdown (' + t1 + ' -> ' + t2 + ') and its escalation level');

    await row.locator('button', { hasText: 'Details of order #' + orderId }).click();
    await page.waitForSelector('#order-detail:not([hidden])');
    const targets = await page.textContent('#order-targets');
    assert(targets.includes(contentId), 'the detail lists the target: ' + targets);
    const facts = await page.textContent('#order-facts');
    assert(facts.includes('BKA'), 'the detail shows the authority');
    assert((await page.textContent('#order-feedback')).includes('Time of receipt'), 'the detail shows the feedback');
    ok('order detail: targets, state and Annex II feedback');

    // Banks: the bank with its signal count, its signals, disable one.
    await page.click('nav button[data-view="banks"]');
    const brow = page.locator('tr[data-bank="' + bank + '"]');
    await brow.waitFor();
    assert((await brow.locator('.signal-count').textContent()).trim() === '1', 'the bank shows 1 signal');
    await brow.locator('button', { hasText: 'Signals of ' + bank }).click();
    const srow = page.locator('tr[data-signal-id="' + sig.id + '"]');
    await srow.waitFor();
    assert((await srow.textContent()).includes('pdq'), 'the signal row shows its type');
    assert((await srow.locator('.enabled').textContent()).trim() === 'yes', 'the signal is enabled');
    await srow.locator('button', { hasText: 'Disable signal #' + sig.id }).click();
    await page.waitForFunction((id) => {
      const c = document.querySelector('tr[data-signal-id="' + id + '"] .enabled');
      return c && c.textContent.trim() === 'no';
    }, sig.id);
    const sigs = await must(200, 'GET', '/v1/banks/' + bank + '/signals', A);
    const s = sigs.signals.find((x) => x.id === sig.id);
    assert(s && s.enabled === false, 'API: the signal is disabled: ' + JSON.stringify(s));
    ok('bank ' + bank + ' with 1 signal; disabled signal #' + sig.id + ' from the console (API: enabled false)');

    // An error of the API in plain words while signed in: the bank was deleted meanwhile, so
    // refreshing its signals answers 404 with the API's message.
    await must(204, 'DELETE', '/v1/banks/' + bank, A);
    await page.click('#banks-refresh');
    await page.waitForSelector('#message:not([hidden])');
    const msg2 = (await page.textContent('#message')).trim();
    assert(/404/.test(msg2) && msg2.length > 10, 'a 404 is shown in words: ' + msg2);
    ok('an API error while signed in is shown: "' + msg2 + '"');

    // The deadline passes: the server records the breach, the console shows the row in red.
    const wait = receivedAt + DEADLINE_MS + 2500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const late = await must(200, 'GET', '/v1/orders/' + orderId, A);
    assert(late.breached_at, 'API: the order is breached: ' + JSON.stringify(late));
    await page.click('nav button[data-view="orders"]');
    await page.click('#orders-refresh');
    await page.waitForSelector('tr[data-order-id="' + orderId + '"].breached');
    const redRow = page.locator('tr[data-order-id="' + orderId + '"]');
    assert((await redRow.textContent()).includes('BREACHED'), 'the row says BREACHED');
    const colour = await redRow.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(colour !== 'rgba(0, 0, 0, 0)' && colour !== 'rgb(255, 255, 255)', 'the breached row is coloured: ' + colour);
    ok('after the deadline: API breached_at ' + late.breached_at + ', the row marked BREACHED (' + colour + ')');

    const csp = problems.filter((p) => /Content Security Policy|Refused to/.test(p));
    assert(csp.length === 0, 'no CSP violation: ' + csp.join('; '));
    const other = problems.filter((p) => !/Failed to load resource/.test(p));
    assert(other.length === 0, 'no script error: ' + other.join('; '));
    ok('no Content-Security-Policy violation and no script error in the page');

    await page.click('#signout');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'sign out forgets the key');
    ok('sign out forgets the key');
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopServer(srv);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  console.log('browser test: ' + checks + ' checks passed');
}

main().catch((e) => {
  console.error('browser test FAILED after ' + checks + ' checks: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
