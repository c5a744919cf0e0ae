//! Data sync: sending, batches, stream status and connection tokens.

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::ErrorBody;
#[cfg(feature = "openapi")]
use crate::rules;

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
