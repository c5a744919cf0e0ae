//! Approval requests and the workspaces that require them.

use async_trait::async_trait;
use midship_core::approval::{ApprovalDecision, ApprovalRecord, ApprovalStatus};
use midship_core::clock::UnixMillis;
use midship_core::{NewAuditEntry, Page, PageRequest};

use crate::StorageResult;

#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Whether gated changes in the workspace need a second person (`false` until set).
    async fn approvals_required(&self, workspace_id: &str) -> StorageResult<bool>;
    async fn set_approvals_required(
        &self,
        workspace_id: &str,
        required: bool,
        at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;

    async fn create_approval(&self, approval: &ApprovalRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_approval(&self, approval_id: &str) -> StorageResult<Option<ApprovalRecord>>;
    /// The workspace's requests, newest first, optionally only those with `status`; the cursor is
    /// the last id seen.
    async fn list_approvals(
        &self,
        workspace_id: &str,
        status: Option<ApprovalStatus>,
        page: &PageRequest,
    ) -> StorageResult<Page<ApprovalRecord>>;
    /// Moves a request from `from` to the decision's status in one conditional statement, with
    /// its audit entry (if any); `false` (and nothing written) when it was no longer in `from`, so two
    /// approvers racing on two nodes apply a change once.
    async fn decide_approval(
        &self,
        approval_id: &str,
        from: ApprovalStatus,
        decision: &ApprovalDecision,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<bool>;
}
