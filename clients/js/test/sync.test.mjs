// Sync over the long connection against a real server: messages a backend sends through the admin
// API reach the handler exactly once, across a client that stopped between storing a position and
// acknowledging it; damaged positions are reported and recovered from; a handler that throws gets
// its message again instead of losing it or throwing into the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MemoryStore } from '../dist/index.js';
import { admin, client, eventually, needsServer, sleep, unique } from './helpers.mjs';

/** A store that calls `onSet` after each write, so a test can act between two steps of the client. */
class HookStore extends MemoryStore {
  onSet = undefined;
  set(key, value) {
    super.set(key, value);
    this.onSet?.(key, value);
  }
}

async function userBizType(extra = {}) {
  const bizType = unique('JS-CHAT').toUpperCase();
  await admin('POST', '/sync/configs', { biz_type: bizType, scope: 'targeted', target: 'user', ...extra });
  return bizType;
}

function send(bizType, user, id) {
  return admin('POST', '/sync/send', { biz_type: bizType, link_token: user, third_msg_id: id, payload: JSON.stringify({ text: id }) });
}

const status = (bizType, user, deviceId) =>
  admin('GET', `/sync/status?biz_type=${encodeURIComponent(bizType)}&link_token=${encodeURIComponent(user)}&device_id=${encodeURIComponent(deviceId)}`);

test('each message reaches the handler exactly once across a restart between storing and acknowledging', needsServer, async () => {
  const bizType = await userBizType();
  const user = unique('alice');
  const store = new HookStore();
  const handled = [];

  const first = client({ store, userId: user });
  first.midship.sync.register(bizType, (message) => {
    handled.push({ client: 'first', seq: message.seq, payload: JSON.parse(message.payload).text });
  });
  // Stop the client right after it stored position 1, before the ack goes out (a tab closed there).
  store.onSet = (key, value) => {
    if (key.includes('/positions/') && JSON.parse(value)[bizType]?.seq === 1) first.midship.sync.stop();
  };
  first.midship.sync.start();
  await first.midship.sync.waitConnected();
  assert.equal((await send(bizType, user, 'm1')).result, 'SUCCESS');
  await eventually('the first client handles m1', () => handled.length, (count) => count === 1);
  await eventually('the first client stopped', () => first.midship.sync.state, (state) => state === 'stopped');
  store.onSet = undefined;
  const deviceId = first.midship.deviceId;
  const unacknowledged = await status(bizType, user, deviceId);
  assert.ok(unacknowledged.acked_seq < 1, `the server never got the ack: ${JSON.stringify(unacknowledged)}`);

  // m2 waits on the server while no client runs.
  await send(bizType, user, 'm2');
  const second = client({ store, userId: user });
  second.midship.sync.register(bizType, (message) => {
    handled.push({ client: 'second', seq: message.seq, payload: JSON.parse(message.payload).text });
  });
  second.midship.sync.start();
  await second.midship.sync.waitConnected();
  assert.equal(second.midship.deviceId, deviceId, 'the same device');
  await send(bizType, user, 'm3');
  await eventually('the second client handles m2 and m3', () => handled.length, (count) => count >= 3);
  await sleep(300);
  assert.deepEqual(handled, [
    { client: 'first', seq: 1, payload: 'm1' },
    { client: 'second', seq: 2, payload: 'm2' },
    { client: 'second', seq: 3, payload: 'm3' },
  ]);
  const acked = await eventually('the server records the ack of 3', () => status(bizType, user, deviceId), (value) => value.acked_seq === 3);
  assert.equal(acked.last_seq, 3);
  await second.midship.close();
  assert.deepEqual([...first.errors, ...second.errors], []);
});

test('damaged stored positions are reported and the stream resumes after the last acknowledgement', needsServer, async () => {
  const bizType = await userBizType();
  const user = unique('bob');
  const store = new MemoryStore();
  const seen = [];
  const first = client({ store, userId: user });
  first.midship.sync.register(bizType, (message) => seen.push(message.seq));
  first.midship.sync.start();
  await first.midship.sync.waitConnected();
  await send(bizType, user, 'a');
  await send(bizType, user, 'b');
  await eventually('both handled', () => seen.length, (count) => count === 2);
  await eventually('acknowledged', () => status(bizType, user, first.midship.deviceId), (value) => value.acked_seq === 2);
  await first.midship.close();

  for (const damage of ['{"not json', JSON.stringify({ [bizType]: 'two', OTHER: { seq: -1, user: '' } }), '[1,2,3]']) {
    const positionsKey = store.keys().find((key) => key.includes('/positions/'));
    store.set(positionsKey, damage);
    const id = unique('msg');
    await send(bizType, user, id);
    const got = [];
    const next = client({ store, userId: user });
    next.midship.sync.register(bizType, (message) => got.push(JSON.parse(message.payload).text));
    next.midship.sync.start();
    await eventually(`the message after damage ${damage}`, () => got, (list) => list.length === 1);
    await sleep(200);
    assert.deepEqual(got, [id], 'only the unacknowledged message came');
    assert.ok(next.errors.some((error) => error.kind === 'storage'), `damage ${damage} was reported`);
    assert.equal(next.midship.sync.state, 'connected');
    // The position is whole again.
    await eventually('the position is rewritten', () => JSON.parse(store.get(positionsKey))[bizType]?.seq, (seq) => Number.isInteger(seq) && seq >= 3);
    await next.midship.close();
  }
});

test('a handler that throws gets its message again and the page never sees the exception', needsServer, async () => {
  const bizType = await userBizType();
  const user = unique('carol');
  let attempts = 0;
  const handled = [];
  const { midship, errors } = client({ userId: user });
  midship.sync.register(bizType, (message) => {
    attempts += 1;
    if (attempts === 1) throw new Error('the app failed once');
    handled.push(message.seq);
  });
  midship.sync.start();
  await midship.sync.waitConnected();
  await send(bizType, user, 'x1');
  await send(bizType, user, 'x2');
  await eventually('both handled after the failure', () => handled, (list) => list.length === 2, 15_000);
  assert.deepEqual(handled, [1, 2]);
  assert.equal(attempts, 3);
  const failure = errors.find((error) => error.kind === 'handler');
  assert.ok(failure, 'the failure was reported');
  assert.match(failure.message, new RegExp(bizType));
  await midship.close();
});

test('non-persistent messages reach online devices once, without positions or acks', needsServer, async () => {
  const bizType = await userBizType({ persistent: false });
  const user = unique('dave');
  const got = [];
  const { midship, errors } = client({ userId: user });
  midship.sync.register(bizType, (message) => got.push(message));
  try {
    midship.sync.start();
    await midship.sync.waitConnected();
    await send(bizType, user, 'live');
    await eventually('the live message', () => got.length, (count) => count === 1);
    assert.equal(got[0].seq, 0);
    assert.equal(got[0].persistent, false);
    assert.equal(JSON.parse(got[0].payload).text, 'live');
    // Other tests' switch publications reach this device on midship.delivery (and keep a position
    // there); this bizType keeps none.
    const stored = midship.store.keys().filter((key) => key.includes('/positions/'));
    for (const key of stored) assert.equal(JSON.parse(midship.store.get(key))[bizType], undefined);
  } finally {
    await midship.close();
  }
  assert.deepEqual(errors, []);
});

test('global messages wait while the app is in the background', needsServer, async () => {
  const bizType = unique('JS-NEWS').toUpperCase();
  await admin('POST', '/sync/configs', { biz_type: bizType, scope: 'global' });
  const got = [];
  const { midship, errors } = client({ userId: unique('erin') });
  midship.sync.register(bizType, (message) => got.push(JSON.parse(message.payload).text));
  midship.sync.start();
  await midship.sync.waitConnected();
  midship.sync.setForeground(false);
  await sleep(200);
  await admin('POST', '/sync/global', { biz_type: bizType, third_msg_id: 'n1', payload: JSON.stringify({ text: 'n1' }) });
  await sleep(700);
  assert.deepEqual(got, [], 'nothing in the background');
  midship.sync.setForeground(true);
  await eventually('the news in the foreground', () => got, (list) => list.length === 1);
  assert.deepEqual(got, ['n1']);
  await midship.close();
  assert.deepEqual(errors, []);
});

test('a user switch on one device neither skips the new user stream nor repeats the old one', needsServer, async () => {
  const bizType = await userBizType();
  const [ann, ben] = [unique('ann'), unique('ben')];
  const handled = [];
  const { midship, errors } = client({ userId: ann });
  midship.sync.register(bizType, (message) => handled.push(`${JSON.parse(message.payload).text}#${message.seq}`));
  midship.sync.start();
  await midship.sync.waitConnected();
  await send(bizType, ann, 'ann-1');
  await send(bizType, ann, 'ann-2');
  await eventually('ann gets two', () => handled.length, (count) => count === 2);

  // Ben signs in on the same device: his stream starts at 1, below Ann's position, and must not be skipped.
  await send(bizType, ben, 'ben-1');
  midship.setUserId(ben);
  await eventually('ben gets his first', () => handled.length, (count) => count === 3, 15_000);
  await eventually('the connection is ben\'s', () => midship.sync.connection.welcome?.user_id, (user) => user === ben, 15_000);

  midship.setUserId(ann);
  await eventually('the connection is ann\'s again', () => midship.sync.connection.welcome?.user_id, (user) => user === ann, 15_000);
  await send(bizType, ann, 'ann-3');
  await eventually('ann gets only her new one', () => handled.length, (count) => count === 4);
  await sleep(300);
  assert.deepEqual(handled, ['ann-1#1', 'ann-2#2', 'ben-1#1', 'ann-3#3']);
  await midship.close();
  assert.deepEqual(errors, []);
});
