/**
 * Request signatures, exactly as docs/protocol-signing.md defines them: the seven-line signing
 * string keyed with the app's secret (`hmac-sha256`, `hmac-sm3`), and the nine-line one keyed with
 * the device's own credential (`device-hmac-sha256`, `device-hmac-sm3`), which adds `Device-Id`
 * and `User-Id` so a captured call cannot be re-aimed at another device or user.
 *
 * Keys are the secrets' ASCII characters used as bytes (never hex-decoded), and `Ts` is signed as
 * the exact text sent, so the client formats it once and passes the same string to both.
 */

import { hmac, sha256, sm3 } from './hashes.js';
import { toHex, utf8Encode } from './bytes.js';
import { MidshipError } from './errors.js';

export type SignType = 'hmac-sha256' | 'hmac-sm3' | 'device-hmac-sha256' | 'device-hmac-sm3';

export const SIGN_TYPES: readonly SignType[] = ['hmac-sha256', 'hmac-sm3', 'device-hmac-sha256', 'device-hmac-sm3'];

/** The SHA-256 of an empty body, the last line of every hello's signing string. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function isDeviceSignType(signType: SignType): boolean {
  return signType.startsWith('device-');
}

/** Parses a `Sign-Type` as the gateway does (ignoring case); throws `unsupported` otherwise. */
export function parseSignType(text: string): SignType {
  const lower = text.toLowerCase();
  const found = SIGN_TYPES.find((type) => type === lower);
  if (!found) throw new MidshipError({ kind: 'unsupported', memo: `unknown Sign-Type ${text}` });
  return found;
}

/** The device-credential sign type of the same hash as an app-secret one, and back. */
export function deviceSignType(appSignType: SignType): SignType {
  return appSignType.endsWith('sm3') ? 'device-hmac-sm3' : 'device-hmac-sha256';
}
export function appSignType(anySignType: SignType): SignType {
  return anySignType.endsWith('sm3') ? 'hmac-sm3' : 'hmac-sha256';
}

export interface SigningInput {
  /** `POST` for calls, `CONNECT` for the hello of the long connection. */
  method: string;
  operationType: string;
  appId: string;
  workspaceId: string;
  /** Signed only by device sign types (required there). */
  deviceId?: string;
  /** Signed only by device sign types; absent means the empty line. */
  userId?: string;
  /** Milliseconds since the epoch, as the exact text sent in `Ts`. */
  ts: string;
  nonce: string;
  /** The body bytes as sent (text is taken as UTF-8). */
  body: Uint8Array | string;
}

type Subtle = SubtleCrypto;

function subtle(): Subtle | undefined {
  const webCrypto = (globalThis as { crypto?: Crypto }).crypto;
  return webCrypto && webCrypto.subtle ? webCrypto.subtle : undefined;
}

/** Typed arrays made here are never over a SharedArrayBuffer, which is all newer DOM typings fear. */
const source = (bytes: Uint8Array): BufferSource => bytes as unknown as BufferSource;

function bytesOf(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? utf8Encode(body) : body;
}

/**
 * Lower-case hex SHA-256: Web Crypto where it exists, otherwise the client's own (hashes.ts).
 * `useWebCrypto: false` forces the fallback, so tests can check both give the same bytes.
 */
export async function sha256Hex(data: Uint8Array | string, useWebCrypto = true): Promise<string> {
  const bytes = bytesOf(data);
  const webCrypto = useWebCrypto ? subtle() : undefined;
  if (webCrypto) return toHex(new Uint8Array(await webCrypto.digest('SHA-256', source(bytes))));
  return toHex(sha256(bytes));
}

async function hmacHex(signType: SignType, key: string, message: Uint8Array, useWebCrypto: boolean): Promise<string> {
  const keyBytes = utf8Encode(key);
  if (signType.endsWith('sm3')) return toHex(hmac(sm3, keyBytes, message));
  const webCrypto = useWebCrypto ? subtle() : undefined;
  if (webCrypto) {
    const cryptoKey = await webCrypto.importKey('raw', source(keyBytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return toHex(new Uint8Array(await webCrypto.sign('HMAC', cryptoKey, source(message))));
  }
  return toHex(hmac(sha256, keyBytes, message));
}

/** The signing string: seven lines for app-secret sign types, nine for device ones. */
export async function signingString(signType: SignType, input: SigningInput, useWebCrypto = true): Promise<string> {
  const bodyHash = await sha256Hex(bytesOf(input.body), useWebCrypto);
  const head = [input.method, input.operationType, input.appId, input.workspaceId];
  if (isDeviceSignType(signType)) {
    if (!input.deviceId) {
      throw new MidshipError({ kind: 'invalid', memo: 'a device signature needs the Device-Id' });
    }
    head.push(input.deviceId, input.userId ?? '');
  }
  return [...head, input.ts, input.nonce, bodyHash].join('\n');
}

/** `Sign`: the lower-case hex HMAC of the signing string, keyed with `key`'s ASCII bytes. */
export async function sign(signType: SignType, key: string, input: SigningInput, useWebCrypto = true): Promise<string> {
  const text = await signingString(signType, input, useWebCrypto);
  return hmacHex(signType, key, utf8Encode(text), useWebCrypto);
}
