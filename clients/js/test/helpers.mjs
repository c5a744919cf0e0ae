// Shared by the tests against a real `midship serve`: the server's address and credentials come
// from the environment (crates/midship/tests/it/js_client.rs sets them), the backend side talks
// to the admin REST API (docs/api.md) with the admin token, and the device side is the client.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { MemoryStore, Midship } from '../dist/index.js';

export function serverEnv() {
  const env = {
    url: process.env.MIDSHIP_URL,
    adminToken: process.env.MIDSHIP_ADMIN_TOKEN,
    appId: process.env.MIDSHIP_APP_ID,
    workspaceId: process.env.MIDSHIP_WORKSPACE_ID,
    appSecret: process.env.MIDSHIP_APP_SECRET,
  };
  const missing = Object.entries(env).filter(([, value]) => !value).map(([name]) => name);
  return missing.length === 0 ? env : null;
}

/** `test` options that skip a test needing a server when the environment names none. */
export const needsServer = serverEnv()
  ? {}
  : { skip: 'set MIDSHIP_URL, MIDSHIP_ADMIN_TOKEN, MIDSHIP_APP_ID, MIDSHIP_WORKSPACE_ID and MIDSHIP_APP_SECRET (cargo nextest run -p midship -E "test(js_)" does)' };

/** Calls the admin API of the test workspace (`path` after `/api/v1/workspaces/{id}`), or `absolute`. */
export async function admin(method, path, body, { absolute = false, expect } = {}) {
  const env = serverEnv();
  const url = absolute ? `${env.url}${path}` : `${env.url}/api/v1/workspaces/${env.workspaceId}${path}`;
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${env.adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (expect !== undefined) assert.equal(response.status, expect, `${method} ${path}: ${text}`);
  else assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return value;
}

/** A name no other test (or earlier run against the same server) uses. */
export function unique(prefix) {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A client of the test workspace; `errors` collects what reached `onError`. */
export function client(overrides = {}) {
  const env = serverEnv();
  const errors = [];
  const midship = new Midship({
    baseUrl: env.url,
    appId: env.appId,
    workspaceId: env.workspaceId,
    appSecret: env.appSecret,
    platform: 'h5',
    appVersion: '3.2.0',
    store: new MemoryStore(),
    onError: (error) => errors.push(error),
    ...overrides,
  });
  return { midship, errors };
}

/** Polls `read` until `done` holds (or fails after `timeoutMs`), answering the last value. */
export async function eventually(what, read, done, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Today as the analytics reports name days (UTC). */
export function today() {
  return new Date().toISOString().slice(0, 10);
}

/** A `fetch` that records every `/mgw` request's headers and can drop answers on demand. */
export function recordingFetch() {
  const calls = [];
  const rules = [];
  const wrapped = async (url, init) => {
    const headers = { ...(init?.headers ?? {}) };
    const call = { url, headers, body: init?.body };
    calls.push(call);
    const response = await fetch(url, init);
    call.resultStatus = response.headers.get('Result-Status');
    const rule = rules.find((candidate) => candidate.match(call));
    if (rule && rule.times-- > 0) throw new TypeError('fetch failed (the test dropped the answer)');
    return response;
  };
  return {
    fetch: wrapped,
    calls,
    /** Throws a network error instead of answering the next `times` calls that `match`, after the server handled them. */
    dropAnswers(match, times = 1) {
      rules.push({ match, times });
    },
    of: (operationType) => calls.filter((call) => call.headers['Operation-Type'] === operationType),
  };
}
