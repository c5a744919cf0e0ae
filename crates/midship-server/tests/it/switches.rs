use std::sync::{Arc, Mutex};
use std::time::Duration;

use midship_api::{CreateAppRequest, CreateTokenRequest, DeviceSecurityRequest};
use midship_sdk::config::{ConfigClient, ConfigSettings, DeviceProfile};
use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::TestServer;

/// An app; returns (app_id, workspace_id of `prod`).
async fn app(server: &TestServer) -> (String, String) {
    let (app_id, workspace, _) = app_with_secret(server).await;
    (app_id, workspace)
}

/// The app's prod workspace, opted in to unsigned config pulls (the tests of targeting read
/// values that way), and the app's signing secret.
async fn app_with_secret(server: &TestServer) -> (String, String, String) {
    let created = server
        .admin()
        .create_app(&CreateAppRequest {
            name: "bank".into(),
            platforms: vec!["android".into(), "ios".into()],
            workspaces: None,
        })
        .await
        .unwrap();
    let prod = created.workspaces.iter().find(|ws| ws.name == "prod").unwrap().workspace_id.clone();
    let opt_in = DeviceSecurityRequest { unsigned_config_pull: true, ..DeviceSecurityRequest::default() };
    server.admin().set_device_security(&prod, &opt_in).await.unwrap();
    (created.app.app_id, prod, created.secret)
}

fn new_checkout() -> Value {
    json!({
        "key": "checkout.new_flow",
        "type": "bool",
        "default_value": false,
        "targets": [
            { "value": true, "rule": { "whitelist": { "user_ids": ["alice", "bob"] } } },
            { "value": true, "rule": { "platforms": ["ios"], "os_version": { "in_range": { "min": "17.0" } } } }
        ]
    })
}

async fn pull(server: &TestServer, app_id: &str, workspace_id: &str, device: Value) -> Value {
    let mut body = json!({ "app_id": app_id, "workspace_id": workspace_id });
    body.as_object_mut().unwrap().extend(device.as_object().unwrap().clone());
    let response = server.http.post(server.url("/api/client/v1/config/pull")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn set_publish_pull_and_rollback() {
    let server = TestServer::start().await;
    let (app_id, workspace) = app(&server).await;
    let admin = server.admin();

    admin.set_switch(&workspace, &new_checkout()).await.unwrap();
    let banner = json!({ "key": "home.banner", "type": "string", "default_value": "Welcome" });
    let status = admin.set_switch(&workspace, &banner).await.unwrap();
    assert_eq!(status.state, "new");

    let before_publish = pull(&server, &app_id, &workspace, json!({ "user_id": "alice" })).await;
    assert_eq!(before_publish["version"], 0);
    assert_eq!(before_publish["values"], json!({}), "drafts do not reach devices");

    let first = admin.publish_config(&workspace, "launch").await.unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.switch_count, 2);

    let alice =
        pull(&server, &app_id, &workspace, json!({ "user_id": "alice", "device_id": "D1", "platform": "android" }))
            .await;
    assert_eq!(alice["values"], json!({ "checkout.new_flow": true, "home.banner": "Welcome" }));
    let carol =
        pull(&server, &app_id, &workspace, json!({ "user_id": "carol", "device_id": "D2", "platform": "android" }))
            .await;
    assert_eq!(carol["values"]["checkout.new_flow"], false);
    let new_iphone =
        pull(&server, &app_id, &workspace, json!({ "user_id": "dave", "platform": "ios", "os_version": "17.4" })).await;
    assert_eq!(new_iphone["values"]["checkout.new_flow"], true);
    let old_iphone =
        pull(&server, &app_id, &workspace, json!({ "user_id": "erin", "platform": "ios", "os_version": "16.7" })).await;
    assert_eq!(old_iphone["values"]["checkout.new_flow"], false);

    let again = pull(
        &server,
        &app_id,
        &workspace,
        json!({ "user_id": "carol", "device_id": "D2", "platform": "android", "etag": carol["etag"] }),
    )
    .await;
    assert_eq!(again["not_modified"], true);
    assert!(again.get("values").is_none());

    let welcome_back = json!({ "key": "home.banner", "type": "string", "default_value": "Welcome back" });
    admin.set_switch(&workspace, &welcome_back).await.unwrap();
    assert_eq!(admin.get_switch(&workspace, "home.banner").await.unwrap().state, "changed");
    assert_eq!(admin.publish_config(&workspace, "copy").await.unwrap().version, 2);
    let changed = pull(
        &server,
        &app_id,
        &workspace,
        json!({ "user_id": "carol", "device_id": "D2", "platform": "android", "etag": carol["etag"] }),
    )
    .await;
    assert_eq!(changed["not_modified"], false);
    assert_eq!(changed["values"]["home.banner"], "Welcome back");

    let rolled_back = admin.rollback_config(&workspace, 1).await.unwrap();
    assert_eq!(rolled_back.version, 3);
    let restored = pull(&server, &app_id, &workspace, json!({ "user_id": "carol" })).await;
    assert_eq!(restored["values"]["home.banner"], "Welcome");
    assert_eq!(
        admin.get_switch(&workspace, "home.banner").await.unwrap().state,
        "published",
        "the draft follows the rollback"
    );

    let history = admin.config_versions(&workspace, &Default::default()).await.unwrap();
    assert_eq!(history.items.iter().map(|version| version.version).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert_eq!(history.items[0].note, "rollback to version 1");

    let error = admin.publish_config(&workspace, "again").await.unwrap_err();
    assert_eq!(error.code(), Some("conflict"), "nothing changed since version 3: {error}");
}

#[tokio::test]
async fn export_and_import_round_trip() {
    let server = TestServer::start().await;
    let (_, workspace) = app(&server).await;
    let (_, other_app_workspace) = {
        let created = server
            .admin()
            .create_app(&CreateAppRequest { name: "metro".into(), platforms: vec![], workspaces: None })
            .await
            .unwrap();
        (created.app.app_id, created.workspaces[0].workspace_id.clone())
    };
    let admin = server.admin();
    admin.set_switch(&workspace, &new_checkout()).await.unwrap();
    admin.publish_config(&workspace, "").await.unwrap();
    let exported = admin.export_config(&workspace, false, None).await.unwrap();
    assert_eq!(exported["format"], "midship.switches.v1");
    assert_eq!(exported["switches"][0]["key"], "checkout.new_flow");

    let imported = admin.import_config(&other_app_workspace, &exported, false).await.unwrap();
    assert_eq!(imported.imported, 1);
    let draft = admin.export_config(&other_app_workspace, true, None).await.unwrap();
    assert_eq!(draft["switches"], exported["switches"]);
    assert_eq!(admin.export_config(&workspace, false, Some(9)).await.unwrap_err().code(), Some("not_found"));
}

#[tokio::test]
async fn invalid_definitions_are_refused_with_the_path_of_the_bad_part() {
    let server = TestServer::start().await;
    let (_, workspace) = app(&server).await;
    let admin = server.admin();
    let cases = [
        (json!({ "key": "x", "type": "bool", "default_value": "yes" }), "$.default_value"),
        (
            json!({ "key": "x", "type": "bool", "default_value": true, "targets": [{ "value": false, "rule": { "whitelist": { "patterns": ["(unclosed"] } } }] }),
            "$.targets[0].rule.whitelist.patterns[0]",
        ),
        (
            json!({ "key": "x", "type": "bool", "default_value": true, "targets": [{ "value": false, "rule": { "os_version": { "in_range": { "min": "ten" } } } }] }),
            "$.targets[0].rule.os_version.min",
        ),
        (
            json!({ "key": "x", "type": "bool", "default_value": true, "targets": [{ "value": false, "rule": { "condition": { "age": { "$between": [1, 2] } } } }] }),
            "$.targets[0].rule.condition",
        ),
        (json!({ "key": "9lives", "type": "bool", "default_value": true }), "$.key"),
    ];
    for (definition, path) in cases {
        let error = admin.set_switch(&workspace, &definition).await.unwrap_err();
        assert_eq!(error.code(), Some("invalid_request"), "{definition}: {error}");
        assert!(error.to_string().contains(path), "{definition}: {error} should name {path}");
    }
    let unknown_field = admin
        .set_switch(&workspace, &json!({ "key": "x", "type": "bool", "default_value": true, "colour": 1 }))
        .await
        .unwrap_err();
    assert!(unknown_field.to_string().contains("colour"), "{unknown_field}");
    assert!(admin.list_switches(&workspace).await.unwrap().items.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn access_rules_apply_to_switches() {
    let server = TestServer::start().await;
    let (app_id, workspace) = app(&server).await;
    let viewer = server
        .admin()
        .create_token(&CreateTokenRequest {
            name: "v".into(),
            role: "viewer".into(),
            app_ids: None,
            expires_in_seconds: None,
        })
        .await
        .unwrap();
    let viewer = server.client_with(&viewer.token);
    assert_eq!(viewer.set_switch(&workspace, &new_checkout()).await.unwrap_err().code(), Some("forbidden"));
    assert!(viewer.list_switches(&workspace).await.is_ok());
    assert_eq!(server.admin().list_switches("0000000000000000").await.unwrap_err().code(), Some("not_found"));

    let response = server
        .http
        .post(server.url("/api/client/v1/config/pull"))
        .json(&json!({ "app_id": "0000000000000000", "workspace_id": workspace }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "a workspace answers only for its own app");
    let _ = app_id;
}

#[tokio::test]
async fn growthbook_payload_serves_the_published_features() {
    let server = TestServer::start().await;
    let (_, workspace) = app(&server).await;
    server.admin().set_switch(&workspace, &new_checkout()).await.unwrap();
    server.admin().publish_config(&workspace, "").await.unwrap();
    let client_key = server.admin().device_security(&workspace).await.unwrap().sdk_client_key;
    let without_key = server.http.get(server.url(&format!("/api/features/{workspace}"))).send().await.unwrap();
    assert_eq!(without_key.status(), StatusCode::NOT_FOUND, "the workspace id alone is not a client key");
    let forged = server.http.get(server.url(&format!("/api/features/{workspace}.{}", "0".repeat(32)))).send().await;
    assert_eq!(forged.unwrap().status(), StatusCode::NOT_FOUND);
    let payload: Value =
        server.http.get(server.url(&format!("/api/features/{client_key}"))).send().await.unwrap().json().await.unwrap();
    let text = payload.to_string();
    assert!(!text.contains("alice") && !text.contains("bob"), "whitelisted ids go out hashed: {text}");
    let hashed = midship_switches::secure_attributes::hash_identifier(&workspace, "alice");
    assert!(text.contains(&hashed), "{text}");
    let feature = &payload["features"]["checkout.new_flow"];
    assert_eq!(feature["defaultValue"], false);
    assert_eq!(feature["rules"][0]["force"], true);
    assert!(payload["dateUpdated"].is_string());
    let missing = server.http.get(server.url("/api/features/unknown")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let ios_only = json!({ "key": "ios.widget", "type": "bool", "default_value": true, "platforms": ["ios"] });
    server.admin().set_switch(&workspace, &ios_only).await.unwrap();
    server.admin().publish_config(&workspace, "").await.unwrap();
    let tag = client_key.rsplit_once('.').unwrap().1.to_owned();
    let features_for = |platform: &'static str| {
        let url = server.url(&format!("/api/features/{workspace}-{platform}.{tag}"));
        let http = server.http.clone();
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ios = features_for("ios").await;
    assert_eq!(ios["features"]["ios.widget"], json!({ "defaultValue": true }), "no hiding rule for its own platform");
    let android = features_for("android").await;
    assert!(android["features"].get("ios.widget").is_none());
    assert!(android["features"].get("checkout.new_flow").is_some());
    let unknown_platform =
        server.http.get(server.url(&format!("/api/features/{workspace}-symbian.{tag}"))).send().await.unwrap();
    assert_eq!(unknown_platform.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sdk_config_client_caches_pulls_and_notifies() {
    let server = TestServer::start().await;
    let (app_id, workspace, secret) = app_with_secret(&server).await;
    server.admin().set_switch(&workspace, &new_checkout()).await.unwrap();
    server.admin().publish_config(&workspace, "").await.unwrap();
    // Unsigned pulls are refused unless a workspace opts in; signed pulls always work.
    server.admin().set_device_security(&workspace, &DeviceSecurityRequest::default()).await.unwrap();
    let unsigned = json!({ "app_id": app_id, "workspace_id": workspace, "user_id": "alice" });
    let refused = server.http.post(server.url("/api/client/v1/config/pull")).json(&unsigned).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let cache_dir = tempfile::tempdir().unwrap();
    let settings = ConfigSettings {
        cache_dir: cache_dir.path().to_owned(),
        defaults: Map::from_iter([
            ("checkout.new_flow".to_owned(), json!(false)),
            ("local.only".to_owned(), json!("kept")),
        ]),
    };
    let rpc_to = |server_url: &str| {
        let mut rpc_settings = RpcSettings::new(server_url, &app_id, &workspace, &secret);
        rpc_settings.timeout = Duration::from_secs(5);
        rpc_settings.max_retries = 0;
        let identity =
            DeviceIdentity { device_id: Some("D1".into()), user_id: Some("alice".into()), ..DeviceIdentity::default() };
        RpcClient::new(rpc_settings, identity).unwrap()
    };
    let client = ConfigClient::new(settings.clone(), rpc_to(&server.base_url), DeviceProfile::default());
    assert!(!client.get_bool("checkout.new_flow", true), "local default before any pull");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    client.on_change(move |change| recorder.lock().unwrap().push(change.changed_keys.clone()));

    let change = client.app_started().await.unwrap().expect("first pull changes values");
    assert_eq!(change.changed_keys, vec!["checkout.new_flow"]);
    assert!(client.get_bool("checkout.new_flow", false));
    assert_eq!(client.get_str("local.only", ""), "kept");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(client.pull().await.unwrap(), None, "unchanged config: not modified");

    // A restart reads the disk cache before any network.
    let restarted = ConfigClient::new(settings, rpc_to("http://127.0.0.1:9"), DeviceProfile::default());
    assert!(restarted.get_bool("checkout.new_flow", false));
    assert_eq!(restarted.version(), 1);

    // Background for less than 30 minutes: no pull (the offline server would fail it).
    restarted.entered_background(1_000);
    assert_eq!(restarted.entered_foreground(1_000 + 29 * 60 * 1000).await.unwrap(), None);
    restarted.entered_background(1_000);
    assert!(
        restarted.entered_foreground(1_000 + 30 * 60 * 1000).await.is_err(),
        "30 minutes: it pulls (and fails offline)"
    );
}
