//! The push service: device reports and bindings, templates, channel settings, tasks, revoke and
//! statistics. This module holds the service and what its parts share; each part has its module:
//! `devices` (reports, bindings, settings), `definitions` (templates, channels), `send` (checks
//! and target resolution), `dispatch` (the dispatcher) and `tasks` (views, cancel, revoke, stats).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use midship_api::{PushMessageBody, PushRequest};
use midship_control::ControlPlane;
use midship_core::access::Action;
use midship_core::{Platform, Principal, Workspace};
use midship_storage::{PushDeliveryRecord, PushStatsRow, PushTaskRecord, StorageError};
use midship_sync::SyncService;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::PushError;
use crate::channel::own::OwnChannel;
use crate::channel::{ChannelFactory, ChannelKinds, PushChannel};
use crate::events::{EventWriter, spawn_event_writer};
use crate::message::{self};

mod definitions;
mod devices;
mod dispatch;
mod send;
mod tasks;

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
/// How long a push task's lease lasts unless renewed (every step renews it): how soon another
/// node resumes the task of a node that died.
const TASK_LEASE_MS: i64 = 15_000;
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    wake: Arc<Notify>,
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
        let events = spawn_event_writer(control.storage().clone(), EVENT_QUEUE);
        Self {
            inner: Arc::new(Inner {
                own: Arc::new(OwnChannel { sync: sync.clone() }),
                control,
                sync,
                kinds: RwLock::new(ChannelKinds::standard()),
                channels: Mutex::new(HashMap::new()),
                running: Mutex::new(HashSet::new()),
                wake: Arc::new(Notify::new()),
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
}
