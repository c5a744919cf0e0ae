use std::sync::Arc;

use midship_core::access::Role;
use midship_core::page::PageRequest;
use midship_core::{ManualClock, Principal};

use crate::{AuditQuery, ControlError, ControlPlane, ControlSettings, NewApp, NewToken};

mod people;

struct Fixture {
    control: ControlPlane,
    clock: Arc<ManualClock>,
    admin: Principal,
    _directory: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("control.db").display());
    let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
    let clock = Arc::new(ManualClock::new(1_795_313_234_000));
    let control = ControlPlane::new(storage, clock.clone(), ControlSettings::default());
    let issued = control.bootstrap(|_| Ok(())).await.unwrap().expect("first bootstrap");
    let admin = control.authenticate(&issued.token).await.unwrap();
    Fixture { control, clock, admin, _directory: directory }
}

async fn token_for(fixture: &Fixture, role: &str, app_ids: Option<Vec<String>>) -> Principal {
    let request = NewToken { name: format!("{role} token"), role: role.into(), app_ids, expires_in_seconds: None };
    let issued = fixture.control.create_token(&fixture.admin, request).await.unwrap();
    fixture.control.authenticate(&issued.token).await.unwrap()
}

fn demo_app() -> NewApp {
    NewApp { name: "demo".into(), platforms: vec!["android".into(), "ios".into()], workspaces: None }
}

#[tokio::test]
async fn bootstrap_runs_once() {
    let fixture = fixture().await;
    assert!(fixture.control.bootstrap(|_| Ok(())).await.unwrap().is_none());
    assert_eq!(fixture.admin.role, Role::Admin);
}

#[tokio::test]
async fn app_gets_default_workspaces_and_an_audited_creation() {
    let fixture = fixture().await;
    let created = fixture.control.create_app(&fixture.admin, demo_app()).await.unwrap();
    let names: Vec<_> = created.workspaces.iter().map(|ws| ws.name.as_str()).collect();
    assert_eq!(names, vec!["dev", "test", "prod"]);
    assert_eq!(created.key.secret.len(), 64);
    let details = fixture.control.app_details(&fixture.admin, &created.app.app_id).await.unwrap();
    assert!(details.keys.iter().all(|key| key.secret.is_empty()), "secrets are shown only once");
    let audit =
        fixture.control.list_audit(&fixture.admin, AuditQuery::default(), &PageRequest::default()).await.unwrap();
    assert_eq!(audit.items[0].entry.action, "app.create");
    assert_eq!(audit.items[0].entry.actor_token_id.as_deref(), fixture.admin.token_id());

    let again = fixture.control.create_app(&fixture.admin, demo_app()).await.unwrap_err();
    assert!(matches!(again, ControlError::Conflict(_)), "{again:?}");
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let fixture = fixture().await;
    let bad_platform = NewApp { platforms: vec!["symbian".into()], ..demo_app() };
    match fixture.control.create_app(&fixture.admin, bad_platform).await.unwrap_err() {
        ControlError::Invalid(error) => assert_eq!(error.field, "platforms"),
        other => panic!("expected invalid platforms, got {other:?}"),
    }
    let bad_workspace = NewApp { workspaces: Some(vec!["Prod".into()]), ..demo_app() };
    assert!(matches!(fixture.control.create_app(&fixture.admin, bad_workspace).await, Err(ControlError::Invalid(_))));
    let bad_role = NewToken { name: "x".into(), role: "root".into(), app_ids: None, expires_in_seconds: None };
    assert!(matches!(fixture.control.create_token(&fixture.admin, bad_role).await, Err(ControlError::Invalid(_))));
}

#[tokio::test]
async fn viewers_are_refused_changes() {
    let fixture = fixture().await;
    let viewer = token_for(&fixture, "viewer", None).await;
    assert!(matches!(fixture.control.create_app(&viewer, demo_app()).await, Err(ControlError::Forbidden(_))));
    let created = fixture.control.create_app(&fixture.admin, demo_app()).await.unwrap();
    assert!(matches!(
        fixture.control.rotate_key(&viewer, &created.app.app_id, None).await,
        Err(ControlError::Forbidden(_))
    ));
    assert_eq!(fixture.control.list_apps(&viewer, &PageRequest::default()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn app_scoped_tokens_see_only_their_apps() {
    let fixture = fixture().await;
    let mine = fixture.control.create_app(&fixture.admin, demo_app()).await.unwrap().app;
    let other =
        fixture.control.create_app(&fixture.admin, NewApp { name: "other".into(), ..demo_app() }).await.unwrap().app;
    let scoped = token_for(&fixture, "developer", Some(vec![mine.app_id.clone()])).await;
    let listed = fixture.control.list_apps(&scoped, &PageRequest::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|app| &app.app_id).collect::<Vec<_>>(), vec![&mine.app_id]);
    assert!(matches!(
        fixture.control.app_details(&scoped, &other.app_id).await,
        Err(ControlError::NotFound { kind: "app", .. })
    ));
    assert!(fixture.control.create_workspace(&scoped, &mine.app_id, "staging").await.is_ok());
    assert!(matches!(fixture.control.create_app(&scoped, demo_app()).await, Err(ControlError::Forbidden(_))));
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let fixture = fixture().await;
    let request = NewToken { name: "ci".into(), role: "operator".into(), app_ids: None, expires_in_seconds: Some(60) };
    let short_lived = fixture.control.create_token(&fixture.admin, request).await.unwrap();
    assert!(fixture.control.authenticate(&short_lived.token).await.is_ok());
    fixture.clock.advance_ms(60_000);
    assert!(matches!(fixture.control.authenticate(&short_lived.token).await, Err(ControlError::Unauthenticated)));

    let request = NewToken { name: "laptop".into(), role: "viewer".into(), app_ids: None, expires_in_seconds: None };
    let revocable = fixture.control.create_token(&fixture.admin, request).await.unwrap();
    let revoked = fixture.control.revoke_token(&fixture.admin, &revocable.record.token_id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(matches!(fixture.control.authenticate(&revocable.token).await, Err(ControlError::Unauthenticated)));
    assert!(matches!(fixture.control.authenticate("msp_forged").await, Err(ControlError::Unauthenticated)));
}

#[tokio::test]
async fn rotation_gives_a_new_secret_and_a_grace_period() {
    let fixture = fixture().await;
    let created = fixture.control.create_app(&fixture.admin, demo_app()).await.unwrap();
    let rotated = fixture.control.rotate_key(&fixture.admin, &created.app.app_id, Some(3600)).await.unwrap();
    assert_ne!(rotated.key.secret, created.key.secret);
    let keys = fixture.control.storage().list_app_keys(&created.app.app_id).await.unwrap();
    let now = midship_core::Clock::now_ms(fixture.clock.as_ref());
    assert!(keys.iter().all(|key| key.is_valid_at(now)), "both keys verify during the grace period");
    let old_key = keys.iter().find(|key| key.key_id == created.key.key_id).unwrap();
    let new_key = keys.iter().find(|key| key.key_id == rotated.key.key_id).unwrap();
    assert!(!old_key.is_valid_at(now + 3_600_000), "the old key stops after it");
    assert!(new_key.is_valid_at(now + 3_600_000), "the new key has no expiry");
    assert!(matches!(
        fixture.control.rotate_key(&fixture.admin, &created.app.app_id, Some(10_000_000)).await,
        Err(ControlError::Invalid(_))
    ));
}
