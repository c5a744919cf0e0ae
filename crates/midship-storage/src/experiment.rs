//! Laboratories (traffic layers) and their experiments. The definition is stored as the JSON the
//! experiments crate reads; storage knows its phase and revision, so changes are conditional.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;
use serde_json::Value;

use crate::StorageResult;

#[derive(Debug, Clone, PartialEq)]
pub struct LaboratoryRecord {
    pub laboratory_id: String,
    pub workspace_id: String,
    pub key: String,
    pub name: String,
    pub description: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRecord {
    pub experiment_id: String,
    pub workspace_id: String,
    pub laboratory_id: String,
    pub key: String,
    /// `draft`, `debug`, `running` or `stopped`.
    pub phase: String,
    pub definition: Value,
    /// Moves when a running experiment's weights or coverage change (GrowthBook's bucket version).
    pub bucket_version: i64,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub stopped_at: Option<UnixMillis>,
    /// Why it stopped: the promoted variation, who decided, when.
    pub decision: Option<Value>,
    /// Counts this experiment's changes; an update names the revision it read.
    pub revision: i64,
}

#[async_trait]
pub trait ExperimentStore: Send + Sync {
    /// `Conflict` when the workspace already has a laboratory with this key.
    async fn create_laboratory(&self, laboratory: &LaboratoryRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// The workspace's laboratories by key.
    async fn list_laboratories(&self, workspace_id: &str) -> StorageResult<Vec<LaboratoryRecord>>;

    /// `Conflict` when the workspace already has an experiment with this key.
    async fn create_experiment(&self, experiment: &ExperimentRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_experiment(&self, workspace_id: &str, key: &str) -> StorageResult<Option<ExperimentRecord>>;
    /// The workspace's experiments by key.
    async fn list_experiments(&self, workspace_id: &str) -> StorageResult<Vec<ExperimentRecord>>;
    /// Replaces the experiment if it is still at `expected_revision` (the record carries the next
    /// one); `false`, with nothing written, when another change came first.
    async fn update_experiment(
        &self,
        experiment: &ExperimentRecord,
        expected_revision: i64,
        audit: &NewAuditEntry,
    ) -> StorageResult<bool>;
    /// Moves on every change to the workspace's laboratories or experiments, so nodes know when
    /// to rebuild what devices are served from.
    async fn experiments_revision(&self, workspace_id: &str) -> StorageResult<i64>;
    /// Every workspace's revision, so a node spots changes made elsewhere in one query.
    async fn all_experiments_revisions(&self) -> StorageResult<Vec<(String, i64)>>;
}
