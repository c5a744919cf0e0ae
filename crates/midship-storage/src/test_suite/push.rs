//! The suite's push tests.

use std::sync::Arc;

use super::{T0, audit, bootstrapped, create_app};
use crate::{
    BroadcastAudience, DeliveryFilter, DeliveryOutcome, DeliveryUpdate, PushDefinitionKind, PushDefinitionRecord,
    PushDeliveryRecord, PushEvent, PushEventKind, PushReport, PushStatsRow, PushStatsScope, PushTaskRecord,
    PushTaskStatus, Storage, StorageError, SyncStream, SyncTargetKind,
};

const WORKSPACE: &str = "APP0000000000001W1";

async fn with_app(storage: &Arc<dyn Storage>) {
    bootstrapped(storage).await;
    create_app(storage, "APP0000000000001", "One", T0).await;
}

fn report(device_id: &str, platform: &str, channel: &str, token: Option<&str>, at: i64) -> PushReport {
    PushReport {
        workspace_id: WORKSPACE.into(),
        device_id: device_id.into(),
        platform: platform.into(),
        channel: channel.into(),
        token: token.map(Into::into),
        at,
    }
}

fn task(task_id: &str, status: &str, next_run_at: Option<i64>) -> PushTaskRecord {
    let status = PushTaskStatus::parse(status).expect("a task status");
    PushTaskRecord {
        task_id: task_id.into(),
        workspace_id: WORKSPACE.into(),
        parent_task_id: None,
        kind: "simple".into(),
        definition: "{}".into(),
        status,
        created_at: T0,
        next_run_at,
        runs: 0,
    }
}

fn delivery(task_id: &str, device_id: &str, channel: &str) -> PushDeliveryRecord {
    PushDeliveryRecord {
        task_id: task_id.into(),
        workspace_id: WORKSPACE.into(),
        device_id: device_id.into(),
        user_id: None,
        platform: "android".into(),
        channel: channel.into(),
        token: None,
        msg_id: format!("biz-{device_id}"),
        values: None,
        created_at: T0,
        expires_at: T0 + 3_600_000,
        sent_at: None,
        failed_at: None,
        error: None,
        delivered_at: None,
        opened_at: None,
        ignored_at: None,
        revoked_at: None,
    }
}

pub async fn push_devices_report_tokens_bind_users_and_retire_tokens(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let unknown = storage.bind_push_device(WORKSPACE, "dev-a", Some("alice"), T0).await;
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })));
    storage.report_push_device(&report("dev-a", "android", "fcm", Some("fcm-1"), T0)).await.unwrap();
    storage.report_push_device(&report("dev-b", "ios", "apns", Some("apns-1"), T0)).await.unwrap();
    storage.report_push_device(&report("dev-c", "android", "own", None, T0)).await.unwrap();
    storage.bind_push_device(WORKSPACE, "dev-a", Some("alice"), T0 + 1).await.unwrap();
    storage.bind_push_device(WORKSPACE, "dev-b", Some("alice"), T0 + 2).await.unwrap();
    storage.bind_push_device(WORKSPACE, "dev-c", Some("bob"), T0 + 3).await.unwrap();
    storage.bind_push_device(WORKSPACE, "dev-c", None, T0 + 4).await.unwrap();

    let alice = storage.push_devices_of_user(WORKSPACE, "alice").await.unwrap();
    assert_eq!(alice.iter().map(|device| device.device_id.as_str()).collect::<Vec<_>>(), ["dev-a", "dev-b"]);
    assert!(storage.push_devices_of_user(WORKSPACE, "bob").await.unwrap().is_empty());

    // A new report keeps the binding.
    storage.report_push_device(&report("dev-a", "android", "fcm", Some("fcm-1"), T0 + 5)).await.unwrap();
    let device = storage.get_push_device(WORKSPACE, "dev-a").await.unwrap().unwrap();
    assert_eq!((device.user_id.as_deref(), device.bound_at, device.reported_at), (Some("alice"), Some(T0 + 1), T0 + 5));

    // Only the current token is retired, once; a new token clears the retirement.
    assert!(!storage.retire_push_token(WORKSPACE, "dev-a", "fcm-old", T0 + 6).await.unwrap());
    assert!(storage.retire_push_token(WORKSPACE, "dev-a", "fcm-1", T0 + 6).await.unwrap());
    assert!(!storage.retire_push_token(WORKSPACE, "dev-a", "fcm-1", T0 + 7).await.unwrap());
    storage.report_push_device(&report("dev-a", "android", "fcm", Some("fcm-1"), T0 + 8)).await.unwrap();
    assert_eq!(storage.get_push_device(WORKSPACE, "dev-a").await.unwrap().unwrap().token_retired_at, Some(T0 + 6));
    storage.report_push_device(&report("dev-a", "android", "fcm", Some("fcm-2"), T0 + 9)).await.unwrap();
    assert_eq!(storage.get_push_device(WORKSPACE, "dev-a").await.unwrap().unwrap().token_retired_at, None);

    let audience = |platform: Option<&str>, bound: Option<bool>, bound_since: Option<i64>| BroadcastAudience {
        workspace_id: WORKSPACE.into(),
        platform: platform.map(Into::into),
        bound,
        bound_since,
    };
    let ids =
        |devices: Vec<crate::PushDeviceRecord>| devices.into_iter().map(|device| device.device_id).collect::<Vec<_>>();
    assert_eq!(ids(storage.push_audience(&audience(None, None, None)).await.unwrap()), ["dev-a", "dev-b", "dev-c"]);
    assert_eq!(ids(storage.push_audience(&audience(Some("android"), None, None)).await.unwrap()), ["dev-a", "dev-c"]);
    assert_eq!(ids(storage.push_audience(&audience(None, Some(true), None)).await.unwrap()), ["dev-a", "dev-b"]);
    assert_eq!(ids(storage.push_audience(&audience(None, Some(false), None)).await.unwrap()), ["dev-c"]);
    assert_eq!(ids(storage.push_audience(&audience(None, Some(true), Some(T0 + 2))).await.unwrap()), ["dev-b"]);
}

pub async fn push_definitions_are_upserted_listed_and_deleted(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let record = |kind, name: &str, definition: &str| PushDefinitionRecord {
        workspace_id: WORKSPACE.into(),
        kind,
        name: name.into(),
        definition: definition.into(),
        updated_at: T0,
    };
    let put = |record: PushDefinitionRecord| {
        let storage = storage.clone();
        async move { storage.put_push_definition(&record, &audit("push.template.set", "t", T0)).await.unwrap() }
    };
    put(record(PushDefinitionKind::Template, "welcome", "{\"v\":1}")).await;
    put(record(PushDefinitionKind::Template, "bill", "{}")).await;
    put(record(PushDefinitionKind::Template, "welcome", "{\"v\":2}")).await;
    put(record(PushDefinitionKind::Channel, "welcome", "{\"apns\":1}")).await;
    let templates = storage.list_push_definitions(WORKSPACE, PushDefinitionKind::Template).await.unwrap();
    assert_eq!(templates.iter().map(|record| record.name.as_str()).collect::<Vec<_>>(), ["bill", "welcome"]);
    assert_eq!(templates[1].definition, "{\"v\":2}");
    let channels = storage.list_push_definitions(WORKSPACE, PushDefinitionKind::Channel).await.unwrap();
    assert_eq!(channels.len(), 1);
    let delete = audit("push.template.delete", "bill", T0);
    storage.delete_push_definition(WORKSPACE, PushDefinitionKind::Template, "bill", &delete).await.unwrap();
    let missing = storage.delete_push_definition(WORKSPACE, PushDefinitionKind::Template, "bill", &delete).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })));
    assert_eq!(storage.list_push_definitions(WORKSPACE, PushDefinitionKind::Channel).await.unwrap().len(), 1);
}

pub async fn push_tasks_track_deliveries_events_revokes_and_stats(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let mut deliveries =
        vec![delivery("T1", "dev-a", "own"), delivery("T1", "dev-b", "own"), delivery("T1", "dev-c", "fcm")];
    deliveries[2].platform = "ios".into();
    storage
        .create_push_task(&task("T1", "sending", None), &deliveries, None, Some(&audit("push.send", "T1", T0)))
        .await
        .unwrap();
    let again = storage.create_push_task(&task("T1", "sending", None), &[], None, None).await;
    assert!(matches!(again, Err(StorageError::Conflict { .. })));

    let pending = storage.push_deliveries("T1", DeliveryFilter::Pending, "", 2).await.unwrap();
    assert_eq!(pending.iter().map(|delivery| delivery.device_id.as_str()).collect::<Vec<_>>(), ["dev-a", "dev-b"]);
    assert_eq!(pending[0], deliveries[0]);
    let rest = storage.push_deliveries("T1", DeliveryFilter::Pending, "dev-b", 2).await.unwrap();
    assert_eq!(rest.len(), 1);

    let update = |device_id: &str, outcome| DeliveryUpdate {
        task_id: "T1".into(),
        device_id: device_id.into(),
        outcome,
        at: T0 + 10,
    };
    storage
        .update_push_deliveries(&[
            update("dev-a", DeliveryOutcome::Sent),
            update("dev-c", DeliveryOutcome::Failed { error: "unregistered".into() }),
        ])
        .await
        .unwrap();
    let pending = storage.push_deliveries("T1", DeliveryFilter::Pending, "", 10).await.unwrap();
    assert_eq!(pending.iter().map(|delivery| delivery.device_id.as_str()).collect::<Vec<_>>(), ["dev-b"]);

    let event = |device_id: &str, kind| PushEvent {
        workspace_id: WORKSPACE.into(),
        task_id: "T1".into(),
        device_id: device_id.into(),
        kind,
        at: T0 + 20,
    };
    let changed = storage
        .record_push_events(&[
            event("dev-a", PushEventKind::Opened),
            event("dev-a", PushEventKind::Opened),
            event("dev-a", PushEventKind::Delivered),
        ])
        .await
        .unwrap();
    assert_eq!(changed, [true, false, false], "the first open counts; it implies delivery");
    let unknown = storage.record_push_events(&[event("dev-zz", PushEventKind::Opened)]).await.unwrap();
    assert_eq!(unknown, [false], "unknown deliveries are skipped");

    let revoke_audit = audit("push.revoke", "T1", T0 + 30);
    let revoked =
        storage.revoke_push_deliveries(WORKSPACE, "T1", Some("dev-b"), T0 + 30, Some(&revoke_audit)).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].revoked_at, None, "answered as it was before");
    assert!(storage.revoke_push_deliveries(WORKSPACE, "T1", Some("dev-b"), T0 + 31, None).await.unwrap().is_empty());
    assert!(super::audit_actions(&storage).await.contains(&"push.revoke".to_owned()));
    assert!(storage.push_deliveries("T1", DeliveryFilter::Pending, "", 10).await.unwrap().is_empty());

    let all = storage.push_deliveries("T1", DeliveryFilter::All, "", 10).await.unwrap();
    assert_eq!(all.iter().map(|delivery| delivery.device_id.as_str()).collect::<Vec<_>>(), ["dev-a", "dev-b", "dev-c"]);
    assert_eq!((all[0].sent_at, all[0].opened_at, all[0].delivered_at), (Some(T0 + 10), Some(T0 + 20), Some(T0 + 20)));
    assert_eq!(all[2].error.as_deref(), Some("unregistered"));
    let stats = storage.push_stats(WORKSPACE, &PushStatsScope::Task("T1".into())).await.unwrap();
    let row = |channel: &str, platform: &str, counts: [i64; 7]| PushStatsRow {
        channel: channel.into(),
        platform: platform.into(),
        targets: counts[0],
        sent: counts[1],
        failed: counts[2],
        delivered: counts[3],
        opened: counts[4],
        ignored: counts[5],
        revoked: counts[6],
    };
    assert_eq!(stats, [row("fcm", "ios", [1, 0, 1, 0, 0, 0, 0]), row("own", "android", [2, 1, 0, 1, 1, 0, 1])]);
    assert_eq!(storage.push_tasks_by_msg_id(WORKSPACE, "biz-dev-b", T0).await.unwrap(), ["T1"]);
    assert!(storage.push_tasks_by_msg_id(WORKSPACE, "biz-dev-b", T0 + 1).await.unwrap().is_empty());
    assert!(storage.push_tasks_by_msg_id(WORKSPACE, "biz-nobody", T0).await.unwrap().is_empty());
    let ranged = storage.push_stats(WORKSPACE, &PushStatsScope::Range { from: T0, until: T0 + 1 }).await.unwrap();
    assert_eq!(ranged, stats);
    assert!(
        storage.push_stats(WORKSPACE, &PushStatsScope::Range { from: T0 + 1, until: T0 + 2 }).await.unwrap().is_empty()
    );
}

pub async fn scheduled_push_tasks_run_once_per_occurrence(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    storage.create_push_task(&task("R", "scheduled", Some(T0 + 100)), &[], None, None).await.unwrap();
    storage.create_push_task(&task("S", "sending", None), &[], None, None).await.unwrap();
    storage.create_push_task(&task("D", "done", None), &[], None, None).await.unwrap();
    let runnable = |now| {
        let storage = storage.clone();
        async move {
            storage.runnable_push_tasks(now, 10).await.unwrap().into_iter().map(|task| task.task_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(runnable(T0).await, ["S"]);
    assert_eq!(runnable(T0 + 100).await, ["R", "S"]);

    let mut run = task("R.1", "sending", None);
    run.parent_task_id = Some("R".into());
    let mut parent = task("R", "scheduled", Some(T0 + 200));
    parent.runs = 1;
    storage.create_push_task(&run, &[delivery("R.1", "dev-a", "own")], Some(&parent), None).await.unwrap();
    // A second node starting the same run fails and changes nothing.
    let twice = storage.create_push_task(&run, &[], Some(&task("R", "done", None)), None).await;
    assert!(matches!(twice, Err(StorageError::Conflict { .. })));
    let stored = storage.get_push_task("R").await.unwrap().unwrap();
    assert_eq!((stored.status, stored.next_run_at, stored.runs), (PushTaskStatus::Scheduled, Some(T0 + 200), 1));
    assert_eq!(runnable(T0 + 150).await, ["R.1", "S"]);

    storage.set_push_task_status("S", PushTaskStatus::Done, None).await.unwrap();
    let unknown = storage.set_push_task_status("nope", PushTaskStatus::Done, None).await;
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })));
    let listed = storage.list_push_tasks(WORKSPACE, 10).await.unwrap();
    assert_eq!(listed.len(), 4);
    // A parent's statistics include its runs.
    let stats = storage.push_stats(WORKSPACE, &PushStatsScope::Task("R".into())).await.unwrap();
    assert_eq!(stats.iter().map(|row| row.targets).sum::<i64>(), 1);
}

pub async fn a_sync_message_is_deleted_by_its_id(storage: Arc<dyn Storage>) {
    with_app(&storage).await;
    let stream = SyncStream {
        workspace_id: WORKSPACE.into(),
        biz_type: "midship.push".into(),
        target_kind: SyncTargetKind::Device,
        target_id: "dev-a".into(),
    };
    let append = super::sync_append(&stream, "T1", T0);
    storage.append_sync_messages(&[append.clone(), super::sync_append(&stream, "T2", T0)]).await.unwrap();
    assert!(storage.delete_sync_message(&stream, "T1").await.unwrap());
    assert!(!storage.delete_sync_message(&stream, "T1").await.unwrap());
    let left = storage.sync_messages_after(&stream, 0, 10).await.unwrap();
    assert_eq!(left.iter().map(|message| message.third_msg_id.as_str()).collect::<Vec<_>>(), ["T2"]);
    // The id stays remembered: a repeat is still a duplicate.
    let outcomes = storage.append_sync_messages(&[append]).await.unwrap();
    assert!(matches!(outcomes[0], crate::AppendOutcome::Duplicate { .. }));
}
