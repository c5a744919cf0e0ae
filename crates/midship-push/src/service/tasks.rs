//! Tasks as operators see them: summaries, deliveries, cancel, revoke and statistics.

use midship_api::PushRevokeRequest;
use midship_core::access::Action;
use midship_core::ids::echo;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::{
    DeliveryFilter, PushDeliveryRecord, PushStatsRow, PushStatsScope, PushTaskRecord, PushTaskStatus, StorageError,
};
use midship_sync::PUSH_BIZ_TYPE;

use super::{DAY_MS, MAX_STATS_RANGE_MS, PushService, REVOKE_WINDOW_MS, RevokeOutcome, TaskSummary, invalid};
use crate::PushError;
use crate::channel::OWN_CHANNEL;
use crate::channel::own::{self};
use crate::message::OwnChannelPayload;

impl PushService {
    pub(super) async fn owned_task(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskRecord, PushError> {
        self.control()
            .storage()
            .get_push_task(task_id)
            .await?
            .filter(|task| task.workspace_id == workspace_id)
            .ok_or_else(|| PushError::UnknownTask(echo(task_id)))
    }

    pub(super) async fn summary(&self, task: PushTaskRecord) -> Result<TaskSummary, PushError> {
        let rows = self
            .control()
            .storage()
            .push_stats(&task.workspace_id, &PushStatsScope::Task(task.task_id.clone()))
            .await?;
        Ok(TaskSummary { totals: PushStatsRow::total(&rows), task })
    }

    pub async fn task(&self, who: &Principal, workspace_id: &str, task_id: &str) -> Result<TaskSummary, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let task = self.owned_task(workspace_id, task_id).await?;
        self.summary(task).await
    }

    /// The newest tasks first.
    pub async fn tasks(&self, who: &Principal, workspace_id: &str, limit: u32) -> Result<Vec<TaskSummary>, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let tasks = self.control().storage().list_push_tasks(workspace_id, limit.clamp(1, 200)).await?;
        let mut summaries = Vec::with_capacity(tasks.len());
        for task in tasks {
            summaries.push(self.summary(task).await?);
        }
        Ok(summaries)
    }

    /// A task's deliveries in device order, after `after_device_id`: each device's channel,
    /// outcome times and error.
    pub async fn deliveries(
        &self,
        who: &Principal,
        workspace_id: &str,
        task_id: &str,
        after_device_id: &str,
        limit: u32,
    ) -> Result<Vec<PushDeliveryRecord>, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        self.owned_task(workspace_id, task_id).await?;
        let storage = self.control().storage();
        Ok(storage.push_deliveries(task_id, DeliveryFilter::All, after_device_id, limit.clamp(1, 1000)).await?)
    }

    /// Stops a scheduled or repeating task, or the rest of a task still sending.
    pub async fn cancel(&self, who: &Principal, workspace_id: &str, task_id: &str) -> Result<TaskSummary, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let mut task = self.owned_task(workspace_id, task_id).await?;
        if !matches!(task.status, PushTaskStatus::Scheduled | PushTaskStatus::Sending) {
            return Err(PushError::Conflict(format!(
                "task {task_id} is {}; only scheduled or sending tasks cancel",
                task.status.as_str()
            )));
        }
        let audit =
            NewAuditEntry::by(who, self.now_ms(), "push.cancel", "push_task", task_id).in_app(&workspace.app_id);
        self.control().storage().set_push_task_status(task_id, PushTaskStatus::Cancelled, Some(&audit)).await?;
        task.status = PushTaskStatus::Cancelled;
        self.summary(task).await
    }

    /// Revokes a task's messages (or one target's) within 7 days: undelivered ones are taken
    /// back; devices that got one over the own channel are told to take its notification down.
    pub async fn revoke(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: &PushRevokeRequest,
    ) -> Result<RevokeOutcome, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let now = self.now_ms();
        let storage = self.control().storage();
        let task_ids = match (&request.task_id, &request.msg_id) {
            (Some(task_id), None) => {
                let task = self.owned_task(workspace_id, task_id).await?;
                if now - task.created_at > REVOKE_WINDOW_MS {
                    return Err(PushError::Conflict(format!(
                        "task {task_id} is older than 7 days; it can no longer be revoked"
                    )));
                }
                vec![task.task_id]
            }
            (None, Some(msg_id)) if request.target_id.is_some() => {
                let task_ids = storage.push_tasks_by_msg_id(workspace_id, msg_id, now - REVOKE_WINDOW_MS).await?;
                if task_ids.is_empty() {
                    return Err(PushError::UnknownTask(format!("with msg_id {} in the last 7 days", echo(msg_id))));
                }
                task_ids
            }
            (None, Some(_)) => return Err(invalid("msg_id", "revoking by msg_id needs a target")),
            _ => return Err(invalid("task_id", "give task_id, or msg_id with a target")),
        };
        let devices: Vec<Option<String>> = match (request.target_kind.as_deref(), request.target_id.as_deref()) {
            (None, None) => vec![None],
            (Some("device"), Some(id)) => vec![Some(id.to_owned())],
            (Some("user"), Some(id)) => storage
                .push_devices_of_user(workspace_id, id)
                .await?
                .into_iter()
                .map(|device| Some(device.device_id))
                .collect(),
            _ => return Err(invalid("target_kind", "give target_kind (device or user) and target_id together")),
        };
        let mut revoked = Vec::new();
        for task_id in &task_ids {
            let audit = NewAuditEntry::by(who, now, "push.revoke", "push_task", task_id)
                .in_app(&workspace.app_id)
                .after(serde_json::to_value(request).expect("requests serialize"));
            for (index, device) in devices.iter().enumerate() {
                let audit = (index == 0).then_some(&audit);
                revoked.extend(
                    storage.revoke_push_deliveries(workspace_id, task_id, device.as_deref(), now, audit).await?,
                );
            }
        }
        let mut outcome = RevokeOutcome { revoked: revoked.len() as u64, removed_undelivered: 0 };
        let mut notices = Vec::new();
        for delivery in &revoked {
            if delivery.sent_at.is_none() {
                outcome.removed_undelivered += 1;
                continue;
            }
            if delivery.channel != OWN_CHANNEL {
                continue;
            }
            // Taken out of the stream either way, so a reconnecting device never gets it again.
            let removed = self
                .inner
                .sync
                .revoke_in(workspace_id, PUSH_BIZ_TYPE, &delivery.device_id, &delivery.task_id)
                .await
                .map_err(|error| PushError::from(StorageError::Database(error.to_string())))?;
            if removed && delivery.delivered_at.is_none() {
                outcome.removed_undelivered += 1;
            } else {
                let payload = OwnChannelPayload::Revoke { task_id: delivery.task_id.clone() };
                let id = format!("revoke:{}", delivery.task_id);
                notices.push(own::request(&delivery.device_id, &id, &payload, delivery.expires_at.max(now + DAY_MS)));
            }
        }
        if !notices.is_empty()
            && let Err(error) = self.inner.sync.send_batch_in(&workspace, notices).await
        {
            tracing::warn!(%error, ?task_ids, "revoke notices not stored");
        }
        Ok(outcome)
    }

    /// Counts per channel and platform for a task (with its runs) or for the tasks created in a
    /// range of at most 90 days.
    pub async fn stats(
        &self,
        who: &Principal,
        workspace_id: &str,
        scope: PushStatsScope,
    ) -> Result<Vec<PushStatsRow>, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        match &scope {
            PushStatsScope::Task(task_id) => {
                self.owned_task(workspace_id, task_id).await?;
            }
            PushStatsScope::Range { from, until } => {
                if until <= from || until - from > MAX_STATS_RANGE_MS {
                    return Err(invalid("range", "until must be after from, at most 90 days later"));
                }
            }
        }
        Ok(self.control().storage().push_stats(workspace_id, &scope).await?)
    }
}
