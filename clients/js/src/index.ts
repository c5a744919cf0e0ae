/**
 * `@midship/client`: the Midship client for H5 pages and mini programs, written from
 * docs/protocol.md and its companions. Start with {@link Midship}; the parts are exported too for
 * apps that need only one of them, and the signing functions for tests against
 * conformance/signing-vectors.json.
 */

export { Midship, ANNOUNCEMENT_BIZ_TYPE, type StartOptions } from './midship.js';
export { MidshipError, ResultCode, type MidshipErrorKind, type ErrorReporter } from './errors.js';
export type { MidshipOptions, Platform, FetchFunction, WebSocketConstructor } from './options.js';
export { MemoryStore, WebStorageStore, defaultStore, type KeyValueStore } from './store.js';
export { RpcClient, type CallOptions, type RpcAnswer } from './rpc.js';
export { SyncClient, SyncDispatcher, type SyncHandler, type SyncMessage, type ConnectionState } from './sync.js';
export {
  ConfigClient,
  type ConfigChange,
  type ConfigValues,
  type ConfigPullContext,
  type ExperimentAssignment,
} from './config.js';
export { AnalyticsLogger, type AnalyticsEvent, type AnalyticsPolicy, type UploadResult, type LogLevel } from './analytics.js';
export { PushClient, PUSH_BIZ_TYPE, type PushNotification, type PushEvent } from './push.js';
export { sign, signingString, sha256Hex, parseSignType, EMPTY_BODY_SHA256, type SignType, type SigningInput } from './signing.js';
export { sha256, sm3, hmac } from './hashes.js';
