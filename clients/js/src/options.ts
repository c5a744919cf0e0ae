/**
 * What the app tells the client, and the platform functions it runs on. Everything a runtime
 * might lack (mini programs have neither `fetch` nor `WebSocket` under those names) can be passed
 * in, so the same code runs in a browser, a web view, Node and a mini program.
 */

import type { ErrorReporter } from './errors.js';
import type { KeyValueStore } from './store.js';

export type Platform = 'android' | 'ios' | 'harmony' | 'h5' | 'miniprogram';

/** The shape of the `WebSocket` constructor the client needs (the browser's, Node 22's, a wrapper). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export interface MidshipOptions {
  /** The server, e.g. `https://midship.bank.example` (no trailing `/mgw`). */
  baseUrl: string;
  appId: string;
  workspaceId: string;
  /** The app's signing secret as `midship app create` printed it (64 hex characters). */
  appSecret: string;
  /** `hmac-sha256` (default) or `hmac-sm3`; registered devices use the `device-` form of the same hash. */
  signType?: 'hmac-sha256' | 'hmac-sm3';
  platform?: Platform;
  appVersion?: string;
  /** The app's own user id (a claim, as `User-Id` always is); change it with `setUserId`. */
  userId?: string;
  /** Sent in the hello and the config pull; switches can target them. */
  osVersion?: string;
  model?: string;
  city?: string;
  /** `wifi`, `cellular`, ...; read from `navigator.connection` when absent. */
  network?: string;
  /** Custom attributes for switch conditions. */
  attributes?: Record<string, unknown>;
  /** Where identity, positions, configuration and the analytics queue are kept. */
  store?: KeyValueStore;
  /**
   * Register the device (`midship.device.register`) before its first call, and sign everything
   * after with its own credential (default `true`). `false` signs with the app secret only, which
   * workspaces accept until their `device_credentials_required_from` deadline.
   */
  register?: boolean;
  /**
   * How the long connection's hello proves the device: `signature` (default), `token` (asks
   * `midship.sync.token` over HTTP), or a function answering a token the app's backend minted
   * (`POST …/sync/tokens`, which can vouch for the user).
   */
  syncAuth?: 'signature' | 'token' | (() => Promise<string>);
  /** Deadline of one RPC, in milliseconds (default 15,000). */
  requestTimeoutMs?: number;
  /** Failures with no caller to reject: background uploads, handlers, the connection. */
  onError?: ErrorReporter;
  fetch?: FetchFunction;
  WebSocket?: WebSocketConstructor;
  /** The device clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The options with defaults filled in, shared by every part of the client. */
export interface ResolvedOptions extends MidshipOptions {
  baseUrl: string;
  signType: 'hmac-sha256' | 'hmac-sm3';
  platform: Platform;
  register: boolean;
  requestTimeoutMs: number;
}

export function resolveOptions(options: MidshipOptions): ResolvedOptions {
  for (const field of ['baseUrl', 'appId', 'workspaceId', 'appSecret'] as const) {
    if (typeof options[field] !== 'string' || options[field] === '') {
      throw new TypeError(`Midship: option ${field} is required`);
    }
  }
  return {
    ...options,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    signType: options.signType ?? 'hmac-sha256',
    platform: options.platform ?? 'h5',
    register: options.register ?? true,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
  };
}

/** The network type the browser reports (`wifi`, `cellular`, ...), if it reports one. */
export function browserNetwork(): string | undefined {
  const connection = (globalThis as { navigator?: { connection?: { type?: string } } }).navigator?.connection;
  const type = connection?.type;
  return typeof type === 'string' && type !== 'unknown' ? type : undefined;
}
