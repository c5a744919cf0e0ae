//! The sync service: bizType configurations, sending for backends, stream status, device
//! connections, and the periodic purge and schedule.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::cache::TtlCache;
use midship_core::{NewAuditEntry, Platform, Principal, Workspace};
use midship_storage::{
    AppendOutcome, NewSyncMessage, ScheduleOutcome, Storage, StorageError, SyncAck, SyncAppend, SyncConfigRecord,
    SyncMessageRecord, SyncPurge, SyncStream, SyncTargetKind,
};

use crate::config::{Delivery, Repush, Scope, SyncConfig, SyncConfigError, TargetKindName};
use crate::hub::{Bus, Hub, LocalBus};
use crate::message::{SyncMessage, VersionRange, delivery_condition};
use crate::session::{DeviceIdentity, DeviceSession};
use crate::writer::SyncWriter;
use midship_core::{Classify, ErrorKind};

/// Most messages in one batch send.
pub const MAX_BATCH_MESSAGES: usize = 500;
/// Longest payload, in characters (the mPaaS limit).
pub const MAX_PAYLOAD_CHARS: usize = 4096;
/// How long a node trusts its copy of a workspace's configurations before reading them again
/// (changes made on this node apply at once).
const CONFIG_TTL_MS: i64 = 2000;
const CONFIG_CAPACITY: usize = 100_000;
/// Scheduled messages moved into their streams per maintenance pass.
const DUE_BATCH: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    InvalidConfig(#[from] SyncConfigError),
    #[error("invalid {field}: {message}")]
    InvalidSend { field: &'static str, message: String },
    #[error("no sync configuration for bizType {0}")]
    UnknownBizType(String),
    /// This node holds `max_connections` already.
    #[error("this node holds {0} connections, its maximum")]
    AtCapacity(usize),
}

impl Classify for SyncError {
    fn kind(&self) -> ErrorKind {
        match self {
            SyncError::Control(control) => control.kind(),
            SyncError::InvalidConfig(_) | SyncError::InvalidSend { .. } => ErrorKind::Invalid,
            SyncError::UnknownBizType(_) => ErrorKind::NotFound,
            SyncError::AtCapacity(_) => ErrorKind::Unavailable,
        }
    }
}

impl From<StorageError> for SyncError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

impl From<Arc<StorageError>> for SyncError {
    fn from(error: Arc<StorageError>) -> Self {
        Self::Control(ControlError::Storage(StorageError::Database(error.to_string())))
    }
}

/// Tunables, from the `[sync]` config section.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Connections this node accepts; more are asked to come back later.
    pub max_connections: usize,
    /// Messages waiting for one connection before it is closed as too slow.
    pub connection_queue: usize,
    /// Unacknowledged messages per stream and connection.
    pub window: usize,
    /// Writes (sends, acks) waiting for the writer before senders wait too.
    pub write_queue: usize,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self { max_connections: 200_000, connection_queue: 256, window: 128, write_queue: 16_384 }
    }
}

/// One message for a stream; for global bizTypes `link_token` is empty.
/// The bizType push's own channel sends through: one stream per device, kept for a week.
pub const PUSH_BIZ_TYPE: &str = "midship.push";
const PUSH_RETENTION_DAYS: u32 = 7;
/// The bizType delivery announces release changes through, to every device of a workspace, so
/// online devices check at once (push and pull together). Devices that connect later get the
/// newest announcement only.
pub const DELIVERY_BIZ_TYPE: &str = "midship.delivery";

/// The bizTypes analytics asks devices for their log file through: one names the device, the
/// other the user (every device of the user gets it). Kept 3 days, so a device that comes online
/// later still answers.
pub const DIAGNOSIS_DEVICE_BIZ_TYPE: &str = "midship.diagnosis";
pub const DIAGNOSIS_USER_BIZ_TYPE: &str = "midship.diagnosis.user";
const DIAGNOSIS_RETENTION_DAYS: u32 = 3;

/// bizTypes Midship's services use. Their names hold a dot, which configured ones cannot, so the
/// two never meet.
fn builtin_configs() -> &'static [Arc<SyncConfig>] {
    static BUILTIN: std::sync::LazyLock<Vec<Arc<SyncConfig>>> = std::sync::LazyLock::new(|| {
        vec![
            Arc::new(SyncConfig {
                biz_type: PUSH_BIZ_TYPE.to_owned(),
                scope: Scope::Targeted,
                target: TargetKindName::Device,
                delivery: Delivery::AllDevices,
                persistent: true,
                retention_days: PUSH_RETENTION_DAYS,
                repush: Repush::All,
                verified_users_only: false,
            }),
            Arc::new(SyncConfig {
                biz_type: DELIVERY_BIZ_TYPE.to_owned(),
                scope: Scope::Global,
                target: TargetKindName::Device,
                delivery: Delivery::AllDevices,
                persistent: true,
                retention_days: 1,
                repush: Repush::Newest(1),
                verified_users_only: false,
            }),
            Arc::new(SyncConfig {
                biz_type: DIAGNOSIS_DEVICE_BIZ_TYPE.to_owned(),
                scope: Scope::Targeted,
                target: TargetKindName::Device,
                delivery: Delivery::AllDevices,
                persistent: true,
                retention_days: DIAGNOSIS_RETENTION_DAYS,
                repush: Repush::All,
                verified_users_only: false,
            }),
            Arc::new(SyncConfig {
                biz_type: DIAGNOSIS_USER_BIZ_TYPE.to_owned(),
                scope: Scope::Targeted,
                target: TargetKindName::User,
                delivery: Delivery::AllDevices,
                persistent: true,
                retention_days: DIAGNOSIS_RETENTION_DAYS,
                repush: Repush::All,
                verified_users_only: false,
            }),
        ]
    });
    &BUILTIN
}

fn is_builtin(biz_type: &str) -> bool {
    builtin_configs().iter().any(|config| config.biz_type == biz_type)
}

/// Backends reach built-in bizTypes only through their services (push through the push API).
fn refuse_builtin(request: &SendRequest) -> Result<(), SyncError> {
    if is_builtin(&request.biz_type) {
        return Err(SyncError::UnknownBizType(request.biz_type.clone()));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    pub biz_type: String,
    /// The userId or utdid the message is for.
    pub link_token: String,
    pub payload: String,
    /// The sender's id, unique per bizType and target: a repeat is answered as a duplicate.
    pub third_msg_id: String,
    /// Deliver only to devices of this platform (`android`, `ios`, ...).
    pub os_type: Option<String>,
    pub app_version_range: Option<VersionRange>,
    /// Not delivered before this (milliseconds since the epoch).
    pub valid_from: Option<i64>,
    /// Not delivered (and purged) after this.
    pub valid_until: Option<i64>,
    /// Store and deliver only if the target is online now.
    pub online_check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Stored (persistent) or handed to the online devices (non-persistent).
    Success,
    /// The stream already had this thirdMsgId; nothing new was stored.
    Duplicated,
    /// `online_check` was asked and the target has no connection; nothing was stored.
    TargetOffline,
}

impl SendResult {
    /// The mPaaS-style result string of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SendResult::Success => "SUCCESS",
            SendResult::Duplicated => "DUPLICATED_BIZ_ID",
            SendResult::TargetOffline => "TARGET_OFFLINE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    pub result: SendResult,
    /// The message's place in its stream; `None` for non-persistent and scheduled messages.
    pub seq: Option<i64>,
    /// Waits for its `valid_from` before entering the stream.
    pub scheduled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStatus {
    pub last_seq: i64,
    /// The device's acknowledged position, when a device was named.
    pub acked_seq: Option<i64>,
    /// Whether the target has a connection now.
    pub online: bool,
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    pub purged: SyncPurge,
    /// Scheduled messages that entered their streams.
    pub released: usize,
}

type ConfigList = Arc<Vec<Arc<SyncConfig>>>;

/// A send after its checks.
enum Prepared {
    /// Nothing for the writer: offline target, non-persistent or scheduled message.
    Answered(SendOutcome),
    Append {
        append: SyncAppend,
        latest_device_only: bool,
    },
}

#[derive(Debug)]
struct Inner {
    control: ControlPlane,
    settings: SyncSettings,
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    writer: SyncWriter,
    configs: TtlCache<String, ConfigList>,
}

#[derive(Debug, Clone)]
pub struct SyncService {
    inner: Arc<Inner>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> SyncError {
    SyncError::InvalidSend { field, message: message.into() }
}

fn check_id(field: &'static str, value: &str) -> Result<(), SyncError> {
    midship_core::validation::caller_id(field, value).map_err(|error| invalid(error.field, error.message))
}

impl SyncService {
    /// Starts the writers on the current runtime, with a single-node bus.
    pub fn new(control: ControlPlane, settings: SyncSettings) -> Self {
        let hub = Arc::new(Hub::new(settings.connection_queue));
        let bus = Arc::new(LocalBus::new(hub.clone()));
        Self::with_bus(control, settings, hub, bus)
    }

    /// With the bus of a cluster, which delivers to `hub` and the other nodes' hubs.
    pub fn with_bus(control: ControlPlane, settings: SyncSettings, hub: Arc<Hub>, bus: Arc<dyn Bus>) -> Self {
        let writer = SyncWriter::spawn(control.storage().clone(), settings.write_queue);
        Self {
            inner: Arc::new(Inner {
                control,
                settings,
                hub,
                bus,
                writer,
                configs: TtlCache::new(CONFIG_TTL_MS, CONFIG_CAPACITY),
            }),
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        self.inner.control.storage()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.control.now_ms()
    }

    pub(crate) fn window(&self) -> usize {
        self.inner.settings.window
    }

    pub(crate) fn record_ack(&self, ack: SyncAck) {
        self.inner.writer.ack(ack);
    }

    async fn workspace(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<Workspace, SyncError> {
        let (_, workspace) = self.inner.control.authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    pub async fn put_config(
        &self,
        who: &Principal,
        workspace_id: &str,
        config: SyncConfig,
    ) -> Result<SyncConfig, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        config.validate()?;
        let now = self.now_ms();
        let before = self.config(workspace_id, &config.biz_type).await.ok();
        let definition = serde_json::to_string(&config).expect("configurations serialize");
        let mut audit = NewAuditEntry::by(who, now, "sync.config.set", "sync_config", &config.biz_type)
            .in_app(&workspace.app_id)
            .after(serde_json::to_value(&config).expect("configurations serialize"));
        if let Some(before) = before {
            audit = audit.before(serde_json::to_value(before.as_ref()).expect("configurations serialize"));
        }
        let record = SyncConfigRecord {
            workspace_id: workspace_id.to_owned(),
            biz_type: config.biz_type.clone(),
            definition,
            updated_at: now,
        };
        self.storage().put_sync_config(&record, &audit).await?;
        self.forget_configs(workspace_id);
        Ok(config)
    }

    /// Stops the bizType; its stored messages stay until they expire.
    pub async fn delete_config(&self, who: &Principal, workspace_id: &str, biz_type: &str) -> Result<(), SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        let before = self.config(workspace_id, biz_type).await?;
        let audit = NewAuditEntry::by(who, self.now_ms(), "sync.config.delete", "sync_config", biz_type)
            .in_app(&workspace.app_id)
            .before(serde_json::to_value(before.as_ref()).expect("configurations serialize"));
        self.storage().delete_sync_config(workspace_id, biz_type, &audit).await?;
        self.forget_configs(workspace_id);
        Ok(())
    }

    /// The workspace's own configurations (built-in bizTypes left out).
    pub async fn list_configs(&self, who: &Principal, workspace_id: &str) -> Result<ConfigList, SyncError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let configs = self.configs(workspace_id).await?;
        Ok(Arc::new(configs.iter().filter(|config| !is_builtin(&config.biz_type)).cloned().collect()))
    }

    /// Deletes a stored message that no device acknowledged yet, keeping its id remembered;
    /// whether there was one.
    pub async fn revoke_in(
        &self,
        workspace_id: &str,
        biz_type: &str,
        link_token: &str,
        third_msg_id: &str,
    ) -> Result<bool, SyncError> {
        let config = self.config(workspace_id, biz_type).await?;
        let stream = Self::stream(workspace_id, &config, link_token);
        Ok(self.storage().delete_sync_message(&stream, third_msg_id).await?)
    }

    fn forget_configs(&self, workspace_id: &str) {
        self.inner.configs.forget(&workspace_id.to_owned());
    }

    /// The workspace's configurations, from memory when read recently.
    pub(crate) async fn configs(&self, workspace_id: &str) -> Result<ConfigList, SyncError> {
        let now = self.now_ms();
        if let Some(configs) = self.inner.configs.get(&workspace_id.to_owned(), now) {
            return Ok(configs);
        }
        let records = self.storage().list_sync_configs(workspace_id).await?;
        let configs: Vec<Arc<SyncConfig>> = records
            .iter()
            .map(|record| {
                serde_json::from_str(&record.definition).map(Arc::new).map_err(|error| {
                    SyncError::from(StorageError::Corrupt { table: "sync_configs", detail: error.to_string() })
                })
            })
            .chain(builtin_configs().iter().cloned().map(Ok))
            .collect::<Result<_, _>>()?;
        let configs = Arc::new(configs);
        self.inner.configs.insert(workspace_id.to_owned(), configs.clone(), now);
        Ok(configs)
    }

    async fn config(&self, workspace_id: &str, biz_type: &str) -> Result<Arc<SyncConfig>, SyncError> {
        self.configs(workspace_id)
            .await?
            .iter()
            .find(|config| config.biz_type == biz_type)
            .cloned()
            .ok_or_else(|| SyncError::UnknownBizType(midship_core::ids::echo(biz_type)))
    }

    fn stream(workspace_id: &str, config: &SyncConfig, link_token: &str) -> SyncStream {
        let global = config.target_kind() == SyncTargetKind::Global;
        SyncStream {
            workspace_id: workspace_id.to_owned(),
            biz_type: config.biz_type.clone(),
            target_kind: config.target_kind(),
            target_id: if global { String::new() } else { link_token.to_owned() },
        }
    }

    /// Sends one message. A persistent one is durable in its stream before this answers, then
    /// goes to the target's online devices; a non-persistent one goes only to those.
    pub async fn send(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: SendRequest,
    ) -> Result<SendOutcome, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        refuse_builtin(&request)?;
        self.send_in(&workspace, request).await
    }

    /// Sends up to [`MAX_BATCH_MESSAGES`] messages at once, each with its own outcome: they are
    /// written together (one transaction) and a bad one does not stop the others.
    pub async fn send_batch(
        &self,
        who: &Principal,
        workspace_id: &str,
        requests: Vec<SendRequest>,
    ) -> Result<Vec<Result<SendOutcome, SyncError>>, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        if requests.is_empty() || requests.len() > MAX_BATCH_MESSAGES {
            return Err(invalid("messages", format!("send 1 to {MAX_BATCH_MESSAGES} messages")));
        }
        requests.iter().try_for_each(refuse_builtin)?;
        self.send_batch_in(&workspace, requests).await
    }

    /// [`Self::send_batch`] for Midship's own services, which checked who asks already and may
    /// send larger batches (push sends a dispatcher step to its built-in bizType this way).
    pub async fn send_batch_in(
        &self,
        workspace: &Workspace,
        requests: Vec<SendRequest>,
    ) -> Result<Vec<Result<SendOutcome, SyncError>>, SyncError> {
        // Checked in order, then handed to the writer in order, so messages of one stream are
        // numbered in the order given.
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            prepared.push(self.prepare(workspace, request).await);
        }
        let appends: Vec<SyncAppend> = prepared
            .iter()
            .filter_map(|prepared| match prepared {
                Ok(Prepared::Append { append, .. }) => Some(append.clone()),
                _ => None,
            })
            .collect();
        let mut stored = self.inner.writer.append_all(appends).await.into_iter();
        let mut outcomes = Vec::with_capacity(prepared.len());
        for prepared in prepared {
            outcomes.push(match prepared {
                Ok(Prepared::Answered(outcome)) => Ok(outcome),
                Ok(Prepared::Append { append, latest_device_only }) => match stored.next() {
                    Some(Ok(outcome)) => Ok(self.finish(&append, latest_device_only, outcome).await),
                    Some(Err(error)) => Err(error.into()),
                    None => Err(SyncError::from(StorageError::Database("the sync writer answered too few".into()))),
                },
                Err(error) => Err(error),
            });
        }
        Ok(outcomes)
    }

    async fn send_in(&self, workspace: &Workspace, request: SendRequest) -> Result<SendOutcome, SyncError> {
        match self.prepare(workspace, request).await? {
            Prepared::Answered(outcome) => Ok(outcome),
            Prepared::Append { append, latest_device_only } => {
                let outcome = self.inner.writer.append(append.clone()).await?;
                Ok(self.finish(&append, latest_device_only, outcome).await)
            }
        }
    }

    /// Checks a send and does everything short of appending it: answers offline targets,
    /// hands non-persistent messages to the bus, schedules future ones.
    async fn prepare(&self, workspace: &Workspace, request: SendRequest) -> Result<Prepared, SyncError> {
        let workspace_id = workspace.workspace_id.as_str();
        let config = self.config(workspace_id, &request.biz_type).await?;
        let now = self.now_ms();
        self.check_send(&config, &request, now)?;
        let stream = Self::stream(workspace_id, &config, &request.link_token);
        if request.online_check && !self.inner.bus.is_online(workspace_id, stream.target_kind, &stream.target_id).await
        {
            return Ok(Prepared::Answered(SendOutcome {
                result: SendResult::TargetOffline,
                seq: None,
                scheduled: false,
            }));
        }
        let condition = delivery_condition(request.os_type.as_deref(), request.app_version_range.as_ref());
        let retention_end = now + config.retention_ms();
        let message = NewSyncMessage {
            stream,
            third_msg_id: request.third_msg_id,
            payload: request.payload,
            created_at: now,
            expires_at: request.valid_until.map_or(retention_end, |until| until.min(retention_end)),
            filter: condition.map(|condition| condition.to_string()),
        };
        let latest_device_only = config.delivery == Delivery::LatestDevice;
        if !config.persistent {
            self.publish(&message, 0, latest_device_only).await;
            return Ok(Prepared::Answered(SendOutcome { result: SendResult::Success, seq: None, scheduled: false }));
        }
        let append = SyncAppend { message, keep_newest: config.keep_newest(), id_expires_at: retention_end };
        let Some(due_at) = request.valid_from.filter(|from| *from > now) else {
            return Ok(Prepared::Append { append, latest_device_only });
        };
        let outcome = self.storage().schedule_sync_message(&append, due_at).await?;
        tracing::info!(
            app_id = %workspace.app_id,
            workspace_id,
            biz_type = %config.biz_type,
            third_msg_id = %append.message.third_msg_id,
            due_at,
            ?outcome,
            "sync message scheduled"
        );
        Ok(Prepared::Answered(match outcome {
            ScheduleOutcome::Scheduled { .. } => {
                SendOutcome { result: SendResult::Success, seq: None, scheduled: true }
            }
            ScheduleOutcome::Duplicate { seq } => {
                SendOutcome { result: SendResult::Duplicated, seq, scheduled: seq.is_none() }
            }
        }))
    }

    /// After the writer stored (or refused as a repeat) a message: the bus gets what was stored.
    async fn finish(&self, append: &SyncAppend, latest_device_only: bool, outcome: AppendOutcome) -> SendOutcome {
        match outcome {
            AppendOutcome::Appended { seq } => {
                self.publish(&append.message, seq, latest_device_only).await;
                SendOutcome { result: SendResult::Success, seq: Some(seq), scheduled: false }
            }
            AppendOutcome::Duplicate { seq } => {
                tracing::debug!(
                    third_msg_id = %append.message.third_msg_id,
                    ?seq,
                    "repeated thirdMsgId; nothing stored"
                );
                SendOutcome { result: SendResult::Duplicated, seq, scheduled: seq.is_none() }
            }
        }
    }

    fn check_send(&self, config: &SyncConfig, request: &SendRequest, now: i64) -> Result<(), SyncError> {
        let global = config.target_kind() == SyncTargetKind::Global;
        if global && !request.link_token.is_empty() {
            return Err(invalid("link_token", format!("bizType {} is global: send no link token", config.biz_type)));
        }
        if !global {
            check_id("link_token", &request.link_token)?;
        }
        check_id("third_msg_id", &request.third_msg_id)?;
        if request.payload.chars().count() > MAX_PAYLOAD_CHARS {
            return Err(invalid("payload", format!("must be at most {MAX_PAYLOAD_CHARS} characters")));
        }
        if let Some(os_type) = &request.os_type
            && Platform::from_str(&os_type.to_ascii_lowercase()).is_err()
        {
            let known: Vec<&str> = Platform::ALL.iter().map(|platform| platform.as_str()).collect();
            return Err(invalid("os_type", format!("must be one of {}", known.join(", "))));
        }
        if let Some(range) = &request.app_version_range {
            for (field, version) in [("min", &range.min), ("max", &range.max)] {
                if version.as_ref().is_some_and(|version| version.trim().is_empty() || version.len() > 64) {
                    return Err(invalid("app_version_range", format!("{field} must be a version such as 3.2.0")));
                }
            }
        }
        if let (Some(from), Some(until)) = (request.valid_from, request.valid_until)
            && from >= until
        {
            return Err(invalid("valid_until", "must be after valid_from"));
        }
        if request.valid_until.is_some_and(|until| until <= now) {
            return Err(invalid("valid_until", "is already past"));
        }
        if !config.persistent && request.valid_from.is_some_and(|from| from > now) {
            return Err(invalid("valid_from", "a non-persistent message goes out at once; it cannot wait"));
        }
        if request.valid_from.is_some_and(|from| from > now + config.retention_ms()) {
            return Err(invalid("valid_from", "must be within the bizType's retention"));
        }
        Ok(())
    }

    async fn publish(&self, message: &NewSyncMessage, seq: i64, latest_device_only: bool) {
        let record = SyncMessageRecord {
            seq,
            third_msg_id: message.third_msg_id.clone(),
            payload: message.payload.clone(),
            created_at: message.created_at,
            expires_at: message.expires_at,
            filter: message.filter.clone(),
        };
        let message = SyncMessage::new(message.stream.clone(), record, latest_device_only);
        self.inner.bus.publish(Arc::new(message)).await;
    }

    /// The stream's last sequence, whether its target is online and, for a named device, how far
    /// it acknowledged.
    pub async fn status(
        &self,
        who: &Principal,
        workspace_id: &str,
        biz_type: &str,
        link_token: &str,
        device_id: Option<&str>,
    ) -> Result<StreamStatus, SyncError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let config = self.config(workspace_id, biz_type).await?;
        let stream = Self::stream(workspace_id, &config, link_token);
        self.inner.writer.flush_acks().await;
        let position = self.storage().sync_position(&stream, device_id.unwrap_or_default()).await?;
        let (last_seq, acked_seq) = (position.last_seq, device_id.map(|_| position.acked_seq));
        let online = self.inner.bus.is_online(workspace_id, stream.target_kind, &stream.target_id).await;
        Ok(StreamStatus { last_seq, acked_seq, online })
    }

    /// Opens a device's session; call [`DeviceSession::start`] next.
    pub fn connect(&self, identity: DeviceIdentity, foreground: bool) -> Result<DeviceSession, SyncError> {
        let limit = self.inner.settings.max_connections;
        if self.inner.hub.connection_count() >= limit {
            return Err(SyncError::AtCapacity(limit));
        }
        Ok(DeviceSession::new(self.clone(), identity, foreground))
    }

    /// Purges what expired and moves due scheduled messages into their streams.
    pub async fn run_maintenance(&self) -> Result<Maintenance, SyncError> {
        let now = self.now_ms();
        let purged = self.inner.writer.purge(now).await?;
        let mut released = 0;
        loop {
            let due = self.storage().due_sync_messages(now, DUE_BATCH).await?;
            for scheduled in &due {
                let Some(seq) = self.inner.writer.append_scheduled(scheduled.clone()).await? else { continue };
                released += 1;
                let message = &scheduled.append.message;
                let latest_device_only = self
                    .config(&message.stream.workspace_id, &message.stream.biz_type)
                    .await
                    .is_ok_and(|config| config.delivery == Delivery::LatestDevice);
                self.publish(message, seq, latest_device_only).await;
            }
            if due.len() < DUE_BATCH as usize {
                break;
            }
        }
        Ok(Maintenance { purged, released })
    }

    /// Runs [`Self::run_maintenance`] every `interval` until the task is aborted.
    pub fn spawn_maintenance(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match service.run_maintenance().await {
                    Ok(done) if done.released > 0 || done.purged != SyncPurge::default() => {
                        tracing::info!(
                            released = done.released,
                            purged_messages = done.purged.messages,
                            purged_ids = done.purged.message_ids,
                            "sync maintenance"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "sync maintenance failed"),
                }
            }
        })
    }

    /// Asks every connection to close and writes pending acks: the node is stopping.
    pub async fn shut_down(&self) {
        self.inner.hub.kick_all();
        self.inner.writer.flush_acks().await;
    }

    /// Writes the acks received so far.
    pub async fn flush_acks(&self) {
        self.inner.writer.flush_acks().await;
    }
}
