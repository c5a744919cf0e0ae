/**
 * The JSON frames of the long connection (docs/protocol.md, *Frames*), and checks that turn what
 * the server sent into typed values or `null`. Anything the server sends is checked before use:
 * a garbled frame must become a reported error, never an exception inside a WebSocket callback.
 */

import { base64Decode, utf8Decode } from './bytes.js';
import type { RpcAnswer } from './http.js';

export interface Welcome {
  connection_id: string;
  device_id: string;
  user_id?: string;
  heartbeat_seconds: number;
  idle_timeout_seconds: number;
  server_time: number;
  max_frame_bytes: number;
}

/** One message of one of the device's streams. */
export interface SyncMessage {
  bizType: string;
  /** The message's place in its stream; 0 for non-persistent messages. */
  seq: number;
  msgId: string;
  payload: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  persistent: boolean;
}

type Json = Record<string, unknown>;

const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);
const isText = (value: unknown): value is string => typeof value === 'string';

/** Parses a text message into a frame object with a string `type`; `null` for anything else. */
export function parseFrame(data: unknown): Json | null {
  if (typeof data !== 'string') return null;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  if (!frame || typeof frame !== 'object' || Array.isArray(frame)) return null;
  return isText((frame as Json).type) ? (frame as Json) : null;
}

export function readWelcome(frame: Json): Welcome | null {
  const { connection_id, device_id, heartbeat_seconds, idle_timeout_seconds, server_time, max_frame_bytes } = frame;
  if (!isText(device_id) || device_id === '') return null;
  if (!isInteger(heartbeat_seconds) || heartbeat_seconds <= 0) return null;
  return {
    connection_id: isText(connection_id) ? connection_id : String(connection_id ?? ''),
    device_id,
    user_id: isText(frame.user_id) ? frame.user_id : undefined,
    heartbeat_seconds,
    idle_timeout_seconds: isInteger(idle_timeout_seconds) && idle_timeout_seconds > 0 ? idle_timeout_seconds : heartbeat_seconds * 3,
    server_time: isInteger(server_time) ? server_time : 0,
    max_frame_bytes: isInteger(max_frame_bytes) ? max_frame_bytes : 0,
  };
}

export function readSync(frame: Json): SyncMessage | null {
  const { biz_type, seq, msg_id, payload, created_at, persistent } = frame;
  if (!isText(biz_type) || biz_type === '' || !isInteger(seq) || seq < 0) return null;
  const isPersistent = persistent === true;
  // A persistent message has a place in its stream; a non-persistent one has seq 0.
  if (isPersistent ? seq === 0 : seq !== 0) return null;
  return {
    bizType: biz_type,
    seq,
    msgId: isText(msg_id) ? msg_id : '',
    payload: isText(payload) ? payload : '',
    createdAt: isInteger(created_at) ? created_at : 0,
    persistent: isPersistent,
  };
}

/** An `rpc_result` as the same answer `POST /mgw` gives; `null` when it is not one. */
export function readRpcResult(frame: Json): { id: number; answer: RpcAnswer } | null {
  const { id, result_status } = frame;
  if (!isInteger(id) || !isInteger(result_status)) return null;
  let body = '';
  if (isText(frame.body)) body = frame.body;
  else if (isText(frame.body_base64)) {
    const bytes = base64Decode(frame.body_base64);
    if (!bytes) return null;
    body = utf8Decode(bytes);
  }
  const headers: Record<string, string> = {};
  if (frame.headers && typeof frame.headers === 'object') {
    for (const [name, value] of Object.entries(frame.headers as Json)) {
      if (isText(value)) headers[name.toLowerCase()] = value;
    }
  }
  return {
    id,
    answer: {
      resultCode: result_status,
      memo: isText(frame.memo) ? frame.memo : '',
      tips: isText(frame.tips) ? frame.tips : '',
      traceId: isText(frame.trace_id) ? frame.trace_id : '',
      status: isInteger(frame.status) ? frame.status : 0,
      contentType: isText(frame.content_type) ? frame.content_type : '',
      headers,
      body,
      deviceId: isText(frame.device_id) && frame.device_id !== '' ? frame.device_id : undefined,
    },
  };
}
