//! Push: messages, targets, schedules, audiences, tasks, revokes, statistics and deliveries.

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::rules;

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
