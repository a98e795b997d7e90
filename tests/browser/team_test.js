#!/usr/bin/env node
// Browser test of the console's team views (web/team.js, web/charts.js; docs/console.md "Team
// views"): the real `takedown serve` (tests/browser/harness.js) with an evidence master key,
// data set up through the API, Debian's Chromium driving every view and action through the UI,
// each result checked through the API: banks (create, edit, paste hashes, upload media, import
// with its progress bar, export, disable a signal), keys (create, the secret shown once, revoke:
// refused afterwards), webhooks (create, delivery log, delete), authorities, orders (detail,
// countdown, cannot comply, a breach shown, a referral decided, a complaint decided), evidence (retention, hold,
// a release request approved by two custodians with their shares, released), the audit log
// (checkpoint signature and an inclusion proof verified in the browser; a tampered signature and
// a tampered proof reported as failing), the transparency report's charts against the API's
// figures and its downloads, live figures from /metrics (stopped on leaving), incidents (a hash
// by hand blocking uploads at once, the figures), exchanges (a url_list pulled, pulled again,
// disabled), reported messages (image, video, the case decided) and evidence orders (two legal
// officers, delivery and its package, Annex III, correspondence); an auditor sees no action and a forced
// one shows the API's 403; a custodian sees only the approvals view. Screenshots at 1280x800
// and 390 px wide.
//
// Usage: node team_test.js PATH/TO/takedown [--chromium /usr/bin/chromium]
'use strict';

const crypto = require('node:crypto');
const zlib = require('node:zlib');
const path = require('node:path');
const H = require('./harness.js');
const { ok, assert, call, must } = H;

// ---- data ----

// The conformance files (Makefile: CONFORMANCE), beside the checkout by default.
const CONFORMANCE = process.env.TD_CONFORMANCE || path.join(H.ROOT, '..', 'shared', 'conformance');
const VIDEO = path.join(CONFORMANCE, 'threatexchange', 'tmk', 'sample-videos', 'chair-19-sd-bar.mp4');

// A PNG the server can hash (PDQ needs a real image): 64x64 RGB, a gradient with a square.
function png(tint = 0) {
  const w = 64, hgt = 64;
  const raw = Buffer.alloc((w * 3 + 1) * hgt);
  for (let y = 0; y < hgt; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      const sq = x > 16 && x < 40 && y > 20 && y < 50;
      raw[o] = sq ? 250 : x * 4;
      raw[o + 1] = sq ? 20 : y * 4;
      raw[o + 2] = (x * y + tint) & 255;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(hgt, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function orderDoc(type, authority, reference, contentId) {
  const d = {
    type, reference, issued_at: new Date(Date.now() - 60000).toISOString(),
    content: [{ content_id: contentId, url: 'https://platform.example/' + contentId }],
    reason: { category: 'a', statement: 'Incitement to commit a terrorist offence' },
    issuing_authority: { name: authority, contact: 'ops@authority.example' },
  };
  if (type === 'removal_order') {
    Object.assign(d, { issuing_member_state: 'DE', addressee: 'Example Platform Ltd', do_not_inform: false,
      cross_border: false, follow_up_contact: 'desk@authority.example', redress: 'Verwaltungsgericht Wiesbaden' });
  } else delete d.reason.category;
  return JSON.stringify(d);
}

const hex = (n) => crypto.randomBytes(n).toString('hex');

// The JSON EPOC of docs/evidence-orders.md: a prosecutor's order validated by a court.
function epocDoc(reference, recipientKey, categories, offence) {
  const t = (ms) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const day = 86400000;
  return JSON.stringify({
    framework: 'eu_epoc',
    A: { issuing_state: 'DE', issuing_authority: { name: 'Staatsanwaltschaft Berlin', type: 'public_prosecutor', file_number: reference },
      validating_authority: { name: 'Amtsgericht Tiergarten', type: 'judge_or_court', file_number: 'AG-352' }, issued_at: t(-3600000) },
    B: { addressee: 'Example Platform Ltd', establishment: 'designated_establishment', member_state: 'IE' },
    C: { deadline: 'ten_days_asap' },
    E: { identifiers: [{ type: 'user_id', value: 'u-1234' }], time_range: { from: t(-30 * day), to: t(day) } },
    F: { data_categories: categories },
    G: { offence, legal_classification: '129a StGB', max_penalty_years: 10, listed_terrorism: true,
      summary: 'The account distributes propaganda.' },
    H: { user_information: 'restricted' },
    K: { contact: { name: 'Execution desk', email: 'exec@sta.example', phone: '+49 30 99' } },
    L: { recipient: 'Staatsanwaltschaft Berlin', member_state: 'DE', x25519_public_key: recipientKey },
  });
}

// ---- browser helpers ----

// Shows a view by its address. Right after a sign-in the shell may still be routing to the
// first view (it rewrites the address): the address is set again once that is done.
async function go(page, hash) {
  const id = hash.replace(/^#/, '').split('/')[0];
  for (let i = 0; ; i++) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    try {
      await page.waitForSelector('#view-' + id + ':not([hidden])', { timeout: 4000 });
      return;
    } catch (e) {
      if (i === 2) throw e;
    }
  }
}

// Submits an action form and waits for its outcome; returns [ok text, error text].
async function submit(page, formSel, expectError) {
  const form = page.locator(formSel);
  await form.locator('.form-actions button[type=submit]').click();
  const sel = expectError ? '.inline-error:not([hidden])' : '.inline-ok:not([hidden])';
  try {
    await form.locator(sel).first().waitFor();
  } catch (e) {
    const err = await form.locator('.inline-error').first().textContent().catch(() => '');
    throw new Error(formSel + ': no ' + (expectError ? 'error' : 'outcome') + ' shown (error: ' + err + ')');
  }
  return (await form.locator(sel).first().textContent()).trim();
}

// The nav links shown to the signed-in role.
async function navOf(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#nav-list li:not([hidden]) a')).map((a) => a.dataset.view));
}

// Texts of the buttons shown in the current view that change something.
const ACTION_WORDS = /^(Create|Revoke|Delete|Disable|Enable|Save|Approve|Release the|Close|Register|Link|Pull|Extend|Hold|Lift|Import|Upload|Add|Request|Open incident$|Send|Deliver|Decide|Ask|Reject)/;
async function actionButtons(page, viewId) {
  const texts = await page.$$eval('#view-' + viewId + ' button', (bs) => bs.filter((b) => b.offsetParent !== null).map((b) => b.textContent.trim()));
  return texts.filter((t) => ACTION_WORDS.test(t));
}

// Accessibility checks that need no library: unique ids, every visible control labelled (a
// <label for>, a wrapping label, aria-label or aria-labelledby), every button and link named.
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
      if (visible(b) && !(b.textContent.trim() || b.getAttribute('aria-label'))) out.push('a button or link without a name');
    }
    return out;
  });
  assert(bad.length === 0, where + ': ' + bad.join('; '));
}

// ---- the test ----

H.run('team', async (t) => {
  const A = t.admin;
  const keys = {};
  for (const [role, name] of [['moderator', 'mod-1'], ['auditor', 'aud-1'], ['custodian', 'alice'], ['custodian', 'bob'], ['legal', 'legal-1'], ['legal', 'legal-2']])
    keys[name] = await H.key(role, name);
  const pub = (await H.runCli(['audit', 'pubkey', '--data', t.dataDir])).out.trim().split(/\s+/).pop();
  assert(/^[0-9a-f]{64}$/.test(pub), 'takedown audit pubkey gives the log key: ' + pub);

  const page = await H.page(t.browser);
  await H.signIn(page, A);
  const adminNav = await navOf(page);
  for (const v of ['banks', 'orders', 'evidence', 'authorities', 'keys', 'webhooks', 'audit', 'transparency', 'live', 'incidents', 'exchanges', 'reports', 'eorders'])
    assert(adminNav.includes(v), 'the admin is offered ' + v + ': ' + adminNav);
  assert(!adminNav.includes('approvals'), 'the admin is not offered the custodians\' approvals');
  ok('admin nav: ' + adminNav.join(', '));

  // ---- banks ----
  await go(page, '#banks');
  await page.fill('#bank-create-name', 'TEAM_BANK');
  await page.selectOption('#bank-create-action', 'block');
  await page.fill('#bank-create-threshold', '20');
  await page.fill('#bank-create-labels', 'isis, propaganda');
  const made = await submit(page, '#bank-create');
  let bank = await must(200, 'GET', '/v1/banks/TEAM_BANK', A);
  assert(bank.threshold === 20 && bank.action === 'block' && bank.labels.includes('isis'), 'API: the bank as created: ' + JSON.stringify(bank));
  await page.fill('#bank-create-name', 'TEAM_BANK');
  const dup = await submit(page, '#bank-create', true);
  assert(/Error 409/.test(dup), 'a second bank of that name shows the API\'s 409 next to the button: ' + dup);
  ok('bank created through the UI ("' + made + '"), in GET /v1/banks/TEAM_BANK with threshold 20, block; a duplicate shows "' + dup + '"');

  await page.click('a[href="#banks/TEAM_BANK"]');
  await page.waitForSelector('#bank-edit');
  await page.fill('#bank-edit-threshold', '25');
  await page.selectOption('#bank-edit-action', 'review');
  await submit(page, '#bank-edit');
  bank = await must(200, 'GET', '/v1/banks/TEAM_BANK', A);
  assert(bank.threshold === 25 && bank.action === 'review', 'API: threshold and action edited: ' + JSON.stringify(bank));
  ok('threshold 25 and action review saved through PATCH: GET /v1/banks/TEAM_BANK agrees');

  const md5s = [hex(16), hex(16)];
  await page.waitForSelector('#bank-paste');
  await page.selectOption('#bank-paste-type', 'md5');
  await page.fill('#bank-paste-values', md5s.join('\n') + '\nnot-a-hash');
  const pasted = await submit(page, '#bank-paste');
  assert(/2 of 3 added/.test(pasted), 'two of three lines added: ' + pasted);
  const pasteErr = await page.locator('#bank-paste .inline-error').textContent();
  assert(/line 3/.test(pasteErr) && /Error 400/.test(pasteErr), 'the bad line is named with the API error: ' + pasteErr);
  await page.waitForSelector('#bank-upload');
  await page.setInputFiles('#bank-upload-file', { name: 'sample.png', mimeType: 'image/png', buffer: png() });
  const uploaded = await submit(page, '#bank-upload');
  assert(/signal\(s\) added/.test(uploaded) && /pdq/.test(uploaded), 'the media was hashed: ' + uploaded);
  const list = ['md5 ' + hex(16), 'sha256 ' + hex(32), 'pdq ' + hex(32), 'md5 ' + hex(16)].join('\n') + '\n';
  await page.waitForSelector('#bank-import');
  await page.setInputFiles('#bank-import-file', { name: 'list.txt', mimeType: 'text/plain', buffer: Buffer.from(list) });
  const imported = await submit(page, '#bank-import');
  const progress = await page.$eval('#import-progress', (p) => p.value);
  assert(/4 lines, 4 added/.test(imported) && progress === 100, 'the import answer and a full progress bar: ' + imported + ' / ' + progress);
  const sigs = (await must(200, 'GET', '/v1/banks/TEAM_BANK/signals?limit=100', A)).signals;
  for (const m of md5s) assert(sigs.some((s) => s.value === m), 'API: pasted hash ' + m + ' is a signal');
  assert(sigs.some((s) => s.type === 'pdq' && s.source === 'console'), 'API: the uploaded media\'s PDQ is a signal');
  assert(sigs.length >= 2 + 4 + 1, 'API: ' + sigs.length + ' signals');
  ok('signals added through the UI: pasted md5 (bad line named: "' + pasteErr.trim() + '"), media hashed ("' + uploaded + '"), list imported ("' + imported + '", progress 100%); GET signals has all ' + sigs.length);

  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#bank-export .form-actions button')]);
  const exported = require('node:fs').readFileSync(await dl.path(), 'utf8');
  const apiExport = (await call('GET', '/v1/banks/TEAM_BANK/export?format=te', A)).text;
  assert(exported === apiExport && exported.includes(md5s[0]), 'the downloaded export is the API\'s (' + exported.length + ' bytes)');
  ok('export downloaded as ' + dl.suggestedFilename() + ', the same bytes as GET /v1/banks/TEAM_BANK/export');

  const first = sigs.find((s) => s.value === md5s[0]);
  await page.click('button:has-text("Disable signal #' + first.id + '")');
  await page.waitForSelector('button:has-text("Enable signal #' + first.id + '")');
  const s1 = await must(200, 'GET', '/v1/banks/TEAM_BANK/signals/' + first.id, A);
  assert(s1.enabled === false, 'API: the signal is disabled');
  ok('signal #' + first.id + ' disabled through the UI: GET says enabled false');
  await page.evaluate(() => window.scrollTo(0, 0));
  await H.screenshot(page, 'team-banks', true);
  // The list's signal count is the API's.
  await page.click('#view-banks button:has-text("Refresh")');
  const bankCount = (await must(200, 'GET', '/v1/banks/TEAM_BANK', A)).signal_count;
  await page.waitForFunction((n) => {
    const c = document.querySelector('tr[data-bank="TEAM_BANK"] .signal-count');
    return c && c.textContent === String(n);
  }, bankCount);
  // An API error while signed in, in plain words: a bank deleted meanwhile, then opened.
  await must(201, 'POST', '/v1/banks', A, { name: 'GONE_BANK', action: 'log' });
  await must(204, 'DELETE', '/v1/banks/GONE_BANK', A);
  await go(page, '#banks/GONE_BANK');
  await page.waitForSelector('#view-banks p.inline-error[role="alert"]:not([hidden])');
  const gone = (await page.textContent('#view-banks p.inline-error[role="alert"]:not([hidden])')).trim();
  const goneApi = await call('GET', '/v1/banks/GONE_BANK', A);
  assert(goneApi.status === 404 && gone.includes('Error 404: ' + goneApi.json.error.message), 'the 404 is shown in words: ' + gone);
  ok('the bank list shows TEAM_BANK with the API\'s ' + bankCount + ' signals; a bank deleted meanwhile, opened, shows "' + gone + '"');

  // ---- keys ----
  await go(page, '#keys');
  await page.fill('#key-create-name', 'ui-moderator');
  await page.selectOption('#key-create-role', 'moderator');
  await submit(page, '#key-create');
  const secret = (await page.textContent('#key-secret-value')).trim();
  assert(/^tdk_[0-9a-f]{64}$/.test(secret), 'the secret is shown once: ' + secret.slice(0, 12) + '…');
  assert((await call('GET', '/v1/banks', secret)).status === 200, 'API: the new key works');
  const newKey = (await must(200, 'GET', '/v1/keys', A)).keys.find((k) => k.name === 'ui-moderator');
  assert(newKey && newKey.role === 'moderator' && !JSON.stringify(newKey).includes(secret), 'API: the key is listed, without its secret');
  page.once('dialog', (d) => d.accept());
  await page.click('button:has-text("Revoke key #' + newKey.id + '")');
  await page.waitForFunction((id) => {
    const row = document.querySelector('tr[data-key-id="' + id + '"] .key-revoked');
    return row && row.textContent !== 'no';
  }, newKey.id);
  assert((await call('GET', '/v1/banks', secret)).status === 401, 'API: the revoked key is refused');
  await go(page, '#banks');
  await go(page, '#keys');
  assert(!(await page.isVisible('#key-secret-value')), 'the secret is gone once the view was left');
  ok('key created through the UI (secret shown once, works), revoked through the UI: the API answers 401 to it');

  // ---- webhooks ----
  await go(page, '#webhooks');
  await page.fill('#webhook-create-url', 'https://hooks.example/takedown');
  await page.fill('#webhook-create-secret', 'a-secret-of-24-characters');
  await page.check('#wh-ev-remove');
  await page.check('#wh-ev-incident');
  await submit(page, '#webhook-create');
  let hooks = (await must(200, 'GET', '/v1/webhooks', A)).webhooks;
  const hook = hooks.find((w) => w.url === 'https://hooks.example/takedown');
  assert(hook && hook.events.length === 2 && hook.events.includes('incident'), 'API: the webhook with its two events: ' + JSON.stringify(hook));
  await page.click('button:has-text("Delivery log of #' + hook.id + '")');
  await page.waitForSelector('#webhook-log-title');
  page.once('dialog', (d) => d.accept());
  await page.click('button:has-text("Delete webhook #' + hook.id + '")');
  await page.waitForFunction((id) => !document.querySelector('tr[data-webhook="' + id + '"]'), hook.id);
  hooks = (await must(200, 'GET', '/v1/webhooks', A)).webhooks;
  assert(!hooks.some((w) => w.id === hook.id), 'API: the webhook is gone');
  ok('webhook created (events remove, incident), its delivery log shown, deleted: GET /v1/webhooks agrees');

  // ---- authorities ----
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const rawPk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const authKey = await H.key('authority', 'bka-desk');
  await go(page, '#authorities');
  await page.fill('#authority-create-name', 'BKA');
  await page.selectOption('#authority-create-kind', 'competent');
  await page.fill('#authority-create-member_state', 'de');
  await page.fill('#authority-create-contact', 'ops@bka.example');
  await page.fill('#authority-create-public_key', rawPk);
  await submit(page, '#authority-create');
  const auths = (await must(200, 'GET', '/v1/authorities', A)).authorities;
  const bka = auths.find((a) => a.name === 'BKA');
  assert(bka && bka.member_state === 'DE' && bka.public_key === rawPk, 'API: the authority: ' + JSON.stringify(bka));
  await page.fill('#authority-link-id', String(bka.id));
  await page.fill('#authority-link-key_id', String(authKey.id));
  await submit(page, '#authority-link');
  // A referral unit too, through the API.
  const iru = crypto.generateKeyPairSync('ed25519');
  const iruKey = await H.key('authority', 'iru-desk');
  const iruA = await must(201, 'POST', '/v1/authorities', A, { name: 'EU IRU', kind: 'referral_unit', member_state: 'NL', contact: 'iru@example.eu',
    public_key: iru.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex') });
  await must(201, 'POST', '/v1/authorities/' + iruA.id + '/keys', A, { key_id: iruKey.id });
  ok('authority BKA registered and its key linked through the UI: GET /v1/authorities has it (DE, the public key)');

  // ---- orders, referral, complaint ----
  const signed = (doc, k) => ({ 'Takedown-Signature': 'ed25519=' + crypto.sign(null, Buffer.from(doc), k).toString('base64') });
  await must(201, 'POST', '/v1/content', A, { content_id: 'post/1', uploader: 'u1', hashes: { md5: md5s[1] } });
  await must(201, 'POST', '/v1/content', A, { content_id: 'post/2', uploader: 'u2', hashes: { md5: hex(16) } });
  const d1 = orderDoc('removal_order', 'BKA', 'BKA-1', 'post/1');
  const o1 = await must(201, 'POST', '/v1/orders', authKey.key, d1, signed(d1, privateKey));
  const d2 = orderDoc('removal_order', 'BKA', 'BKA-2', 'post/2');
  const o2 = await must(201, 'POST', '/v1/orders', authKey.key, d2, signed(d2, privateKey));
  const d3 = orderDoc('referral', 'EU IRU', 'IRU-1', 'post/2');
  const r1 = await must(201, 'POST', '/v1/referrals', iruKey.key, d3, signed(d3, iru.privateKey));
  await must(200, 'POST', '/v1/orders/' + o1.id + '/confirm', A, { measure: 'removed', time: new Date().toISOString() });
  const complaint = await must(201, 'POST', '/v1/complaints', A, { content_id: 'post/1', text: 'This was a news report.' });
  ok('API setup: orders #' + o1.id + ' (confirmed) and #' + o2.id + ', referral #' + r1.id + ', complaint #' + complaint.id);

  await go(page, '#orders');
  await page.waitForSelector('tr[data-order-id="' + o2.id + '"] .countdown');
  const cd1 = await page.textContent('tr[data-order-id="' + o2.id + '"] .countdown');
  await page.waitForFunction(([s, t0]) => {
    const e = document.querySelector(s);
    return e && e.textContent !== t0;
  }, ['tr[data-order-id="' + o2.id + '"] .countdown', cd1]);
  assert(/^level \d+$/.test((await page.textContent('tr[data-order-id="' + o2.id + '"] td:nth-child(6)')).trim()), 'the row shows the escalation level');
  const cd2 = await page.textContent('tr[data-order-id="' + o2.id + '"] .countdown');
  assert(/left/.test(cd1) && cd1 !== cd2, 'the countdown runs: ' + cd1 + ' then ' + cd2);
  await page.click('a[href="#orders/' + o2.id + '"]');
  await page.waitForSelector('#order-cc');
  await page.selectOption('#order-cc-ground', 'missing_information');
  await page.fill('#order-cc-explanation', 'The URL does not resolve to any content on the service.');
  await page.click('#order-cc .form-actions button');
  await page.waitForFunction(() => /Sent; the order is paused/.test(document.getElementById('status').textContent));
  assert((await page.textContent('#order-detail .order-detail-state')) === 'paused', 'the detail shows the order paused');
  const o2s = await must(200, 'GET', '/v1/orders/' + o2.id, A);
  assert(o2s.state === 'paused' && o2s.cannot_comply && o2s.cannot_comply.ground === 'missing_information', 'API: order paused with the ground: ' + o2s.state);
  const targets = await page.textContent('#order-detail table');
  assert(targets.includes('post/2') && targets.includes('https://platform.example/post/2'), 'the detail lists the target: ' + targets);
  assert((await page.textContent('#order-detail dl.facts')).includes('BKA'), 'the detail shows the authority');
  const feedback = await page.textContent('#order-detail dl.order-feedback');
  const fbApi = await must(200, 'GET', '/v1/orders/' + o2.id + '/feedback', A);
  assert(feedback.includes('Time of receipt') && feedback.includes(fbApi.time_of_receipt), 'the detail shows the Annex II feedback: ' + feedback);
  ok('orders list with a running countdown (' + cd1 + ' → ' + cd2 + ') and the escalation level; the detail shows targets, authority and Annex II feedback (time of receipt as the API\'s); cannot-comply sent through the UI: the API has the order paused, ground missing_information');

  await page.uncheck('#orders-filter-open');
  await page.click('a[href="#orders/' + r1.id + '"]');
  await page.waitForSelector('#referral-decide');
  await page.selectOption('#referral-decide-decision', 'remove');
  await page.fill('#referral-decide-reason', 'Terrorist content under our terms of service.');
  await page.click('#referral-decide .form-actions button');
  await page.waitForFunction(() => /remove recorded/.test(document.getElementById('status').textContent));
  const r1s = await must(200, 'GET', '/v1/orders/' + r1.id, A);
  assert(r1s.state !== 'received', 'API: the referral is decided: ' + r1s.state);
  await page.fill('#complaint-find-id', String(complaint.id));
  await page.click('#complaint-find .form-actions button');
  await page.waitForSelector('#complaint-decide');
  await page.fill('#complaint-decide-reasons', 'Journalistic context: restored.');
  await page.check('#complaint-decide-upheld');
  await submit(page, '#complaint-decide');
  const cs = await must(200, 'GET', '/v1/complaints/' + complaint.id, A);
  assert(cs.state === 'upheld' && /Journalistic/.test(cs.reasons), 'API: the complaint is upheld: ' + JSON.stringify(cs));
  ok('referral #' + r1.id + ' decided (API state ' + r1s.state + ') and complaint #' + complaint.id + ' upheld through the UI');
  await page.evaluate(() => window.scrollTo(0, 0));
  await H.screenshot(page, 'team-orders', true);

  // ---- evidence: retention, hold, release with two custodians ----
  let cases = [];
  for (let i = 0; i < 40 && !cases.length; i++) {
    cases = (await must(200, 'GET', '/v1/evidence/cases', A)).cases;
    if (!cases.length) await new Promise((r) => setTimeout(r, 250));
  }
  assert(cases.length, 'API: the confirmed order made an evidence case');
  const ref = cases[0].case;
  await go(page, '#evidence/' + encodeURIComponent(ref));
  await page.waitForSelector('#evidence-extend');
  const until = new Date(Date.now() + 3 * 365 * 86400000).toISOString().slice(0, 10);
  await page.fill('#evidence-extend-until', until);
  await page.fill('#evidence-extend-reason', 'Request of BKA, letter 2026-17');
  await submit(page, '#evidence-extend');
  let c = await must(200, 'GET', '/v1/evidence/cases/' + encodeURIComponent(ref), A);
  assert(String(c.retain_until).startsWith(until), 'API: retention extended to ' + until + ': ' + c.retain_until);
  await page.waitForSelector('#evidence-hold');
  await page.fill('#evidence-hold-reason', 'Complaint pending');
  await submit(page, '#evidence-hold');
  c = await must(200, 'GET', '/v1/evidence/cases/' + encodeURIComponent(ref), A);
  assert(c.hold === true, 'API: the case is held');
  ok('evidence case ' + ref + ': retention extended to ' + until + ' and held through the UI; the API agrees');

  await page.fill('#release-request-case', ref);
  await page.fill('#release-request-requester', 'BKA');
  await page.fill('#release-request-legal_basis', 'Production order AG-2026-17');
  await page.fill('#release-request-purpose', 'Criminal investigation');
  await submit(page, '#release-request');
  const relId = Number((await page.textContent('#release-request .release-id')).replace('#', ''));
  assert(relId > 0, 'the release request id is shown');
  // The list of requests (GET /v1/evidence/releases): the new one with 0 of 2 approvals.
  await page.waitForSelector('#release-list tr[data-release="' + relId + '"]');
  const relApi = (await must(200, 'GET', '/v1/evidence/releases?state=all', A)).releases;
  const relRows = await page.$$eval('#release-list tr[data-release]', (rows) => rows.map((r) => [Number(r.dataset.release), r.dataset.state, r.querySelector('.approvals').textContent]));
  assert(JSON.stringify(relRows) === JSON.stringify(relApi.map((q) => [q.id, q.state, q.approvals + ' of ' + q.needed])),
    'the release list shows the API\'s requests: ' + JSON.stringify(relRows));
  assert(relRows[0][0] === relId && relRows[0][1] === 'pending' && relRows[0][2] === '0 of 2', 'the new request is pending, 0 of 2: ' + JSON.stringify(relRows[0]));
  const early = await submit(page, '#release-do-' + relId, true);
  assert(/Error 409/.test(early), 'releasing before the custodians shows the API\'s 409: ' + early);

  for (const [i, name] of ['alice', 'bob'].entries()) {
    await page.evaluate(() => { location.hash = '#approvals'; });
    await H.signIn(page, keys[name].key);
    const nav = await navOf(page);
    assert(nav.length === 1 && nav[0] === 'approvals', 'a custodian is offered only the approvals: ' + nav);
    await page.waitForSelector('#approve-release');
    // The requests awaiting approval, listed (custodians read GET /v1/evidence/releases).
    await page.waitForSelector('#view-approvals tr[data-release="' + relId + '"]');
    const shown = await page.textContent('#view-approvals tr[data-release="' + relId + '"] .approvals');
    assert(shown === i + ' of 2', name + ' sees request #' + relId + ' with ' + i + ' of 2 approvals: ' + shown);
    await page.selectOption('#approve-release-id', String(relId));
    await page.fill('#approve-release-share', t.shares[name]);
    const said = await submit(page, '#approve-release');
    assert(said.includes((i + 1) + ' of 2'), name + '\'s approval recorded: ' + said);
    const st = (await must(200, 'GET', '/v1/evidence/releases?state=all', keys[name].key)).releases.find((q) => q.id === relId);
    assert(st.approvals === i + 1 && st.state === (i === 1 ? 'approved' : 'pending'), 'API: ' + JSON.stringify(st));
    if (i === 0) await H.screenshot(page, 'team-approvals', true);
  }
  ok('custodians alice and bob see only "Release approvals" and approve release #' + relId + ' with their shares (1 of 2, 2 of 2)');

  await page.evaluate(() => { location.hash = '#evidence'; });
  await H.signIn(page, A);
  await go(page, '#evidence');
  await page.waitForSelector('#release-list tr[data-release="' + relId + '"][data-state="approved"]');
  await page.click('#release-do-' + relId + ' .form-actions button');
  await page.waitForSelector('#release-out .release-result');
  const released = (await page.textContent('#release-out .release-result')).trim();
  await page.waitForSelector('#release-list tr[data-release="' + relId + '"][data-state="released"]');
  assert(/item\(s\) released/.test(released), 'the release answer: ' + released);
  const again = await call('POST', '/v1/evidence/releases/' + relId + '/release', A, {});
  assert(again.status >= 400, 'API: a release is made once (' + again.status + ')');
  const evc = await must(200, 'GET', '/v1/evidence/cases', A);
  assert(evc.counts.requests_open === 0, 'API: no release request open');
  ok('release #' + relId + ' listed with its approvals (0 of 2, then approved) and made from its row in the UI ("' + released + '"), then listed as released; the API refuses a second one and has none open');

  // ---- the audit log ----
  await go(page, '#audit');
  await page.fill('#audit-pubkey', pub);
  await page.dispatchEvent('#audit-pubkey', 'change');
  await page.click('#checkpoint-verify .form-actions button');
  await page.waitForSelector('#checkpoint-steps[data-result]');
  assert((await page.getAttribute('#checkpoint-steps', 'data-result')) === 'valid', 'the checkpoint verifies: ' + await page.textContent('#checkpoint-steps'));
  const cp = (await must(200, 'GET', '/v1/log/checkpoint')).checkpoint;
  const shownSize = Number(await page.textContent('#checkpoint-size'));
  assert(shownSize <= cp.size && shownSize > 10, 'the checkpoint size shown (' + shownSize + ') is the log\'s');
  await page.waitForFunction((n) => {
    const r = document.querySelector('#view-audit tr[data-seq]');
    return r && Number(r.dataset.seq) === n - 1;
  }, shownSize);
  const rowsOf = () => page.$$eval('#view-audit tr[data-seq]', (rows) => rows.map((r) => [Number(r.dataset.seq), r.children[2].textContent, r.children[3].textContent, r.children[4].textContent, r.children[5].textContent]));
  const apiRows = (d) => d.entries.map((e) => [e.seq, e.actor, e.action, e.object, e.details]);
  const page1 = await rowsOf();
  const seqs = page1.map((r) => r[0]);
  assert(seqs[0] === shownSize - 1 && seqs.length === 10, 'entries newest first, 10 a page: ' + seqs);
  const api1 = await must(200, 'GET', '/v1/log/entries?before=' + shownSize + '&limit=10', A);
  assert(JSON.stringify(page1) === JSON.stringify(apiRows(api1)), 'the entries shown are GET /v1/log/entries\'s');
  await page.click('#view-audit .pager button:has-text("Next page")');
  await page.waitForFunction((n) => {
    const r = document.querySelector('#view-audit tr[data-seq]');
    return r && Number(r.dataset.seq) === n;
  }, seqs[9] - 1);
  const api2 = await must(200, 'GET', '/v1/log/entries?before=' + seqs[9] + '&limit=10', A);
  assert(JSON.stringify(await rowsOf()) === JSON.stringify(apiRows(api2)), 'the next page is the API\'s next page');
  await page.click('#view-audit .pager button:has-text("Previous page")');
  await page.waitForFunction((n) => {
    const r = document.querySelector('#view-audit tr[data-seq]');
    return r && Number(r.dataset.seq) === n - 1;
  }, shownSize);
  await page.fill('#audit-action', 'evidence.approve');
  await page.dispatchEvent('#audit-action', 'change');
  await page.waitForFunction(() => {
    const rows = Array.from(document.querySelectorAll('#view-audit tr[data-seq]'));
    return rows.length && rows.every((r) => r.children[3].textContent === 'evidence.approve');
  });
  const approvals = await rowsOf();
  const apiApprovals = await must(200, 'GET', '/v1/log/entries?before=' + shownSize + '&limit=10&action=evidence.approve', A);
  assert(approvals.length === 2 && JSON.stringify(approvals) === JSON.stringify(apiRows(apiApprovals)), 'filtered by action: the two approvals, as the API lists them: ' + JSON.stringify(approvals));
  await page.fill('#audit-action', '');
  await page.dispatchEvent('#audit-action', 'change');
  await page.waitForFunction((n) => {
    const r = document.querySelector('#view-audit tr[data-seq]');
    return r && Number(r.dataset.seq) === n - 1;
  }, shownSize);
  ok('audit entries through GET /v1/log/entries: newest first, 10 a page, next and previous pages and the action filter equal to the API\'s');
  const target = seqs[3];
  await page.click('button:has-text("Verify entry #' + target + '")');
  await page.waitForSelector('#proof-steps[data-result]');
  const proofOk = await page.getAttribute('#proof-steps', 'data-result');
  const steps = await page.$$eval('#proof-steps li', (li) => li.map((x) => x.dataset.ok));
  assert(proofOk === 'valid' && steps.every((x) => x === '1') && steps.length === 6, 'every step of the proof passes: ' + await page.textContent('#proof-steps'));
  const proof = await must(200, 'GET', '/v1/log/proof/inclusion?seq=' + target + '&size=' + shownSize, A);
  const entryShown = await page.textContent('#proof-out .entry-text');
  assert(entryShown === proof.entry, 'the entry shown is the API\'s canonical entry');
  await page.evaluate(() => document.getElementById('checkpoint-verify').scrollIntoView());
  await H.screenshot(page, 'team-audit', true);
  ok('checkpoint of ' + shownSize + ' entries: Ed25519 signature verified in the browser with the log key; entry #' + target + '\'s inclusion proof recomputed (6 steps passed)');

  // Tampered: one path hash changed, then the checkpoint's signature changed.
  await page.route('**/v1/log/proof/inclusion*', async (route) => {
    const r = await route.fetch();
    const j = await r.json();
    j.path[0] = (j.path[0][0] === '0' ? '1' : '0') + j.path[0].slice(1);
    await route.fulfill({ response: r, body: JSON.stringify(j) });
  });
  // The lists of the first checks are marked: the answers awaited are the new lists.
  await page.evaluate(() => document.querySelectorAll('#proof-steps, #checkpoint-steps').forEach((e) => e.setAttribute('data-old', '1')));
  await page.fill('#proof-verify-seq', String(target));
  await page.click('#proof-verify .form-actions button');
  await page.waitForSelector('#proof-steps[data-result]:not([data-old])');
  assert((await page.getAttribute('#proof-steps', 'data-result')) === 'invalid', 'a tampered path fails');
  const badSteps = await page.$$eval('#proof-steps li[data-ok="0"]', (li) => li.map((x) => x.textContent));
  assert(badSteps.some((s) => /recomputed root/.test(s)), 'the failing step is the root: ' + badSteps);
  await page.unrouteAll({ behavior: 'wait' }); // handlers still in flight finish first
  await page.route('**/v1/log/checkpoint', async (route) => {
    const r = await route.fetch();
    const j = await r.json();
    const s = j.checkpoint.signature;
    j.checkpoint.signature = s.slice(0, 10) + (s[10] === 'a' ? 'b' : 'a') + s.slice(11);
    await route.fulfill({ response: r, body: JSON.stringify(j) });
  });
  await page.click('#checkpoint-verify .form-actions button');
  await page.waitForSelector('#checkpoint-steps[data-result]:not([data-old])');
  assert((await page.getAttribute('#checkpoint-steps', 'data-result')) === 'invalid', 'a tampered signature fails');
  assert(/does NOT verify/.test(await page.textContent('#checkpoint-steps-verdict')), 'the verdict says so');
  await page.unrouteAll({ behavior: 'wait' });
  ok('a tampered inclusion path and a tampered checkpoint signature are reported as failing (' + badSteps.length + ' failed step(s) named)');

  // An order left alone after the audit log's checks (the server's order deadline is one
  // minute): it is breached by the end of the test.
  await must(201, 'POST', '/v1/content', A, { content_id: 'post/3', uploader: 'u3', hashes: { md5: hex(16) } });
  const d4 = orderDoc('removal_order', 'BKA', 'BKA-3', 'post/3');
  const o3 = await must(201, 'POST', '/v1/orders', authKey.key, d4, signed(d4, privateKey));

  // ---- incidents and exchanges ----
  await go(page, '#incidents');
  await page.fill('#incident-create-name', 'Attack livestream');
  await page.fill('#incident-create-labels', 'incident:team-test');
  await submit(page, '#incident-create');
  const inc = (await must(200, 'GET', '/v1/incidents', A)).incidents.find((i) => i.name === 'Attack livestream');
  assert(inc && inc.state === 'open' && inc.enforcement === 'block' && JSON.stringify(inc.filter.labels) === '["incident:team-test"]',
    'API: the incident is open with its filter: ' + JSON.stringify(inc));
  await page.click('a[href="#incidents/' + inc.id + '"]');
  await page.waitForSelector('#incident-chart');
  // A hash meeting the filter added by hand into a bank that only logs; the upload check and
  // the intake of that file are blocked at once.
  const incImage = png(77);
  await must(201, 'POST', '/v1/banks', A, { name: 'INCIDENT_SHARED', action: 'log' });
  await must(201, 'POST', '/v1/banks/INCIDENT_SHARED/signals', A,
    { type: 'sha256', value: crypto.createHash('sha256').update(incImage).digest('hex'), labels: ['incident:team-test'], source: 'manual' });
  const uploadRaw = async (p) => {
    const r = await fetch(t.base + p, { method: 'POST', body: incImage, headers: { Authorization: 'Bearer ' + A, 'Content-Type': 'image/png' } });
    const j = await r.json();
    assert(r.ok, p + ': ' + JSON.stringify(j));
    return j;
  };
  const checked = await uploadRaw('/v1/check');
  const im = checked.matches.find((x) => x.incident_id === inc.id);
  assert(checked.verdict === 'block' && im && im.action === 'log' && im.incident_action === 'block', 'the upload check is blocked by the incident: ' + JSON.stringify(checked));
  const intake = await uploadRaw('/v1/content?content_id=incident-team-1');
  assert(intake.verdict === 'block', 'the intake is blocked: ' + intake.verdict);
  // The detail's live figures (read every 5 s) follow.
  const factIn = (box, name) => page.evaluate(([b, k]) => {
    const dt = [...document.querySelectorAll(b + ' dt')].find((d) => d.textContent === k);
    return dt ? dt.nextElementSibling.textContent.trim() : null;
  }, [box, name]);
  await page.waitForFunction(() => {
    const dt = [...document.querySelectorAll('#incident-live dt')].find((d) => d.textContent === 'Blocked');
    return dt && dt.nextElementSibling.textContent.trim() === '2';
  }, null, { timeout: 20000 });
  const incFig = (await must(200, 'GET', '/v1/incidents/' + inc.id, A)).figures;
  const incHashes = await factIn('#incident-live', 'Hashes meeting the filter'), incMatches = await factIn('#incident-live', 'Matches');
  const firstBlock = await factIn('#incident-live', 'First block');
  assert(incHashes === '1' && incMatches === '2' && incFig.signals === 1 && incFig.matches === 2 && incFig.blocks === 2,
    'figures: 1 hash, 2 matches, 2 blocked (API: ' + JSON.stringify(incFig) + ')');
  assert(firstBlock && firstBlock !== '—', 'the first block\'s time is shown: ' + firstBlock);
  // Sources: the table's rows are the API's sources, with their counts.
  const shownSources = await page.$$eval('#incident-sources tbody tr[data-source]', (rows) => rows.map((r) => [r.children[0].textContent, Number(r.children[1].textContent)]));
  const apiSources = (incFig.sources || []).map((x) => [x.source, x.signals]);
  assert(apiSources.length === 1 && apiSources[0][0] === 'manual' && apiSources[0][1] === 1 && JSON.stringify(shownSources) === JSON.stringify(apiSources),
    'the sources shown are the API\'s (one hash added by hand): ' + JSON.stringify(shownSources) + ' (API: ' + JSON.stringify(apiSources) + ')');
  // The time from first hash to first block, from the API's two times, in the console's words
  // ("0.073 s", "4 min 05 s", "2 h 10 min").
  const hashToBlock = incFig.first_block_ms - incFig.first_signal_ms;
  assert(hashToBlock >= 0 && incFig.first_hash_to_block_ms === hashToBlock, 'API: first block - first hash = ' + hashToBlock + ' ms: ' + JSON.stringify(incFig));
  const inWords = (d) => {
    if (d < 60000) return (d / 1000).toFixed(3) + ' s';
    const sec = Math.floor(d / 1000), two = (x) => (x < 10 ? '0' : '') + x;
    return sec < 3600 ? Math.floor(sec / 60) + ' min ' + two(sec % 60) + ' s' : Math.floor(sec / 3600) + ' h ' + two(Math.floor(sec / 60) % 60) + ' min';
  };
  const shownHashToBlock = await factIn('#incident-live', 'Time from first hash to first block');
  assert(shownHashToBlock === inWords(hashToBlock), 'time from first hash to first block: ' + shownHashToBlock + ' (from the API\'s times: ' + hashToBlock + ' ms)');
  const incBars = await page.$$eval('#incident-chart-svg rect.chart-bar', (r) => r.map((x) => Number(x.dataset.value)));
  assert(incBars.reduce((a, b) => a + b, 0) === 2, 'the chart of matches per hour has the 2 matches: ' + incBars);
  ok('incident #' + inc.id + ': a hash meeting its filter added by hand into a log-only bank; the upload check and the intake of that file blocked at once; ' +
    'the detail shows 1 hash, 2 matches, 2 blocked, first block ' + firstBlock + ', ' + shownHashToBlock + ' from first hash to first block, sources ' +
    JSON.stringify(shownSources) + ', the 2 matches charted (API agrees)');
  page.once('dialog', (d) => d.accept());
  await page.click('button:has-text("Close incident #' + inc.id + '")');
  await page.waitForSelector('button:has-text("Download the report (JSON)")');
  assert((await must(200, 'GET', '/v1/incidents/' + inc.id, A)).state === 'closed', 'API: the incident is closed');
  const [rep] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Download the report (JSON)")')]);
  const repJson = JSON.parse(require('node:fs').readFileSync(await rep.path(), 'utf8'));
  assert(JSON.stringify(repJson).includes('Attack livestream'), 'the downloaded report is the incident\'s');
  assert(repJson.summary.blocks === 2 && repJson.summary.signals === 1 && repJson.incident.id === inc.id, 'the JSON report\'s figures: ' + JSON.stringify(repJson.summary));
  const [repMd] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Download the report (Markdown)")')]);
  const md = require('node:fs').readFileSync(await repMd.path(), 'utf8');
  assert(repMd.suggestedFilename() === 'incident-' + inc.id + '-report.md' && md.includes('# After-action report: Attack livestream') && md.includes('| blocks | 2 |'),
    'the Markdown report: ' + repMd.suggestedFilename() + ' ' + md.slice(0, 200));
  ok('incident #' + inc.id + ' opened and closed through the UI (API: open, then closed); its report downloaded as JSON and Markdown (2 blocks, 1 hash)');

  await go(page, '#exchanges');
  await page.fill('#exchange-create-name', 'partner-te');
  await page.selectOption('#exchange-create-type', 'threatexchange');
  await page.fill('#exchange-create-url', 'http://127.0.0.1:9/');
  await page.fill('#exchange-create-bank', 'TEAM_BANK');
  await page.fill('#exchange-create-group', '1234');
  await page.fill('#exchange-create-credentials', '{"access_token": "1234|not-a-real-token"}');
  await submit(page, '#exchange-create');
  assert((await page.inputValue('#exchange-create-credentials')) === '', 'the credentials field is emptied once sent');
  const ex = (await must(200, 'GET', '/v1/exchanges', A)).exchanges.find((x) => x.name === 'partner-te');
  assert(ex && ex.type === 'threatexchange' && ex.bank === 'TEAM_BANK' && ex.has_credentials && !JSON.stringify(ex).includes('not-a-real'),
    'API: the exchange, its credentials kept and not shown: ' + JSON.stringify(ex));
  // Two shares asked by a moderator; the admin rejects one and approves the other in the UI.
  const share1 = await must(201, 'POST', '/v1/exchanges/' + ex.id + '/uploads', keys['mod-1'].key, { signal_id: first.id, description: 'share one' });
  const share2 = await must(201, 'POST', '/v1/exchanges/' + ex.id + '/uploads', keys['mod-1'].key, { signal_id: sigs[1].id, description: 'share two' });
  await page.click('a[href="#exchanges/' + ex.id + '"]');
  await page.waitForSelector('#exchange-detail-title');
  await page.click('button:has-text("Reject share #' + share1.id + '")');
  await page.waitForFunction((id) => {
    const e = document.querySelector('tr[data-upload="' + id + '"] .upload-state');
    return e && e.textContent !== 'pending';
  }, share1.id);
  await page.click('button:has-text("Approve share #' + share2.id + '")');
  await page.waitForFunction((id) => {
    const e = document.querySelector('tr[data-upload="' + id + '"] .upload-state');
    return e && e.textContent !== 'pending';
  }, share2.id);
  const ups = (await must(200, 'GET', '/v1/exchanges/' + ex.id + '/uploads', A)).uploads;
  const u1 = ups.find((u) => u.id === share1.id), u2 = ups.find((u) => u.id === share2.id);
  assert(u1.state === 'rejected' && u1.decided.name === 'admin', 'API: share one rejected by the admin: ' + JSON.stringify(u1));
  assert(u2.state !== 'pending' && u2.state !== 'rejected' && u2.decided.name === 'admin', 'API: share two approved by the admin: ' + JSON.stringify(u2));
  page.once('dialog', (d) => d.accept());
  await page.click('button:has-text("Delete partner-te")');
  await page.waitForFunction(() => !document.querySelector('#exchange-detail-title'));
  assert(!(await must(200, 'GET', '/v1/exchanges', A)).exchanges.some((x) => x.id === ex.id), 'API: the exchange is deleted');
  ok('exchange created through the UI (API: threatexchange into TEAM_BANK, credentials kept, never shown), a share rejected (API: rejected) and one approved (API: ' + u2.state + '), deleted');

  // A url_list exchange against a list file served here: the worker pulls it at once; "Pull
  // now" after the file changed applies the change; disabled through the UI.
  const md5 = (v) => crypto.createHash('md5').update(v).digest('hex');
  let listFile = 'md5 ' + md5('one') + '\nmd5 ' + md5('two') + '\n';
  let listAuth = '';
  const listSrv = require('node:http').createServer((req, res) => {
    listAuth = req.headers.authorization || '';
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(listFile);
  });
  await new Promise((r) => listSrv.listen(0, '127.0.0.1', r));
  try {
    await must(201, 'POST', '/v1/banks', A, { name: 'PARTNER_LIST', action: 'review' });
    await go(page, '#exchanges');
    await page.fill('#exchange-create-name', 'partner');
    await page.selectOption('#exchange-create-type', 'url_list');
    await page.fill('#exchange-create-url', 'http://127.0.0.1:' + listSrv.address().port + '/tvec.txt');
    await page.fill('#exchange-create-bank', 'PARTNER_LIST');
    await page.fill('#exchange-create-interval', '3600');
    await page.fill('#exchange-create-credentials', '{"bearer": "browser-secret-42"}');
    await submit(page, '#exchange-create');
    const lx = (await must(200, 'GET', '/v1/exchanges', A)).exchanges.find((x) => x.name === 'partner');
    assert(lx && lx.type === 'url_list' && lx.bank === 'PARTNER_LIST' && lx.interval_ms === 3600000 && lx.has_credentials === true &&
      !JSON.stringify(lx).includes('browser-secret-42'), 'API: the exchange as typed, the credentials never shown: ' + JSON.stringify(lx));
    // The worker's first pull (the API's state once it is done), then seen in the list's Added column.
    const lrow = 'tr[data-exchange="' + lx.id + '"]';
    const addedCell = lrow + ' td:nth-child(7)';
    for (let i = 0; ((await must(200, 'GET', '/v1/exchanges/' + lx.id, A)).state || {}).added !== 2; i++) {
      assert(i < 300, 'the worker\'s first pull adds 2');
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.click('#view-exchanges button:has-text("Refresh")');
    await page.waitForFunction((a) => {
      const e = document.querySelector(a);
      return e && e.textContent.trim() === '2';
    }, addedCell);
    assert(listAuth === 'Bearer browser-secret-42', 'the list was fetched with the bearer: ' + listAuth);
    let lsigs = (await must(200, 'GET', '/v1/banks/PARTNER_LIST/signals', A)).signals;
    assert(lsigs.length === 2 && lsigs.every((g) => g.source === 'exchange:partner'), 'the bank holds the 2 signals: ' + JSON.stringify(lsigs));
    ok('url_list exchange created through the UI (API: into PARTNER_LIST, every hour, credentials kept, never shown); the worker pulled at once: the row shows 2 added, the bank holds both (source exchange:partner), fetched with the bearer');

    listFile = 'md5 ' + md5('two') + '\nmd5 ' + md5('three') + '\n';
    await page.click('a[href="#exchanges/' + lx.id + '"]');
    await page.waitForSelector('#exchange-detail-title');
    await page.click('button:has-text("Pull partner now")');
    // The answer is said in the status line once the detail is read again.
    await page.waitForFunction(() => /page\(s\), 1 added, 1 removed/.test(document.getElementById('status').textContent));
    const pullSaid = (await page.textContent('#status')).trim();
    const pulled = await page.evaluate(() => {
      const dt = [...document.querySelectorAll('#exchange-detail dt')].find((d) => d.textContent === 'Items / added / removed');
      return dt ? dt.nextElementSibling.textContent : '';
    });
    const lst = (await must(200, 'GET', '/v1/exchanges/' + lx.id, A)).state;
    assert(pulled === lst.items + ' / ' + lst.added + ' / ' + lst.removed && lst.removed === 1, 'the detail shows the API\'s figures: ' + pulled + ' vs ' + JSON.stringify(lst));
    lsigs = (await must(200, 'GET', '/v1/banks/PARTNER_LIST/signals', A)).signals;
    assert(JSON.stringify(lsigs.map((g) => g.value).sort()) === JSON.stringify([md5('two'), md5('three')].sort()), 'the bank follows the file: ' + JSON.stringify(lsigs));
    ok('"Pull partner now" after the file changed: "' + pullSaid + '"; the detail shows ' + pulled + ' (items/added/removed) as the API; the bank follows the file');

    await page.click('button:has-text("Disable partner")');
    await page.waitForSelector('button:has-text("Enable partner")');
    assert((await must(200, 'GET', '/v1/exchanges/' + lx.id, A)).enabled === false, 'API: the exchange is disabled');
    ok('exchange partner disabled through the UI (API: enabled false)');
  } finally {
    listSrv.close();
  }

  // ---- transparency report ----
  await go(page, '#transparency');
  await submit(page, '#transparency-period');
  const from = await page.inputValue('#transparency-period-from');
  const to = await page.inputValue('#transparency-period-to');
  const report = await must(200, 'GET', '/v1/reports/transparency?from=' + from + 'T00:00:00Z&to=' + to + 'T00:00:00Z', A);
  const tableOf = (id) => page.$$eval('#' + id + '-table tbody tr', (rows) => rows.map((r) => [r.querySelector('th').textContent, Number(r.querySelector('td').textContent)]));
  const weeks = await tableOf('chart-orders-week');
  const weekTotal = weeks.find((r) => r[0] === 'total')[1];
  assert(weekTotal === report.orders.received, 'orders per week add up to the report\'s orders received: ' + weekTotal + ' vs ' + report.orders.received);
  const bars = await page.$$eval('#chart-orders-week-svg rect.chart-bar', (r) => r.map((x) => Number(x.dataset.value)));
  assert(bars.reduce((a, b) => a + b, 0) === weekTotal && bars.length === weeks.length - 1, 'one bar per week with the table\'s numbers');
  assert(JSON.stringify(weeks.filter((r) => r[0] !== 'total').map((r) => r[1])) === JSON.stringify(report.orders_per_week.map((w) => w.orders)),
    'the weeks are the report\'s orders_per_week');
  const dist = await tableOf('chart-removal-time');
  assert(JSON.stringify(dist.filter((r) => r[0] !== 'total').map((r) => r[1])) === JSON.stringify(report.removal_time_histogram.buckets.map((b) => b.orders)),
    'the distribution is the report\'s removal_time_histogram');
  // Independently: the removal orders confirmed in the period, from each order's times.
  const allOrders = (await must(200, 'GET', '/v1/orders?open=0', A)).orders.filter((o) => o.type === 'removal_order');
  const pFrom = Date.parse(from + 'T00:00:00Z'), pTo = Date.parse(to + 'T00:00:00Z');
  let removed = 0, withinHour = 0;
  for (const o of allOrders) {
    const d = await must(200, 'GET', '/v1/orders/' + o.id, A);
    if (d.measure_at && Date.parse(d.measure_at) >= pFrom && Date.parse(d.measure_at) < pTo) {
      removed++;
      if (Date.parse(d.measure_at) - Date.parse(d.received_at) < 3600000) withinHour++;
    }
  }
  assert(removed > 0 && dist.find((r) => r[0] === 'total')[1] === removed, 'the distribution counts every removal (' + removed + ')');
  const under = dist.filter((r) => r[0] !== 'total').slice(0, 6).reduce((a, r) => a + r[1], 0);
  assert(under === withinHour, 'removals left of the one-hour line: ' + under + ' = ' + withinHour);
  const median = await page.textContent('#removal-median');
  assert(median !== '—' && report.removal_time_histogram.median_s !== null, 'the median is shown: ' + median);
  const banks = await tableOf('chart-bank-matches');
  assert(JSON.stringify(banks.filter((r) => r[0] !== 'total')) === JSON.stringify(report.matches_per_bank.map((b) => [b.bank, b.matches])),
    'matches per bank are the report\'s: ' + JSON.stringify(banks));
  const teamMatches = (report.matches_per_bank.find((b) => b.bank === 'TEAM_BANK') || { matches: 0 }).matches;
  assert(teamMatches >= 1, 'the content matched in this test counts for TEAM_BANK: ' + teamMatches);
  assert((await page.$$('#chart-removal-time-svg line.chart-marker')).length === 1, 'the one-hour line is drawn');
  const dec = await tableOf('chart-decisions');
  const decOf = (l) => (dec.find((r) => r[0] === l) || [l, 0])[1];
  assert(decOf('referral: removed') === report.referrals.removed && decOf('complaint: upheld') === report.complaints.upheld &&
    decOf('review: remove') === report.decisions_per_outcome.remove && decOf('review: keep') === report.decisions_per_outcome.keep,
    'decisions per outcome agree with the report: ' + JSON.stringify(dec));
  const title = await page.textContent('#chart-orders-week-svg title');
  const desc = await page.textContent('#chart-orders-week-svg desc');
  assert(title && /orders in all/.test(desc), 'the chart has a title and a description: ' + desc);
  const [jd] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Download the numbers (JSON)")')]);
  const numbers = JSON.parse(require('node:fs').readFileSync(await jd.path(), 'utf8'));
  assert(numbers.report.orders.received === report.orders.received && numbers.report.referrals.removed === report.referrals.removed, 'the JSON download holds the API\'s figures');
  const [cd] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Download the numbers (CSV)")')]);
  const csv = require('node:fs').readFileSync(await cd.path(), 'utf8');
  assert(csv.includes('report.orders.received,,' + report.orders.received) && csv.includes('decisions_per_outcome,referral: removed,' + report.referrals.removed), 'the CSV holds them too');
  ok('transparency charts from the report\'s figures: orders per week total ' + weekTotal + ' = orders received, receipt-to-removal distribution of ' + removed + ' (' + under + ' within the hour line, median ' + median + ') = the orders\' own times, matches per bank and decisions per outcome = the report\'s; JSON and CSV downloads hold the same numbers');
  await page.evaluate(() => document.getElementById('chart-orders-week').scrollIntoView());
  await H.screenshot(page, 'team-transparency', true);

  // ---- live figures ----
  const metricReads = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/metrics')) metricReads.push(Date.now());
  });
  await go(page, '#live');
  await page.waitForSelector('#live-queue');
  const metricsOf = async () => (await call('GET', '/metrics', A)).text.split('\n').filter((l) => l.startsWith('takedown_matches_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  const matches0 = await metricsOf();
  let sent = 0;
  for (let i = 0; i < 20; i++) {
    const r = await call('POST', '/v1/check', A, { hashes: { md5: i % 2 ? md5s[1] : hex(16) } });
    sent += ((r.json && r.json.matches) || []).length;
  }
  assert(sent >= 10, 'ten checks matched the pasted hash: ' + sent + ' matches');
  assert(await metricsOf() === matches0 + sent, 'API: takedown_matches_total grew by the matches the checks answered');
  await page.waitForFunction(() => {
    const e = document.getElementById('live-checks-rate');
    return e && e.dataset.value !== '…' && Number(e.dataset.value) > 0;
  }, null, { timeout: 12000 });
  const rate = Number(await page.getAttribute('#live-checks-rate', 'data-value'));
  await page.waitForFunction((n) => {
    const e = document.getElementById('live-matches');
    return e && Number(e.dataset.value) === n;
  }, matches0 + sent, { timeout: 12000 });
  const mrate = await page.getAttribute('#live-matches-rate', 'data-value');
  const stats = await must(200, 'GET', '/v1/stats', A);
  const queue = Number(await page.getAttribute('#live-queue', 'data-value'));
  assert(queue === stats.cases_open, 'queue depth shown = GET /v1/stats cases_open (' + queue + ')');
  await go(page, '#banks');
  const n0 = metricReads.length;
  await page.waitForTimeout(5600);
  assert(metricReads.length === n0, 'no /metrics read after leaving the view');
  ok('live figures from /metrics: ' + rate + ' checks/s after 20 checks, ' + (matches0 + sent) + ' matches since start (' + mrate + '/s; the checks answered ' + sent + '), queue depth ' + queue + ' = the API\'s; reads stop on leaving (' + n0 + ' reads)');

  // Every view of the admin, after all that: labelled controls, unique ids.
  // Then text contrast (WCAG 4.5:1, 3:1 large) and the Tab order (document order, visible focus,
  // no trap) of each, with harness.js's checks.
  const views = await navOf(page);
  let contrasted = 0, focused = 0;
  const deep = async (where) => {
    contrasted += await H.checkContrast(page, where);
    focused += (await H.checkFocusOrder(page, where, 400)).length;
  };
  for (const v of views) {
    await go(page, '#' + v);
    await page.waitForTimeout(100);
    await a11y(page, 'view ' + v);
    if (v !== 'live') await deep('view ' + v); // the live view re-renders every 5 s
  }
  for (const d of ['#banks/TEAM_BANK', '#orders/' + o1.id, '#evidence/' + encodeURIComponent(ref)]) {
    await go(page, d);
    await page.waitForSelector('#view-' + d.slice(1).split('/')[0] + ' h3[tabindex]');
    await a11y(page, d);
    await deep(d);
  }
  ok('accessibility: ' + views.length + ' views and 3 details with every control labelled, every button named, ids unique; ' + contrasted + ' elements with enough contrast, ' + focused + ' focus stops in document order with a visible focus');

  // ---- a reported message (docs/e2ee.md), built as a messaging client would with Node's own
  // crypto: an AES-256-GCM attachment, the tdfm1 envelope committing to it, the franking tag;
  // franked by the messaging server at delivery, then reported ----
  const messaging = (await H.key('platform', 'messaging-server')).key;
  const seal = (plain) => {
    const k = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(12);
    const gcm = crypto.createCipheriv('aes-256-gcm', k, nonce);
    return { key: k, blob: Buffer.concat([nonce, gcm.update(plain), gcm.final(), gcm.getAuthTag()]) };
  };
  const att = seal(png());
  const vid = seal(require('node:fs').readFileSync(VIDEO));
  const text = 'Join us: https://recruit.example/join';
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const sha = (b) => crypto.createHash('sha256').update(b).digest();
  const envelope = Buffer.concat([Buffer.from('tdfm1'), u32(Buffer.byteLength(text)), Buffer.from(text), u32(2),
    ...[att, vid].flatMap((x) => [sha(x.blob), sha(Buffer.concat([Buffer.from('takedown-attachment-key-v1'), x.key]))])]);
  const salt = crypto.randomBytes(16);
  const ctx = { sender: 'user-666', conversation: 'room-42', accepted_ms: Date.now() };
  const frank = await must(200, 'POST', '/v1/frank', messaging, Object.assign({ franking_tag: crypto.createHmac('sha256', salt).update(envelope).digest('hex') }, ctx));
  const answer = await must(201, 'POST', '/v1/reports', messaging, { reporter: 'user-7', reason: 'recruitment',
    messages: [Object.assign({ text, attachments: [att, vid].map((x) => ({ blob: x.blob.toString('base64'), key: x.key.toString('hex') })),
      salt: salt.toString('hex'), key_id: frank.key_id, frank: frank.frank, signature: frank.signature }, ctx)] });
  const reported = answer.reports[0];
  await go(page, '#reports');
  const repRow = 'tr[data-report-id="' + reported.report_id + '"]';
  await page.waitForSelector(repRow);
  const repRowText = await page.textContent(repRow);
  assert(repRowText.includes(ctx.sender) && repRowText.includes(ctx.conversation), 'the list shows the verified sender and conversation: ' + repRowText);
  await page.click('a[href="#reports/' + reported.report_id + '"]');
  await page.waitForSelector('#report-detail-title');
  assert((await page.textContent('#report-detail dl.facts')).includes('#' + reported.case_id + ' (open'), 'the detail names its open case #' + reported.case_id);
  assert(!(await page.isVisible('pre.reported-text')), 'the message is not read before it is asked for');
  await page.click('button:has-text("Show message")');
  const shownText = await page.locator('pre.reported-text').textContent();
  assert(/hxxps:\/\/recruit\[\.\]example/.test(shownText) && !shownText.includes('https://'), 'the text is defanged: ' + shownText);
  await page.click('button:has-text("Show attachment 1")');
  await page.waitForFunction(() => {
    const i = document.querySelector('#report-att-0 img');
    return i && i.complete && i.naturalWidth > 0;
  });
  const filterOf = () => page.evaluate(() => getComputedStyle(document.querySelector('#report-att-0 img')).filter);
  const before = await filterOf();
  await page.click('button:has-text("Reveal attachment 1")');
  const after = await filterOf();
  assert(/blur/.test(before) && /grayscale/.test(before) && after === 'none', 'blurred and greyscale until revealed: ' + before + ' / ' + after);
  await page.click('button:has-text("Blur attachment 1")');
  assert(/blur/.test(await filterOf()), 'blurred again on request');
  await page.click('button:has-text("Show attachment 2")');
  await page.waitForSelector('#report-att-1 video.shielded');
  const v = await page.evaluate(() => {
    const el = document.querySelector('#report-att-1 video');
    return { muted: el.muted, autoplay: el.autoplay, paused: el.paused, filter: getComputedStyle(el).filter };
  });
  assert(v.muted && !v.autoplay && v.paused && /blur/.test(v.filter) && /grayscale/.test(v.filter), 'the video: muted, not playing, blurred and greyscale: ' + JSON.stringify(v));
  ok('report #' + reported.report_id + ' (franked, verified): the message shown on request, defanged ("' + shownText.trim() + '"); the image ' + before + ' until revealed and again on request; the video (MP4) muted, paused, ' + v.filter + '; the detail names its case and the list the sender and conversation');

  // Revealed, then the report opened again: no media until asked, nothing revealed.
  await page.click('button:has-text("Reveal attachment 1")');
  await go(page, '#reports');
  await page.waitForFunction(() => !document.querySelector('#report-detail-title'));
  await page.click('a[href="#reports/' + reported.report_id + '"]');
  await page.waitForSelector('#report-detail-title');
  assert((await page.locator('#report-attachments img, #report-attachments video').count()) === 0 && (await page.locator('.shielded.revealed').count()) === 0,
    'opened again: no media shown, nothing revealed');
  ok('report #' + reported.report_id + ' opened again: no media until asked, nothing revealed');

  // Its case decided from the report: the link opens it in the review view.
  await page.click('a:has-text("Decide its case #' + reported.case_id + '")');
  await page.waitForSelector('#case-title[data-case-id="' + reported.case_id + '"]');
  await page.selectOption('#review-reason', 'incitement');
  await page.click('#act-remove');
  await page.waitForFunction((id) => new RegExp('Case #' + id + ': remove recorded').test(document.getElementById('review-live').textContent), reported.case_id);
  const repCase = await must(200, 'GET', '/v1/cases/' + reported.case_id, A);
  assert(repCase.state === 'closed' && repCase.outcome === 'remove', 'API: the report\'s case closed, remove: ' + JSON.stringify(repCase.state) + ' ' + repCase.outcome);
  assert(!(await must(200, 'GET', '/v1/reports?open=1', A)).reports.some((x) => x.report_id === reported.report_id), 'API: the report left the open list');
  await must(404, 'GET', '/v1/reports/' + reported.report_id + '/text', A);
  await go(page, '#reports');
  await page.waitForFunction(() => {
    const v = document.getElementById('view-reports');
    return v && (v.querySelector('tbody tr') || /No reported messages awaiting review/.test(v.textContent));
  });
  assert(!(await page.isVisible(repRow)), 'and the console\'s list');
  await go(page, '#reports/' + reported.report_id);
  await page.waitForFunction(() => /The review copy is gone/.test((document.getElementById('report-message') || {}).textContent || ''));
  ok('case #' + reported.case_id + ' decided remove from the report\'s link (review view; API: closed, remove; the report off the open list, its text 404); the report says its review copy is gone');

  // ---- evidence orders (docs/evidence-orders.md): two signed EPOCs; the first approved by two
  // legal officers, released by two custodians and delivered; the second answered with Annex III
  // (partly, then whole: paused) and a correspondence; every step through the UI, checked
  // through the API ----
  const sta = crypto.generateKeyPairSync('ed25519');
  const staKey = await H.key('authority', 'sta-berlin-desk');
  const staA = await must(201, 'POST', '/v1/authorities', A, { name: 'Staatsanwaltschaft Berlin', kind: 'evidence', member_state: 'DE',
    contact: 'desk@sta.example', public_key: sta.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    announced_at: new Date(Date.now() - 48 * 3600 * 1000).toISOString() });
  await must(201, 'POST', '/v1/authorities/' + staA.id + '/keys', A, { key_id: staKey.id });
  const recipient = crypto.generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const sendEpoc = (doc) => must(201, 'POST', '/v1/evidence-orders', staKey.key, doc,
    { 'Takedown-Signature': 'ed25519=' + crypto.sign(null, Buffer.from(doc), sta.privateKey).toString('base64') });
  // Text that looks like HTML, to see it shown as text.
  const trap = 'Participation in a terrorist group <img src="x" id="injected">';
  const eo = await sendEpoc(epocDoc('StA-2026-1000', recipient, ['subscriber', 'content'], 'Participation in a terrorist group'));
  const eo2 = await sendEpoc(epocDoc('StA-2026-1001', recipient, ['subscriber', 'traffic'], trap));
  const postText = 'propaganda post 42';
  const postSha = crypto.createHash('sha256').update(postText).digest('hex');
  const put = await must(200, 'PUT', '/v1/evidence-orders/' + eo.id + '/data', messaging, {
    records: [{ category: 'subscriber', identifier: 'u-1234', fields: { name: 'A. User', contact: 'a@user.example' } },
      { category: 'content', identifier: 'u-1234', at: new Date(Date.now() - 3 * 86400000).toISOString(),
        content_base64: Buffer.from(postText).toString('base64'), content_type: 'text/plain' }] });
  assert(put.sealed === 2 && put.state === 'preserved', 'the platform\'s data is sealed: ' + JSON.stringify(put));
  const eoGet = (id) => must(200, 'GET', '/v1/evidence-orders/' + id + '?purpose=test-check', keys['legal-1'].key);
  const needed = (await eoGet(eo.id)).approvals_needed;
  assert(needed === 2, 'API: two approvals needed for an order asking content: ' + needed);
  const setPurpose = async (text) => {
    await page.waitForSelector('#purpose-form');
    assert((await page.locator('#eorders-main tr').count()) === 0, 'nothing is read before the purpose is given');
    await page.fill('#purpose-form-purpose', text);
    await page.click('#purpose-form .form-actions button');
    await page.waitForSelector('#purpose-text');
  };
  const openEo = async (id) => {
    await page.click('a[href="#eorders/' + id + '"]');
    await page.waitForFunction((i) => {
      const t = document.getElementById('eorder-detail-title');
      return t && t.textContent.includes(i);
    }, id);
  };
  const rowSel = (id) => 'tr[data-eorder-id="' + id + '"]';
  await page.evaluate(() => { location.hash = '#eorders'; });
  await H.signIn(page, keys['legal-1'].key);
  const legalNav = await navOf(page);
  assert(legalNav.length === 1 && legalNav[0] === 'eorders', 'a legal officer is offered only evidence orders: ' + legalNav);
  await go(page, '#eorders');
  await setPurpose('weekly check of open orders');
  await page.waitForSelector(rowSel(eo.id) + ' .eo-clock');
  const left1 = (await page.textContent(rowSel(eo.id) + ' .eo-clock')).trim();
  assert(/^due: 9d 23h 5\dm \d\ds left$/.test(left1), 'a countdown to the production deadline: ' + left1);
  await page.waitForFunction(([s, first]) => {
    const e = document.querySelector(s);
    return e && e.textContent.trim() !== first;
  }, [rowSel(eo.id) + ' .eo-clock', left1]);
  const left2 = (await page.textContent(rowSel(eo.id) + ' .eo-clock')).trim();
  const rowText = await page.textContent(rowSel(eo.id));
  for (const want of ['EPOC', 'DE', 'StA-2026-1000', 'preserved', 'level 0'])
    assert(rowText.includes(want), 'the row shows ' + want + ': ' + rowText);
  assert((await page.textContent(rowSel(eo.id) + ' .eo-approvals')).trim() === '0/2', 'approvals 0/2');
  const listed = await page.$$eval('tr[data-eorder-id]', (rows) => rows.map((r) => r.dataset.eorderId));
  const apiOrder = (await must(200, 'GET', '/v1/evidence-orders?open=1&purpose=test-check', keys['legal-1'].key)).orders.map((o) => o.id);
  assert(JSON.stringify(listed) === JSON.stringify(apiOrder) && listed.indexOf(eo.id) < listed.indexOf(eo2.id),
    'the list is the API\'s, earliest deadline first: ' + listed.join(', '));
  ok('evidence orders: a legal officer is offered only this view, nothing read before the purpose; ' + eo.id +
    ' listed (EPOC, DE, preserved, level 0, approvals 0/2) with a live countdown (' + left1 + ' → ' + left2 + '), in the API\'s order');

  // The detail: facts, identifiers, deadlines, records (digests only), messages.
  await openEo(eo.id);
  await page.waitForSelector('#eorder-detail tr[data-record-id]');
  const facts = await page.textContent('#eorder-detail');
  for (const want of ['Staatsanwaltschaft Berlin', 'Participation in a terrorist group', 'subscriber, content', 'u-1234'])
    assert(facts.includes(want), 'the detail shows ' + want + ': ' + facts);
  assert(/due: 9d .* left/.test(await page.textContent('#eorder-detail tr[data-clock="due"]')), 'the due clock counts down in the detail');
  const shownShas = (await page.locator('#eorder-detail td.sha').allTextContents()).sort();
  const apiShas = (await must(200, 'GET', '/v1/evidence-orders/' + eo.id + '/records?purpose=test-check', keys['legal-1'].key)).records.map((r) => r.sha256).sort();
  assert(shownShas.length === 2 && JSON.stringify(shownShas) === JSON.stringify(apiShas) && shownShas.includes(postSha),
    'two records with the API\'s SHA-256, one the post\'s (computed here): ' + shownShas);
  assert(!facts.includes(postText), 'never the content itself');
  assert([...await page.locator('#eorder-detail .eo-msg-kind').allTextContents()].includes('data_preserved'), 'the data_preserved message');
  // The certificate's sections: each key field as the API reads it.
  const eoApi = await eoGet(eo.id);
  const party = (x) => x.name + ' (' + x.type + '), file number ' + x.file_number;
  const wantSections = [['A. Issuing state', eoApi.issuing_state], ['A. Issuing authority', party(eoApi.issuing_authority)],
    ['A. Validating authority', party(eoApi.validating_authority)], ['B. Addressee', eoApi.addressee], ['C. Deadline', eoApi.deadline_class],
    ['E. Time range', eoApi.time_range.from + ' to ' + eoApi.time_range.to], ['F. Data categories', eoApi.categories.join(', ')],
    ['F. Subscriber data', eoApi.subscriber.length ? eoApi.subscriber.join(', ') : '—'], ['G. Offence', eoApi.offence],
    ['G. Legal classification', eoApi.legal_classification],
    ['K. Execution contact', [eoApi.execution_contact.name, eoApi.execution_contact.email, eoApi.execution_contact.phone].join(' · ')],
    ['L. Recipient', eoApi.recipient.name + ' (' + eoApi.recipient.member_state + ')'], ['L. Recipient key (X25519)', eoApi.recipient.x25519_public_key]];
  for (const [k, want] of wantSections)
    assert((await factIn('#eorder-detail .eo-sections', k)) === want, 'section ' + k + ': ' + (await factIn('#eorder-detail .eo-sections', k)) + ' (API: ' + want + ')');
  assert(eoApi.validating_authority.name === 'Amtsgericht Tiergarten' && eoApi.deadline_class === 'ten_days_asap' && eoApi.recipient.x25519_public_key === recipient &&
    eoApi.execution_contact.email === 'exec@sta.example', 'API: the sections as sent: ' + JSON.stringify(eoApi));
  ok('detail of ' + eo.id + ': sections A, B, C, E, F, G, K and L as the API reads them (' + wantSections.length + ' fields), identifiers, the due clock, 2 records with the API\'s SHA-256 (the post\'s ' +
    postSha.slice(0, 12) + '…, never its text), the data_preserved message');

  await page.fill('#eo-approve-note', 'Checked the grounds');
  const approved = await submit(page, '#eo-approve');
  assert(/Approval recorded: 1 of 2/.test(approved), 'the approval answer: ' + approved);
  assert((await eoGet(eo.id)).approvals === 1, 'API: one approval recorded');
  const deliveryPath = '/v1/evidence-orders/' + eo.id + '/delivery';
  const early2 = await submit(page, '#eo-deliver', true);
  let apiDel = await call('POST', deliveryPath, keys['legal-1'].key, {});
  assert(apiDel.status === 409 && early2.includes('Error 409: ' + apiDel.json.error.message), 'delivering before the approvals shows the API\'s 409: ' + early2);
  ok('evidence order ' + eo.id + ': the legal officer\'s approval through the UI ("' + approved + '"; API: 1), delivery refused with "' + early2 + '"');

  // A second legal officer: the purpose is asked again (sign-out forgot it); 2 of 2 opens a
  // release request.
  await H.signIn(page, keys['legal-2'].key);
  await go(page, '#eorders');
  await setPurpose('weekly check of open orders (second officer)');
  await page.waitForSelector(rowSel(eo.id));
  await openEo(eo.id);
  const approved2 = await submit(page, '#eo-approve');
  assert(/Approval recorded: 2 of 2/.test(approved2) && /release request #\d+/.test(approved2), 'the second approval: ' + approved2);
  const eoOk = await eoGet(eo.id);
  assert(eoOk.state === 'approved' && eoOk.approvals === 2 && eoOk.release_request > 0, 'API: approved by two: ' + JSON.stringify(eoOk));
  assert(approved2.includes('#' + eoOk.release_request), 'the release request shown is the API\'s');
  await page.waitForFunction((s) => {
    const c = document.querySelector(s);
    return c && c.textContent.trim() === '2/2';
  }, rowSel(eo.id) + ' .eo-approvals');
  ok('a second legal officer (purpose asked again) approved: "' + approved2 + '"; API: approved, 2 approvals, release request #' + eoOk.release_request + '; the list shows 2/2');

  const early3 = await submit(page, '#eo-deliver', true);
  apiDel = await call('POST', deliveryPath, keys['legal-2'].key, {});
  assert(apiDel.status === 409 && early3.includes('Error 409: ' + apiDel.json.error.message), 'delivering before the custodians shows the API\'s 409: ' + early3);
  ok('deliver before the custodians shows "' + early3 + '"');

  for (const name of ['alice', 'bob'])
    await must(200, 'POST', '/v1/evidence/releases/' + eoOk.release_request + '/approvals', keys[name].key, { share: t.shares[name] });
  await submit(page, '#eo-deliver');
  const pkSha = (await page.textContent('#eo-deliver .eo-package-sha')).trim();
  const pkBytes = (await page.textContent('#eo-deliver .eo-package-bytes')).trim();
  const pkUrl = (await page.textContent('#eo-deliver .eo-package-url')).trim();
  assert(/^[0-9a-f]{64}$/.test(pkSha) && /^\d+ bytes$/.test(pkBytes) && pkUrl === '/v1/evidence-orders/' + eo.id + '/package',
    'package digest, size and URL: ' + pkSha + ' ' + pkBytes + ' ' + pkUrl);
  const pkg = await fetch(t.base + pkUrl, { headers: { Authorization: 'Bearer ' + staKey.key } });
  const pkgBody = Buffer.from(await pkg.arrayBuffer());
  assert(pkg.status === 200 && crypto.createHash('sha256').update(pkgBody).digest('hex') === pkSha && pkBytes === pkgBody.length + ' bytes',
    'the authority fetches the package shown: ' + pkg.status + ', ' + pkgBody.length + ' bytes');
  const delivered = await eoGet(eo.id);
  const delRecs = (await must(200, 'GET', '/v1/evidence-orders/' + eo.id + '/records?purpose=test-check', keys['legal-1'].key)).records;
  assert(delivered.delivered_at && delRecs.length === 2 && delRecs.every((r) => r.delivered_at), 'API: the order and its 2 records delivered: ' + JSON.stringify(delivered.delivered_at));
  ok('custodians approved release #' + eoOk.release_request + '; delivered through the UI: package ' + pkSha.slice(0, 12) + '…, ' + pkBytes +
    ', ' + pkUrl + ' (fetched with the authority\'s key: the same SHA-256 and size; API: delivered_at set on the order and both records)');

  // Annex III on the second order.
  await page.waitForSelector(rowSel(eo2.id));
  await openEo(eo2.id);
  assert((await page.textContent('#eorder-detail')).includes(trap) && (await page.locator('#injected').count()) === 0,
    'HTML-like text from the API is shown as text, never parsed');
  const reasons = await page.$$eval('#eo-cc-reason option', (os) => os.map((o) => o.value).filter((v) => v));
  assert(reasons.length === 10 && reasons.includes('conflict_of_law') && reasons.includes('data_not_held'), 'ten Annex III reasons: ' + reasons);
  assert(!(await page.isVisible('#eo-cc-third_country')), 'no conflict-of-law fields by default');
  await page.selectOption('#eo-cc-reason', 'conflict_of_law');
  await page.waitForSelector('#eo-cc-third_country', { state: 'visible' });
  const conflictIds = await page.$$eval('#eo-cc fieldset:not([hidden]) textarea', (ts) => ts.map((x) => x.id));
  assert(conflictIds.length === 6, 'six conflict-of-law fields: ' + conflictIds);
  await page.fill('#eo-cc-explanation', 'Disclosure would breach a third country\'s law.');
  await page.fill('#eo-cc-third_country', 'US');
  await page.fill('#eo-cc-provisions', '18 U.S.C. 2702');
  await page.fill('#eo-cc-nature_of_obligation', 'A prohibition to disclose content');
  await page.fill('#eo-cc-why_applies', 'The data is stored by a US provider');
  await page.fill('#eo-cc-link_to_country', 'The user is a US person');
  const ccError = await submit(page, '#eo-cc', true);
  assert(/^Error 4\d\d: .*consequences/.test(ccError), 'an empty conflict-of-law field is the API\'s error: ' + ccError);
  assert((await eoGet(eo2.id)).state !== 'paused', 'API: not paused by the refused answer');
  await page.selectOption('#eo-cc-reason', 'data_not_held');
  await page.waitForSelector('#eo-cc-third_country', { state: 'hidden' });
  // Partly: traffic data only; the order goes on for the rest.
  await page.selectOption('#eo-cc-reason', 'offence_not_covered');
  await page.check('#eo-cc-cat-traffic');
  await page.fill('#eo-cc-explanation', 'Traffic data is not kept for this offence.');
  const partial = await submit(page, '#eo-cc');
  assert(/refused traffic/.test(partial), 'Annex III for traffic data: ' + partial);
  let eo2Api = await eoGet(eo2.id);
  assert(JSON.stringify(eo2Api.refused) === '["traffic"]' && eo2Api.state !== 'paused', 'API: traffic refused, not paused: ' + JSON.stringify(eo2Api.refused) + ' ' + eo2Api.state);
  // The detail is read again after the action: the refused category shows and can no longer be ticked.
  await page.waitForSelector('#eo-cc-cat-traffic:disabled');
  // The whole order: paused.
  await page.selectOption('#eo-cc-reason', 'data_not_held');
  await page.fill('#eo-cc-explanation', 'No account u-1234 exists on the service.');
  const paused = await submit(page, '#eo-cc');
  assert(/paused/.test(paused), 'Annex III for the whole order: ' + paused);
  eo2Api = await eoGet(eo2.id);
  assert(eo2Api.state === 'paused' && eo2Api.reason === 'data_not_held' && eo2Api.paused_at, 'API: paused, data_not_held: ' + eo2Api.state + ' ' + eo2Api.reason);
  await page.waitForFunction((s) => {
    const r = document.querySelector(s);
    return r && r.querySelector('.eo-state').textContent.trim() === 'paused';
  }, rowSel(eo2.id));
  assert(/paused: no deadline/.test(await page.textContent(rowSel(eo2.id) + ' .eo-next')), 'no countdown while paused');
  // The holds column: for every listed order, the holds its summary in the API's list carries.
  const holdsWanted = (o) => [...(o.state === 'paused' ? ['paused since ' + o.paused_at] : []), ...(o.grounds_blocked.length ? ['grounds for refusal block ' + o.grounds_blocked.join(', ')] : []),
    ...(o.production_pending ? ['production pending'] : []), ...(o.restricted ? ['restricted'] : [])];
  const holdsShown = async (sel) => page.$$eval(sel + ' li', (li) => li.map((x) => x.textContent));
  const sums = (await must(200, 'GET', '/v1/evidence-orders?open=1&purpose=test-check', keys['legal-1'].key)).orders;
  const eo2Sum = sums.find((o) => o.id === eo2.id);
  assert(eo2Sum && eo2Sum.state === 'paused' && eo2Sum.paused_at === eo2Api.paused_at, 'API: the list\'s summary is paused since ' + eo2Api.paused_at + ': ' + JSON.stringify(eo2Sum));
  for (const o of sums) {
    const want = holdsWanted(o), shown = await holdsShown(rowSel(o.id) + ' .eo-holds');
    assert(shown.length === want.length && want.every((w, i) => shown[i].startsWith(w)), 'holds of ' + o.id + ': ' + JSON.stringify(shown) + ' (API: ' + JSON.stringify(want) + ')');
    if (!want.length) assert((await page.textContent(rowSel(o.id) + ' .eo-holds')).trim() === 'none', 'no hold: none');
  }
  const eo2Holds = await holdsShown(rowSel(eo2.id) + ' .eo-holds');
  assert(eo2Holds.length >= 1, 'the paused order shows its hold');
  await page.waitForFunction(() => [...document.querySelectorAll('#eorder-detail .eo-msg-kind')].filter((c) => c.textContent === 'non_execution').length === 2);
  const detailHolds = await holdsShown('#eorder-detail .eo-detail-holds');
  assert(JSON.stringify(detailHolds) === JSON.stringify(eo2Holds), 'the detail\'s holds are the list\'s: ' + JSON.stringify(detailHolds));
  ok('Annex III for ' + eo2.id + ' (offence shown as text): 10 reasons, conflict-of-law fields only with conflict_of_law, an empty one is the API\'s error ("' +
    ccError + '"); traffic refused ("' + partial + '"; API: refused traffic, not paused), then the whole order ("' + paused + '"; API: paused, data_not_held); the list shows paused, no deadline, holds ' + JSON.stringify(eo2Holds) + ' (the API\'s summaries for ' + sums.length + ' orders); two non_execution messages listed');

  // Correspondence to the issuing authority, listed with its state.
  await page.selectOption('#eo-corr-kind', 'request_additional_information');
  await page.fill('#eo-corr-text', 'Please give the account name as well.');
  const queued = await submit(page, '#eo-corr');
  await page.waitForSelector('#eorder-detail tr[data-message-id]:has(.eo-msg-kind:text-is("correspondence"))');
  const corrRow = page.locator('#eorder-detail tr[data-message-id]:has(.eo-msg-kind:text-is("correspondence"))');
  const corrState = (await corrRow.locator('.eo-msg-state').textContent()).trim();
  const corrId = Number((await corrRow.getAttribute('data-message-id')));
  const corrApi = (await must(200, 'GET', '/v1/evidence-orders/' + eo2.id + '/messages?purpose=test-check', keys['legal-1'].key)).messages.filter((m) => m.kind === 'correspondence');
  assert(corrApi.length === 1 && corrApi[0].id === corrId && corrApi[0].state === corrState, 'API: the correspondence message, same id and state: ' + JSON.stringify(corrApi));
  ok('correspondence sent through the UI ("' + queued + '"), listed as message #' + corrId + ' (' + corrState + '); the API has it with that state');

  // The admin reads them too, and is told approvals are for legal officers.
  await H.signIn(page, A);
  await go(page, '#eorders');
  await setPurpose('admin check');
  await page.waitForSelector(rowSel(eo2.id));
  await openEo(eo2.id);
  const hint = (await page.textContent('#eorder-detail .actions > p.hint')).trim();
  assert(hint === 'Approvals are given by legal officers (role legal).' && !(await page.isVisible('#eo-approve')), 'the admin\'s note: ' + hint);
  ok('admin: evidence orders offered, no approval form but "' + hint + '"');

  // ---- the auditor: reads everything, no action; a forced action shows the API's 403 ----
  await H.signIn(page, keys['aud-1'].key);
  const audNav = (await navOf(page)).filter((v) => !['review', 'qa'].includes(v)); // review_test.js's
  const seen = [];
  for (const v of audNav) {
    await go(page, '#' + v);
    await page.waitForTimeout(150);
    const acts = await actionButtons(page, v);
    assert(acts.length === 0, 'the auditor sees no action in ' + v + ': ' + acts);
    seen.push(v);
  }
  assert(!audNav.includes('eorders'), 'evidence orders are not offered to the auditor: ' + audNav);
  await page.evaluate(() => { location.hash = '#eorders'; });
  await page.waitForFunction(() => /Evidence orders" is not for role auditor/.test(document.getElementById('message').textContent));
  assert(!(await page.isVisible('#view-eorders')) && !(await page.isVisible('#purpose-form')), 'at #eorders no purpose asked, nothing read');
  const eo403 = await call('GET', '/v1/evidence-orders?open=1&purpose=x', keys['aud-1'].key);
  assert(eo403.status === 403, 'API: GET /v1/evidence-orders answers 403 to an auditor: ' + eo403.status);
  const notFor = (await page.textContent('#message')).trim();
  await go(page, '#banks/TEAM_BANK');
  await page.waitForSelector('#bank-detail-title');
  assert(!(await page.isVisible('#bank-edit')) && !(await page.isVisible('#bank-create')), 'no bank forms for the auditor');
  await page.evaluate(() => { window.TD.can = () => true; });
  await go(page, '#audit');
  await go(page, '#banks');
  await page.waitForSelector('#bank-create');
  await page.fill('#bank-create-name', 'AUDITOR_BANK');
  const forced = await submit(page, '#bank-create', true);
  assert(/Error 403/.test(forced), 'the forced action shows the 403: ' + forced);
  assert((await call('GET', '/v1/banks/AUDITOR_BANK', A)).status === 404, 'API: no bank was made');
  ok('auditor: no action button in ' + seen.length + ' views (' + seen.join(', ') + '); evidence orders not offered, at #eorders "' + notFor + '" (API: 403); a forced create shows "' + forced + '"');

  // ---- the order left alone is breached: the API has breached_at, the row is marked ----
  let late;
  for (let i = 0; !(late = await must(200, 'GET', '/v1/orders/' + o3.id, A)).breached_at; i++) {
    assert(i < 900, 'order #' + o3.id + ' is breached after its one-minute deadline');
    await new Promise((r) => setTimeout(r, 100));
  }
  await H.signIn(page, A);
  await go(page, '#orders');
  await page.waitForSelector('tr[data-order-id="' + o3.id + '"].breached');
  const redRow = 'tr[data-order-id="' + o3.id + '"]';
  assert((await page.textContent(redRow)).includes('BREACHED ' + late.breached_at), 'the row says BREACHED with the API\'s time');
  // Found and measured in one evaluation: the list may be drawn again between two steps.
  const colour = await page.evaluate((s) => {
    const el = document.querySelector(s + '.breached');
    return el ? getComputedStyle(el).backgroundColor : '';
  }, redRow);
  assert(colour && colour !== 'rgba(0, 0, 0, 0)' && colour !== 'rgb(255, 255, 255)', 'the breached row is coloured: ' + colour);
  ok('after its deadline: API breached_at ' + late.breached_at + ' for order #' + o3.id + ', the row marked BREACHED (' + colour + ')');

  // ---- phone width ----
  const phone = await H.page(t.browser, 390, 844);
  await H.signIn(phone, A);
  await go(phone, '#transparency');
  await submit(phone, '#transparency-period');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 390, 'no sideways page scroll at 390 px (' + width + ')');
  await phone.evaluate(() => document.getElementById('chart-removal-time').scrollIntoView());
  await H.screenshot(phone, 'team-phone', true);
  await phone.context().close();
  ok('at 390 px the transparency view fits the width (' + width + ' px)');

  const probs = H.pageProblems(page).filter((p) => !/40[1349]|409|status of 4/.test(p));
  assert(probs.length === 0, 'no script error or CSP violation: ' + probs.join('; '));
  ok('no script error or CSP violation');
}, { evidence: true, serveArgs: ['--exchange-allow-private', '1', '--order-deadline-ms', '60000'] });
