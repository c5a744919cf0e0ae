/**
 * Signed RPCs named by an operation type (docs/protocol.md): the headers, the signature, and the
 * gateway's documented ways back from a refusal, which the client takes by itself once each:
 *
 * - 3002 at first contact, for the built-ins that need `Device-Id`: the refusal issued an id;
 *   send the call again with it.
 * - 7003 (clock): learn the server's time (`midship.time`) and sign again.
 * - 7017 (sign with the device credential) and 7018 (credential revoked): register, sign again.
 *
 * A call goes over the long connection when it is open (`rpc` frames pass the same pipeline), or
 * over `POST /mgw`; registration, tokens and the clock always use HTTP, since the connection
 * needs them first.
 */

import { randomHex } from './bytes.js';
import type { Clock } from './clock.js';
import { MidshipError, ResultCode, safeReport, type ErrorReporter } from './errors.js';
import { httpTransport, type RpcAnswer, type RpcTransport } from './http.js';
import type { DeviceIdentity } from './identity.js';
import type { ResolvedOptions } from './options.js';
import { deviceSignType, sign, type SignType } from './signing.js';

export type { RpcAnswer, RpcTransport } from './http.js';

export interface CallOptions {
  /** `auto` (default): the long connection when it is open, else HTTP. */
  transport?: 'auto' | 'http' | 'connection';
  timeoutMs?: number;
}

/** Built-ins signed with the app's secret even by a registered device (docs/protocol.md). */
const APP_SIGNED = new Set(['midship.device.register', 'midship.device.challenge']);
/** Built-ins that do not wait for registration: the clock is needed to register at all. */
const BEFORE_REGISTRATION = new Set([...APP_SIGNED, 'midship.time']);
/** Always over HTTP: the connection needs them before it can open. */
const HTTP_ONLY = new Set([...APP_SIGNED, 'midship.sync.token']);

/** The fields of a hello that prove the device (docs/protocol.md, *Authentication*). */
export interface HelloProof {
  device_id?: string;
  ts: string;
  nonce: string;
  sign: string;
  sign_type: SignType;
}

export class RpcClient {
  private connection: RpcTransport | undefined;
  private readonly http: RpcTransport;
  private registering: Promise<void> | undefined;
  /** Set when the workspace refused registration (1001: attestation required): sign with the app secret. */
  private registrationRefused = false;
  private user: string | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    readonly identity: DeviceIdentity,
    readonly clock: Clock,
    private readonly report: ErrorReporter | undefined,
  ) {
    this.http = httpTransport(options.baseUrl, options.fetch);
    this.user = options.userId || undefined;
  }

  get userId(): string | undefined {
    return this.user;
  }

  set userId(value: string | undefined) {
    this.user = value || undefined;
  }

  /** The long connection offers itself here while it is open (and withdraws with `undefined`). */
  useConnection(transport: RpcTransport | undefined): void {
    this.connection = transport;
  }

  /** Calls `operationType` and answers its JSON body (`null` for an empty one). */
  async call<T = unknown>(operationType: string, body: unknown = {}, options: CallOptions = {}): Promise<T> {
    const answer = await this.callRaw(operationType, JSON.stringify(body ?? {}), options);
    if (answer.body === '') return null as T;
    try {
      return JSON.parse(answer.body) as T;
    } catch (error) {
      throw new MidshipError({ kind: 'protocol', memo: 'the answer body is not JSON', operationType, traceId: answer.traceId, cause: error });
    }
  }

  /** Calls `operationType` with a body as sent; answers the whole 1000 answer, throws otherwise. */
  async callRaw(operationType: string, body: string, options: CallOptions = {}): Promise<RpcAnswer> {
    if (typeof operationType !== 'string' || operationType === '') {
      throw new MidshipError({ kind: 'invalid', memo: 'an operation type is required' });
    }
    await this.identity.load();
    if (!BEFORE_REGISTRATION.has(operationType)) await this.ensureRegistered();
    const retried = new Set<string>();
    for (;;) {
      const sentDeviceId = this.identity.deviceId;
      const signedByDevice = this.signsWithDevice(operationType);
      const headers = await this.headers(operationType, body);
      const sentAt = this.clock.deviceNow();
      const answer = await this.transport(operationType, options)(headers, body, options.timeoutMs ?? this.options.requestTimeoutMs);
      const receivedAt = this.clock.deviceNow();
      if (!sentDeviceId && answer.deviceId) await this.identity.adoptIssued(answer.deviceId);
      if (answer.resultCode === ResultCode.SUCCESS) return answer;
      const retry = (reason: string) => !retried.has(reason) && (retried.add(reason), true);
      switch (answer.resultCode) {
        case ResultCode.MALFORMED:
          if (!sentDeviceId && this.identity.deviceId && retry('device-id')) continue;
          break;
        case ResultCode.TIMESTAMP_WINDOW:
          if (retry('clock')) {
            // midship.time itself learns from the refusal's Date header alone (no recursion).
            await this.syncClock(answer, sentAt, receivedAt, operationType !== 'midship.time');
            continue;
          }
          break;
        case ResultCode.DEVICE_SIGNATURE_REQUIRED:
          if (!signedByDevice && this.options.register && !APP_SIGNED.has(operationType) && retry('register')) {
            // Another tab may have registered this device meanwhile; else register now.
            await this.identity.reload();
            await this.ensureRegistered();
            if (this.signsWithDevice(operationType)) continue;
          }
          break;
        case ResultCode.DEVICE_REVOKED:
          if (this.options.register && retry('register')) {
            await this.identity.forget();
            await this.ensureRegistered();
            continue;
          }
          break;
      }
      throw new MidshipError({
        kind: 'result',
        resultCode: answer.resultCode,
        memo: answer.memo,
        tips: answer.tips,
        traceId: answer.traceId,
        operationType,
      });
    }
  }

  /**
   * Registers the device once (`midship.device.register`), unless it holds a credential already,
   * registration is switched off, or the workspace refused it. Concurrent callers share one call.
   */
  ensureRegistered(): Promise<void> {
    if (!this.options.register || this.registrationRefused || this.identity.deviceSecret) return Promise.resolve();
    if (!this.registering) {
      this.registering = this.register().finally(() => {
        this.registering = undefined;
      });
    }
    return this.registering;
  }

  private async register(): Promise<void> {
    await this.identity.reload();
    if (this.identity.deviceSecret) return;
    let answer: unknown;
    try {
      answer = await this.call('midship.device.register', {}, { transport: 'http' });
    } catch (error) {
      if (!(error instanceof MidshipError) || error.kind !== 'result') throw error;
      if (error.resultCode === ResultCode.CONFLICT && this.identity.deviceId) {
        // The id registered before and this store lost its credential: become a new device.
        await this.identity.forget();
        answer = await this.call('midship.device.register', {}, { transport: 'http' });
      } else if (error.resultCode === ResultCode.ACCESS_DENIED) {
        // The workspace wants platform attestation, which a web page cannot give.
        this.registrationRefused = true;
        safeReport(this.report, error);
        return;
      } else {
        throw error;
      }
    }
    const record = answer && typeof answer === 'object' ? (answer as Record<string, unknown>) : {};
    await this.identity.setCredential(record.device_id as string, record.device_secret as string);
  }

  /**
   * Learns the server's clock after a 7003. The refusal's `Date` header (whole seconds) comes
   * first: `midship.time` is itself a signed call, refused too while the clock is outside the
   * window. Then `midship.time` refines it to the millisecond.
   */
  async syncClock(refusal?: RpcAnswer, sentAt?: number, receivedAt?: number, refine = true): Promise<void> {
    const dated = refusal?.date ? Date.parse(refusal.date) : NaN;
    if (Number.isFinite(dated) && sentAt !== undefined && receivedAt !== undefined) {
      this.clock.learn(dated + 500, sentAt, receivedAt);
    }
    if (!refine) return;
    try {
      const before = this.clock.deviceNow();
      const time = await this.call<{ now_ms?: unknown }>('midship.time', {}, { transport: 'http' });
      const after = this.clock.deviceNow();
      if (time && typeof time.now_ms === 'number') this.clock.learn(time.now_ms, before, after);
    } catch (error) {
      if (!Number.isFinite(dated)) safeReport(this.report, error as MidshipError);
    }
  }

  /**
   * The fields proving a hello: signed like a call with method `CONNECT`, operation type
   * `midship.connect` and an empty body, with the device credential once registered.
   */
  async helloProof(): Promise<HelloProof> {
    await this.identity.load();
    await this.ensureRegistered();
    const deviceId = this.identity.deviceId;
    const byDevice = Boolean(this.identity.deviceSecret && deviceId);
    const { ts, nonce, signature, signType } = await this.signNow('CONNECT', 'midship.connect', '', byDevice);
    const proof: HelloProof = { ts, nonce, sign: signature, sign_type: signType };
    if (deviceId) proof.device_id = deviceId;
    return proof;
  }

  /** Signs now, with a fresh nonce: with the device's credential when `byDevice`, else the app secret. */
  private async signNow(method: string, operationType: string, body: string, byDevice: boolean) {
    const signType: SignType = byDevice ? deviceSignType(this.options.signType) : this.options.signType;
    const ts = String(this.clock.now());
    const nonce = randomHex();
    const signature = await sign(signType, byDevice ? (this.identity.deviceSecret as string) : this.options.appSecret, {
      method,
      operationType,
      appId: this.options.appId,
      workspaceId: this.options.workspaceId,
      deviceId: this.identity.deviceId,
      userId: this.user,
      ts,
      nonce,
      body,
    });
    return { ts, nonce, signature, signType };
  }

  private signsWithDevice(operationType: string): boolean {
    return Boolean(this.identity.deviceSecret && this.identity.deviceId && !APP_SIGNED.has(operationType));
  }

  private transport(operationType: string, options: CallOptions): RpcTransport {
    const wanted = options.transport ?? 'auto';
    if (wanted === 'http' || HTTP_ONLY.has(operationType)) return this.http;
    if (this.connection) return this.connection;
    if (wanted === 'connection') {
      return async () => {
        throw new MidshipError({ kind: 'closed', memo: 'the long connection is not open', operationType });
      };
    }
    return this.http;
  }

  private async headers(operationType: string, body: string): Promise<Record<string, string>> {
    const deviceId = this.identity.deviceId;
    const { ts, nonce, signature, signType } = await this.signNow('POST', operationType, body, this.signsWithDevice(operationType));
    const headers: Record<string, string> = {
      'Operation-Type': operationType,
      AppId: this.options.appId,
      WorkspaceId: this.options.workspaceId,
      Ts: ts,
      Nonce: nonce,
      Sign: signature,
      'Sign-Type': signType,
      Platform: this.options.platform,
    };
    if (deviceId) headers['Device-Id'] = deviceId;
    if (this.user) headers['User-Id'] = this.user;
    if (this.options.appVersion) headers['App-Version'] = this.options.appVersion;
    return headers;
  }
}
