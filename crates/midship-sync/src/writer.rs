//! The one task per node that writes sync data: appends, device acks and purges. SQLite has one
//! writer at a time, and writers that collide wait in its busy handler for milliseconds; queued
//! here they never collide, and concurrent sends share one transaction (group commit): a node
//! stores thousands of messages per second with one fsync per batch, and every send still waits
//! until its own message is durable.
//!
//! Acks are coalesced — only the highest position per (stream, device) is written, a few times a
//! second. An ack lost in a crash only means a message comes again, which clients recognise by its
//! sequence.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use midship_storage::{
    AppendOutcome, ScheduledSyncMessage, Storage, StorageError, SyncAck, SyncAppend, SyncPurge, SyncStream,
};
use tokio::sync::{mpsc, oneshot};

/// Most messages in one transaction.
const MAX_BATCH: usize = 1024;
const ACK_FLUSH_EVERY: Duration = Duration::from_millis(100);
const ACK_FLUSH_AT: usize = 5000;

type Reply<T> = oneshot::Sender<Result<T, Arc<StorageError>>>;

enum Command {
    Append(SyncAppend, Reply<AppendOutcome>),
    AppendScheduled(Box<ScheduledSyncMessage>, Reply<Option<i64>>),
    Ack(SyncAck),
    /// Write the pending acks now, then answer.
    FlushAcks(oneshot::Sender<()>),
    Purge(i64, Reply<SyncPurge>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Command::Append(..) => "Append",
            Command::AppendScheduled(..) => "AppendScheduled",
            Command::Ack(_) => "Ack",
            Command::FlushAcks(_) => "FlushAcks",
            Command::Purge(..) => "Purge",
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SyncWriter {
    commands: mpsc::Sender<Command>,
}

fn stopped() -> Arc<StorageError> {
    Arc::new(StorageError::Database("the sync writer has stopped".to_owned()))
}

impl SyncWriter {
    /// Starts the writer task on the current runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(storage: Arc<dyn Storage>, queue: usize) -> Self {
        let (commands, receiver) = mpsc::channel(queue);
        tokio::spawn(run(storage, receiver));
        Self { commands }
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Arc<StorageError>> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Durable when it answers.
    pub(crate) async fn append(&self, append: SyncAppend) -> Result<AppendOutcome, Arc<StorageError>> {
        self.ask(|reply| Command::Append(append, reply)).await
    }

    /// Several appends, queued in the order given (so one stream numbers them in that order),
    /// each with its own answer.
    pub(crate) async fn append_all(&self, appends: Vec<SyncAppend>) -> Vec<Result<AppendOutcome, Arc<StorageError>>> {
        let mut answers = Vec::with_capacity(appends.len());
        for append in appends {
            let (reply, answer) = oneshot::channel();
            let queued = self.commands.send(Command::Append(append, reply)).await.is_ok();
            answers.push(queued.then_some(answer));
        }
        let mut outcomes = Vec::with_capacity(answers.len());
        for answer in answers {
            outcomes.push(match answer {
                Some(answer) => answer.await.unwrap_or_else(|_| Err(stopped())),
                None => Err(stopped()),
            });
        }
        outcomes
    }

    pub(crate) async fn append_scheduled(
        &self,
        scheduled: ScheduledSyncMessage,
    ) -> Result<Option<i64>, Arc<StorageError>> {
        self.ask(|reply| Command::AppendScheduled(Box::new(scheduled), reply)).await
    }

    pub(crate) async fn purge(&self, now: i64) -> Result<SyncPurge, Arc<StorageError>> {
        self.ask(|reply| Command::Purge(now, reply)).await
    }

    /// Never waits: when the queue is full the ack is dropped, and re-earned on reconnect.
    pub(crate) fn ack(&self, ack: SyncAck) {
        let _ = self.commands.try_send(Command::Ack(ack));
    }

    /// Returns once every ack recorded before the call is written (or its write failed).
    pub(crate) async fn flush_acks(&self) {
        let (done, written) = oneshot::channel();
        if self.commands.send(Command::FlushAcks(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

struct Writer {
    storage: Arc<dyn Storage>,
    pending_acks: HashMap<(SyncStream, String), SyncAck>,
}

async fn run(storage: Arc<dyn Storage>, mut receiver: mpsc::Receiver<Command>) {
    let mut writer = Writer { storage, pending_acks: HashMap::new() };
    let mut ticker = tokio::time::interval(ACK_FLUSH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut commands = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut commands, MAX_BATCH) => {
                if received == 0 {
                    writer.write_acks().await;
                    return;
                }
                writer.handle(&mut commands).await;
                if writer.pending_acks.len() >= ACK_FLUSH_AT {
                    writer.write_acks().await;
                }
            }
            _ = ticker.tick() => writer.write_acks().await,
        }
    }
}

impl Writer {
    /// Handles and empties `commands`, keeping its allocation for the next round.
    async fn handle(&mut self, commands: &mut Vec<Command>) {
        let mut appends = Vec::new();
        for command in commands.drain(..) {
            match command {
                Command::Append(append, reply) => appends.push((append, reply)),
                Command::Ack(ack) => {
                    let key = (ack.stream.clone(), ack.device_id.clone());
                    if self.pending_acks.get(&key).is_none_or(|known| known.seq < ack.seq) {
                        self.pending_acks.insert(key, ack);
                    }
                }
                Command::FlushAcks(done) => {
                    self.write_acks().await;
                    let _ = done.send(());
                }
                Command::AppendScheduled(scheduled, reply) => {
                    let _ = reply.send(self.storage.append_scheduled_sync_message(&scheduled).await.map_err(Arc::new));
                }
                Command::Purge(now, reply) => {
                    let _ = reply.send(self.storage.purge_expired_sync(now).await.map_err(Arc::new));
                }
            }
        }
        if !appends.is_empty() {
            self.append_batch(appends).await;
        }
    }

    async fn append_batch(&self, mut batch: Vec<(SyncAppend, Reply<AppendOutcome>)>) {
        // One lock order for every node's transactions (by stream, keeping each stream's order),
        // so batches of two nodes on PostgreSQL cannot deadlock.
        batch.sort_by(|(left, _), (right, _)| left.message.stream.cmp(&right.message.stream));
        let (appends, replies): (Vec<SyncAppend>, Vec<Reply<AppendOutcome>>) = batch.into_iter().unzip();
        match self.storage.append_sync_messages(&appends).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // One bad message must not fail the others: try each on its own.
            Err(error) if appends.len() > 1 => {
                tracing::warn!(%error, messages = appends.len(), "a sync batch failed; writing its messages one by one");
                for (append, reply) in appends.iter().zip(replies) {
                    let outcome = self.storage.append_sync_messages(std::slice::from_ref(append)).await;
                    let _ = reply.send(outcome.map(|mut outcomes| outcomes.remove(0)).map_err(Arc::new));
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

    async fn write_acks(&mut self) {
        if self.pending_acks.is_empty() {
            return;
        }
        let acks: Vec<SyncAck> = self.pending_acks.values().cloned().collect();
        match self.storage.ack_sync(&acks).await {
            Ok(()) => self.pending_acks.clear(),
            Err(error) => tracing::warn!(%error, acks = acks.len(), "cannot record sync acks; retrying"),
        }
    }
}
