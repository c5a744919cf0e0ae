use midship_admin_client::{AuditParams, PageParams};
use midship_api::{
    AlertRuleDefinition, CreateAppRequest, CreateTokenRequest, CreateWorkspaceRequest, RotateKeyRequest,
    SyncTokenRequest,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestServer;

fn demo() -> CreateAppRequest {
    CreateAppRequest { name: "demo".into(), platforms: vec!["android".into(), "ios".into()], workspaces: None }
}

async fn token(server: &TestServer, role: &str, app_ids: Option<Vec<String>>) -> String {
    let request =
        CreateTokenRequest { name: format!("{role} token"), role: role.into(), app_ids, expires_in_seconds: None };
    server.admin().create_token(&request).await.unwrap().token
}

#[tokio::test]
async fn app_lifecycle_through_the_sdk() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let created = admin.create_app(&demo()).await.unwrap();
    assert_eq!(created.app.name, "demo");
    assert_eq!(created.workspaces.iter().map(|ws| ws.name.as_str()).collect::<Vec<_>>(), vec!["dev", "test", "prod"]);
    assert_eq!(created.secret.len(), 64);

    let listed = admin.list_apps(&PageParams::default()).await.unwrap();
    assert_eq!(listed.items, vec![created.app.clone()]);
    let shown = admin.show_app(&created.app.app_id).await.unwrap();
    assert_eq!(shown.keys.len(), 1);
    assert!(shown.keys[0].active);

    let staging =
        admin.create_workspace(&created.app.app_id, &CreateWorkspaceRequest { name: "staging".into() }).await.unwrap();
    assert_eq!(staging.name, "staging");
    assert_eq!(admin.list_workspaces(&created.app.app_id).await.unwrap().items.len(), 4);

    let rotated = admin.rotate_key(&created.app.app_id, &RotateKeyRequest { grace_seconds: Some(60) }).await.unwrap();
    assert_ne!(rotated.secret, created.secret);
    let keys = admin.list_keys(&created.app.app_id).await.unwrap().items;
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|key| key.active), "the old key is valid during its grace period");

    let audit = admin.list_audit(&AuditParams::default()).await.unwrap();
    let actions: Vec<_> = audit.items.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, vec!["app.key.rotate", "workspace.create", "app.create", "tenant.bootstrap"]);
    let creation = &audit.items[2];
    assert_eq!(creation.after.as_ref().unwrap()["name"], "demo");
    assert!(!serde_json::to_string(&audit).unwrap().contains(&created.secret), "secrets never reach the audit log");
}

#[tokio::test]
async fn rotate_accepts_an_empty_body() {
    let server = TestServer::start().await;
    let created = server.admin().create_app(&demo()).await.unwrap();
    let response = server
        .http
        .post(server.url(&format!("/api/v1/apps/{}/keys/rotate", created.app.app_id)))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn viewers_are_refused_with_403() {
    let server = TestServer::start().await;
    let viewer = server.client_with(&token(&server, "viewer", None).await);
    let error = viewer.create_app(&demo()).await.unwrap_err();
    assert_eq!(error.code(), Some("forbidden"), "{error}");
    assert!(matches!(error, midship_admin_client::SdkError::Api { status: StatusCode::FORBIDDEN, .. }));
    assert!(viewer.list_apps(&PageParams::default()).await.is_ok(), "viewers read");
    let error = viewer
        .create_token(&CreateTokenRequest {
            name: "escalate".into(),
            role: "admin".into(),
            app_ids: None,
            expires_in_seconds: None,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("forbidden"));
}

fn refused<T: std::fmt::Debug>(result: Result<T, midship_admin_client::SdkError>) {
    let error = result.expect_err("an operator is refused");
    assert!(matches!(error, midship_admin_client::SdkError::Api { status: StatusCode::FORBIDDEN, .. }), "{error}");
    assert!(error.to_string().contains("the operator role cannot configure integrations"), "{error}");
}

/// The integrations of docs/security.md need a developer: an operator token is refused each
/// of them, and nothing is stored or audited; a developer token does each.
#[tokio::test]
async fn operators_cannot_configure_integrations_but_developers_can() {
    let server = TestServer::start().await;
    let created = server.admin().create_app(&demo()).await.unwrap();
    let workspace = created.workspaces[0].workspace_id.clone();
    let operator = server.client_with(&token(&server, "operator", None).await);
    let developer = server.client_with(&token(&server, "developer", None).await);
    let report = midship_push::DeviceReport {
        workspace_id: workspace.clone(),
        device_id: "phone".into(),
        platform: "android".into(),
        channel: None,
        token: None,
    };
    server.state.push.report(report).await.unwrap();
    let bound_user = || async {
        let device = server.state.control.storage().get_push_device(&workspace, "phone").await.unwrap();
        device.and_then(|device| device.user_id)
    };
    let vouch = SyncTokenRequest { user_id: Some("alice".into()), device_id: None, ttl_seconds: None };
    let alert = |webhook_url: &str| AlertRuleDefinition {
        name: "crashes".into(),
        metric: "crash_rate".into(),
        operation_type: None,
        threshold: 0.1,
        window_minutes: 5,
        webhook_url: webhook_url.into(),
        enabled: true,
    };
    let document = json!({ "switches": [{ "key": "limit", "type": "number", "default_value": 1 }] });

    refused(operator.sync_token(&workspace, &vouch).await);
    refused(operator.create_alert(&workspace, &alert("https://collector.example")).await);
    refused(operator.import_config(&workspace, &document, false).await);
    refused(operator.push_bind(&workspace, "phone", Some("alice")).await);
    assert!(developer.list_alerts(&workspace).await.unwrap().is_empty(), "no rule was stored");
    assert!(developer.list_switches(&workspace).await.unwrap().items.is_empty(), "nothing was imported");
    assert_eq!(bound_user().await, None, "nothing was bound");

    assert!(!developer.sync_token(&workspace, &vouch).await.unwrap().token.is_empty());
    let rule = developer.create_alert(&workspace, &alert("https://hooks.example")).await.unwrap();
    assert_eq!(developer.import_config(&workspace, &document, false).await.unwrap().imported, 1);
    developer.push_bind(&workspace, "phone", Some("alice")).await.unwrap();
    assert_eq!(bound_user().await.as_deref(), Some("alice"));

    refused(operator.update_alert(&workspace, &rule.rule_id, &alert("https://collector.example")).await);
    refused(operator.delete_alert(&workspace, &rule.rule_id).await);
    refused(operator.push_bind(&workspace, "phone", None).await);
    let rules = developer.list_alerts(&workspace).await.unwrap();
    assert_eq!(
        rules.iter().map(|rule| rule.definition.webhook_url.as_str()).collect::<Vec<_>>(),
        ["https://hooks.example"]
    );
    assert_eq!(bound_user().await.as_deref(), Some("alice"), "the operator could not unbind");
    let audit = server.admin().list_audit(&AuditParams::default()).await.unwrap();
    assert!(audit.items.iter().all(|entry| entry.actor_name != "operator token"), "{audit:?}");

    developer.update_alert(&workspace, &rule.rule_id, &alert("https://hooks.example/v2")).await.unwrap();
    developer.delete_alert(&workspace, &rule.rule_id).await.unwrap();
    developer.push_bind(&workspace, "phone", None).await.unwrap();
    assert_eq!(bound_user().await, None);
}

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_get_401() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/v1/apps")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");

    let wrong = server.client_with("msp_not-a-real-token").list_apps(&PageParams::default()).await.unwrap_err();
    assert_eq!(wrong.code(), Some("unauthorized"));

    let issued = server
        .admin()
        .create_token(&CreateTokenRequest {
            name: "laptop".into(),
            role: "developer".into(),
            app_ids: None,
            expires_in_seconds: None,
        })
        .await
        .unwrap();
    let laptop = server.client_with(&issued.token);
    assert!(laptop.whoami().await.is_ok());
    let revoked = server.admin().revoke_token(&issued.view.token_id).await.unwrap();
    assert!(!revoked.active);
    assert_eq!(laptop.whoami().await.unwrap_err().code(), Some("unauthorized"));
}

#[tokio::test]
async fn unknown_ids_get_404_with_a_code() {
    let server = TestServer::start().await;
    let admin = server.admin();
    for app_id in ["0000000000000000", "not-an-id", "%2e%2e"] {
        let error = admin.show_app(app_id).await.unwrap_err();
        assert_eq!(error.code(), Some("not_found"), "{app_id}: {error}");
    }
    assert_eq!(admin.revoke_token("0000000000000000").await.unwrap_err().code(), Some("not_found"));
    let response = server.http.get(server.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "not_found");
    let response = server.http.put(server.url("/api/v1/apps")).bearer_auth(&server.admin_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "method_not_allowed");
}

async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url(path))
        .bearer_auth(&server.admin_token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_field() {
    let server = TestServer::start().await;
    let (status, body) = post_raw(&server, "/api/v1/apps", "application/json", r#"{"name":"x","colour":"red"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("colour"), "{body}");

    let (status, body) = post_raw(&server, "/api/v1/apps", "application/json", r#"{"name": 42}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("name"), "{body}");

    let (status, body) = post_raw(&server, "/api/v1/apps", "application/json", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().starts_with("malformed JSON"), "{body}");

    let (status, body) =
        post_raw(&server, "/api/v1/apps", "application/json", r#"{"name":"x","platforms":["symbian"]}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("platforms"), "{body}");

    let (status, body) = post_raw(&server, "/api/v1/apps", "text/plain", r#"{"name":"x"}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");

    let response =
        server.http.get(server.url("/api/v1/apps?limit=lots")).bearer_auth(&server.admin_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response =
        server.http.get(server.url("/api/v1/audit?cursor=abc")).bearer_auth(&server.admin_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let apps = server.admin().list_apps(&PageParams::default()).await.unwrap();
    assert!(apps.items.is_empty(), "nothing was created by bad requests");
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let server = TestServer::start().await;
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (status, body) = post_raw(&server, "/api/v1/apps", "application/json", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn duplicate_names_get_409() {
    let server = TestServer::start().await;
    server.admin().create_app(&demo()).await.unwrap();
    let error = server.admin().create_app(&demo()).await.unwrap_err();
    assert_eq!(error.code(), Some("conflict"), "{error}");
}

#[tokio::test]
async fn lists_are_paginated() {
    let server = TestServer::start().await;
    let admin = server.admin();
    for index in 0..5 {
        admin.create_app(&CreateAppRequest { name: format!("app {index}"), ..demo() }).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = admin.list_apps(&PageParams { limit: Some(2), cursor: cursor.clone() }).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|app| app.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|index| format!("app {index}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn app_scoped_tokens_see_only_their_apps() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let mine = admin.create_app(&demo()).await.unwrap();
    let other = admin.create_app(&CreateAppRequest { name: "other".into(), ..demo() }).await.unwrap();
    let scoped = server.client_with(&token(&server, "developer", Some(vec![mine.app.app_id.clone()])).await);
    let visible = scoped.list_apps(&PageParams::default()).await.unwrap();
    assert_eq!(visible.items.len(), 1);
    assert_eq!(scoped.show_app(&other.app.app_id).await.unwrap_err().code(), Some("not_found"));
    let audit = scoped.list_audit(&AuditParams::default()).await.unwrap();
    assert!(audit.items.iter().all(|entry| entry.app_id.as_deref() == Some(mine.app.app_id.as_str())), "{audit:?}");
}

#[tokio::test]
async fn tenants_are_created_by_installation_admins() {
    let server = TestServer::start().await;
    let admin = server.admin();
    assert_eq!(admin.current_tenant().await.unwrap().tenant_id, "default");
    let created = admin.create_tenant(&midship_api::CreateTenantRequest { name: "City Transit".into() }).await.unwrap();
    let listed = admin.list_tenants(&PageParams::default()).await.unwrap();
    assert!(listed.items.iter().any(|tenant| tenant.tenant_id == created.tenant_id));
    let developer = server.client_with(&token(&server, "developer", None).await);
    assert_eq!(
        developer.create_tenant(&midship_api::CreateTenantRequest { name: "Rogue".into() }).await.unwrap_err().code(),
        Some("forbidden")
    );
    let body = json!({ "name": "City Transit" });
    let (status, _) = post_raw(&server, "/api/v1/tenants", "application/json", body.to_string()).await;
    assert_eq!(status, StatusCode::CONFLICT);
}
