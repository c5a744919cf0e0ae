//! The dispatcher: due schedules start their runs, and every sending task goes out in recorded
//! steps.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use midship_control::jobs::{BackgroundJob, JobError, Placement};
use midship_storage::{
    DeliveryFilter, DeliveryOutcome, DeliveryUpdate, PushDeliveryRecord, PushTaskRecord, PushTaskStatus, StorageError,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::{DISPATCH_CHUNK, PushKind, PushService, RUNNABLE_BATCH, TASK_LEASE_MS, TaskDefinition, corrupt};
use crate::PushError;
use crate::channel::{ChannelResult, Outgoing};
use crate::schedule::{self, Repeat};

impl PushService {
    /// One pass: starts the runs of due scheduled tasks and dispatches every task that is
    /// sending (including those a crash interrupted). Returns the tasks it dispatched; waits
    /// for them.
    pub async fn run_pending(&self) -> Result<usize, PushError> {
        let now = self.now_ms();
        let storage = self.control().storage();
        let mut runnable = Vec::new();
        for task in storage.runnable_push_tasks(now, RUNNABLE_BATCH).await? {
            if task.status != PushTaskStatus::Scheduled {
                runnable.push(task);
                continue;
            }
            match self.start_run(task, now).await {
                Ok(Some(run)) => runnable.push(run),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "a scheduled push could not start"),
            }
        }
        // Tasks go out side by side: a large broadcast does not hold up a simple push.
        let dispatches = runnable.iter().map(|task| async move {
            let Some(_running) = Running::claim(&self.inner.running, &task.task_id) else { return false };
            let lease = task_lease(&task.task_id);
            match self.control().hold_lease(&lease, TASK_LEASE_MS).await {
                Ok(true) => {}
                Ok(false) => return false,
                Err(error) => {
                    tracing::warn!(%error, task_id = %task.task_id, "cannot take the push task's lease");
                    return false;
                }
            }
            let dispatched = match self.dispatch(task).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, task_id = %task.task_id, "push dispatch stopped; it resumes on the next pass");
                    false
                }
            };
            self.control().release_lease(&lease).await;
            dispatched
        });
        let done = futures_util::future::join_all(dispatches).await;
        Ok(done.into_iter().filter(|dispatched| *dispatched).count())
    }

    /// Creates the run of a due scheduled task with its deliveries, and moves the task on to
    /// its next occurrence (or ends it), in one transaction. `None` when another pass won.
    async fn start_run(&self, parent: PushTaskRecord, now: i64) -> Result<Option<PushTaskRecord>, PushError> {
        let definition: TaskDefinition = serde_json::from_str(&parent.definition).map_err(corrupt("push_tasks"))?;
        let kind = PushKind::parse(&parent.kind).ok_or_else(|| {
            PushError::from(StorageError::Corrupt { table: "push_tasks", detail: format!("kind {}", parent.kind) })
        })?;
        let run_number = parent.runs + 1;
        let run = PushTaskRecord {
            task_id: format!("{}.{run_number}", parent.task_id),
            parent_task_id: Some(parent.task_id.clone()),
            status: PushTaskStatus::Sending,
            created_at: now,
            next_run_at: None,
            runs: 1,
            ..parent.clone()
        };
        let schedule = definition.request.schedule.clone().unwrap_or_default();
        let repeat = schedule.repeat.as_deref().map(Repeat::parse).transpose()?;
        let next = repeat
            .map(|repeat| schedule::occurrence(schedule.at, repeat, run_number))
            .filter(|next| schedule.until.is_none_or(|until| *next <= until));
        let advanced = PushTaskRecord {
            status: if next.is_some() { PushTaskStatus::Scheduled } else { PushTaskStatus::Done },
            next_run_at: next,
            runs: run_number,
            ..parent
        };
        let deliveries = self.resolve(&run, kind, &definition, now).await?;
        match self.control().storage().create_push_task(&run, &deliveries, Some(&advanced), None).await {
            Err(StorageError::Conflict { .. }) => Ok(None),
            other => {
                other?;
                tracing::info!(task_id = %run.task_id, targets = deliveries.len(), "scheduled push run started");
                Ok(Some(run))
            }
        }
    }

    /// Sends a task's pending deliveries chunk by chunk, each channel's share concurrently (a
    /// slow or failing channel does not hold the others' results back), recording every
    /// outcome before the next chunk, then marks the task done.
    async fn dispatch(&self, task: &PushTaskRecord) -> Result<(), PushError> {
        let storage = self.control().storage();
        let definition: TaskDefinition = serde_json::from_str(&task.definition).map_err(corrupt("push_tasks"))?;
        let workspace = storage
            .get_workspace(&task.workspace_id)
            .await?
            .ok_or_else(|| PushError::UnknownTask(task.task_id.clone()))?;
        let mut pending = storage.push_deliveries(&task.task_id, DeliveryFilter::Pending, "", DISPATCH_CHUNK).await?;
        loop {
            let status = storage.get_push_task(&task.task_id).await?.map(|task| task.status);
            if status != Some(PushTaskStatus::Sending) {
                return Ok(());
            }
            // Each step renews the lease; a node that lost it (paused past its end) stops here and
            // leaves the task to the node that took it over.
            if !self.control().hold_lease(&task_lease(&task.task_id), TASK_LEASE_MS).await? {
                tracing::warn!(task_id = %task.task_id, "lost the push task's lease; another node continues it");
                return Ok(());
            }
            let Some(last) = pending.last() else { break };
            let after = last.device_id.clone();
            let now = self.now_ms();
            let mut updates = Vec::with_capacity(pending.len());
            let mut by_channel: BTreeMap<String, Vec<Outgoing>> = BTreeMap::new();
            for delivery in std::mem::take(&mut pending) {
                if delivery.expires_at <= now {
                    let outcome = DeliveryOutcome::Failed { error: "expired before it could be sent".into() };
                    updates.push(update(&delivery, outcome, now));
                    continue;
                }
                match definition.message_for(&delivery) {
                    Ok(message) => {
                        by_channel.entry(delivery.channel.clone()).or_default().push(Outgoing { delivery, message })
                    }
                    Err(error) => {
                        updates.push(update(&delivery, DeliveryOutcome::Failed { error: error.to_string() }, now))
                    }
                }
            }
            let sends = by_channel.into_iter().map(|(name, batch)| {
                let workspace = &workspace;
                async move {
                    let results = match self.channel(&workspace.workspace_id, &name).await {
                        Ok(channel) => channel.send(workspace, &batch).await,
                        Err(error) => batch
                            .iter()
                            .map(|_| ChannelResult::Failed { error: error.to_string(), token_invalid: false })
                            .collect(),
                    };
                    (batch, results)
                }
            });
            // The next step's rows are read while this step is sent.
            let (sent, next) = tokio::join!(
                futures_util::future::join_all(sends),
                storage.push_deliveries(&task.task_id, DeliveryFilter::Pending, &after, DISPATCH_CHUNK)
            );
            let now = self.now_ms();
            for (batch, results) in sent {
                if let (Some(observer), Some(first)) = (&self.inner.observer, batch.first()) {
                    let sent = results.iter().filter(|result| **result == ChannelResult::Sent).count() as u64;
                    observer.dispatched(&first.delivery.channel, sent, results.len() as u64 - sent);
                }
                for (outgoing, result) in batch.iter().zip(results) {
                    let delivery = &outgoing.delivery;
                    match result {
                        ChannelResult::Sent => updates.push(update(delivery, DeliveryOutcome::Sent, now)),
                        ChannelResult::Failed { error, token_invalid } => {
                            tracing::debug!(task_id = %delivery.task_id, device_id = %delivery.device_id, channel = %delivery.channel, %error, "push not sent");
                            if token_invalid && let Some(token) = &delivery.token {
                                storage
                                    .retire_push_token(&delivery.workspace_id, &delivery.device_id, token, now)
                                    .await?;
                                tracing::info!(device_id = %delivery.device_id, channel = %delivery.channel, "push token retired");
                            }
                            updates.push(update(delivery, DeliveryOutcome::Failed { error }, now));
                        }
                    }
                }
            }
            storage.update_push_deliveries(&updates).await?;
            pending = next?;
        }
        let still_sending =
            storage.get_push_task(&task.task_id).await?.is_some_and(|task| task.status == PushTaskStatus::Sending);
        if still_sending {
            storage.set_push_task_status(&task.task_id, PushTaskStatus::Done, None).await?;
        }
        Ok(())
    }

    /// The dispatcher as the node runs it: a pass every `interval`, and at once when a push is
    /// created. Every node runs it; a task goes out from the node holding its lease.
    pub fn dispatcher_job(&self, interval: Duration) -> Arc<dyn BackgroundJob> {
        Arc::new(DispatcherJob { service: self.clone(), interval, passes: Mutex::new(JoinSet::new()) })
    }
}

struct DispatcherJob {
    service: PushService,
    interval: Duration,
    /// Passes overlap, so a new push need not wait for a long broadcast's pass; a task is
    /// dispatched by one pass at a time. Dropping the job aborts them.
    passes: Mutex<JoinSet<()>>,
}

#[async_trait::async_trait]
impl BackgroundJob for DispatcherJob {
    fn name(&self) -> &'static str {
        "push-dispatch"
    }

    fn placement(&self) -> Placement {
        Placement::EveryNode
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.service.inner.wake.clone())
    }

    async fn run_once(&self) -> Result<(), JobError> {
        let pass = self.service.clone();
        let mut passes = self.passes.lock().expect("passes lock");
        passes.spawn(async move {
            if let Err(error) = pass.run_pending().await {
                tracing::warn!(%error, "push dispatcher pass failed");
            }
        });
        while passes.try_join_next().is_some() {}
        Ok(())
    }
}

/// A task this node is dispatching; released when dropped, so an aborted or failed dispatch
/// leaves the task free for the next pass.
struct Running<'a> {
    set: &'a Mutex<HashSet<String>>,
    task_id: String,
}

impl<'a> Running<'a> {
    fn claim(set: &'a Mutex<HashSet<String>>, task_id: &str) -> Option<Self> {
        set.lock().expect("running lock").insert(task_id.to_owned()).then(|| Self { set, task_id: task_id.to_owned() })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.set.lock().expect("running lock").remove(&self.task_id);
    }
}

/// A push task is dispatched by the node holding this lease.
fn task_lease(task_id: &str) -> String {
    format!("push-task:{task_id}")
}

fn update(delivery: &PushDeliveryRecord, outcome: DeliveryOutcome, at: i64) -> DeliveryUpdate {
    DeliveryUpdate { task_id: delivery.task_id.clone(), device_id: delivery.device_id.clone(), outcome, at }
}
