//! The `/mgw` headers (docs/protocol.md, "Request" and "Response"), in their documented spelling.
//! HTTP header names and the header maps of RPC frames are matched ignoring case, so these are
//! both what a client sends and what the server looks up.

pub const OPERATION_TYPE: &str = "Operation-Type";
pub const APP_ID: &str = "AppId";
pub const WORKSPACE_ID: &str = "WorkspaceId";
pub const TS: &str = "Ts";
pub const SIGN: &str = "Sign";
pub const SIGN_TYPE: &str = "Sign-Type";
pub const NONCE: &str = "Nonce";
/// Sent by the client, and answered by the gateway when it issued a utdid.
pub const DEVICE_ID: &str = "Device-Id";
pub const USER_ID: &str = "User-Id";
pub const PLATFORM: &str = "Platform";
pub const APP_VERSION: &str = "App-Version";
/// Sent by a client that sealed its body, and answered when the gateway sealed the answer.
pub const ENCRYPT_SUITE: &str = "Encrypt-Suite";
pub const ENCRYPT_KEY: &str = "Encrypt-Key";

pub const RESULT_STATUS: &str = "Result-Status";
pub const MEMO: &str = "Memo";
pub const TIPS: &str = "Tips";
pub const TRACE_ID: &str = "Trace-Id";

/// Every header a client may send (what a browser's CORS preflight must allow).
pub const REQUEST: [&str; 13] = [
    OPERATION_TYPE,
    APP_ID,
    WORKSPACE_ID,
    TS,
    SIGN,
    SIGN_TYPE,
    NONCE,
    DEVICE_ID,
    USER_ID,
    PLATFORM,
    APP_VERSION,
    ENCRYPT_SUITE,
    ENCRYPT_KEY,
];

/// Every header the gateway answers with (what a browser page must be allowed to read).
pub const RESPONSE: [&str; 6] = [RESULT_STATUS, MEMO, TIPS, TRACE_ID, DEVICE_ID, ENCRYPT_SUITE];
