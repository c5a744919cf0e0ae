/**
 * RPCs in flight on the long connection: each `rpc` frame gets an id, and the `rpc_result` with
 * the same id answers it, in whatever order answers come (docs/protocol.md, *RPCs*). A call
 * without an answer fails at its deadline, and every call fails when the connection closes, so
 * no caller waits forever.
 */

import { MidshipError } from './errors.js';
import type { RpcAnswer } from './http.js';

interface Pending {
  resolve: (answer: RpcAnswer) => void;
  reject: (error: MidshipError) => void;
  timer: ReturnType<typeof setTimeout>;
  operationType: string;
}

export class CallsInFlight {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /**
   * Sends a call through `send` (which answers whether the frame went out) and answers its result.
   */
  start(operationType: string, timeoutMs: number, send: (id: number) => boolean): Promise<RpcAnswer> {
    return new Promise<RpcAnswer>((resolve, reject) => {
      const id = this.nextId++;
      if (!send(id)) {
        reject(new MidshipError({ kind: 'closed', memo: 'the long connection is not open', operationType }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MidshipError({ kind: 'timeout', memo: `no rpc_result within ${timeoutMs} ms`, operationType }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, operationType });
    });
  }

  /** Hands an answer to its call; `false` when no call waits for this id. */
  answer(id: number, answer: RpcAnswer): boolean {
    const pending = this.pending.get(id);
    if (!pending) return false;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(answer);
    return true;
  }

  /** Fails every call in flight: the connection closed before their answers came. */
  failAll(): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new MidshipError({ kind: 'closed', memo: 'the long connection closed before the answer came', operationType: pending.operationType }));
      this.pending.delete(id);
    }
  }
}
