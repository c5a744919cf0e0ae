//! The sync service: bizType configurations, sending for backends, stream status, device
//! connections, and the periodic purge and schedule.

use std::sync::Arc;
use std::time::Duration;

use midship_control::jobs::{BackgroundJob, JobError, Placement};
use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::cache::TtlCache;
use midship_core::{Classify, ErrorKind, Principal, Workspace};
use midship_storage::{Storage, StorageError, SyncAck, SyncPurge};

use crate::config::{Delivery, Repush, Scope, SyncConfig, SyncConfigError, TargetKindName};
use crate::hub::{Bus, Hub, LocalBus};
use crate::session::{DeviceIdentity, DeviceSession};
use crate::writer::SyncWriter;

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

mod configs;
mod send;

pub use send::{SendOutcome, SendRequest, SendResult};

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
pub use midship_protocol::builtins::biz_type::PUSH as PUSH_BIZ_TYPE;
const PUSH_RETENTION_DAYS: u32 = 7;
/// The bizType delivery announces release changes through, to every device of a workspace, so
/// online devices check at once (push and pull together). Devices that connect later get the
/// newest announcement only.
pub use midship_protocol::builtins::biz_type::DELIVERY as DELIVERY_BIZ_TYPE;

/// The bizTypes analytics asks devices for their log file through: one names the device, the
/// other the user (every device of the user gets it). Kept 3 days, so a device that comes online
/// later still answers.
pub use midship_protocol::builtins::biz_type::{
    DIAGNOSIS_DEVICE as DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER as DIAGNOSIS_USER_BIZ_TYPE,
};
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

    pub(crate) fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    /// Closes the device's long connection on whichever node holds it (its credential was
    /// revoked); whether one was found.
    pub async fn kick_device(&self, workspace_id: &str, device_id: &str, reason: crate::Kick) -> bool {
        self.inner.bus.kick_device(workspace_id, device_id, reason).await
    }

    /// Forgets the cached bizType configurations: another node changed one.
    pub fn forget_cached_configs(&self) {
        self.inner.configs.clear();
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

    /// Purges and scheduled releases, run by one node of the cluster every `interval`.
    pub fn maintenance_job(&self, interval: Duration) -> Arc<dyn BackgroundJob> {
        Arc::new(MaintenanceJob { service: self.clone(), interval })
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

struct MaintenanceJob {
    service: SyncService,
    interval: Duration,
}

#[async_trait::async_trait]
impl BackgroundJob for MaintenanceJob {
    fn name(&self) -> &'static str {
        "sync-maintenance"
    }

    fn placement(&self) -> Placement {
        Placement::OneNode
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), JobError> {
        let done = self.service.run_maintenance().await?;
        if done.released > 0 || done.purged != SyncPurge::default() {
            tracing::info!(
                released = done.released,
                purged_messages = done.purged.messages,
                purged_ids = done.purged.message_ids,
                "sync maintenance"
            );
        }
        Ok(())
    }
}
