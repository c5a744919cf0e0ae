// The signing examples of docs/protocol-signing.md, from the shared file every client's tests
// read (conformance/signing-vectors.json): each signing string and signature byte for byte, with
// Web Crypto and with the client's own SHA-256 (used where Web Crypto is missing).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { parseSignType, sign, signingString } from '../dist/index.js';

const vectors = JSON.parse(readFileSync(new URL('../../../conformance/signing-vectors.json', import.meta.url), 'utf8'));

test('the vectors file holds request signatures of every sign type', () => {
  const types = new Set(vectors.request_signatures.map((vector) => vector.sign_type));
  assert.deepEqual([...types].sort(), ['device-hmac-sha256', 'device-hmac-sm3', 'hmac-sha256', 'hmac-sm3']);
});

for (const vector of vectors.request_signatures) {
  for (const useWebCrypto of [true, false]) {
    test(`${vector.name} (${useWebCrypto ? 'Web Crypto' : 'own SHA-256'})`, async () => {
      const signType = parseSignType(vector.sign_type);
      const input = {
        method: vector.method,
        operationType: vector.operation_type,
        appId: vector.app_id,
        workspaceId: vector.workspace_id,
        deviceId: vector.device_id,
        userId: vector.user_id,
        ts: vector.ts,
        nonce: vector.nonce,
        body: vector.body,
      };
      assert.equal(await signingString(signType, input, useWebCrypto), vector.signing_string);
      assert.equal(await sign(signType, vector.key, input, useWebCrypto), vector.sign);
    });
  }
}

test('Sign-Type is matched ignoring case, and unknown ones are refused', () => {
  assert.equal(parseSignType('HMAC-SHA256'), 'hmac-sha256');
  assert.throws(() => parseSignType('hmac-md5'), (error) => error.name === 'MidshipError' && error.kind === 'unsupported');
});
