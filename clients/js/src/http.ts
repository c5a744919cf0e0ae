/**
 * `POST /mgw` over `fetch`: sends one signed call and reads the gateway's answer headers
 * (docs/protocol.md, *Response*). Knows nothing of signing or retries; rpc.ts does those for
 * both this and the long connection.
 */

import { MidshipError } from './errors.js';
import type { FetchFunction } from './options.js';

/** One answer of the gateway, from `POST /mgw` or an `rpc_result` frame. */
export interface RpcAnswer {
  /** `Result-Status`: 1000 means the backend (or built-in service) answered. */
  resultCode: number;
  memo: string;
  tips: string;
  traceId: string;
  /** The HTTP status (the backend's on 1000). */
  status: number;
  contentType: string;
  /** Answer headers by lower-case name. */
  headers: Record<string, string>;
  /** The body as UTF-8 text (empty when the gateway refused the call). */
  body: string;
  /** A utdid the gateway issued to this call (the `Device-Id` answer header). */
  deviceId?: string;
  /** The HTTP `Date` header, when the platform lets the client read it. */
  date?: string;
}

/** Sends one call's headers and body, answering what the gateway said or throwing a MidshipError. */
export type RpcTransport = (headers: Record<string, string>, body: string, timeoutMs: number) => Promise<RpcAnswer>;

function fetchFunction(supplied: FetchFunction | undefined): FetchFunction {
  if (supplied) return supplied;
  const global = (globalThis as { fetch?: FetchFunction }).fetch;
  if (typeof global !== 'function') {
    throw new MidshipError({ kind: 'unsupported', memo: 'this runtime has no fetch: pass options.fetch' });
  }
  return global.bind(globalThis);
}

/** A transport over `fetch` to `{baseUrl}/mgw`. */
export function httpTransport(baseUrl: string, supplied?: FetchFunction): RpcTransport {
  const url = `${baseUrl}/mgw`;
  return async (headers, body, timeoutMs) => {
    const doFetch = fetchFunction(supplied);
    const operationType = headers['Operation-Type'] ?? '';
    const controller = typeof AbortController !== 'undefined' ? new AbortController() : undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller?.abort();
    }, timeoutMs);
    try {
      let response: Response;
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: { ...headers, 'Content-Type': 'application/json' },
          body,
          signal: controller?.signal,
        });
      } catch (error) {
        throw new MidshipError({
          kind: timedOut ? 'timeout' : 'network',
          memo: timedOut ? `no answer within ${timeoutMs} ms` : 'the request failed before an answer came',
          operationType,
          cause: error,
        });
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw new MidshipError({ kind: timedOut ? 'timeout' : 'network', memo: 'the answer broke off', operationType, cause: error });
      }
      return readAnswer(response, text, operationType);
    } finally {
      clearTimeout(timer);
    }
  };
}

function readAnswer(response: Response, body: string, operationType: string): RpcAnswer {
  const header = (name: string) => response.headers.get(name) ?? '';
  const status = header('Result-Status');
  const resultCode = /^\d{1,6}$/.test(status) ? Number(status) : NaN;
  if (!Number.isInteger(resultCode)) {
    // A proxy answered, or the page is on another origin and the server does not expose the
    // header (Access-Control-Expose-Headers): either way the gateway's verdict is unknown.
    throw new MidshipError({
      kind: 'protocol',
      memo: `HTTP ${response.status} without a readable Result-Status header (not the gateway, or CORS hides it)`,
      operationType,
    });
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return {
    resultCode,
    memo: header('Memo'),
    tips: header('Tips'),
    traceId: header('Trace-Id'),
    status: response.status,
    contentType: header('Content-Type'),
    headers,
    body,
    deviceId: header('Device-Id') || undefined,
    date: header('Date') || undefined,
  };
}
