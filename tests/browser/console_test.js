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

// `takedown evidence init` before the server starts: the evidence master key that seals the
// platform's data, its release shares for the custodians named (2 of alice, bob, carol).
function evidenceInit(dataDir) {
  return new Promise((resolve, reject) => {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const child = spawn(binary, ['evidence', 'init', '--data', dataDir, '--threshold', '2',
      '--custodians', 'alice,bob,carol'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      const shares = {};
      for (const m of out.matchAll(/^custodian (\S+) share (\S+)$/gm)) shares[m[1]] = m[2];
      if (code !== 0 || !shares.alice || !shares.bob)
        return reject(new Error('takedown evidence init failed (' + code + '):\n' + out + err));
      resolve(shares);
    });
  });
}

function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    // The shortest legal deadline the server accepts (60 s), so that the test sees a breach.
    // Exchanges may pull from 127.0.0.1: the list file this test serves.
    const child = spawn(binary, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0',
      '--order-deadline-ms', String(DEADLINE_MS), '--exchange-allow-private', '1'],
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

// The JSON EPOC of docs/evidence-orders.md (tests/test_api_eorders.c epoc_doc): a prosecutor's
// order validated by a court, for the categories given, to be encrypted to recipientKey.
function epocDoc(reference, categories, recipientKey, offence) {
  const t = (ms) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const day = 86400000;
  return JSON.stringify({
    framework: 'eu_epoc',
    A: {
      issuing_state: 'DE',
      issuing_authority: { name: 'Staatsanwaltschaft Berlin', type: 'public_prosecutor', file_number: reference },
      validating_authority: { name: 'Amtsgericht Tiergarten', type: 'judge_or_court', file_number: 'AG-352' },
      issued_at: t(-3600000),
    },
    B: { addressee: 'Example Platform Ltd', establishment: 'designated_establishment', member_state: 'IE' },
    C: { deadline: 'ten_days_asap' },
    E: {
      identifiers: [{ type: 'user_id', value: 'u-1234' },
        { type: 'ipv4', value: '203.0.113.7', port: 51234, at: t(-2 * day) }],
      time_range: { from: t(-30 * day), to: t(day) },
    },
    F: { data_categories: categories },
    G: { offence, legal_classification: '129a StGB', max_penalty_years: 10, listed_terrorism: true,
      summary: 'The account distributes propaganda.' },
    H: { user_information: 'restricted' },
    K: { contact: { name: 'Execution desk', email: 'exec@sta.example', phone: '+49 30 99' } },
    L: { recipient: 'Staatsanwaltschaft Berlin', member_state: 'DE', x25519_public_key: recipientKey },
  });
}


// ---- exchanges ----

// Hash exchanges (docs/exchanges.md): an admin creates a url_list exchange from the console
// against a list file this test serves; the server's worker pulls it at once (the row's figures
// and the bank's signals show it); "Pull now" after the file changed applies the change; the
// credentials typed in are never shown again; disabling from the console.
async function exchangesView(page, A) {
  const http = require('node:http');
  const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
  let list = 'md5 ' + md5('one') + '\nmd5 ' + md5('two') + '\n';
  let auth = '';
  const srv = http.createServer((req, res) => {
    auth = req.headers.authorization || '';
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(list);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const url = 'http://127.0.0.1:' + srv.address().port + '/tvec.txt';
    await must(201, 'POST', '/v1/banks', A, { name: 'PARTNER_LIST', action: 'review' });
    await page.click('nav button[data-view="exchanges"]');
    await page.waitForSelector('#exchange-form');
    await page.fill('#exchange-name', 'partner');
    await page.selectOption('#exchange-type', 'url_list');
    await page.fill('#exchange-url', url);
    await page.fill('#exchange-bank', 'PARTNER_LIST');
    await page.fill('#exchange-interval', '3600');
    await page.fill('#exchange-credentials', '{"bearer": "browser-secret-42"}');
    await page.click('#exchange-form button[type="submit"]');
    const [kind, said] = await inlineAnswer(page, '#exchange-form');
    assert(kind === 'ok', 'the exchange was created: ' + said);
    const x = (await must(200, 'GET', '/v1/exchanges', A)).exchanges.find((e) => e.name === 'partner');
    assert(x && x.type === 'url_list' && x.bank === 'PARTNER_LIST' && x.interval_ms === 3600000 &&
      x.has_credentials === true, 'API: the exchange as typed: ' + JSON.stringify(x));
    assert(!JSON.stringify(x).includes('browser-secret-42'), 'the credentials never come back');
    assert(await page.inputValue('#exchange-credentials') === '', 'the credentials field is emptied');
    ok('created exchange #' + x.id + ' (url_list into PARTNER_LIST, every hour) from the console; ' +
      'credentials sealed, never shown');

    // The worker's first pull: the row shows 2 added, the bank holds them, the bearer was sent.
    const row = 'tr[data-exchange="' + x.id + '"]';
    for (let i = 0; i < 100; i++) {
      await page.click('#exchanges-refresh');
      await page.waitForSelector(row);
      if ((await page.textContent(row + ' td.exchange-added')).trim() === '2') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert((await page.textContent(row + ' td.exchange-added')).trim() === '2', 'the row shows 2 added');
    assert(auth === 'Bearer browser-secret-42', 'the list was fetched with the bearer: ' + auth);
    const sigs = (await must(200, 'GET', '/v1/banks/PARTNER_LIST/signals', A)).signals;
    assert(sigs.length === 2 && sigs.every((g) => g.source === 'exchange:partner'),
      'the bank holds the 2 signals from the exchange: ' + JSON.stringify(sigs));
    ok('the worker pulled at once: the row shows 2 added; the bank holds both, source exchange:partner');

    // The file changes; "Pull now" applies it at once.
    list = 'md5 ' + md5('two') + '\nmd5 ' + md5('three') + '\n';
    await page.click(row + ' button[data-action="run"]');
    await page.waitForFunction((r) => {
      const el = document.querySelector(r + ' td.exchange-removed');
      return el && el.textContent.trim() === '1';
    }, row);
    const values = (await must(200, 'GET', '/v1/banks/PARTNER_LIST/signals', A)).signals
      .map((g) => g.value).sort();
    assert(JSON.stringify(values) === JSON.stringify([md5('three'), md5('two')].sort()),
      'the bank follows the new file: ' + values);
    ok('"Pull now" after the file changed: 1 removed, 1 added on the row; the bank follows the file');

    // Disabled from the console.
    await page.click(row + ' button[data-action="toggle"]');
    await page.waitForFunction((r) => {
      const el = document.querySelector(r + ' button[data-action="toggle"]');
      return el && /^Enable/.test(el.textContent);
    }, row);
    const off = await must(200, 'GET', '/v1/exchanges/' + x.id, A);
    assert(off.enabled === false, 'API: the exchange is disabled');
    ok('disabled from the console (API: enabled false)');
  } finally {
    srv.close();
  }
}

// ---- incidents ----

// Incident mode (docs/incidents.md): a moderator opens an incident from the console; a hash
// meeting its filter is added by hand (through the API, as a team member would from a list);
// the upload check and async intake of that file are blocked at once; the console's figures,
// chart and sources follow; closing from the console, then both reports downloaded.
async function incidentsView(page, A) {
  const image = fs.readFileSync(path.join(CONFORMANCE, 'threatexchange', 'pdq', 'data', 'reg-test-input',
    'dih', 'bridge-1-original.jpg'));
  const sha = crypto.createHash('sha256').update(image).digest('hex');
  const label = 'incident:browser-' + Date.now();
  await must(201, 'POST', '/v1/banks', A, { name: 'INCIDENT_SHARED', action: 'log' });

  await page.click('nav button[data-view="incidents"]');
  await page.waitForSelector('#incident-form');
  await page.fill('#incident-name', 'Browser attack test');
  await page.selectOption('#incident-level', 'cip');
  await page.fill('#incident-labels', label);
  await page.selectOption('#incident-enforcement', 'block');
  await page.click('#incident-form button[type="submit"]');
  const [kind, said] = await inlineAnswer(page, '#incident-form');
  assert(kind === 'ok', 'the incident opened: ' + said);
  const open = (await must(200, 'GET', '/v1/incidents?open=1', A)).incidents;
  const inc = open.find((i) => i.name === 'Browser attack test');
  assert(inc && inc.state === 'open' && inc.filter.labels[0] === label && inc.enforcement === 'block',
    'API: the incident is open with the filter: ' + JSON.stringify(open));
  await page.waitForSelector('#incident-detail:not([hidden])');
  assert((await page.textContent('#incident-detail-title')).includes('#' + inc.id), 'its detail is shown');
  ok('opened incident #' + inc.id + ' from the console (API: open, label ' + label + ', block)');

  // A hash by hand, meeting the filter, into a bank that only logs; then the uploads.
  await must(201, 'POST', '/v1/banks/INCIDENT_SHARED/signals', A,
    { type: 'sha256', value: sha, labels: [label], source: 'manual' });
  const upload = async (p) => {
    const r = await fetch(base + p, { method: 'POST', body: image,
      headers: { Authorization: 'Bearer ' + A, 'Content-Type': 'image/jpeg' } });
    const j = await r.json();
    assert(r.ok, p + ': ' + JSON.stringify(j));
    return j;
  };
  const checked = await upload('/v1/check');
  assert(checked.verdict === 'block', 'the upload check is blocked: ' + checked.verdict);
  const m = checked.matches.find((x) => x.incident_id === inc.id);
  assert(m && m.action === 'log' && m.incident_action === 'block', 'the match names the incident: ' +
    JSON.stringify(checked.matches));
  const intake = await upload('/v1/content?content_id=incident-browser-1');
  assert(intake.verdict === 'block', 'async intake is blocked: ' + intake.verdict);
  ok('a hash meeting the filter added by hand; the upload check and intake of that file blocked at once');

  // The console's live figures, chart and sources.
  await page.click('#incidents-refresh');
  await page.waitForFunction(() => {
    const b = document.getElementById('incident-blocks');
    return b && b.textContent.trim() === '2';
  });
  assert((await page.textContent('#incident-signals')).trim() === '1', 'one hash meets the filter');
  assert((await page.textContent('#incident-matches')).trim() === '2', 'two matches');
  const firstBlock = (await page.textContent('#incident-first-block')).trim();
  assert(/^\d+\.\d{3} s$/.test(firstBlock), 'time from first hash to first block shown: ' + firstBlock);
  const bars = await page.evaluate(() => [...document.querySelectorAll('#incident-chart svg rect.chart-match')]
    .map((r) => Number(r.getAttribute('data-matches'))));
  assert(bars.reduce((a, b) => a + b, 0) === 2 && bars.length >= 1, 'the chart has the 2 matches: ' + bars);
  assert((await page.textContent('#incident-sources')).includes('manual'), 'the source is listed');
  const live = await must(200, 'GET', '/v1/incidents/' + inc.id, A);
  assert(live.figures.blocks === 2 && live.figures.signals === 1, 'API figures agree: ' + JSON.stringify(live.figures));
  ok('figures on the page: 1 hash, 2 matches, 2 blocked, first hash to first block ' + firstBlock +
    ', a bar chart of matches per hour, source manual (API agrees)');

  // Close, then both reports.
  assert(await page.isDisabled('#incident-report-json'), 'no report while open');
  await page.click('#incident-close');
  // Closed: the close form goes, the status says so, the report buttons come on.
  await page.waitForFunction(() => !document.getElementById('incident-report-json').disabled &&
    /closed/.test(document.getElementById('status').textContent));
  assert(await page.isHidden('#incident-close-form'), 'no close button on a closed incident');
  const closed = await must(200, 'GET', '/v1/incidents/' + inc.id, A);
  assert(closed.state === 'closed', 'API: the incident is closed');
  const [dlJson] = await Promise.all([page.waitForEvent('download'), page.click('#incident-report-json')]);
  const report = JSON.parse(fs.readFileSync(await dlJson.path(), 'utf8'));
  assert(report.summary.blocks === 2 && report.summary.signals === 1 && report.incident.id === inc.id,
    'the JSON report: ' + JSON.stringify(report.summary));
  const [dlMd] = await Promise.all([page.waitForEvent('download'), page.click('#incident-report-md')]);
  const md = fs.readFileSync(await dlMd.path(), 'utf8');
  assert(md.includes('# After-action report: Browser attack test') && md.includes('| blocks | 2 |'),
    'the Markdown report: ' + md.slice(0, 200));
  assert(dlMd.suggestedFilename() === 'incident-' + inc.id + '-report.md', 'the file name: ' + dlMd.suggestedFilename());
  ok('closed incident #' + inc.id + ' from the console (API: closed); downloaded its report as JSON and Markdown');
}

// ---- the test ----

// ---- evidence orders (the legal officers' view) ----

async function signInAs(page, key) {
  if (await page.isVisible('#signout')) await page.click('#signout');
  await page.fill('#key', key);
  await page.press('#key', 'Enter');
  await page.waitForSelector('#views:not([hidden])');
}

async function setPurpose(page, purpose) {
  await page.waitForSelector('#purpose-form:not([hidden])');
  await page.fill('#purpose', purpose);
  await page.click('#purpose-form button[type="submit"]');
  await page.waitForSelector('#purpose-shown:not([hidden])');
  const shown = (await page.textContent('#purpose-text')).trim();
  assert(shown === purpose, 'the purpose is shown: ' + shown);
}

// Waits for a form's inline answer (error or success) and returns [kind, text].
async function inlineAnswer(page, form) {
  const sel = form + ' .inline-error:not([hidden]), ' + form + ' .inline-ok:not([hidden]), ' +
    form + ' #eo-delivery:not([hidden])';
  const el = page.locator(sel).first();
  await el.waitFor();
  const cls = (await el.getAttribute('class')) || '';
  const id = (await el.getAttribute('id')) || '';
  return [cls.includes('inline-error') ? 'error' : id === 'eo-delivery' ? 'delivery' : 'ok',
    (await el.textContent()).trim()];
}

// The conformance images (Makefile: CONFORMANCE), beside the checkout by default.
const CONFORMANCE = process.env.TD_CONFORMANCE || path.join(__dirname, '..', '..', '..', 'shared', 'conformance');

// A reported message from an end-to-end encrypted conversation (docs/e2ee.md), built here as a
// messaging client would with Node's own crypto (an implementation independent of takedown's):
// an AES-256-GCM attachment, the tdfm1 envelope committing to it, the franking tag; franked by the
// messaging server at delivery, then reported. The console lists it, shows the text defanged on
// request, the image blurred and greyscale until revealed, and decides its case.
async function reportedMessages(page, A) {
  const platform = (await must(201, 'POST', '/v1/keys', A, { role: 'platform', name: 'messaging-server' })).key;
  const image = fs.readFileSync(path.join(CONFORMANCE, 'threatexchange', 'pdq', 'data', 'reg-test-input',
    'pen-and-coaster.png'));
  const video = fs.readFileSync(path.join(CONFORMANCE, 'threatexchange', 'tmk', 'sample-videos',
    'test-padded-dimensions.mp4'));
  const seal = (plain) => {
    const k = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(12);
    const gcm = crypto.createCipheriv('aes-256-gcm', k, nonce);
    return { key: k, blob: Buffer.concat([nonce, gcm.update(plain), gcm.final(), gcm.getAuthTag()]) };
  };
  const atts = [seal(image), seal(video)];
  const text = 'Join us: https://recruit.example/join and share <b id="injected-report">this</b>';
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const sha = (b) => crypto.createHash('sha256').update(b).digest();
  const envelope = Buffer.concat([Buffer.from('tdfm1'), u32(Buffer.byteLength(text)), Buffer.from(text),
    u32(atts.length), ...atts.flatMap((a) => [sha(a.blob),
      sha(Buffer.concat([Buffer.from('takedown-attachment-key-v1'), a.key]))])]);
  const salt = crypto.randomBytes(16);
  const tag = crypto.createHmac('sha256', salt).update(envelope).digest('hex');
  const ctx = { sender: 'user-666', conversation: 'room-42', accepted_ms: Date.now() };
  const proof = await must(200, 'POST', '/v1/frank', platform, Object.assign({ franking_tag: tag }, ctx));
  const answer = await must(201, 'POST', '/v1/reports', platform, {
    reporter: 'user-7', reason: 'recruitment',
    messages: [Object.assign({ text,
      attachments: atts.map((a) => ({ blob: a.blob.toString('base64'), key: a.key.toString('hex') })),
      salt: salt.toString('hex'), key_id: proof.key_id, frank: proof.frank, signature: proof.signature }, ctx)],
  });
  const rep = answer.reports[0];
  assert(rep.report_id && rep.case_id, 'the report verified and opened a case: ' + JSON.stringify(answer));
  ok('API setup: a message franked at delivery and reported (report #' + rep.report_id + ', case #' + rep.case_id + ')');

  await page.click('nav button[data-view="reports"]');
  const row = page.locator('tr[data-report-id="' + rep.report_id + '"]');
  await row.waitFor();
  const rowText = await row.textContent();
  for (const want of ['user-666', 'room-42']) assert(rowText.includes(want), 'the row shows ' + want + ': ' + rowText);
  await row.locator('button', { hasText: 'Open report #' + rep.report_id }).click();
  await page.waitForSelector('#report-detail:not([hidden])');
  assert((await page.textContent('#report-facts')).includes(rep.content_id), 'the report shows its content id');
  assert(!(await page.isVisible('pre.reported-text')), 'the message is not shown before it is asked for');
  assert(await page.isVisible('#report-case article.case[data-case-id="' + rep.case_id + '"]'), 'its case is shown beside it');
  ok('report #' + rep.report_id + ' listed (sender, conversation) and opened with its case; the message not yet read');

  await page.click('#report-show-text');
  const shown = await page.locator('pre.reported-text').textContent();
  assert(shown.includes('hxxps[:]//recruit[.]example/join'), 'the text is defanged: ' + shown);
  assert(!shown.includes('https://recruit.example'), 'no live address is left: ' + shown);
  assert(shown.includes('<b id="injected-report">'), 'markup in the message is shown as text');
  assert((await page.evaluate(() => document.getElementById('injected-report'))) === null, 'and never becomes markup');
  assert((await page.locator('#report-message a').count()) === 0, 'no link in the message');
  ok('the message shown on request, defanged and as text: "' + shown.trim() + '"');

  await page.click('button:has-text("Show attachment 1")');
  const img = page.locator('#report-att-0 img.shielded');
  await img.waitFor();
  await page.waitForFunction(() => {
    const i = document.querySelector('#report-att-0 img');
    return i && i.complete && i.naturalWidth > 0;
  });
  const filterOf = () => page.evaluate(() => getComputedStyle(document.querySelector('#report-att-0 img')).filter);
  const blurred = await filterOf();
  assert(/blur/.test(blurred) && /grayscale/.test(blurred), 'the image is blurred and greyscale: ' + blurred);
  await page.click('button:has-text("Reveal attachment 1")');
  assert((await filterOf()) === 'none', 'revealed, the image is shown as it is');
  await page.click('button:has-text("Blur attachment 1")');
  assert(/blur/.test(await filterOf()), 'blurred again on request');
  ok('the attachment (a PNG) decoded and shown blurred and greyscale (' + blurred + '), revealed and blurred again');

  await page.click('button:has-text("Show attachment 2")');
  const vid = page.locator('#report-att-1 video.shielded');
  await vid.waitFor();
  const v = await page.evaluate(() => {
    const el = document.querySelector('#report-att-1 video');
    return { muted: el.muted, autoplay: el.autoplay, paused: el.paused, filter: getComputedStyle(el).filter };
  });
  assert(v.muted && !v.autoplay && v.paused, 'the video is muted, not autoplayed, paused: ' + JSON.stringify(v));
  assert(/blur/.test(v.filter) && /grayscale/.test(v.filter), 'the video is blurred and greyscale: ' + v.filter);
  ok('the second attachment (an MP4) shown as a muted, paused video, blurred and greyscale (' + v.filter + ')');

  // Revealed, then the report opened again: nothing stays revealed.
  await page.click('button:has-text("Reveal attachment 1")');
  assert((await filterOf()) === 'none', 'revealed again');
  await row.locator('button', { hasText: 'Open report #' + rep.report_id }).click();
  await page.waitForFunction(() => !document.querySelector('#report-attachments img, #report-attachments video'));
  assert((await page.locator('.shielded.revealed').count()) === 0, 'no revealed item after the report is opened again');
  ok('opening the report again shows no media until asked, nothing revealed');

  const kase = page.locator('#report-case article.case[data-case-id="' + rep.case_id + '"]');
  await kase.locator('button', { hasText: 'Claim case #' + rep.case_id }).click();
  await page.waitForSelector('#decision-' + rep.case_id);
  await page.selectOption('#decision-' + rep.case_id, 'remove');
  await page.fill('#reason-' + rep.case_id, 'recruitment for a terrorist group');
  await page.click('button:has-text("Decide case #' + rep.case_id + '")');
  await page.waitForSelector('#report-message p.muted');
  const c = await must(200, 'GET', '/v1/cases/' + rep.case_id, A);
  assert(c.state === 'closed', 'API: the case is closed: ' + JSON.stringify(c));
  const open = await must(200, 'GET', '/v1/reports?open=1', A);
  assert(!open.reports.some((x) => x.report_id === rep.report_id), 'API: the report left the open list');
  assert(!(await page.isVisible('tr[data-report-id="' + rep.report_id + '"]')), 'and the console\'s list');
  await must(404, 'GET', '/v1/reports/' + rep.report_id + '/text', A);
  ok('case #' + rep.case_id + ' decided remove from the report (API: closed; review copy gone, off the open list)');
}

async function evidenceOrders(page, A, shares) {
  const key = async (role, name) => (await must(201, 'POST', '/v1/keys', A, { role, name })).key;
  const keyRow = async (role, name) => must(201, 'POST', '/v1/keys', A, { role, name });
  const legal1 = await key('legal', 'legal-anna');
  const legal2 = await key('legal', 'legal-ben');
  const auditor = await key('auditor', 'auditor-1');
  const platform = await key('platform', 'upload-service');
  const alice = await key('custodian', 'alice');
  const bob = await key('custodian', 'bob');

  // The issuing prosecutor: an evidence authority with an Ed25519 key, its API key linked.
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const staKey = await keyRow('authority', 'sta-berlin-desk');
  const sta = await must(201, 'POST', '/v1/authorities', A, {
    name: 'Staatsanwaltschaft Berlin', kind: 'evidence', member_state: 'DE', contact: 'desk@sta.example',
    public_key: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    announced_at: new Date(Date.now() - 48 * 3600 * 1000).toISOString(),
  });
  await must(201, 'POST', '/v1/authorities/' + sta.id + '/keys', A, { key_id: staKey.id });
  const recipient = crypto.generateKeyPairSync('x25519').publicKey
    .export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const send = async (doc) => must(201, 'POST', '/v1/evidence-orders', staKey.key, doc,
    { 'Takedown-Signature': 'ed25519=' + crypto.sign(null, Buffer.from(doc), privateKey).toString('base64') });
  // Text that looks like HTML, to see it shown as text.
  const trap = 'Participation in a terrorist group <img src="x" id="injected">';
  const o1 = await send(epocDoc('StA-2026-1000', ['subscriber', 'content'], recipient,
    'Participation in a terrorist group'));
  const o2 = await send(epocDoc('StA-2026-1001', ['subscriber', 'traffic'], recipient, trap));
  assert(/^eo-/.test(o1.id) && /^eo-/.test(o2.id), 'receipts with ids: ' + o1.id + ' ' + o2.id);

  // The platform's data for the first order: a subscriber record and a content record, sealed.
  const content = 'propaganda post 42';
  const contentSha = crypto.createHash('sha256').update(content).digest('hex');
  const put = await must(200, 'PUT', '/v1/evidence-orders/' + o1.id + '/data', platform, {
    records: [
      { category: 'subscriber', identifier: 'u-1234', fields: { name: 'A. User', contact: 'a@user.example' } },
      { category: 'content', identifier: 'u-1234', at: new Date(Date.now() - 3 * 86400000).toISOString(),
        content_base64: Buffer.from(content).toString('base64'), content_type: 'text/plain' }],
  });
  assert(put.sealed === 2 && put.state === 'preserved', 'the platform\'s data is sealed: ' + JSON.stringify(put));
  ok('API setup: evidence authority (DE, Ed25519, key linked), signed EPOCs ' + o1.id + ' and ' + o2.id +
    ', the platform PUT 2 records of ' + o1.id + ' (preserved)');

  // A legal officer signs in: only the evidence-order view is offered; it asks for the purpose.
  await signInAs(page, legal1);
  await page.waitForSelector('#view-eorders:not([hidden])');
  assert(await page.isVisible('nav button[data-view="eorders"]'), 'Evidence orders is offered');
  for (const v of ['queue', 'orders', 'banks'])
    assert(!(await page.isVisible('nav button[data-view="' + v + '"]')), v + ' is not offered to legal');
  assert(!(await page.isVisible('#eorders-main')), 'nothing is read before the purpose is given');
  assert((await page.textContent('#who')).trim() === 'Signed in as legal', 'the role is shown');
  const purpose = 'console test: daily review of open orders';
  await setPurpose(page, purpose);
  const row1 = page.locator('tr[data-eorder-id="' + o1.id + '"]');
  await row1.waitFor();
  const next = row1.locator('.eo-left');
  const c1 = (await next.textContent()).trim();
  assert(/^due: 9d 23:5\d:\d\d left$/.test(c1), 'a countdown to the production deadline: ' + c1);
  await page.waitForFunction(([id, first]) => {
    const el = document.querySelector('tr[data-eorder-id="' + id + '"] .eo-left');
    return el && el.textContent.trim() !== first;
  }, [o1.id, c1]);
  const c2 = (await next.textContent()).trim();
  const rowText = await row1.textContent();
  for (const want of ['EPOC', 'DE', 'StA-2026-1000', 'preserved', 'level 0', 'none'])
    assert(rowText.includes(want), 'the row shows ' + want + ': ' + rowText);
  assert((await row1.locator('.eo-approvals').textContent()).trim() === '0/2', 'approvals 0/2');
  const ids = await page.locator('#eorders-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.eorderId));
  assert(ids.indexOf(o1.id) >= 0 && ids.indexOf(o1.id) < ids.indexOf(o2.id),
    'earliest deadline first: ' + ids.join(', '));
  ok('legal officer: only "Evidence orders" offered; purpose asked and shown; ' + o1.id +
    ' listed with a live countdown (' + c1 + ' -> ' + c2 + '), approvals 0/2, level 0, no holds');

  // The detail: sections, identifiers, deadlines, records (digests only), messages.
  await row1.locator('button', { hasText: 'Details of ' + o1.id }).click();
  await page.waitForSelector('#eorder-detail:not([hidden])');
  await page.waitForSelector('#eorder-records tr');
  const sections = await page.textContent('#eorder-sections');
  for (const want of ['Staatsanwaltschaft Berlin', 'Amtsgericht Tiergarten', 'ten_days_asap',
    'subscriber, content', '129a StGB', 'exec@sta.example', recipient])
    assert(sections.includes(want), 'the sections show ' + want + ': ' + sections);
  const idText = await page.textContent('#eorder-identifiers');
  assert(idText.includes('u-1234') && idText.includes('203.0.113.7') && idText.includes('51234'),
    'the identifiers: ' + idText);
  assert(/due: 9d .* left/.test(await page.textContent('#eorder-deadlines tr[data-clock="due"]')),
    'the due clock counts down in the detail');
  const shas = await page.locator('#eorder-records td.sha').allTextContents();
  assert(shas.length === 2 && shas.includes(contentSha), 'two records, one with the content\'s SHA-256: ' + shas);
  assert(!(await page.textContent('#eorder-records')).includes(content), 'never the content itself');
  assert((await page.textContent('#eorder-messages')).includes('data_preserved'), 'the data_preserved message');
  ok('detail of ' + o1.id + ': sections A-L, identifiers, deadlines, 2 records with SHA-256 (content ' +
    contentSha.slice(0, 12) + '…), the data_preserved message');

  // Approve (1 of 2), then deliver too early: the API's error is shown in the form.
  await page.fill('#eo-approve-note', 'in scope, checked against the certificate');
  await page.click('#eo-approve-form button[type="submit"]');
  let [kind, text] = await inlineAnswer(page, '#eo-approve-form');
  assert(kind === 'ok' && /1 of 2/.test(text), 'first approval: ' + text);
  const deliveryPath = '/v1/evidence-orders/' + o1.id + '/delivery';
  await page.click('#eo-deliver-form button[type="submit"]');
  [kind, text] = await inlineAnswer(page, '#eo-deliver-form');
  let api = await call('POST', deliveryPath, legal1);
  assert(api.status >= 400 && kind === 'error' && text.includes('Error ' + api.status + ': ' + api.json.error.message),
    'a delivery before the approvals shows the API\'s error (' + api.status + ' ' + api.json.error.message + '): ' + text);
  const early = text;
  ok('approved 1 of 2 from the console; deliver too early shows "' + early + '"');

  // A second legal officer approves: the delivery is approved, a release request opens.
  await page.click('#signout');
  await signInAs(page, legal2);
  await setPurpose(page, purpose + ' (second officer)');
  assert(!(await page.isVisible('#eorder-detail')) &&
    (await page.locator('#eorder-records tr').count()) === 0, 'sign-out forgot the order shown');
  await page.locator('tr[data-eorder-id="' + o1.id + '"] button').click();
  await page.waitForSelector('#eorder-detail:not([hidden])');
  await page.click('#eo-approve-form button[type="submit"]');
  [kind, text] = await inlineAnswer(page, '#eo-approve-form');
  assert(kind === 'ok' && /2 of 2/.test(text) && /release request #\d+/.test(text), 'second approval: ' + text);
  const approved = await must(200, 'GET', '/v1/evidence-orders/' + o1.id + '?purpose=check', legal1);
  assert(approved.state === 'approved' && approved.approvals === 2 && approved.release_request,
    'API: approved by two: ' + JSON.stringify(approved.state) + ' ' + approved.approvals);
  await page.waitForFunction((id) => {
    const c = document.querySelector('tr[data-eorder-id="' + id + '"] .eo-approvals');
    return c && c.textContent.trim() === '2/2';
  }, o1.id);
  ok('a second legal officer approved (2 of 2, list 2/2); API: state approved, release request #' +
    approved.release_request);

  // Before the custodians: deliver answers 409, shown in the form.
  await page.click('#eo-deliver-form button[type="submit"]');
  [kind, text] = await inlineAnswer(page, '#eo-deliver-form');
  api = await call('POST', deliveryPath, legal1);
  assert(kind === 'error' && text.includes('Error ' + api.status + ': ' + api.json.error.message),
    'deliver before the custodians shows the API\'s error: ' + text);
  assert(api.status === 409, 'deliver before the custodians is 409: ' + api.status + ' ' + api.text);
  ok('deliver before the custodians shows "' + text + '"');

  // Two custodians approve the release; deliver shows the package's digest, size and URL.
  for (const [k, share] of [[alice, shares.alice], [bob, shares.bob]])
    await must(200, 'POST', '/v1/evidence/releases/' + approved.release_request + '/approvals', k, { share });
  await page.click('#eo-deliver-form button[type="submit"]');
  [kind, text] = await inlineAnswer(page, '#eo-deliver-form');
  assert(kind === 'delivery', 'the delivery answer: ' + text);
  const sha = (await page.textContent('.eo-package-sha')).trim();
  const bytes = (await page.textContent('.eo-package-bytes')).trim();
  const url = (await page.textContent('.eo-package-url')).trim();
  assert(/^[0-9a-f]{64}$/.test(sha) && /^\d+ bytes$/.test(bytes) && url === '/v1/evidence-orders/' + o1.id + '/package',
    'package digest, size and URL: ' + sha + ' ' + bytes + ' ' + url);
  const pkg = await fetch(base + url, { headers: { Authorization: 'Bearer ' + staKey.key } });
  const body = Buffer.from(await pkg.arrayBuffer());
  assert(pkg.status === 200 && crypto.createHash('sha256').update(body).digest('hex') === sha &&
    bytes === body.length + ' bytes', 'the authority fetches the package shown: ' + pkg.status);
  ok('custodians approved; delivered from the console: package ' + sha.slice(0, 12) + '…, ' + bytes +
    ', ' + url + ' (fetched by the authority, same digest and size)');

  // Annex III on the second order: the conflict-of-law fields only with that reason; an empty
  // one is the API's error in the form; then sent, the order is paused.
  await page.locator('tr[data-eorder-id="' + o2.id + '"] button').click();
  await page.waitForFunction((id) => document.getElementById('eorder-detail-title').textContent.includes(id), o2.id);
  assert((await page.textContent('#eorder-sections')).includes(trap), 'HTML-like text from the API is shown as text');
  assert((await page.locator('#injected').count()) === 0, 'and never parsed as HTML');
  assert((await page.locator('#eo-cc-reason option:not([value=""])').count()) === 10, 'ten Annex III reasons');
  assert(!(await page.isVisible('#eo-cc-conflict')), 'no conflict-of-law fields by default');
  await page.selectOption('#eo-cc-reason', 'conflict_of_law');
  assert(await page.isVisible('#eo-cc-conflict'), 'conflict-of-law fields shown for conflict_of_law');
  assert((await page.locator('#eo-cc-conflict input, #eo-cc-conflict textarea').count()) === 6, 'six fields');
  await page.fill('#eo-cc-explanation', 'Disclosure would breach a third country\'s law.');
  await page.fill('#eo-cc-third_country', 'US');
  await page.fill('#eo-cc-provisions', '18 U.S.C. 2702');
  await page.fill('#eo-cc-nature_of_obligation', 'A prohibition to disclose content');
  await page.fill('#eo-cc-why_applies', 'The data is stored by a US provider');
  await page.fill('#eo-cc-link_to_country', 'The user is a US person');
  await page.click('#eo-cc-form button[type="submit"]');
  [kind, text] = await inlineAnswer(page, '#eo-cc-form');
  assert(kind === 'error' && /^Error 4\d\d: .*consequences/.test(text), 'an empty field is the API\'s error: ' + text);
  const ccError = text;
  await page.fill('#eo-cc-consequences', 'Penalties for the operator');
  await page.selectOption('#eo-cc-reason', 'data_not_held');
  assert(!(await page.isVisible('#eo-cc-conflict')), 'conflict-of-law fields hidden for other reasons');
  await page.fill('#eo-cc-explanation', 'No account u-1234 exists on the service.');
  await page.click('#eo-cc-form button[type="submit"]');
  await page.waitForSelector('#eo-cc-form .inline-ok:not([hidden])');
  text = (await page.textContent('#eo-cc-form .inline-ok')).trim();
  assert(/paused/.test(text), 'cannot comply answered: ' + text);
  const row2 = page.locator('tr[data-eorder-id="' + o2.id + '"]');
  await page.waitForFunction((id) => {
    const r = document.querySelector('tr[data-eorder-id="' + id + '"]');
    return r && r.querySelector('.eo-state').textContent.trim() === 'paused';
  }, o2.id);
  const holds = (await row2.locator('.eo-holds').textContent()).trim();
  assert(/^paused since \S+Z/.test(holds), 'the paused hold in the list: ' + holds);
  assert(/paused: no deadline/.test(await row2.locator('.eo-next').textContent()), 'no countdown while paused');
  const paused = await must(200, 'GET', '/v1/evidence-orders/' + o2.id + '?purpose=check', legal1);
  assert(paused.state === 'paused' && paused.reason === 'data_not_held', 'API: paused, data_not_held: ' + paused.state);
  // The open order is read again after the action: wait for its messages to show the answer.
  await page.waitForFunction(() => {
    const m = document.getElementById('eorder-messages');
    return m && m.textContent.includes('non_execution');
  });
  ok('the Annex III message is listed');
  ok('Annex III for ' + o2.id + ': 10 reasons, conflict-of-law fields only with conflict_of_law, an empty one ' +
    'is the API\'s error inline ("' + ccError + '"), then data_not_held: paused, the list shows "' + holds + '"');

  // Correspondence to the issuing authority, listed with its state.
  await page.selectOption('#eo-corr-kind', 'request_additional_information');
  await page.fill('#eo-corr-text', 'Please give the account name as well.');
  await page.click('#eo-corr-form button[type="submit"]');
  await page.waitForSelector('#eo-corr-form .inline-ok:not([hidden])');
  await page.waitForFunction(() => [...document.querySelectorAll('#eorder-messages .eo-msg-kind')]
    .some((c) => c.textContent === 'correspondence'));
  const msgs = await must(200, 'GET', '/v1/evidence-orders/' + o2.id + '/messages?purpose=check', legal1);
  assert(msgs.messages.some((m) => m.kind === 'correspondence'), 'API: a correspondence message');
  ok('correspondence queued from the console and listed with its state');

  // An auditor: the view is not offered; reached by its address, the API's 403 is shown.
  await page.click('#signout');
  await signInAs(page, auditor);
  await page.waitForSelector('#view-queue:not([hidden])');
  assert(!(await page.isVisible('nav button[data-view="eorders"]')), 'Evidence orders not offered to an auditor');
  await page.evaluate(() => { location.hash = '#eorders'; });
  await page.waitForSelector('#eorders-denied:not([hidden])');
  const denied = (await page.textContent('#eorders-denied')).trim();
  const expect403 = (await call('GET', '/v1/evidence-orders?open=1&purpose=x', auditor)).json.error.message;
  assert(denied.includes('Error 403: ' + expect403), 'the API\'s 403 is shown: ' + denied);
  assert(!(await page.isVisible('#purpose-form')) && !(await page.isVisible('#eorders-main')), 'no purpose asked, nothing read');
  ok('auditor: view not offered; at #eorders the API\'s 403 is shown: "' + denied + '"');

  // An admin reads them too (and is told approvals are for legal officers).
  await page.click('#signout');
  await signInAs(page, A);
  await page.click('nav button[data-view="eorders"]');
  await setPurpose(page, 'console test: admin check');
  await page.locator('tr[data-eorder-id="' + o2.id + '"] button').click();
  await page.waitForSelector('#eo-approve-role:not([hidden])');
  ok('admin: the view is offered, with the note that approvals are for legal officers');
}

async function main() {
  if (!binary) throw new Error('usage: node console_test.js PATH/TO/takedown');
  assert(fs.existsSync(binary), 'the binary ' + binary + ' exists');
  assert(fs.existsSync(chromiumPath), 'Chromium at ' + chromiumPath + ' (Debian package chromium)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'takedown-browser-'));
  let srv = null, browser = null;
  try {
    const shares = await evidenceInit(path.join(dataDir, 'data'));
    srv = await startServer(path.join(dataDir, 'data'));
    base = srv.url;
    const A = srv.key;
    ok('takedown evidence init (2 of alice, bob, carol), then takedown serve started on ' + base +
      ' with a fresh data directory');

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

    await reportedMessages(page, A);
    await evidenceOrders(page, A, shares);
    await signInAs(page, A);
    await incidentsView(page, A);
    await exchangesView(page, A);

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
    // Found and measured in one evaluation: the list may be re-rendered between two steps.
    const colour = await page.evaluate((id) => {
      const el = document.querySelector('tr[data-order-id="' + id + '"].breached');
      return el ? getComputedStyle(el).backgroundColor : '';
    }, orderId);
    assert(colour && colour !== 'rgba(0, 0, 0, 0)' && colour !== 'rgb(255, 255, 255)',
      'the breached row is coloured: ' + colour);
    ok('after the deadline: API breached_at ' + late.breached_at + ', the row marked BREACHED (' + colour + ')');

    const csp = problems.filter((p) => /Content Security Policy|Refused to/.test(p));
    assert(csp.length === 0, 'no CSP violation: ' + csp.join('; '));
    const other = problems.filter((p) => !/Failed to load resource/.test(p));
    assert(other.length === 0, 'no script error: ' + other.join('; '));
    ok('no Content-Security-Policy violation and no script error in the page');

    await page.click('#signout');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.key'))) === null, 'sign out forgets the key');
    assert((await page.evaluate(() => sessionStorage.getItem('takedown.purpose'))) === null, 'and the purpose');
    ok('sign out forgets the key and the purpose of evidence-order reads');
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
