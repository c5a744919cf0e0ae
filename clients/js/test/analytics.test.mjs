// Analytics against a real server: custom events, page views and h5_error events batched and
// uploaded, counted in the workspace's reports; a batch whose answer was lost sent again under
// the same batch_id and counted once; the upload policy deciding what is logged at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MemoryStore } from '../dist/index.js';
import { admin, client, eventually, needsServer, recordingFetch, today, unique } from './helpers.mjs';

const eventsReport = (name) => admin('GET', `/analytics/events?from=${today()}&to=${today()}`).then((report) => report.events.find((event) => event.name === name));

test('events, page views and captured page errors are uploaded and counted', needsServer, async () => {
  const name = unique('js_checkout');
  const page = unique('js-page');
  const recorder = recordingFetch();
  const { midship, errors } = client({ userId: unique('shopper'), fetch: recorder.fetch });
  await midship.analytics.start();
  midship.analytics.launch();
  midship.analytics.event(name, { sku: 'A1', qty: 2, gift: false, ignored: { nested: true } });
  midship.analytics.event(name, { sku: 'B2' });
  midship.analytics.pageView(page);
  midship.analytics.pageView(`${page}-next`);
  midship.analytics.endPageView();

  // The page's uncaught errors, as a window would dispatch them.
  const page$ = new EventTarget();
  const stopCapturing = midship.analytics.captureErrors(page$);
  const failure = new Event('error');
  Object.assign(failure, { message: 'Uncaught TypeError: x is undefined', filename: 'https://h5.example/app.js', error: new TypeError('x is undefined') });
  page$.dispatchEvent(failure);
  const rejection = new Event('unhandledrejection');
  Object.assign(rejection, { reason: new Error('the promise failed') });
  page$.dispatchEvent(rejection);
  stopCapturing();
  page$.dispatchEvent(failure); // no longer captured

  assert.equal(midship.analytics.queued, 7);
  const result = await midship.analytics.flush();
  assert.equal(result.accepted, 7, JSON.stringify(result));
  assert.deepEqual(result.rejected, []);
  assert.equal(result.duplicate, false);
  assert.equal(midship.analytics.queued, 0);
  const [upload] = recorder.of('midship.analytics.upload');
  const batch = JSON.parse(upload.body);
  assert.equal(batch.batch_id, result.batch_id);
  const kinds = batch.events.map((event) => event.kind);
  assert.deepEqual(kinds, ['launch', 'event', 'event', 'page', 'page', 'h5_error', 'h5_error']);
  assert.deepEqual(batch.events[1].attributes, { sku: 'A1', qty: 2, gift: false });
  assert.equal(batch.events[4].referrer, page);
  assert.equal(batch.events[5].message, 'Uncaught TypeError: x is undefined');
  assert.equal(batch.events[5].url, 'https://h5.example/app.js');
  assert.match(batch.events[5].stack, /TypeError: x is undefined/);
  assert.match(batch.events[6].message, /the promise failed/);

  const counted = await eventually('the events report counts the event', () => eventsReport(name), (event) => event?.count === 2);
  assert.equal(counted.devices, 1);
  const pages = await admin('GET', `/analytics/pages?from=${today()}&to=${today()}`);
  assert.ok(JSON.stringify(pages).includes(page), 'the page view is in the pages report');
  assert.deepEqual(errors, []);
  await midship.close();
});

test('a batch whose answer was lost is sent again under its batch_id and counted once', needsServer, async () => {
  const name = unique('js_retry');
  const store = new MemoryStore();
  const recorder = recordingFetch();
  recorder.dropAnswers((call) => call.headers['Operation-Type'] === 'midship.analytics.upload');
  const { midship } = client({ store, fetch: recorder.fetch });
  midship.analytics.event(name);
  await assert.rejects(midship.analytics.flush(), (error) => error.kind === 'network');
  assert.equal(recorder.of('midship.analytics.upload')[0].resultStatus, '1000', 'the server did take the batch');

  // A reload: a new client over the same store finds the batch and sends it again.
  const reloaded = client({ store, fetch: recorder.fetch });
  const result = await reloaded.midship.analytics.flush();
  assert.equal(result.duplicate, true);
  assert.equal(result.content_differs, false);
  assert.equal(result.accepted, 0);
  const uploads = recorder.of('midship.analytics.upload').map((call) => JSON.parse(call.body).batch_id);
  assert.equal(uploads.length, 2);
  assert.equal(uploads[0], uploads[1]);
  assert.equal(await reloaded.midship.analytics.flush(), null, 'nothing left to send');
  const counted = await eventually('counted once', () => eventsReport(name), (event) => event?.count === 1);
  assert.equal(counted.count, 1);
});

test('the policy decides which kinds are logged and the batch size', needsServer, async () => {
  await admin('PUT', '/analytics/policy', { batch_size: 2, flush_interval_seconds: 60, kinds: { log: { min_level: 'warn' }, page: { enabled: false } } });
  try {
    const recorder = recordingFetch();
    const { midship, errors } = client({ fetch: recorder.fetch });
    const policy = await midship.analytics.refreshPolicy();
    assert.equal(policy.batch_size, 2);
    assert.equal(policy.kinds.page, undefined);
    midship.analytics.page('hidden-page');
    midship.analytics.log('info', 'too chatty');
    midship.analytics.log('error', 'payment failed', 'pay');
    assert.equal(midship.analytics.queued, 1);
    midship.analytics.event(unique('js_policy'));
    midship.analytics.event(unique('js_policy'));
    // A full batch goes out by itself.
    await eventually('a full batch is uploaded', () => recorder.of('midship.analytics.upload').length, (count) => count === 1);
    const batch = JSON.parse(recorder.of('midship.analytics.upload')[0].body);
    assert.deepEqual(batch.events.map((event) => event.kind), ['log', 'event']);
    assert.equal(batch.events[0].level, 'error');
    await eventually('the upload is answered', () => midship.analytics.queued, (count) => count === 1);
    assert.deepEqual(errors, []);
    midship.analytics.stop();
  } finally {
    await admin('PUT', '/analytics/policy', {});
  }
});
