//! The storage test suite: one body of tests every backend runs, through [`storage_test_suite!`].
//! A backend's test module calls the macro with an async factory that returns a fresh, empty,
//! migrated store, so each test starts from nothing.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use midship_core::access::{Role, TokenRecord};
use midship_core::tenancy::DEFAULT_TENANT_ID;
use midship_core::{App, AppKey, AuditFilter, NewAuditEntry, PageRequest, Platform, Tenant, Workspace};
use serde_json::json;

mod analytics;
mod approval;
mod delivery;
mod experiment;
mod lease;
mod people;
mod push;
mod secrets;
mod sync;

pub use analytics::*;
pub use approval::*;
pub use delivery::*;
pub use experiment::*;
pub use lease::*;
pub use people::*;
pub use push::*;
pub use secrets::*;
use sync::append as sync_append;
pub use sync::*;

use crate::sealing::SecretKeyring;
use crate::{
    ApiGroupRecord, ApiRecord, AppScope, Bootstrap, CredentialStatus, DeviceRecord, DraftAfterPublish,
    DraftSwitchRecord, Storage, StorageError, StorageResult, SwitchVersionRecord, WorkspaceSecurityRecord,
};

/// A fresh store plus whatever must live as long as it (a temporary directory, say).
pub struct Harness {
    pub storage: Arc<dyn Storage>,
    /// Opens the same database again with another keyring, as a node restarted with a rotated
    /// key-encryption key would.
    pub reopen: Reopen,
    pub keep_alive: Box<dyn Any + Send>,
}

/// How a backend opens its test database again.
pub type Reopen = Box<
    dyn Fn(Arc<SecretKeyring>) -> Pin<Box<dyn Future<Output = StorageResult<Arc<dyn Storage>>> + Send>> + Send + Sync,
>;

impl std::fmt::Debug for Harness {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Harness").field("storage", &self.storage).finish_non_exhaustive()
    }
}

/// Expands to one `#[tokio::test]` per test of the suite, each given a store made by `$factory`,
/// an `async fn() -> Harness`.
#[macro_export]
macro_rules! storage_test_suite {
    ($factory:path) => {
        $crate::storage_test_suite!(@each $factory;
            bootstrap_happens_once,
            tenants_are_unique_by_name,
            app_is_created_with_workspaces_and_key,
            conflicting_app_writes_nothing,
            apps_are_listed_by_page_and_scope,
            workspace_names_are_unique_per_app,
            rotation_keeps_previous_key_until_grace_ends,
            tokens_are_found_by_hash_and_revoked,
            revoking_an_unknown_token_is_not_found,
            audit_log_is_filtered_and_paged_newest_first,
            workspaces_are_found_by_id,
            draft_switches_are_upserted_listed_and_deleted,
            publishing_numbers_versions_and_refuses_duplicates,
            rollback_replaces_the_draft_with_the_published_version,
            api_groups_and_apis_are_unique_and_bump_the_revision,
            devices_are_registered_once,
            device_credentials_are_claimed_once,
            envelope_keys_are_created_once,
            sync_configs_are_upserted_listed_and_deleted,
            sync_streams_number_messages_without_gaps_and_remember_ids,
            concurrent_sync_appends_to_one_stream_stay_gap_free,
            scheduled_sync_messages_reserve_their_id_and_append_once,
            sync_acks_never_move_backwards,
            purging_removes_only_what_expired,
            push_devices_report_tokens_bind_users_and_retire_tokens,
            push_definitions_are_upserted_listed_and_deleted,
            push_tasks_track_deliveries_events_revokes_and_stats,
            scheduled_push_tasks_run_once_per_occurrence,
            a_sync_message_is_deleted_by_its_id,
            delivery_packages_patches_and_releases_are_stored,
            delivery_events_count_each_device_once,
            delivery_signing_keys_are_created_once,
            analytics_batches_are_stored_once_per_device_and_id,
            an_analytics_batch_is_found_by_its_device_and_id,
            analytics_policies_are_replaced_with_an_audit_entry,
            analytics_alert_rules_and_events_are_kept,
            analytics_symbol_files_are_replaced_per_version,
            analytics_log_requests_and_files_are_kept,
            a_lease_has_one_holder_until_it_lapses_or_is_released,
            people_are_unique_by_login_and_updated_whole,
            sign_in_failures_lock_and_totp_steps_are_used_once,
            console_sessions_are_touched_listed_and_ended_once,
            device_logins_are_approved_once_into_a_session,
            approvals_are_required_per_workspace_and_decided_once,
            experiments_are_unique_per_workspace_and_updated_conditionally
        );
        #[tokio::test]
        async fn secrets_are_sealed_and_resealed_under_a_new_key() {
            let harness = $factory().await;
            $crate::test_suite::secrets_are_sealed_and_resealed_under_a_new_key(&harness).await;
            harness.storage.close().await;
        }
    };
    (@each $factory:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let harness = $factory().await;
                $crate::test_suite::$test(harness.storage.clone()).await;
                harness.storage.close().await;
                drop(harness);
            }
        )*
    };
}

const T0: i64 = 1_795_313_234_000;

fn audit(action: &str, target_id: &str, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        tenant_id: DEFAULT_TENANT_ID.into(),
        at,
        actor_token_id: Some("ADMINTOKEN000000".into()),
        actor_person_id: None,
        actor_name: "suite".into(),
        action: action.into(),
        target_kind: action.split('.').next().unwrap_or("thing").into(),
        target_id: target_id.into(),
        app_id: None,
        before: None,
        after: Some(json!({ "id": target_id })),
    }
}

fn admin_token(token_id: &str, hash: &str) -> TokenRecord {
    TokenRecord {
        token_id: token_id.into(),
        tenant_id: DEFAULT_TENANT_ID.into(),
        name: format!("token {token_id}"),
        role: Role::Admin,
        app_ids: None,
        token_hash: hash.into(),
        hint: "msp_abcd…".into(),
        created_at: T0,
        created_by: None,
        expires_at: None,
        revoked_at: None,
    }
}

async fn bootstrapped(storage: &Arc<dyn Storage>) {
    let bootstrap = Bootstrap {
        tenant: Tenant { tenant_id: DEFAULT_TENANT_ID.into(), name: "Default".into(), created_at: T0 },
        admin_token: admin_token("ADMINTOKEN000000", "hash-admin"),
        audit: audit("tenant.bootstrap", DEFAULT_TENANT_ID, T0),
    };
    storage.bootstrap(&bootstrap).await.expect("bootstrap");
}

fn app(app_id: &str, name: &str, created_at: i64) -> App {
    App {
        app_id: app_id.into(),
        tenant_id: DEFAULT_TENANT_ID.into(),
        name: name.into(),
        platforms: vec![Platform::Android, Platform::Ios],
        created_at,
    }
}

fn workspace(app_id: &str, workspace_id: &str, name: &str) -> Workspace {
    Workspace { workspace_id: workspace_id.into(), app_id: app_id.into(), name: name.into(), created_at: T0 }
}

fn key(app_id: &str, key_id: &str, created_at: i64) -> AppKey {
    AppKey {
        key_id: key_id.into(),
        app_id: app_id.into(),
        secret: format!("secret-{key_id}"),
        created_at,
        expires_at: None,
    }
}

async fn create_app(storage: &Arc<dyn Storage>, app_id: &str, name: &str, created_at: i64) {
    let workspaces =
        [workspace(app_id, &format!("{app_id}W1"), "dev"), workspace(app_id, &format!("{app_id}W2"), "prod")];
    storage
        .create_app(
            &app(app_id, name, created_at),
            &workspaces,
            &key(app_id, &format!("{app_id}K1"), created_at),
            &audit("app.create", app_id, created_at),
        )
        .await
        .expect("create app");
}

async fn audit_actions(storage: &Arc<dyn Storage>) -> Vec<String> {
    let page = storage
        .list_audit(DEFAULT_TENANT_ID, &AuditFilter::default(), &PageRequest::first(200))
        .await
        .expect("list audit");
    page.items.into_iter().map(|entry| entry.entry.action).collect()
}

pub async fn bootstrap_happens_once(storage: Arc<dyn Storage>) {
    let first = Bootstrap {
        tenant: Tenant { tenant_id: DEFAULT_TENANT_ID.into(), name: "Default".into(), created_at: T0 },
        admin_token: admin_token("ADMINTOKEN000000", "hash-admin"),
        audit: audit("tenant.bootstrap", DEFAULT_TENANT_ID, T0),
    };
    assert!(storage.bootstrap(&first).await.unwrap(), "first bootstrap creates");
    let second = Bootstrap { admin_token: admin_token("ADMINTOKEN000001", "hash-other"), ..first };
    assert!(!storage.bootstrap(&second).await.unwrap(), "second bootstrap is a no-op");
    assert!(storage.find_token_by_hash("hash-other").await.unwrap().is_none());
    let found = storage.find_token_by_hash("hash-admin").await.unwrap().expect("admin token");
    assert_eq!(found.role, Role::Admin);
    assert_eq!(audit_actions(&storage).await, vec!["tenant.bootstrap"]);
}

pub async fn tenants_are_unique_by_name(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    let tenant = Tenant { tenant_id: "TENANT0000000002".into(), name: "Transit".into(), created_at: T0 + 1 };
    storage.create_tenant(&tenant, &audit("tenant.create", &tenant.tenant_id, T0 + 1)).await.unwrap();
    let duplicate = Tenant { tenant_id: "TENANT0000000003".into(), ..tenant.clone() };
    let error =
        storage.create_tenant(&duplicate, &audit("tenant.create", "TENANT0000000003", T0 + 2)).await.unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error:?}");
    assert_eq!(storage.get_tenant("TENANT0000000002").await.unwrap(), Some(tenant));
    assert_eq!(storage.get_tenant("NOPE").await.unwrap(), None);
    let tenants = storage.list_tenants(&PageRequest::first(1)).await.unwrap();
    assert_eq!(tenants.items.len(), 1);
    let rest = storage.list_tenants(&PageRequest::new(Some(1), tenants.next_cursor)).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
}

pub async fn app_is_created_with_workspaces_and_key(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "Mobile Bank", T0).await;
    assert_eq!(storage.get_app("APP0000000000001").await.unwrap(), Some(app("APP0000000000001", "Mobile Bank", T0)));
    let names: Vec<_> =
        storage.list_workspaces("APP0000000000001").await.unwrap().into_iter().map(|ws| ws.name).collect();
    assert_eq!(names, vec!["dev", "prod"]);
    let keys = storage.list_app_keys("APP0000000000001").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].secret, "secret-APP0000000000001K1");
    assert_eq!(audit_actions(&storage).await, vec!["app.create", "tenant.bootstrap"]);
    assert_eq!(storage.get_app("APP0000000000404").await.unwrap(), None);
}

pub async fn conflicting_app_writes_nothing(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "Mobile Bank", T0).await;
    let clash = app("APP0000000000002", "Mobile Bank", T0 + 5);
    let workspaces = [workspace("APP0000000000002", "APP0000000000002W", "dev")];
    let error = storage
        .create_app(
            &clash,
            &workspaces,
            &key("APP0000000000002", "KEY2", T0),
            &audit("app.create", "APP0000000000002", T0 + 5),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error:?}");
    assert_eq!(storage.get_app("APP0000000000002").await.unwrap(), None);
    assert!(storage.list_workspaces("APP0000000000002").await.unwrap().is_empty());
    assert!(storage.list_app_keys("APP0000000000002").await.unwrap().is_empty());
    assert_eq!(
        audit_actions(&storage).await,
        vec!["app.create", "tenant.bootstrap"],
        "no audit entry for a failed change"
    );

    // A clash in the second statement (a workspace id taken) rolls back the first (the app row).
    let reused_workspace = [workspace("APP0000000000003", "APP0000000000001W1", "dev")];
    let error = storage
        .create_app(
            &app("APP0000000000003", "Other", T0),
            &reused_workspace,
            &key("APP0000000000003", "KEY3", T0),
            &audit("app.create", "APP0000000000003", T0),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error:?}");
    assert_eq!(storage.get_app("APP0000000000003").await.unwrap(), None);
}

pub async fn apps_are_listed_by_page_and_scope(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    for (index, app_id) in ["APP0000000000001", "APP0000000000002", "APP0000000000003"].iter().enumerate() {
        create_app(&storage, app_id, &format!("App {index}"), T0 + index as i64).await;
    }
    let scope = AppScope { tenant_id: DEFAULT_TENANT_ID.into(), only_app_ids: None };
    let first = storage.list_apps(&scope, &PageRequest::first(2)).await.unwrap();
    let first_ids: Vec<_> = first.items.iter().map(|app| app.app_id.as_str()).collect();
    assert_eq!(first_ids, vec!["APP0000000000001", "APP0000000000002"]);
    let second = storage.list_apps(&scope, &PageRequest::new(Some(2), first.next_cursor.clone())).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].app_id, "APP0000000000003");
    assert_eq!(second.next_cursor, None);

    let narrowed =
        AppScope { tenant_id: DEFAULT_TENANT_ID.into(), only_app_ids: Some(vec!["APP0000000000002".into()]) };
    let scoped = storage.list_apps(&narrowed, &PageRequest::default()).await.unwrap();
    assert_eq!(scoped.items.len(), 1);
    assert_eq!(scoped.items[0].app_id, "APP0000000000002");

    let other_tenant = AppScope { tenant_id: "OTHER".into(), only_app_ids: None };
    assert!(storage.list_apps(&other_tenant, &PageRequest::default()).await.unwrap().items.is_empty());
}

pub async fn workspace_names_are_unique_per_app(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "Mobile Bank", T0).await;
    let staging = workspace("APP0000000000001", "WS00000000000009", "staging");
    storage.create_workspace(&staging, &audit("workspace.create", "WS00000000000009", T0)).await.unwrap();
    let again = workspace("APP0000000000001", "WS00000000000010", "staging");
    let error = storage.create_workspace(&again, &audit("workspace.create", "WS00000000000010", T0)).await.unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error:?}");
    assert_eq!(storage.list_workspaces("APP0000000000001").await.unwrap().len(), 3);
}

pub async fn rotation_keeps_previous_key_until_grace_ends(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "Mobile Bank", T0).await;
    let grace_end = T0 + 86_400_000;
    storage
        .rotate_app_key(
            &key("APP0000000000001", "KEY0000000000002", T0 + 10),
            grace_end,
            &audit("app.key.rotate", "APP0000000000001", T0 + 10),
        )
        .await
        .unwrap();
    let keys = storage.list_app_keys("APP0000000000001").await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].key_id, "KEY0000000000002", "newest first");
    assert_eq!(keys[0].expires_at, None);
    assert_eq!(keys[1].expires_at, Some(grace_end));

    // A second rotation shortens the grace of older keys but never extends it.
    storage
        .rotate_app_key(
            &key("APP0000000000001", "KEY0000000000003", T0 + 20),
            grace_end + 5_000,
            &audit("app.key.rotate", "APP0000000000001", T0 + 20),
        )
        .await
        .unwrap();
    let keys = storage.list_app_keys("APP0000000000001").await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[1].expires_at, Some(grace_end + 5_000));
    assert_eq!(keys[2].expires_at, Some(grace_end));
}

pub async fn tokens_are_found_by_hash_and_revoked(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    let scoped = TokenRecord {
        role: Role::Viewer,
        app_ids: Some(vec!["APP0000000000001".into()]),
        created_by: Some("ADMINTOKEN000000".into()),
        expires_at: Some(T0 + 1_000),
        ..admin_token("VIEWERTOKEN00001", "hash-viewer")
    };
    storage.create_token(&scoped, &audit("token.create", "VIEWERTOKEN00001", T0)).await.unwrap();
    assert_eq!(storage.find_token_by_hash("hash-viewer").await.unwrap(), Some(scoped.clone()));
    assert_eq!(storage.get_token("VIEWERTOKEN00001").await.unwrap(), Some(scoped.clone()));

    let clash = admin_token("VIEWERTOKEN00002", "hash-viewer");
    assert!(matches!(
        storage.create_token(&clash, &audit("token.create", "VIEWERTOKEN00002", T0)).await.unwrap_err(),
        StorageError::Conflict { .. }
    ));

    storage
        .revoke_token("VIEWERTOKEN00001", T0 + 50, &audit("token.revoke", "VIEWERTOKEN00001", T0 + 50))
        .await
        .unwrap();
    storage
        .revoke_token("VIEWERTOKEN00001", T0 + 90, &audit("token.revoke", "VIEWERTOKEN00001", T0 + 90))
        .await
        .unwrap();
    let revoked = storage.get_token("VIEWERTOKEN00001").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 50), "the first revocation time stays");

    let tokens = storage.list_tokens(DEFAULT_TENANT_ID, &PageRequest::default()).await.unwrap();
    let ids: Vec<_> = tokens.items.iter().map(|token| token.token_id.as_str()).collect();
    assert_eq!(ids, vec!["ADMINTOKEN000000", "VIEWERTOKEN00001"]);
}

pub async fn revoking_an_unknown_token_is_not_found(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    let error =
        storage.revoke_token("NOSUCHTOKEN00000", T0, &audit("token.revoke", "NOSUCHTOKEN00000", T0)).await.unwrap_err();
    assert!(matches!(error, StorageError::NotFound { .. }), "{error:?}");
    assert_eq!(audit_actions(&storage).await, vec!["tenant.bootstrap"]);
}

pub async fn audit_log_is_filtered_and_paged_newest_first(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0 + 1).await;
    create_app(&storage, "APP0000000000002", "Two", T0 + 2).await;
    let in_app = audit("workspace.create", "WS00000000000009", T0 + 3).in_app("APP0000000000001");
    storage.create_workspace(&workspace("APP0000000000001", "WS00000000000009", "qa"), &in_app).await.unwrap();

    let first = storage.list_audit(DEFAULT_TENANT_ID, &AuditFilter::default(), &PageRequest::first(2)).await.unwrap();
    let actions: Vec<_> = first.items.iter().map(|entry| entry.entry.action.as_str()).collect();
    assert_eq!(actions, vec!["workspace.create", "app.create"]);
    assert_eq!(first.items[0].entry, in_app, "entries read back as written");
    assert!(first.items[0].seq > first.items[1].seq);
    let rest = storage
        .list_audit(DEFAULT_TENANT_ID, &AuditFilter::default(), &PageRequest::new(Some(10), first.next_cursor))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next_cursor, None);

    let by_app = AuditFilter { app_id: Some("APP0000000000001".into()), ..AuditFilter::default() };
    assert_eq!(storage.list_audit(DEFAULT_TENANT_ID, &by_app, &PageRequest::default()).await.unwrap().items.len(), 1);
    let by_action = AuditFilter { action: Some("app.create".into()), ..AuditFilter::default() };
    assert_eq!(
        storage.list_audit(DEFAULT_TENANT_ID, &by_action, &PageRequest::default()).await.unwrap().items.len(),
        2
    );
    let visible = AuditFilter { visible_apps: Some(vec!["APP0000000000002".into()]), ..AuditFilter::default() };
    assert!(storage.list_audit(DEFAULT_TENANT_ID, &visible, &PageRequest::default()).await.unwrap().items.is_empty());
    assert!(
        storage.list_audit("OTHER", &AuditFilter::default(), &PageRequest::default()).await.unwrap().items.is_empty()
    );
}

pub async fn workspaces_are_found_by_id(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let found = storage.get_workspace("APP0000000000001W2").await.unwrap().expect("workspace");
    assert_eq!(found.name, "prod");
    assert_eq!(found.app_id, "APP0000000000001");
    assert_eq!(storage.get_workspace("NOSUCHWORKSPACE0").await.unwrap(), None);
}

fn draft(key: &str, definition: &str, updated_at: i64) -> DraftSwitchRecord {
    DraftSwitchRecord { key: key.into(), definition: definition.into(), updated_at }
}

fn version(workspace_id: &str, number: i64, document: &str) -> SwitchVersionRecord {
    SwitchVersionRecord {
        workspace_id: workspace_id.into(),
        version: number,
        document: document.into(),
        published_at: T0 + number,
        published_by: "suite".into(),
        note: format!("release {number}"),
    }
}

pub async fn draft_switches_are_upserted_listed_and_deleted(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let workspace = "APP0000000000001W1";
    storage
        .put_draft_switch(
            workspace,
            &draft("search.enabled", r#"{"v":1}"#, T0),
            &audit("switch.set", "search.enabled", T0),
        )
        .await
        .unwrap();
    storage
        .put_draft_switch(workspace, &draft("banner.text", r#"{"v":2}"#, T0), &audit("switch.set", "banner.text", T0))
        .await
        .unwrap();
    storage
        .put_draft_switch(
            workspace,
            &draft("search.enabled", r#"{"v":3}"#, T0 + 1),
            &audit("switch.set", "search.enabled", T0 + 1),
        )
        .await
        .unwrap();
    let listed = storage.list_draft_switches(workspace).await.unwrap();
    assert_eq!(listed, vec![draft("banner.text", r#"{"v":2}"#, T0), draft("search.enabled", r#"{"v":3}"#, T0 + 1)]);
    assert!(storage.list_draft_switches("APP0000000000001W2").await.unwrap().is_empty(), "drafts are per workspace");

    storage
        .delete_draft_switch(workspace, "banner.text", &audit("switch.delete", "banner.text", T0 + 2))
        .await
        .unwrap();
    let error = storage
        .delete_draft_switch(workspace, "banner.text", &audit("switch.delete", "banner.text", T0 + 3))
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::NotFound { .. }), "{error:?}");
    assert_eq!(storage.list_draft_switches(workspace).await.unwrap().len(), 1);
    let actions = audit_actions(&storage).await;
    assert_eq!(actions.iter().filter(|action| action.starts_with("switch.")).count(), 4, "{actions:?}");

    storage
        .replace_draft(workspace, &[draft("imported", "{}", T0 + 4)], &audit("switch.import", workspace, T0 + 4))
        .await
        .unwrap();
    let keys: Vec<_> =
        storage.list_draft_switches(workspace).await.unwrap().into_iter().map(|record| record.key).collect();
    assert_eq!(keys, vec!["imported"]);
}

pub async fn publishing_numbers_versions_and_refuses_duplicates(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let workspace = "APP0000000000001W1";
    assert_eq!(storage.get_switch_version(workspace, None).await.unwrap(), None);
    for number in 1..=3 {
        let record = version(workspace, number, &format!(r#"{{"n":{number}}}"#));
        storage
            .publish_switch_version(&record, DraftAfterPublish::Keep, &audit("switch.publish", workspace, T0))
            .await
            .unwrap();
    }
    let duplicate = version(workspace, 3, "{}");
    let error = storage
        .publish_switch_version(&duplicate, DraftAfterPublish::Keep, &audit("switch.publish", workspace, T0))
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error:?}");

    assert_eq!(storage.get_switch_version(workspace, None).await.unwrap().unwrap().version, 3);
    assert_eq!(
        storage.get_switch_version(workspace, Some(2)).await.unwrap(),
        Some(version(workspace, 2, r#"{"n":2}"#))
    );
    assert_eq!(storage.get_switch_version(workspace, Some(9)).await.unwrap(), None);

    let first = storage.list_switch_versions(workspace, &PageRequest::first(2)).await.unwrap();
    assert_eq!(first.items.iter().map(|record| record.version).collect::<Vec<_>>(), vec![3, 2]);
    let rest = storage.list_switch_versions(workspace, &PageRequest::new(Some(2), first.next_cursor)).await.unwrap();
    assert_eq!(rest.items.iter().map(|record| record.version).collect::<Vec<_>>(), vec![1]);
    assert_eq!(rest.next_cursor, None);

    storage
        .publish_switch_version(
            &version("APP0000000000001W2", 1, "{}"),
            DraftAfterPublish::Keep,
            &audit("switch.publish", "W2", T0),
        )
        .await
        .unwrap();
    let mut latest = storage.latest_switch_versions().await.unwrap();
    latest.sort();
    assert_eq!(latest, vec![(workspace.to_owned(), 3), ("APP0000000000001W2".to_owned(), 1)]);
}

pub async fn rollback_replaces_the_draft_with_the_published_version(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let workspace = "APP0000000000001W1";
    storage.put_draft_switch(workspace, &draft("edited", "{}", T0), &audit("switch.set", "edited", T0)).await.unwrap();
    let restored = [draft("restored", r#"{"v":1}"#, T0 + 9)];
    storage
        .publish_switch_version(
            &version(workspace, 1, "{}"),
            DraftAfterPublish::Replace(&restored),
            &audit("switch.rollback", workspace, T0 + 9),
        )
        .await
        .unwrap();
    assert_eq!(storage.list_draft_switches(workspace).await.unwrap(), restored.to_vec());

    // A failed publication (duplicate version) leaves the draft untouched.
    let other = [draft("lost", "{}", T0 + 10)];
    assert!(
        storage
            .publish_switch_version(
                &version(workspace, 1, "{}"),
                DraftAfterPublish::Replace(&other),
                &audit("switch.rollback", workspace, T0 + 10)
            )
            .await
            .is_err()
    );
    assert_eq!(storage.list_draft_switches(workspace).await.unwrap(), restored.to_vec());
}

fn api_group(group_id: &str, name: &str) -> ApiGroupRecord {
    ApiGroupRecord {
        group_id: group_id.into(),
        workspace_id: "APP0000000000001W1".into(),
        name: name.into(),
        definition: format!(r#"{{"base_url":"http://{name}.internal"}}"#),
        updated_at: T0,
    }
}

fn api(api_id: &str, operation_type: &str, group_id: &str) -> ApiRecord {
    ApiRecord {
        api_id: api_id.into(),
        workspace_id: "APP0000000000001W1".into(),
        operation_type: operation_type.into(),
        group_id: group_id.into(),
        definition: r#"{"method":"POST"}"#.into(),
        updated_at: T0,
    }
}

pub async fn api_groups_and_apis_are_unique_and_bump_the_revision(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let start = storage.gateway_revision().await.unwrap();
    storage
        .create_api_group(&api_group("GROUP00000000001", "accounts"), &audit("api_group.create", "G1", T0))
        .await
        .unwrap();
    let clash = storage
        .create_api_group(&api_group("GROUP00000000002", "accounts"), &audit("api_group.create", "G2", T0))
        .await
        .unwrap_err();
    assert!(matches!(clash, StorageError::Conflict { .. }), "{clash:?}");
    let renamed = ApiGroupRecord {
        definition: r#"{"base_url":"http://new"}"#.into(),
        updated_at: T0 + 1,
        ..api_group("GROUP00000000001", "accounts")
    };
    storage.update_api_group(&renamed, &audit("api_group.update", "G1", T0 + 1)).await.unwrap();
    let missing = storage
        .update_api_group(&api_group("GROUP00000000404", "x"), &audit("api_group.update", "G404", T0))
        .await
        .unwrap_err();
    assert!(matches!(missing, StorageError::NotFound { .. }), "{missing:?}");
    assert_eq!(storage.list_api_groups("APP0000000000001W1").await.unwrap(), vec![renamed]);

    storage
        .create_api(&api("API0000000000002", "com.bank.transfer", "GROUP00000000001"), &audit("api.create", "A2", T0))
        .await
        .unwrap();
    storage
        .create_api(&api("API0000000000001", "com.bank.balance", "GROUP00000000001"), &audit("api.create", "A1", T0))
        .await
        .unwrap();
    let clash = storage
        .create_api(&api("API0000000000003", "com.bank.balance", "GROUP00000000001"), &audit("api.create", "A3", T0))
        .await
        .unwrap_err();
    assert!(matches!(clash, StorageError::Conflict { .. }), "{clash:?}");
    let unknown_group = storage
        .create_api(&api("API0000000000004", "com.bank.other", "NOSUCHGROUP00000"), &audit("api.create", "A4", T0))
        .await;
    assert!(unknown_group.is_err(), "an API needs an existing group");
    let closed = ApiRecord {
        definition: r#"{"method":"POST","status":"closed"}"#.into(),
        updated_at: T0 + 2,
        ..api("API0000000000001", "com.bank.balance", "GROUP00000000001")
    };
    storage.update_api(&closed, &audit("api.close", "A1", T0 + 2)).await.unwrap();
    let apis = storage.list_apis("APP0000000000001W1").await.unwrap();
    assert_eq!(
        apis.iter().map(|api| api.operation_type.as_str()).collect::<Vec<_>>(),
        vec!["com.bank.balance", "com.bank.transfer"]
    );
    assert_eq!(apis[0], closed);
    assert!(storage.list_apis("APP0000000000001W2").await.unwrap().is_empty());
    assert_eq!(storage.gateway_revision().await.unwrap(), start + 5, "one bump per successful change");
}

pub async fn devices_are_registered_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let device = DeviceRecord {
        utdid: "UTDID00000000001".into(),
        app_id: "APP0000000000001".into(),
        workspace_id: "APP0000000000001W1".into(),
        platform: "android".into(),
        model: Some("Pixel 8".into()),
        os_version: None,
        app_version: Some("1.0.0".into()),
        first_seen_at: T0,
    };
    storage.register_device(&device).await.unwrap();
    assert!(matches!(storage.register_device(&device).await.unwrap_err(), StorageError::Conflict { .. }));
}

pub async fn device_credentials_are_claimed_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let device = |utdid: &str, workspace_id: &str| DeviceRecord {
        utdid: utdid.into(),
        app_id: "APP0000000000001".into(),
        workspace_id: workspace_id.into(),
        platform: "ios".into(),
        model: None,
        os_version: None,
        app_version: None,
        first_seen_at: T0,
    };
    let workspace = "APP0000000000001W1";
    // A device issued its id before credentials existed claims it once; a new one in one step.
    storage.register_device(&device("UTDID00000000001", workspace)).await.unwrap();
    assert_eq!(storage.device_credential_status(workspace, "UTDID00000000001").await.unwrap(), CredentialStatus::None);
    assert!(storage.claim_device_credential(&device("UTDID00000000001", workspace), T0 + 5).await.unwrap());
    assert!(!storage.claim_device_credential(&device("UTDID00000000001", workspace), T0 + 6).await.unwrap());
    let issued = CredentialStatus::Issued { at: T0 + 5 };
    assert_eq!(storage.device_credential_status(workspace, "UTDID00000000001").await.unwrap(), issued);
    assert!(storage.claim_device_credential(&device("UTDID00000000002", workspace), T0 + 7).await.unwrap());
    let issued = CredentialStatus::Issued { at: T0 + 7 };
    assert_eq!(storage.device_credential_status(workspace, "UTDID00000000002").await.unwrap(), issued);
    assert!(
        !storage.claim_device_credential(&device("UTDID00000000002", "APP0000000000001W2"), T0 + 8).await.unwrap(),
        "an id of another workspace is not claimed"
    );
    let elsewhere = storage.device_credential_status("APP0000000000001W2", "UTDID00000000002").await.unwrap();
    assert_eq!(elsewhere, CredentialStatus::None);

    // Revoked once; a revoked id is not claimed again, and devices without a credential have none
    // to revoke.
    let revoke = |utdid: &'static str, at| {
        let storage = storage.clone();
        async move {
            storage.revoke_device_credential(workspace, utdid, at, &audit("device.credential.revoke", utdid, at)).await
        }
    };
    revoke("UTDID00000000002", T0 + 9).await.unwrap();
    assert!(matches!(revoke("UTDID00000000002", T0 + 10).await, Err(StorageError::NotFound { .. })));
    assert!(matches!(revoke("UTDID-UNKNOWN", T0 + 10).await, Err(StorageError::NotFound { .. })));
    let revoked = storage.device_credential_status(workspace, "UTDID00000000002").await.unwrap();
    assert_eq!(revoked, CredentialStatus::Revoked { at: T0 + 9 });
    assert!(!storage.claim_device_credential(&device("UTDID00000000002", workspace), T0 + 11).await.unwrap());
    assert!(audit_actions(&storage).await.contains(&"device.credential.revoke".to_owned()));

    let unset = storage.workspace_security(workspace).await.unwrap();
    assert_eq!((unset.device_credentials_required_from, unset.connect_tokens_valid_after), (None, 0));
    let revision = storage.gateway_revision().await.unwrap();
    let policy = WorkspaceSecurityRecord {
        workspace_id: workspace.into(),
        device_credentials_required_from: Some(T0 + 100),
        connect_tokens_valid_after: T0 + 50,
        unsigned_config_pull: true,
        attestation_verifier_url: Some("https://attest.bank.example/verify".into()),
        encrypt_features_payload: true,
        updated_at: T0 + 9,
    };
    storage.set_workspace_security(&policy, &audit("workspace.security", workspace, T0 + 9)).await.unwrap();
    assert_eq!(storage.workspace_security(workspace).await.unwrap(), policy);
    let relaxed = WorkspaceSecurityRecord {
        device_credentials_required_from: None,
        attestation_verifier_url: None,
        encrypt_features_payload: false,
        ..policy.clone()
    };
    storage.set_workspace_security(&relaxed, &audit("workspace.security", workspace, T0 + 10)).await.unwrap();
    assert_eq!(storage.workspace_security(workspace).await.unwrap(), relaxed);
    assert_eq!(storage.gateway_revision().await.unwrap(), revision + 2, "every node reloads the policy");
}

pub async fn envelope_keys_are_created_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    create_app(&storage, "APP0000000000001", "One", T0).await;
    let first = storage.envelope_key("APP0000000000001W1", "p256-aes256gcm", "aa", T0).await.unwrap();
    assert_eq!(first, "aa");
    let second = storage.envelope_key("APP0000000000001W1", "p256-aes256gcm", "bb", T0 + 1).await.unwrap();
    assert_eq!(second, "aa", "the stored key wins over a later candidate");
    assert_eq!(storage.envelope_key("APP0000000000001W1", "sm2-sm4gcm", "cc", T0).await.unwrap(), "cc");
    assert_eq!(storage.envelope_key("APP0000000000001W2", "p256-aes256gcm", "dd", T0).await.unwrap(), "dd");
}
