//! The suite's experiment tests: laboratories and experiments unique by key per workspace,
//! updates conditional on the revision read, and a workspace revision that moves on every change.

use std::sync::Arc;

use serde_json::json;

use super::{T0, audit, audit_actions, bootstrapped, create_app};
use crate::{ExperimentRecord, LaboratoryRecord, Storage, StorageError};

const WORKSPACE: &str = "APP0000000000001W1";

fn experiment(experiment_id: &str, key: &str) -> ExperimentRecord {
    ExperimentRecord {
        experiment_id: experiment_id.into(),
        workspace_id: WORKSPACE.into(),
        laboratory_id: "LAB0000000000001".into(),
        key: key.into(),
        phase: "draft".into(),
        definition: json!({ "variations": [{ "key": "control" }, { "key": "treatment" }], "weights": [0.5, 0.5] }),
        bucket_version: 1,
        created_at: T0,
        updated_at: T0,
        started_at: None,
        stopped_at: None,
        decision: None,
        revision: 1,
    }
}

pub async fn experiments_are_unique_per_workspace_and_updated_conditionally(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    assert_eq!(storage.experiments_revision(WORKSPACE).await.unwrap(), 0, "nothing yet");

    let laboratory = LaboratoryRecord {
        laboratory_id: "LAB0000000000001".into(),
        workspace_id: WORKSPACE.into(),
        key: "checkout".into(),
        name: "Checkout".into(),
        description: "the payment flow".into(),
        created_at: T0,
    };
    storage.create_laboratory(&laboratory, &audit("laboratory.create", "LAB0000000000001", T0)).await.unwrap();
    let twin = LaboratoryRecord { laboratory_id: "LAB0000000000002".into(), ..laboratory.clone() };
    let refused = storage.create_laboratory(&twin, &audit("laboratory.create", "LAB0000000000002", T0)).await;
    assert!(matches!(refused, Err(StorageError::Conflict { .. })), "{refused:?}");
    assert_eq!(storage.list_laboratories(WORKSPACE).await.unwrap(), vec![laboratory]);
    assert_eq!(storage.experiments_revision(WORKSPACE).await.unwrap(), 1);

    let button = experiment("EXP0000000000001", "pay-button");
    let banner = experiment("EXP0000000000002", "banner");
    storage.create_experiment(&button, &audit("experiment.create", "EXP0000000000001", T0)).await.unwrap();
    storage.create_experiment(&banner, &audit("experiment.create", "EXP0000000000002", T0)).await.unwrap();
    let twin = ExperimentRecord { experiment_id: "EXP0000000000003".into(), ..button.clone() };
    let refused = storage.create_experiment(&twin, &audit("experiment.create", "EXP0000000000003", T0)).await;
    assert!(matches!(refused, Err(StorageError::Conflict { .. })), "{refused:?}");
    let keys: Vec<String> =
        storage.list_experiments(WORKSPACE).await.unwrap().into_iter().map(|experiment| experiment.key).collect();
    assert_eq!(keys, ["banner", "pay-button"], "by key");
    assert_eq!(storage.get_experiment(WORKSPACE, "pay-button").await.unwrap(), Some(button.clone()));
    assert_eq!(storage.get_experiment("APP0000000000001W2", "pay-button").await.unwrap(), None, "per workspace");

    let started = ExperimentRecord {
        phase: "running".into(),
        started_at: Some(T0 + 5),
        updated_at: T0 + 5,
        bucket_version: 2,
        decision: Some(json!({ "variation": "treatment" })),
        revision: 2,
        ..button.clone()
    };
    assert!(storage.update_experiment(&started, 1, &audit("experiment.start", "EXP0000000000001", T0)).await.unwrap());
    let stale = ExperimentRecord { phase: "stopped".into(), revision: 2, ..button.clone() };
    assert!(
        !storage.update_experiment(&stale, 1, &audit("experiment.stop", "EXP0000000000001", T0)).await.unwrap(),
        "a change that read an older revision writes nothing"
    );
    assert_eq!(storage.get_experiment(WORKSPACE, "pay-button").await.unwrap(), Some(started));
    assert_eq!(storage.experiments_revision(WORKSPACE).await.unwrap(), 4, "one per change that wrote");
    assert_eq!(storage.all_experiments_revisions().await.unwrap(), vec![(WORKSPACE.to_owned(), 4)]);
    let actions = audit_actions(&storage).await;
    assert_eq!(actions.iter().filter(|action| action.starts_with("experiment.")).count(), 3, "{actions:?}");
}
