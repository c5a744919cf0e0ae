// The console in a real browser (Debian's Chromium through Playwright), as a new operator uses it:
// first sign-in with the temporary password first start wrote, a password of their own, an
// authenticator app (the code computed here as any TOTP app does), then the main tasks: create an
// app, set and publish a switch, add a person, upload a package and release it to a whitelist, require approvals and have that second person
// approve a publication in their own browser, sign in a third person through single sign-on
// (a real OpenID provider, tests/console/oidc-provider.mjs), send a push, read a funnel of events
// a device uploaded. Every page is checked for the layout (no horizontal scroll, one-line header at
// 1,280 px, usable on a tablet), and screenshots go to MIDSHIP_SCREENSHOTS.
//
// Usage: MIDSHIP_URL=… MIDSHIP_ADMIN_PASSWORD=… MIDSHIP_SCREENSHOTS=DIR MIDSHIP_SSO_LOGIN=… [MIDSHIP_CHROMIUM=…] node run.mjs
// (the server configured with the provider as `console.oidc`, whose accounts are named by login)
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { Midship, MemoryStore } from '../../clients/js/dist/index.js';

const baseUrl = process.env.MIDSHIP_URL;
const temporaryPassword = process.env.MIDSHIP_ADMIN_PASSWORD;
const screenshots = process.env.MIDSHIP_SCREENSHOTS;
const ssoLogin = process.env.MIDSHIP_SSO_LOGIN;
assert.ok(baseUrl && temporaryPassword && screenshots && ssoLogin,
  'set MIDSHIP_URL, MIDSHIP_ADMIN_PASSWORD, MIDSHIP_SCREENSHOTS and MIDSHIP_SSO_LOGIN');
const chromiumPath = process.env.MIDSHIP_CHROMIUM ?? '/usr/bin/chromium';
const password = 'ferries leave at seven';

/** RFC 6238 with an authenticator app's settings: HMAC-SHA1, 30 s, six digits. */
function totp(secretBase32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const character of secretBase32.replace(/[\s=]/g, '').toUpperCase()) {
    bits += alphabet.indexOf(character).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[19] & 0x0f;
  const value = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, '0');
}

/** A zip of `files` (name → text), stored without compression, as any zip tool can write it. */
function zip(files) {
  const local = [];
  const central = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const nameBytes = Buffer.from(name);
    const data = Buffer.from(text);
    const crc = crc32(data);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0); header.writeUInt16LE(20, 4); header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(data.length, 18); header.writeUInt32LE(data.length, 22); header.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0); entry.writeUInt16LE(20, 4); entry.writeUInt16LE(20, 6); entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(data.length, 20); entry.writeUInt32LE(data.length, 24); entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    local.push(header, nameBytes, data);
    central.push(entry, nameBytes);
    offset += header.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(central.length / 2, 8); end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, directory, end]);
}

const lastSteps = new Map();
/** A code no earlier sign-in with this key used: the server accepts each step once, and the
 * current step and the next only; when both are used, wait for the next step, as a person would. */
async function nextCode(secret) {
  for (;;) {
    const nowStep = Math.floor(Date.now() / 30_000);
    const step = Math.max(nowStep, (lastSteps.get(secret) ?? 0) + 1);
    if (step <= nowStep + 1) {
      lastSteps.set(secret, step);
      return totp(secret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 10));
  }
}

const checked = [];
/** The page holds at this width: nothing scrolls sideways, and at 1,280 px the header is one line. */
async function checkLayout(page, name) {
  const layout = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    header: document.querySelector('header')?.getBoundingClientRect().height ?? 0,
    width: window.innerWidth,
  }));
  assert.ok(layout.overflow <= 1, `${name}: the page scrolls sideways by ${layout.overflow} px at ${layout.width} px`);
  if (layout.width >= 1280) assert.ok(layout.header < 60, `${name}: the header wraps (${layout.header} px high) at ${layout.width} px`);
  checked.push(`${name}@${layout.width}`);
}

/** A screenshot, then the layout check, so a failed check leaves the picture to look at. */
async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  await checkLayout(page, name);
}

/** A first sign-in as a person does it, the login form already open: the temporary password,
 * a password of one's own, then the authenticator app (its key read from the page, as from the QR
 * code). Answers the app's key. */
async function firstSignIn(page, login, temporary, setupShot) {
  await page.fill('#login', login);
  await page.fill('#password', temporary);
  await page.click('button[type=submit]');
  assert.match(page.url(), /\/console\/account$/, 'a temporary password must be changed first');
  await page.fill('#current_password', temporary);
  await page.fill('#new_password', password);
  await page.click('form[action="/console/account/password"] button');
  assert.match(page.url(), /\/console\/login$/);
  await page.fill('#login', login);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  assert.match(page.url(), /\/console\/account$/, 'the installation requires a second factor');
  await page.click('form[action="/console/account/totp"] button');
  const key = (await page.textContent('section.card p code')).trim();
  assert.match(key, /^[A-Z2-7]{32}$/);
  assert.ok(await page.isVisible('.qr svg'), 'a QR code to scan');
  if (setupShot) await shot(page, setupShot);
  await page.fill('#code', await nextCode(key));
  await page.click('form[action="/console/account/totp/confirm"] button');
  assert.match(await page.textContent('p.notice'), /authenticator app is set up/);
  return key;
}

await mkdir(screenshots, { recursive: true });
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => { throw error; });

  // First sign-in: the temporary password, then a password of one's own.
  await page.goto(`${baseUrl}/console`);
  assert.match(page.url(), /\/console\/login$/);
  await page.fill('#login', 'admin');
  await page.fill('#password', 'a wrong password');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('p.error'), /wrong login or password/);
  assert.equal(await page.inputValue('#login'), 'admin', 'the login stays filled');
  await shot(page, 'sign-in-refused');
  const secret = await firstSignIn(page, 'admin', temporaryPassword, 'authenticator-setup');

  // Signing in from now on: password, then the code.
  await page.click('header form[action="/console/logout"] button');
  await page.fill('#login', 'admin');
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  assert.match(page.url(), /\/console\/login\/code$/);
  await shot(page, 'sign-in-code');
  await page.fill('#code', await nextCode(secret));
  await page.click('button[type=submit]');
  assert.match(page.url(), /\/console\/apps$/);

  // An app: its signing secret is shown once.
  await page.fill('form[action="/console/apps"] input[name=name]', 'Metro');
  await page.check('form[action="/console/apps"] input[value=h5]');
  await page.fill('form[action="/console/apps"] input[name=workspaces]', 'prod');
  await page.click('form[action="/console/apps"] button');
  const appSecret = (await page.textContent('.secret code')).trim();
  assert.match(appSecret, /^[0-9a-f]{64}$/);
  await page.goto(`${baseUrl}/console/apps`);
  await shot(page, 'apps');
  const appId = (await page.textContent('table tbody tr td.mono')).trim();
  await page.click(`a[href="/console/apps/${appId}"]`);
  const workspaceId = await page.$eval('header select[name=workspace_id] option[selected]', (option) => option.value);

  // A switch, set and published.
  await page.goto(`${baseUrl}/console/switches`);
  await page.fill('form[action="/console/switches"] input[name=key]', 'booking.open');
  await page.selectOption('form[action="/console/switches"] select[name=value_type]', 'bool');
  await page.fill('form[action="/console/switches"] [name=default_value]', 'true');
  await page.click('form[action="/console/switches"] button');
  await page.fill('form[action="/console/switches/publish"] input[name=note]', 'open bookings');
  await page.click('form[action="/console/switches/publish"] button');
  assert.match(await page.content(), /open bookings/);
  await shot(page, 'switches');

  // An experiment on that switch: a laboratory, the definition, started; its results page.
  await page.goto(`${baseUrl}/console/experiments`);
  await page.fill('form[action="/console/experiments/laboratories"] input[name=key]', 'booking');
  await page.click('form[action="/console/experiments/laboratories"] button');
  await page.fill('form[action="/console/experiments"] input[name=key]', 'booking-closed');
  await page.fill('form[action="/console/experiments"] textarea[name=definition]', '{"variations": [{"key": "control"}]}');
  await page.click('form[action="/console/experiments"] button');
  assert.match(await page.textContent('p.error'), /2 to 20 variations/, 'a refused definition says why');
  const definition = {
    hypothesis: 'closing bookings for a day hurts no one',
    variations: [
      { key: 'control', values: { 'booking.open': true } },
      { key: 'closed', values: { 'booking.open': false } },
    ],
    metrics: [{ key: 'booked', kind: { type: 'conversion', event: 'buy_ticket' } }],
  };
  await page.fill('form[action="/console/experiments"] textarea[name=definition]', JSON.stringify(definition, null, 2));
  await page.click('form[action="/console/experiments"] button');
  await page.waitForURL(/\/console\/experiments\/booking-closed$/);
  await page.click('button[name=phase][value=running]');
  assert.match(await page.textContent('main'), /phase running/);
  assert.match(await page.textContent('main'), /not enough data/);
  await shot(page, 'experiment');

  // A person, with a temporary password to hand over.
  await page.goto(`${baseUrl}/console/people`);
  await page.fill('#login', 'bo@metro.example');
  await page.fill('#display_name', 'Bo Lind');
  await page.selectOption('#role', 'operator');
  await page.click('form[action="/console/people"] button');
  assert.match(await page.textContent('h1'), /bo@metro.example created/);
  const boTemporary = (await page.textContent('.secret code')).trim();
  await page.goto(`${baseUrl}/console/people`);
  await shot(page, 'people');

  // An H5 offline package uploaded from the page (with its progress bar), then released to a
  // whitelist.
  await page.goto(`${baseUrl}/console/delivery`);
  await page.selectOption('#upload select[name=kind]', 'h5');
  const manifest = { app_id: '20000001', version: '1.0.0', vhost: 'https://20000001.h5app.example.com',
    main_url: '/www/index.html', install_mode: 'wifi_only', fallback_url: 'https://m.metro.example/' };
  await page.setInputFiles('#upload input[name=file]', { name: 'timetable-1.0.0.zip', mimeType: 'application/zip',
    buffer: zip({ 'manifest.json': JSON.stringify(manifest), 'www/index.html': '<html><body>Timetable</body></html>' }) });
  await page.click('#upload button');
  await page.waitForURL(/\/console\/delivery\?uploaded=/);
  assert.match(await page.textContent('p.notice'), /Uploaded h5 20000001 1\.0\.0/);
  await page.selectOption('form[action="/console/delivery/release"] select[name=stage]', 'whitelist');
  await page.fill('form[action="/console/delivery/release"] input[name=users]', 'rider-1, rider-2');
  await page.click('form[action="/console/delivery/release"] button');
  assert.match(await page.content(), /<td>whitelist<\/td>\s*<td>active<\/td>/, 'a whitelist release is live');
  await shot(page, 'delivery');
  await page.setInputFiles('#upload input[name=file]', { name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip') });
  await page.click('#upload button');
  await page.waitForSelector('#upload p.error');
  assert.match(await page.textContent('#upload p.error'), /zip/i, 'a corrupt package is refused with the reason');

  // A ProGuard/R8 mapping, so crashes of that version read with their real names.
  await page.goto(`${baseUrl}/console/analytics/symbols`);
  await page.fill('form.upload input[name=app_version]', '1.0.0');
  await page.setInputFiles('form.upload input[name=file]', { name: 'mapping.txt', mimeType: 'text/plain',
    buffer: Buffer.from('com.metro.Timetable -> a.b:\n    void refresh() -> c\n') });
  await page.click('form.upload button');
  await page.waitForURL(/\/console\/analytics\/symbols\?uploaded=1\.0\.0/);
  assert.match(await page.textContent('table'), /1\.0\.0\s*proguard\s*1/);

  // Four eyes: the admin requires approvals in this workspace; a publication waits for Bo.
  await page.goto(`${baseUrl}/console/approvals`);
  await page.click('form[action="/console/approvals/policy"] button');
  assert.match(await page.content(), /Four eyes are on/);
  await page.goto(`${baseUrl}/console/switches`);
  await page.fill('form[action="/console/switches"] input[name=key]', 'booking.open');
  await page.selectOption('form[action="/console/switches"] select[name=value_type]', 'bool');
  await page.fill('form[action="/console/switches"] [name=default_value]', 'false');
  await page.click('form[action="/console/switches"] button');
  await page.fill('form[action="/console/switches/publish"] input[name=note]', 'close for maintenance');
  await page.click('form[action="/console/switches/publish"] button');
  assert.match(page.url(), /\/console\/approvals\?requested=/);
  assert.match(await page.textContent('p.notice'), /Sent for approval/);
  assert.equal(await page.$$eval('article.card form[action$="/approve"]', (forms) => forms.length), 0, 'nobody approves their own request');
  await shot(page, 'approval-requested');

  // Bo, in his own browser: first sign-in, then the request, approved with a comment.
  const boContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const bo = await boContext.newPage();
  bo.on('pageerror', (error) => { throw error; });
  await bo.goto(`${baseUrl}/console`);
  await firstSignIn(bo, 'bo@metro.example', boTemporary);
  await bo.goto(`${baseUrl}/console/approvals`);
  assert.match(await bo.textContent('article.card h3'), /publish 1 switch change/);
  await bo.fill('article.card form[action$="/approve"] input[name=comment]', 'maintenance window agreed');
  await bo.click('article.card form[action$="/approve"] button');
  assert.match(await bo.textContent('p.notice'), /applied — published version 2/);
  await shot(bo, 'approval-applied');
  await boContext.close();
  await page.goto(`${baseUrl}/console/switches`);
  assert.match(await page.content(), /close for maintenance/, 'version 2 is in the history');

  // Single sign-on: the admin adds Carol; she signs in at the organisation's OpenID provider
  // (authorization code with PKCE), with no password or authenticator of Midship's.
  await page.goto(`${baseUrl}/console/people`);
  await page.fill('#login', ssoLogin);
  await page.fill('#display_name', 'Carol Berg');
  await page.selectOption('#role', 'viewer');
  await page.click('form[action="/console/people"] button');
  const carolContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const carol = await carolContext.newPage();
  carol.on('pageerror', (error) => { throw error; });
  await carol.goto(`${baseUrl}/console`);
  await shot(carol, 'sign-in-sso');
  await carol.click('a[href="/console/oidc/start"]');
  await carol.waitForSelector('input[name=login]');
  assert.ok(!carol.url().startsWith(baseUrl), `at the provider: ${carol.url()}`);
  await carol.fill('input[name=login]', ssoLogin);
  // The provider's development page takes any password: it stands for the bank's own sign-in.
  await carol.fill('input[name=password]', 'checked by the provider');
  await carol.click('button[type=submit]');
  await carol.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await carol.click('button[type=submit]');
  await carol.waitForURL(`${baseUrl}/console/apps`);
  assert.match(await carol.textContent('header .who'), new RegExp(`${ssoLogin}.*viewer`));
  await carol.goto(`${baseUrl}/console/approvals`);
  assert.match(await carol.content(), /Four eyes are on/, 'she reads what her role allows');
  await carolContext.close();

  // A device uploads events; the funnel shows them.
  const device = new Midship({ baseUrl, appId, workspaceId, appSecret, platform: 'h5', appVersion: '1.0.0', store: new MemoryStore(), userId: 'rider-1' });
  await device.analytics.start();
  device.analytics.launch();
  device.analytics.event('plan_trip', {});
  // Funnel steps count at strictly later times (docs/analytics.md): a person takes a moment.
  await new Promise((resolve) => setTimeout(resolve, 20));
  device.analytics.event('buy_ticket', { fare: 2.4 });
  const uploaded = await device.analytics.flush();
  assert.equal(uploaded.accepted, 3, JSON.stringify(uploaded));
  await page.goto(`${baseUrl}/console/analytics?steps=plan_trip,buy_ticket`);
  assert.match(await page.content(), /devices per funnel step/);
  const funnel = await page.$$eval('svg[aria-label*="funnel"] text', (texts) => texts.map((text) => text.textContent));
  assert.deepEqual(funnel, ['plan_trip', '1', 'buy_ticket', '1'], 'both steps reached');
  assert.ok(await page.isVisible('svg[aria-label*="funnel"]'), 'the funnel chart');
  await shot(page, 'analytics-funnel');

  // A push to that device.
  await page.goto(`${baseUrl}/console/push`);
  await page.selectOption('form[action="/console/push/send"] select[name=target_kind]', 'user');
  await page.fill('form[action="/console/push/send"] [name=target_id]', 'rider-1');
  await page.fill('form[action="/console/push/send"] [name=msg_id]', 'delay-1');
  await page.fill('form[action="/console/push/send"] [name=title]', 'Line 4 delayed');
  await page.fill('form[action="/console/push/send"] [name=content]', 'Trains run every 12 minutes until noon.');
  await page.click('form[action="/console/push/send"] button');
  await shot(page, 'push');

  // The audit log names the person behind each change.
  await page.goto(`${baseUrl}/console/audit`);
  const audit = await page.content();
  for (const action of ['person.sign_in', 'person.totp_enable', 'app.create', 'switch.publish', 'experiment.create', 'experiment.running', 'person.create',
    'workspace.approvals', 'approval.request', 'approval.approve', 'person.sso_link', 'delivery.release.create']) {
    assert.ok(audit.includes(action), `${action} in the audit log`);
  }
  await shot(page, 'audit');

  // A tablet, portrait.
  await page.setViewportSize({ width: 820, height: 1180 });
  for (const path of ['/console/apps', '/console/switches', '/console/delivery', '/console/analytics', '/console/approvals', '/console/audit']) {
    await page.goto(`${baseUrl}${path}`);
    await checkLayout(page, path);
  }
  await page.goto(`${baseUrl}/console/no-such-page`);
  assert.match(await page.textContent('h1'), /404/);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok: !failed, checked }));
process.exit(failed ? 1 : 0);
