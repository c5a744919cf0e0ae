//! Analytics (MAS) admin wire types: the upload policy, reports, alerts and diagnosis (what devices
//! send and get is `midship_protocol::calls`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Policies name the kinds devices upload; operators list the log files devices uploaded.
pub use midship_protocol::calls::{EVENT_KINDS, EVERY_OTHER_KIND, LogFileView};

/// A workspace's upload policy, as operators set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AnalyticsPolicy {
    /// Per event kind (`launch`, `event`, `page`, `crash`, …, or `*` for every kind not named).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::rules::policy_kinds))]
    pub kinds: BTreeMap<String, KindPolicy>,
    /// Events per upload, 1 to 1000.
    #[serde(default = "default_batch_size")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub batch_size: u32,
    /// How long the SDK waits before uploading a batch that is not full, 1 to 86400 seconds.
    #[serde(default = "default_flush_interval")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86400))]
    pub flush_interval_seconds: u32,
}

fn default_batch_size() -> u32 {
    50
}

fn default_flush_interval() -> u32 {
    30
}

impl Default for AnalyticsPolicy {
    fn default() -> Self {
        Self {
            kinds: BTreeMap::new(),
            batch_size: default_batch_size(),
            flush_interval_seconds: default_flush_interval(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KindPolicy {
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub wifi_only: bool,
    /// Users (or devices without a user) uploading this kind, in parts per thousand (0 to 1000).
    #[serde(default = "all_per_thousand")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1000))]
    pub sample_per_thousand: u16,
    /// `debug`, `info`, `warn` or `error`: log lines below it stay on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(debug|info|warn|error)$"))]
    pub min_level: Option<String>,
}

fn enabled() -> bool {
    true
}

fn all_per_thousand() -> u16 {
    1000
}

impl Default for KindPolicy {
    fn default() -> Self {
        Self { enabled: true, wifi_only: false, sample_per_thousand: 1000, min_level: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OverviewDay {
    pub day: String,
    pub launches: u64,
    pub active_devices: u64,
    pub active_users: u64,
    pub new_devices: u64,
    pub cumulative_devices: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OverviewReport {
    /// The app version the figures are limited to, if one was asked for.
    pub version: Option<String>,
    pub days: Vec<OverviewDay>,
    /// Versions seen in the range, with their launches and active devices over it.
    pub versions: Vec<VersionFigures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VersionFigures {
    pub version: String,
    pub launches: u64,
    pub active_devices: u64,
    pub crashes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RealtimeMinute {
    /// The minute's start, Unix milliseconds.
    pub minute: i64,
    pub events: u64,
    pub launches: u64,
    pub active_devices: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RealtimeReport {
    pub minutes: Vec<RealtimeMinute>,
    pub active_devices: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RetentionReport {
    /// `device` or `user`.
    pub subject: String,
    /// `day`, `week` or `month`.
    pub period: String,
    pub cohorts: Vec<Cohort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Cohort {
    /// The first day of the cohort's period.
    pub start: String,
    pub size: u64,
    pub retained: Vec<Retained>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Retained {
    pub offset: u32,
    /// Of the cohort, those active `offset` periods after its own; `null` while that period has
    /// not begun (the current period counts as far as it has gone).
    pub count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FunnelReport {
    pub window_seconds: u64,
    pub steps: Vec<FunnelStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FunnelStep {
    pub name: String,
    pub devices: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventFigures {
    pub name: String,
    pub count: u64,
    pub devices: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventsReport {
    pub events: Vec<EventFigures>,
    /// With `name` and `attribute`: the attribute's values and their counts, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<AttributeValueCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttributeValueCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PageFigures {
    pub page: String,
    pub views: u64,
    pub visitors: u64,
    pub average_duration_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PagesReport {
    pub pages: Vec<PageFigures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PathFigures {
    pub from: String,
    pub to: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PathsReport {
    pub paths: Vec<PathFigures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NetworkFigures {
    pub host: String,
    pub requests: u64,
    pub errors: u64,
    pub duration_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PerfReport {
    pub startup_ms: Percentiles,
    pub page_load_ms: Percentiles,
    pub network: Vec<NetworkFigures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FailureGroupSummary {
    pub fingerprint: String,
    /// `crash`, `anr` or `lag`.
    pub kind: String,
    pub title: String,
    pub count: u64,
    pub devices: u64,
    pub users: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FailuresReport {
    pub groups: Vec<FailureGroupSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VersionFailureRate {
    pub version: String,
    pub count: u64,
    pub launches: u64,
    /// Failures of this group per launch of the version.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FailureGroupDetail {
    #[serde(flatten)]
    pub summary: FailureGroupSummary,
    pub versions: Vec<VersionFailureRate>,
    /// The newest events of the group, as stored.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub samples: Vec<serde_json::Value>,
}

/// What an export to Parquet wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExportView {
    pub batches: u64,
    pub events: u64,
    pub files: u64,
    /// The directory on the server holding `app_id=…/day=…/part-….parquet`.
    pub directory: String,
}

/// An alert rule: when `metric` over the last `window_minutes` goes above `threshold`, the
/// webhook is told (and told again when it comes back down).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertRuleDefinition {
    /// 1 to 100 characters, not only spaces.
    #[cfg_attr(feature = "openapi", schema(max_length = 100, pattern = r"\S"))]
    pub name: String,
    /// `crash_rate` and `anr_rate` (per launch), `startup_p95_ms`, `api_error_rate` (calls not
    /// answered 1000, per call) or `api_latency_p95_ms` of the gateway API `operation_type`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(crash_rate|anr_rate|startup_p95_ms|api_error_rate|api_latency_p95_ms)$")
    )]
    pub metric: String,
    /// Required for the `api_` metrics, absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub threshold: f64,
    /// 1 to 1440 minutes (default 5).
    #[serde(default = "default_window_minutes")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub window_minutes: u32,
    /// An http or https URL, at most 2000 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 2000, pattern = "^https?://"))]
    pub webhook_url: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn default_window_minutes() -> u32 {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertRuleView {
    pub rule_id: String,
    pub workspace_id: String,
    pub definition: AlertRuleDefinition,
    /// `ok`, `firing`, or `unknown` before the first evaluation with data.
    pub state: String,
    pub last_value: Option<f64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertEventView {
    pub seq: i64,
    pub rule_id: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub value: f64,
    pub at: String,
    /// Whether the webhook answered 2xx.
    pub delivered: bool,
    pub attempts: i64,
    pub detail: Option<String>,
}

/// An uploaded symbol file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SymbolFileView {
    pub app_version: String,
    /// `proguard`.
    pub kind: String,
    pub size: u64,
    /// Classes the mapping names.
    pub classes: u64,
    pub uploaded_at: String,
}

/// Asks one device, or every device of one user, for its local log file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogRequest {
    /// The device asked (give this or `user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub device_id: Option<String>,
    /// The user whose devices are asked (give this or `device_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogRequestView {
    pub request_id: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogLineView {
    pub file_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    /// From 1.
    pub line_number: u64,
    pub line: String,
}
