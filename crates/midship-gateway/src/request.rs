//! A client RPC as the pipeline sees it, and what it answers: no HTTP types, so the same pipeline
//! serves `POST /mgw` and (later) RPC frames on the long connection.

use bytes::Bytes;

use crate::result::ResultCode;

/// The protocol headers of a call (docs/protocol.md), already read from HTTP or a frame.
#[derive(Debug, Clone, Default)]
pub struct RpcHeaders {
    pub operation_type: Option<String>,
    pub app_id: Option<String>,
    pub workspace_id: Option<String>,
    pub timestamp: Option<String>,
    pub sign: Option<String>,
    pub sign_type: Option<String>,
    pub nonce: Option<String>,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    /// `Encrypt-Suite` and `Encrypt-Key`: the body is sealed (docs/protocol-signing.md).
    pub encrypt_suite: Option<String>,
    pub encrypt_key: Option<String>,
}

/// The longest `Device-Id` and `User-Id` accepted, in characters (a hello's `device_id` and
/// `user_id` too): ids, not documents, and they reach logs, presence tables and storage.
pub const MAX_IDENTITY_CHARS: usize = 128;
/// The longest `Platform` and `App-Version`.
const MAX_LABEL_CHARS: usize = 32;

impl RpcHeaders {
    /// Refuses identity fields that are too long or hold control characters.
    pub fn check_identity(&self) -> Result<(), String> {
        let fields = [
            ("Device-Id", &self.device_id, MAX_IDENTITY_CHARS),
            ("User-Id", &self.user_id, MAX_IDENTITY_CHARS),
            ("Platform", &self.platform, MAX_LABEL_CHARS),
            ("App-Version", &self.app_version, MAX_LABEL_CHARS),
        ];
        for (name, value, max_chars) in fields {
            if let Some(value) = value
                && (value.chars().count() > max_chars || value.chars().any(char::is_control))
            {
                return Err(format!("{name} must be at most {max_chars} printable characters"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub headers: RpcHeaders,
    /// Always `POST` over HTTP; part of the signing string.
    pub method: String,
    pub body: Bytes,
    /// Every other request header (lower-case names), for cache keys built from headers and cookies.
    pub other_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct RpcResponse {
    pub result: ResultCode,
    pub memo: String,
    pub tips: String,
    pub trace_id: String,
    /// The backend's status for calls it answered; otherwise chosen from the result.
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// A utdid issued to a device that came without one.
    pub issued_device_id: Option<String>,
    /// The suite the body is sealed with, when the request was.
    pub sealed_with: Option<&'static str>,
    /// Backend response headers passed on (after the API's response header rules).
    pub headers: Vec<(String, String)>,
    /// The operation type as routed, for logs and metrics (`unknown` when there was none).
    pub operation_type: String,
    pub app_id: Option<String>,
    pub workspace_id: Option<String>,
}

impl RpcResponse {
    pub fn failure(result: ResultCode, trace_id: &str, detail: Option<String>) -> Self {
        Self {
            result,
            memo: detail.unwrap_or_else(|| result.memo().to_owned()),
            tips: result.tips().to_owned(),
            trace_id: trace_id.to_owned(),
            status: result.http_status(),
            content_type: None,
            body: Bytes::new(),
            issued_device_id: None,
            sealed_with: None,
            headers: Vec::new(),
            operation_type: "unknown".to_owned(),
            app_id: None,
            workspace_id: None,
        }
    }
}
