//! The console's pages, driven as a signed-in person would.

use reqwest::StatusCode;

use super::browser::Browser;
use crate::TestServer;

#[tokio::test]
async fn pages_need_a_signed_in_session() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/console/apps")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/console/login");
    let mut browser = Browser::new(&server);
    let refused = browser.sign_in("admin", "not the password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("wrong login or password"));
    let token = browser.sign_in("admin", &server.admin_token).await;
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED, "API tokens do not open the console");
}

#[tokio::test]
async fn sign_in_create_an_app_switch_and_read_the_audit_log() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    browser.page("/console/apps").await;
    let created = browser
        .post(
            "/console/apps",
            &[("name", "Metro"), ("platforms", "android"), ("platforms", "ios"), ("workspaces", "dev, prod")],
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = created.text().await.unwrap();
    assert!(page.contains("Signing secret"), "the secret is shown once");

    let apps = server.admin().list_apps(&Default::default()).await.unwrap();
    let app = &apps.items[0];
    assert_eq!(app.platforms, vec!["android", "ios"]);
    let workspaces = server.admin().list_workspaces(&app.app_id).await.unwrap().items;
    assert_eq!(workspaces.iter().map(|ws| ws.name.as_str()).collect::<Vec<_>>(), vec!["dev", "prod"]);

    let switched = browser
        .get(&format!("/console/switch?app_id={}&workspace_id={}", app.app_id, workspaces[1].workspace_id))
        .await;
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    let detail = browser.text(&format!("/console/apps/{}", app.app_id)).await;
    assert!(detail.contains("Signing keys") && detail.contains(&workspaces[1].workspace_id));
    assert!(
        detail.contains(&format!(r#"<option value="{}" selected>prod</option>"#, workspaces[1].workspace_id)),
        "{detail}"
    );

    let audit = browser.text("/console/audit").await;
    assert!(audit.contains("app.create") && audit.contains("ana"), "the audit log names the person");
    let tokens = browser.page("/console/tokens").await;
    assert!(tokens.contains("bootstrap admin"));
    let minted = browser
        .post(
            "/console/tokens",
            &[
                ("name", "metro backend"),
                ("role", "developer"),
                ("app_ids", app.app_id.as_str()),
                ("expires_in_days", ""),
            ],
        )
        .await;
    assert_eq!(minted.status(), StatusCode::CREATED);
    let listed = server.admin().list_tokens(&Default::default()).await.unwrap().items;
    let backend = listed.iter().find(|token| token.name == "metro backend").unwrap();
    assert_eq!(backend.app_ids, Some(vec![app.app_id.clone()]), "the ticked app is the token's scope");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    let csrf = super::browser::csrf_of(&browser.page("/console/apps").await).unwrap();
    let cookie = format!("midship_session={}", browser.cookie("midship_session").unwrap());
    let from_elsewhere = server
        .http
        .post(server.url("/console/apps"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("name", "Phish"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), StatusCode::FORBIDDEN);
    let without_field =
        server.http.post(server.url("/console/apps")).header("cookie", &cookie).form(&[("name", "Phish")]).send().await;
    assert_eq!(without_field.unwrap().status(), StatusCode::FORBIDDEN, "no anti-forgery field");
    let guessed = server
        .http
        .post(server.url("/console/apps"))
        .header("cookie", &cookie)
        .form(&[("name", "Phish"), ("_csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), StatusCode::FORBIDDEN);
    assert!(guessed.text().await.unwrap().contains("reload the page"));
    assert!(server.admin().list_apps(&Default::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn viewers_see_no_create_forms_and_cannot_post() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "vic", "viewer").await;
    let page = browser.page("/console/apps").await;
    assert!(!page.contains("Create an app"));
    let response = browser.post("/console/apps", &[("name", "x")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn switches_page_sets_publishes_and_rolls_back() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    let empty = browser.text("/console/switches").await;
    assert!(empty.contains("Create an app first"));
    browser.post_vec("/console/apps", vec![("name", "Clinic"), ("workspaces", "prod")]).await;

    let saved = browser
        .post_vec(
            "/console/switches",
            vec![("key", "booking.open"), ("value_type", "bool"), ("default_value", "true"), ("targets", "[]")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let page = browser.text("/console/switches").await;
    assert!(page.contains("booking.open") && page.contains(">new<"), "{page}");

    assert_eq!(
        browser.post_vec("/console/switches/publish", vec![("note", "open")]).await.status(),
        StatusCode::SEE_OTHER
    );
    browser
        .post_vec(
            "/console/switches",
            vec![("key", "booking.open"), ("value_type", "bool"), ("default_value", "false")],
        )
        .await;
    browser.post_vec("/console/switches/publish", vec![("note", "close")]).await;
    assert_eq!(
        browser.post_vec("/console/switches/rollback", vec![("version", "1")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = browser.text("/console/switches").await;
    assert!(page.contains("rollback to version 1"), "{page}");

    let targets = r#"[{"value": true, "rule": {"whitelist": {"user_ids": ["ana"]}}}]"#;
    let bad = browser
        .post_vec(
            "/console/switches",
            vec![("key", "x"), ("value_type", "bool"), ("default_value", "perhaps"), ("targets", targets)],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let page = bad.text().await.unwrap();
    assert!(page.contains("default value:"), "the error is said: {page}");
    assert!(page.contains(r#"name="default_value" required value="perhaps" aria-invalid="true""#), "{page}");
    assert!(page.contains("user_ids") && page.contains(r#"value="x""#), "what was typed is kept: {page}");
}

#[tokio::test]
async fn sync_page_configures_sends_and_shows_status() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    assert!(browser.text("/console/sync").await.contains("Create an app first"));
    browser.post_vec("/console/apps", vec![("name", "Clinic"), ("workspaces", "prod")]).await;
    let config = vec![
        ("biz_type", "APPOINTMENT"),
        ("scope", "targeted"),
        ("target", "user"),
        ("delivery", "latest_device"),
        ("persistent", "true"),
        ("retention_days", "7"),
        ("repush_newest", "20"),
    ];
    let saved = browser.post_vec("/console/sync/configs", config).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let page = browser.text("/console/sync").await;
    assert!(page.contains("APPOINTMENT") && page.contains("latest device") && page.contains("newest 20"), "{page}");

    let sent = browser
        .post_vec(
            "/console/sync/send",
            vec![("biz_type", "APPOINTMENT"), ("link_token", "patient-7"), ("third_msg_id", "a-1"), ("payload", "{}")],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let location = sent.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/console/sync?biz_type=APPOINTMENT&link_token=patient-7");
    let status = browser.get(&location).await;
    let status = status.text().await.unwrap();
    assert!(status.contains("<td>1</td>"), "the stream has one message: {status}");

    let bad = browser
        .post_vec(
            "/console/sync/configs",
            vec![
                ("biz_type", "9bad"),
                ("scope", "targeted"),
                ("target", "user"),
                ("delivery", "all_devices"),
                ("persistent", "true"),
                ("retention_days", "30"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        browser.post_vec("/console/sync/delete", vec![("biz_type", "APPOINTMENT")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(!browser.text("/console/sync").await.contains("APPOINTMENT"));
}

#[tokio::test]
async fn push_page_sends_charts_and_revokes() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    assert!(browser.text("/console/push").await.contains("Create an app first"));
    browser.post_vec("/console/apps", vec![("name", "Transit"), ("workspaces", "prod")]).await;
    let form = |title: &str| {
        vec![
            ("target_kind", "device".to_owned()),
            ("target_id", "rider-1".to_owned()),
            ("msg_id", "delay-1".to_owned()),
            ("title", title.to_owned()),
            ("content", "Line 4 is delayed".to_owned()),
            ("uri", String::new()),
        ]
    };
    let sent = browser.post_vec("/console/push/send", form("Delay")).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "{}", sent.text().await.unwrap());
    let page = midship_testkit::eventually(
        "the push task is done",
        || browser.read("/console/push"),
        |page| page.contains("<td>done</td>"),
    )
    .await;
    assert!(page.contains("<svg") && page.contains("push funnel"), "a server-rendered chart: {page}");
    assert!(page.contains("<td>simple</td>") && page.contains("<td>done</td>"), "{page}");
    let task_id = page.split("<td class=\"mono\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let revoked = browser.post_vec("/console/push/revoke", vec![("task_id", task_id)]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let mut nobody = form("Delay");
    nobody[1].1 = String::new();
    let refused = browser.post_vec("/console/push/send", nobody).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "a target needs an id");
}

#[tokio::test]
async fn delivery_page_lists_packages_releases_and_changes_them() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    assert!(browser.text("/console/delivery").await.contains("Create an app first"));
    browser.post_vec("/console/apps", vec![("name", "Clinic"), ("workspaces", "prod")]).await;
    let admin = server.admin();
    let app = admin.list_apps(&Default::default()).await.unwrap().items.remove(0);
    let workspace = admin.list_workspaces(&app.app_id).await.unwrap().items.remove(0).workspace_id;
    let package = upload_h5(&admin, &workspace, "40000001", "appointments").await;
    let page = browser.text("/console/delivery").await;
    assert!(page.contains(&package.package_id) && page.contains("40000001"), "{page}");

    let released = browser
        .post_vec(
            "/console/delivery/release",
            vec![
                ("package_id", package.package_id.clone()),
                ("stage", "whitelist".into()),
                ("users", "nurse-1, nurse-2".into()),
                ("mode", String::new()),
            ],
        )
        .await;
    assert_eq!(released.status(), StatusCode::SEE_OTHER, "{}", released.text().await.unwrap());
    let page = browser.text("/console/delivery").await;
    assert!(page.contains("<svg") && page.contains("devices per step"), "a server-rendered chart: {page}");
    assert!(page.contains("<td>whitelist</td>") && page.contains("<td>active</td>"), "{page}");
    let release_id = admin.list_releases(&workspace).await.unwrap().items[0].release_id.clone();
    let paused = browser
        .post_vec("/console/delivery/change", vec![("release_id", release_id.clone()), ("action", "pause".into())])
        .await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    assert!(browser.text("/console/delivery").await.contains("<td>paused</td>"));
    let refused = browser
        .post_vec("/console/delivery/change", vec![("release_id", release_id), ("action", "rollback".into())])
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT, "only hotpatches roll back");
    let refused = browser
        .post_vec(
            "/console/delivery/release",
            vec![
                ("package_id", package.package_id),
                ("stage", "official".into()),
                ("users", String::new()),
                ("mode", "force".into()),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "an H5 release has no upgrade mode");
}

#[tokio::test]
async fn analytics_page_charts_reports_funnels_and_crash_groups() {
    use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};

    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    assert!(browser.text("/console/analytics").await.contains("Create an app first"));
    let request = midship_api::CreateAppRequest { name: "Transit".into(), platforms: vec![], workspaces: None };
    let created = server.admin().create_app(&request).await.unwrap();
    let workspace = &created.workspaces[0].workspace_id;
    let settings = RpcSettings::new(&server.base_url, &created.app.app_id, workspace, &created.secret);
    let identity = DeviceIdentity { device_id: Some("RIDER-1".into()), ..DeviceIdentity::default() };
    let device = RpcClient::new(settings, identity).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let body = serde_json::json!({ "batch_id": "b1", "events": [
        { "kind": "launch", "time": now - 3000 },
        { "kind": "event", "name": "plan_trip", "time": now - 2000 },
        { "kind": "event", "name": "buy_ticket", "time": now - 1000 },
        { "kind": "startup", "duration_ms": 840, "time": now - 2500 },
        { "kind": "anr", "time": now, "frames": [{ "function": "com.transit.Map.render", "line": 9 }] },
    ]});
    assert_eq!(device.rpc("midship.analytics.upload", &body).await.unwrap().result, 1000);

    let page = browser.text("/console/analytics?steps=plan_trip,%20buy_ticket").await;
    assert!(page.contains("<svg") && page.contains("active devices per day"), "{page}");
    assert!(page.contains("devices per funnel step") && page.contains("buy_ticket"), "{page}");
    assert!(page.contains("com.transit.Map.render") && page.contains("840 ms"), "{page}");
    assert!(page.contains("<td>anr</td>"), "{page}");
    let cohort = page.split("Retention of new devices").nth(1).and_then(|rest| rest.split("</table>").next()).unwrap();
    assert!(
        cohort.contains(r#"title="this period has not begun">—</td>"#),
        "today's cohort has no day 1 yet: {cohort}"
    );
    assert!(!cohort.contains("0.0%"), "no false 0 %: {cohort}");
    let bad = browser.get("/console/analytics?from=someday").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A crash group's page: the stack, rates per version, the samples' device context.
    let crash = serde_json::json!({ "batch_id": "b2", "events": [
        { "kind": "crash", "time": now, "app_version": "2.1.0",
          "exception": { "type": "java.lang.IllegalStateException", "message": "ticket already used" },
          "frames": [{ "function": "validate", "module": "com.transit.Gate", "file": "Gate.kt", "line": 77 }],
          "context": { "model": "Pixel 8", "os_version": "15" } },
    ]});
    assert_eq!(device.rpc("midship.analytics.upload", &crash).await.unwrap().result, 1000);
    let page = browser.text("/console/analytics").await;
    let link = page.split(r#"href="/console/analytics/crashes/"#).nth(1).expect("groups link to their page");
    let fingerprint = link.split('"').next().unwrap().to_owned();
    let detail = browser.text(&format!("/console/analytics/crashes/{fingerprint}")).await;
    assert!(detail.contains("at com.transit.Gate.validate (Gate.kt:77)"), "{detail}");
    assert!(detail.contains("Pixel 8") && detail.contains("RIDER-1"), "the device context: {detail}");
    let filtered = browser.text("/console/analytics?version=2.1.0").await;
    assert!(filtered.contains("Active devices per day · version 2.1.0"), "{filtered}");
    assert!(filtered.contains(r#"<option value="2.1.0" selected>2.1.0</option>"#), "the version list: {filtered}");
    let unknown = browser.get("/console/analytics/crashes/0123456789abcdef").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Diagnosis logs: a request is recorded and sent; a search with no files finds nothing.
    browser.page("/console/analytics/logs").await;
    let asked = browser.post("/console/analytics/logs/request", &[("device_id", "RIDER-1"), ("user_id", "")]).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let logs = browser.text(asked.headers()["location"].to_str().unwrap()).await;
    assert!(logs.contains("Asked RIDER-1 for its log file"), "{logs}");
    assert!(browser.text("/console/analytics/logs?q=timeout").await.contains("0 matching lines"));
    browser.page("/console/analytics/logs").await;
    let neither = browser.post("/console/analytics/logs/request", &[("device_id", ""), ("user_id", "")]).await;
    assert_eq!(neither.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn alert_rules_are_added_listed_and_removed_in_the_console() {
    let server = TestServer::start().await;
    let mut ana = Browser::person(&server, "ana", "developer").await;
    ana.post_vec("/console/apps", vec![("name", "Clinic"), ("workspaces", "prod")]).await;
    let page = ana.page("/console/analytics/alerts").await;
    assert!(page.contains("No rules yet") && page.contains("Add a rule"), "{page}");
    let rule = [
        ("name", "crashes"),
        ("metric", "crash_rate"),
        ("operation_type", ""),
        ("threshold", "0.02"),
        ("window_minutes", "10"),
        ("webhook_url", "https://hooks.clinic.example/midship"),
    ];
    assert_eq!(ana.post("/console/analytics/alerts", &rule).await.status(), StatusCode::SEE_OTHER);
    let page = ana.page("/console/analytics/alerts").await;
    assert!(
        page.contains("crash_rate") && page.contains("&gt; 0.02 over 10 min") && page.contains("unknown"),
        "{page}"
    );
    let mut bad = rule;
    bad[3] = ("threshold", "a lot");
    assert_eq!(ana.post("/console/analytics/alerts", &bad).await.status(), StatusCode::BAD_REQUEST);
    ana.page("/console/analytics/alerts").await;
    let mut outside = rule;
    outside[5] = ("webhook_url", "ftp://files.example");
    assert_eq!(ana.post("/console/analytics/alerts", &outside).await.status(), StatusCode::BAD_REQUEST);

    let page = ana.page("/console/analytics/alerts").await;
    let rule_id = page.split(r#"name="rule_id" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    ana.post("/console/analytics/alerts/delete", &[("rule_id", rule_id.as_str())]).await;
    assert!(ana.page("/console/analytics/alerts").await.contains("No rules yet"));

    let mut ben = Browser::person(&server, "ben", "operator").await;
    let page = ben.page("/console/analytics/alerts").await;
    assert!(!page.contains("Add a rule"), "rules post to outside URLs: developers set them");
}

#[tokio::test]
async fn the_structured_rule_editor_targets_switches_and_releases_and_marks_a_wrong_field() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    browser.post_vec("/console/apps", vec![("name", "Transit"), ("workspaces", "prod")]).await;
    let admin = server.admin();
    let app = admin.list_apps(&Default::default()).await.unwrap().items.remove(0);
    let workspace = admin.list_workspaces(&app.app_id).await.unwrap().items.remove(0).workspace_id;

    let page = browser.text("/console/switches").await;
    assert!(page.contains(r#"name="rule_cities_mode""#) && page.contains(r#"name="rule_percentage""#), "{page}");
    let switch = |cities: &'static str| {
        vec![
            ("key", "fares.new"),
            ("value_type", "bool"),
            ("default_value", "false"),
            ("targets", "[]"),
            ("target_value", "true"),
            ("rule_user_ids", "tester-1"),
            ("rule_platforms", "android, ios"),
            ("rule_cities_mode", "include"),
            ("rule_cities", cities),
            ("rule_app_mode", "in_range"),
            ("rule_app_min", "3.2.0"),
            ("rule_percentage", "20"),
        ]
    };
    let refused = browser.post_vec("/console/switches", switch("")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(r#"name="rule_cities" size="40" value="" placeholder="Hangzhou, Ningbo" aria-invalid="true""#),
        "{page}"
    );
    assert!(page.contains(r#"value="3.2.0""#) && page.contains(r#"value="tester-1""#), "kept as typed: {page}");
    browser.page("/console/switches").await;
    let saved = browser.post_vec("/console/switches", switch("Hangzhou, Ningbo")).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let stored = admin.get_switch(&workspace, "fares.new").await.unwrap().draft.unwrap();
    assert_eq!(
        stored["targets"][0]["rule"],
        serde_json::json!({ "whitelist": { "user_ids": ["tester-1"] }, "platforms": ["android", "ios"],
            "cities": { "include": ["Hangzhou", "Ningbo"] }, "app_version": { "in_range": { "min": "3.2.0", "max": null } },
            "percentage": 20.0 })
    );

    let package = upload_h5(&admin, &workspace, "50000001", "fares").await;
    let page = browser.text("/console/delivery").await;
    assert!(!page.contains(r#"name="rule_percentage""#), "a release's share is its stage: {page}");
    let release = |networks_mode: &'static str| {
        vec![
            ("package_id", package.package_id.clone()),
            ("stage", "official".into()),
            ("users", String::new()),
            ("mode", String::new()),
            ("rule_networks_mode", networks_mode.into()),
            ("rule_networks", "wifi".into()),
            ("rule_os_mode", "in_range".into()),
            ("rule_os_min", "12".into()),
        ]
    };
    let refused = browser.post_vec("/console/delivery/release", release("sometimes")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains(r#"value="12""#), "kept as typed");
    browser.page("/console/delivery").await;
    let released = browser.post_vec("/console/delivery/release", release("include")).await;
    assert_eq!(released.status(), StatusCode::SEE_OTHER, "{}", released.text().await.unwrap());
    let stored = &admin.list_releases(&workspace).await.unwrap().items[0].definition;
    assert_eq!(stored["rules"]["networks"], serde_json::json!({ "include": ["wifi"] }));
    assert_eq!(stored["rules"]["os_version"], serde_json::json!({ "in_range": { "min": "12", "max": null } }));
}

#[tokio::test]
async fn developers_issue_connection_tokens_and_read_api_calls_in_the_console() {
    let server = TestServer::start().await;
    let mut dev = Browser::person(&server, "dev", "developer").await;
    dev.post_vec("/console/apps", vec![("name", "Chat"), ("workspaces", "prod")]).await;
    assert!(dev.text("/console/gateway").await.contains("Calls since this node started"));
    let page = dev.page("/console/sync").await;
    assert!(page.contains("A connection token"), "{page}");
    let issued =
        dev.post("/console/sync/token", &[("user_id", "alice"), ("device_id", ""), ("ttl_seconds", "600")]).await;
    assert_eq!(issued.status(), StatusCode::OK);
    let page = issued.text().await.unwrap();
    assert!(page.contains("Connection token for alice") && page.contains("Copy it now"), "shown once: {page}");
    dev.page("/console/sync").await;
    let refused = dev.post("/console/sync/token", &[("user_id", "alice"), ("ttl_seconds", "ten")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    let mut ops = Browser::person(&server, "ops", "operator").await;
    assert!(!ops.page("/console/sync").await.contains("A connection token"), "vouching for users is a developer's");
    let forged = ops.post("/console/sync/token", &[("user_id", "alice")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn releases_take_a_time_window_or_a_cap_from_the_console() {
    let server = TestServer::start().await;
    let mut browser = Browser::person(&server, "ana", "admin").await;
    browser.post_vec("/console/apps", vec![("name", "Clinic"), ("workspaces", "prod")]).await;
    let admin = server.admin();
    let app = admin.list_apps(&Default::default()).await.unwrap().items.remove(0);
    let workspace = admin.list_workspaces(&app.app_id).await.unwrap().items.remove(0).workspace_id;
    let package = upload_h5(&admin, &workspace, "60000001", "wards").await;
    let release = |stage: &str, fields: Vec<(&'static str, &str)>| {
        let mut form =
            vec![("package_id", package.package_id.clone()), ("stage", stage.to_owned()), ("mode", String::new())];
        form.extend(fields.into_iter().map(|(name, value)| (name, value.to_owned())));
        form
    };
    browser.page("/console/delivery").await;
    let refused =
        browser.post_vec("/console/delivery/release", release("time_window", vec![("window_end", "next week")])).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains(r#"name="window_end" value="next week" aria-invalid="true""#), "{page}");
    browser.page("/console/delivery").await;
    let now = midship_core::Clock::now_ms(&midship_core::SystemClock);
    let in_three_days = midship_core::clock::format_rfc3339(now + 3 * 86_400_000)[..16].to_owned();
    let end_at = midship_core::clock::parse_utc_minute(&in_three_days).unwrap();
    let windowed = browser
        .post_vec(
            "/console/delivery/release",
            release("time_window", vec![("window_start", ""), ("window_end", &in_three_days)]),
        )
        .await;
    assert_eq!(windowed.status(), StatusCode::SEE_OTHER, "{}", windowed.text().await.unwrap());
    let stored = &admin.list_releases(&workspace).await.unwrap().items[0].definition;
    assert_eq!(stored["stage"], serde_json::json!({ "kind": "time_window", "start_at": null, "end_at": end_at }));

    browser.page("/console/delivery").await;
    let zero = browser.post_vec("/console/delivery/release", release("capped", vec![("max_devices", "0")])).await;
    assert_eq!(zero.status(), StatusCode::BAD_REQUEST);
    browser.page("/console/delivery").await;
    let capped = browser.post_vec("/console/delivery/release", release("capped", vec![("max_devices", "500")])).await;
    assert_eq!(capped.status(), StatusCode::SEE_OTHER);
    let stored = &admin.list_releases(&workspace).await.unwrap().items[0].definition;
    assert_eq!(stored["stage"], serde_json::json!({ "kind": "capped", "max_devices": 500 }));
}

/// An H5 package (version 2.0.0) of `h5_app_id` whose page says `page`, uploaded through the
/// admin API.
async fn upload_h5(
    admin: &midship_admin_client::AdminClient,
    workspace: &str,
    h5_app_id: &str,
    page: &str,
) -> midship_api::PackageView {
    let manifest = serde_json::json!({ "app_id": h5_app_id, "version": "2.0.0",
        "vhost": format!("https://{h5_app_id}.h5app.example.com"), "main_url": "/index.html" });
    let files = midship_package::Files::from([
        ("manifest.json".to_owned(), manifest.to_string().into_bytes()),
        ("index.html".to_owned(), format!("<html>{page}</html>").into_bytes()),
    ]);
    admin.upload_package(workspace, &[("kind", "h5")], midship_package::write_zip(&files)).await.unwrap()
}
