//! Device progress (checked, offered, downloaded, installed, failed) written by one task with
//! group commit. Checks hand their events over and go on (statistics may trail by one commit);
//! device reports wait until theirs are durable.

use std::sync::Arc;

use midship_storage::{DeliveryEventRecord, Storage, StorageError};
use tokio::sync::{mpsc, oneshot};

/// Most events in one transaction.
const MAX_BATCH: usize = 4096;

type Reply = oneshot::Sender<Result<(), Arc<StorageError>>>;

#[derive(Debug, Clone)]
pub(crate) struct EventWriter {
    queue: mpsc::Sender<(Vec<DeliveryEventRecord>, Option<Reply>)>,
}

impl EventWriter {
    /// Starts the writer on the current runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(storage: Arc<dyn Storage>, queue: usize) -> Self {
        let (sender, mut receiver) = mpsc::channel::<(Vec<DeliveryEventRecord>, Option<Reply>)>(queue);
        tokio::spawn(async move {
            while let Some((mut events, reply)) = receiver.recv().await {
                let mut replies: Vec<Reply> = reply.into_iter().collect();
                while events.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok((more, reply)) => {
                            events.extend(more);
                            replies.extend(reply);
                        }
                        Err(_) => break,
                    }
                }
                let outcome = storage.record_delivery_events(&events).await.map_err(Arc::new);
                if let Err(error) = &outcome {
                    tracing::warn!(%error, events = events.len(), "cannot record delivery progress");
                }
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        Self { queue: sender }
    }

    /// Queues events without waiting for them.
    pub(crate) async fn record(&self, events: Vec<DeliveryEventRecord>) {
        if !events.is_empty() && self.queue.send((events, None)).await.is_err() {
            tracing::warn!("the delivery progress writer has stopped");
        }
    }

    /// Records events (and everything queued before them), once durable.
    pub(crate) async fn record_durably(&self, events: Vec<DeliveryEventRecord>) -> Result<(), StorageError> {
        let stopped = || StorageError::Database("the delivery progress writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.queue.send((events, Some(reply))).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(|error| StorageError::Database(error.to_string()))
    }
}
