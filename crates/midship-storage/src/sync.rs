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

/// A stream as stored: its id and last sequence when the batch began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredStream {
    pub stream_id: i64,
    pub last_seq: i64,
}

/// An id the stream remembers: the message's sequence (`None` while scheduled) and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RememberedId {
    pub seq: Option<i64>,
    pub expires_at: UnixMillis,
}

/// What a batch of appends writes, worked out once both backends have read the batch's streams
/// and remembered ids, so the rules live in one place.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AppendPlan<'a> {
    /// One per append, in the order given.
    pub outcomes: Vec<AppendOutcome>,
    /// New messages: stream id, sequence, and the append.
    pub inserts: Vec<(i64, i64, &'a SyncAppend)>,
    /// Streams whose last sequence moves: stream id and the new last sequence.
    pub new_last_seqs: Vec<(i64, i64)>,
    /// Trims: stream id, and the highest sequence to delete.
    pub trims: Vec<(i64, i64)>,
}

/// Numbers the batch's new messages from each stream's last sequence, in order and without gaps;
/// an id the stream remembers (unexpired at the message's creation) or met earlier in the same
/// batch is a duplicate.
pub fn plan_appends<'a>(
    appends: &'a [SyncAppend],
    streams: &std::collections::HashMap<SyncStream, StoredStream>,
    remembered: &std::collections::HashMap<(i64, String), RememberedId>,
) -> Result<AppendPlan<'a>, crate::StorageError> {
    use std::collections::HashMap;
    let mut plan = AppendPlan::default();
    let mut last_seqs: HashMap<i64, i64> = HashMap::new();
    let mut in_batch: HashMap<(i64, &str), i64> = HashMap::new();
    let mut keep_newest: HashMap<i64, u32> = HashMap::new();
    for append in appends {
        let message = &append.message;
        let stream = streams.get(&message.stream).ok_or_else(|| crate::StorageError::Corrupt {
            table: "sync_streams",
            detail: "a stream of the batch was not read back".to_owned(),
        })?;
        if let Some(seq) = in_batch.get(&(stream.stream_id, message.third_msg_id.as_str())) {
            plan.outcomes.push(AppendOutcome::Duplicate { seq: Some(*seq) });
            continue;
        }
        let known = remembered.get(&(stream.stream_id, message.third_msg_id.clone()));
        if let Some(known) = known.filter(|known| known.expires_at > message.created_at) {
            plan.outcomes.push(AppendOutcome::Duplicate { seq: known.seq });
            continue;
        }
        let last = last_seqs.entry(stream.stream_id).or_insert(stream.last_seq);
        *last += 1;
        let seq = *last;
        in_batch.insert((stream.stream_id, message.third_msg_id.as_str()), seq);
        if let Some(keep) = append.keep_newest {
            keep_newest.insert(stream.stream_id, keep);
        }
        plan.inserts.push((stream.stream_id, seq, append));
        plan.outcomes.push(AppendOutcome::Appended { seq });
    }
    let mut new_last_seqs: Vec<(i64, i64)> = last_seqs.into_iter().collect();
    new_last_seqs.sort_unstable();
    plan.trims = new_last_seqs
        .iter()
        .filter_map(|(stream_id, last)| keep_newest.get(stream_id).map(|keep| (*stream_id, last - i64::from(*keep))))
        .filter(|(_, upto)| *upto > 0)
        .collect();
    plan.new_last_seqs = new_last_seqs;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn append(target: &str, id: &str, at: i64) -> SyncAppend {
        SyncAppend {
            message: NewSyncMessage {
                stream: SyncStream {
                    workspace_id: "W".into(),
                    biz_type: "B".into(),
                    target_kind: SyncTargetKind::User,
                    target_id: target.into(),
                },
                third_msg_id: id.into(),
                payload: String::new(),
                created_at: at,
                expires_at: at + 10,
                filter: None,
            },
            keep_newest: None,
            id_expires_at: at + 100,
        }
    }

    #[test]
    fn numbers_per_stream_and_spots_duplicates_inside_and_outside_the_batch() {
        let appends =
            [append("a", "1", 5), append("b", "1", 5), append("a", "2", 5), append("a", "1", 6), append("a", "old", 5)];
        let streams = HashMap::from([
            (appends[0].message.stream.clone(), StoredStream { stream_id: 7, last_seq: 10 }),
            (appends[1].message.stream.clone(), StoredStream { stream_id: 8, last_seq: 0 }),
        ]);
        let remembered = HashMap::from([((7, "old".to_owned()), RememberedId { seq: Some(3), expires_at: 99 })]);
        let plan = plan_appends(&appends, &streams, &remembered).unwrap();
        assert_eq!(
            plan.outcomes,
            [
                AppendOutcome::Appended { seq: 11 },
                AppendOutcome::Appended { seq: 1 },
                AppendOutcome::Appended { seq: 12 },
                AppendOutcome::Duplicate { seq: Some(11) },
                AppendOutcome::Duplicate { seq: Some(3) },
            ]
        );
        assert_eq!(plan.new_last_seqs, [(7, 12), (8, 1)]);
        let expired = HashMap::from([((7, "old".to_owned()), RememberedId { seq: Some(3), expires_at: 5 })]);
        let kept = [SyncAppend { keep_newest: Some(1), ..append("a", "old", 5) }];
        let plan = plan_appends(&kept, &streams, &expired).unwrap();
        assert_eq!(plan.outcomes, [AppendOutcome::Appended { seq: 11 }], "an id whose memory ended is new again");
        assert_eq!(plan.trims, [(7, 10)]);
    }
}
