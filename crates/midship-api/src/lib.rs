//! The admin REST API's request and response bodies, shared by the server (which also derives the
//! OpenAPI schemas from them, feature `openapi`) and the SDK's admin client, so both sides always
//! agree on the wire format. Fields are snake_case; times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod analytics;
mod approvals;
mod delivery;
mod experiments;
mod gateway;
mod people;
mod push;
#[cfg(feature = "openapi")]
pub mod rules;
mod switches;
mod sync;
pub use analytics::*;
pub use approvals::*;
pub use delivery::*;
pub use experiments::*;
pub use gateway::*;
pub use people::*;
pub use push::*;
pub use switches::*;
pub use sync::*;

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
    /// Workspace names to create; `dev`, `test` and `prod` when absent or `null`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::workspace_names))]
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
    /// `token` (a machine's API token) or `person` (someone signed in).
    pub actor_kind: String,
    /// The token's or the person's id.
    pub actor_id: String,
    /// The token's name or the person's login.
    pub actor_name: String,
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
    /// The person who made the change (signed in to the console, or owning the token used).
    pub actor_person_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub app_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}
