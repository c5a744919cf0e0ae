// The long connection against a scripted server (a fake WebSocket), for what a real server does
// not do on demand: garbage frames, every close code of docs/protocol.md, a connection dropped
// with calls in flight, answers out of order, and the skip-and-acknowledge rule of exactly-once
// delivery for a message at or below the stored position.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MemoryStore, Midship, signingString, sign } from '../dist/index.js';
import { eventually, sleep } from './helpers.mjs';

const APP = { appId: 'APP1', workspaceId: 'WS1', appSecret: 'a'.repeat(64) };

/** A WebSocket whose server side the test plays. */
class FakeSocket {
  static sockets = [];
  readyState = 0;
  protocol = 'midship.v1.json';
  sent = [];
  closedWith = undefined;
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    FakeSocket.sockets.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code, reason) {
    this.closedWith ??= { code, reason };
    this.readyState = 3;
  }
  /** What the server sends. */
  receive(frame) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  frames(type) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

function fakeClient(extra = {}) {
  FakeSocket.sockets = [];
  const errors = [];
  const store = extra.store ?? new MemoryStore();
  const midship = new Midship({
    baseUrl: 'http://midship.test',
    ...APP,
    register: false,
    userId: 'alice',
    store,
    WebSocket: FakeSocket,
    fetch: async () => {
      throw new TypeError('no HTTP in these tests');
    },
    onError: (error) => errors.push(error),
    ...extra,
  });
  return { midship, errors, store };
}

const welcome = (extra = {}) => ({
  type: 'welcome', connection_id: '1', device_id: 'DEV1', user_id: 'alice', heartbeat_seconds: 30,
  idle_timeout_seconds: 90, server_time: Date.now(), max_frame_bytes: 1114112, ...extra,
});

async function connected(client, welcomeExtra = {}) {
  client.midship.sync.start();
  const socket = await eventually('a socket with a hello', () => FakeSocket.sockets.at(-1), (s) => s && s.sent.length === 1);
  socket.receive(welcome(welcomeExtra));
  await client.midship.sync.waitConnected(2000);
  return socket;
}

test('the hello is signed as docs/protocol.md says and carries the stored positions', async () => {
  const store = new MemoryStore();
  store.set('midship/APP1/WS1/identity', JSON.stringify({ device_id: 'DEV1' }));
  store.set('midship/APP1/WS1/positions/DEV1', JSON.stringify({ 'CHAT-MSG': { seq: 41, user: 'alice' }, 'BOB-ONLY': { seq: 9, user: 'bob' } }));
  const client = fakeClient({ store, appVersion: '3.2.0', osVersion: '17.4' });
  const socket = await connected(client);
  assert.equal(socket.url, 'ws://midship.test/ws');
  assert.deepEqual(socket.protocols, ['midship.v1.json']);
  const [hello] = socket.sent;
  assert.equal(hello.type, 'hello');
  assert.deepEqual(hello.positions, { 'CHAT-MSG': 41 });
  assert.equal(hello.device_id, 'DEV1');
  assert.equal(hello.user_id, 'alice');
  assert.equal(hello.platform, 'h5');
  assert.equal(hello.app_version, '3.2.0');
  assert.equal(hello.os_version, '17.4');
  assert.equal(hello.foreground, true);
  assert.equal(hello.sign_type, 'hmac-sha256');
  const input = { method: 'CONNECT', operationType: 'midship.connect', appId: 'APP1', workspaceId: 'WS1', ts: hello.ts, nonce: hello.nonce, body: '' };
  assert.equal(await signingString('hmac-sha256', input), `CONNECT\nmidship.connect\nAPP1\nWS1\n${hello.ts}\n${hello.nonce}\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`);
  assert.equal(hello.sign, await sign('hmac-sha256', APP.appSecret, input));
  await client.midship.close();
});

test('garbage from the server is reported, never thrown, and the connection carries on', async () => {
  const client = fakeClient();
  const socket = await connected(client);
  const handled = [];
  client.midship.sync.register('CHAT', (message) => handled.push(message.seq));
  for (const garbage of ['not json', '[1,2]', '{"no":"type"}', { type: 'sync', biz_type: 'CHAT', seq: 'x' },
    { type: 'sync', biz_type: 'CHAT', seq: 0, persistent: true }, { type: 'rpc_result', id: 999, result_status: 1000 },
    { type: 'rpc_result', id: 'x' }, '{"type":"sync","biz_type":"CHAT","seq":1,"payl']) {
    socket.receive(garbage);
  }
  socket.receive({ type: 'some_future_frame', x: 1 });
  assert.equal(client.errors.filter((error) => error.kind === 'protocol').length, 8, client.errors.map((e) => e.message).join('\n'));
  socket.receive({ type: 'sync', biz_type: 'CHAT', seq: 1, msg_id: 'm1', payload: 'p', created_at: 1, persistent: true });
  await eventually('the good message after the garbage', () => handled, (list) => list.length === 1);
  assert.equal(client.midship.sync.state, 'connected');
  await client.midship.close();
});

test('a message at or below the stored position is acknowledged again without the handler; a new one is stored before its ack', async () => {
  const store = new MemoryStore();
  const order = [];
  const originalSet = store.set.bind(store);
  store.set = (key, value) => {
    if (key.includes('/positions/')) order.push(`store ${value}`);
    originalSet(key, value);
  };
  store.set('midship/APP1/WS1/identity', JSON.stringify({ device_id: 'DEV1' }));
  store.set('midship/APP1/WS1/positions/DEV1', JSON.stringify({ CHAT: { seq: 5, user: 'alice' } }));
  order.length = 0;
  const client = fakeClient({ store });
  const socket = await connected(client);
  const originalSend = socket.send.bind(socket);
  socket.send = (data) => {
    const frame = JSON.parse(data);
    if (frame.type === 'ack') order.push(`ack ${frame.seq}`);
    originalSend(data);
  };
  const handled = [];
  client.midship.sync.register('CHAT', async (message) => {
    order.push(`handle ${message.seq}`);
    await sleep(20);
    handled.push(message.seq);
  });
  const frame = (seq) => ({ type: 'sync', biz_type: 'CHAT', seq, msg_id: `m${seq}`, payload: '{}', created_at: 1, persistent: true });
  socket.receive(frame(4));
  socket.receive(frame(5));
  socket.receive(frame(6));
  socket.receive(frame(7));
  await eventually('7 acknowledged', () => socket.frames('ack').map((ack) => ack.seq), (acks) => acks.includes(7));
  assert.deepEqual(handled, [6, 7]);
  assert.deepEqual(socket.frames('ack').map((ack) => ack.seq), [4, 5, 6, 7]);
  assert.deepEqual(order, ['ack 4', 'ack 5', 'handle 6', 'store {"CHAT":{"seq":6,"user":"alice"}}', 'ack 6', 'handle 7', 'store {"CHAT":{"seq":7,"user":"alice"}}', 'ack 7']);
  assert.deepEqual(client.errors, []);
  await client.midship.close();
});

test('replaced (4010): no reconnect; refused (4001): stop and report the result code', async () => {
  const replaced = fakeClient();
  const first = await connected(replaced);
  first.serverClose(4010, 'replaced by a newer connection');
  await sleep(800);
  assert.equal(FakeSocket.sockets.length, 1, 'no new socket');
  assert.equal(replaced.midship.sync.state, 'replaced');
  assert.equal(replaced.errors[0].closeCode, 4010);

  const refused = fakeClient();
  refused.midship.sync.start();
  const socket = await eventually('a hello', () => FakeSocket.sockets.at(-1), (s) => s && s.sent.length === 1);
  socket.serverClose(4001, '7002 signature does not match');
  await sleep(800);
  assert.equal(FakeSocket.sockets.length, 1, 'no new socket');
  assert.equal(refused.midship.sync.state, 'failed');
  assert.equal(refused.errors[0].kind, 'connection');
  assert.equal(refused.errors[0].resultCode, 7002);
  assert.equal(refused.errors[0].closeCode, 4001);
});

test('a dropped connection fails the calls in flight and reconnects with backoff; answers match by id', async () => {
  const client = fakeClient();
  const socket = await connected(client);
  const one = client.midship.rpc('com.bank.one', { a: 1 }, { transport: 'connection' });
  const two = client.midship.rpc('com.bank.two', {}, { transport: 'connection' });
  await eventually('two rpc frames', () => socket.frames('rpc').length, (count) => count === 2);
  // Signing is asynchronous, so two calls made together may go out in either order.
  const byOperation = (operation) => socket.frames('rpc').find((frame) => frame.headers['Operation-Type'] === operation);
  const [frameOne, frameTwo] = [byOperation('com.bank.one'), byOperation('com.bank.two')];
  assert.ok(frameOne && frameTwo, 'one frame per call');
  assert.equal(frameOne.body, '{"a":1}');
  assert.equal(frameOne.headers['Sign-Type'], 'hmac-sha256');
  socket.receive({ type: 'rpc_result', id: frameTwo.id, result_status: 1000, memo: 'success', tips: '', trace_id: 'T2', status: 200, body: '{"two":true}' });
  assert.deepEqual(await two, { two: true });
  const three = client.midship.rpc('com.bank.three', {}, { transport: 'connection' });
  await eventually('the third frame', () => socket.frames('rpc').length, (count) => count === 3);
  socket.receive({ type: 'rpc_result', id: frameOne.id, result_status: 1002, memo: 'rate limited', tips: 'Busy', trace_id: 'T1', status: 429 });
  await assert.rejects(one, (error) => error.resultCode === 1002 && error.traceId === 'T1' && error.tips === 'Busy');
  socket.serverClose(1006, '');
  await assert.rejects(three, (error) => error.kind === 'closed');
  assert.equal(client.midship.sync.state, 'waiting');
  const next = await eventually('a new socket after the backoff', () => FakeSocket.sockets.length, (count) => count === 2, 2000);
  assert.equal(next, 2);
  assert.equal(FakeSocket.sockets[1].sent[0].device_id, 'DEV1', 'the issued id is kept for the next hello');
  await client.midship.close();
});

test('messages that came before their handler come again once it is registered', async () => {
  const client = fakeClient();
  const socket = await connected(client);
  socket.receive({ type: 'sync', biz_type: 'LATE', seq: 1, msg_id: 'm1', payload: '', created_at: 1, persistent: true });
  await sleep(50);
  assert.deepEqual(socket.frames('ack'), [], 'not acknowledged without a handler');
  client.midship.sync.register('LATE', () => {});
  const second = await eventually('a reconnect', () => FakeSocket.sockets.length, (count) => count === 2, 2000);
  assert.equal(second, 2);
  assert.equal(socket.closedWith.code, 1000);
  await client.midship.close();
});

test('pings go out every heartbeat and a silent server is given up on', async () => {
  const client = fakeClient();
  const socket = await connected(client, { heartbeat_seconds: 1, idle_timeout_seconds: 1 });
  await sleep(1150);
  assert.equal(socket.frames('ping').length, 1);
  socket.receive({ type: 'pong', id: socket.frames('ping')[0].id });
  // Nothing more from the server: after two heartbeats of silence the client reconnects by itself.
  await eventually('a new socket', () => FakeSocket.sockets.length, (count) => count === 2, 5000);
  await client.midship.close();
});

test('an announcement on midship.delivery makes the client pull configuration at once', async () => {
  const client = fakeClient();
  const changes = [];
  client.midship.config.onChange((change) => changes.push(change.keys));
  const announcements = [];
  client.midship.onAnnouncement((announcement) => announcements.push(announcement));
  const socket = await connected(client);
  const payload = { release_id: 'R1', status: 'gray', kind: 'h5', app_id: '20000001', version: '1.0.1' };
  socket.receive({ type: 'sync', biz_type: 'midship.delivery', seq: 3, msg_id: 'R1.1', payload: JSON.stringify(payload), created_at: 1, persistent: true });
  // The pull goes over the open connection; the scripted server answers it.
  const [pull] = await eventually('a pull', () => socket.frames('rpc'), (frames) => frames.length === 1);
  assert.equal(pull.headers['Operation-Type'], 'midship.config.pull');
  const values = { version: 2, etag: '2-x', not_modified: false, values: { 'web.flag': true } };
  socket.receive({ type: 'rpc_result', id: pull.id, result_status: 1000, memo: 'success', tips: '', trace_id: 'T', status: 200, content_type: 'application/json', body: JSON.stringify(values) });
  await eventually('the change', () => changes, (list) => list.length === 1);
  assert.deepEqual(changes, [['web.flag']]);
  assert.equal(client.midship.config.getBool('web.flag', false), true);
  assert.deepEqual(announcements, [payload]);
  await eventually('acknowledged', () => socket.frames('ack'), (acks) => acks.length === 1);
  assert.deepEqual(socket.frames('ack')[0], { type: 'ack', biz_type: 'midship.delivery', seq: 3 });
  assert.deepEqual(client.errors, []);
  await client.midship.close();
});

test('a message sent again while its handler still runs from a dropped connection is handled once', async () => {
  const client = fakeClient();
  const first = await connected(client);
  const calls = [];
  client.midship.sync.register('SLOW', async (message) => {
    calls.push(message.seq);
    await sleep(700);
  });
  const frame = { type: 'sync', biz_type: 'SLOW', seq: 1, msg_id: 'm1', payload: '', created_at: 1, persistent: true };
  first.receive(frame);
  await eventually('the handler started', () => calls.length, (count) => count === 1);
  first.serverClose(1006, '');
  const second = await eventually('a new socket', () => FakeSocket.sockets[1], (socket) => socket && socket.sent.length === 1, 2000);
  second.receive(welcome());
  second.receive(frame); // not acknowledged on the first connection, so the server sends it again
  await eventually('acknowledged on the new connection', () => second.frames('ack'), (acks) => acks.length === 1, 3000);
  assert.deepEqual(calls, [1]);
  assert.deepEqual(first.frames('ack'), []);
  assert.deepEqual(client.errors, []);
  await client.midship.close();
});
