/**
 * The analytics logger (docs/analytics.md): events are queued in the store at once, so a closed
 * tab loses nothing logged, and uploaded in batches of the policy's `batch_size` every
 * `flush_interval_seconds` through `midship.analytics.upload`.
 *
 * A batch is written to the store with its `batch_id` before it leaves the queue, and removed only
 * once answered: a batch whose answer was lost is sent again under the same id, which the server
 * counts once (`duplicate: true`). Kinds the policy leaves out are not logged at all; `wifi_only`
 * kinds wait in the queue while the browser says it is on a cellular network.
 */

import { randomUuid } from './bytes.js';
import type { Clock } from './clock.js';
import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import { browserNetwork } from './options.js';
import type { RpcClient } from './rpc.js';
import { readJson, type KeyValueStore, type StoreKeys } from './store.js';

/** One event as uploaded: `kind`, `time` (Unix milliseconds) and the kind's fields. */
export interface AnalyticsEvent {
  kind: string;
  time: number;
  [field: string]: unknown;
}

export interface AnalyticsPolicy {
  batch_size: number;
  flush_interval_seconds: number;
  /** Only the kinds this device uploads. */
  kinds: Record<string, { wifi_only?: boolean; min_level?: string }>;
}

/** The server's answer to an upload. */
export interface UploadResult {
  batch_id: string;
  accepted: number;
  duplicate: boolean;
  content_differs: boolean;
  rejected: { index: number; reason: string }[];
}

interface Batch {
  batch_id: string;
  events: AnalyticsEvent[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const DEFAULT_BATCH_SIZE = 50;
const DEFAULT_FLUSH_SECONDS = 30;
const MAX_QUEUED = 1000;
/** An error loop in a page must not flood the queue: at most this many `h5_error`s a minute. */
const MAX_ERRORS_PER_MINUTE = 30;
const SESSION_GAP_MS = 30 * 60 * 1000;

const clip = (text: unknown, length: number): string => String(text ?? '').slice(0, length);

function isPolicy(value: unknown): value is AnalyticsPolicy {
  const policy = value as AnalyticsPolicy | undefined;
  return Boolean(
    policy && typeof policy === 'object' && Number.isInteger(policy.batch_size) && policy.batch_size > 0 &&
      Number.isInteger(policy.flush_interval_seconds) && policy.flush_interval_seconds > 0 &&
      policy.kinds && typeof policy.kinds === 'object',
  );
}

export class AnalyticsLogger {
  private queue: AnalyticsEvent[] = [];
  private batch: Batch | undefined;
  private policy: AnalyticsPolicy | undefined;
  private loaded: Promise<void> | undefined;
  private flushing: Promise<UploadResult | null> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private sessionId = randomUuid();
  private hiddenSince: number | undefined;
  private currentPage: { page: string; since: number } | undefined;
  private lastPage: string | undefined;
  private errorWindow = { start: 0, count: 0 };

  constructor(
    private readonly rpc: RpcClient,
    private readonly clock: Clock,
    private readonly store: KeyValueStore,
    private readonly keys: StoreKeys,
    private readonly report: ErrorReporter | undefined,
  ) {}

  /** Loads the queue and policy of earlier visits, refreshes the policy, and starts the timer. */
  async start(): Promise<void> {
    await this.load();
    this.schedule();
    this.refreshPolicy().catch((error) => safeReport(this.report, error as MidshipError));
  }

  /** Stops the timer; what is queued stays in the store for the next visit. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Events waiting in the queue (not counting a batch on its way). */
  get queued(): number {
    return this.queue.length;
  }

  /** Asks the server which kinds this device uploads, how many at once and how often. */
  async refreshPolicy(): Promise<AnalyticsPolicy> {
    await this.load();
    const answer = await this.rpc.call<unknown>('midship.analytics.policy', {});
    if (!isPolicy(answer)) {
      throw new MidshipError({ kind: 'protocol', memo: 'midship.analytics.policy answered no policy', operationType: 'midship.analytics.policy' });
    }
    this.policy = answer;
    this.schedule();
    try {
      await this.store.set(this.keys.analyticsPolicy, JSON.stringify(answer));
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot store the analytics policy', cause: error }));
    }
    // Events queued before the policy was known may be of kinds it leaves out.
    this.queue = this.queue.filter((event) => this.allows(event));
    await this.saveQueue();
    return answer;
  }

  /** Queues any event of docs/analytics.md; `time` defaults to now. Never throws. */
  record(event: { kind: string; time?: number; [field: string]: unknown }): void {
    if (!event || typeof event.kind !== 'string' || event.kind === '') {
      safeReport(this.report, new MidshipError({ kind: 'invalid', memo: 'an analytics event needs a kind' }));
      return;
    }
    const full: AnalyticsEvent = { ...event, kind: event.kind, time: Number.isFinite(event.time) ? (event.time as number) : this.clock.now() };
    if (!this.allows(full)) return;
    this.queue.push(full);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    void this.saveQueue();
    if (this.queue.length >= this.batchSize()) setTimeout(() => this.flushInBackground(), 0);
  }

  /** A custom event; attribute values are strings, numbers or booleans (at most 32). */
  event(name: string, attributes?: Record<string, string | number | boolean>): void {
    const clean: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(attributes ?? {}).slice(0, 32)) {
      if (['string', 'number', 'boolean'].includes(typeof value)) clean[key] = value;
    }
    this.record({ kind: 'event', name, attributes: clean });
  }

  /** One page view with its fields as given. */
  page(page: string, fields: { duration_ms?: number; referrer?: string } = {}): void {
    this.record({ kind: 'page', page, ...fields });
  }

  /** Starts a page view: ends the one before with its time on page and names it the referrer. */
  pageView(page: string): void {
    this.endPageView();
    this.currentPage = { page, since: this.clock.now() };
  }

  /** Ends the current page view (the page was left or hidden) and queues it. */
  endPageView(): void {
    const current = this.currentPage;
    if (!current) return;
    this.currentPage = undefined;
    const fields: { duration_ms: number; referrer?: string } = { duration_ms: Math.max(0, this.clock.now() - current.since) };
    if (this.lastPage) fields.referrer = this.lastPage;
    this.page(current.page, fields);
    this.lastPage = current.page;
  }

  /** A session start (`launch`). */
  launch(cold = true): void {
    this.record({ kind: 'launch', session_id: this.sessionId, cold });
  }

  /** An error of the page's JavaScript (`h5_error`), rate limited. */
  h5Error(fields: { message: string; url?: string; stack?: string }): void {
    const now = this.clock.now();
    if (now - this.errorWindow.start > 60_000) this.errorWindow = { start: now, count: 0 };
    if (++this.errorWindow.count > MAX_ERRORS_PER_MINUTE) return;
    const event: { kind: string; message: string; url?: string; stack?: string } = {
      kind: 'h5_error',
      message: clip(fields.message, 2000) || 'unknown error',
    };
    if (fields.url) event.url = clip(fields.url, 2000);
    if (fields.stack) event.stack = clip(fields.stack, 8000);
    this.record(event);
  }

  /** One of the app's own log lines (`log`), kept only at or above the policy's `min_level`. */
  log(level: LogLevel, message: string, tag?: string): void {
    this.record(tag ? { kind: 'log', level, message, tag } : { kind: 'log', level, message });
  }

  /**
   * Listens for the page's uncaught errors and unhandled promise rejections and logs them as
   * `h5_error`. Answers a function that removes the listeners.
   */
  captureErrors(target: EventTarget | undefined = globalThis as unknown as EventTarget): () => void {
    if (!target || typeof target.addEventListener !== 'function') return () => {};
    const location = (globalThis as { location?: { href?: string } }).location;
    const onError = (event: Event) => {
      try {
        const error = event as ErrorEvent;
        const cause = error.error as { stack?: unknown } | undefined;
        this.h5Error({
          message: error.message || String(error.error ?? 'script error'),
          url: error.filename || location?.href,
          stack: typeof cause?.stack === 'string' ? cause.stack : undefined,
        });
      } catch {
        // Capturing an error must never raise another.
      }
    };
    const onRejection = (event: Event) => {
      try {
        const reason = (event as PromiseRejectionEvent).reason as { message?: unknown; stack?: unknown } | undefined;
        this.h5Error({
          message: `unhandled rejection: ${typeof reason?.message === 'string' ? reason.message : String(reason)}`,
          url: location?.href,
          stack: typeof reason?.stack === 'string' ? reason.stack : undefined,
        });
      } catch {
        // As above.
      }
    };
    target.addEventListener('error', onError);
    target.addEventListener('unhandledrejection', onRejection);
    return () => {
      target.removeEventListener('error', onError);
      target.removeEventListener('unhandledrejection', onRejection);
    };
  }

  /** The page was hidden or shown: ends the page view, and starts a new session after 30 minutes away. */
  visibilityChanged(visible: boolean): void {
    const now = this.clock.now();
    if (!visible) {
      this.hiddenSince ??= now;
      this.flushInBackground();
      return;
    }
    if (this.hiddenSince !== undefined && now - this.hiddenSince > SESSION_GAP_MS) {
      this.sessionId = randomUuid();
      this.launch(false);
    }
    this.hiddenSince = undefined;
  }

  /**
   * Uploads one batch: the one whose answer was lost, else the oldest queued events that may go
   * now. Answers the server's result, or `null` when there was nothing to send.
   */
  flush(): Promise<UploadResult | null> {
    if (!this.flushing) {
      this.flushing = this.upload().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  flushInBackground(): void {
    this.flush().catch((error) => safeReport(this.report, error as MidshipError));
  }

  private async upload(): Promise<UploadResult | null> {
    await this.load();
    if (!this.batch) {
      const cellular = browserNetwork() === 'cellular';
      const ready = this.queue.filter((event) => !(cellular && this.policy?.kinds[event.kind]?.wifi_only));
      const events = ready.slice(0, this.batchSize());
      if (events.length === 0) return null;
      this.batch = { batch_id: randomUuid(), events };
      await this.write(this.keys.analyticsBatch, this.batch);
      const taken = new Set(events);
      this.queue = this.queue.filter((event) => !taken.has(event));
      await this.saveQueue();
    }
    const batch = this.batch;
    let result: UploadResult;
    try {
      result = await this.rpc.call<UploadResult>('midship.analytics.upload', batch);
    } catch (error) {
      if (error instanceof MidshipError && error.kind === 'result' && error.resultCode === 3002 && this.rpc.identity.deviceId) {
        // The server cannot read this batch at all; sending it again would fail the same way.
        await this.dropBatch();
      }
      throw error;
    }
    await this.dropBatch();
    if (result && result.content_differs) {
      safeReport(this.report, new MidshipError({ kind: 'protocol', memo: `batch ${batch.batch_id} reused an id for other events; the server dropped it` }));
    }
    if (this.queue.length >= this.batchSize()) setTimeout(() => this.flushInBackground(), 0);
    return result;
  }

  private allows(event: AnalyticsEvent): boolean {
    if (!this.policy) return true;
    const rule = this.policy.kinds[event.kind];
    if (!rule) return false;
    if (event.kind === 'log' && rule.min_level) {
      return LEVELS.indexOf(event.level as LogLevel) >= LEVELS.indexOf(rule.min_level as LogLevel);
    }
    return true;
  }

  private batchSize(): number {
    return this.policy?.batch_size ?? DEFAULT_BATCH_SIZE;
  }

  private schedule(): void {
    clearInterval(this.timer);
    const seconds = this.policy?.flush_interval_seconds ?? DEFAULT_FLUSH_SECONDS;
    this.timer = setInterval(() => {
      if (this.queue.length > 0 || this.batch) this.flushInBackground();
    }, seconds * 1000);
    // In Node, a pending upload timer must not keep the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private load(): Promise<void> {
    if (!this.loaded) this.loaded = this.readStored();
    return this.loaded;
  }

  private async readStored(): Promise<void> {
    const queue = await readJson(this.store, this.keys.analyticsQueue);
    const stored = Array.isArray(queue.value) ? (queue.value as unknown[]) : [];
    const valid = stored.filter((event): event is AnalyticsEvent => Boolean(event && typeof (event as AnalyticsEvent).kind === 'string'));
    // Events logged before the stored ones were read come after them.
    this.queue = [...valid, ...this.queue];
    const batch = await readJson(this.store, this.keys.analyticsBatch);
    const pending = batch.value as Batch | undefined;
    if (pending && typeof pending.batch_id === 'string' && Array.isArray(pending.events)) this.batch = pending;
    const policy = await readJson(this.store, this.keys.analyticsPolicy);
    if (isPolicy(policy.value) && !this.policy) this.policy = policy.value;
    if (queue.error !== undefined || batch.error !== undefined || (queue.value !== undefined && !Array.isArray(queue.value))) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'the stored analytics queue was unreadable; its events are lost' }));
    }
  }

  private async dropBatch(): Promise<void> {
    this.batch = undefined;
    try {
      await this.store.remove(this.keys.analyticsBatch);
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot remove the sent analytics batch', cause: error }));
    }
  }

  /** Writes the queue, after the stored one was read (or an early event would overwrite it). */
  private async saveQueue(): Promise<void> {
    await this.load();
    await this.write(this.keys.analyticsQueue, this.queue);
  }

  private async write(key: string, value: unknown): Promise<void> {
    try {
      await this.store.set(key, JSON.stringify(value));
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot store the analytics queue', cause: error }));
    }
  }
}
