/**
 * Push (docs/push.md) for a page or mini program: Midship's own channel is the only one a web
 * runtime has, and it arrives over the long connection as the device's stream of the built-in
 * bizType `midship.push`. Each message is handed to the app's handlers once (the sync layer
 * guarantees it) and then reported `delivered`; the app reports `opened` or `dismissed` itself.
 */

import { MidshipError, safeReport, type ErrorReporter } from './errors.js';
import type { RpcClient } from './rpc.js';
import type { SyncClient, SyncMessage } from './sync.js';

/** The built-in bizType of push's own channel. */
export const PUSH_BIZ_TYPE = 'midship.push';

export type PushEvent = 'delivered' | 'opened' | 'dismissed';

export interface PushNotification {
  taskId: string;
  msgId: string;
  title: string;
  content: string;
  uri?: string;
  ext: Record<string, string>;
  style: string;
  imageUrl?: string;
  silent: boolean;
  classification?: string;
  /** Milliseconds since the epoch after which the message is stale. */
  expiresAt?: number;
  /** The payload as the server sent it, for fields newer than this client. */
  raw: Record<string, unknown>;
}

export type NotificationHandler = (notification: PushNotification) => void | Promise<void>;
export type RevokeHandler = (taskId: string) => void | Promise<void>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function readNotification(payload: Record<string, unknown>): PushNotification | null {
  const taskId = text(payload.task_id);
  if (!taskId) return null;
  const ext: Record<string, string> = {};
  if (payload.ext && typeof payload.ext === 'object') {
    for (const [key, value] of Object.entries(payload.ext as Record<string, unknown>)) {
      if (typeof value === 'string') ext[key] = value;
    }
  }
  return {
    taskId,
    msgId: text(payload.msg_id) ?? '',
    title: text(payload.title) ?? '',
    content: text(payload.content) ?? '',
    uri: text(payload.uri),
    ext,
    style: text(payload.style) ?? 'plain',
    imageUrl: text(payload.image_url),
    silent: payload.silent === true,
    classification: text(payload.classification),
    expiresAt: typeof payload.expires_at === 'number' ? payload.expires_at : undefined,
    raw: payload,
  };
}

export class PushClient {
  private readonly notificationHandlers = new Set<NotificationHandler>();
  private readonly revokeHandlers = new Set<RevokeHandler>();
  private listening = false;

  constructor(
    private readonly rpc: RpcClient,
    private readonly sync: SyncClient,
    private readonly report: ErrorReporter | undefined,
  ) {}

  /** Registers the device for push; with no channel (the only one a page has), the own channel. */
  async register(channel?: string, token?: string): Promise<void> {
    const body: Record<string, string> = {};
    if (channel) body.channel = channel;
    if (token) body.token = token;
    await this.rpc.call('midship.push.report', body);
  }

  /** Binds the device to a user (default: the client's user id), so pushes to the user reach it. */
  async bind(userId?: string): Promise<void> {
    const user = userId ?? this.rpc.userId;
    await this.rpc.call('midship.push.bind', user ? { user_id: user } : {});
  }

  async unbind(): Promise<void> {
    await this.rpc.call('midship.push.unbind', {});
  }

  /** Reports what became of a message; answers whether the server counted it (the first of each kind counts). */
  async ack(taskId: string, event: PushEvent): Promise<boolean> {
    const answer = await this.rpc.call<{ recorded?: unknown }>('midship.push.ack', { task_id: taskId, event });
    return Boolean(answer && answer.recorded === true);
  }

  /** The user opened the notification. */
  opened(taskId: string): Promise<boolean> {
    return this.ack(taskId, 'opened');
  }

  dismissed(taskId: string): Promise<boolean> {
    return this.ack(taskId, 'dismissed');
  }

  /**
   * Calls `handler` with each message of the own channel, once; then reports it `delivered`.
   * A handler that throws gets the message again (after a reconnect), as any sync handler.
   */
  onNotification(handler: NotificationHandler): () => void {
    this.notificationHandlers.add(handler);
    this.listen();
    return () => this.notificationHandlers.delete(handler);
  }

  /** Calls `handler` when the server revokes a message the device already had. */
  onRevoke(handler: RevokeHandler): () => void {
    this.revokeHandlers.add(handler);
    this.listen();
    return () => this.revokeHandlers.delete(handler);
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.sync.register(PUSH_BIZ_TYPE, (message) => this.handle(message));
  }

  private async handle(message: SyncMessage): Promise<void> {
    let payload: unknown;
    try {
      payload = JSON.parse(message.payload);
    } catch {
      payload = undefined;
    }
    if (!payload || typeof payload !== 'object') {
      // Garbage cannot get better by coming again: report it and let the stream move on.
      safeReport(this.report, new MidshipError({ kind: 'protocol', memo: `push message ${message.msgId} is not a JSON object` }));
      return;
    }
    const fields = payload as Record<string, unknown>;
    if (fields.type === 'revoke') {
      const taskId = text(fields.task_id);
      if (taskId) for (const handler of [...this.revokeHandlers]) await handler(taskId);
      return;
    }
    if (fields.type !== 'message') return; // a kind newer than this client
    const notification = readNotification(fields);
    if (!notification) {
      safeReport(this.report, new MidshipError({ kind: 'protocol', memo: `push message ${message.msgId} has no task_id` }));
      return;
    }
    for (const handler of [...this.notificationHandlers]) await handler(notification);
    this.ack(notification.taskId, 'delivered').catch((error) => safeReport(this.report, error as MidshipError));
  }
}
