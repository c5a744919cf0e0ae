/**
 * The long connection (`GET /ws`, subprotocol `midship.v1.json`; docs/protocol.md): the hello,
 * the welcome, pings every `heartbeat_seconds`, RPC frames, and reconnecting with the documented
 * backoff (0.5 s × 2^failures, at most 60 s, times a random 0.5–1) after the close codes that
 * call for it. Sync frames go to the owner (sync.ts), which decides what to acknowledge.
 *
 * Every WebSocket callback is wrapped: garbage from the server, a dropped connection or a failing
 * owner ends in `onError`, never in an exception thrown into the page.
 */

import { CallsInFlight } from './calls.js';
import { MidshipError, ResultCode, safeReport, type ErrorReporter } from './errors.js';
import { buildHello } from './hello.js';
import { parseFrame, readRpcResult, readSync, readWelcome, type SyncMessage, type Welcome } from './frames.js';
import type { RpcTransport } from './http.js';
import type { ResolvedOptions, WebSocketConstructor } from './options.js';
import type { RpcClient } from './rpc.js';

export type ConnectionState = 'stopped' | 'connecting' | 'connected' | 'waiting' | 'replaced' | 'failed';

const SUBPROTOCOL = 'midship.v1.json';
const MAX_BACKOFF_MS = 60_000;

/** One WebSocket from open to close; callbacks of an older one are ignored. */
export interface Session {
  readonly id: number;
  welcome: Welcome | undefined;
  /** The connection's user: the welcome's, else the hello's. */
  userId: string | undefined;
  closed: boolean;
  /** Resolves once the welcome was handled (its device id kept). */
  ready: Promise<void>;
  /** Sends a frame if this session is still open; answers whether it was sent. */
  send(frame: Record<string, unknown>): boolean;
}

/** What the owner of the connection supplies and hears. */
export interface ConnectionHooks {
  /** Positions per bizType for the hello, read after the device id is known. */
  positions(deviceId: string | undefined, userId: string | undefined): Promise<Record<string, number>>;
  onSync(message: SyncMessage, session: Session): void;
  onClosed(session: Session): void;
}

interface LiveSession extends Session {
  socket: WebSocket | undefined;
  markReady: () => void;
}

export class LongConnection {
  private current: LiveSession | undefined;
  private sessions = 0;
  private stopped = true;
  private failures = 0;
  private foreground = true;
  private connectionState: ConnectionState = 'stopped';
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private lastReceived = 0;
  private pingId = 0;
  private readonly calls = new CallsInFlight();
  /** Refusals (4001) the client fixes once by itself before giving up: clock, token, credential. */
  private readonly fixesTried = new Set<number>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly rpc: RpcClient,
    private readonly hooks: ConnectionHooks,
    private readonly report: ErrorReporter | undefined,
  ) {}

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** The welcome of the open connection, if it is open. */
  get welcome(): Welcome | undefined {
    return this.current && !this.current.closed ? this.current.welcome : undefined;
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Connects, and keeps reconnecting until `stop`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.fixesTried.clear();
    this.failures = 0;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.endSession(1000, 'client stopped');
    this.setState('stopped');
  }

  /**
   * Closes the current connection and opens a new one after the backoff, so unacknowledged
   * messages come again (used when a handler failed, or one was registered late).
   */
  restart(reason: string): void {
    if (this.stopped) return;
    if (this.current && !this.current.closed) {
      this.endSession(1000, reason);
      this.scheduleReconnect();
    } else if (this.connectionState === 'connecting') {
      // The hello is being prepared with what is now stale (a user who just signed out): start over.
      void this.connect();
    }
  }

  /** Tells the server the app moved to the foreground or background (global bizTypes wait for it). */
  setForeground(foreground: boolean): void {
    if (this.foreground === foreground) return;
    this.foreground = foreground;
    this.current?.send({ type: 'state', foreground });
  }

  /** An RPC transport over `rpc` frames; the caller signs the headers exactly as for HTTP. */
  readonly transport: RpcTransport = (headers, body, timeoutMs) =>
    this.calls.start(headers['Operation-Type'] ?? '', timeoutMs, (id) =>
      Boolean(this.current?.welcome) && (this.current as LiveSession).send({ type: 'rpc', id, headers, body }),
    );

  private async connect(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    const id = ++this.sessions;
    this.setState('connecting');
    let hello: Record<string, unknown>;
    try {
      hello = await buildHello(this.options, this.rpc, this.foreground, this.hooks.positions);
    } catch (error) {
      if (this.stopped || id !== this.sessions) return;
      const failure = error instanceof MidshipError ? error : new MidshipError({ kind: 'network', memo: 'cannot prepare the hello', cause: error });
      // Refused credentials (7xxx) or a refused registration stay refused: retrying cannot help.
      if (failure.kind === 'result' && (failure.resultCode >= 7000 || failure.resultCode === ResultCode.ACCESS_DENIED)) {
        this.fail(failure);
        return;
      }
      safeReport(this.report, failure);
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || id !== this.sessions) return;
    const Socket = (this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket) as WebSocketConstructor | undefined;
    if (typeof Socket !== 'function') {
      this.fail(new MidshipError({ kind: 'unsupported', memo: 'this runtime has no WebSocket: pass options.WebSocket (Node 20 needs --experimental-websocket)' }));
      return;
    }
    let markReady = () => {};
    const session: LiveSession = {
      id,
      welcome: undefined,
      userId: typeof hello.user_id === 'string' ? hello.user_id : undefined,
      closed: false,
      socket: undefined,
      ready: new Promise<void>((resolve) => (markReady = resolve)),
      markReady: () => markReady(),
      send: (frame) => {
        const socket = session.socket;
        if (session.closed || !socket || socket.readyState !== 1) return false;
        try {
          socket.send(JSON.stringify(frame));
          return true;
        } catch {
          return false;
        }
      },
    };
    this.current = session;
    try {
      session.socket = new Socket(`${this.options.baseUrl.replace(/^http/i, 'ws')}/ws`, [SUBPROTOCOL]);
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'network', memo: 'cannot open the long connection', cause: error }));
      session.closed = true;
      this.scheduleReconnect();
      return;
    }
    const socket = session.socket;
    const live = () => this.current === session && !session.closed;
    socket.onopen = () => {
      if (!live()) return;
      if (socket.protocol && socket.protocol !== SUBPROTOCOL) {
        this.fail(new MidshipError({ kind: 'protocol', memo: `the server chose the subprotocol ${socket.protocol}` }));
        return;
      }
      this.lastReceived = Date.now();
      session.send(hello);
    };
    socket.onmessage = (event: MessageEvent) => {
      if (!live()) return;
      try {
        this.receive(session, event.data);
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'protocol', memo: 'a frame could not be handled', cause: error }));
      }
    };
    socket.onerror = () => undefined; // a close event follows, and is reported
    socket.onclose = (event: CloseEvent) => {
      if (!live()) return;
      void this.closed(session, event.code, event.reason ?? '');
    };
  }

  private receive(session: LiveSession, data: unknown): void {
    this.lastReceived = Date.now();
    const frame = parseFrame(data);
    if (!frame) {
      safeReport(this.report, new MidshipError({ kind: 'protocol', memo: 'the server sent a frame that is not a JSON object with a type' }));
      return;
    }
    switch (frame.type) {
      case 'welcome': {
        const welcome = readWelcome(frame);
        if (!welcome) {
          this.fail(new MidshipError({ kind: 'protocol', memo: 'the welcome is malformed' }));
          return;
        }
        this.welcomed(session, welcome);
        return;
      }
      case 'pong':
        return;
      case 'sync': {
        const message = readSync(frame);
        if (!message) {
          safeReport(this.report, new MidshipError({ kind: 'protocol', memo: 'a sync frame is malformed; it was ignored' }));
          return;
        }
        this.hooks.onSync(message, session);
        return;
      }
      case 'rpc_result': {
        const result = readRpcResult(frame);
        if (!result || !this.calls.answer(result.id, result.answer)) {
          safeReport(this.report, new MidshipError({ kind: 'protocol', memo: 'an rpc_result is malformed or answers no call' }));
        }
        return;
      }
      default:
        // Newer servers may send more kinds of frames; an old client leaves them alone.
        return;
    }
  }

  private welcomed(session: LiveSession, welcome: Welcome): void {
    session.welcome = welcome;
    if (welcome.user_id) session.userId = welcome.user_id;
    this.failures = 0;
    this.fixesTried.clear();
    if (welcome.server_time > 0) this.rpc.clock.learn(welcome.server_time, this.lastReceived, this.lastReceived);
    const heartbeatMs = welcome.heartbeat_seconds * 1000;
    const silenceMs = Math.max(welcome.idle_timeout_seconds * 1000, heartbeatMs * 2);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (session.closed) return;
      if (Date.now() - this.lastReceived > silenceMs) {
        // Nothing came back, not even pongs: the connection is dead even if no close event came.
        void this.closed(session, 1006, 'no answer from the server');
        return;
      }
      session.send({ type: 'ping', id: ++this.pingId });
    }, heartbeatMs);
    this.rpc.identity
      .adoptIssued(welcome.device_id)
      .catch(() => undefined)
      .finally(() => {
        session.markReady();
        if (this.current === session && !session.closed) {
          this.rpc.useConnection(this.transport);
          this.setState('connected');
        }
      });
  }

  /** Ends the current session: detaches it, closes its socket, fails its pending calls. */
  private endSession(code: number, reason: string): LiveSession | undefined {
    const session = this.current;
    if (!session || session.closed) return undefined;
    session.closed = true;
    session.markReady();
    clearInterval(this.heartbeatTimer);
    this.rpc.useConnection(undefined);
    try {
      session.socket?.close(code, reason);
    } catch {
      // Already closing.
    }
    this.calls.failAll();
    try {
      this.hooks.onClosed(session);
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'handler', memo: 'closing the session failed', cause: error }));
    }
    return session;
  }

  /** Reacts to a close as the table of close codes in docs/protocol.md says. */
  private async closed(session: LiveSession, code: number, reason: string): Promise<void> {
    if (this.current !== session || session.closed) return;
    this.endSession(1000, reason);
    if (this.stopped) return;
    const resultCode = Number(/^(\d{4})\b/.exec(reason)?.[1] ?? 0);
    const error = (memo: string) =>
      new MidshipError({ kind: 'connection', closeCode: code, resultCode, memo: reason ? `${memo}: ${reason}` : memo });
    switch (code) {
      case 4010:
        // A newer connection of this device (another tab, say) took over: do not fight it.
        this.stopped = true;
        this.setState('replaced');
        safeReport(this.report, error('replaced by a newer connection of this device'));
        return;
      case 4001:
        if (await this.fixRefusal(resultCode)) {
          this.scheduleReconnect();
          return;
        }
        this.fail(error('the server refused the hello'));
        return;
      case 4000:
      case 4005:
      case 1009:
        this.fail(error(`closed with ${code}`));
        return;
      default:
        this.scheduleReconnect();
    }
  }

  /** Fixes a refused hello the client can fix by itself, once per kind until the next welcome. */
  private async fixRefusal(resultCode: number): Promise<boolean> {
    if (this.fixesTried.has(resultCode)) return false;
    this.fixesTried.add(resultCode);
    try {
      switch (resultCode) {
        case ResultCode.TIMESTAMP_WINDOW:
          await this.rpc.syncClock();
          return true;
        case ResultCode.TOKEN_INVALID:
          return (this.options.syncAuth ?? 'signature') !== 'signature';
        case ResultCode.DEVICE_SIGNATURE_REQUIRED:
          if (!this.options.register) return false;
          await this.rpc.identity.reload();
          return true;
        case ResultCode.DEVICE_REVOKED:
          if (!this.options.register) return false;
          await this.rpc.identity.forget();
          return true;
        default:
          return false;
      }
    } catch (error) {
      safeReport(this.report, error as MidshipError);
      return false;
    }
  }

  private fail(error: MidshipError): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.endSession(1000, 'client gave up');
    this.setState('failed');
    safeReport(this.report, error);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures = Math.min(this.failures + 1, 16);
    this.setState('waiting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Skips the backoff wait (the browser says it is online again). */
  reconnectNow(): void {
    if (this.stopped || this.connectionState !== 'waiting') return;
    void this.connect();
  }

  private setState(state: ConnectionState): void {
    if (this.connectionState === state) return;
    this.connectionState = state;
    for (const listener of this.stateListeners) {
      try {
        listener(state);
      } catch (error) {
        safeReport(this.report, new MidshipError({ kind: 'handler', memo: 'a connection state listener threw', cause: error }));
      }
    }
  }
}
