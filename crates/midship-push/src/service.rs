//! The push service: what backends and devices call, and the dispatcher.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use midship_api::{PushMessageBody, PushRequest, PushRevokeRequest, PushTarget};
use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::{NewAuditEntry, Platform, Principal, Workspace};
use midship_storage::{
    BroadcastAudience, DeliveryFilter, DeliveryOutcome, DeliveryUpdate, PushDefinitionKind, PushDefinitionRecord,
    PushDeliveryRecord, PushDeviceRecord, PushEvent, PushEventKind, PushReport, PushStatsRow, PushStatsScope,
    PushTaskRecord, PushTaskStatus, StorageError,
};
use midship_sync::{PUSH_BIZ_TYPE, SyncService};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::PushError;
use crate::channel::own::{self, OwnChannel};
use crate::channel::{ChannelFactory, ChannelKinds, ChannelResult, OWN_CHANNEL, Outgoing, PushChannel};
use crate::events::EventWriter;
use crate::message::{self, DEFAULT_EXPIRY_SECONDS, OwnChannelPayload};
use crate::schedule::{self, Repeat};

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
const MAX_ID_CHARS: usize = 128;
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

/// A task and how many devices it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSummary {
    pub task: PushTaskRecord,
    pub targets: i64,
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
                let mut values = self.request.values.clone();
                if let Some(own) = &delivery.values {
                    let own: BTreeMap<String, String> = serde_json::from_str(own).map_err(|error| {
                        PushError::from(StorageError::Corrupt { table: "push_deliveries", detail: error.to_string() })
                    })?;
                    values.extend(own);
                }
                message::render(template, &values)
            }
        }
    }
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
    if value.is_empty() || value.chars().count() > MAX_ID_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(field, format!("must be 1 to {MAX_ID_CHARS} printable characters")));
    }
    Ok(())
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
        let (app, workspace) = self.control().visible_workspace(who, workspace_id).await?;
        who.authorize_app(action, &app.app_id).map_err(ControlError::from)?;
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
            Err(StorageError::NotFound { .. }) => {
                Err(PushError::UnknownDevice(device_id.chars().filter(|c| !c.is_control()).take(64).collect()))
            }
            other => {
                other?;
                tracing::info!(app_id = %workspace.app_id, workspace_id, device_id, bound = user_id.is_some(), "push binding set by the backend");
                Ok(())
            }
        }
    }

    async fn settings_of(&self, workspace_id: &str) -> Result<PushSettings, PushError> {
        let records =
            self.control().storage().list_push_definitions(workspace_id, PushDefinitionKind::Settings).await?;
        records.into_iter().find(|record| record.name == SETTINGS_NAME).map_or(Ok(PushSettings::default()), |record| {
            serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))
        })
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
                PushDefinitionKind::Template => PushError::UnknownTemplate(name.chars().take(64).collect()),
                PushDefinitionKind::Channel | PushDefinitionKind::Settings => {
                    PushError::UnknownChannel(name.chars().take(64).collect())
                }
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

    async fn template(&self, workspace_id: &str, name: &str) -> Result<PushMessageBody, PushError> {
        let records =
            self.control().storage().list_push_definitions(workspace_id, PushDefinitionKind::Template).await?;
        let record = records
            .into_iter()
            .find(|record| record.name == name)
            .ok_or_else(|| PushError::UnknownTemplate(name.chars().filter(|c| !c.is_control()).take(64).collect()))?;
        serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))
    }

    /// The workspace's channel built from its stored definition, rebuilt only when the
    /// definition changed (so provider tokens are reused).
    async fn channel(&self, workspace_id: &str, name: &str) -> Result<Arc<dyn PushChannel>, PushError> {
        if name == OWN_CHANNEL {
            return Ok(self.inner.own.clone());
        }
        let records = self.control().storage().list_push_definitions(workspace_id, PushDefinitionKind::Channel).await?;
        let record = records
            .into_iter()
            .find(|record| record.name == name)
            .ok_or_else(|| PushError::UnknownChannel(name.to_owned()))?;
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

    // ---- sending -----------------------------------------------------------------------------

    /// Checks a push, stores it with one delivery per device (or, when scheduled, for its first
    /// run) and wakes the dispatcher. Nothing is stored when any part is wrong.
    pub async fn send(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushKind,
        request: PushRequest,
    ) -> Result<TaskSummary, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let now = self.now_ms();
        let template_message = self.check_request(workspace_id, kind, &request, now).await?;
        let task_id = self.control().new_id();
        let schedule = request.schedule.clone();
        let definition = TaskDefinition { request, template_message };
        let mut task = PushTaskRecord {
            task_id: task_id.clone(),
            workspace_id: workspace_id.to_owned(),
            parent_task_id: None,
            kind: kind.as_str().to_owned(),
            definition: serde_json::to_string(&definition).expect("task definitions serialize"),
            status: PushTaskStatus::Sending,
            created_at: now,
            next_run_at: None,
            runs: 1,
        };
        let audit = NewAuditEntry::by(who, now, &format!("push.{}", kind.as_str()), "push_task", &task_id)
            .in_app(&workspace.app_id)
            .after(serde_json::to_value(&definition.request).expect("requests serialize"));
        let deliveries = if let Some(schedule) = schedule {
            task.status = PushTaskStatus::Scheduled;
            task.next_run_at = Some(schedule.at);
            task.runs = 0;
            Vec::new()
        } else {
            self.resolve(&task, kind, &definition, now).await?
        };
        let targets = i64::try_from(deliveries.len()).unwrap_or(i64::MAX);
        self.control().storage().create_push_task(&task, &deliveries, None, Some(&audit)).await?;
        tracing::info!(app_id = %workspace.app_id, workspace_id, task_id, kind = kind.as_str(), targets, status = task.status.as_str(), "push task created");
        self.inner.wake.notify_one();
        Ok(TaskSummary { task, targets })
    }

    /// Checks everything that can be checked before a push is stored; answers the template's
    /// message for template kinds.
    async fn check_request(
        &self,
        workspace_id: &str,
        kind: PushKind,
        request: &PushRequest,
        now: i64,
    ) -> Result<Option<PushMessageBody>, PushError> {
        let (max_targets, needs_message, needs_template) = match kind {
            PushKind::Simple => (MAX_SIMPLE_TARGETS, true, false),
            PushKind::Template => (MAX_SIMPLE_TARGETS, false, true),
            PushKind::Multiple => (MAX_MULTIPLE_TARGETS, false, true),
            PushKind::Broadcast => (0, true, false),
        };
        if kind == PushKind::Broadcast {
            if !request.targets.is_empty() {
                return Err(invalid("targets", "a broadcast names an audience, not targets"));
            }
            check_id("msg_id", request.msg_id.as_deref().unwrap_or_default())?;
            self.audience(workspace_id, request, now)?;
        } else {
            if request.targets.is_empty() || request.targets.len() > max_targets {
                return Err(invalid("targets", format!("a {} push takes 1 to {max_targets} targets", kind.as_str())));
            }
            if request.audience.is_some() || request.msg_id.is_some() {
                return Err(invalid("audience", "only broadcasts take an audience and a msg_id"));
            }
            let mut seen = HashSet::new();
            for target in &request.targets {
                if target.kind != "device" && target.kind != "user" {
                    return Err(invalid("targets.kind", "must be device or user"));
                }
                check_id("targets.id", &target.id)?;
                check_id("targets.msg_id", &target.msg_id)?;
                if !seen.insert((&target.kind, &target.id)) {
                    return Err(invalid("targets", format!("{} {} is named twice", target.kind, target.id)));
                }
                if kind != PushKind::Multiple && !target.values.is_empty() {
                    return Err(invalid("targets.values", "only multiple pushes take values per target"));
                }
            }
        }
        if needs_message != request.message.is_some() {
            let what = if needs_message { "needs a message" } else { "takes its message from the template" };
            return Err(invalid("message", format!("a {} push {what}", kind.as_str())));
        }
        if needs_template != request.template.is_some() {
            return Err(invalid(
                "template",
                format!("a {} push {} a template", kind.as_str(), if needs_template { "needs" } else { "takes no" }),
            ));
        }
        if kind != PushKind::Template && !request.values.is_empty() {
            return Err(invalid("values", "only template pushes take shared values"));
        }
        if let Some(schedule) = &request.schedule {
            schedule::validate(schedule, now)?;
        }
        if let Some(message) = &request.message {
            message::validate(message)?;
            message::check_size(message)?;
            return Ok(None);
        }
        let name = request.template.as_deref().unwrap_or_default();
        let template = self.template(workspace_id, name).await?;
        let targets: Vec<&PushTarget> = request.targets.iter().collect();
        for target in targets {
            let mut values = request.values.clone();
            values.extend(target.values.clone());
            let rendered = message::render(&template, &values)?;
            message::validate(&rendered)?;
            message::check_size(&rendered)?;
        }
        Ok(Some(template))
    }

    fn audience(&self, workspace_id: &str, request: &PushRequest, now: i64) -> Result<BroadcastAudience, PushError> {
        let audience = request.audience.clone().unwrap_or_default();
        if let Some(platform) = &audience.platform {
            check_platform(platform)?;
        }
        let bound = match audience.devices.as_deref().unwrap_or("all") {
            "all" => None,
            "bound" => Some(true),
            "unbound" => Some(false),
            _ => return Err(invalid("audience.devices", "must be all, bound or unbound")),
        };
        let bound_since = match audience.bound_within_days {
            None => None,
            Some(days @ (7 | 15)) if bound == Some(true) => Some(now - i64::from(days) * DAY_MS),
            Some(7 | 15) => return Err(invalid("audience.bound_within_days", "applies to bound devices only")),
            Some(_) => return Err(invalid("audience.bound_within_days", "must be 7 or 15")),
        };
        Ok(BroadcastAudience { workspace_id: workspace_id.to_owned(), platform: audience.platform, bound, bound_since })
    }

    /// One delivery per device the task reaches, each on its channel: the device's reported
    /// channel when it has a live token and the workspace has that channel, else the own one.
    async fn resolve(
        &self,
        task: &PushTaskRecord,
        kind: PushKind,
        definition: &TaskDefinition,
        now: i64,
    ) -> Result<Vec<PushDeliveryRecord>, PushError> {
        let storage = self.control().storage();
        let workspace_id = task.workspace_id.as_str();
        let request = &definition.request;
        let expiry_seconds = match &definition.template_message {
            Some(template) => template.expiry_seconds,
            None => request.message.as_ref().and_then(|message| message.expiry_seconds),
        }
        .unwrap_or(DEFAULT_EXPIRY_SECONDS);
        let expires_at = now + i64::from(expiry_seconds) * 1000;
        let configured: HashSet<String> = storage
            .list_push_definitions(workspace_id, PushDefinitionKind::Channel)
            .await?
            .into_iter()
            .map(|record| record.name)
            .collect();
        // (device, msg_id, values)
        let mut reached: Vec<(PushDeviceRecord, String, Option<String>)> = Vec::new();
        if kind == PushKind::Broadcast {
            let audience = self.audience(workspace_id, request, now)?;
            let msg_id = request.msg_id.clone().unwrap_or_default();
            reached.extend(
                storage.push_audience(&audience).await?.into_iter().map(|device| (device, msg_id.clone(), None)),
            );
        } else {
            for target in &request.targets {
                let values =
                    (!target.values.is_empty()).then(|| serde_json::to_string(&target.values).expect("maps serialize"));
                let devices = if target.kind == "user" {
                    storage.push_devices_of_user(workspace_id, &target.id).await?
                } else {
                    // A device that never reported is still reachable over the own channel.
                    vec![storage.get_push_device(workspace_id, &target.id).await?.unwrap_or(PushDeviceRecord {
                        workspace_id: workspace_id.to_owned(),
                        device_id: target.id.clone(),
                        platform: "unknown".into(),
                        channel: OWN_CHANNEL.into(),
                        token: None,
                        token_retired_at: None,
                        user_id: None,
                        bound_at: None,
                        reported_at: now,
                    })]
                };
                reached.extend(devices.into_iter().map(|device| (device, target.msg_id.clone(), values.clone())));
            }
        }
        let mut seen = HashSet::new();
        Ok(reached
            .into_iter()
            .filter(|(device, _, _)| seen.insert(device.device_id.clone()))
            .map(|(device, msg_id, values)| {
                let usable =
                    device.token.is_some() && device.token_retired_at.is_none() && configured.contains(&device.channel);
                let (channel, token) =
                    if usable { (device.channel, device.token) } else { (OWN_CHANNEL.to_owned(), None) };
                PushDeliveryRecord {
                    task_id: task.task_id.clone(),
                    workspace_id: workspace_id.to_owned(),
                    device_id: device.device_id,
                    user_id: device.user_id,
                    platform: device.platform,
                    channel,
                    token,
                    msg_id,
                    values,
                    created_at: now,
                    expires_at,
                    sent_at: None,
                    failed_at: None,
                    error: None,
                    delivered_at: None,
                    opened_at: None,
                    ignored_at: None,
                    revoked_at: None,
                }
            })
            .collect())
    }

    // ---- tasks ---------------------------------------------------------------------------------

    async fn owned_task(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskRecord, PushError> {
        self.control()
            .storage()
            .get_push_task(task_id)
            .await?
            .filter(|task| task.workspace_id == workspace_id)
            .ok_or_else(|| PushError::UnknownTask(task_id.chars().filter(|c| !c.is_control()).take(64).collect()))
    }

    async fn summary(&self, task: PushTaskRecord) -> Result<TaskSummary, PushError> {
        let rows = self
            .control()
            .storage()
            .push_stats(&task.workspace_id, &PushStatsScope::Task(task.task_id.clone()))
            .await?;
        Ok(TaskSummary { targets: rows.iter().map(|row| row.targets).sum(), task })
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
                    return Err(PushError::UnknownTask(format!(
                        "with msg_id {} in the last 7 days",
                        msg_id.chars().filter(|c| !c.is_control()).take(64).collect::<String>()
                    )));
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
        for chunk in notices.chunks(midship_sync::MAX_BATCH_MESSAGES) {
            if let Err(error) = self.inner.sync.send_batch_in(&workspace, chunk.to_vec()).await {
                tracing::warn!(%error, ?task_ids, "revoke notices not stored");
            }
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

    // ---- the dispatcher ----------------------------------------------------------------------

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
            match self.dispatch(task).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, task_id = %task.task_id, "push dispatch stopped; it resumes on the next pass");
                    false
                }
            }
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
            let Some(last) = pending.last() else { break };
            let after = last.device_id.clone();
            let now = self.now_ms();
            let mut updates = Vec::with_capacity(pending.len());
            let mut by_channel: BTreeMap<String, Vec<Outgoing>> = BTreeMap::new();
            for delivery in std::mem::take(&mut pending) {
                if delivery.expires_at <= now {
                    updates.push(failed(&delivery, "expired before it could be sent".into(), now));
                    continue;
                }
                match definition.message_for(&delivery) {
                    Ok(message) => {
                        by_channel.entry(delivery.channel.clone()).or_default().push(Outgoing { delivery, message })
                    }
                    Err(error) => updates.push(failed(&delivery, error.to_string(), now)),
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
                        ChannelResult::Sent => updates.push(DeliveryUpdate {
                            task_id: delivery.task_id.clone(),
                            device_id: delivery.device_id.clone(),
                            outcome: DeliveryOutcome::Sent,
                            at: now,
                        }),
                        ChannelResult::Failed { error, token_invalid } => {
                            tracing::debug!(task_id = %delivery.task_id, device_id = %delivery.device_id, channel = %delivery.channel, %error, "push not sent");
                            if token_invalid && let Some(token) = &delivery.token {
                                storage
                                    .retire_push_token(&delivery.workspace_id, &delivery.device_id, token, now)
                                    .await?;
                                tracing::info!(device_id = %delivery.device_id, channel = %delivery.channel, "push token retired");
                            }
                            updates.push(failed(delivery, error, now));
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

    /// Runs [`Self::run_pending`] every `interval`, and at once when a push is created.
    pub fn spawn_dispatcher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut passes = tokio::task::JoinSet::new();
            loop {
                // Passes overlap, so a new push need not wait for a long broadcast's pass;
                // a task is dispatched by one pass at a time.
                let pass = service.clone();
                passes.spawn(async move {
                    if let Err(error) = pass.run_pending().await {
                        tracing::warn!(%error, "push dispatcher pass failed");
                    }
                });
                while passes.try_join_next().is_some() {}
                let _ = tokio::time::timeout(interval, service.inner.wake.notified()).await;
            }
        })
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

fn failed(delivery: &PushDeliveryRecord, error: String, at: i64) -> DeliveryUpdate {
    DeliveryUpdate {
        task_id: delivery.task_id.clone(),
        device_id: delivery.device_id.clone(),
        outcome: DeliveryOutcome::Failed { error },
        at,
    }
}
