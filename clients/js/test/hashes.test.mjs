// The hashes the client carries itself (SM3 always; SHA-256 where Web Crypto is missing) against
// published vectors, and HMAC against RFC 4231 and the HMAC-SM3 vectors of GM/T 0042.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';

import { hmac, sha256, sm3 } from '../dist/index.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const bytes = (text) => new TextEncoder().encode(text);

test('SM3 of the GB/T 32905 examples', () => {
  assert.equal(hex(sm3(bytes('abc'))), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  assert.equal(hex(sm3(bytes('abcd'.repeat(16)))), 'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
});

test('SHA-256 agrees with Node for lengths around every padding boundary', () => {
  for (let length = 0; length < 200; length++) {
    const data = new Uint8Array(length).map((_, index) => (index * 31 + length) & 0xff);
    assert.equal(hex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${length}`);
  }
});

test('HMAC-SHA256 of RFC 4231 test cases 1, 2 and 6 (a key longer than a block)', () => {
  const key1 = new Uint8Array(20).fill(0x0b);
  assert.equal(hex(hmac(sha256, key1, bytes('Hi There'))), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  assert.equal(hex(hmac(sha256, bytes('Jefe'), bytes('what do ya want for nothing?'))), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  const key6 = new Uint8Array(131).fill(0xaa);
  const message6 = bytes('Test Using Larger Than Block-Size Key - Hash Key First');
  assert.equal(hex(hmac(sha256, key6, message6)), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  assert.equal(hex(hmac(sha256, key6, message6)), createHmac('sha256', key6).update(message6).digest('hex'));
});

test('HMAC-SM3 of GM/T 0042-2015 appendix D.3 (as in Linux crypto/testmgr.h)', () => {
  const abcd = bytes('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'.repeat(2));
  const key32 = Uint8Array.from({ length: 32 }, (_, index) => index + 1);
  const key37 = Uint8Array.from({ length: 37 }, (_, index) => index + 1);
  const cases = [
    [key32, abcd, 'ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a'],
    [key37, new Uint8Array(50).fill(0xcd), '220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae'],
    [new Uint8Array(32).fill(0x0b), bytes('Hi There'), 'c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e'],
    [bytes('Jefe'), bytes('what do ya want for nothing?'), '2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882'],
  ];
  for (const [key, message, expected] of cases) assert.equal(hex(hmac(sm3, key, message)), expected);
});

test('SM3 agrees with OpenSSL (where Node has it) around every padding boundary', (context) => {
  try {
    createHash('sm3');
  } catch {
    context.skip('this Node has no SM3');
    return;
  }
  for (let length = 0; length < 200; length++) {
    const data = new Uint8Array(length).map((_, index) => (index * 17 + length) & 0xff);
    assert.equal(hex(sm3(data)), createHash('sm3').update(data).digest('hex'), `length ${length}`);
  }
});
