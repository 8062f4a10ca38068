#!/usr/bin/env node
// Browser test of moxd's web interfaces with Debian's Chromium driven by
// playwright-core (no browser download). Run by t_web_browser.sh:
//   node t_web_browser.js BASE_URL SHOT_DIR ADDRESS PASSWORD NEW_PASSWORD ADMIN_PASSWORD IDLE_SECS
// Every wait is bounded; any failure exits non-zero with a message.
'use strict';
const { chromium } = require('playwright-core');

const [base, shots, address, password, newPassword, adminPassword, idleSecs] = process.argv.slice(2);
if (!idleSecs) {
  console.error('usage: t_web_browser.js BASE_URL SHOT_DIR ADDRESS PASSWORD NEW_PASSWORD ADMIN_PASSWORD IDLE_SECS');
  process.exit(2);
}
const STEP_TIMEOUT = 15000;

function check(cond, what) {
  if (!cond) {
    throw new Error('check failed: ' + what);
  }
  console.log('ok: ' + what);
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  console.log('screenshot: ' + name + '.png');
}

async function loginAccount(page, pw) {
  await page.fill('#login-username', address);
  await page.fill('#login-password', pw);
  await page.click('#login-form button[type=submit]');
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const desktop = { viewport: { width: 1100, height: 900 } };
  try {
    // Account: the login form, then the page.
    const ctxA = await browser.newContext(desktop);
    ctxA.setDefaultTimeout(STEP_TIMEOUT);
    const a = await ctxA.newPage();
    await a.goto(base + '/account/');
    check(await a.isVisible('#login-form'), 'account login form shown');
    check((await a.textContent('#login-message')).trim() === '', 'no message on a first visit');
    await shot(a, 'account-login');
    await loginAccount(a, password);
    await a.waitForSelector('#password-form');
    check((await a.textContent('#addresses')).includes(address), 'account page lists the address');
    check((await a.textContent('#mailboxes')).includes('Inbox'), 'account page lists the mailboxes');
    const cookies = await ctxA.cookies();
    const session = cookies.find((c) => c.name === 'webaccountsession');
    check(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/account/', 'session cookie is HttpOnly, SameSite=Strict, Path=/account/');
    check(!cookies.some((c) => c.name !== 'webaccountsession'), 'no other cookie (login cookie gone)');
    check(await a.evaluate(() => document.cookie === ''), 'the session cookie is invisible to scripts');
    await shot(a, 'account');

    // Another site's page that auto-submits a form to change the password,
    // opened in the logged-in browser: refused (no cookie goes along, and
    // the origin is not ours).
    const evilPage = `<!doctype html><form id="f" method="post" enctype="text/plain" action="${base}/account/api/SetPassword">` +
      `<input name='{"password":"' value='hacked-Password-9"}'></form><script>document.getElementById('f').submit()</script>`;
    await ctxA.route('http://evil.test/**', (route) => route.fulfill({ contentType: 'text/html', body: evilPage }));
    const evil = await ctxA.newPage();
    const evilResponse = evil.waitForResponse((r) => r.url().includes('/account/api/SetPassword'));
    await evil.goto('http://evil.test/');
    const er = await evilResponse;
    check(er.status() === 401 || er.status() === 403, 'cross-origin auto-submitting form refused (HTTP ' + er.status() + ')');
    await evil.close();

    // The same page on a phone.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    await p.goto(base + '/account/');
    await p.fill('#login-username', address);
    await p.fill('#login-password', password);
    await p.click('#login-form button[type=submit]');
    await p.waitForSelector('#password-form', { timeout: STEP_TIMEOUT });
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, 'no sideways scrolling on a phone (' + overflow + 'px)');
    await shot(p, 'account-phone');
    await phone.close();

    // A second browser, logged in to the same account.
    const ctxB = await browser.newContext(desktop);
    ctxB.setDefaultTimeout(STEP_TIMEOUT);
    const b = await ctxB.newPage();
    await b.goto(base + '/account/');
    await loginAccount(b, password);
    await b.waitForSelector('#password-form');
    check((await b.locator('#sessions tbody tr').count()) >= 2, 'the session list shows both browsers');

    // Change the password in the first; the strength shows, the password does not.
    await a.reload();
    await a.fill('#new-password', newPassword);
    const strength = (await a.textContent('#password-strength')).trim();
    check(strength.startsWith('Strength: ') && !strength.includes(newPassword), 'strength shown without the password: ' + strength);
    await a.click('#password-form button[type=submit]');
    await a.waitForFunction(() => document.getElementById('status').textContent.includes('Password changed'));
    await a.waitForLoadState('load');
    await a.reload();
    check(await a.isVisible('#password-form'), 'the browser that changed the password stays logged in');
    check((await a.locator('#sessions tbody tr').count()) === 1, 'only this session is left');

    // The second browser's session was ended by the change.
    await b.reload();
    check(await b.isVisible('#login-form'), 'second browser shows the login form');
    check((await b.textContent('#login-message')).includes('session has ended'), 'with a message that the session ended');
    await shot(b, 'account-session-ended');
    await loginAccount(b, password);
    await b.waitForFunction(() => document.getElementById('login-message').textContent.includes('login failed'));
    check(await b.isVisible('#login-form'), 'the old password no longer works');
    await loginAccount(b, newPassword);
    await b.waitForSelector('#password-form');
    check(true, 'the new password works');

    // Log out.
    await a.click('header form.logout button');
    await a.waitForSelector('#login-form');
    check(!(await ctxA.cookies()).some((c) => c.name === 'webaccountsession'), 'logout removed the session cookie');
    await a.goto(base + '/account/');
    check(await a.isVisible('#login-form'), 'after logout the page asks for a login');

    // Admin.
    const ctxC = await browser.newContext(desktop);
    ctxC.setDefaultTimeout(STEP_TIMEOUT);
    const c = await ctxC.newPage();
    await c.goto(base + '/admin/');
    check(await c.isVisible('#login-form'), 'admin login form shown');
    check(!(await c.isVisible('#login-username')), 'admin login asks only for the password');
    await shot(c, 'admin-login');
    await c.fill('#login-password', adminPassword);
    await c.click('#login-form button[type=submit]');
    await c.waitForSelector('#processes');
    const procs = await c.textContent('#processes');
    for (const role of ['store', 'web', 'queue']) {
      check(procs.includes(role), 'process ' + role + ' listed');
    }
    check(procs.includes('seccomp: '), 'sandbox state listed');
    await shot(c, 'admin');

    // Let the admin session expire, then use the page: the login form
    // comes up with a message, and after the login the call goes through.
    const wait = (Number(idleSecs) + 2) * 1000;
    console.log('waiting ' + wait + ' ms for the admin session to expire');
    await c.waitForTimeout(wait);
    await c.fill('#domain-add', 'expired.example');
    await c.click('#domain-add-form button[type=submit]');
    await c.waitForSelector('#login-dialog[open]');
    check((await c.textContent('#login-message')).includes('session has ended'), 'expired session: login form with a message');
    await shot(c, 'admin-relogin');
    await c.fill('#login-dialog #login-password', adminPassword);
    await c.click('#login-dialog button[type=submit]');
    await c.waitForSelector('#login-dialog', { state: 'hidden' });
    let listed = false;
    for (let i = 0; i < 40 && !listed; i++) {
      // The page reloads after the call; read it once it is there.
      try {
        listed = (await c.textContent('#domains', { timeout: 1000 })).includes('expired.example');
      } catch (e) {
        listed = false;
      }
      if (!listed) {
        await c.waitForTimeout(250);
      }
    }
    check(listed, 'the call that failed went through after the login');
    await shot(c, 'admin-after-relogin');
    await c.click('header form.logout button');
    await c.waitForSelector('#login-form');
    check(true, 'admin logged out');
    console.log('browser', browser.version());
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error('FAIL: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
