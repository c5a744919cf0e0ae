//! The admin REST API's request and response bodies, shared by the server (which also derives the
//! OpenAPI schemas from them, feature `openapi`) and the SDK's admin client, so both sides always
//! agree on the wire format. Fields are snake_case; times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod analytics;
mod delivery;
#[cfg(feature = "openapi")]
pub mod rules;
pub use analytics::*;
pub use delivery::*;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Every error the admin API returns. `code` is stable and documented in `docs/api.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Stable error codes of the admin API.
pub mod codes {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const CONFLICT: &str = "conflict";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const INTERNAL: &str = "internal";
}

/// One page of a list. Pass `next_cursor` back as `cursor` for the next page; `null` means the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TenantView {
    pub tenant_id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::display_name))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppView {
    pub app_id: String,
    pub tenant_id: String,
    pub name: String,
    /// Any of android, ios, harmony, h5, miniprogram.
    pub platforms: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::display_name))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::platforms))]
    pub platforms: Vec<String>,
    /// Workspace names to create; `dev`, `test` and `prod` when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::workspace_names, nullable))]
    pub workspaces: Option<Vec<String>>,
}

/// A new app with its workspaces and its first signing secret, which is shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: AppView,
    pub workspaces: Vec<WorkspaceView>,
    pub key_id: String,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppDetails {
    #[serde(flatten)]
    pub app: AppView,
    pub workspaces: Vec<WorkspaceView>,
    pub keys: Vec<AppKeyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceView {
    pub workspace_id: String,
    pub app_id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::slug))]
    pub name: String,
}

/// A signing key without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppKeyView {
    pub key_id: String,
    pub created_at: String,
    /// When a rotated-out key stops being accepted; `null` for the current key.
    pub expires_at: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// How long the previous keys stay valid, at most 30 days; the server's configured grace
    /// period when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 2592000))]
    pub grace_seconds: Option<u64>,
}

/// The new secret, shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RotatedKey {
    pub app_id: String,
    pub key_id: String,
    pub secret: String,
    pub previous_keys_expire_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::display_name))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::role))]
    pub role: String,
    /// Limit the token to these apps (at least one); every app of the tenant when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub app_ids: Option<Vec<String>>,
    /// 1 second to ten years; the token never expires when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 315360000))]
    pub expires_in_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenView {
    pub token_id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: String,
    pub app_ids: Option<Vec<String>>,
    /// The first characters of the token, to tell tokens apart.
    pub hint: String,
    pub created_at: String,
    pub created_by: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub active: bool,
}

/// A new token; `token` is the bearer secret, shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IssuedToken {
    #[serde(flatten)]
    pub view: TokenView,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WhoAmI {
    pub token_id: String,
    pub token_name: String,
    pub tenant_id: String,
    pub role: String,
    pub app_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub actor_token_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub app_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A switch as the admin API shows it: the draft and the latest published definition (documented
/// in `docs/switches.md`), and where the draft stands: `new`, `changed`, `published` or `deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SwitchStatusView {
    pub key: String,
    pub state: String,
    pub draft: Option<Value>,
    pub published: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The published version whose content becomes current again (as a new version).
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConfigVersionView {
    pub version: i64,
    pub published_at: String,
    pub published_by: String,
    pub note: String,
    pub switch_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportResult {
    pub imported: usize,
}

/// What a device sends to `midship.config.pull` (`POST /api/client/v1/config/pull`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigPullRequest {
    pub app_id: String,
    pub workspace_id: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    pub os_version: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
    /// Custom attributes for conditions.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// The `etag` of the device's last pull; an unchanged configuration answers `not_modified`.
    #[serde(default)]
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConfigPullResponse {
    /// Published version the values come from; 0 before the first publication.
    pub version: i64,
    pub etag: String,
    /// `true`: the device's values are unchanged and `values` is absent.
    pub not_modified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiGroupRequest {
    /// Lower-case name, unique in the workspace (`accounts`).
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::slug))]
    pub name: String,
    /// The backend's base URL (http or https, with a host, without query or fragment); API paths
    /// are appended to it.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[\x00-\x20]*[Hh][Tt][Tt][Pp][Ss]?://"))]
    pub base_url: String,
    /// Default timeout of the group's APIs, 1 to 60000 ms (3000 ms when absent).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60000))]
    pub timeout_ms: Option<u64>,
    /// `hmac` (default) or `rsa`: how `X-Midship-Proxy-Signature` is made.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(hmac|rsa)$"))]
    pub proxy_signature: Option<String>,
    /// PKCS#8 PEM private key for `rsa`; one is generated when absent.
    #[serde(default)]
    pub rsa_private_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiGroupView {
    pub group_id: String,
    pub workspace_id: String,
    pub name: String,
    pub base_url: String,
    pub timeout_ms: u64,
    /// `hmac` or `rsa`.
    pub proxy_signature: String,
    /// The secret of `X-Midship-Proxy-Signature` (hmac), shown only when the group is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret: Option<String>,
    /// The PEM public key backends verify an `rsa` proxy signature with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiRequest {
    /// Unique in the workspace, dotted words (`com.bank.account.balance`), at most 128
    /// characters; `midship.` is reserved.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^(?!midship\.)[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
    )]
    pub operation_type: String,
    /// Group id or name.
    pub group: String,
    /// GET, POST, PUT, PATCH or DELETE, in any letter case.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee])$"
        )
    )]
    pub method: String,
    /// Appended to the group's base URL; `{name}` segments come from the body's fields.
    #[cfg_attr(feature = "openapi", schema(pattern = "^/"))]
    pub path: String,
    /// `[{"name", "type": "string"|"number"|"boolean"|"object"|"array", "required"}]`: checked
    /// before the backend is called (3002 on a mismatch).
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub charset: Option<String>,
    /// Require a client signature (default true).
    #[serde(default)]
    pub need_sign: Option<bool>,
    #[serde(default)]
    pub need_encrypt: Option<bool>,
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    #[serde(default)]
    pub description: Option<String>,
    /// See [`ApiPolicies::header_rules`].
    #[serde(default)]
    pub header_rules: Option<Value>,
    /// See [`ApiPolicies::mock`].
    #[serde(default)]
    pub mock: Option<Value>,
    /// See [`ApiPolicies::migration`].
    #[serde(default)]
    pub migration: Option<Value>,
    /// See [`ApiPolicies::circuit_breaker`].
    #[serde(default)]
    pub circuit_breaker: Option<Value>,
    /// See [`ApiPolicies::cache`].
    #[serde(default)]
    pub cache: Option<Value>,
    /// See [`ApiPolicies::authorizer`].
    #[serde(default)]
    pub authorizer: Option<Value>,
    /// See [`ApiPolicies::rate_limited_response`].
    #[serde(default)]
    pub rate_limited_response: Option<Value>,
}

/// The optional policies of an API (docs/protocol.md, "API policies"), as JSON objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiPolicies {
    /// `[{"stage": "request"|"response", "action": "add"|"remove", "name", "value"}]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_rules: Option<Value>,
    /// `{"percentage": 0-100, "response": {"status", "content_type", "body"}}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<Value>,
    /// `{"group": group id or name, "percentage": 0-100}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Value>,
    /// `{"window_seconds", "minimum_calls", "error_percentage", "slow_call_ms", "slow_percentage", "open_seconds", "fallback"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<Value>,
    /// `{"ttl_seconds", "key_fields", "key_headers", "key_cookies"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Value>,
    /// `{"operation_type", "credential_headers": ["authorization"], "principal_header": "X-Midship-Principal", "cache_seconds"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<Value>,
    /// `{"status": 429, "content_type", "body"}`: what a rate-limited caller gets with 1002.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited_response: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiView {
    pub api_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub group_id: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    pub timeout_ms: Option<u64>,
    pub content_type: String,
    pub charset: String,
    pub need_sign: bool,
    pub need_encrypt: bool,
    /// `open` or `closed`.
    pub status: String,
    pub rate_limit_per_second: Option<u32>,
    pub description: String,
    #[serde(flatten)]
    pub policies: ApiPolicies,
    pub updated_at: String,
}

/// A public key of the gateway for body encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvelopeKeyView {
    /// `p256-aes256gcm` or `sm2-sm4gcm`.
    pub suite: String,
    /// Uncompressed SEC1 point, standard base64.
    pub public_key: String,
}

/// One API's calls on the answering node since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiStatsView {
    pub operation_type: String,
    pub calls: u64,
    /// Result code → calls.
    pub by_result: std::collections::BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// A message for a sync stream (`POST .../sync/send`; `.../sync/global` takes no `link_token`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncSendRequest {
    pub biz_type: String,
    /// The userId or utdid, as the bizType's target says; absent for global bizTypes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link_token: String,
    /// At most 4096 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub payload: String,
    /// Unique per bizType and target; a repeat answers `DUPLICATED_BIZ_ID` and stores nothing.
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::caller_id))]
    pub third_msg_id: String,
    /// Only devices of this platform (`android`, `ios`, `harmony`, `h5`, `miniprogram`, in any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::os_type))]
    pub os_type: Option<String>,
    /// `{"min": "3.0.0", "max": "4.0.0"}`, both inclusive, either optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version_range: Option<Value>,
    /// Not delivered before this (milliseconds since the epoch): the message waits, then enters its stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
    /// Not delivered after this, and purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    /// Store and deliver only if the target is online now; otherwise answer `TARGET_OFFLINE`.
    #[serde(default)]
    pub online_check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncSendResponse {
    /// `SUCCESS`, `DUPLICATED_BIZ_ID` (a repeated thirdMsgId; nothing stored) or `TARGET_OFFLINE`
    /// (`online_check` was asked and the target has no connection; nothing stored).
    pub result: String,
    /// The message's sequence in its stream; absent for non-persistent and scheduled messages.
    pub seq: Option<i64>,
    /// The message waits for its `valid_from`.
    #[serde(default)]
    pub scheduled: bool,
}

/// Several messages at once (`POST .../sync/batch`), targeted or global, at most 500.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncBatchRequest {
    /// 1 to 500 messages, each a `SyncSendRequest`. Each is checked on its own: one that breaks a
    /// rule comes back `FAILED` with its error, and the others are still sent.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500, value_type = Vec<Object>))]
    pub messages: Vec<SyncSendRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncBatchResponse {
    /// One per message, in order.
    pub results: Vec<SyncBatchResult>,
}

/// A batch message's outcome: as for a single send, or `FAILED` with the error a single send
/// would have answered (nothing stored for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncBatchResult {
    pub result: String,
    pub seq: Option<i64>,
    #[serde(default)]
    pub scheduled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncStatusView {
    pub biz_type: String,
    pub link_token: String,
    pub last_seq: i64,
    /// How far the named device acknowledged.
    pub acked_seq: Option<i64>,
    /// The target has a connection now.
    pub online: bool,
}

/// Asks for a connection token that vouches for a user (`POST .../sync/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::optional_caller_id))]
    pub user_id: Option<String>,
    /// Bind the token to one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::optional_caller_id))]
    pub device_id: Option<String>,
    /// 1 to 604800 seconds (7 days); default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    pub ttl_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncTokenView {
    /// Goes into the hello's `token`; a credential, shown only here.
    pub token: String,
    pub expires_at: String,
}

/// What a push notification says and how it behaves. In templates, `title`, `content`, `uri`,
/// `image_url` and `ext` values may hold `${name}` placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushMessageBody {
    pub title: String,
    pub content: String,
    /// Opened when the user taps the notification (a URL or an in-app action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Extended parameters handed to the app.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ext: std::collections::BTreeMap<String, String>,
    /// `plain` (default), `big_text` or `image` (with `image_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(plain|big_text|image)$"))]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Delivered to the app without showing a notification.
    #[serde(default)]
    pub silent: bool,
    /// Kept for offline devices this long; default 259200 (3 days), at most 604800 (7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    pub expiry_seconds: Option<u32>,
    /// The vendor's message class (for example `marketing` or `transactional`), passed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
}

/// One device (`utdid`) or user (all devices bound to the userId) a push is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushTarget {
    /// `device` or `user`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(device|user)$"))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::caller_id))]
    pub id: String,
    /// The sender's business message id for this target.
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::caller_id))]
    pub msg_id: String,
    /// This target's placeholder values (multiple push).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, String>,
}

/// When a push goes out: at a time, and optionally again every day, week or month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushSchedule {
    /// Milliseconds since the epoch.
    pub at: i64,
    /// `daily`, `weekly` or `monthly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(daily|weekly|monthly)$"))]
    pub repeat: Option<String>,
    /// No repeat starts after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// Which devices a broadcast reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushAudience {
    /// Only this platform (`android`, `ios`, `harmony`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `all` (default), `bound` or `unbound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(all|bound|unbound)$"))]
    pub devices: Option<String>,
    /// Bound devices bound within the last 7 or 15 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_within_days: Option<u32>,
}

/// A push (`POST .../push/simple|template|multiple|broadcast`). Simple: `targets` (at most 10)
/// and `message`. Template: `template`, `values` and `targets` (at most 10). Multiple:
/// `template` and `targets` (at most 100) with their own `values`. Broadcast: `message`,
/// `msg_id` and `audience`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub targets: Vec<PushTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<PushMessageBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<PushAudience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<PushSchedule>,
}

/// A stored template (`PUT .../push/templates/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushTemplateBody {
    #[serde(default)]
    pub name: String,
    pub message: PushMessageBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushTaskView {
    pub task_id: String,
    pub kind: String,
    /// `scheduled`, `sending`, `done` or `cancelled`.
    pub status: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<String>,
    pub runs: i64,
    /// Devices the task reaches (for a scheduled task, known when it runs).
    pub targets: i64,
}

/// Revokes messages within 7 days of sending (`POST .../push/revoke`): a task's, or one target's
/// of a task, or by the sender's `msg_id` and a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRevokeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Instead of `task_id`: the business message id, with a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// `device` or `user`, with `target_id`; absent for the whole task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(device|user)$"))]
    pub target_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushRevokeView {
    /// Deliveries marked revoked.
    pub revoked: u64,
    /// Of those, messages removed before the device got them.
    pub removed_undelivered: u64,
}

/// Counts of one channel and platform, or of all (`channel` and `platform` are `all`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushStatsRowView {
    pub channel: String,
    pub platform: String,
    pub targets: i64,
    pub sent: i64,
    pub failed: i64,
    pub delivered: i64,
    pub opened: i64,
    pub ignored: i64,
    pub revoked: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushStatsView {
    pub total: PushStatsRowView,
    pub rows: Vec<PushStatsRowView>,
}

/// One device's copy of a push: its channel and what became of it (times are RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushDeliveryView {
    pub task_id: String,
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub platform: String,
    pub channel: String,
    pub msg_id: String,
    pub expires_at: String,
    pub sent_at: Option<String>,
    pub failed_at: Option<String>,
    /// Why the channel refused it.
    pub error: Option<String>,
    pub delivered_at: Option<String>,
    pub opened_at: Option<String>,
    pub ignored_at: Option<String>,
    pub revoked_at: Option<String>,
}
