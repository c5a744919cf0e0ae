//! How a batch of appends is numbered: the rules both backends share, worked out once the
//! batch's streams and remembered ids are read.

use std::collections::HashMap;

use midship_core::clock::UnixMillis;
use midship_storage::{AppendOutcome, StorageError, SyncAppend, SyncStream};

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
    streams: &HashMap<SyncStream, StoredStream>,
    remembered: &HashMap<(i64, String), RememberedId>,
) -> Result<AppendPlan<'a>, StorageError> {
    let mut plan = AppendPlan::default();
    let mut last_seqs: HashMap<i64, i64> = HashMap::new();
    let mut in_batch: HashMap<(i64, &str), i64> = HashMap::new();
    let mut keep_newest: HashMap<i64, u32> = HashMap::new();
    for append in appends {
        let message = &append.message;
        let stream = streams.get(&message.stream).ok_or_else(|| StorageError::Corrupt {
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
    use midship_storage::{NewSyncMessage, SyncTargetKind};

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
