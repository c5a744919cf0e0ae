//! People in the console: the People page, sign-in failures, replayed codes, stale sessions and
//! tenants kept apart, through real HTTP.

use midship_control::NewPerson;
use midship_core::access::{Actor, Role};
use midship_core::{Principal, Tenant};
use reqwest::StatusCode;

use super::browser::{Browser, PASSWORD};
use crate::TestServer;

#[tokio::test]
async fn an_admin_adds_a_person_who_signs_in_with_a_second_factor() {
    let server = TestServer::start().await;
    let mut admin = Browser::person(&server, "ana", "admin").await;
    admin.page("/console/people").await;
    let invalid = admin
        .post("/console/people", &[("login", "no spaces allowed"), ("display_name", "Bo"), ("role", "operator")])
        .await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let page = invalid.text().await.unwrap();
    assert!(
        page.contains(r#"value="no spaces allowed""#) && page.contains(r#"aria-invalid="true""#),
        "kept and marked: {page}"
    );

    admin.post("/console/apps", &[("name", "Metro"), ("platforms", "android"), ("workspaces", "prod")]).await;
    admin.post("/console/apps", &[("name", "Clinic"), ("platforms", "ios"), ("workspaces", "prod")]).await;
    let apps = server.admin().list_apps(&Default::default()).await.unwrap().items;
    let metro = apps.iter().find(|app| app.name == "Metro").unwrap().app_id.clone();
    let people_page = admin.page("/console/people").await;
    assert!(people_page.contains(&format!(r#"name="app_ids" value="{metro}""#)), "a box per app: {people_page}");
    let created = admin
        .post(
            "/console/people",
            &[("login", "bo@bank.example"), ("display_name", "Bo"), ("role", "operator"), ("app_ids", metro.as_str())],
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = created.text().await.unwrap();
    let temporary = page.split("<code>").nth(1).unwrap().split("</code>").next().unwrap().to_owned();
    let people = admin.page("/console/people").await;
    assert!(people.contains("bo@bank.example") && people.contains("temporary password"), "{people}");
    assert!(people.contains("<td>Metro</td>"), "the scope by app name: {people}");
    assert!(!people.contains(&temporary), "the temporary password is shown once");

    let mut bo = Browser::new(&server);
    bo.first_sign_in("bo@bank.example", &temporary).await;
    let bo_apps = bo.page("/console/apps").await;
    assert!(bo_apps.contains("Metro") && !bo_apps.contains("Clinic"), "bo sees only his app: {bo_apps}");
    let mut bo_elsewhere = Browser::new(&server);
    let pending = bo_elsewhere.post("/console/login", &[("login", "bo@bank.example"), ("password", PASSWORD)]).await;
    assert_eq!(pending.headers()["location"], "/console/login/code", "the password alone is not enough");
    assert_eq!(bo_elsewhere.get("/console/apps").await.headers()["location"], "/console/login");

    let audit = admin.page("/console/audit").await;
    for action in ["person.create", "person.change_password", "person.totp_enable", "person.sign_in"] {
        assert!(audit.contains(action), "{action} is in the audit log");
    }
    assert!(audit.contains("bo@bank.example"), "entries name the person");
}

#[tokio::test]
async fn a_replayed_code_and_wrong_passwords_are_refused_and_slowed() {
    let server = TestServer::start().await;
    let ana = Browser::person(&server, "ana", "operator").await;

    // Someone who phished ana's password and saw the code her last sign-in used.
    let mut thief = Browser::new(&server);
    thief.page("/console/login").await;
    let pending = thief.post("/console/login", &[("login", "ana"), ("password", PASSWORD)]).await;
    assert_eq!(pending.headers()["location"], "/console/login/code");
    thief.page("/console/login/code").await;
    let replayed = thief.post("/console/login/code", &[("code", ana.last_code().as_str())]).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "a code opens one session only");
    assert!(replayed.text().await.unwrap().contains("wrong or already used code"));
    assert_eq!(thief.get("/console/apps").await.headers()["location"], "/console/login");

    // Failed codes and passwords count together: five in a row lock the account.
    let mut guesser = Browser::new(&server);
    for _ in 0..4 {
        let wrong = guesser.sign_in("ana", "not my password at all").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = guesser.sign_in("ana", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "the account is locked for a while");
    assert!(locked.text().await.unwrap().contains("try again in"));
}

#[tokio::test]
async fn stale_sessions_and_other_tenants_sessions_open_nothing() {
    let server = TestServer::start().await;
    let mut ana = Browser::person(&server, "ana", "admin").await;
    ana.page("/console/apps").await;
    ana.post("/console/apps", &[("name", "Metro"), ("platforms", "android"), ("workspaces", "prod")]).await;
    let app_id = server.admin().list_apps(&Default::default()).await.unwrap().items[0].app_id.clone();

    // Someone of another tenant, signed in, cannot reach this tenant's app.
    let control = &server.state.control;
    let installation_admin = control.authenticate(&server.admin_token).await.unwrap();
    let other: Tenant = control.create_tenant(&installation_admin, "Other bank").await.unwrap();
    let other_admin = Principal {
        actor: Actor::Token { token_id: "OTHERTOKEN000000".into(), name: "other".into() },
        tenant_id: other.tenant_id.clone(),
        role: Role::Admin,
        app_ids: None,
    };
    let request = NewPerson { login: "olga".into(), display_name: "Olga".into(), role: "admin".into(), app_ids: None };
    let olga = control.create_person(&other_admin, request).await.unwrap();
    let mut olga_browser = Browser::new(&server);
    olga_browser.first_sign_in("olga", &olga.temporary_password).await;
    let apps = olga_browser.page("/console/apps").await;
    assert!(!apps.contains("Metro"), "{apps}");
    assert_eq!(olga_browser.get(&format!("/console/apps/{app_id}")).await.status(), StatusCode::NOT_FOUND);
    let people = olga_browser.page("/console/people").await;
    assert!(!people.contains(">ana<"), "people of another tenant are not listed");

    // Signing out everywhere ends this browser's session and any copy of its cookie.
    let stolen = ana.cookie("midship_session").unwrap().to_owned();
    ana.page("/console/account").await;
    let ended = ana.post("/console/account/sign-out-everywhere", &[]).await;
    assert_eq!(ended.headers()["location"], "/console/login");
    let mut replayer = Browser::new(&server);
    replayer.set_cookie("midship_session", &stolen);
    assert_eq!(replayer.get("/console/apps").await.headers()["location"], "/console/login");
    let forged = {
        let mut forger = Browser::new(&server);
        forger.set_cookie("midship_session", "mss_forged");
        forger.get("/console/apps").await
    };
    assert_eq!(forged.headers()["location"], "/console/login");

    let unknown = ana.get("/console/no-such-page").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.unwrap().contains("<html"), "a page, not JSON");
}
