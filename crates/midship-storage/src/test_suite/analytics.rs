//! The suite's analytics tests.

use std::sync::Arc;

use super::{T0, audit, audit_actions, bootstrapped, create_app};
use crate::{AnalyticsBatchRecord, AnalyticsPolicyRecord, Storage};

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
