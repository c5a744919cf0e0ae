// Push against a real server: the device reports itself for the own channel and binds to its
// user, a simple push sent through the admin API arrives over the long connection (bizType
// `midship.push`), is reported delivered by the client and opened by the app, and the task's
// statistics count both; a push to the user reaches the bound device.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { admin, client, eventually, needsServer, sleep, unique } from './helpers.mjs';

const stats = (taskId) => admin('GET', `/push/stats?task_id=${encodeURIComponent(taskId)}`);

test('a push reaches the device once, and its delivery and opening show in the statistics', needsServer, async () => {
  const user = unique('push-user');
  const { midship, errors } = client({ userId: user });
  const received = [];
  midship.push.onNotification((notification) => received.push(notification));
  await midship.push.register();
  await midship.push.bind();
  midship.sync.start();
  await midship.sync.waitConnected();

  const task = await admin('POST', '/push/send/simple', {
    targets: [{ kind: 'device', id: midship.deviceId, msg_id: unique('biz') }],
    message: { title: 'Your card', content: 'was charged 12.00', uri: 'bank://cards/1', ext: { card: '1' } },
  }, { expect: 201 });
  await eventually('the push arrives', () => received.length, (count) => count === 1);
  const [notification] = received;
  assert.equal(notification.taskId, task.task_id);
  assert.equal(notification.title, 'Your card');
  assert.equal(notification.content, 'was charged 12.00');
  assert.equal(notification.uri, 'bank://cards/1');
  assert.deepEqual(notification.ext, { card: '1' });
  assert.equal(notification.silent, false);

  const delivered = await eventually('delivered is counted', () => stats(task.task_id), (value) => value.total.delivered === 1);
  assert.equal(delivered.total.opened, 0);
  assert.equal(await midship.push.opened(task.task_id), true);
  assert.equal(await midship.push.opened(task.task_id), false, 'the first open counts, a second does not');
  const opened = await eventually('opened is counted', () => stats(task.task_id), (value) => value.total.opened === 1);
  assert.equal(opened.total.targets, 1);
  assert.equal(opened.total.delivered, 1);

  // Sent to the user: the device bound to it gets it too.
  const toUser = await admin('POST', '/push/send/simple', {
    targets: [{ kind: 'user', id: user, msg_id: unique('biz') }],
    message: { title: 'Hello', content: 'from your bank' },
  }, { expect: 201 });
  await eventually('the user push arrives', () => received.length, (count) => count === 2);
  assert.equal(received[1].taskId, toUser.task_id);
  await sleep(300);
  assert.equal(received.length, 2, 'each push once');
  await midship.close();
  assert.deepEqual(errors, []);
});

test('a push sent while the page is closed arrives at the next start, and unbind stops user pushes', needsServer, async () => {
  const user = unique('offline-user');
  const first = client({ userId: user });
  await first.midship.push.register();
  await first.midship.push.bind();
  const task = await admin('POST', '/push/send/simple', {
    targets: [{ kind: 'device', id: first.midship.deviceId, msg_id: unique('biz') }],
    message: { title: 'While away', content: 'kept for you' },
  }, { expect: 201 });

  const received = [];
  const second = client({ userId: user, store: first.midship.store });
  second.midship.push.onNotification((notification) => received.push(notification.taskId));
  second.midship.sync.start();
  await eventually('the stored push arrives', () => received, (list) => list.length === 1);
  assert.deepEqual(received, [task.task_id]);

  await second.midship.push.unbind();
  const none = await admin('POST', '/push/send/simple', {
    targets: [{ kind: 'user', id: user, msg_id: unique('biz') }],
    message: { title: 'Nobody', content: 'is bound' },
  }, { expect: 201 });
  await sleep(800);
  assert.deepEqual(received, [task.task_id]);
  const noneStats = await stats(none.task_id);
  assert.equal(noneStats.total.targets, 0);
  await second.midship.close();
  assert.deepEqual([...first.errors, ...second.errors], []);
});
