//! Device reports (arrived, opened, dismissed) written by one task with group commit: after a
//! broadcast every device reports at once, and one transaction per report would queue thousands
//! of commits behind each other. Each report is still answered only once it is durable.

use std::sync::Arc;

use midship_storage::{PushEvent, Storage, StorageError};
use tokio::sync::{mpsc, oneshot};

/// Most reports in one transaction.
const MAX_BATCH: usize = 2048;

type Reply = oneshot::Sender<Result<bool, Arc<StorageError>>>;

#[derive(Debug, Clone)]
pub(crate) struct EventWriter {
    reports: mpsc::Sender<(PushEvent, Reply)>,
}

impl EventWriter {
    /// Starts the writer on the current runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(storage: Arc<dyn Storage>, queue: usize) -> Self {
        let (reports, mut receiver) = mpsc::channel::<(PushEvent, Reply)>(queue);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(report) => batch.push(report),
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<PushEvent>, Vec<Reply>) = batch.into_iter().unzip();
                match storage.record_push_events(&events).await {
                    Ok(changed) => {
                        for (reply, changed) in replies.into_iter().zip(changed) {
                            let _ = reply.send(Ok(changed));
                        }
                    }
                    Err(error) => {
                        let error = Arc::new(error);
                        for reply in replies {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        Self { reports }
    }

    /// Whether the report changed its delivery, once it is durable.
    pub(crate) async fn record(&self, event: PushEvent) -> Result<bool, StorageError> {
        let stopped = || StorageError::Database("the push report writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.reports.send((event, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(|error| StorageError::Database(error.to_string()))
    }
}
