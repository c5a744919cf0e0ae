//! `midship.analytics.upload`, `.policy` and `.log.upload` (docs/analytics.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What `midship.analytics.upload` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub batch_id: String,
    /// Events kept (0 for a duplicate).
    pub accepted: u64,
    /// The device sent this batch id before; nothing was counted again.
    pub duplicate: bool,
    /// With `duplicate`: the batch stored under this id holds other events, so this was a
    /// different batch reusing the id, and none of it was stored. `false` for a retry.
    #[serde(default)]
    pub content_differs: bool,
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    pub index: usize,
    pub reason: String,
}

/// Every event kind an upload may carry, as a policy names them.
pub const EVENT_KINDS: [&str; 13] = [
    "launch",
    "session_end",
    "event",
    "page",
    "startup",
    "page_load",
    "crash",
    "anr",
    "lag",
    "network",
    "h5_error",
    "log",
    "experiment",
];

/// `*` in a policy stands for every kind not named.
pub const EVERY_OTHER_KIND: &str = "*";

/// What `midship.analytics.policy` answers one device: the policy decided for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePolicy {
    pub batch_size: u32,
    pub flush_interval_seconds: u32,
    /// Kinds this device uploads; kinds absent here are not uploaded.
    pub kinds: BTreeMap<String, DeviceKindPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKindPolicy {
    pub wifi_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<String>,
}

/// What a device sends to `midship.analytics.log.upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogUpload {
    pub request_id: String,
    pub file_name: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogFileView {
    pub file_id: String,
    pub request_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    pub file_name: String,
    pub size: u64,
    pub uploaded_at: String,
}
