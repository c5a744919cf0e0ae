//! `midship login`'s flow over real HTTP: the command line asks for codes, a person confirms the
//! code in the console, and the command line's secret then acts as that person — approving a
//! request another person made — until it signs out.

use midship_admin_client::SdkError;
use midship_api::{CreateAppRequest, DeviceLoginStarted};
use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use crate::TestServer;

async fn start(server: &TestServer) -> DeviceLoginStarted {
    let anonymous = midship_admin_client::AdminClient::new(&server.base_url, "").unwrap();
    anonymous.start_device_login("midship CLI on build-7").await.unwrap()
}

#[tokio::test]
async fn a_confirmed_code_signs_the_command_line_in_as_the_person() {
    let server = TestServer::start().await;
    let anonymous = midship_admin_client::AdminClient::new(&server.base_url, "").unwrap();
    let started = start(&server).await;
    assert!(started.verification_uri_complete.ends_with(&format!("/console/device?code={}", started.user_code)));
    assert_eq!(anonymous.poll_device_login(&started.device_code).await.unwrap(), "pending");
    let cli = server.client_with(&started.device_code);
    assert!(matches!(cli.whoami().await, Err(SdkError::Api { status: StatusCode::UNAUTHORIZED, .. })), "not yet");

    let mut ben = Browser::person(&server, "ben", "operator").await;
    let typed = started.user_code.to_lowercase().replace('-', " ");
    let page = ben.page(&format!("/console/device?code={typed}")).await;
    assert!(page.contains("midship CLI on build-7") && page.contains(&started.user_code), "{page}");
    let confirmed = ben.post("/console/device", &[("code", started.user_code.as_str()), ("decision", "approve")]).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(anonymous.poll_device_login(&started.device_code).await.unwrap(), "approved");
    let whoami = cli.whoami().await.unwrap();
    assert_eq!(
        (whoami.actor_kind.as_str(), whoami.actor_name.as_str(), whoami.role.as_str()),
        ("person", "ben", "operator")
    );
    let again = ben.post("/console/device", &[("code", started.user_code.as_str()), ("decision", "approve")]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "a code is confirmed once");

    // As a person, the command line may approve what someone else asked.
    let created = server
        .admin()
        .create_app(&CreateAppRequest { name: "Bank".into(), platforms: vec![], workspaces: Some(vec!["prod".into()]) })
        .await
        .unwrap();
    let workspace_id = created.workspaces[0].workspace_id.clone();
    server.admin().set_approval_policy(&workspace_id, true).await.unwrap();
    server
        .admin()
        .set_switch(&workspace_id, &json!({ "key": "limit", "type": "number", "default_value": 5 }))
        .await
        .unwrap();
    let SdkError::PendingApproval(request) = server.admin().publish_config(&workspace_id, "").await.unwrap_err() else {
        panic!("a request")
    };
    let applied = cli.approve_request(&workspace_id, &request.approval_id, "from the terminal").await.unwrap();
    assert_eq!((applied.status.as_str(), applied.decided_by.as_deref()), ("applied", Some("ben")));

    cli.sign_out_session().await.unwrap();
    assert!(matches!(cli.whoami().await, Err(SdkError::Api { status: StatusCode::UNAUTHORIZED, .. })), "signed out");
}

#[tokio::test]
async fn a_refused_or_unknown_code_signs_nothing_in() {
    let server = TestServer::start().await;
    let anonymous = midship_admin_client::AdminClient::new(&server.base_url, "").unwrap();
    let started = start(&server).await;
    let mut ana = Browser::person(&server, "ana", "viewer").await;
    ana.page(&format!("/console/device?code={}", started.user_code)).await;
    let refused = ana.post("/console/device", &[("code", started.user_code.as_str()), ("decision", "deny")]).await;
    assert_eq!(refused.status(), StatusCode::OK);
    assert_eq!(anonymous.poll_device_login(&started.device_code).await.unwrap(), "denied");
    assert!(server.client_with(&started.device_code).whoami().await.is_err());

    let unknown = ana.page("/console/device?code=BCDF-GHJK").await;
    assert!(unknown.contains("No sign-in waits for this code"), "{unknown}");
    assert_eq!(anonymous.poll_device_login("mss_not-a-code").await.unwrap(), "expired");
    let blank = reqwest::Client::new()
        .post(server.url("/api/login/device"))
        .json(&json!({ "client_name": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
}
