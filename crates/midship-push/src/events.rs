//! Device reports (arrived, opened, dismissed) written with group commit: after a broadcast every
//! device reports at once, and one transaction per report would queue thousands of commits behind
//! each other. Each report is still answered only once it is durable.

use std::sync::Arc;

use midship_storage::group_commit::GroupCommit;
use midship_storage::{PushEvent, Storage};

/// Most reports in one transaction.
const MAX_BATCH: usize = 2048;

/// Answers, per report, whether it changed its delivery.
pub(crate) type EventWriter = GroupCommit<PushEvent, bool>;

/// Starts the writer on the current runtime; it ends when every handle is dropped.
pub(crate) fn spawn_event_writer(storage: Arc<dyn Storage>, queue: usize) -> EventWriter {
    GroupCommit::spawn("push report", queue, MAX_BATCH, move |events: Vec<PushEvent>| {
        let storage = storage.clone();
        async move { storage.record_push_events(&events).await }
    })
}
