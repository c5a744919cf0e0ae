//! Leases: work that must run on one node of a cluster at a time (a push task's dispatch, alert
//! evaluation, exports, purges) is done by whoever holds its lease. A lease ends when its holder
//! stops renewing it, so the work of a node that died is taken over by another.

use async_trait::async_trait;

use crate::StorageResult;

/// A claim on a lease, renewed by calling [`LeaseStore::acquire_lease`] again before `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim<'a> {
    /// What the lease guards, such as `push-task:01J…` or `job:alerts`.
    pub name: &'a str,
    /// The node asking (its id, unique per process).
    pub holder: &'a str,
    pub now: i64,
    /// When the lease lapses unless renewed.
    pub until: i64,
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease when it is free or lapsed, or renews it for its holder. `false`: another
    /// holder has it.
    async fn acquire_lease(&self, claim: &LeaseClaim<'_>) -> StorageResult<bool>;
    /// Gives the lease up at once, if `holder` has it, so another node need not wait for it to
    /// lapse.
    async fn release_lease(&self, name: &str, holder: &str) -> StorageResult<()>;
}
