//! Analytics: the accepted log batches (the durable record every report is derived from) and each
//! workspace's upload policy.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;

use crate::StorageResult;

/// A batch of client logs as accepted: its events, already checked and encoded by the analytics
/// service, are opaque here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsBatchRecord {
    pub workspace_id: String,
    pub device_id: String,
    /// The client's id for the batch; a device sending one id twice is stored once.
    pub batch_id: String,
    pub received_at: UnixMillis,
    pub event_count: i64,
    pub payload: Vec<u8>,
}

/// A stored batch with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnalyticsBatch {
    pub seq: i64,
    pub batch: AnalyticsBatchRecord,
}

/// A workspace's upload policy, JSON the analytics service owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsPolicyRecord {
    pub workspace_id: String,
    pub policy: String,
    pub updated_at: UnixMillis,
}

/// An alert rule; its definition is JSON the analytics service owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRuleRecord {
    pub rule_id: String,
    pub workspace_id: String,
    pub definition: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A rule that started or stopped firing, and how its webhook went.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEventRecord {
    /// Given by the store; ignored on insert.
    pub seq: i64,
    pub rule_id: String,
    pub workspace_id: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub value: f64,
    pub at: UnixMillis,
    pub delivered: bool,
    pub attempts: i64,
    pub detail: Option<String>,
}

/// A symbol file for one app version: `proguard` (a ProGuard/R8 mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolFileRecord {
    pub workspace_id: String,
    pub app_version: String,
    pub kind: String,
    pub content: Vec<u8>,
    pub uploaded_at: UnixMillis,
}

/// An operator's request for one device's (or one user's devices') log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequestRecord {
    pub request_id: String,
    pub workspace_id: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub created_at: UnixMillis,
}

/// A log file a device uploaded for a request; `content` is zstd-compressed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileRecord {
    pub file_id: String,
    pub request_id: String,
    pub workspace_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    pub file_name: String,
    /// Bytes of text before compression.
    pub size: i64,
    pub content: Vec<u8>,
    pub uploaded_at: UnixMillis,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Stores the batches in one transaction (group commit). For each, its sequence number, or
    /// `None` if its device had sent that batch id before (then nothing is stored for it).
    async fn append_analytics_batches(&self, batches: &[AnalyticsBatchRecord]) -> StorageResult<Vec<Option<i64>>>;
    /// Batches stored after `after_seq`, oldest first, at most `limit`.
    async fn analytics_batches_after(&self, after_seq: i64, limit: u32) -> StorageResult<Vec<StoredAnalyticsBatch>>;
    /// The batch the device stored under `batch_id`, so a repeated id can be told apart from a
    /// retry by its content.
    async fn get_analytics_batch(
        &self,
        workspace_id: &str,
        device_id: &str,
        batch_id: &str,
    ) -> StorageResult<Option<StoredAnalyticsBatch>>;
    async fn get_analytics_policy(&self, workspace_id: &str) -> StorageResult<Option<AnalyticsPolicyRecord>>;
    /// Creates or replaces the workspace's policy.
    async fn put_analytics_policy(&self, policy: &AnalyticsPolicyRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// Creates or replaces a rule.
    async fn put_alert_rule(&self, rule: &AlertRuleRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// Whether the rule existed.
    async fn delete_alert_rule(&self, rule_id: &str, audit: &NewAuditEntry) -> StorageResult<bool>;
    /// The workspace's rules, or every rule, oldest first.
    async fn list_alert_rules(&self, workspace_id: Option<&str>) -> StorageResult<Vec<AlertRuleRecord>>;
    /// Returns the event's sequence number.
    async fn insert_alert_event(&self, event: &AlertEventRecord) -> StorageResult<i64>;
    /// The workspace's newest events first, at most `limit`.
    async fn list_alert_events(&self, workspace_id: &str, limit: u32) -> StorageResult<Vec<AlertEventRecord>>;
    /// Creates or replaces the version's file of that kind.
    async fn put_symbol_file(&self, file: &SymbolFileRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// The workspace's symbol files, or every workspace's, with their content.
    async fn list_symbol_files(&self, workspace_id: Option<&str>) -> StorageResult<Vec<SymbolFileRecord>>;
    async fn insert_log_request(&self, request: &LogRequestRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_log_request(&self, request_id: &str) -> StorageResult<Option<LogRequestRecord>>;
    async fn insert_log_file(&self, file: &LogFileRecord) -> StorageResult<()>;
    /// The workspace's files uploaded in `[from, to)`, newest first, with their content only when
    /// `with_content` (else it is empty).
    async fn list_log_files(
        &self,
        workspace_id: &str,
        from: UnixMillis,
        to: UnixMillis,
        with_content: bool,
    ) -> StorageResult<Vec<LogFileRecord>>;
    async fn get_log_file(&self, file_id: &str) -> StorageResult<Option<LogFileRecord>>;
}
