/**
 * Sync positions: per bizType, the last sequence the app processed, kept in the store per device
 * id (a new device id means new device streams, where old numbers would skip messages).
 *
 * Each position remembers the user it was processed under. A stream is a bizType and its target:
 * a user's stream numbers mean nothing for another user signed in on the same device, while a
 * device stream (`midship.push`) goes on across users. The client cannot tell the two apart, so a
 * position of another user is simply not used: the hello leaves it out and the server resumes that
 * stream after the device's last acknowledgement, which is right for both kinds.
 *
 * Reads go to the store every time, not to a copy in memory, because two tabs of one origin share
 * `localStorage` and the device id: the one that takes over the connection must see how far the
 * other got. Writes are serialized and, for the same user, never lower a position.
 */

import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import { readJson, type KeyValueStore, type StoreKeys } from './store.js';

export type Positions = Record<string, number>;

interface Entry {
  seq: number;
  /** The user the position was processed under; empty for none. */
  user: string;
}

type Entries = Record<string, Entry>;

export class PositionStore {
  /** Serializes read-modify-write cycles, so two bizTypes saving at once lose nothing. */
  private queue: Promise<unknown> = Promise.resolve();
  /** What this client saved, used when the store cannot be read or written. */
  private readonly memory = new Map<string, Entries>();
  /** The last damage reported, so a damaged record read for every message is reported once. */
  private lastDamage = '';

  constructor(
    private readonly store: KeyValueStore,
    private readonly keys: StoreKeys,
    private readonly report: ErrorReporter | undefined,
  ) {}

  /**
   * The positions of `deviceId` processed under `userId`. A damaged record is reported, and what
   * could be read of it is used; a bizType without a usable position resumes after the server's
   * last acknowledgement.
   */
  async read(deviceId: string, userId: string | undefined): Promise<Positions> {
    const entries = await this.entries(deviceId);
    const positions: Positions = {};
    for (const [bizType, entry] of Object.entries(entries)) {
      if (entry.user === (userId ?? '')) positions[bizType] = entry.seq;
    }
    return positions;
  }

  /** The position of one bizType for this user (0 when none). */
  async get(deviceId: string, userId: string | undefined, bizType: string): Promise<number> {
    return (await this.queued(() => this.read(deviceId, userId)))[bizType] ?? 0;
  }

  /** Records that `seq` of `bizType` was processed under `userId`. */
  set(deviceId: string, userId: string | undefined, bizType: string, seq: number): Promise<void> {
    const user = userId ?? '';
    const merge = (entries: Entries) => {
      const entry = entries[bizType];
      if (!entry || entry.user !== user || entry.seq < seq) entries[bizType] = { seq, user };
    };
    const remembered = this.memory.get(deviceId) ?? {};
    merge(remembered);
    this.memory.set(deviceId, remembered);
    return this.queued(async () => {
      const entries = await this.entries(deviceId);
      merge(entries);
      try {
        await this.store.set(this.keys.positions(deviceId), JSON.stringify(entries));
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot store a sync position; after a reload the message may be handed over again', cause: error }));
      }
    });
  }

  /** The stored entries, merged with what this client saved (in case the store lost a write). */
  private async entries(deviceId: string): Promise<Entries> {
    const { value, error } = await readJson(this.store, this.keys.positions(deviceId));
    const entries: Entries = {};
    if (error !== undefined) {
      this.damaged(new MidshipError({ kind: 'storage', memo: 'the stored sync positions are unreadable; the server resumes after its last acknowledgement', cause: error }));
    } else if (value !== undefined && (!value || typeof value !== 'object' || Array.isArray(value))) {
      this.damaged(new MidshipError({ kind: 'storage', memo: 'the stored sync positions are not an object; the server resumes after its last acknowledgement' }));
    } else if (value !== undefined) {
      const damaged: string[] = [];
      for (const [bizType, raw] of Object.entries(value as Record<string, unknown>)) {
        const entry = raw as Partial<Entry> | null;
        const valid =
          entry && typeof entry === 'object' && typeof entry.seq === 'number' && Number.isSafeInteger(entry.seq) &&
          entry.seq >= 0 && typeof entry.user === 'string' && bizType.length > 0 && bizType.length <= 128;
        if (valid) entries[bizType] = { seq: entry.seq as number, user: entry.user as string };
        else damaged.push(bizType.slice(0, 64));
      }
      if (damaged.length > 0) {
        this.damaged(new MidshipError({ kind: 'storage', memo: `damaged stored sync positions dropped for: ${damaged.join(', ')}` }));
      }
    }
    for (const [bizType, entry] of Object.entries(this.memory.get(deviceId) ?? {})) {
      const stored = entries[bizType];
      if (!stored || (stored.user === entry.user && stored.seq < entry.seq)) entries[bizType] = entry;
    }
    return entries;
  }

  private damaged(error: MidshipError): void {
    if (error.memo === this.lastDamage) return;
    this.lastDamage = error.memo;
    safeReport(this.report, error);
  }

  private queued<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
