//! People and console sign-in, through the control plane.

use midship_core::access::Role;
use midship_core::page::PageRequest;
use midship_core::people::SessionStage;

use super::{demo_app, fixture, token_for};
use crate::people::sign_in::ADDRESS_FAILURE_LIMIT;
use crate::people::totp;
use crate::{AuditQuery, ControlError, NewPerson, PersonChange};

const ADDRESS: &str = "192.0.2.10";
const NEW_PASSWORD: &str = "tram stop at dawn 7";

fn new_person(login: &str, role: &str) -> NewPerson {
    NewPerson { login: login.into(), display_name: format!("{login} of ops"), role: role.into(), app_ids: None }
}

fn code_now(secret: &str, now_ms: i64, steps_later: i64) -> String {
    totp::code_at_step(&totp::base32_decode(secret).unwrap(), now_ms / totp::STEP_MS + steps_later)
}

#[tokio::test]
async fn a_person_signs_in_changes_the_temporary_password_and_enrolls_a_second_factor() {
    let fixture = fixture().await;
    let control = &fixture.control;
    let created = control.create_person(&fixture.admin, new_person("Ana@Bank.example", "operator")).await.unwrap();
    assert_eq!(created.person.login, "ana@bank.example", "logins are kept in lower case");
    assert!(created.person.password_must_change);

    let started =
        control.sign_in_with_password("ANA@bank.example", &created.temporary_password, ADDRESS).await.unwrap();
    assert_eq!(started.stage, SessionStage::Full, "no second factor yet");
    let signed_in = control.authenticate_session(&started.secret).await.unwrap();
    assert_eq!(signed_in.owes(control), Some(crate::people::sign_in::Owed::NewPassword));
    assert_eq!(signed_in.principal.actor_name(), "ana@bank.example");

    let weak = control.change_own_password(&signed_in.principal, &created.temporary_password, "short").await;
    assert!(matches!(weak, Err(ControlError::Invalid(_))), "{weak:?}");
    control.change_own_password(&signed_in.principal, &created.temporary_password, NEW_PASSWORD).await.unwrap();
    assert!(control.authenticate_session(&started.secret).await.is_err(), "a password change ends sessions");

    fixture.clock.advance_ms(1);
    let started = control.sign_in_with_password("ana@bank.example", NEW_PASSWORD, ADDRESS).await.unwrap();
    let signed_in = control.authenticate_session(&started.secret).await.unwrap();
    assert_eq!(signed_in.owes(control), Some(crate::people::sign_in::Owed::SecondFactor));
    let setup = control.begin_totp_enrollment(&signed_in.principal).await.unwrap();
    assert!(setup.provisioning_uri.starts_with("otpauth://totp/Midship:ana@bank.example?secret="));
    let wrong = control.confirm_totp_enrollment(&signed_in.principal, "000000").await;
    assert!(matches!(wrong, Err(ControlError::Invalid(_))), "{wrong:?}");
    let now = control.now_ms();
    control.confirm_totp_enrollment(&signed_in.principal, &code_now(&setup.secret, now, 0)).await.unwrap();
    let signed_in = control.authenticate_session(&started.secret).await.unwrap();
    assert_eq!(signed_in.owes(control), None);

    // From now on the password alone is not enough, and a code is accepted once.
    fixture.clock.advance_ms(totp::STEP_MS);
    let pending = control.sign_in_with_password("ana@bank.example", NEW_PASSWORD, ADDRESS).await.unwrap();
    assert_eq!(pending.stage, SessionStage::Password);
    assert!(control.authenticate_session(&pending.secret).await.is_err(), "a half sign-in opens nothing");
    let now = control.now_ms();
    let code = code_now(&setup.secret, now, 0);
    let full = control.sign_in_with_code(&pending.secret, &code, ADDRESS).await.unwrap();
    assert_ne!(full.secret, pending.secret, "the full session gets a new secret");
    control.authenticate_session(&full.secret).await.unwrap();

    let again = control.sign_in_with_password("ana@bank.example", NEW_PASSWORD, ADDRESS).await.unwrap();
    let replay = control.sign_in_with_code(&again.secret, &code, ADDRESS).await;
    assert!(matches!(replay, Err(ControlError::SignInRefused(_))), "a code is never accepted twice: {replay:?}");
    let earlier = control.sign_in_with_code(&again.secret, &code_now(&setup.secret, now, -1), ADDRESS).await;
    assert!(earlier.is_err(), "nor an older one after it");

    let actions = control.list_audit(&fixture.admin, AuditQuery::default(), &PageRequest::first(50)).await.unwrap();
    let by_ana: Vec<&str> = actions
        .items
        .iter()
        .filter(|entry| entry.entry.actor_person_id.as_deref() == Some(created.person.person_id.as_str()))
        .map(|entry| entry.entry.action.as_str())
        .collect();
    assert_eq!(
        by_ana,
        [
            "person.sign_in",
            "person.totp_enable",
            "person.totp_begin",
            "person.sign_in",
            "person.change_password",
            "person.sign_in"
        ]
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_throttle_the_address() {
    let fixture = fixture().await;
    let control = &fixture.control;
    let created = control.create_person(&fixture.admin, new_person("bo", "viewer")).await.unwrap();
    let unknown = control.sign_in_with_password("nobody", "whatever it is", "192.0.2.99").await.unwrap_err();
    let wrong = control.sign_in_with_password("bo", "not the password", "192.0.2.1").await.unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string(), "an unknown login reads as a wrong password");
    for attempt in 2..=5 {
        let address = format!("192.0.2.{attempt}");
        let refused = control.sign_in_with_password("bo", "not the password", &address).await.unwrap_err();
        assert!(matches!(refused, ControlError::SignInRefused(_)), "{refused:?}");
    }
    let locked = control.sign_in_with_password("bo", &created.temporary_password, "192.0.2.6").await.unwrap_err();
    assert!(matches!(locked, ControlError::TooManyAttempts { retry_after_ms: 60_000 }), "{locked:?}");
    fixture.clock.advance_ms(60_000);
    control.sign_in_with_password("bo", &created.temporary_password, "192.0.2.6").await.unwrap();

    for _ in 0..ADDRESS_FAILURE_LIMIT {
        let _ = control.sign_in_with_password("someone-else", "guess", "198.51.100.7").await;
    }
    let throttled = control.sign_in_with_password("bo", &created.temporary_password, "198.51.100.7").await;
    assert!(matches!(throttled, Err(ControlError::TooManyAttempts { .. })), "{throttled:?}");
}

#[tokio::test]
async fn sessions_end_when_idle_signed_out_everywhere_or_disabled() {
    let fixture = fixture().await;
    let control = &fixture.control;
    let created = control.create_person(&fixture.admin, new_person("cy", "developer")).await.unwrap();
    let password = created.temporary_password.clone();
    let person_id = created.person.person_id.clone();
    let first = control.sign_in_with_password("cy", &password, ADDRESS).await.unwrap();
    let second = control.sign_in_with_password("cy", &password, ADDRESS).await.unwrap();
    let idle = fixture.control.settings.sign_in.idle_timeout_ms;
    fixture.clock.advance_ms(idle - 1);
    control.authenticate_session(&first.secret).await.unwrap();
    fixture.clock.advance_ms(idle - 1);
    control.authenticate_session(&first.secret).await.unwrap();
    assert!(control.authenticate_session(&second.secret).await.is_err(), "unused for the idle timeout");

    control.sign_out(&first.secret).await.unwrap();
    assert!(control.authenticate_session(&first.secret).await.is_err());

    let third = control.sign_in_with_password("cy", &password, ADDRESS).await.unwrap();
    let signed_in = control.authenticate_session(&third.secret).await.unwrap();
    fixture.clock.advance_ms(1);
    control.sign_out_everywhere(&signed_in.principal, &person_id).await.unwrap();
    assert!(control.authenticate_session(&third.secret).await.is_err());

    fixture.clock.advance_ms(1);
    let fourth = control.sign_in_with_password("cy", &password, ADDRESS).await.unwrap();
    let disable = PersonChange { disabled: Some(true), ..PersonChange::default() };
    control.update_person(&fixture.admin, &person_id, disable).await.unwrap();
    assert!(control.authenticate_session(&fourth.secret).await.is_err(), "disabling ends sessions");
    let refused = control.sign_in_with_password("cy", &password, ADDRESS).await;
    assert!(matches!(refused, Err(ControlError::SignInRefused(_))), "{refused:?}");
    assert!(control.authenticate_session("mss_forged").await.is_err());
    assert!(control.authenticate_session("msp_an-api-token").await.is_err());
}

#[tokio::test]
async fn people_are_managed_like_tokens() {
    let fixture = fixture().await;
    let control = &fixture.control;
    let app = control.create_app(&fixture.admin, demo_app()).await.unwrap();
    let operator = token_for(&fixture, "operator", None).await;
    let denied = control.create_person(&operator, new_person("dee", "viewer")).await;
    assert!(matches!(denied, Err(ControlError::Forbidden(_))), "{denied:?}");

    let scoped_admin = token_for(&fixture, "admin", Some(vec![app.app.app_id.clone()])).await;
    let everywhere = control.create_person(&scoped_admin, new_person("dee", "viewer")).await;
    assert!(matches!(everywhere, Err(ControlError::Forbidden(_))), "a scoped admin cannot grant every app");
    let scoped = NewPerson { app_ids: Some(vec![app.app.app_id.clone()]), ..new_person("dee", "operator") };
    let dee = control.create_person(&scoped_admin, scoped).await.unwrap();
    control.create_person(&fixture.admin, new_person("eve", "admin")).await.unwrap();
    let taken = control.create_person(&fixture.admin, new_person("DEE", "viewer")).await;
    assert!(matches!(&taken, Err(ControlError::Conflict(message)) if message == "login dee is taken"), "{taken:?}");

    let seen_by_scoped: Vec<String> = control
        .list_people(&scoped_admin, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.login)
        .collect();
    assert_eq!(seen_by_scoped, ["dee"], "people with wider scope are hidden from a scoped admin");
    let promote = PersonChange { role: Some("admin".into()), ..PersonChange::default() };
    let promoted = control.update_person(&fixture.admin, &dee.person.person_id, promote).await.unwrap();
    assert_eq!(promoted.role, Role::Admin);

    let reset = control.reset_person_credentials(&fixture.admin, &dee.person.person_id).await.unwrap();
    assert_ne!(reset.temporary_password, dee.temporary_password);
    assert!(control.sign_in_with_password("dee", &dee.temporary_password, ADDRESS).await.is_err());
    control.sign_in_with_password("dee", &reset.temporary_password, ADDRESS).await.unwrap();

    let operator_view = control.get_person(&operator, &dee.person.person_id).await;
    assert!(matches!(operator_view, Err(ControlError::Forbidden(_))), "only admins see others");
}

#[tokio::test]
async fn single_sign_on_links_a_login_to_one_subject_and_removes_its_password() {
    use crate::people::oidc::VerifiedIdentity;

    let fixture = fixture().await;
    let control = &fixture.control;
    let created = control.create_person(&fixture.admin, new_person("carol", "operator")).await.unwrap();
    let identity = |subject: &str, login: &str| VerifiedIdentity {
        issuer: "https://sso.bank.example/realms/staff".into(),
        subject: subject.into(),
        login: login.into(),
    };

    let unknown = control.sign_in_with_identity(&identity("s-9", "mallory"), ADDRESS).await;
    assert!(matches!(unknown, Err(ControlError::SignInRefused(message)) if message.contains("ask an admin")));

    let started = control.sign_in_with_identity(&identity("s-1", "Carol"), ADDRESS).await.unwrap();
    assert_eq!(started.stage, SessionStage::Full, "the provider did the second factor");
    let signed_in = control.authenticate_session(&started.secret).await.unwrap();
    assert_eq!(signed_in.owes(control), None, "no temporary password nor authenticator owed");
    assert_eq!(signed_in.person.oidc_subject.as_deref(), Some("https://sso.bank.example/realms/staff s-1"));
    let by_password = control.sign_in_with_password("carol", &created.temporary_password, ADDRESS).await;
    assert!(matches!(by_password, Err(ControlError::SignInRefused(_))), "a linked account has no password");

    fixture.clock.advance_ms(1);
    control.sign_in_with_identity(&identity("s-1", "carol"), ADDRESS).await.unwrap();
    let impostor = control.sign_in_with_identity(&identity("s-2", "carol"), ADDRESS).await;
    assert!(
        matches!(impostor, Err(ControlError::SignInRefused(message)) if message.contains("linked to another")),
        "another subject with the same login is refused: {impostor:?}"
    );

    // An admin's reset unlinks the account: a temporary password again, and a new link.
    let reset = control.reset_person_credentials(&fixture.admin, &created.person.person_id).await.unwrap();
    assert_eq!(reset.person.oidc_subject, None);
    fixture.clock.advance_ms(1);
    control.sign_in_with_identity(&identity("s-2", "carol"), ADDRESS).await.unwrap();

    let audit = control.list_audit(&fixture.admin, AuditQuery::default(), &PageRequest::first(50)).await.unwrap();
    let links = audit.items.iter().filter(|entry| entry.entry.action == "person.sso_link").count();
    assert_eq!(links, 2);
}
