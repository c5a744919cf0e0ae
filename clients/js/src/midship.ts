/**
 * The client as an app uses it: one object holding the RPC client, the long connection (sync),
 * configuration, push and analytics, all sharing one device identity, one clock and one store.
 *
 * In a browser it also follows the page: visibility moves the connection between foreground and
 * background, ends page views, triggers the 30-minute configuration pull and a new analytics
 * session; coming back online reconnects at once; uncaught errors become `h5_error` events.
 */

import { AnalyticsLogger } from './analytics.js';
import { Clock } from './clock.js';
import { ConfigClient } from './config.js';
import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import { DeviceIdentity } from './identity.js';
import { resolveOptions, type MidshipOptions, type ResolvedOptions } from './options.js';
import { PositionStore } from './positions.js';
import { PushClient } from './push.js';
import { RpcClient, type CallOptions, type RpcAnswer } from './rpc.js';
import { defaultStore, StoreKeys, type KeyValueStore } from './store.js';
import { SyncClient, type SyncMessage } from './sync.js';

/**
 * The built-in global bizType over which the server announces changes to online devices (docs/
 * delivery.md, *Push and pull together*): each announcement makes the client pull configuration
 * at once, so a published switch change does not wait for the next poll.
 */
export const ANNOUNCEMENT_BIZ_TYPE = 'midship.delivery';

export interface StartOptions {
  /** Open the long connection (default `true`). */
  connect?: boolean;
  /** Pull configuration and wait for it (default `true`; a failure is reported, not thrown). */
  pullConfig?: boolean;
  /** Start the analytics logger and log a `launch` (default `true`). */
  analytics?: boolean;
  /** Log the page's uncaught errors as `h5_error` (default `true` where there is a `window`). */
  captureErrors?: boolean;
}

interface PageLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export class Midship {
  readonly options: ResolvedOptions;
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly identity: DeviceIdentity;
  readonly rpcClient: RpcClient;
  readonly sync: SyncClient;
  readonly config: ConfigClient;
  readonly push: PushClient;
  readonly analytics: AnalyticsLogger;
  private readonly report: ErrorReporter;
  private readonly cleanups: (() => void)[] = [];
  private readonly announcementListeners = new Set<(announcement: Record<string, unknown>) => void>();
  private started = false;

  constructor(options: MidshipOptions) {
    this.options = resolveOptions(options);
    const onError = options.onError;
    // One reporter for every part; it never lets the app's callback throw back into the client.
    this.report = (error: MidshipError) => safeReport(onError, error);
    this.store = options.store ?? defaultStore();
    const keys = new StoreKeys(this.options.appId, this.options.workspaceId);
    this.clock = new Clock(options.now);
    this.identity = new DeviceIdentity(this.store, keys, this.report);
    this.rpcClient = new RpcClient(this.options, this.identity, this.clock, this.report);
    this.sync = new SyncClient(this.options, this.rpcClient, new PositionStore(this.store, keys, this.report), this.report);
    this.config = new ConfigClient(this.options, this.rpcClient, this.store, keys, this.report);
    this.push = new PushClient(this.rpcClient, this.sync, this.report);
    this.analytics = new AnalyticsLogger(this.rpcClient, this.clock, this.store, keys, this.report);
    this.config.onExposure(({ experiment, variation, unit, unit_kind, proof }) =>
      this.analytics.record({ kind: 'experiment', experiment, variation, unit, unit_kind, proof: proof ?? '' }),
    );
    this.sync.register(ANNOUNCEMENT_BIZ_TYPE, (message) => this.announced(message));
  }

  /**
   * Calls `listener` with each announcement of `midship.delivery` (a release changed: `release_id`,
   * `status`, `kind`, `app_id`, `version`), after the client started its configuration pull.
   */
  onAnnouncement(listener: (announcement: Record<string, unknown>) => void): () => void {
    this.announcementListeners.add(listener);
    return () => this.announcementListeners.delete(listener);
  }
  /** Calls an operation type (a backend API or a `midship.*` built-in) and answers its JSON body. */
  rpc<T = unknown>(operationType: string, body: unknown = {}, options?: CallOptions): Promise<T> {
    return this.rpcClient.call<T>(operationType, body, options);
  }

  /** Like `rpc`, for backends whose answers are not JSON: the whole answer, body as text. */
  rpcRaw(operationType: string, body: string, options?: CallOptions): Promise<RpcAnswer> {
    return this.rpcClient.callRaw(operationType, body, options);
  }

  /** The device's utdid, once issued. */
  get deviceId(): string | undefined {
    return this.identity.deviceId;
  }

  get userId(): string | undefined {
    return this.rpcClient.userId;
  }

  /** Changes the user (sign-in or sign-out); the connection reconnects so its hello names the new one. */
  setUserId(userId: string | undefined): void {
    if ((userId || undefined) === this.rpcClient.userId) return;
    this.rpcClient.userId = userId;
    this.sync.connection.restart('user changed');
  }

  /**
   * Registers the device if needed, pulls configuration, starts analytics and opens the long
   * connection. Register sync and push handlers before calling it. Never throws: failures go to
   * `onError`, and the parts keep retrying on their own.
   */
  async start(options: StartOptions = {}): Promise<void> {
    if (this.started) return;
    this.started = true;
    const inBrowser = typeof (globalThis as { window?: unknown }).window !== 'undefined';
    if (options.analytics ?? true) {
      if (options.captureErrors ?? inBrowser) this.cleanups.push(this.analytics.captureErrors());
      try {
        await this.analytics.start();
        this.analytics.launch(true);
      } catch (error) {
        this.report(error as MidshipError);
      }
    }
    if (options.pullConfig ?? true) {
      try {
        await this.config.pull();
      } catch (error) {
        this.report(error as MidshipError);
      }
    }
    if (options.connect ?? true) this.sync.start();
    if (inBrowser) this.followPage();
  }

  /**
   * Stops the connection and timers and removes the page listeners. Sends what the analytics
   * queue holds first (what cannot be sent stays in the store for the next visit).
   */
  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.analytics.endPageView();
    this.analytics.stop();
    try {
      if (this.started) await this.analytics.flush();
    } catch (error) {
      this.report(error as MidshipError);
    }
    this.sync.stop();
    this.started = false;
  }

  private announced(message: SyncMessage): void {
    // In the background: a failed pull must not make the announcement come again and again.
    this.config.pullInBackground();
    let announcement: unknown;
    try {
      announcement = JSON.parse(message.payload);
    } catch {
      announcement = undefined;
    }
    if (!announcement || typeof announcement !== 'object') return;
    for (const listener of this.announcementListeners) {
      try {
        listener(announcement as Record<string, unknown>);
      } catch (error) {
        this.report(new MidshipError({ kind: 'handler', memo: 'an announcement listener threw', cause: error }));
      }
    }
  }

  private followPage(): void {
    const page = globalThis as unknown as PageLike & { document?: PageLike & { visibilityState?: string } };
    const document = page.document;
    if (document && typeof document.addEventListener === 'function') {
      const onVisibility = () => {
        const visible = document.visibilityState !== 'hidden';
        this.sync.setForeground(visible);
        this.config.visibilityChanged(visible);
        if (!visible) this.analytics.endPageView();
        this.analytics.visibilityChanged(visible);
      };
      document.addEventListener('visibilitychange', onVisibility);
      this.cleanups.push(() => document.removeEventListener('visibilitychange', onVisibility));
    }
    if (typeof page.addEventListener === 'function') {
      const onOnline = () => this.sync.connection.reconnectNow();
      page.addEventListener('online', onOnline);
      this.cleanups.push(() => page.removeEventListener('online', onOnline));
    }
  }
}
