// Remote configuration against a real server: a switch with a value targeted at one user,
// published through the admin API, pulled by the client with typed getters and defaults, the
// etag answered `not_modified`, the cache surviving a restart, and change listeners.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MemoryStore } from '../dist/index.js';
import { admin, client, eventually, needsServer, recordingFetch, unique } from './helpers.mjs';

async function publishSwitches(definitions) {
  for (const definition of definitions) await admin('POST', '/switches', definition);
  await admin('POST', '/config/publish', { note: 'js client test' });
}

test('a whitelisted user gets the targeted value, others the default; getters fall back to defaults', needsServer, async () => {
  const vip = unique('vip');
  const flag = unique('js.flag');
  const banner = unique('js.banner');
  await publishSwitches([
    { key: flag, type: 'bool', default_value: false, targets: [{ value: true, rule: { whitelist: { user_ids: [vip] } } }] },
    { key: banner, type: 'json', default_value: { text: 'hello' }, targets: [{ value: { text: 'welcome back' }, rule: { whitelist: { user_ids: [vip] } } }] },
  ]);

  const targeted = client({ userId: vip });
  await targeted.midship.config.pull();
  assert.equal(targeted.midship.config.getBool(flag, false), true);
  assert.deepEqual(targeted.midship.config.getJson(banner, null), { text: 'welcome back' });
  // A key of another type, or no key at all, answers the app's default.
  assert.equal(targeted.midship.config.getString(flag, 'fallback'), 'fallback');
  assert.equal(targeted.midship.config.getNumber(unique('absent'), 7), 7);

  const other = client({ userId: unique('someone') });
  await other.midship.config.pull();
  assert.equal(other.midship.config.getBool(flag, true), false);
  assert.deepEqual(other.midship.config.getJson(banner, null), { text: 'hello' });
  assert.deepEqual([...targeted.errors, ...other.errors], []);
});

test('the etag makes an unchanged pull not_modified, and the cache outlives the client', needsServer, async () => {
  const user = unique('cache');
  const key = unique('js.limit');
  await publishSwitches([{ key, type: 'number', default_value: 5, targets: [{ value: 42, rule: { whitelist: { user_ids: [user] } } }] }]);
  const store = new MemoryStore();
  const recorder = recordingFetch();
  const first = client({ store, userId: user, fetch: recorder.fetch });
  const change = await first.midship.config.pull();
  assert.ok(change.keys.includes(key), JSON.stringify(change.keys));
  assert.equal(first.midship.config.getNumber(key, 0), 42);
  const etag = JSON.parse(recorder.of('midship.config.pull')[0].body).etag;
  assert.equal(etag, undefined, 'the first pull sends no etag');
  assert.equal(await first.midship.config.pull(), null, 'nothing changed');

  // A new client over the same store: values before any pull, then a not_modified pull.
  const second = client({ store, userId: user, fetch: recorder.fetch });
  await second.midship.config.load();
  assert.equal(second.midship.config.getNumber(key, 0), 42);
  const listener = [];
  second.midship.config.onChange((change) => listener.push(change));
  assert.equal(await second.midship.config.pull(), null);
  const pulls = recorder.of('midship.config.pull');
  assert.match(JSON.parse(pulls.at(-1).body).etag, /^\d+-/);
  assert.deepEqual(listener, []);

  // A change of the published value reaches the listener with the key that changed.
  await publishSwitches([{ key, type: 'number', default_value: 5, targets: [{ value: 43, rule: { whitelist: { user_ids: [user] } } }] }]);
  const pulled = await second.midship.config.pull();
  assert.deepEqual(pulled.keys, [key]);
  assert.equal(listener.length, 1);
  assert.equal(listener[0].previous[key], 42);
  assert.equal(listener[0].values[key], 43);
  assert.equal(second.midship.config.getNumber(key, 0), 43);
  assert.deepEqual([...first.errors, ...second.errors], []);
});

test('a damaged configuration cache is reported and replaced by a pull', needsServer, async () => {
  const store = new MemoryStore();
  const probe = client({ store });
  await probe.midship.config.pull();
  const cacheKey = store.keys().find((key) => key.endsWith('/config'));
  store.set(cacheKey, '{"version": "not a number", "values": [1, 2');
  const { midship, errors } = client({ store });
  await midship.config.pull();
  assert.ok(errors.some((error) => error.kind === 'storage'), JSON.stringify(errors.map((error) => error.message)));
  assert.equal(typeof JSON.parse(store.get(cacheKey)).etag, 'string');
});

test('a published switch change reaches an online client without polling', needsServer, async () => {
  const user = unique('live');
  const key = unique('js.live');
  await publishSwitches([{ key, type: 'bool', default_value: false }]);
  const { midship } = client({ userId: user });
  await midship.start({ analytics: false });
  await midship.sync.waitConnected();
  try {
    assert.equal(midship.config.getBool(key, true), false);
    await publishSwitches([{ key, type: 'bool', default_value: false, targets: [{ value: true, rule: { whitelist: { user_ids: [user] } } }] }]);
    await eventually('the new value without a pull by the app', () => midship.config.getBool(key, false), (value) => value === true, 3000);
  } finally {
    await midship.close();
  }
});

test('an experiment is assigned in the pull, sticks, and the first read reports one exposure', needsServer, async () => {
  const key = unique('js.button');
  await publishSwitches([{ key, type: 'string', default_value: 'grey' }]);
  const laboratory = unique('lab').toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 30);
  await admin('POST', '/laboratories', { key: laboratory });
  const experiment = unique('exp').toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 30);
  const variations = [{ key: 'control', values: { [key]: 'grey' } }, { key: 'blue', values: { [key]: 'blue' } }];
  await admin('POST', '/experiments', { key: experiment, laboratory, definition: { variations } });
  await admin('POST', `/experiments/${experiment}/phase`, { phase: 'running' });

  const store = new MemoryStore();
  const recorder = recordingFetch();
  const device = client({ store, fetch: recorder.fetch });
  await device.midship.config.pull();
  const [assignment] = device.midship.config.experiments.filter((held) => held.experiment === experiment);
  assert.ok(assignment, JSON.stringify(device.midship.config.experiments));
  assert.deepEqual(assignment.switches, [key]);
  const shown = device.midship.config.getString(key, 'none');
  assert.equal(shown, assignment.variation === 'blue' ? 'blue' : 'grey');
  device.midship.config.getString(key, 'none');
  await device.midship.analytics.flush();
  const uploads = recorder.of('midship.analytics.upload').map((call) => JSON.parse(call.body));
  const exposures = uploads.flatMap((upload) => upload.events).filter((event) => event.kind === 'experiment');
  assert.equal(exposures.length, 1, 'one exposure for two reads');
  assert.deepEqual(
    [exposures[0].experiment, exposures[0].variation, exposures[0].unit_kind],
    [experiment, assignment.variation, 'device'],
  );

  // The next pull sends the assignment back, so it sticks.
  await device.midship.config.pull();
  const pulls = recorder.of('midship.config.pull');
  const held = JSON.parse(pulls[pulls.length - 1].body).experiments;
  assert.deepEqual(held, [{ experiment, variation: assignment.variation, unit: assignment.unit, proof: assignment.proof }]);
  assert.match(assignment.proof, /^[0-9a-f]{32}$/);
  await eventually('the exposure counted', () => admin('GET', `/experiments/${experiment}/results`),
    (results) => results.results.units.reduce((sum, units) => sum + units, 0) === 1);
  assert.deepEqual(device.errors, []);
});
