//! Group commit: concurrent sends are written in one transaction each time the previous one
//! finishes, so a node stores thousands of messages per second with one fsync per batch, and
//! every send still waits until its own message is durable.

use std::sync::Arc;

use midship_storage::{AppendOutcome, Storage, StorageError, SyncAppend};
use tokio::sync::{mpsc, oneshot};

/// Most messages in one transaction.
const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<AppendOutcome, Arc<StorageError>>>;

#[derive(Debug, Clone)]
pub(crate) struct Appender {
    requests: mpsc::Sender<(SyncAppend, Reply)>,
}

impl Appender {
    /// Starts the writer task on the current runtime; it ends when every `Appender` is dropped.
    pub(crate) fn spawn(storage: Arc<dyn Storage>, queue: usize) -> Self {
        let (requests, receiver) = mpsc::channel(queue);
        tokio::spawn(write_batches(storage, receiver));
        Self { requests }
    }

    /// Durable when it answers.
    pub(crate) async fn append(&self, append: SyncAppend) -> Result<AppendOutcome, Arc<StorageError>> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Arc::new(StorageError::Database("the sync writer has stopped".to_owned()));
        self.requests.send((append, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(storage: Arc<dyn Storage>, mut receiver: mpsc::Receiver<(SyncAppend, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One lock order for every node's transactions (by stream, keeping each stream's order),
        // so batches of two nodes on PostgreSQL cannot deadlock.
        batch.sort_by(|(left, _), (right, _)| left.message.stream.cmp(&right.message.stream));
        let appends: Vec<SyncAppend> = batch.iter().map(|(append, _)| append.clone()).collect();
        match storage.append_sync_messages(&appends).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // One bad message must not fail the others: try each on its own.
            Err(error) if batch.len() > 1 => {
                tracing::warn!(%error, messages = batch.len(), "a sync batch failed; writing its messages one by one");
                for (append, reply) in batch.drain(..) {
                    let outcome = storage.append_sync_messages(std::slice::from_ref(&append)).await;
                    let _ = reply.send(outcome.map(|mut outcomes| outcomes.remove(0)).map_err(Arc::new));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
