//! Device progress (checked, offered, downloaded, installed, failed) written with group commit.
//! Checks hand their events over and go on (statistics may trail by one commit); device reports
//! wait until theirs are durable.

use std::sync::Arc;

use midship_storage::group_commit::GroupCommit;
use midship_storage::{DeliveryEventRecord, Storage};

/// Most events in one transaction.
const MAX_BATCH: usize = 4096;

pub(crate) type EventWriter = GroupCommit<DeliveryEventRecord, ()>;

/// Starts the writer on the current runtime; it ends when every handle is dropped.
pub(crate) fn spawn_event_writer(storage: Arc<dyn Storage>, queue: usize) -> EventWriter {
    GroupCommit::spawn("delivery progress", queue, MAX_BATCH, move |events: Vec<DeliveryEventRecord>| {
        let storage = storage.clone();
        async move {
            storage.record_delivery_events(&events).await?;
            Ok(vec![(); events.len()])
        }
    })
}
