use std::sync::Arc;

use midship_control::{ControlPlane, ControlSettings, NewApp};
use midship_core::access::Role;
use midship_core::{Classify, ErrorKind, ManualClock, Principal};
use serde_json::json;

use midship_targeting::DeviceContext;

use crate::{ImportMode, PullOutcome, SwitchDefinition, SwitchError, SwitchService, SwitchState};

struct Fixture {
    control: ControlPlane,
    admin: Principal,
    app_id: String,
    workspace_id: String,
    _directory: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("switches.db").display());
    let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
    let control = ControlPlane::new(storage, Arc::new(ManualClock::new(1_795_313_234_000)), ControlSettings::default());
    let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
    let admin = control.authenticate(&issued.token).await.unwrap();
    let created = control.create_app(&admin, NewApp { name: "bank".into(), ..NewApp::default() }).await.unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    Fixture { control, admin, app_id: created.app.app_id, workspace_id, _directory: directory }
}

fn switch(key: &str, default_value: serde_json::Value) -> SwitchDefinition {
    serde_json::from_value(json!({ "key": key, "type": "number", "default_value": default_value })).unwrap()
}

fn device(user_id: &str) -> DeviceContext {
    DeviceContext { user_id: Some(user_id.into()), device_id: Some(format!("D-{user_id}")), ..DeviceContext::default() }
}

async fn value_for(service: &SwitchService, fixture: &Fixture, key: &str) -> Option<serde_json::Value> {
    match service.pull(&fixture.app_id, &fixture.workspace_id, &device("u"), None).await.unwrap() {
        PullOutcome::Values { values, .. } => values.get(key).cloned(),
        PullOutcome::NotModified { .. } => panic!("no etag was sent"),
    }
}

#[tokio::test]
async fn states_follow_the_draft_and_the_published_version() {
    let fixture = fixture().await;
    let service = SwitchService::new(fixture.control.clone());
    service.set_switch(&fixture.admin, &fixture.workspace_id, switch("limit", json!(1))).await.unwrap();
    let state =
        |statuses: Vec<crate::SwitchStatus>| statuses.into_iter().map(|status| status.state).collect::<Vec<_>>();
    assert_eq!(
        state(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec![SwitchState::New]
    );
    service.publish(&fixture.admin, &fixture.workspace_id, "").await.unwrap();
    assert_eq!(
        state(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec![SwitchState::Published]
    );
    service.set_switch(&fixture.admin, &fixture.workspace_id, switch("limit", json!(2))).await.unwrap();
    assert_eq!(
        state(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec![SwitchState::Changed]
    );
    service.delete_switch(&fixture.admin, &fixture.workspace_id, "limit").await.unwrap();
    assert_eq!(
        state(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec![SwitchState::Deleted]
    );
    assert!(matches!(
        service.delete_switch(&fixture.admin, &fixture.workspace_id, "limit").await,
        Err(SwitchError::UnknownSwitch(_))
    ));
}

#[tokio::test]
async fn another_node_serves_a_publication_after_refresh() {
    let fixture = fixture().await;
    let node_a = SwitchService::new(fixture.control.clone());
    let node_b = SwitchService::new(fixture.control.clone());
    node_a.set_switch(&fixture.admin, &fixture.workspace_id, switch("limit", json!(1))).await.unwrap();
    node_a.publish(&fixture.admin, &fixture.workspace_id, "").await.unwrap();
    assert_eq!(value_for(&node_b, &fixture, "limit").await, Some(json!(1)), "first use loads the latest version");

    node_a.set_switch(&fixture.admin, &fixture.workspace_id, switch("limit", json!(2))).await.unwrap();
    node_a.publish(&fixture.admin, &fixture.workspace_id, "").await.unwrap();
    assert_eq!(value_for(&node_a, &fixture, "limit").await, Some(json!(2)), "the publishing node switches at once");
    assert_eq!(value_for(&node_b, &fixture, "limit").await, Some(json!(1)), "the other node serves its snapshot");
    assert_eq!(node_b.refresh_changed().await.unwrap(), 1);
    assert_eq!(value_for(&node_b, &fixture, "limit").await, Some(json!(2)));
    assert_eq!(node_b.refresh_changed().await.unwrap(), 0);
}

#[tokio::test]
async fn import_merges_or_replaces_and_validates_everything_first() {
    let fixture = fixture().await;
    let service = SwitchService::new(fixture.control.clone());
    service.set_switch(&fixture.admin, &fixture.workspace_id, switch("kept", json!(1))).await.unwrap();
    let document = crate::ConfigDocument::new(vec![switch("added", json!(2))]);
    service.import(&fixture.admin, &fixture.workspace_id, document.clone(), ImportMode::Merge).await.unwrap();
    let keys = |statuses: Vec<crate::SwitchStatus>| statuses.into_iter().map(|status| status.key).collect::<Vec<_>>();
    assert_eq!(
        keys(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec!["added", "kept"]
    );
    service.import(&fixture.admin, &fixture.workspace_id, document, ImportMode::Replace).await.unwrap();
    assert_eq!(keys(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()), vec!["added"]);

    let twice = crate::ConfigDocument::new(vec![switch("x", json!(1)), switch("x", json!(2))]);
    let error = service.import(&fixture.admin, &fixture.workspace_id, twice, ImportMode::Replace).await.unwrap_err();
    assert!(error.to_string().contains("appears twice"), "{error}");
    assert_eq!(
        keys(service.list_switches(&fixture.admin, &fixture.workspace_id).await.unwrap()),
        vec!["added"],
        "nothing changed"
    );
}

/// Importing can replace every switch at once, so it needs a developer; rolling back stays with
/// operators, who answer incidents.
#[tokio::test]
async fn operators_roll_back_but_only_developers_import() {
    let fixture = fixture().await;
    let service = SwitchService::new(fixture.control.clone());
    let operator = Principal { role: Role::Operator, ..fixture.admin.clone() };
    let developer = Principal { role: Role::Developer, ..fixture.admin.clone() };
    let keys = |statuses: Vec<crate::SwitchStatus>| statuses.into_iter().map(|status| status.key).collect::<Vec<_>>();
    service.set_switch(&operator, &fixture.workspace_id, switch("limit", json!(1))).await.unwrap();
    service.publish(&operator, &fixture.workspace_id, "").await.unwrap();

    let document = crate::ConfigDocument::new(vec![switch("other", json!(2))]);
    for mode in [ImportMode::Replace, ImportMode::Merge] {
        let refused = service.import(&operator, &fixture.workspace_id, document.clone(), mode).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
    }
    assert_eq!(keys(service.list_switches(&operator, &fixture.workspace_id).await.unwrap()), vec!["limit"]);

    service.import(&developer, &fixture.workspace_id, document, ImportMode::Replace).await.unwrap();
    service.publish(&developer, &fixture.workspace_id, "").await.unwrap();
    assert_eq!(value_for(&service, &fixture, "limit").await, None);
    service.rollback(&operator, &fixture.workspace_id, 1).await.unwrap();
    assert_eq!(value_for(&service, &fixture, "limit").await, Some(json!(1)), "the operator restored version 1");
}
