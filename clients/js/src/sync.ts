/**
 * Sync data over the long connection (docs/sync.md, docs/protocol.md *Sync data*): handlers per
 * bizType, and delivery to them exactly once although the wire delivers at least once.
 *
 * The rule, as docs/protocol.md states it: a persistent message whose `seq` is not above the
 * position stored for its bizType was handled before, so it is skipped but acknowledged again;
 * otherwise the handler runs, the new position is stored once it returned, and only then is the
 * message acknowledged. A crash between storing and acknowledging makes the server send the
 * message again, and the stored position recognises it. Messages of one bizType are handed over
 * one at a time, in order.
 */

import { LongConnection, type ConnectionState, type Session } from './connection.js';
import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import type { SyncMessage } from './frames.js';
import type { ResolvedOptions } from './options.js';
import { PositionStore } from './positions.js';
import type { RpcClient } from './rpc.js';

export type { SyncMessage } from './frames.js';
export type { ConnectionState } from './connection.js';

/** Handles one message; the message counts as processed when this returns (or its promise resolves). */
export type SyncHandler = (message: SyncMessage) => void | Promise<void>;

/** How the dispatcher talks to the connection: acknowledgements and restarts. */
export interface DispatchTarget {
  /** Closes the connection and reconnects after the backoff, so unacknowledged messages come again. */
  restart(reason: string): void;
}

/** Hands sync messages to handlers exactly once; independent of the socket, so it can be tested alone. */
export class SyncDispatcher {
  private readonly handlers = new Map<string, SyncHandler>();
  /**
   * Per bizType, the tail of its chain of messages. Kept across sessions: a message sent again
   * after a reconnect must wait for the handler still running on it from the closed session, and
   * then finds its position stored.
   */
  private readonly queues = new Map<string, Promise<void>>();
  /** bizTypes whose handler failed on the current session: their later messages wait for the next one. */
  private readonly stalled = new Set<string>();
  /** bizTypes that got messages with no handler on the current session. */
  private readonly unhandled = new Set<string>();
  private sessionId = -1;

  constructor(
    private readonly positions: PositionStore,
    private readonly deviceId: () => string | undefined,
    private readonly target: DispatchTarget,
    private readonly report: ErrorReporter | undefined,
  ) {}

  /** Registers the handler of `bizType` (replacing one before); answers a function that removes it. */
  register(bizType: string, handler: SyncHandler): () => void {
    if (typeof bizType !== 'string' || bizType === '' || typeof handler !== 'function') {
      throw new MidshipError({ kind: 'invalid', memo: 'register needs a bizType and a handler function' });
    }
    this.handlers.set(bizType, handler);
    if (this.unhandled.delete(bizType)) {
      // Messages of this bizType came before its handler and were left unacknowledged: get them again.
      this.target.restart(`handler registered for ${bizType}`);
    }
    return () => {
      if (this.handlers.get(bizType) === handler) this.handlers.delete(bizType);
    };
  }

  hasHandler(bizType: string): boolean {
    return this.handlers.has(bizType);
  }

  /** Takes one message of `session`; handling happens in order per bizType, after the welcome. */
  accept(message: SyncMessage, session: Session): void {
    if (session.id !== this.sessionId) this.newSession(session.id);
    const previous = this.queues.get(message.bizType) ?? Promise.resolve();
    const next = previous.then(() => session.ready).then(() => this.process(message, session)).catch((error) => {
      safeReport(this.report, new MidshipError({ kind: 'handler', memo: `sync message of ${message.bizType} failed`, cause: error }));
    });
    this.queues.set(message.bizType, next);
  }

  /** Forgets what a closed session stalled; its unacknowledged messages come again. */
  sessionClosed(session: Session): void {
    if (session.id === this.sessionId) this.newSession(-1);
  }

  private newSession(id: number): void {
    this.sessionId = id;
    this.stalled.clear();
    this.unhandled.clear();
  }

  private async process(message: SyncMessage, session: Session): Promise<void> {
    if (session.closed || this.stalled.has(message.bizType)) return;
    const handler = this.handlers.get(message.bizType);
    if (!message.persistent) {
      // Never repeated, never acknowledged: hand it over if someone listens.
      if (handler) await this.run(handler, message, session);
      return;
    }
    if (!handler) {
      // Left unacknowledged, so it comes again once a handler is registered.
      this.unhandled.add(message.bizType);
      return;
    }
    const deviceId = this.deviceId();
    if (!deviceId) return; // no welcome yet: cannot happen, a session is ready only after it
    const stored = await this.positions.get(deviceId, session.userId, message.bizType);
    if (message.seq <= stored) {
      session.send({ type: 'ack', biz_type: message.bizType, seq: message.seq });
      return;
    }
    if (!(await this.run(handler, message, session))) return;
    // Stored even when the connection closed meanwhile: the app did process the message.
    await this.positions.set(deviceId, session.userId, message.bizType, message.seq);
    session.send({ type: 'ack', biz_type: message.bizType, seq: message.seq });
  }

  /** Runs a handler; a failure stalls the bizType and reconnects, so the message comes again. */
  private async run(handler: SyncHandler, message: SyncMessage, session: Session): Promise<boolean> {
    try {
      await handler(message);
      return true;
    } catch (error) {
      safeReport(this.report, new MidshipError({ kind: 'handler', memo: `the handler of ${message.bizType} threw on seq ${message.seq}`, cause: error }));
      if (message.persistent && !session.closed) {
        this.stalled.add(message.bizType);
        this.target.restart(`handler of ${message.bizType} failed`);
      }
      return false;
    }
  }
}

/** The long connection with its handlers: what the app uses for sync. */
export class SyncClient {
  readonly connection: LongConnection;
  private readonly dispatcher: SyncDispatcher;
  private readonly positions: PositionStore;

  constructor(options: ResolvedOptions, rpc: RpcClient, positions: PositionStore, report: ErrorReporter | undefined) {
    this.positions = positions;
    this.connection = new LongConnection(
      options,
      rpc,
      {
        positions: (deviceId, userId) => (deviceId ? this.positions.read(deviceId, userId) : Promise.resolve({})),
        onSync: (message, session) => this.dispatcher.accept(message, session),
        onClosed: (session) => this.dispatcher.sessionClosed(session),
      },
      report,
    );
    this.dispatcher = new SyncDispatcher(positions, () => rpc.identity.deviceId, this.connection, report);
  }

  /** Registers the handler of a bizType. Register before `start`, or messages wait for a reconnect. */
  register(bizType: string, handler: SyncHandler): () => void {
    return this.dispatcher.register(bizType, handler);
  }

  /** Connects and stays connected (reconnecting with backoff) until `stop`. */
  start(): void {
    this.connection.start();
  }

  stop(): void {
    this.connection.stop();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.connection.onStateChange(listener);
  }

  /** Global bizTypes deliver only in the foreground; tell the server when that changes. */
  setForeground(foreground: boolean): void {
    this.connection.setForeground(foreground);
  }

  /** Answers once the connection is welcomed (or rejects after `timeoutMs`). */
  waitConnected(timeoutMs = 15_000): Promise<void> {
    if (this.connection.state === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new MidshipError({ kind: 'timeout', memo: `not connected within ${timeoutMs} ms (state ${this.connection.state})` }));
      }, timeoutMs);
      const off = this.connection.onStateChange((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          off();
          resolve();
        } else if (state === 'failed' || state === 'replaced' || state === 'stopped') {
          clearTimeout(timer);
          off();
          reject(new MidshipError({ kind: 'closed', memo: `the connection ${state}` }));
        }
      });
    });
  }
}
