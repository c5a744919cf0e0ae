// One headless Chromium test of the built client in a real page: a tiny static server (node:http)
// serves page.html, page.mjs and dist/ on MIDSHIP_BROWSER_PORT; the page (another origin than the
// Midship server, which must list it in gateway.cors_origins) pulls configuration with a value
// targeted at its user, receives a sync message the test sends, and captures an uncaught error
// as an h5_error that it uploads. Exits non-zero with the reason when anything differs.
//
// Usage: MIDSHIP_URL=… MIDSHIP_ADMIN_TOKEN=… MIDSHIP_APP_ID=… MIDSHIP_WORKSPACE_ID=… MIDSHIP_APP_SECRET=…
//        MIDSHIP_BROWSER_PORT=… node test/browser/run.mjs
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { admin, eventually, serverEnv, unique } from '../helpers.mjs';

const env = serverEnv();
assert.ok(env, 'set the MIDSHIP_* environment variables');
const port = Number(process.env.MIDSHIP_BROWSER_PORT);
assert.ok(port > 0, 'set MIDSHIP_BROWSER_PORT (the server must allow http://127.0.0.1:PORT in gateway.cors_origins)');
const chromiumPath = process.env.MIDSHIP_CHROMIUM ?? '/usr/bin/chromium';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' };

function resolve(pathname) {
  if (pathname === '/' || pathname === '/page.html') return join(here, 'page.html');
  if (pathname === '/page.mjs') return join(here, 'page.mjs');
  if (pathname.startsWith('/dist/')) {
    const file = normalize(join(dist, pathname.slice('/dist/'.length)));
    return file.startsWith(dist) ? file : null;
  }
  return null;
}

const server = createServer(async (request, response) => {
  const pathname = new URL(request.url, 'http://x').pathname;
  if (pathname === '/favicon.ico') return void response.writeHead(204).end();
  const file = resolve(pathname);
  try {
    if (!file) throw new Error('not found');
    const body = await readFile(file);
    response.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    response.end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((done, fail) => server.listen(port, '127.0.0.1', done).on('error', fail));

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  // The backend side: a switch targeted at the page's user, and a bizType for it.
  const userId = unique('web-user');
  const flagKey = unique('web.flag');
  const bizType = unique('WEB-CHAT').toUpperCase();
  await admin('POST', '/switches', { key: flagKey, type: 'bool', default_value: false, targets: [{ value: true, rule: { whitelist: { user_ids: [userId] } } }] });
  await admin('POST', '/config/publish', { note: 'browser test' });
  await admin('POST', '/sync/configs', { biz_type: bizType, scope: 'targeted', target: 'user' });

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => console.error(`[page] ${message.text()}`));
  const settings = { baseUrl: env.url, appId: env.appId, workspaceId: env.workspaceId, appSecret: env.appSecret, userId, flagKey, bizType };
  await page.goto(`http://127.0.0.1:${port}/#${encodeURIComponent(JSON.stringify(settings))}`);
  await page.waitForFunction(() => window.midshipTest && (window.midshipTest.ready || window.midshipTest.failure), null, { timeout: 20_000 });
  const state = await page.evaluate(() => window.midshipTest);
  assert.equal(state.failure, null, `the page failed: ${state.failure} ${JSON.stringify(state.errors)}`);
  assert.equal(state.flag, true, 'the targeted switch value reached the page');
  assert.match(state.deviceId, /^\S+$/);

  // The credential is kept in localStorage, the default store of a page.
  const identity = await page.evaluate(([app, ws]) => JSON.parse(localStorage.getItem(`midship/${app}/${ws}/identity`)), [env.appId, env.workspaceId]);
  assert.equal(identity.device_id, state.deviceId);
  assert.match(identity.device_secret, /^[0-9a-f]{64}$/);

  // A sync message to the page's user.
  const sent = await admin('POST', '/sync/send', { biz_type: bizType, link_token: userId, third_msg_id: 'web-1', payload: '{"text":"hello page"}' });
  assert.equal(sent.result, 'SUCCESS');
  await page.waitForFunction(() => window.midshipTest.messages.length === 1, null, { timeout: 10_000 });
  const messages = await page.evaluate(() => window.midshipTest.messages);
  assert.deepEqual(messages, [{ seq: 1, payload: '{"text":"hello page"}' }]);
  await eventually('the page acknowledged', () => admin('GET', `/sync/status?biz_type=${bizType}&link_token=${userId}&device_id=${state.deviceId}`), (status) => status.acked_seq === 1);

  // An uncaught error of the page's own code becomes an h5_error, uploaded with the next batch.
  await page.evaluate(() => setTimeout(() => { throw new TypeError('boom from the page'); }, 0));
  await page.waitForFunction(() => window.queuedEvents().some((event) => event.kind === 'h5_error'), null, { timeout: 5_000 });
  const queued = await page.evaluate(() => window.queuedEvents());
  const captured = queued.find((event) => event.kind === 'h5_error');
  assert.match(captured.message, /boom from the page/);
  assert.match(captured.url, new RegExp(`^http://127.0.0.1:${port}/`));
  assert.match(captured.stack ?? '', /TypeError/);
  assert.deepEqual(pageErrors, ['boom from the page'], 'the error still reached the page as usual');
  const upload = await page.evaluate(() => window.midship.analytics.flush());
  assert.equal(upload.accepted, queued.length, JSON.stringify(upload));
  assert.deepEqual(upload.rejected, []);
  const errors = await page.evaluate(() => window.midshipTest.errors);
  assert.deepEqual(errors, [], 'nothing went to onError');
  console.log(JSON.stringify({ ok: true, deviceId: state.deviceId, flag: state.flag, messages: messages.length, uploaded: upload.accepted }));
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
