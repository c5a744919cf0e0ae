//! The suite's data-sync tests.

use std::sync::Arc;

use super::{T0, audit, bootstrapped, create_app};
use crate::{
    AppendOutcome, NewSyncMessage, ScheduleOutcome, Storage, StorageError, SyncAck, SyncAppend, SyncConfigRecord,
    SyncStream, SyncTargetKind,
};

const WORKSPACE: &str = "APP0000000000001W1";
const DAY: i64 = 86_400_000;

fn stream(target_kind: SyncTargetKind, target_id: &str) -> SyncStream {
    SyncStream { workspace_id: WORKSPACE.into(), biz_type: "CHAT-MSG".into(), target_kind, target_id: target_id.into() }
}

pub(super) fn append(stream: &SyncStream, third_msg_id: &str, at: i64) -> SyncAppend {
    SyncAppend {
        message: NewSyncMessage {
            stream: stream.clone(),
            third_msg_id: third_msg_id.into(),
            payload: format!("payload of {third_msg_id}"),
            created_at: at,
            expires_at: at + DAY,
            filter: None,
        },
        keep_newest: None,
        id_expires_at: at + 30 * DAY,
    }
}

async fn with_app(storage: &Arc<dyn Storage>) {
    bootstrapped(storage).await;
    create_app(storage, "APP0000000000001", "One", T0).await;
}

pub async fn sync_configs_are_upserted_listed_and_deleted(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let record = |biz_type: &str, definition: &str| SyncConfigRecord {
        workspace_id: WORKSPACE.into(),
        biz_type: biz_type.into(),
        definition: definition.into(),
        updated_at: T0,
    };
    storage.put_sync_config(&record("ORDER", "{}"), &audit("sync.config.set", "ORDER", T0)).await.unwrap();
    storage.put_sync_config(&record("CHAT-MSG", "{}"), &audit("sync.config.set", "CHAT-MSG", T0)).await.unwrap();
    storage.put_sync_config(&record("ORDER", "{\"v\":2}"), &audit("sync.config.set", "ORDER", T0)).await.unwrap();
    let listed = storage.list_sync_configs(WORKSPACE).await.unwrap();
    assert_eq!(listed.iter().map(|config| config.biz_type.as_str()).collect::<Vec<_>>(), ["CHAT-MSG", "ORDER"]);
    assert_eq!(listed[1].definition, "{\"v\":2}");
    assert!(storage.list_sync_configs("APP0000000000001W2").await.unwrap().is_empty());
    storage.delete_sync_config(WORKSPACE, "ORDER", &audit("sync.config.delete", "ORDER", T0)).await.unwrap();
    let missing = storage.delete_sync_config(WORKSPACE, "ORDER", &audit("sync.config.delete", "ORDER", T0)).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })));
    assert_eq!(storage.list_sync_configs(WORKSPACE).await.unwrap().len(), 1);
}

pub async fn sync_streams_number_messages_without_gaps_and_remember_ids(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let alice = stream(SyncTargetKind::User, "alice");
    let bob = stream(SyncTargetKind::User, "bob");
    let outcomes = storage
        .append_sync_messages(&[
            append(&alice, "m-1", T0),
            append(&alice, "m-2", T0),
            append(&bob, "m-1", T0),
            append(&alice, "m-1", T0 + 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            AppendOutcome::Appended { seq: 1 },
            AppendOutcome::Appended { seq: 2 },
            AppendOutcome::Appended { seq: 1 },
            AppendOutcome::Duplicate { seq: Some(1) },
        ]
    );
    let repeat = storage.append_sync_messages(&[append(&alice, "m-2", T0 + 2)]).await.unwrap();
    assert_eq!(repeat, [AppendOutcome::Duplicate { seq: Some(2) }]);
    assert_eq!(storage.sync_position(&alice, "-").await.unwrap().last_seq, 2);
    assert_eq!(
        storage.sync_position(&stream(SyncTargetKind::Device, "alice"), "-").await.unwrap().last_seq,
        0,
        "kinds differ"
    );

    let after = storage.sync_messages_after(&alice, 0, 10).await.unwrap();
    assert_eq!(
        after.iter().map(|message| (message.seq, message.third_msg_id.as_str())).collect::<Vec<_>>(),
        [(1, "m-1"), (2, "m-2")]
    );
    assert_eq!(after[0].payload, "payload of m-1");
    assert_eq!(after[0].expires_at, T0 + DAY);
    assert_eq!(storage.sync_messages_after(&alice, 1, 10).await.unwrap().len(), 1);
    assert_eq!(storage.sync_messages_after(&alice, 0, 1).await.unwrap().len(), 1, "limit");

    // A stream kept to its newest 2: older messages go, their ids are still remembered.
    let trimmed = |id: &str| SyncAppend { keep_newest: Some(2), ..append(&alice, id, T0 + 3) };
    storage.append_sync_messages(&[trimmed("m-3"), trimmed("m-4")]).await.unwrap();
    let kept = storage.sync_messages_after(&alice, 0, 10).await.unwrap();
    assert_eq!(kept.iter().map(|message| message.seq).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(
        storage.append_sync_messages(&[append(&alice, "m-1", T0 + 4)]).await.unwrap(),
        [AppendOutcome::Duplicate { seq: Some(1) }]
    );
    // Once an id's memory ends, the id may be used again.
    let much_later = T0 + 31 * DAY;
    assert_eq!(
        storage.append_sync_messages(&[append(&alice, "m-1", much_later)]).await.unwrap(),
        [AppendOutcome::Appended { seq: 5 }]
    );
}

pub async fn concurrent_sync_appends_to_one_stream_stay_gap_free(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let shared = stream(SyncTargetKind::Device, "DEVICE0000000001");
    let mut writers = Vec::new();
    for writer in 0..4 {
        let storage = storage.clone();
        let shared = shared.clone();
        writers.push(tokio::spawn(async move {
            for message in 0..10 {
                let id = format!("w{writer}-{message}");
                // Every writer also repeats an id the others use, so duplicates race too.
                let batch = [append(&shared, &id, T0), append(&shared, &format!("shared-{message}"), T0)];
                storage.append_sync_messages(&batch).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let messages = storage.sync_messages_after(&shared, 0, 100).await.unwrap();
    assert_eq!(messages.len(), 50, "40 own ids and 10 shared ones, each once");
    assert!(messages.iter().enumerate().all(|(index, message)| message.seq == index as i64 + 1), "no gaps");
    assert_eq!(storage.sync_position(&shared, "-").await.unwrap().last_seq, 50);
}

pub async fn scheduled_sync_messages_reserve_their_id_and_append_once(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let alice = stream(SyncTargetKind::User, "alice");
    let later = append(&alice, "promo", T0);
    let ScheduleOutcome::Scheduled { scheduled_id } = storage.schedule_sync_message(&later, T0 + 1000).await.unwrap()
    else {
        panic!("scheduled");
    };
    assert_eq!(
        storage.schedule_sync_message(&later, T0 + 1000).await.unwrap(),
        ScheduleOutcome::Duplicate { seq: None }
    );
    assert_eq!(
        storage.append_sync_messages(std::slice::from_ref(&later)).await.unwrap(),
        [AppendOutcome::Duplicate { seq: None }]
    );
    assert!(storage.due_sync_messages(T0 + 999, 10).await.unwrap().is_empty());
    storage.append_sync_messages(&[append(&alice, "chat", T0)]).await.unwrap();

    let due = storage.due_sync_messages(T0 + 1000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].scheduled_id, scheduled_id);
    assert_eq!(due[0].append, later);
    assert_eq!(storage.append_scheduled_sync_message(&due[0]).await.unwrap(), Some(2));
    assert_eq!(storage.append_scheduled_sync_message(&due[0]).await.unwrap(), None, "appended once");
    assert!(storage.due_sync_messages(T0 + 5000, 10).await.unwrap().is_empty());
    assert_eq!(storage.append_sync_messages(&[later]).await.unwrap(), [AppendOutcome::Duplicate { seq: Some(2) }]);
}

pub async fn sync_acks_never_move_backwards(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let alice = stream(SyncTargetKind::User, "alice");
    storage.append_sync_messages(&[append(&alice, "m-1", T0), append(&alice, "m-2", T0)]).await.unwrap();
    let ack = |device_id: &str, seq: i64| SyncAck { stream: alice.clone(), device_id: device_id.into(), seq, at: T0 };
    assert_eq!(storage.sync_position(&alice, "PHONE").await.unwrap().acked_seq, 0);
    storage.ack_sync(&[ack("PHONE", 2), ack("TABLET", 1)]).await.unwrap();
    storage.ack_sync(&[ack("PHONE", 1)]).await.unwrap();
    assert_eq!(storage.sync_position(&alice, "PHONE").await.unwrap().acked_seq, 2);
    assert_eq!(storage.sync_position(&alice, "TABLET").await.unwrap().acked_seq, 1);
    storage.ack_sync(&[ack("TABLET", 2)]).await.unwrap();
    assert_eq!(storage.sync_position(&alice, "TABLET").await.unwrap().acked_seq, 2);
    let unknown = SyncAck { stream: stream(SyncTargetKind::User, "nobody"), ..ack("PHONE", 3) };
    storage.ack_sync(std::slice::from_ref(&unknown)).await.unwrap();
    assert_eq!(
        storage.sync_position(&unknown.stream, "PHONE").await.unwrap().acked_seq,
        0,
        "no stream, nothing to ack"
    );
}

pub async fn purging_removes_only_what_expired(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let alice = stream(SyncTargetKind::User, "alice");
    let short = SyncAppend {
        message: NewSyncMessage { expires_at: T0 + 10, ..append(&alice, "short", T0).message },
        id_expires_at: T0 + 20,
        keep_newest: None,
    };
    storage.append_sync_messages(&[short, append(&alice, "long", T0)]).await.unwrap();
    let scheduled = SyncAppend {
        message: NewSyncMessage { expires_at: T0 + 10, ..append(&alice, "never", T0).message },
        ..append(&alice, "never", T0)
    };
    storage.schedule_sync_message(&scheduled, T0 + 50).await.unwrap();

    let purged = storage.purge_expired_sync(T0 + 10).await.unwrap();
    assert_eq!((purged.messages, purged.message_ids, purged.scheduled), (1, 0, 1));
    let left = storage.sync_messages_after(&alice, 0, 10).await.unwrap();
    assert_eq!(left.iter().map(|message| message.third_msg_id.as_str()).collect::<Vec<_>>(), ["long"]);
    assert!(storage.due_sync_messages(T0 + 100, 10).await.unwrap().is_empty());
    assert_eq!(storage.purge_expired_sync(T0 + 20).await.unwrap().message_ids, 1);
    assert_eq!(storage.sync_position(&alice, "-").await.unwrap().last_seq, 2, "sequences never go back");
}
