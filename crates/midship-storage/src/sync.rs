//! Data sync's storage: bizType configurations, and per (bizType, target) streams of messages
//! with gap-free sequences, the ids senders gave them, scheduled messages and device acks.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;

use crate::StorageResult;

/// A sync configuration of one bizType (its definition as JSON, owned by `midship-sync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfigRecord {
    pub workspace_id: String,
    pub biz_type: String,
    pub definition: String,
    pub updated_at: UnixMillis,
}

/// Who a stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncTargetKind {
    User,
    Device,
    /// Every device of the workspace; the target id is empty.
    Global,
}

impl SyncTargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTargetKind::User => "user",
            SyncTargetKind::Device => "device",
            SyncTargetKind::Global => "global",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [SyncTargetKind::User, SyncTargetKind::Device, SyncTargetKind::Global]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One stream of sync messages: a bizType and a target. Sequences are gap-free per stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyncStream {
    pub workspace_id: String,
    pub biz_type: String,
    pub target_kind: SyncTargetKind,
    /// The userId or utdid; empty for global streams.
    pub target_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSyncMessage {
    pub stream: SyncStream,
    /// The sender's id for the message, unique in the stream.
    pub third_msg_id: String,
    pub payload: String,
    pub created_at: UnixMillis,
    /// Purged at this time (the end of its validity or of its bizType's retention).
    pub expires_at: UnixMillis,
    /// Which devices may receive it, as a targeting condition (JSON, owned by `midship-sync`).
    pub filter: Option<String>,
}

/// One message to put into its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAppend {
    pub message: NewSyncMessage,
    /// After appending, the stream keeps only its newest this many messages.
    pub keep_newest: Option<u32>,
    /// Until when the `third_msg_id` is remembered (the bizType's retention).
    pub id_expires_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended {
        seq: i64,
    },
    /// The stream already has this third_msg_id; nothing was stored. `seq` is `None` while the
    /// earlier message is still scheduled.
    Duplicate {
        seq: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleOutcome {
    Scheduled { scheduled_id: i64 },
    Duplicate { seq: Option<i64> },
}

/// A message waiting for the start of its validity window before it enters its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSyncMessage {
    pub scheduled_id: i64,
    pub append: SyncAppend,
    pub due_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMessageRecord {
    pub seq: i64,
    pub third_msg_id: String,
    pub payload: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub filter: Option<String>,
}

/// A device processed its stream up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAck {
    pub stream: SyncStream,
    pub device_id: String,
    pub seq: i64,
    pub at: UnixMillis,
}

/// Where a stream is, and where one device is in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncPosition {
    pub last_seq: i64,
    pub acked_seq: i64,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncPurge {
    pub messages: u64,
    pub message_ids: u64,
    pub scheduled: u64,
}

#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Creates or replaces a bizType's configuration.
    async fn put_sync_config(&self, record: &SyncConfigRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// `NotFound` when the workspace has no such bizType. Its streams stay until they expire.
    async fn delete_sync_config(&self, workspace_id: &str, biz_type: &str, audit: &NewAuditEntry) -> StorageResult<()>;
    /// Ordered by bizType.
    async fn list_sync_configs(&self, workspace_id: &str) -> StorageResult<Vec<SyncConfigRecord>>;
    /// Appends in one transaction, in order, answering one outcome per message: `Duplicate`
    /// for a `third_msg_id` its stream remembers; otherwise the message takes its stream's next
    /// sequence (gap-free, from 1) and the stream is trimmed to `keep_newest`. Durable when it
    /// returns.
    async fn append_sync_messages(&self, appends: &[SyncAppend]) -> StorageResult<Vec<AppendOutcome>>;
    /// Stores a message to append at `due_at`, reserving its `third_msg_id` now.
    async fn schedule_sync_message(&self, append: &SyncAppend, due_at: UnixMillis) -> StorageResult<ScheduleOutcome>;
    /// Scheduled messages due at `now`, oldest first.
    async fn due_sync_messages(&self, now: UnixMillis, limit: u32) -> StorageResult<Vec<ScheduledSyncMessage>>;
    /// Appends a scheduled message (its id was reserved when it was scheduled) and removes it
    /// from the schedule, in one transaction. `None` if another node appended it already.
    async fn append_scheduled_sync_message(&self, scheduled: &ScheduledSyncMessage) -> StorageResult<Option<i64>>;
    /// Messages with a sequence above `after_seq`, in order, at most `limit`.
    async fn sync_messages_after(
        &self,
        stream: &SyncStream,
        after_seq: i64,
        limit: u32,
    ) -> StorageResult<Vec<SyncMessageRecord>>;
    /// The stream's last sequence and how far `device_id` acknowledged it (0 for none), in one read.
    async fn sync_position(&self, stream: &SyncStream, device_id: &str) -> StorageResult<SyncPosition>;
    /// Records acknowledgements; a device's position never moves backwards.
    async fn ack_sync(&self, acks: &[SyncAck]) -> StorageResult<()>;
    /// Deletes one message, keeping its id remembered (a revoke); whether it was there.
    async fn delete_sync_message(&self, stream: &SyncStream, third_msg_id: &str) -> StorageResult<bool>;
    /// Deletes messages, remembered ids and scheduled messages that expired at or before `now`.
    async fn purge_expired_sync(&self, now: UnixMillis) -> StorageResult<SyncPurge>;
}
