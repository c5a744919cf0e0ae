// Signed RPCs against a real server: registration and device signatures, the 3002 retry at first
// contact, clock correction after 7003, RPC frames over the long connection, and refusals as
// MidshipError values.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MemoryStore, MidshipError } from '../dist/index.js';
import { client, needsServer, recordingFetch, serverEnv } from './helpers.mjs';

test('a first call registers the device, keeps its credential and signs later calls with it', needsServer, async () => {
  const recorder = recordingFetch();
  const store = new MemoryStore();
  const { midship, errors } = client({ store, fetch: recorder.fetch, userId: 'rpc-user' });
  const time = await midship.rpc('midship.time');
  assert.ok(Math.abs(time.now_ms - Date.now()) < 60_000, `server time ${time.now_ms}`);
  const pulled = await midship.rpc('midship.config.pull', {});
  assert.equal(typeof pulled.etag, 'string');
  assert.equal(typeof pulled.values, 'object');

  const [register] = recorder.of('midship.device.register');
  assert.ok(register, 'the client registered');
  assert.equal(register.headers['Sign-Type'], 'hmac-sha256');
  assert.equal(register.resultStatus, '1000');
  const [pull] = recorder.of('midship.config.pull');
  assert.equal(pull.headers['Sign-Type'], 'device-hmac-sha256');
  assert.equal(pull.headers['Device-Id'], midship.deviceId);
  assert.equal(pull.headers['User-Id'], 'rpc-user');
  assert.equal(pull.headers.Platform, 'h5');
  assert.equal(pull.headers['App-Version'], '3.2.0');
  assert.match(pull.headers.Nonce, /^[0-9a-f]{32}$/);

  // The credential is in the store (and nowhere in what the client reported).
  const stored = JSON.parse(store.get(store.keys().find((key) => key.endsWith('/identity'))));
  assert.equal(stored.device_id, midship.deviceId);
  assert.match(stored.device_secret, /^[0-9a-f]{64}$/);
  assert.deepEqual(errors, []);

  // A new client object over the same store is the same registered device: no second registration.
  const again = client({ store, fetch: recorder.fetch, userId: 'rpc-user' });
  await again.midship.rpc('midship.config.pull', {});
  assert.equal(again.midship.deviceId, midship.deviceId);
  assert.equal(recorder.of('midship.device.register').length, 1);
  assert.equal(recorder.of('midship.config.pull').at(-1).headers['Sign-Type'], 'device-hmac-sha256');
});

test('HMAC-SM3: registration signs hmac-sm3 and later calls and the hello device-hmac-sm3', needsServer, async () => {
  const recorder = recordingFetch();
  const { midship, errors } = client({ signType: 'hmac-sm3', fetch: recorder.fetch });
  await midship.rpc('midship.config.pull', {}, { transport: 'http' });
  assert.equal(recorder.of('midship.device.register')[0].headers['Sign-Type'], 'hmac-sm3');
  const [pull] = recorder.of('midship.config.pull');
  assert.equal(pull.headers['Sign-Type'], 'device-hmac-sm3');
  assert.equal(pull.resultStatus, '1000');
  midship.sync.start();
  await midship.sync.waitConnected();
  await midship.close();
  assert.deepEqual(errors, []);
});

test('a device-state call at first contact is sent again with the Device-Id the 3002 issued', needsServer, async () => {
  const recorder = recordingFetch();
  const { midship } = client({ register: false, fetch: recorder.fetch });
  const policy = await midship.rpc('midship.analytics.policy', {});
  assert.ok(policy.batch_size > 0);
  const calls = recorder.of('midship.analytics.policy');
  assert.equal(calls.length, 2);
  assert.equal(calls[0].headers['Device-Id'], undefined);
  assert.equal(calls[0].resultStatus, '3002');
  assert.equal(calls[1].headers['Device-Id'], midship.deviceId);
  assert.equal(calls[1].headers['Sign-Type'], 'hmac-sha256');
  assert.equal(calls[1].resultStatus, '1000');
});

test('a clock an hour off is corrected from the server and the call goes through', needsServer, async () => {
  const recorder = recordingFetch();
  const { midship, errors } = client({ fetch: recorder.fetch, now: () => Date.now() + 3_600_000 });
  const pulled = await midship.rpc('midship.config.pull', {});
  assert.equal(typeof pulled.etag, 'string');
  assert.ok(recorder.calls.some((call) => call.resultStatus === '7003'), 'the first attempt was refused with 7003');
  assert.ok(Math.abs(midship.clock.offset + 3_600_000) < 5_000, `offset ${midship.clock.offset}`);
  assert.ok(Math.abs(midship.clock.now() - Date.now()) < 5_000);
  assert.deepEqual(errors, []);
});

test('a wrong app secret is a MidshipError 7002 for the caller and for onError, never an exception elsewhere', needsServer, async () => {
  const { midship, errors } = client({ appSecret: 'f'.repeat(64) });
  await assert.rejects(midship.rpc('midship.config.pull', {}), (error) => {
    assert.ok(error instanceof MidshipError);
    assert.equal(error.kind, 'result');
    assert.equal(error.resultCode, 7002);
    assert.match(error.traceId, /^\S+$/);
    assert.ok(!error.message.includes('f'.repeat(64)), 'the secret is not in the message');
    return true;
  });
  // The long connection cannot register either: it stops and reports, it does not throw.
  midship.sync.start();
  await assert.rejects(midship.sync.waitConnected(10_000));
  assert.equal(midship.sync.state, 'failed');
  assert.ok(errors.some((error) => error.resultCode === 7002), JSON.stringify(errors.map((error) => error.message)));
  await midship.close();
});

test('a refused signed hello closes with 4001 and is reported with its result code', needsServer, async () => {
  // Registration is off, so the hello itself (signed with the wrong secret) is what the server refuses.
  const { midship, errors } = client({ appSecret: 'e'.repeat(64), register: false });
  midship.sync.start();
  await assert.rejects(midship.sync.waitConnected(10_000));
  const refusal = errors.find((error) => error.kind === 'connection');
  assert.ok(refusal, JSON.stringify(errors.map((error) => error.message)));
  assert.equal(refusal.closeCode, 4001);
  assert.equal(refusal.resultCode, 7002);
  await midship.close();
});

test('RPCs travel as frames over the open long connection', needsServer, async () => {
  const recorder = recordingFetch();
  const { midship, errors } = client({ fetch: recorder.fetch, userId: 'frames-user' });
  midship.sync.start();
  await midship.sync.waitConnected();
  const before = recorder.calls.length;
  const [time, pulled] = await Promise.all([
    midship.rpc('midship.time', {}, { transport: 'connection' }),
    midship.rpc('midship.config.pull', {}),
  ]);
  assert.ok(time.now_ms > 0);
  assert.equal(typeof pulled.etag, 'string');
  assert.equal(recorder.calls.length, before, 'no HTTP request was made');
  assert.equal(midship.sync.connection.welcome.device_id, midship.deviceId);
  assert.equal(midship.sync.connection.welcome.user_id, 'frames-user');
  await midship.close();
  await assert.rejects(midship.rpc('midship.time', {}, { transport: 'connection' }), (error) => error.kind === 'closed');
  assert.deepEqual(errors, []);
});

test('a token hello (midship.sync.token) opens the connection too', needsServer, async () => {
  const recorder = recordingFetch();
  const { midship, errors } = client({ fetch: recorder.fetch, syncAuth: 'token', userId: 'token-user' });
  midship.sync.start();
  await midship.sync.waitConnected();
  assert.equal(recorder.of('midship.sync.token').length, 1);
  assert.equal(midship.sync.connection.welcome.device_id, midship.deviceId);
  await midship.close();
  assert.deepEqual(errors, []);
});

test('the environment names a server', needsServer, () => {
  assert.ok(serverEnv().url.startsWith('http'));
});
