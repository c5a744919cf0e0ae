//! The push service: device reports and bindings, templates, channel settings, tasks, revoke and
//! statistics; sending lives in `send`, the dispatcher in `dispatch`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use midship_api::{PushMessageBody, PushRequest, PushRevokeRequest};
use midship_control::ControlPlane;
use midship_core::access::Action;
use midship_core::ids::echo;
use midship_core::{NewAuditEntry, Platform, Principal, Workspace};
use midship_storage::{
    DeliveryFilter, PushDefinitionKind, PushDefinitionRecord, PushDeliveryRecord, PushEvent, PushEventKind, PushReport,
    PushStatsRow, PushStatsScope, PushTaskRecord, PushTaskStatus, StorageError,
};
use midship_sync::{PUSH_BIZ_TYPE, SyncService};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::PushError;
use crate::channel::own::{self, OwnChannel};
use crate::channel::{ChannelFactory, ChannelKinds, OWN_CHANNEL, PushChannel};
use crate::events::EventWriter;
use crate::message::{self, OwnChannelPayload};

mod dispatch;
mod send;

const DAY_MS: i64 = 86_400_000;
/// Targets of a simple or template push.
pub const MAX_SIMPLE_TARGETS: usize = 10;
/// Targets of a multiple push.
pub const MAX_MULTIPLE_TARGETS: usize = 100;
/// How long after sending a task may be revoked.
pub const REVOKE_WINDOW_MS: i64 = 7 * DAY_MS;
/// The longest statistics range.
pub const MAX_STATS_RANGE_MS: i64 = 90 * DAY_MS;
/// Deliveries read, sent and recorded per dispatcher step.
const DISPATCH_CHUNK: u32 = 2000;
/// Device reports waiting for the report writer before callers wait too.
const EVENT_QUEUE: usize = 16_384;
/// Tasks one dispatcher pass looks at.
const RUNNABLE_BATCH: u32 = 100;
/// Fields of a channel definition that are credentials: never echoed back or written to the audit log.
const SECRET_FIELDS: [&str; 2] = ["private_key", "service_account"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushKind {
    Simple,
    Template,
    Multiple,
    Broadcast,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Simple => "simple",
            PushKind::Template => "template",
            PushKind::Multiple => "multiple",
            PushKind::Broadcast => "broadcast",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [PushKind::Simple, PushKind::Template, PushKind::Multiple, PushKind::Broadcast]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// Who may bind a device to a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceBinding {
    /// The device itself (`midship.push.bind` with the user it claims) or the backend.
    #[default]
    Device,
    /// Only the backend, through the admin API, which knows who signed in: a device cannot bind
    /// itself to someone else's user and receive their pushes.
    Backend,
}

/// A workspace's push settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    #[serde(default)]
    pub device_binding: DeviceBinding,
}

/// The name of the one settings definition of a workspace.
const SETTINGS_NAME: &str = "workspace";

/// What a device reports through `midship.push.report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    pub workspace_id: String,
    pub device_id: String,
    pub platform: String,
    /// `None` or `own` for devices reached only over the long connection.
    pub channel: Option<String>,
    pub token: Option<String>,
}

/// Told what each dispatcher step handed to each channel (the server counts it for `/metrics`).
pub trait DispatchObserver: Send + Sync + std::fmt::Debug {
    fn dispatched(&self, channel: &str, sent: u64, failed: u64);
}

/// A task and its figures so far (with its runs), summed over channels and platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSummary {
    pub task: PushTaskRecord,
    pub totals: PushStatsRow,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevokeOutcome {
    pub revoked: u64,
    /// Of those, messages taken back before the device got them.
    pub removed_undelivered: u64,
}

/// What a task keeps of its request: the request itself and, for template kinds, the template's
/// message as it was when the task was created.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskDefinition {
    request: PushRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template_message: Option<PushMessageBody>,
}

impl TaskDefinition {
    /// The message one delivery carries.
    fn message_for(&self, delivery: &PushDeliveryRecord) -> Result<PushMessageBody, PushError> {
        match &self.template_message {
            None => self.request.message.clone().ok_or_else(|| invalid("message", "is required")),
            Some(template) => {
                let own: BTreeMap<String, String> = match &delivery.values {
                    Some(own) => serde_json::from_str(own).map_err(corrupt("push_deliveries"))?,
                    None => BTreeMap::new(),
                };
                render_for_target(template, &self.request.values, &own)
            }
        }
    }
}

/// A template's message for one target: the push's shared values, then the target's own.
fn render_for_target(
    template: &PushMessageBody,
    shared: &BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> Result<PushMessageBody, PushError> {
    let mut values = shared.clone();
    values.extend(own.iter().map(|(name, value)| (name.clone(), value.clone())));
    message::render(template, &values)
}

/// Built channels by (workspace, name), with the definition each was built from.
type BuiltChannels = HashMap<(String, String), (String, Arc<dyn PushChannel>)>;

struct Inner {
    control: ControlPlane,
    sync: SyncService,
    own: Arc<OwnChannel>,
    kinds: RwLock<ChannelKinds>,
    channels: Mutex<BuiltChannels>,
    /// Tasks this node is dispatching.
    running: Mutex<HashSet<String>>,
    wake: Notify,
    observer: Option<Arc<dyn DispatchObserver>>,
    events: EventWriter,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("PushService").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct PushService {
    inner: Arc<Inner>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> PushError {
    PushError::Invalid { field, message: message.into() }
}

fn check_id(field: &'static str, value: &str) -> Result<(), PushError> {
    midship_core::validation::caller_id(field, value).map_err(|error| invalid(error.field, error.message))
}

fn check_platform(platform: &str) -> Result<(), PushError> {
    Platform::from_str(platform).map(|_| ()).map_err(|_| {
        let known: Vec<&str> = Platform::ALL.iter().map(|platform| platform.as_str()).collect();
        invalid("platform", format!("must be one of {}", known.join(", ")))
    })
}

fn check_name(field: &'static str, name: &str) -> Result<(), PushError> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err(invalid(field, "must be 1 to 64 of a-z, 0-9, _ and -, starting with a letter"));
    }
    Ok(())
}

/// A channel definition without its credentials.
pub fn redacted(definition: &Value) -> Value {
    let mut shown = definition.clone();
    if let Some(fields) = shown.as_object_mut() {
        for field in SECRET_FIELDS {
            if fields.contains_key(field) {
                fields.insert(field.to_owned(), Value::String("(redacted)".into()));
            }
        }
    }
    shown
}

fn corrupt(table: &'static str) -> impl Fn(serde_json::Error) -> PushError {
    move |error| PushError::from(StorageError::Corrupt { table, detail: error.to_string() })
}

impl PushService {
    pub fn new(control: ControlPlane, sync: SyncService) -> Self {
        Self::observed(control, sync, None)
    }

    /// With an observer of what the dispatcher sends.
    pub fn observed(control: ControlPlane, sync: SyncService, observer: Option<Arc<dyn DispatchObserver>>) -> Self {
        let events = EventWriter::spawn(control.storage().clone(), EVENT_QUEUE);
        Self {
            inner: Arc::new(Inner {
                own: Arc::new(OwnChannel { sync: sync.clone() }),
                control,
                sync,
                kinds: RwLock::new(ChannelKinds::standard()),
                channels: Mutex::new(HashMap::new()),
                running: Mutex::new(HashSet::new()),
                wake: Notify::new(),
                observer,
                events,
            }),
        }
    }

    /// Adds a vendor channel kind (the plug-in point; docs/push.md).
    pub fn register_channel_kind(&self, kind: &str, factory: Arc<dyn ChannelFactory>) {
        self.inner.kinds.write().expect("channel kinds lock").register(kind, factory);
    }

    fn control(&self) -> &ControlPlane {
        &self.inner.control
    }

    fn now_ms(&self) -> i64 {
        self.inner.control.now_ms()
    }

    async fn workspace(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<Workspace, PushError> {
        let (_, workspace) = self.control().authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    // ---- devices -------------------------------------------------------------------------

    /// Records a device's platform and channel token (`midship.push.report`).
    pub async fn report(&self, report: DeviceReport) -> Result<(), PushError> {
        check_platform(&report.platform)?;
        let channel = report.channel.clone().unwrap_or_else(|| OWN_CHANNEL.to_owned());
        check_name("channel", &channel)?;
        let token = report.token.filter(|token| !token.is_empty());
        match (&token, channel == OWN_CHANNEL) {
            (Some(_), true) => return Err(invalid("token", "the own channel takes no token")),
            (None, false) => return Err(invalid("token", format!("channel {channel} needs the device's token"))),
            (Some(token), false) if token.len() > 4096 || token.chars().any(char::is_control) => {
                return Err(invalid("token", "must be at most 4096 printable characters"));
            }
            _ => {}
        }
        let record = PushReport {
            workspace_id: report.workspace_id,
            device_id: report.device_id,
            platform: report.platform,
            channel,
            token,
            at: self.now_ms(),
        };
        self.control().storage().report_push_device(&record).await?;
        Ok(())
    }

    /// Binds the device to a user (`midship.push.bind`) or unbinds it (`None`), unless the
    /// workspace takes bindings from its backend only.
    pub async fn bind(
        &self,
        workspace_id: &str,
        device_id: &str,
        platform: &str,
        user_id: Option<&str>,
    ) -> Result<(), PushError> {
        if self.settings_of(workspace_id).await?.device_binding == DeviceBinding::Backend {
            return Err(PushError::Denied(
                "this workspace binds devices to users through its backend only (push settings)".into(),
            ));
        }
        if let Some(user_id) = user_id {
            check_id("user_id", user_id)?;
        }
        let storage = self.control().storage();
        let now = self.now_ms();
        match storage.bind_push_device(workspace_id, device_id, user_id, now).await {
            // A device that never reported a token is reached over the own channel.
            Err(StorageError::NotFound { .. }) => {
                check_platform(platform)?;
                let report = PushReport {
                    workspace_id: workspace_id.to_owned(),
                    device_id: device_id.to_owned(),
                    platform: platform.to_owned(),
                    channel: OWN_CHANNEL.to_owned(),
                    token: None,
                    at: now,
                };
                storage.report_push_device(&report).await?;
                storage.bind_push_device(workspace_id, device_id, user_id, now).await?;
            }
            other => other?,
        }
        Ok(())
    }

    /// A backend binds a device that reported to push to the user who signed in on it, or
    /// unbinds it (`None`).
    pub async fn bind_by_backend(
        &self,
        who: &Principal,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
    ) -> Result<(), PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        if let Some(user_id) = user_id {
            check_id("user_id", user_id)?;
        }
        match self.control().storage().bind_push_device(workspace_id, device_id, user_id, self.now_ms()).await {
            Err(StorageError::NotFound { .. }) => Err(PushError::UnknownDevice(echo(device_id))),
            other => {
                other?;
                tracing::info!(app_id = %workspace.app_id, workspace_id, device_id, bound = user_id.is_some(), "push binding set by the backend");
                Ok(())
            }
        }
    }

    async fn settings_of(&self, workspace_id: &str) -> Result<PushSettings, PushError> {
        match self.definition(workspace_id, PushDefinitionKind::Settings, SETTINGS_NAME).await? {
            Some(record) => serde_json::from_str(&record.definition).map_err(corrupt("push_definitions")),
            None => Ok(PushSettings::default()),
        }
    }

    pub async fn settings(&self, who: &Principal, workspace_id: &str) -> Result<PushSettings, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        self.settings_of(workspace_id).await
    }

    pub async fn put_settings(
        &self,
        who: &Principal,
        workspace_id: &str,
        settings: PushSettings,
    ) -> Result<PushSettings, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        let definition = serde_json::to_value(settings).expect("settings serialize");
        self.put_definition(
            who,
            &workspace,
            PushDefinitionKind::Settings,
            SETTINGS_NAME,
            definition.clone(),
            definition,
        )
        .await?;
        Ok(settings)
    }

    /// A device says it got, opened or dismissed a message (`midship.push.ack`). Unknown tasks
    /// are ignored: a device may report after a task was purged.
    pub async fn record_event(
        &self,
        workspace_id: &str,
        device_id: &str,
        task_id: &str,
        kind: PushEventKind,
    ) -> Result<bool, PushError> {
        check_id("task_id", task_id)?;
        let event = PushEvent {
            workspace_id: workspace_id.to_owned(),
            task_id: task_id.to_owned(),
            device_id: device_id.to_owned(),
            kind,
            at: self.now_ms(),
        };
        Ok(self.inner.events.record(event).await?)
    }

    // ---- templates and channels ------------------------------------------------------------

    pub async fn put_template(
        &self,
        who: &Principal,
        workspace_id: &str,
        name: &str,
        template: PushMessageBody,
    ) -> Result<PushMessageBody, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        check_name("name", name)?;
        message::validate(&template)?;
        message::placeholders(&template)?;
        let definition = serde_json::to_value(&template).expect("messages serialize");
        self.put_definition(who, &workspace, PushDefinitionKind::Template, name, definition.clone(), definition)
            .await?;
        Ok(template)
    }

    /// Stores a channel's settings and credentials after building the channel from them, so
    /// a malformed key is refused here rather than at the first send.
    pub async fn put_channel(
        &self,
        who: &Principal,
        workspace_id: &str,
        name: &str,
        definition: Value,
    ) -> Result<Value, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        check_name("name", name)?;
        if name == OWN_CHANNEL {
            return Err(invalid("name", "`own` is Midship's own channel and needs no settings"));
        }
        if !definition.is_object() {
            return Err(invalid("channel", "must be a JSON object"));
        }
        let channel =
            self.inner.kinds.read().expect("channel kinds lock").build(&definition, self.control().clock())?;
        channel
            .verify()
            .await
            .map_err(|error| invalid("channel", format!("the provider refused the credentials: {error}")))?;
        let shown = redacted(&definition);
        let stored = definition.to_string();
        self.put_definition(who, &workspace, PushDefinitionKind::Channel, name, definition, shown.clone()).await?;
        // Kept built, so the token the check obtained serves the first sends.
        let key = (workspace_id.to_owned(), name.to_owned());
        self.inner.channels.lock().expect("channels lock").insert(key, (stored, channel));
        Ok(shown)
    }

    async fn put_definition(
        &self,
        who: &Principal,
        workspace: &Workspace,
        kind: PushDefinitionKind,
        name: &str,
        definition: Value,
        audited: Value,
    ) -> Result<(), PushError> {
        let now = self.now_ms();
        let audit = NewAuditEntry::by(who, now, &format!("push.{}.set", kind.as_str()), kind.as_str(), name)
            .in_app(&workspace.app_id)
            .after(audited);
        let record = PushDefinitionRecord {
            workspace_id: workspace.workspace_id.clone(),
            kind,
            name: name.to_owned(),
            definition: definition.to_string(),
            updated_at: now,
        };
        self.control().storage().put_push_definition(&record, &audit).await?;
        Ok(())
    }

    pub async fn delete_definition(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
    ) -> Result<(), PushError> {
        let action = if kind == PushDefinitionKind::Template { Action::Operate } else { Action::ManageApps };
        let workspace = self.workspace(who, workspace_id, action).await?;
        let audit =
            NewAuditEntry::by(who, self.now_ms(), &format!("push.{}.delete", kind.as_str()), kind.as_str(), name)
                .in_app(&workspace.app_id);
        match self.control().storage().delete_push_definition(workspace_id, kind, name, &audit).await {
            Err(StorageError::NotFound { .. }) => Err(match kind {
                PushDefinitionKind::Template => PushError::UnknownTemplate(echo(name)),
                PushDefinitionKind::Channel | PushDefinitionKind::Settings => PushError::UnknownChannel(echo(name)),
            }),
            other => Ok(other?),
        }
    }

    /// Templates, or channels with their credentials redacted, by name.
    pub async fn list_definitions(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushDefinitionKind,
    ) -> Result<Vec<(String, Value)>, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let records = self.control().storage().list_push_definitions(workspace_id, kind).await?;
        records
            .into_iter()
            .map(|record| {
                let definition: Value =
                    serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))?;
                Ok((record.name, if kind == PushDefinitionKind::Channel { redacted(&definition) } else { definition }))
            })
            .collect()
    }

    /// The workspace's definition of this kind and name, if stored.
    async fn definition(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
    ) -> Result<Option<PushDefinitionRecord>, PushError> {
        let records = self.control().storage().list_push_definitions(workspace_id, kind).await?;
        Ok(records.into_iter().find(|record| record.name == name))
    }

    async fn template(&self, workspace_id: &str, name: &str) -> Result<PushMessageBody, PushError> {
        let record = self
            .definition(workspace_id, PushDefinitionKind::Template, name)
            .await?
            .ok_or_else(|| PushError::UnknownTemplate(echo(name)))?;
        serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))
    }

    /// The workspace's channel built from its stored definition, rebuilt only when the
    /// definition changed (so provider tokens are reused).
    async fn channel(&self, workspace_id: &str, name: &str) -> Result<Arc<dyn PushChannel>, PushError> {
        if name == OWN_CHANNEL {
            return Ok(self.inner.own.clone());
        }
        let record = self
            .definition(workspace_id, PushDefinitionKind::Channel, name)
            .await?
            .ok_or_else(|| PushError::UnknownChannel(echo(name)))?;
        let key = (workspace_id.to_owned(), name.to_owned());
        if let Some((definition, channel)) = self.inner.channels.lock().expect("channels lock").get(&key)
            && *definition == record.definition
        {
            return Ok(channel.clone());
        }
        let definition: Value = serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))?;
        let channel =
            self.inner.kinds.read().expect("channel kinds lock").build(&definition, self.control().clock())?;
        self.inner.channels.lock().expect("channels lock").insert(key, (record.definition, channel.clone()));
        Ok(channel)
    }

    // ---- tasks ---------------------------------------------------------------------------------

    async fn owned_task(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskRecord, PushError> {
        self.control()
            .storage()
            .get_push_task(task_id)
            .await?
            .filter(|task| task.workspace_id == workspace_id)
            .ok_or_else(|| PushError::UnknownTask(echo(task_id)))
    }

    async fn summary(&self, task: PushTaskRecord) -> Result<TaskSummary, PushError> {
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
