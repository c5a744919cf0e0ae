//! The role table of docs/security.md held to what the server does: the table and the
//! OpenAPI document name the same routes with the same minimum roles, and every route refuses the
//! role below its minimum, lets its minimum through, and keeps app-scoped tokens in their apps.

use std::collections::HashMap;

use midship_api::{CreateAppRequest, CreateTokenRequest};
use midship_core::access::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestServer;

/// The table where people read it (moving it into docs/security.md means changing this path).
const ROLE_TABLE: &str = include_str!("../../../../docs/security.md");

/// What the table writes as `{ws}`.
const WORKSPACE_PREFIX: &str = "/api/v1/workspaces/{workspace_id}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppScope {
    /// Every token, whatever its apps.
    Any,
    /// Answers or grants only what lies inside the token's apps.
    Filtered,
    /// App-scoped tokens are refused.
    TenantWide,
    /// An app-scoped token acts on its apps; another app's ids answer 404.
    OwnApps,
}

#[derive(Debug)]
struct Row {
    method: Method,
    /// As the OpenAPI document writes it, with `{…}` parameters.
    path: String,
    minimum: Role,
    scope: AppScope,
}

/// The rows of the table: lines whose first cell is an HTTP method.
fn documented_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for line in ROLE_TABLE.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [method, path, role, scope] = cells.as_slice() else { continue };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
            continue;
        }
        let scope = match *scope {
            "any" => AppScope::Any,
            "filtered" => AppScope::Filtered,
            "tenant-wide" => AppScope::TenantWide,
            "own apps" => AppScope::OwnApps,
            other => panic!("{line}: unknown app scope `{other}`"),
        };
        rows.push(Row {
            method: method.parse().unwrap(),
            path: path.trim_matches('`').replace("{ws}", WORKSPACE_PREFIX),
            minimum: role.parse().unwrap_or_else(|error| panic!("{line}: {error}")),
            scope,
        });
    }
    rows
}

fn role_below(role: Role) -> Option<Role> {
    match role {
        Role::Admin => Some(Role::Developer),
        Role::Developer => Some(Role::Operator),
        Role::Operator => Some(Role::Viewer),
        Role::Viewer => None,
    }
}

#[tokio::test]
async fn the_role_table_names_every_route_with_the_documented_role() {
    let server = TestServer::start().await;
    let document: Value =
        server.http.get(server.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let role = operation["x-minimum-role"].as_str().unwrap_or_else(|| panic!("{method} {path} states no role"));
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(description.ends_with(&format!("Minimum role: {role}.")), "{method} {path}: {description}");
            documented.push((method.to_uppercase(), path.clone(), role.to_owned()));
        }
    }
    let mut tabled: Vec<_> = documented_rows()
        .into_iter()
        .map(|row| (row.method.to_string(), row.path, row.minimum.as_str().to_owned()))
        .collect();
    documented.sort();
    tabled.sort();
    let missing: Vec<_> = documented.iter().filter(|route| !tabled.contains(route)).collect();
    let extra: Vec<_> = tabled.iter().filter(|route| !documented.contains(route)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in the table: {missing:?}\nnot in the API: {extra:?}");
}

/// The ids a route's path is filled with, of one app.
struct AppIds {
    app_id: String,
    workspace_id: String,
    token_id: String,
}

struct Fixture {
    server: TestServer,
    /// The app the app-scoped tokens may act on.
    mine: AppIds,
    /// An app outside their scope.
    other: AppIds,
    tenant_wide: HashMap<Role, String>,
    scoped_to_mine: HashMap<Role, String>,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let admin = server.admin();
    let mut apps = Vec::new();
    for name in ["mine", "other"] {
        let request = CreateAppRequest { name: name.into(), platforms: vec!["android".into()], workspaces: None };
        let created = admin.create_app(&request).await.unwrap();
        // A token to revoke in `DELETE /tokens/{token_id}`.
        let victim = token(&server, Role::Viewer, Some(&created.app.app_id)).await;
        apps.push(AppIds {
            app_id: created.app.app_id,
            workspace_id: created.workspaces[0].workspace_id.clone(),
            token_id: victim.0,
        });
    }
    let other = apps.pop().unwrap();
    let mine = apps.pop().unwrap();
    let mut tenant_wide = HashMap::new();
    let mut scoped_to_mine = HashMap::new();
    for role in Role::ALL {
        tenant_wide.insert(role, token(&server, role, None).await.1);
        scoped_to_mine.insert(role, token(&server, role, Some(&mine.app_id)).await.1);
    }
    Fixture { server, mine, other, tenant_wide, scoped_to_mine }
}

/// A new token's id and bearer secret.
async fn token(server: &TestServer, role: Role, app_id: Option<&str>) -> (String, String) {
    let request = CreateTokenRequest {
        name: format!("{role} of {}", app_id.unwrap_or("the tenant")),
        role: role.as_str().into(),
        app_ids: app_id.map(|app_id| vec![app_id.to_owned()]),
        expires_in_seconds: None,
    };
    let issued = server.admin().create_token(&request).await.unwrap();
    (issued.view.token_id, issued.token)
}

/// The route's path with its parameters filled in; ids other than the app's are well formed and
/// unknown, which is enough: the role is checked before they are looked up.
fn concrete_path(path: &str, ids: &AppIds) -> String {
    let filled = [
        ("{workspace_id}", ids.workspace_id.as_str()),
        ("{app_id}", &ids.app_id),
        ("{token_id}", &ids.token_id),
        ("{person_id}", "0000000000000000"),
        ("{key}", "limit"),
        ("{operation_type}", "com.bank.balance"),
        ("{biz_type}", "CHAT"),
        ("{name}", "welcome"),
        ("{device_id}", "phone"),
        ("{kind}", "simple"),
        ("{action}", "pause"),
        ("{fingerprint}", "0123456789abcdef"),
        ("{task_id}", "0000000000000000"),
        ("{release_id}", "0000000000000000"),
        ("{rule_id}", "0000000000000000"),
        ("{file_id}", "0000000000000000"),
        ("{generation}", "1"),
        ("{approval_id}", "0000000000000000"),
    ]
    .into_iter()
    .fold(path.to_owned(), |path, (parameter, value)| path.replace(parameter, value));
    assert!(!filled.contains('{'), "{path}: a parameter has no value");
    filled
}

/// A request the route reads without complaint up to its role check: a query it accepts and a
/// body of the right shape.
struct Sample {
    query: &'static str,
    body: Option<(&'static str, Vec<u8>)>,
}

fn sample(method: &Method, path: &str) -> Sample {
    let json_body = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    let message = json!({ "title": "Hello", "content": "Your statement is ready" });
    let sync_message =
        |third_msg_id: &str| json!({ "biz_type": "CHAT", "payload": "hi", "third_msg_id": third_msg_id });
    let alert =
        json!({ "name": "crashes", "metric": "crash_rate", "threshold": 0.1, "webhook_url": "https://hooks.example" });
    let experiment = json!({ "variations": [
        { "key": "control", "values": { "limit": 1 } }, { "key": "more", "values": { "limit": 2 } }
    ] });
    let route = path.strip_prefix(WORKSPACE_PREFIX).unwrap_or(path);
    let (query, body) = match (method.as_str(), route) {
        ("POST", "/api/v1/tenants") => ("", json_body(json!({ "name": "Second bank" }))),
        ("POST", "/api/v1/apps") => ("", json_body(json!({ "name": "third", "platforms": ["ios"] }))),
        ("POST", "/api/v1/apps/{app_id}/workspaces") => ("", json_body(json!({ "name": "staging" }))),
        ("POST", "/api/v1/apps/{app_id}/keys/rotate") => ("", json_body(json!({}))),
        ("POST", "/api/v1/tokens") => ("", json_body(json!({ "name": "minted", "role": "viewer" }))),
        ("POST", "/api/v1/people") => {
            ("", json_body(json!({ "login": "pat", "display_name": "Pat", "role": "viewer" })))
        }
        ("PATCH", "/api/v1/people/{person_id}") => ("", json_body(json!({ "disabled": true }))),
        ("POST", "/switches") => ("", json_body(json!({ "key": "limit", "type": "number", "default_value": 1 }))),
        ("POST", "/config/publish") => ("", json_body(json!({}))),
        ("POST", "/config/rollback") => ("", json_body(json!({ "version": 1 }))),
        ("POST", "/config/import") => ("mode=merge", json_body(json!({ "switches": [] }))),
        ("POST", "/api-groups") => ("", json_body(json!({ "name": "core", "base_url": "http://127.0.0.1:9" }))),
        ("POST", "/apis") | ("PUT", "/apis/{operation_type}") => (
            "",
            json_body(json!({ "operation_type": "com.bank.balance", "group": "core", "method": "POST", "path": "/b" })),
        ),
        ("POST", "/sync/configs") => ("", json_body(json!({ "biz_type": "CHAT" }))),
        ("POST", "/sync/send") => (
            "",
            json_body(json!({ "link_token": "alice", "biz_type": "CHAT", "payload": "hi", "third_msg_id": "m-1" })),
        ),
        ("POST", "/sync/global") => ("", json_body(sync_message("m-2"))),
        ("POST", "/sync/batch") => ("", json_body(json!({ "messages": [sync_message("m-3")] }))),
        ("GET", "/sync/status") => ("biz_type=CHAT&link_token=alice", None),
        ("POST", "/sync/tokens") => ("", json_body(json!({ "user_id": "alice" }))),
        ("POST", "/push/send/{kind}") => (
            "",
            json_body(json!({ "targets": [{ "kind": "user", "id": "alice", "msg_id": "m-1" }], "message": message })),
        ),
        ("POST", "/push/revoke") => ("", json_body(json!({ "task_id": "0000000000000000" }))),
        ("GET", "/push/stats") => ("task_id=0000000000000000", None),
        ("PUT", "/push/templates/{name}") => ("", json_body(json!({ "message": message }))),
        ("PUT", "/push/channels/{name}") => ("", json_body(json!({ "kind": "fcm" }))),
        ("PUT", "/push/settings") => ("", json_body(json!({ "device_binding": "device" }))),
        ("PUT", "/push/devices/{device_id}/binding") => ("", json_body(json!({ "user_id": "alice" }))),
        ("POST", "/delivery/packages") => ("kind=h5", Some(("application/octet-stream", b"not a zip".to_vec()))),
        ("POST", "/delivery/releases") => {
            ("", json_body(json!({ "package_id": "0000000000000000", "stage": { "kind": "official" } })))
        }
        ("POST", "/laboratories") => ("", json_body(json!({ "key": "checkout" }))),
        ("POST", "/experiments") => {
            ("", json_body(json!({ "key": "limit", "laboratory": "checkout", "definition": experiment.clone() })))
        }
        ("PUT", "/experiments/{key}") => ("", json_body(experiment)),
        ("POST", "/experiments/{key}/phase") => ("", json_body(json!({ "phase": "running" }))),
        ("POST", "/experiments/{key}/promote") => ("", json_body(json!({ "variation": "control" }))),
        ("PUT", "/analytics/policy") => ("", json_body(json!({}))),
        ("PUT", "/approval-policy") => ("", json_body(json!({ "approvals_required": false }))),
        ("POST", "/approvals/{approval_id}/approve" | "/approvals/{approval_id}/refuse") => {
            ("", json_body(json!({ "comment": "ok" })))
        }
        ("PUT", "/device-security") => ("", json_body(json!({ "revoke_connect_tokens": true }))),
        ("POST", "/analytics/alerts") | ("PUT", "/analytics/alerts/{rule_id}") => ("", json_body(alert)),
        ("POST", "/analytics/symbols") => ("app_version=1.0.0", Some(("text/plain", b"not a mapping".to_vec()))),
        ("POST", "/analytics/logs") => ("", json_body(json!({ "device_id": "phone" }))),
        ("GET", "/analytics/funnel") => ("steps=open,pay", None),
        ("GET", "/analytics/logs/search") => ("q=error", None),
        _ => ("", None),
    };
    Sample { query, body }
}

async fn call(server: &TestServer, bearer: &str, method: &Method, path: &str, sample: &Sample) -> StatusCode {
    let mut url = server.url(path);
    if !sample.query.is_empty() {
        url = format!("{url}?{}", sample.query);
    }
    let mut request = server.http.request(method.clone(), url).bearer_auth(bearer);
    if let Some((content_type, body)) = &sample.body {
        request = request.header("content-type", *content_type).body(body.clone());
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn every_route_refuses_the_role_below_its_documented_minimum() {
    let fixture = fixture().await;
    let server = &fixture.server;
    let rows = documented_rows();
    assert!(rows.len() > 80, "the table was read: {} rows", rows.len());
    let mut wrong = Vec::new();
    for row in &rows {
        let route = format!("{} {}", row.method, row.path);
        let sample = sample(&row.method, &row.path);
        let mine = concrete_path(&row.path, &fixture.mine);
        if let Some(below) = role_below(row.minimum) {
            let status = call(server, &fixture.tenant_wide[&below], &row.method, &mine, &sample).await;
            if status != StatusCode::FORBIDDEN {
                wrong.push(format!("{route}: {below} got {status}, not 403"));
            }
        }
        let status = call(server, &fixture.tenant_wide[&row.minimum], &row.method, &mine, &sample).await;
        if [StatusCode::FORBIDDEN, StatusCode::UNAUTHORIZED].contains(&status) || status.is_server_error() {
            wrong.push(format!("{route}: {} got {status}", row.minimum));
        }
        let scoped = &fixture.scoped_to_mine[&row.minimum];
        match row.scope {
            AppScope::OwnApps => {
                let other = concrete_path(&row.path, &fixture.other);
                let status = call(server, scoped, &row.method, &other, &sample).await;
                if status != StatusCode::NOT_FOUND {
                    wrong.push(format!("{route}: an app-scoped {} got {status} on another app, not 404", row.minimum));
                }
            }
            AppScope::TenantWide => {
                let status = call(server, scoped, &row.method, &mine, &sample).await;
                if status != StatusCode::FORBIDDEN {
                    wrong.push(format!("{route}: an app-scoped {} got {status}, not 403", row.minimum));
                }
            }
            AppScope::Any | AppScope::Filtered => {}
        }
    }
    assert!(wrong.is_empty(), "docs/security.md is not what the server does:\n{}", wrong.join("\n"));
}
