/**
 * The one error type the client hands to the app, whether the gateway refused a call or the
 * client itself failed (no network, a garbled answer, a closed connection).
 *
 * Messages are built only from the gateway's `Memo` (ASCII, written for developers, never holding
 * secrets) and from the client's own fixed texts: no secret, signature or request body ever goes
 * into one, so an app may log them as they are.
 */

/** What kind of failure a {@link MidshipError} is. */
export type MidshipErrorKind =
  /** The gateway answered with a `Result-Status` other than 1000 (see `resultCode`). */
  | 'result'
  /** The request never got an answer: offline, DNS, CORS, the server went away. */
  | 'network'
  /** An answer came but does not follow docs/protocol.md (no `Result-Status`, bad JSON, ...). */
  | 'protocol'
  /** No answer within the client's deadline. */
  | 'timeout'
  /** The long connection closed before the answer came, or the client was closed. */
  | 'closed'
  /** The long connection was closed by the server for a reason the client cannot fix alone. */
  | 'connection'
  /** The key-value store failed or held something unreadable. */
  | 'storage'
  /** The app's own handler or listener threw; the client caught it. */
  | 'handler'
  /** The app asked for something this client does not do (an unknown `Sign-Type`, ...). */
  | 'unsupported'
  /** The app passed an argument the client cannot use. */
  | 'invalid';

export interface MidshipErrorFields {
  kind: MidshipErrorKind;
  /** The gateway's result code; 0 when the gateway gave none. */
  resultCode?: number;
  memo?: string;
  tips?: string;
  traceId?: string;
  /** The operation type of the call, when the error belongs to one. */
  operationType?: string;
  /** The WebSocket close code, for `connection` errors. */
  closeCode?: number;
  cause?: unknown;
}

export class MidshipError extends Error {
  readonly kind: MidshipErrorKind;
  /** The gateway's `Result-Status` (docs/protocol.md, *Result codes*); 0 for client-side failures. */
  readonly resultCode: number;
  /** The gateway's `Memo` (for developers), or the client's description of its own failure. */
  readonly memo: string;
  /** The gateway's `Tips`: a sentence an app may show its user; empty when none. */
  readonly tips: string;
  /** The call's `Trace-Id`, to find it in the server's digest log; empty when none. */
  readonly traceId: string;
  readonly operationType: string;
  readonly closeCode: number;

  constructor(fields: MidshipErrorFields) {
    const code = fields.resultCode ?? 0;
    const memo = fields.memo ?? '';
    const where = fields.operationType ? `${fields.operationType}: ` : '';
    const what = code !== 0 ? `${code} ${memo}` : memo;
    const trace = fields.traceId ? ` (trace ${fields.traceId})` : '';
    super(`${where}${what}${trace}`.trim() || fields.kind);
    this.name = 'MidshipError';
    this.kind = fields.kind;
    this.resultCode = code;
    this.memo = memo;
    this.tips = fields.tips ?? '';
    this.traceId = fields.traceId ?? '';
    this.operationType = fields.operationType ?? '';
    this.closeCode = fields.closeCode ?? 0;
    if (fields.cause !== undefined) {
      // Kept off the constructor's options so ES2020 targets need no `ErrorOptions`.
      Object.defineProperty(this, 'cause', { value: fields.cause, enumerable: false });
    }
  }
}

/** Wraps anything caught into a {@link MidshipError} of `kind`, keeping a MidshipError as it is. */
export function asMidshipError(error: unknown, kind: MidshipErrorKind, memo: string): MidshipError {
  if (error instanceof MidshipError) return error;
  const detail = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return new MidshipError({ kind, memo: detail ? `${memo}: ${detail}` : memo, cause: error });
}

/** Result codes the client reacts to by itself (docs/protocol.md). */
export const ResultCode = {
  SUCCESS: 1000,
  ACCESS_DENIED: 1001,
  RATE_LIMITED: 1002,
  MALFORMED: 3002,
  CONFLICT: 3005,
  BACKEND_UNREACHABLE: 4003,
  NO_KEY: 7000,
  SIGNING_FIELDS: 7001,
  BAD_SIGNATURE: 7002,
  TIMESTAMP_WINDOW: 7003,
  REPLAYED_NONCE: 7015,
  TOKEN_INVALID: 7016,
  DEVICE_SIGNATURE_REQUIRED: 7017,
  DEVICE_REVOKED: 7018,
} as const;

/** Receives failures that have no caller to reject: background work, handlers, listeners. */
export type ErrorReporter = (error: MidshipError) => void;

/**
 * Calls `report` without ever letting it throw back into the client (and from there into a
 * WebSocket or timer callback of the host page).
 */
export function safeReport(report: ErrorReporter | undefined, error: MidshipError): void {
  if (!report) return;
  try {
    report(error);
  } catch {
    // The app's error callback failed; there is nowhere left to report that.
  }
}
