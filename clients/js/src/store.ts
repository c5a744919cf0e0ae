/**
 * Where the client keeps what must survive a reload: the device's id and credential, sync
 * positions, the configuration cache and the analytics queue.
 *
 * The interface may be synchronous (`localStorage`, `wx.getStorageSync`) or asynchronous
 * (IndexedDB, `wx.getStorage`, a native bridge): the client awaits every call either way.
 * Values are strings (JSON written by the client); anything unreadable that comes back is treated
 * as absent and reported, never trusted.
 */

export interface KeyValueStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** Keeps values in memory only: for tests, and for runtimes with nowhere to write. */
export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();

  get(key: string): string | null {
    return this.values.has(key) ? (this.values.get(key) as string) : null;
  }

  set(key: string, value: string): void {
    this.values.set(key, String(value));
  }

  remove(key: string): void {
    this.values.delete(key);
  }

  /** Every key held, for tests that inspect or damage what the client stored. */
  keys(): string[] {
    return [...this.values.keys()];
  }
}

/** The browser's `localStorage` (or any object of the same shape, such as `sessionStorage`). */
export class WebStorageStore implements KeyValueStore {
  constructor(private readonly storage: Storage) {}

  get(key: string): string | null {
    return this.storage.getItem(key);
  }

  set(key: string, value: string): void {
    this.storage.setItem(key, value);
  }

  remove(key: string): void {
    this.storage.removeItem(key);
  }
}

/**
 * `localStorage` in a browser where it works (it throws in some private modes and sandboxed
 * frames), else memory: the client then still works, it only forgets on reload.
 */
export function defaultStore(): KeyValueStore {
  try {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    if (storage) {
      const probe = '__midship_probe__';
      storage.setItem(probe, '1');
      storage.removeItem(probe);
      return new WebStorageStore(storage);
    }
  } catch {
    // No usable localStorage: fall through to memory.
  }
  return new MemoryStore();
}

/**
 * The client's keys in a store, all under `midship/{appId}/{workspaceId}/`, so two apps or two
 * workspaces on one origin never share state.
 */
export class StoreKeys {
  private readonly prefix: string;

  constructor(appId: string, workspaceId: string) {
    this.prefix = `midship/${appId}/${workspaceId}/`;
  }

  /** `{"device_id", "device_secret"?}`. */
  get identity(): string {
    return `${this.prefix}identity`;
  }

  /** Sync positions per bizType, kept per device id (positions.ts). */
  positions(deviceId: string): string {
    return `${this.prefix}positions/${deviceId}`;
  }

  get config(): string {
    return `${this.prefix}config`;
  }

  get analyticsQueue(): string {
    return `${this.prefix}analytics/queue`;
  }

  get analyticsBatch(): string {
    return `${this.prefix}analytics/batch`;
  }

  get analyticsPolicy(): string {
    return `${this.prefix}analytics/policy`;
  }
}

/** Reads and parses a JSON value; `undefined` when absent, `error` when unreadable. */
export async function readJson(
  store: KeyValueStore,
  key: string,
): Promise<{ value?: unknown; error?: unknown }> {
  let text: string | null | undefined;
  try {
    text = await store.get(key);
  } catch (error) {
    return { error };
  }
  if (text === null || text === undefined || text === '') return {};
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error };
  }
}
