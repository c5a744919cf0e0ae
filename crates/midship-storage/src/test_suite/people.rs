//! The suite's tests of people and console sessions: unique logins, the sign-in counters changed
//! only by their own statements, a TOTP step used once, sessions ended once.

use std::sync::Arc;

use midship_core::access::Role;
use midship_core::people::{ConsoleSessionRecord, PersonRecord, SessionStage, SignInPolicy, TotpEnrollment};
use midship_core::tenancy::DEFAULT_TENANT_ID;
use midship_core::{AuditFilter, PageRequest};

use super::{T0, audit, bootstrapped};
use crate::{Storage, StorageError};

pub fn person(person_id: &str, login: &str) -> PersonRecord {
    PersonRecord {
        person_id: person_id.into(),
        tenant_id: DEFAULT_TENANT_ID.into(),
        login: login.into(),
        display_name: format!("Person {login}"),
        role: Role::Operator,
        app_ids: Some(vec!["APP".into()]),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        password_must_change: true,
        totp: None,
        oidc_subject: None,
        failed_sign_ins: 0,
        locked_until: None,
        sessions_valid_after: 0,
        created_at: T0,
        created_by: Some("ADMINTOKEN000000".into()),
        disabled_at: None,
    }
}

fn session(hash: &str, person_id: &str, created_at: i64) -> ConsoleSessionRecord {
    ConsoleSessionRecord {
        session_hash: hash.into(),
        person_id: person_id.into(),
        tenant_id: DEFAULT_TENANT_ID.into(),
        stage: SessionStage::Full,
        created_at,
        last_seen_at: created_at,
        expires_at: created_at + 3_600_000,
        revoked_at: None,
        address: "192.0.2.7".into(),
    }
}

pub async fn people_are_unique_by_login_and_updated_whole(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    let ana = person("PERSON0000000001", "ana");
    storage.create_person(&ana, &audit("person.create", "PERSON0000000001", T0)).await.unwrap();
    let twin = person("PERSON0000000002", "ana");
    let taken = storage.create_person(&twin, &audit("person.create", "PERSON0000000002", T0)).await;
    assert!(matches!(taken, Err(StorageError::Conflict { entity: "person" })), "{taken:?}");
    storage.create_person(&person("PERSON0000000003", "bo"), &audit("person.create", "P3", T0)).await.unwrap();

    assert_eq!(storage.get_person("PERSON0000000001").await.unwrap(), Some(ana.clone()));
    assert_eq!(storage.find_person_by_login("ana").await.unwrap(), Some(ana.clone()));
    assert_eq!(storage.find_person_by_login("anna").await.unwrap(), None);
    let first = storage.list_people(DEFAULT_TENANT_ID, &PageRequest::first(1)).await.unwrap();
    assert_eq!(first.items.iter().map(|p| p.login.as_str()).collect::<Vec<_>>(), ["ana"]);
    let second = storage.list_people(DEFAULT_TENANT_ID, &PageRequest::new(Some(5), first.next_cursor)).await;
    assert_eq!(second.unwrap().items.iter().map(|p| p.login.as_str()).collect::<Vec<_>>(), ["bo"]);

    let changed = PersonRecord {
        role: Role::Admin,
        app_ids: None,
        password_must_change: false,
        totp: Some(TotpEnrollment { secret: "JBSWY3DPEHPK3PXP".into(), enabled_at: Some(T0 + 5), last_step: 0 }),
        sessions_valid_after: T0 + 5,
        // Counters are not this method's to change.
        failed_sign_ins: 9,
        ..ana.clone()
    };
    storage.update_person(&changed, &audit("person.update", "PERSON0000000001", T0 + 5)).await.unwrap();
    let stored = storage.get_person("PERSON0000000001").await.unwrap().unwrap();
    assert_eq!(stored, PersonRecord { failed_sign_ins: 0, ..changed });
    let missing = storage.update_person(&person("NOBODY0000000000", "x"), &audit("person.update", "N", T0)).await;
    assert!(matches!(missing, Err(StorageError::NotFound { entity: "person" })), "{missing:?}");
    let audit_log = storage.list_audit(DEFAULT_TENANT_ID, &AuditFilter::default(), &PageRequest::first(10)).await;
    let actions: Vec<String> = audit_log.unwrap().items.into_iter().map(|entry| entry.entry.action).collect();
    assert_eq!(actions[..3], ["person.update", "person.create", "person.create"]);
}

pub async fn sign_in_failures_lock_and_totp_steps_are_used_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    storage.create_person(&person("PERSON0000000001", "ana"), &audit("person.create", "P1", T0)).await.unwrap();
    let policy = SignInPolicy::default();
    let lock_audit = audit("person.lock", "PERSON0000000001", T0);
    for expected in 1..policy.failures_before_lock {
        let (count, locked) =
            storage.record_sign_in_failure("PERSON0000000001", &policy, T0, &lock_audit).await.unwrap();
        assert_eq!((count, locked), (expected, None));
    }
    let (count, locked) = storage.record_sign_in_failure("PERSON0000000001", &policy, T0, &lock_audit).await.unwrap();
    assert_eq!((count, locked), (policy.failures_before_lock, Some(T0 + policy.first_lock_ms)));
    let stored = storage.get_person("PERSON0000000001").await.unwrap().unwrap();
    assert_eq!((stored.failed_sign_ins, stored.locked_until), (5, Some(T0 + policy.first_lock_ms)));
    let locks = AuditFilter { action: Some("person.lock".into()), ..AuditFilter::default() };
    let logged = storage.list_audit(DEFAULT_TENANT_ID, &locks, &PageRequest::first(10)).await.unwrap();
    assert_eq!(logged.items.len(), 1, "only the failure that locks is audited");
    storage.clear_sign_in_failures("PERSON0000000001").await.unwrap();
    let stored = storage.get_person("PERSON0000000001").await.unwrap().unwrap();
    assert_eq!((stored.failed_sign_ins, stored.locked_until), (0, None));
    let unknown = storage.record_sign_in_failure("NOBODY0000000000", &policy, T0, &lock_audit).await;
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })), "{unknown:?}");

    assert!(storage.use_totp_step("PERSON0000000001", 100).await.unwrap());
    assert!(!storage.use_totp_step("PERSON0000000001", 100).await.unwrap(), "a step is used once");
    assert!(!storage.use_totp_step("PERSON0000000001", 99).await.unwrap(), "an earlier step is refused");
    assert!(storage.use_totp_step("PERSON0000000001", 101).await.unwrap());
}

pub async fn console_sessions_are_touched_listed_and_ended_once(storage: Arc<dyn Storage>) {
    bootstrapped(&storage).await;
    storage.create_person(&person("PERSON0000000001", "ana"), &audit("person.create", "P1", T0)).await.unwrap();
    let first = session("hash-1", "PERSON0000000001", T0);
    storage.create_session(&first, Some(&audit("person.sign_in", "P1", T0))).await.unwrap();
    storage.create_session(&session("hash-2", "PERSON0000000001", T0 + 10), None).await.unwrap();
    let duplicate = storage.create_session(&first, None).await;
    assert!(matches!(duplicate, Err(StorageError::Conflict { .. })), "{duplicate:?}");

    storage.touch_session("hash-1", T0 + 500).await.unwrap();
    storage.touch_session("hash-1", T0 + 100).await.unwrap();
    assert_eq!(storage.get_session("hash-1").await.unwrap().unwrap().last_seen_at, T0 + 500, "never back");
    let open = storage.list_open_sessions("PERSON0000000001", T0 + 600).await.unwrap();
    assert_eq!(open.iter().map(|s| s.session_hash.as_str()).collect::<Vec<_>>(), ["hash-2", "hash-1"]);

    let sign_out = audit("person.sign_out", "P1", T0 + 700);
    storage.revoke_session("hash-1", T0 + 700, Some(&sign_out)).await.unwrap();
    storage.revoke_session("hash-1", T0 + 800, Some(&sign_out)).await.unwrap();
    assert_eq!(storage.get_session("hash-1").await.unwrap().unwrap().revoked_at, Some(T0 + 700), "first time kept");
    let sign_outs = AuditFilter { action: Some("person.sign_out".into()), ..AuditFilter::default() };
    let logged = storage.list_audit(DEFAULT_TENANT_ID, &sign_outs, &PageRequest::first(10)).await.unwrap();
    assert_eq!(logged.items.len(), 1, "ending an ended session writes nothing");
    let open = storage.list_open_sessions("PERSON0000000001", T0 + 900).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(storage.list_open_sessions("PERSON0000000001", T0 + 3_600_010).await.unwrap().is_empty(), "expired");
    assert_eq!(storage.get_session("unknown").await.unwrap(), None);
}

pub async fn device_logins_are_approved_once_into_a_session(storage: Arc<dyn Storage>) {
    use midship_core::people::{DeviceLoginRecord, DeviceLoginStatus};

    bootstrapped(&storage).await;
    storage.create_person(&person("PERSON0000000001", "ana"), &audit("person.create", "P1", T0)).await.unwrap();
    let login = |user_code: &str, hash: &str, expires_at: i64| DeviceLoginRecord {
        user_code: user_code.into(),
        code_hash: hash.into(),
        client_name: "midship CLI on build-7".into(),
        address: "192.0.2.7".into(),
        created_at: T0,
        expires_at,
        status: DeviceLoginStatus::Pending,
        person_id: None,
    };
    storage.create_device_login(&login("OLDC-ODES", "hash-old", T0 + 10), T0).await.unwrap();
    storage.create_device_login(&login("BCDF-GHJK", "hash-1", T0 + 600_000), T0 + 20).await.unwrap();
    assert_eq!(storage.get_device_login("OLDC-ODES").await.unwrap(), None, "expired ones are removed");
    let taken = storage.create_device_login(&login("BCDF-GHJK", "hash-2", T0 + 600_000), T0 + 20).await;
    assert!(matches!(taken, Err(StorageError::Conflict { .. })), "{taken:?}");
    assert_eq!(
        storage.find_device_login_by_hash("hash-1").await.unwrap(),
        Some(login("BCDF-GHJK", "hash-1", T0 + 600_000))
    );

    let mut cli_session = session("hash-1", "PERSON0000000001", T0 + 30);
    let approve = audit("person.cli_sign_in", "PERSON0000000001", T0 + 30);
    assert!(storage.approve_device_login("BCDF-GHJK", &cli_session, &approve).await.unwrap());
    assert!(!storage.approve_device_login("BCDF-GHJK", &cli_session, &approve).await.unwrap(), "once");
    assert_eq!(
        storage.get_session("hash-1").await.unwrap(),
        Some(cli_session.clone()),
        "the CLI's secret is the session's"
    );
    let approved = storage.get_device_login("BCDF-GHJK").await.unwrap().unwrap();
    assert_eq!(
        (approved.status, approved.person_id.as_deref()),
        (DeviceLoginStatus::Approved, Some("PERSON0000000001"))
    );
    assert!(!storage.deny_device_login("BCDF-GHJK").await.unwrap(), "a decided sign-in stays decided");

    storage.create_device_login(&login("LMNP-QRST", "hash-3", T0 + 600_000), T0 + 40).await.unwrap();
    assert!(storage.deny_device_login("LMNP-QRST").await.unwrap());
    cli_session.session_hash = "hash-3".into();
    assert!(!storage.approve_device_login("LMNP-QRST", &cli_session, &approve).await.unwrap(), "denied stays denied");
    assert_eq!(storage.get_session("hash-3").await.unwrap(), None);
}
