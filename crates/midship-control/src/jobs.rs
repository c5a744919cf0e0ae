//! Background jobs: what a node repeats while it runs (snapshot refresh, push dispatch, sync
//! maintenance, alert evaluation, exports). Each service states its jobs through one trait; the
//! server's `Node` runs them all the same way, stops them in order, and makes sure a job that
//! must run once per cluster runs on the node holding its lease.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

/// Where a job runs when several nodes share one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Every node runs it for itself (refreshing its own snapshots).
    EveryNode,
    /// One node at a time: the holder of the lease `job:<name>`. When that node dies the lease
    /// lapses and another node runs the job from then on.
    OneNode,
}

/// An error a job reports; the node logs it and runs the job again at its next turn.
pub type JobError = Box<dyn std::error::Error + Send + Sync>;

#[async_trait]
pub trait BackgroundJob: Send + Sync + 'static {
    /// A short name for logs and the lease.
    fn name(&self) -> &'static str;
    fn placement(&self) -> Placement;
    /// The time between two runs.
    fn interval(&self) -> Duration;
    /// Runs the job before its interval ends when notified (a new push, a change announced by
    /// another node).
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }
    async fn run_once(&self) -> Result<(), JobError>;
}
