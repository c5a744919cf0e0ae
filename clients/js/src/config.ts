/**
 * Remote configuration (switches; docs/switches.md): pulls `midship.config.pull` with the etag of
 * the values it holds, keeps the values in the store so a reload starts with the last ones, and
 * offers typed getters that fall back to the app's defaults.
 *
 * It pulls at start, when the page comes back after 30 minutes or more in the background (as the
 * SDKs do), and when the server announces a change over the long connection; listeners hear which
 * keys changed.
 *
 * Experiments (docs/experiments.md) ride on the pull: the assignments it answers are kept and sent
 * back with the next pull, so they stick, and the first read of an experiment's switch tells the
 * exposure listener (`Midship` logs it to analytics) once per experiment, unit and variation.
 */

import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import { browserNetwork, type ResolvedOptions } from './options.js';
import type { RpcClient } from './rpc.js';
import { readJson, type KeyValueStore, type StoreKeys } from './store.js';

export type ConfigValues = Record<string, unknown>;

/** Keys whose values changed in a pull (added, changed or gone), with the values before and after. */
export interface ConfigChange {
  keys: string[];
  version: number;
  previous: ConfigValues;
  values: ConfigValues;
}

/** An experiment the device is in, as the pull answers it. */
export interface ExperimentAssignment {
  experiment: string;
  variation: string;
  unit: string;
  unit_kind: 'device' | 'user';
  /** The switches whose values come from the experiment. */
  switches: string[];
  /** Forced by the debug whitelist: no exposure is reported. */
  debug?: boolean;
  /** The server's proof of the assignment, sent back with it (it counts only with it). */
  proof?: string;
}

interface CachedConfig {
  version: number;
  etag: string;
  values: ConfigValues;
  experiments: ExperimentAssignment[];
  /** `experiment/unit/variation` of the exposures already reported. */
  exposed: string[];
}

/** What a device may add to its pull, so switch rules can target it. */
export interface ConfigPullContext {
  osVersion?: string;
  model?: string;
  city?: string;
  network?: string;
  attributes?: Record<string, unknown>;
}

const BACKGROUND_PULL_MS = 30 * 60 * 1000;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ConfigClient {
  private cached: CachedConfig = { version: 0, etag: '', values: {}, experiments: [], exposed: [] };
  private exposureListener: ((assignment: ExperimentAssignment) => void) | undefined;
  private loaded: Promise<void> | undefined;
  private pulling: Promise<ConfigChange | null> | undefined;
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private hiddenSince: number | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly rpc: RpcClient,
    private readonly store: KeyValueStore,
    private readonly keys: StoreKeys,
    private readonly report: ErrorReporter | undefined,
  ) {}

  /** The published version the values come from (0 before the first pull). */
  get version(): number {
    return this.cached.version;
  }

  /** A copy of every value held. */
  get values(): ConfigValues {
    return { ...this.cached.values };
  }

  /** Reads the cached values of an earlier visit; a damaged cache is reported and dropped. */
  load(): Promise<void> {
    if (!this.loaded) this.loaded = this.readCache();
    return this.loaded;
  }

  /**
   * Pulls the values for this device now. Answers the change (or `null` when nothing changed);
   * concurrent pulls share one call. Throws a MidshipError when the pull fails; the values held
   * stay as they were.
   */
  pull(context: ConfigPullContext = {}): Promise<ConfigChange | null> {
    if (!this.pulling) {
      this.pulling = this.doPull(context).finally(() => {
        this.pulling = undefined;
      });
    }
    return this.pulling;
  }

  /**
   * Like `pull`, but failures go to `onError`: for background pulls nobody awaits. A pull cut
   * short because the connection closed (the app closing the client, or a drop) is not an error:
   * the next connection announces the current version again and pulls then.
   */
  pullInBackground(): void {
    this.pull().catch((error) => {
      if ((error as MidshipError).kind !== 'closed') safeReport(this.report, error as MidshipError);
    });
  }

  /** The experiments this device is in, from the last pull. */
  get experiments(): ExperimentAssignment[] {
    return this.cached.experiments.map((assignment) => ({ ...assignment, switches: [...assignment.switches] }));
  }

  /** Who hears an exposure: the first read of an experiment's switch, once per experiment, unit and variation. */
  onExposure(listener: (assignment: ExperimentAssignment) => void): void {
    this.exposureListener = listener;
  }

  getBool(key: string, defaultValue: boolean): boolean {
    this.noteExposure(key);
    const value = this.cached.values[key];
    return typeof value === 'boolean' ? value : defaultValue;
  }

  getNumber(key: string, defaultValue: number): number {
    this.noteExposure(key);
    const value = this.cached.values[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : defaultValue;
  }

  getString(key: string, defaultValue: string): string {
    this.noteExposure(key);
    const value = this.cached.values[key];
    return typeof value === 'string' ? value : defaultValue;
  }

  /** A `json` switch's value (any JSON), or the default when the key is absent. */
  getJson<T = unknown>(key: string, defaultValue: T): T {
    this.noteExposure(key);
    return key in this.cached.values ? (this.cached.values[key] as T) : defaultValue;
  }

  /** Calls `listener` with the keys that changed after every pull that changed something. */
  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The page was hidden (`false`) or shown (`true`); pulls after 30 minutes or more away. */
  visibilityChanged(visible: boolean, now = Date.now()): void {
    if (!visible) {
      this.hiddenSince ??= now;
      return;
    }
    const away = this.hiddenSince === undefined ? 0 : now - this.hiddenSince;
    this.hiddenSince = undefined;
    if (away >= BACKGROUND_PULL_MS) this.pullInBackground();
  }

  /** Tells the exposure listener of experiments whose switch `key` is read for the first time. */
  private noteExposure(key: string): void {
    const first = this.cached.experiments.filter((assignment) => {
      if (assignment.debug || !assignment.switches.includes(key)) return false;
      const id = `${assignment.experiment}/${assignment.unit}/${assignment.variation}`;
      if (this.cached.exposed.includes(id)) return false;
      this.cached.exposed.push(id);
      return true;
    });
    if (first.length === 0) return;
    void this.writeCache();
    for (const assignment of first) {
      try {
        this.exposureListener?.(assignment);
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'handler', memo: 'the exposure listener threw', cause: error }));
      }
    }
  }

  private async doPull(context: ConfigPullContext): Promise<ConfigChange | null> {
    await this.load();
    const options = this.options;
    const body: Record<string, unknown> = {};
    const osVersion = context.osVersion ?? options.osVersion;
    const model = context.model ?? options.model;
    const city = context.city ?? options.city;
    const network = context.network ?? options.network ?? browserNetwork();
    const attributes = context.attributes ?? options.attributes;
    if (osVersion) body.os_version = osVersion;
    if (model) body.model = model;
    if (city) body.city = city;
    if (network) body.network = network;
    if (attributes) body.attributes = attributes;
    if (this.cached.etag) body.etag = this.cached.etag;
    const held = this.cached.experiments
      .filter((assignment) => !assignment.debug)
      .map(({ experiment, variation, unit, proof }) => ({ experiment, variation, unit, proof: proof ?? '' }));
    if (held.length > 0) body.experiments = held;
    const answer = await this.rpc.call<Record<string, unknown> | null>('midship.config.pull', body);
    if (!answer || typeof answer !== 'object') {
      throw new MidshipError({ kind: 'protocol', memo: 'midship.config.pull answered no object', operationType: 'midship.config.pull' });
    }
    const version = typeof answer.version === 'number' ? answer.version : this.cached.version;
    const etag = typeof answer.etag === 'string' ? answer.etag : '';
    if (answer.not_modified === true) {
      if (version !== this.cached.version || etag !== this.cached.etag) {
        this.cached = { ...this.cached, version, etag };
        await this.writeCache();
      }
      return null;
    }
    const values = answer.values;
    if (!values || typeof values !== 'object' || Array.isArray(values)) {
      throw new MidshipError({ kind: 'protocol', memo: 'midship.config.pull answered no values', operationType: 'midship.config.pull' });
    }
    const previous = this.cached.values;
    const next = values as ConfigValues;
    const changed = [...new Set([...Object.keys(previous), ...Object.keys(next)])]
      .filter((key) => !sameJson(previous[key], next[key]))
      .sort();
    const experiments = Array.isArray(answer.experiments) ? (answer.experiments as ExperimentAssignment[]) : [];
    this.cached = { version, etag, values: next, experiments, exposed: this.cached.exposed };
    await this.writeCache();
    if (changed.length === 0) return null;
    const change: ConfigChange = { keys: changed, version, previous: { ...previous }, values: { ...next } };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'handler', memo: 'a configuration change listener threw', cause: error }));
      }
    }
    return change;
  }

  private async readCache(): Promise<void> {
    const { value, error } = await readJson(this.store, this.keys.config);
    const record = value as Partial<CachedConfig> | undefined;
    const usable =
      record && typeof record === 'object' && typeof record.version === 'number' && typeof record.etag === 'string' &&
      record.values && typeof record.values === 'object' && !Array.isArray(record.values);
    if (usable) {
      this.cached = {
        version: record.version as number,
        etag: record.etag as string,
        values: record.values as ConfigValues,
        experiments: Array.isArray(record.experiments) ? record.experiments : [],
        exposed: Array.isArray(record.exposed) ? record.exposed : [],
      };
    } else if (error !== undefined || value !== undefined) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'the cached configuration is unreadable; pulling it afresh', cause: error }));
    }
  }

  private async writeCache(): Promise<void> {
    try {
      await this.store.set(this.keys.config, JSON.stringify(this.cached));
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'storage', memo: 'cannot cache the configuration', cause: error }));
    }
  }
}
