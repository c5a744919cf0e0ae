//! Analytics end to end: devices log through the SDK's logger (on-disk queue, batches with stable
//! ids, policy, crash hook) and raw calls through the gateway; reports come from the admin API.

use std::time::Duration;

use midship_admin_client::ReportParams;
use midship_analytics::AnalyticsSettings;
use midship_api::{AnalyticsPolicy, CreateAppRequest, KindPolicy};
use midship_sdk::analytics::{AnalyticsLogger, LoggerSettings, Network};
use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};
use midship_server::ServerSettings;
use serde_json::{Value, json};

use crate::TestServer;

struct Fixture {
    server: TestServer,
    app_id: String,
    workspace: String,
    secret: String,
    queues: tempfile::TempDir,
}

async fn fixture_with(settings: ServerSettings) -> Fixture {
    let server = TestServer::start_with(settings).await;
    let request = CreateAppRequest { name: "shop".into(), platforms: vec![], workspaces: None };
    let created = server.admin().create_app(&request).await.unwrap();
    Fixture {
        server,
        app_id: created.app.app_id,
        workspace: created.workspaces[0].workspace_id.clone(),
        secret: created.secret,
        queues: tempfile::tempdir().unwrap(),
    }
}

async fn fixture() -> Fixture {
    fixture_with(ServerSettings::default()).await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn today() -> ReportParams {
    let day = midship_analytics::rollup::format_day(midship_analytics::rollup::day_of(now_ms()));
    ReportParams { from: Some(day.clone()), to: Some(day), ..ReportParams::default() }
}

impl Fixture {
    fn rpc(&self, device_id: &str, user_id: Option<&str>, app_version: &str) -> std::sync::Arc<RpcClient> {
        let mut settings = RpcSettings::new(&self.server.base_url, &self.app_id, &self.workspace, &self.secret);
        settings.retry_backoff = Duration::from_millis(5);
        let identity = DeviceIdentity {
            device_id: Some(device_id.into()),
            user_id: user_id.map(str::to_owned),
            platform: Some("android".into()),
            app_version: Some(app_version.into()),
            ..DeviceIdentity::default()
        };
        RpcClient::new(settings, identity).unwrap()
    }

    fn logger(&self, device_id: &str, user_id: Option<&str>) -> std::sync::Arc<AnalyticsLogger> {
        let settings = LoggerSettings::new(self.queues.path().join(device_id));
        AnalyticsLogger::open(self.rpc(device_id, user_id, "2.0.0"), settings).unwrap()
    }

    async fn overview_today(&self) -> midship_api::OverviewDay {
        let report = self.server.admin().analytics_overview(&self.workspace, &today()).await.unwrap();
        report.days.into_iter().next().unwrap()
    }

    async fn event_count(&self, name: &str) -> u64 {
        let report = self.server.admin().analytics_events(&self.workspace, &today()).await.unwrap();
        report.events.iter().find(|event| event.name == name).map_or(0, |event| event.count)
    }

    /// A signed `POST /mgw` call as a client written from docs/protocol.md sends it, with or
    /// without `Device-Id`: the result code, the memo and the `Device-Id` the gateway issued.
    async fn signed_call(&self, operation_type: &str, device_id: Option<&str>, body: &str) -> RawReply {
        use midship_signing::client::{SignType, SigningInput, sign};
        let timestamp = now_ms().to_string();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let input = SigningInput {
            method: "POST",
            operation_type,
            app_id: &self.app_id,
            workspace_id: &self.workspace,
            device_id: "",
            user_id: "",
            timestamp: &timestamp,
            nonce: &nonce,
            body: body.as_bytes(),
        };
        let signature = sign(SignType::HmacSha256, self.secret.as_bytes(), &input);
        let mut request = self
            .server
            .http
            .post(self.server.url("/mgw"))
            .header("Operation-Type", operation_type)
            .header("AppId", &self.app_id)
            .header("WorkspaceId", &self.workspace)
            .header("Ts", timestamp)
            .header("Nonce", nonce)
            .header("Sign", signature)
            .body(body.to_owned());
        if let Some(device_id) = device_id {
            request = request.header("Device-Id", device_id);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned());
        RawReply {
            result: header("result-status").unwrap().parse().unwrap(),
            memo: header("memo").unwrap_or_default(),
            issued_device_id: header("device-id"),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }
}

struct RawReply {
    result: u16,
    memo: String,
    issued_device_id: Option<String>,
    body: Vec<u8>,
}

#[tokio::test]
async fn the_logger_survives_a_restart_and_a_lost_answer_counts_once() {
    let fixture = fixture().await;
    let logger = fixture.logger("DEVICE-A", Some("alice"));
    assert!(logger.foreground(now_ms()).unwrap(), "the first foreground is a launch");
    assert!(!logger.foreground(now_ms()).unwrap(), "still the same session");
    for index in 0..3 {
        logger.event("add_to_cart", json!({ "sku": format!("A{index}") })).unwrap();
    }
    logger.page("home", 1_500).unwrap();
    // The app is killed: a new logger over the same directory finds the queue.
    drop(logger);
    let logger = fixture.logger("DEVICE-A", Some("alice"));
    assert_eq!(logger.queued().unwrap(), 5);

    // The answer to the first send is lost: the batch file stays, and is sent again as it was.
    let batch_id = logger.prepare_batch(Network::Wifi).unwrap().unwrap();
    let batch_file = fixture.queues.path().join("DEVICE-A").join("batch.json");
    let kept = std::fs::read(&batch_file).unwrap();
    let first = logger.send_prepared().await.unwrap().unwrap();
    assert_eq!((first.batch_id.as_str(), first.accepted, first.duplicate), (batch_id.as_str(), 5, false));
    std::fs::write(&batch_file, kept).unwrap();
    let summary = logger.upload(Network::Wifi).await.unwrap();
    assert_eq!((summary.batches, summary.events, summary.duplicates), (1, 0, 1));
    assert!(!batch_file.exists());

    let day = fixture.overview_today().await;
    assert_eq!((day.launches, day.active_devices, day.active_users, day.new_devices), (1, 1, 1, 1));
    assert_eq!(fixture.event_count("add_to_cart").await, 3, "counted once");
    let breakdown = fixture
        .server
        .admin()
        .analytics_events(
            &fixture.workspace,
            &ReportParams { name: Some("add_to_cart".into()), attribute: Some("sku".into()), ..today() },
        )
        .await
        .unwrap()
        .breakdown;
    assert_eq!(breakdown.len(), 3);
    let pages = fixture.server.admin().analytics_pages(&fixture.workspace, &today()).await.unwrap();
    assert_eq!((pages.pages[0].views, pages.pages[0].average_duration_ms), (1, Some(1_500)));
}

#[tokio::test]
async fn device_state_calls_without_a_device_id_are_refused_with_the_issued_one() {
    let fixture = fixture().await;
    let batch = json!({ "batch_id": "first-contact", "events": [{ "kind": "launch", "time": now_ms() }] }).to_string();
    let first = fixture.signed_call("midship.analytics.upload", None, &batch).await;
    let retried = fixture.signed_call("midship.analytics.upload", None, &batch).await;
    for reply in [&first, &retried] {
        assert_eq!(reply.result, 3002, "{}", reply.memo);
        assert!(reply.memo.contains("Device-Id"), "{}", reply.memo);
    }
    let issued = first.issued_device_id.clone().expect("the refusal carries the utdid issued at first contact");
    assert_ne!(retried.issued_device_id, Some(issued.clone()), "every call without the header is issued another id");
    assert_eq!(fixture.overview_today().await.active_devices, 0, "nothing of a refused batch is counted");

    // Sent again with the issued id, the batch is stored once; a retry of it is a duplicate.
    for duplicate in [false, true] {
        let reply = fixture.signed_call("midship.analytics.upload", Some(&issued), &batch).await;
        assert_eq!(reply.result, 1000, "{}", reply.memo);
        assert_eq!(serde_json::from_slice::<Value>(&reply.body).unwrap()["duplicate"], duplicate);
        assert_eq!(reply.issued_device_id, None);
    }
    let day = fixture.overview_today().await;
    assert_eq!((day.launches, day.active_devices), (1, 1));

    // Every call that records or reads a device's state refuses the same way.
    for (operation_type, body) in [
        ("midship.analytics.policy", "{}"),
        ("midship.analytics.log.upload", r#"{"request_id":"R","file_name":"app.log","content":""}"#),
        ("midship.push.report", "{}"),
        ("midship.push.bind", r#"{"user_id":"alice"}"#),
        ("midship.push.unbind", "{}"),
        ("midship.push.ack", r#"{"task_id":"T","event":"opened"}"#),
        ("midship.delivery.report", r#"{"release_id":"R","event":"installed"}"#),
    ] {
        let reply = fixture.signed_call(operation_type, None, body).await;
        assert_eq!((reply.result, reply.memo.contains("Device-Id")), (3002, true), "{operation_type}: {}", reply.memo);
    }

    // The SDK sends a call refused at first contact again with the issued id, on its own.
    let settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    let rpc = RpcClient::new(settings, DeviceIdentity::default()).unwrap();
    let logger = AnalyticsLogger::open(rpc.clone(), LoggerSettings::new(fixture.queues.path().join("new"))).unwrap();
    logger.foreground(now_ms()).unwrap();
    let summary = logger.upload(Network::Wifi).await.unwrap();
    assert_eq!((summary.batches, summary.events), (1, 1));
    assert!(rpc.device_id().is_some());
    assert_eq!(fixture.overview_today().await.active_devices, 2);
}

#[tokio::test]
async fn a_batch_id_reused_for_other_events_is_told_apart_from_a_retry() {
    let fixture = fixture().await;
    let device = fixture.rpc("DEVICE-REUSE", None, "1.0.0");
    let batch =
        |name: &str| json!({ "batch_id": "7", "events": [{ "kind": "event", "name": name, "time": now_ms() - 1000 }] });
    let first = batch("search");
    let mut answers = Vec::new();
    for body in [&first, &first, &batch("checkout")] {
        let reply = device.rpc("midship.analytics.upload", body).await.unwrap();
        assert_eq!(reply.result, 1000, "{}", reply.memo);
        let answer = reply.json().unwrap();
        answers.push((answer["accepted"].clone(), answer["duplicate"].clone(), answer["content_differs"].clone()));
    }
    assert_eq!(
        answers,
        [
            (json!(1), json!(false), json!(false)),
            (json!(0), json!(true), json!(false)),
            (json!(0), json!(true), json!(true))
        ],
        "stored; a retry of it; another batch reusing its id"
    );
    assert_eq!((fixture.event_count("search").await, fixture.event_count("checkout").await), (1, 0));
}

#[tokio::test]
async fn devices_obey_the_upload_policy() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let mut policy = AnalyticsPolicy { batch_size: 2, ..AnalyticsPolicy::default() };
    policy.kinds.insert("page".into(), KindPolicy { enabled: false, ..KindPolicy::default() });
    policy.kinds.insert("event".into(), KindPolicy { wifi_only: true, ..KindPolicy::default() });
    policy.kinds.insert("log".into(), KindPolicy { min_level: Some("warn".into()), ..KindPolicy::default() });
    admin.set_analytics_policy(&fixture.workspace, &policy).await.unwrap();
    assert_eq!(admin.analytics_policy(&fixture.workspace).await.unwrap(), policy);
    let bad = AnalyticsPolicy { batch_size: 0, ..AnalyticsPolicy::default() };
    let error = admin.set_analytics_policy(&fixture.workspace, &bad).await.unwrap_err();
    assert_eq!(error.code(), Some("invalid_request"), "{error}");

    let logger = fixture.logger("DEVICE-P", None);
    let decided = logger.refresh_policy().await.unwrap();
    assert_eq!(decided.batch_size, 2);
    assert!(!decided.kinds.contains_key("page"));
    assert!(!logger.page("home", 10).unwrap(), "pages are not logged");
    assert!(!logger.log("info", "quiet").unwrap(), "below the minimum level");
    assert!(logger.log("error", "loud").unwrap());
    logger.foreground(now_ms()).unwrap();
    logger.event("search", json!({})).unwrap();
    logger.event("search", json!({})).unwrap();

    let on_cellular = logger.upload(Network::Cellular).await.unwrap();
    assert_eq!((on_cellular.batches, on_cellular.events), (1, 2), "the log line and the launch, one batch of 2");
    assert_eq!(logger.queued().unwrap(), 2, "custom events wait for Wi-Fi");
    assert_eq!(fixture.event_count("search").await, 0);
    let on_wifi = logger.upload(Network::Wifi).await.unwrap();
    assert_eq!((on_wifi.batches, on_wifi.events), (1, 2));
    assert_eq!(fixture.event_count("search").await, 2);

    // The policy survives a restart of the app.
    drop(logger);
    let logger = fixture.logger("DEVICE-P", None);
    assert!(!logger.page("home", 10).unwrap());
}

#[tokio::test]
async fn a_panic_is_written_to_the_queue_and_grouped() {
    let fixture = fixture().await;
    let logger = fixture.logger("DEVICE-C", Some("carol"));
    logger.foreground(now_ms()).unwrap();
    logger.install_crash_handler();
    for _ in 0..2 {
        let outcome = std::panic::catch_unwind(|| {
            let cart: Vec<u32> = Vec::new();
            assert!(!cart.is_empty(), "the cart is empty");
        });
        assert!(outcome.is_err());
    }
    let _ = std::panic::take_hook();
    assert_eq!(logger.upload(Network::Wifi).await.unwrap().events, 3);

    let admin = fixture.server.admin();
    let groups = admin.analytics_crashes(&fixture.workspace, &ReportParams::default()).await.unwrap().groups;
    assert_eq!(groups.len(), 1, "the same panic twice is one group: {groups:?}");
    assert_eq!((groups[0].count, groups[0].devices, groups[0].users), (2, 1, 1));
    let detail = admin.analytics_crash(&fixture.workspace, &groups[0].fingerprint).await.unwrap();
    assert_eq!(detail.versions[0].version, "2.0.0");
    assert_eq!((detail.versions[0].count, detail.versions[0].launches), (2, 1));
    assert_eq!(detail.versions[0].rate, Some(2.0));
    let sample = &detail.samples[0];
    assert!(sample["exception"]["message"].as_str().unwrap().contains("the cart is empty"), "{sample}");
    assert_eq!(sample["device_id"], "DEVICE-C");
    assert!(
        sample["frames"].as_array().unwrap().iter().any(|frame| {
            frame["function"].as_str().unwrap_or_default().contains("a_panic_is_written_to_the_queue_and_grouped")
        }),
        "{sample}"
    );
    let error = admin.analytics_crash(&fixture.workspace, "0123456789abcdef").await.unwrap_err();
    assert_eq!(error.code(), Some("not_found"));
}

#[tokio::test]
async fn crashes_differing_in_addresses_and_lines_group_together_keeping_their_lines() {
    let fixture = fixture().await;
    let device = fixture.rpc("DEVICE-G", None, "3.1.0");
    let crash = |address: u64, framework_line: u32, app_line: u32| {
        json!({
            "kind": "crash", "time": now_ms(),
            "exception": { "type": "java.lang.IllegalStateException", "message": format!("order {address} failed") },
            "frames": [
                { "function": "com.demo.pay.Checkout.submit", "file": "Checkout.kt", "line": app_line,
                  "address": format!("{address:#x}") },
                { "function": "com.demo.pay.Checkout$$ExternalSyntheticLambda3.run", "line": 2 },
                { "function": "android.os.Handler.dispatchMessage", "file": "Handler.java", "line": framework_line,
                  "address": format!("{:#x}", address + 64) },
            ],
        })
    };
    let events = [crash(0x7f00_1000, 106, 42), crash(0x5500_2000, 111, 42), crash(0x1000, 99, 57)];
    let reply =
        device.rpc("midship.analytics.upload", &json!({ "batch_id": "crashes-1", "events": events })).await.unwrap();
    assert_eq!(reply.result, 1000, "{}", reply.memo);
    let admin = fixture.server.admin();
    let groups = admin.analytics_crashes(&fixture.workspace, &ReportParams::default()).await.unwrap().groups;
    let counts: Vec<u64> = groups.iter().map(|group| group.count).collect();
    assert_eq!(counts, [3], "a line moved by an edit above it is the same bug");
    assert_eq!(groups[0].title, "java.lang.IllegalStateException in com.demo.pay.Checkout.submit");
    let detail = admin.analytics_crash(&fixture.workspace, &groups[0].fingerprint).await.unwrap();
    let lines: Vec<&Value> = detail.samples.iter().map(|sample| &sample["frames"][0]["line"]).collect();
    assert_eq!(lines, [57, 42, 42], "the samples keep their lines, newest first");
}

#[tokio::test]
async fn bad_uploads_are_refused_whole_or_event_by_event() {
    let fixture = fixture().await;
    let device = fixture.rpc("DEVICE-B", None, "1.0.0");
    for (body, reason) in [
        (b"{\"batch_id\":".to_vec(), "bad batch"),
        (b"{\"events\":[]}".to_vec(), "batch_id"),
        (vec![0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3], "decompress"),
    ] {
        let reply = device.rpc_bytes("midship.analytics.upload", &body).await.unwrap();
        assert_eq!(reply.result, 3002);
        assert!(reply.memo.contains(reason), "{} lacks {reason}", reply.memo);
    }
    let body = json!({ "batch_id": "mixed", "events": [
        { "kind": "launch", "time": now_ms() },
        { "kind": "event", "time": now_ms() },
        { "kind": "page", "time": now_ms(), "page": "home", "duration_ms": -1 },
        { "kind": "launch", "time": now_ms() + 3_600_000 },
    ]});
    let reply = device.rpc("midship.analytics.upload", &body).await.unwrap();
    assert_eq!(reply.result, 1000);
    let answer: Value = reply.json().unwrap();
    assert_eq!(answer["accepted"], 2);
    let rejected: Vec<u64> =
        answer["rejected"].as_array().unwrap().iter().map(|rejected| rejected["index"].as_u64().unwrap()).collect();
    assert_eq!(rejected, [1, 2]);
    assert_eq!(fixture.overview_today().await.launches, 2, "the future launch is placed at the receive time");

    let admin = fixture.server.admin();
    let error = admin
        .analytics_overview(&fixture.workspace, &ReportParams { from: Some("2026-02-30".into()), ..today() })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("invalid_request"), "{error}");
    let error = admin
        .analytics_funnel(&fixture.workspace, &ReportParams { steps: Some("only_one".into()), ..today() })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("invalid_request"), "{error}");
    let error = admin.analytics_overview("NOSUCHWORKSPACE", &today()).await.unwrap_err();
    assert_eq!(error.code(), Some("not_found"), "{error}");
}

#[tokio::test]
async fn an_abusive_device_is_rate_limited_and_others_are_not() {
    let settings = ServerSettings {
        analytics: AnalyticsSettings { device_events_per_minute: 5, ..AnalyticsSettings::default() },
        ..ServerSettings::default()
    };
    let fixture = fixture_with(settings).await;
    let launches = |count: usize, batch: &str| json!({ "batch_id": batch, "events": vec![json!({ "kind": "launch", "time": now_ms() }); count] });
    let mut settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    settings.max_retries = 0;
    let noisy =
        RpcClient::new(settings, DeviceIdentity { device_id: Some("NOISY".into()), ..DeviceIdentity::default() })
            .unwrap();
    assert_eq!(noisy.rpc("midship.analytics.upload", &launches(4, "n1")).await.unwrap().result, 1000);
    assert_eq!(noisy.rpc("midship.analytics.upload", &launches(4, "n2")).await.unwrap().result, 1002);
    let quiet = fixture.rpc("QUIET", None, "1.0.0");
    assert_eq!(quiet.rpc("midship.analytics.upload", &launches(4, "q1")).await.unwrap().result, 1000);
    assert_eq!(fixture.overview_today().await.launches, 8);
}

#[tokio::test]
async fn uploads_also_travel_over_the_long_connection() {
    use midship_protocol::Codec;
    use midship_sdk::sync::SyncClient;

    let fixture = crate::sync::fixture().await;
    let client = SyncClient::new(fixture.settings("DEVICE-WS", Some("dora"), Codec::Protobuf)).unwrap();
    crate::sync::start_connected(&client).await;
    let body = json!({ "batch_id": "ws-1", "events": [{ "kind": "launch", "time": now_ms() }] });
    let reply = client.rpc("midship.analytics.upload", &body).await.unwrap();
    assert_eq!(reply.result, 1000, "{}", reply.memo);
    assert_eq!(reply.json().unwrap()["accepted"], 1);
    let policy = client.rpc("midship.analytics.policy", &json!({})).await.unwrap();
    assert_eq!(policy.json().unwrap()["batch_size"], 50);
    let report = fixture.server.admin().analytics_overview(&fixture.workspace, &today()).await.unwrap();
    assert_eq!((report.days[0].launches, report.days[0].active_users), (1, 1));
    let realtime = fixture.server.admin().analytics_realtime(&fixture.workspace).await.unwrap();
    assert_eq!(realtime.active_devices, 1);
}

/// A webhook receiver on its own port: answers 500 to the first call, 200 after, and keeps bodies.
async fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                let mut kept = kept.lock().unwrap();
                kept.push(body);
                if kept.len() == 1 { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn alert_rules_fire_and_resolve_with_webhook_retries_and_history() {
    use midship_analytics::alert::WebhookSettings;
    use midship_api::AlertRuleDefinition;

    let mut settings = ServerSettings::default();
    settings.analytics.webhooks = WebhookSettings { backoff: Duration::from_millis(1), ..WebhookSettings::default() };
    let fixture = fixture_with(settings).await;
    let (hook, received) = webhook_receiver().await;
    let admin = fixture.server.admin();
    let rule = |name: &str, metric: &str, operation_type: Option<&str>, threshold: f64| AlertRuleDefinition {
        name: name.into(),
        metric: metric.into(),
        operation_type: operation_type.map(str::to_owned),
        threshold,
        window_minutes: 10,
        webhook_url: hook.clone(),
        enabled: true,
    };
    let crashes = admin.create_alert(&fixture.workspace, &rule("crashes", "crash_rate", None, 0.5)).await.unwrap();
    let errors = admin
        .create_alert(
            &fixture.workspace,
            &rule("upload errors", "api_error_rate", Some("midship.analytics.upload"), 0.2),
        )
        .await
        .unwrap();
    let bad = rule("bad", "api_error_rate", None, 0.2);
    assert_eq!(admin.create_alert(&fixture.workspace, &bad).await.unwrap_err().code(), Some("invalid_request"));
    let calls = fixture.server.state.gateway.clone();
    let analytics = &fixture.server.state.analytics;
    assert!(analytics.evaluate_alerts(calls.as_ref()).await.unwrap().is_empty(), "no data yet");

    let device = fixture.rpc("DEVICE-ALERT", None, "4.0.0");
    let crash = json!({ "kind": "crash", "time": now_ms(), "exception": { "type": "E" }, "frames": [] });
    let launch = json!({ "kind": "launch", "time": now_ms() });
    let body = json!({ "batch_id": "a1", "events": [launch, crash, launch, crash] });
    assert_eq!(device.rpc("midship.analytics.upload", &body).await.unwrap().result, 1000);
    for _ in 0..3 {
        assert_eq!(device.rpc_bytes("midship.analytics.upload", b"nonsense").await.unwrap().result, 3002);
    }
    let changes = analytics.evaluate_alerts(calls.as_ref()).await.unwrap();
    let fired: Vec<(&str, &str)> =
        changes.iter().map(|change| (change.rule_id.as_str(), change.state.as_str())).collect();
    assert_eq!(fired, [(crashes.rule_id.as_str(), "firing"), (errors.rule_id.as_str(), "firing")]);
    assert_eq!((changes[0].value, changes[0].delivered, changes[0].attempts), (1.0, true, 2), "the first call got 500");
    assert_eq!(changes[1].value, 0.75, "3 of the 4 uploads failed");
    assert!(analytics.evaluate_alerts(calls.as_ref()).await.unwrap().is_empty(), "still firing: no new notice");

    let launches = json!({ "batch_id": "a2", "events": vec![json!({ "kind": "launch", "time": now_ms() }); 8] });
    assert_eq!(device.rpc("midship.analytics.upload", &launches).await.unwrap().result, 1000);
    let changes = analytics.evaluate_alerts(calls.as_ref()).await.unwrap();
    let resolved: Vec<(&str, &str)> =
        changes.iter().map(|change| (change.rule_id.as_str(), change.state.as_str())).collect();
    assert_eq!(
        resolved,
        [(crashes.rule_id.as_str(), "resolved")],
        "2 crashes in 10 launches; 3 failed uploads in 5 still fire"
    );

    let notices = received.lock().unwrap().clone();
    assert_eq!(notices.len(), 4, "a failed attempt, then three notices");
    assert_eq!((notices[1]["state"].as_str(), notices[1]["name"].as_str()), (Some("firing"), Some("crashes")));
    assert_eq!((notices[3]["state"].as_str(), notices[3]["value"].as_f64()), (Some("resolved"), Some(0.2)));
    let history = admin.alert_history(&fixture.workspace).await.unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!((history[0].state.as_str(), history[2].attempts), ("resolved", 2));
    let states: Vec<(String, String)> = admin
        .list_alerts(&fixture.workspace)
        .await
        .unwrap()
        .into_iter()
        .map(|rule| (rule.definition.name, rule.state))
        .collect();
    assert_eq!(states, [("crashes".to_owned(), "ok".to_owned()), ("upload errors".to_owned(), "firing".to_owned())]);
    admin.delete_alert(&fixture.workspace, &errors.rule_id).await.unwrap();
    assert_eq!(admin.delete_alert(&fixture.workspace, &errors.rule_id).await.unwrap_err().code(), Some("not_found"));
    assert_eq!(admin.list_alerts(&fixture.workspace).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_proguard_mapping_retraces_and_regroups_past_and_new_crashes() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let device = fixture.rpc("DEVICE-R8", None, "5.0.0");
    let obfuscated = |line: u32| {
        json!({ "kind": "crash", "time": now_ms(), "exception": { "type": "java.lang.IllegalStateException" },
                "frames": [
                    { "function": "a.a.b.a", "file": "SourceFile", "line": line },
                    { "function": "android.os.Handler.dispatchMessage", "file": "Handler.java", "line": 106 },
                ] })
    };
    let upload = |batch: &'static str, event: Value| {
        let device = device.clone();
        async move {
            let reply = device.rpc("midship.analytics.upload", &json!({ "batch_id": batch, "events": [event] })).await;
            assert_eq!(reply.unwrap().result, 1000);
        }
    };
    upload("before", obfuscated(1)).await;
    let groups = admin.analytics_crashes(&fixture.workspace, &ReportParams::default()).await.unwrap().groups;
    assert_eq!(groups[0].title, "java.lang.IllegalStateException in a.a.b.a");

    let mapping = "# compiler: R8\n\
        com.example.app.Cart -> a.a.b:\n\
        # {\"id\":\"sourceFile\",\"fileName\":\"Cart.kt\"}\n    \
        1:1:int total():42:42 -> a\n    \
        2:2:void clear():50:50 -> a\n";
    let broken =
        admin.upload_mapping(&fixture.workspace, "5.0.0", b"this is not a mapping".to_vec()).await.unwrap_err();
    assert_eq!(broken.code(), Some("invalid_request"), "{broken}");
    let uploaded = admin.upload_mapping(&fixture.workspace, "5.0.0", mapping.as_bytes().to_vec()).await.unwrap();
    assert_eq!((uploaded.classes, uploaded.kind.as_str()), (1, "proguard"));
    assert_eq!(admin.symbol_files(&fixture.workspace).await.unwrap(), [uploaded]);

    // The crash stored before the mapping is now retraced, and a new one of the same bug joins it.
    upload("after", obfuscated(1)).await;
    let groups = admin.analytics_crashes(&fixture.workspace, &ReportParams::default()).await.unwrap().groups;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        (groups[0].title.as_str(), groups[0].count),
        ("java.lang.IllegalStateException in com.example.app.Cart.total", 2)
    );
    let detail = admin.analytics_crash(&fixture.workspace, &groups[0].fingerprint).await.unwrap();
    assert_eq!(
        detail.samples[1]["frames"][0],
        json!({ "function": "com.example.app.Cart.total", "file": "Cart.kt", "line": 42 })
    );
    // Another obfuscated line is another method: another group.
    upload("other", obfuscated(2)).await;
    let groups = admin.analytics_crashes(&fixture.workspace, &ReportParams::default()).await.unwrap().groups;
    assert_eq!(groups[1].title, "java.lang.IllegalStateException in com.example.app.Cart.clear");
}

#[tokio::test]
async fn operators_get_a_devices_log_file_over_sync_and_search_it() {
    use midship_admin_client::LogSearchParams;
    use midship_api::LogRequest;
    use midship_protocol::Codec;
    use midship_sdk::sync::SyncClient;

    let fixture = crate::sync::fixture().await;
    let admin = fixture.server.admin();
    let log_file = fixture.state.path().join("app.log");
    std::fs::write(
        &log_file,
        "09:00:01 INFO start\n09:00:02 WARN payment Timeout after 30 s\n09:00:03 INFO retry ok\n",
    )
    .unwrap();
    let client = SyncClient::new(fixture.settings("DEVICE-LOG", Some("lena"), Codec::Json)).unwrap();
    let rpc = {
        let mut settings =
            RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
        settings.retry_backoff = Duration::from_millis(5);
        let identity = DeviceIdentity {
            device_id: Some("DEVICE-LOG".into()),
            user_id: Some("lena".into()),
            ..DeviceIdentity::default()
        };
        RpcClient::new(settings, identity).unwrap()
    };
    let logger = AnalyticsLogger::open(rpc, LoggerSettings::new(fixture.state.path().join("queue"))).unwrap();
    logger.answer_log_requests(&client, log_file.clone());
    crate::sync::start_connected(&client).await;

    let wait_for_files = |count: usize| {
        let admin = admin.clone();
        let workspace = fixture.workspace.clone();
        async move {
            let read = || async { admin.log_files(&workspace, &today()).await.unwrap() };
            midship_testkit::eventually("the device answers the log request", read, |files| files.len() >= count).await
        }
    };
    let request = LogRequest { device_id: Some("DEVICE-LOG".into()), user_id: None };
    let asked = admin.request_logs(&fixture.workspace, &request).await.unwrap();
    let files = wait_for_files(1).await;
    assert_eq!((files[0].request_id.as_str(), files[0].device_id.as_str()), (asked.request_id.as_str(), "DEVICE-LOG"));
    assert_eq!((files[0].file_name.as_str(), files[0].user_id.as_deref()), ("app.log", Some("lena")));
    let text = admin.download_log(&fixture.workspace, &files[0].file_id).await.unwrap();
    assert_eq!(text, std::fs::read_to_string(&log_file).unwrap());

    // By user: every device of the user answers.
    let by_user = LogRequest { device_id: None, user_id: Some("lena".into()) };
    admin.request_logs(&fixture.workspace, &by_user).await.unwrap();
    wait_for_files(2).await;

    let search = |q: &str, device_id: Option<&str>, user_id: Option<&str>| LogSearchParams {
        q: q.into(),
        device_id: device_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        ..LogSearchParams::default()
    };
    let lines = admin.search_logs(&fixture.workspace, &search("timeout", None, None)).await.unwrap();
    assert_eq!(lines.len(), 2, "one line in each file: {lines:?}");
    assert_eq!((lines[0].line_number, lines[0].line.as_str()), (2, "09:00:02 WARN payment Timeout after 30 s"));
    assert_eq!(admin.search_logs(&fixture.workspace, &search("timeout", Some("OTHER"), None)).await.unwrap().len(), 0);
    assert_eq!(admin.search_logs(&fixture.workspace, &search("retry", None, Some("lena"))).await.unwrap().len(), 2);
    let error = admin.search_logs(&fixture.workspace, &search(" ", None, None)).await.unwrap_err();
    assert_eq!(error.code(), Some("invalid_request"));
    let both = LogRequest { device_id: Some("A".into()), user_id: Some("b".into()) };
    assert_eq!(admin.request_logs(&fixture.workspace, &both).await.unwrap_err().code(), Some("invalid_request"));

    // A device the request does not name cannot answer it.
    let stranger = fixture_rpc(&fixture, "STRANGER");
    let upload = json!({ "request_id": asked.request_id, "file_name": "x.log", "content": "forged" });
    assert_eq!(stranger.rpc("midship.analytics.log.upload", &upload).await.unwrap().result, 1001);
    let unknown = json!({ "request_id": "NOSUCHREQUEST", "file_name": "x.log", "content": "" });
    assert_eq!(stranger.rpc("midship.analytics.log.upload", &unknown).await.unwrap().result, 3002);
    let error = admin.download_log(&fixture.workspace, "NOSUCHFILE").await.unwrap_err();
    assert_eq!(error.code(), Some("not_found"));
}

fn fixture_rpc(fixture: &crate::sync::Fixture, device_id: &str) -> std::sync::Arc<RpcClient> {
    let settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    RpcClient::new(settings, DeviceIdentity { device_id: Some(device_id.into()), ..DeviceIdentity::default() }).unwrap()
}
