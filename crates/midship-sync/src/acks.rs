//! Device acknowledgements, coalesced: only the highest position per (stream, device) is
//! written, in one transaction a few times a second. An ack lost in a crash only means a
//! message comes again, which the SDK recognises by its sequence.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use midship_storage::{Storage, SyncAck, SyncStream};
use tokio::sync::{mpsc, oneshot};

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT: usize = 5000;

enum Command {
    Ack(SyncAck),
    /// Write what is pending now and answer.
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Clone)]
pub(crate) struct AckWriter {
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Ack(ack) => formatter.debug_tuple("Ack").field(ack).finish(),
            Command::Flush(_) => formatter.write_str("Flush"),
        }
    }
}

impl AckWriter {
    pub(crate) fn spawn(storage: Arc<dyn Storage>) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_acks(storage, receiver));
        Self { commands }
    }

    pub(crate) fn record(&self, ack: SyncAck) {
        // Only fails when the runtime is shutting down; the ack is then re-earned on reconnect.
        let _ = self.commands.send(Command::Ack(ack));
    }

    /// Returns once every ack recorded before the call is written (or its write failed).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.commands.send(Command::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_acks(storage: Arc<dyn Storage>, mut receiver: mpsc::UnboundedReceiver<Command>) {
    let mut pending: HashMap<(SyncStream, String), SyncAck> = HashMap::new();
    let mut ticker = tokio::time::interval(FLUSH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (open, flushed) = tokio::select! {
            received = receiver.recv() => match received {
                Some(Command::Ack(ack)) => {
                    let key = (ack.stream.clone(), ack.device_id.clone());
                    if pending.get(&key).is_none_or(|known| known.seq < ack.seq) {
                        pending.insert(key, ack);
                    }
                    if pending.len() < FLUSH_AT {
                        continue;
                    }
                    (true, None)
                }
                Some(Command::Flush(done)) => (true, Some(done)),
                None => (false, None),
            },
            _ = ticker.tick() => (true, None),
        };
        if !pending.is_empty() {
            let acks: Vec<SyncAck> = pending.values().cloned().collect();
            match storage.ack_sync(&acks).await {
                Ok(()) => pending.clear(),
                Err(error) => tracing::warn!(%error, acks = acks.len(), "cannot record sync acks; retrying"),
            }
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
        if !open {
            return;
        }
    }
}
