//! The suite's analytics tests.

use std::sync::Arc;

use super::{T0, audit, audit_actions, bootstrapped, create_app};
use crate::{
    AlertEventRecord, AlertRuleRecord, AnalyticsBatchRecord, AnalyticsPolicyRecord, LogFileRecord, LogRequestRecord,
    Storage, SymbolFileRecord,
};

const WORKSPACE: &str = "APP0000000000001W1";

fn batch(device_id: &str, batch_id: &str, payload: &[u8]) -> AnalyticsBatchRecord {
    AnalyticsBatchRecord {
        workspace_id: WORKSPACE.into(),
        device_id: device_id.into(),
        batch_id: batch_id.into(),
        received_at: T0,
        event_count: 2,
        payload: payload.to_vec(),
    }
}

pub async fn analytics_batches_are_stored_once_per_device_and_id(storage: Arc<dyn Storage>) {
    let first = [batch("DEVICE1", "B1", b"one"), batch("DEVICE2", "B1", b"two"), batch("DEVICE1", "B1", b"again")];
    let sequences = storage.append_analytics_batches(&first).await.unwrap();
    assert!(sequences[0].is_some() && sequences[1].is_some(), "{sequences:?}");
    assert!(sequences[1] > sequences[0], "{sequences:?}");
    assert_eq!(sequences[2], None, "the same device and batch id in one group is stored once");
    let retried = storage
        .append_analytics_batches(&[batch("DEVICE2", "B1", b"retry"), batch("DEVICE2", "B2", b"three")])
        .await
        .unwrap();
    assert_eq!(retried[0], None);
    assert!(retried[1] > sequences[1]);

    let all = storage.analytics_batches_after(0, 100).await.unwrap();
    let payloads: Vec<&[u8]> = all.iter().map(|stored| stored.batch.payload.as_slice()).collect();
    assert_eq!(payloads, [&b"one"[..], b"two", b"three"]);
    assert_eq!(all[0].batch, batch("DEVICE1", "B1", b"one"));
    let page = storage.analytics_batches_after(all[0].seq, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, all[1].seq);
    assert!(storage.analytics_batches_after(all[2].seq, 100).await.unwrap().is_empty());
}

pub async fn an_analytics_batch_is_found_by_its_device_and_id(storage: Arc<dyn Storage>) {
    let sequences = storage
        .append_analytics_batches(&[batch("DEVICE1", "B1", b"one"), batch("DEVICE2", "B1", b"two")])
        .await
        .unwrap();
    let found = storage.get_analytics_batch(WORKSPACE, "DEVICE2", "B1").await.unwrap().unwrap();
    assert_eq!((Some(found.seq), found.batch), (sequences[1], batch("DEVICE2", "B1", b"two")));
    // A repeated id stores nothing: the first content stays.
    assert_eq!(storage.append_analytics_batches(&[batch("DEVICE2", "B1", b"other")]).await.unwrap(), [None]);
    let kept = storage.get_analytics_batch(WORKSPACE, "DEVICE2", "B1").await.unwrap().unwrap();
    assert_eq!(kept.batch.payload, b"two");
    for (workspace_id, device_id, batch_id) in
        [(WORKSPACE, "DEVICE1", "B2"), (WORKSPACE, "DEVICE3", "B1"), ("APP0000000000002W1", "DEVICE1", "B1")]
    {
        let missing = storage.get_analytics_batch(workspace_id, device_id, batch_id).await.unwrap();
        assert_eq!(missing, None, "{workspace_id} {device_id} {batch_id}");
    }
}

pub async fn analytics_policies_are_replaced_with_an_audit_entry(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    assert_eq!(storage.get_analytics_policy(WORKSPACE).await.unwrap(), None);
    for (policy, at) in [("{\"batch_size\":50}", T0), ("{\"batch_size\":20}", T0 + 5)] {
        let record = AnalyticsPolicyRecord { workspace_id: WORKSPACE.into(), policy: policy.into(), updated_at: at };
        storage.put_analytics_policy(&record, &audit("analytics.policy", WORKSPACE, at)).await.unwrap();
    }
    let stored = storage.get_analytics_policy(WORKSPACE).await.unwrap().unwrap();
    assert_eq!(stored.policy, "{\"batch_size\":20}");
    assert_eq!(stored.updated_at, T0 + 5);
    let actions = audit_actions(&storage).await;
    assert_eq!(actions.iter().filter(|action| *action == "analytics.policy").count(), 2, "{actions:?}");
}

pub async fn analytics_alert_rules_and_events_are_kept(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let rule = |definition: &str, at: i64| AlertRuleRecord {
        rule_id: "RULE1".into(),
        workspace_id: WORKSPACE.into(),
        definition: definition.into(),
        created_at: T0,
        updated_at: at,
    };
    storage
        .put_alert_rule(&rule("{\"threshold\":1}", T0), &audit("analytics.alert.create", "RULE1", T0))
        .await
        .unwrap();
    storage
        .put_alert_rule(&rule("{\"threshold\":2}", T0 + 1), &audit("analytics.alert.update", "RULE1", T0))
        .await
        .unwrap();
    assert_eq!(storage.list_alert_rules(Some(WORKSPACE)).await.unwrap(), [rule("{\"threshold\":2}", T0 + 1)]);
    assert_eq!(storage.list_alert_rules(None).await.unwrap().len(), 1);
    assert!(storage.list_alert_rules(Some("APP0000000000001W2")).await.unwrap().is_empty());

    let event = |state: &str, at: i64| AlertEventRecord {
        seq: 0,
        rule_id: "RULE1".into(),
        workspace_id: WORKSPACE.into(),
        state: state.into(),
        value: 0.25,
        at,
        delivered: state == "firing",
        attempts: 3,
        detail: Some("HTTP 500".into()),
    };
    let first = storage.insert_alert_event(&event("firing", T0)).await.unwrap();
    let second = storage.insert_alert_event(&event("resolved", T0 + 60_000)).await.unwrap();
    assert!(second > first);
    let events = storage.list_alert_events(WORKSPACE, 10).await.unwrap();
    assert_eq!(
        events,
        [
            AlertEventRecord { seq: second, ..event("resolved", T0 + 60_000) },
            AlertEventRecord { seq: first, ..event("firing", T0) }
        ]
    );
    assert_eq!(storage.list_alert_events(WORKSPACE, 1).await.unwrap().len(), 1);

    assert!(storage.delete_alert_rule("RULE1", &audit("analytics.alert.delete", "RULE1", T0)).await.unwrap());
    assert!(!storage.delete_alert_rule("RULE1", &audit("analytics.alert.delete", "RULE1", T0)).await.unwrap());
    assert!(storage.list_alert_rules(None).await.unwrap().is_empty());
    let actions = audit_actions(&storage).await;
    assert_eq!(actions.iter().filter(|action| action.starts_with("analytics.alert")).count(), 3, "{actions:?}");
}

pub async fn analytics_symbol_files_are_replaced_per_version(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let file = |version: &str, content: &[u8], at: i64| SymbolFileRecord {
        workspace_id: WORKSPACE.into(),
        app_version: version.into(),
        kind: "proguard".into(),
        content: content.to_vec(),
        uploaded_at: at,
    };
    for (version, content, at) in [("1.0.0", b"one".as_slice(), T0), ("1.1.0", b"two", T0), ("1.0.0", b"three", T0 + 1)]
    {
        storage
            .put_symbol_file(&file(version, content, at), &audit("analytics.symbols.upload", version, at))
            .await
            .unwrap();
    }
    let files = storage.list_symbol_files(Some(WORKSPACE)).await.unwrap();
    assert_eq!(files, [file("1.0.0", b"three", T0 + 1), file("1.1.0", b"two", T0)]);
    assert_eq!(storage.list_symbol_files(None).await.unwrap().len(), 2);
    assert!(storage.list_symbol_files(Some("APP0000000000001W2")).await.unwrap().is_empty());
}

pub async fn analytics_log_requests_and_files_are_kept(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let request = LogRequestRecord {
        request_id: "REQ1".into(),
        workspace_id: WORKSPACE.into(),
        device_id: None,
        user_id: Some("ann".into()),
        created_at: T0,
    };
    storage.insert_log_request(&request, &audit("analytics.logs.request", "REQ1", T0)).await.unwrap();
    assert_eq!(storage.get_log_request("REQ1").await.unwrap(), Some(request));
    assert_eq!(storage.get_log_request("REQ2").await.unwrap(), None);
    let file = |file_id: &str, at: i64| LogFileRecord {
        file_id: file_id.into(),
        request_id: "REQ1".into(),
        workspace_id: WORKSPACE.into(),
        device_id: "DEVICE1".into(),
        user_id: Some("ann".into()),
        file_name: "app.log".into(),
        size: 5,
        content: b"lines".to_vec(),
        uploaded_at: at,
    };
    storage.insert_log_file(&file("F1", T0 + 1)).await.unwrap();
    storage.insert_log_file(&file("F2", T0 + 2)).await.unwrap();
    let listed = storage.list_log_files(WORKSPACE, T0, T0 + 10, false).await.unwrap();
    assert_eq!(listed.iter().map(|file| file.file_id.as_str()).collect::<Vec<_>>(), ["F2", "F1"]);
    assert!(listed[0].content.is_empty());
    let with_content = storage.list_log_files(WORKSPACE, T0 + 2, T0 + 10, true).await.unwrap();
    assert_eq!(with_content, [file("F2", T0 + 2)]);
    assert_eq!(storage.get_log_file("F1").await.unwrap(), Some(file("F1", T0 + 1)));
    assert_eq!(storage.get_log_file("F9").await.unwrap(), None);
}
