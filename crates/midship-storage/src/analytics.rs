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

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Stores the batches in one transaction (group commit). For each, its sequence number, or
    /// `None` if its device had sent that batch id before (then nothing is stored for it).
    async fn append_analytics_batches(&self, batches: &[AnalyticsBatchRecord]) -> StorageResult<Vec<Option<i64>>>;
    /// Batches stored after `after_seq`, oldest first, at most `limit`.
    async fn analytics_batches_after(&self, after_seq: i64, limit: u32) -> StorageResult<Vec<StoredAnalyticsBatch>>;
    async fn get_analytics_policy(&self, workspace_id: &str) -> StorageResult<Option<AnalyticsPolicyRecord>>;
    /// Creates or replaces the workspace's policy.
    async fn put_analytics_policy(&self, policy: &AnalyticsPolicyRecord, audit: &NewAuditEntry) -> StorageResult<()>;
}
