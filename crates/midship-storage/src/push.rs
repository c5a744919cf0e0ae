//! Push's storage: devices with their push tokens and bound users, definitions (templates and
//! channel credentials), tasks, and one delivery row per task and device, which is both the
//! dispatcher's to-do list (so a crash resumes where it stopped) and the statistics.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;

use crate::StorageResult;

/// A device as push knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDeviceRecord {
    pub workspace_id: String,
    pub device_id: String,
    pub platform: String,
    /// `own` (the long connection), `apns`, `fcm` or a vendor channel's name.
    pub channel: String,
    /// The channel's device token; `None` for the own channel.
    pub token: Option<String>,
    /// When a channel said the token is no longer valid; the device is then reached through the
    /// own channel until it reports a new token.
    pub token_retired_at: Option<UnixMillis>,
    pub user_id: Option<String>,
    pub bound_at: Option<UnixMillis>,
    pub reported_at: UnixMillis,
}

/// What a device reports: its platform and, when it has one, a channel token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub workspace_id: String,
    pub device_id: String,
    pub platform: String,
    pub channel: String,
    pub token: Option<String>,
    pub at: UnixMillis,
}

/// A workspace's named push definition (JSON owned by `midship-push`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushDefinitionKind {
    Template,
    /// A channel's settings and credentials (APNs, FCM, vendor).
    Channel,
    /// The workspace's push settings (one, named `workspace`).
    Settings,
}

impl PushDefinitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushDefinitionKind::Template => "template",
            PushDefinitionKind::Channel => "channel",
            PushDefinitionKind::Settings => "settings",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDefinitionRecord {
    pub workspace_id: String,
    pub kind: PushDefinitionKind,
    pub name: String,
    pub definition: String,
    pub updated_at: UnixMillis,
}

/// Where a push task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushTaskStatus {
    /// Waits for `next_run_at`.
    Scheduled,
    Sending,
    Done,
    Cancelled,
}

impl PushTaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PushTaskStatus::Scheduled => "scheduled",
            PushTaskStatus::Sending => "sending",
            PushTaskStatus::Done => "done",
            PushTaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [PushTaskStatus::Scheduled, PushTaskStatus::Sending, PushTaskStatus::Done, PushTaskStatus::Cancelled]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTaskRecord {
    pub task_id: String,
    pub workspace_id: String,
    /// The task a scheduled or repeating task ran as this one.
    pub parent_task_id: Option<String>,
    /// `simple`, `template`, `multiple` or `broadcast`.
    pub kind: String,
    /// The request, as JSON owned by `midship-push`.
    pub definition: String,
    pub status: PushTaskStatus,
    pub created_at: UnixMillis,
    pub next_run_at: Option<UnixMillis>,
    /// Runs started so far (repeating tasks).
    pub runs: i64,
}

/// One task's message to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDeliveryRecord {
    pub task_id: String,
    pub workspace_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    pub platform: String,
    pub channel: String,
    pub token: Option<String>,
    /// The business message id the sender gave this target.
    pub msg_id: String,
    /// This target's placeholder values (JSON object), for template and multiple pushes.
    pub values: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub sent_at: Option<UnixMillis>,
    pub failed_at: Option<UnixMillis>,
    pub error: Option<String>,
    pub delivered_at: Option<UnixMillis>,
    pub opened_at: Option<UnixMillis>,
    pub ignored_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

/// Which of a task's deliveries to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFilter {
    All,
    /// Not yet sent, failed or revoked: the dispatcher's to-do list.
    Pending,
}

/// What a channel made of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub task_id: String,
    pub device_id: String,
    pub outcome: DeliveryOutcome,
    pub at: UnixMillis,
}

/// What a device said about a message it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEventKind {
    Delivered,
    Opened,
    /// Dismissed without opening.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub workspace_id: String,
    pub task_id: String,
    pub device_id: String,
    pub kind: PushEventKind,
    pub at: UnixMillis,
}

/// Which tasks a statistics query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatsScope {
    /// A task and the runs of it.
    Task(String),
    /// Deliveries created in `[from, until)`.
    Range { from: UnixMillis, until: UnixMillis },
}

/// Counts of one channel and platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStatsRow {
    pub channel: String,
    pub platform: String,
    pub targets: i64,
    pub sent: i64,
    pub failed: i64,
    pub delivered: i64,
    pub opened: i64,
    pub ignored: i64,
    pub revoked: i64,
}

impl PushStatsRow {
    /// The sum of `rows`, with channel and platform `all`.
    pub fn total(rows: &[PushStatsRow]) -> PushStatsRow {
        rows.iter().fold(
            PushStatsRow { channel: "all".into(), platform: "all".into(), ..PushStatsRow::default() },
            |total, row| PushStatsRow {
                targets: total.targets + row.targets,
                sent: total.sent + row.sent,
                failed: total.failed + row.failed,
                delivered: total.delivered + row.delivered,
                opened: total.opened + row.opened,
                ignored: total.ignored + row.ignored,
                revoked: total.revoked + row.revoked,
                ..total
            },
        )
    }
}

/// Which devices a broadcast reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastAudience {
    pub workspace_id: String,
    pub platform: Option<String>,
    /// `Some(true)`: devices bound to a user; `Some(false)`: unbound ones; `None`: all.
    pub bound: Option<bool>,
    /// Bound at or after this time.
    pub bound_since: Option<UnixMillis>,
}

#[async_trait]
pub trait PushStore: Send + Sync {
    /// Records the device's channel and token, keeping its bound user; a new token clears a
    /// retirement.
    async fn report_push_device(&self, report: &PushReport) -> StorageResult<()>;
    /// Binds the device to `user_id`, or unbinds it with `None`. `NotFound` for a device that
    /// never reported.
    async fn bind_push_device(
        &self,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
        at: UnixMillis,
    ) -> StorageResult<()>;
    async fn get_push_device(&self, workspace_id: &str, device_id: &str) -> StorageResult<Option<PushDeviceRecord>>;
    /// Devices bound to the user, ordered by device id.
    async fn push_devices_of_user(&self, workspace_id: &str, user_id: &str) -> StorageResult<Vec<PushDeviceRecord>>;
    /// Devices of a broadcast's audience, ordered by device id.
    async fn push_audience(&self, audience: &BroadcastAudience) -> StorageResult<Vec<PushDeviceRecord>>;
    /// Marks the token retired if the device still has this token; whether it did.
    async fn retire_push_token(
        &self,
        workspace_id: &str,
        device_id: &str,
        token: &str,
        at: UnixMillis,
    ) -> StorageResult<bool>;

    async fn put_push_definition(&self, record: &PushDefinitionRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// `NotFound` when there is no such definition.
    async fn delete_push_definition(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
    /// Ordered by name.
    async fn list_push_definitions(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
    ) -> StorageResult<Vec<PushDefinitionRecord>>;

    /// Stores the task and its deliveries (unsent: their outcome fields are not read) in one
    /// transaction; `Conflict` when the task id
    /// exists. When the task is a run of a parent, the parent's `next_run_at`, `runs` and
    /// `status` are set to the given parent's in the same transaction.
    async fn create_push_task(
        &self,
        task: &PushTaskRecord,
        deliveries: &[PushDeliveryRecord],
        parent: Option<&PushTaskRecord>,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()>;
    async fn get_push_task(&self, task_id: &str) -> StorageResult<Option<PushTaskRecord>>;
    /// The workspace's tasks, newest first.
    async fn list_push_tasks(&self, workspace_id: &str, limit: u32) -> StorageResult<Vec<PushTaskRecord>>;
    /// Scheduled tasks due at `now` and tasks left `sending` (by a crash), oldest first.
    async fn runnable_push_tasks(&self, now: UnixMillis, limit: u32) -> StorageResult<Vec<PushTaskRecord>>;
    /// Sets a task's status; `NotFound` for an unknown task.
    async fn set_push_task_status(
        &self,
        task_id: &str,
        status: PushTaskStatus,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()>;
    /// The task's deliveries (or only its pending ones) after `after_device_id` in device order,
    /// at most `limit`.
    async fn push_deliveries(
        &self,
        task_id: &str,
        which: DeliveryFilter,
        after_device_id: &str,
        limit: u32,
    ) -> StorageResult<Vec<PushDeliveryRecord>>;
    /// Records what channels made of deliveries, in one transaction.
    async fn update_push_deliveries(&self, updates: &[DeliveryUpdate]) -> StorageResult<()>;
    /// Records device reports in one transaction; the first report of each kind counts. Unknown
    /// deliveries are skipped. Answers, per event, whether it changed its delivery.
    async fn record_push_events(&self, events: &[PushEvent]) -> StorageResult<Vec<bool>>;
    /// Marks the deliveries of the task and its runs (or one device's) revoked, with the audit
    /// entry, and returns them as they were before; already revoked ones are left out.
    async fn revoke_push_deliveries(
        &self,
        workspace_id: &str,
        task_id: &str,
        device_id: Option<&str>,
        at: UnixMillis,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<Vec<PushDeliveryRecord>>;
    /// Tasks created at or after `since` with a delivery carrying the sender's `msg_id`, oldest first.
    async fn push_tasks_by_msg_id(
        &self,
        workspace_id: &str,
        msg_id: &str,
        since: UnixMillis,
    ) -> StorageResult<Vec<String>>;
    /// Counts per channel and platform, ordered by channel then platform.
    async fn push_stats(&self, workspace_id: &str, scope: &PushStatsScope) -> StorageResult<Vec<PushStatsRow>>;
}
