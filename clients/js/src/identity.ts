/**
 * The device's identity: the utdid Midship issued (at first contact, in a `Device-Id` answer
 * header or the long connection's welcome) and, once the device registered, its own credential
 * (`device_secret`), which signs every later call and hello (docs/security.md, *Device identity*).
 *
 * Both live in the store so a reload is the same device. The secret is written nowhere else and
 * never logged; in a browser the store is `localStorage` unless the app supplies something safer.
 */

import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import { readJson, type KeyValueStore, type StoreKeys } from './store.js';

/** Printable ASCII, at most 128 characters: what the gateway accepts as a `Device-Id`. */
export function isValidDeviceId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value);
}

/** A device secret as `midship.device.register` answers it: 64 lower-case hex characters. */
function isValidSecret(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

export type IdentityListener = (deviceId: string | undefined) => void;

export class DeviceIdentity {
  private id: string | undefined;
  private secret: string | undefined;
  private loaded: Promise<void> | undefined;
  private readonly listeners = new Set<IdentityListener>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly keys: StoreKeys,
    private readonly report: ErrorReporter | undefined,
  ) {}

  get deviceId(): string | undefined {
    return this.id;
  }

  /** Present once the device registered; then calls sign with `device-hmac-*`. */
  get deviceSecret(): string | undefined {
    return this.secret;
  }

  /** Reads the stored identity once; a damaged record is reported and dropped. */
  load(): Promise<void> {
    if (!this.loaded) this.loaded = this.reload();
    return this.loaded;
  }

  /**
   * Reads the store again: another tab of the same origin may have registered meanwhile, and
   * its credential is the one the server now expects.
   */
  async reload(): Promise<void> {
    const before = this.id;
    const { value, error } = await readJson(this.store, this.keys.identity);
    if (error !== undefined) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'the stored device identity is unreadable; starting as a new device', cause: error }));
    }
    const record = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    if (value !== undefined && !isValidDeviceId(record.device_id)) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'the stored device identity is malformed; starting as a new device' }));
    }
    this.id = isValidDeviceId(record.device_id) ? record.device_id : undefined;
    this.secret = this.id && isValidSecret(record.device_secret) ? record.device_secret : undefined;
    if (this.id !== before) this.notify();
  }

  /**
   * Keeps a utdid the gateway issued. Ignored when the device already has one: the gateway
   * issues ids only to calls that sent none, so a different one here is an answer to a call that
   * raced the first, and the id already kept (and maybe registered) wins.
   */
  async adoptIssued(deviceId: string | null | undefined): Promise<void> {
    if (!isValidDeviceId(deviceId) || this.id) return;
    this.id = deviceId;
    this.secret = undefined;
    await this.save();
    this.notify();
  }

  /** Keeps what `midship.device.register` answered. */
  async setCredential(deviceId: string, deviceSecret: string): Promise<void> {
    if (!isValidDeviceId(deviceId) || !isValidSecret(deviceSecret)) {
      throw new MidshipError({ kind: 'protocol', memo: 'midship.device.register answered no usable device_id and device_secret', operationType: 'midship.device.register' });
    }
    const changed = this.id !== deviceId;
    this.id = deviceId;
    this.secret = deviceSecret;
    await this.save();
    if (changed) this.notify();
  }

  /** Drops the id and credential (a revoked credential, 7018): the next registration issues new ones. */
  async forget(): Promise<void> {
    this.id = undefined;
    this.secret = undefined;
    try {
      await this.store.remove(this.keys.identity);
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot remove the stored device identity', cause: error }));
    }
    this.notify();
  }

  /** Called with the new device id whenever it changes (sync positions belong to an id). */
  onChange(listener: IdentityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async save(): Promise<void> {
    const record: Record<string, string> = {};
    if (this.id) record.device_id = this.id;
    if (this.secret) record.device_secret = this.secret;
    try {
      await this.store.set(this.keys.identity, JSON.stringify(record));
    } catch (error) {
      // Kept in memory for this page; a reload will be a new device.
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot store the device identity', cause: error }));
    }
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener(this.id);
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'handler', memo: 'a device id listener threw', cause: error }));
      }
    }
  }
}
