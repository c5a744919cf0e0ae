//! WebSocket close codes the server uses (docs/protocol.md lists them for client authors). The
//! close reason is a short English text for logs; clients act on the code.

/// The server is shutting down or restarting: reconnect (to another node) with backoff.
pub const GOING_AWAY: u16 = 1001;
/// A message over the connection's size limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The node holds as many connections as it may: reconnect later, with backoff.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// A frame that does not decode, or a text frame on `midship.v1.protobuf` (and the reverse).
pub const MALFORMED_FRAME: u16 = 4000;
/// The hello's signature or token was refused; the reason starts with the gateway result code
/// (`7002 signature does not match`). Do not retry without fixing the credentials.
pub const AUTHENTICATION_FAILED: u16 = 4001;
/// The first frame was not a hello, or no hello came in time.
pub const HELLO_EXPECTED: u16 = 4002;
/// A frame that decodes but breaks the protocol: a second hello, an ack of a bizType the
/// workspace does not have or of a sequence never sent.
pub const PROTOCOL_VIOLATION: u16 = 4005;
/// The device did not read fast enough: its queue filled up or a write timed out. Persistent
/// data is kept and comes again after reconnecting.
pub const TOO_SLOW: u16 = 4008;
/// Nothing arrived within the idle timeout (send pings every `heartbeat_seconds`).
pub const IDLE_TIMEOUT: u16 = 4009;
/// The same device opened a newer connection; this one is closed. Do not reconnect it.
pub const REPLACED: u16 = 4010;
/// The server failed; reconnect with backoff.
pub const SERVER_ERROR: u16 = 1011;

/// Every code with its name, for documents and logs.
pub const ALL: [(u16, &str); 11] = [
    (GOING_AWAY, "going away"),
    (MESSAGE_TOO_BIG, "message too big"),
    (SERVER_ERROR, "server error"),
    (TRY_AGAIN_LATER, "try again later"),
    (MALFORMED_FRAME, "malformed frame"),
    (AUTHENTICATION_FAILED, "authentication failed"),
    (HELLO_EXPECTED, "hello expected"),
    (PROTOCOL_VIOLATION, "protocol violation"),
    (TOO_SLOW, "too slow"),
    (IDLE_TIMEOUT, "idle timeout"),
    (REPLACED, "replaced"),
];
