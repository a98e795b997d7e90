#!/usr/bin/env node
// Browser test of the console's shell and review views (docs/console.md): the real
// `takedown serve` (tests/browser/harness.js), data set up through the API, Debian's Chromium
// driving the console; every result checked through the API.
//
// Usage: node review_test.js PATH/TO/takedown [--chromium /usr/bin/chromium]
'use strict';

const H = require('./harness.js');
const { ok, assert, call, must } = H;

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

H.run('review', async (t) => {
  await staticFiles();
  await shell(t);
}, { serveArgs: ['--review-qa-share', '1'] });
