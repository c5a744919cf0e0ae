// Runs inside Chromium: the client as a web page uses it, with the browser's own fetch, WebSocket,
// Web Crypto and localStorage (the default store). The test script (run.mjs) reads `window.midshipTest`.
import { Midship } from '/dist/index.js';

const settings = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const state = { errors: [], messages: [], ready: false, deviceId: null, flag: null, failure: null };
window.midshipTest = state;

const midship = new Midship({
  baseUrl: settings.baseUrl,
  appId: settings.appId,
  workspaceId: settings.workspaceId,
  appSecret: settings.appSecret,
  platform: 'h5',
  appVersion: '3.2.0',
  userId: settings.userId,
  onError: (error) => state.errors.push({ kind: error.kind, resultCode: error.resultCode, message: error.message }),
});
window.midship = midship;

midship.sync.register(settings.bizType, (message) => {
  state.messages.push({ seq: message.seq, payload: message.payload });
});

try {
  // Pulls configuration (awaited), starts analytics with error capture, opens the connection.
  await midship.start();
  state.flag = midship.config.getBool(settings.flagKey, false);
  await midship.sync.waitConnected(10_000);
  state.deviceId = midship.deviceId;
  state.ready = true;
  document.getElementById('status').textContent = 'ready';
} catch (error) {
  state.failure = String(error && error.message);
}

/** What the analytics queue in localStorage holds now (the test checks the captured error is there). */
window.queuedEvents = () =>
  JSON.parse(localStorage.getItem(`midship/${settings.appId}/${settings.workspaceId}/analytics/queue`) || '[]');
