//! Group commit: one task writes whatever is waiting in one transaction, so a burst of small
//! writes (device reports after a broadcast, progress events, analytics uploads) costs a few
//! commits instead of one each. A caller either waits until its items are durable and gets one
//! outcome per item, or hands them over and goes on.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::StorageError;

type Reply<R> = oneshot::Sender<Result<Vec<R>, Arc<StorageError>>>;

/// Items of one caller, with where to answer (none: the caller does not wait).
struct Submission<T, R> {
    items: Vec<T>,
    reply: Option<Reply<R>>,
}

/// The handle callers hold; the task ends when every handle is dropped, after writing what was
/// queued.
#[derive(Debug)]
pub struct GroupCommit<T, R> {
    queue: mpsc::Sender<Submission<T, R>>,
    name: &'static str,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone(), name: self.name }
    }
}

impl<T, R> GroupCommit<T, R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    /// Starts the writer on the current runtime. `commit` stores a group in one transaction and
    /// answers one outcome per item, in order; at most `max_group` items go in one group, and
    /// `queue` submissions wait before callers do.
    pub fn spawn<C, Fut>(name: &'static str, queue: usize, max_group: usize, commit: C) -> Self
    where
        C: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, StorageError>> + Send,
    {
        let (sender, mut receiver) = mpsc::channel::<Submission<T, R>>(queue.max(1));
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut group = vec![first];
                let mut items = group[0].items.len();
                while items < max_group
                    && let Ok(next) = receiver.try_recv()
                {
                    items += next.items.len();
                    group.push(next);
                }
                let counts: Vec<usize> = group.iter().map(|submission| submission.items.len()).collect();
                let mut replies = Vec::with_capacity(group.len());
                let all: Vec<T> = group
                    .into_iter()
                    .flat_map(|submission| {
                        replies.push(submission.reply);
                        submission.items
                    })
                    .collect();
                match commit(all).await {
                    Ok(outcomes) => {
                        let mut outcomes = outcomes.into_iter();
                        for (reply, count) in replies.into_iter().zip(counts) {
                            let mine: Vec<R> = outcomes.by_ref().take(count).collect();
                            if let Some(reply) = reply {
                                let _ = reply.send(Ok(mine));
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, writer = name, items, "group commit failed");
                        let error = Arc::new(error);
                        for reply in replies.into_iter().flatten() {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        Self { queue: sender, name }
    }

    /// Writes `items` (and everything queued before them); answers their outcomes once durable.
    pub async fn write(&self, items: Vec<T>) -> Result<Vec<R>, StorageError> {
        let stopped = || StorageError::Database(format!("the {} writer has stopped", self.name));
        let (reply, answer) = oneshot::channel();
        self.queue.send(Submission { items, reply: Some(reply) }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(|error| StorageError::Database(error.to_string()))
    }

    /// Queues `items` without waiting for them to be written.
    pub async fn hand_over(&self, items: Vec<T>) {
        if !items.is_empty() && self.queue.send(Submission { items, reply: None }).await.is_err() {
            tracing::warn!(writer = self.name, "the writer has stopped; items dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn waiting_items_are_written_together_and_each_caller_gets_its_own_outcomes() {
        let groups = Arc::new(Mutex::new(Vec::new()));
        let seen = groups.clone();
        let writer = GroupCommit::spawn("test", 64, 100, move |items: Vec<u32>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(items.len());
                tokio::task::yield_now().await;
                Ok(items.into_iter().map(|item| item * 10).collect())
            }
        });
        let callers: Vec<_> = (0..20u32)
            .map(|caller| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(vec![caller, caller + 100]).await.unwrap() })
            })
            .collect();
        for (caller, handle) in callers.into_iter().enumerate() {
            let caller = caller as u32;
            assert_eq!(handle.await.unwrap(), vec![caller * 10, (caller + 100) * 10]);
        }
        writer.hand_over(vec![7]).await;
        assert_eq!(writer.write(vec![8]).await.unwrap(), vec![80]);
        let groups = groups.lock().unwrap();
        assert_eq!(groups.iter().sum::<usize>(), 42, "every item written once");
        assert!(groups.len() < 22, "some were grouped: {groups:?}");
    }

    #[tokio::test]
    async fn a_failed_group_fails_every_waiting_caller() {
        let writer = GroupCommit::spawn("test", 8, 100, |_: Vec<u32>| async {
            Err::<Vec<u32>, _>(StorageError::Database("disk full".into()))
        });
        let error = writer.write(vec![1]).await.unwrap_err();
        assert!(error.to_string().contains("disk full"), "{error}");
    }
}
