//! The gateway end to end: a real upstream HTTP server on port 0, APIs registered through the
//! admin API, and signed calls to `POST /mgw` showing every result code from the outside.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::routing::{any, post};
use midship_api::{CreateApiGroupRequest, CreateApiRequest, CreateAppRequest, RotateKeyRequest};
use midship_signing::client::{SignType, SigningInput, sign};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestServer;

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// A backend: echoes what it got, or is slow, or fails.
pub(crate) async fn upstream(seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let record = move |request: Request| {
        let seen = seen.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            let path_and_query = parts.uri.path_and_query().map(|value| value.to_string()).unwrap_or_default();
            seen.lock().unwrap().push(Seen { path_and_query: path_and_query.clone(), headers: parts.headers, body });
            axum::Json(json!({ "balance": 42, "path": path_and_query }))
        }
    };
    let app = Router::new()
        .route(
            "/api/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "late"
            }),
        )
        .route("/api/broken", post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route(
            "/api/authorize",
            post(|axum::Json(question): axum::Json<Value>| async move {
                let principal = match question["credentials"]["authorization"].as_str() {
                    Some("Bearer good") => return (axum::http::StatusCode::OK, r#"{"principal":"user:alice"}"#),
                    Some("Bearer login") => axum::http::StatusCode::UNAUTHORIZED,
                    _ => axum::http::StatusCode::FORBIDDEN,
                };
                (principal, "{}")
            }),
        )
        .route("/api/nocache", post(|| async { ([("pragma", "no-cache"), ("x-backend", "yes")], "{\"fresh\":true}") }))
        .fallback(any(record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/api")
}

/// A port nothing listens on.
pub(crate) async fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

pub(crate) struct Fixture {
    pub(crate) server: TestServer,
    pub(crate) app_id: String,
    pub(crate) workspace: String,
    pub(crate) secret: String,
    pub(crate) proxy_secret: String,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

pub(crate) fn api(operation_type: &str, group: &str, path: &str) -> CreateApiRequest {
    CreateApiRequest {
        operation_type: operation_type.into(),
        group: group.into(),
        method: "POST".into(),
        path: path.into(),
        timeout_ms: None,
        content_type: None,
        charset: None,
        need_sign: None,
        need_encrypt: None,
        rate_limit_per_second: None,
        description: None,
        ..CreateApiRequest::default()
    }
}

pub(crate) async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let admin = server.admin();
    let created = admin
        .create_app(&CreateAppRequest { name: "bank".into(), platforms: vec!["ios".into()], workspaces: None })
        .await
        .unwrap();
    let workspace = created.workspaces.iter().find(|ws| ws.name == "prod").unwrap().workspace_id.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base_url = upstream(seen.clone()).await;
    let group = admin
        .create_api_group(
            &workspace,
            &CreateApiGroupRequest { name: "core".into(), base_url, ..CreateApiGroupRequest::default() },
        )
        .await
        .unwrap();
    let dead = admin
        .create_api_group(
            &workspace,
            &CreateApiGroupRequest {
                name: "dead".into(),
                base_url: closed_port().await,
                timeout_ms: Some(500),
                ..CreateApiGroupRequest::default()
            },
        )
        .await
        .unwrap();
    admin.create_api(&workspace, &api("com.bank.balance", "core", "/accounts/{accountId}/balance")).await.unwrap();
    admin
        .create_api(&workspace, &CreateApiRequest { timeout_ms: Some(200), ..api("com.bank.slow", "core", "/slow") })
        .await
        .unwrap();
    admin.create_api(&workspace, &api("com.bank.broken", "core", "/broken")).await.unwrap();
    admin.create_api(&workspace, &api("com.bank.gone", &dead.group_id, "/anything")).await.unwrap();
    admin
        .create_api(
            &workspace,
            &CreateApiRequest { need_sign: Some(false), ..api("com.bank.public", "core", "/public") },
        )
        .await
        .unwrap();
    admin
        .create_api(
            &workspace,
            &CreateApiRequest { rate_limit_per_second: Some(2), ..api("com.bank.limited", "core", "/limited") },
        )
        .await
        .unwrap();
    admin
        .create_api(
            &workspace,
            &CreateApiRequest { method: "GET".into(), ..api("com.bank.rates", "core", "/rates/{currency}") },
        )
        .await
        .unwrap();
    Fixture {
        server,
        app_id: created.app.app_id,
        workspace,
        secret: created.secret,
        proxy_secret: group.proxy_secret.expect("shown at creation"),
        seen,
    }
}

/// A call signed as docs/protocol.md says; `tamper` edits the headers after signing.
pub(crate) struct Call<'a> {
    operation_type: &'a str,
    body: &'a str,
    timestamp: i64,
    nonce: Option<String>,
    pub(crate) device_id: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(operation_type: &'a str, body: &'a str) -> Self {
        Self {
            operation_type,
            body,
            timestamp: now_ms(),
            nonce: Some(format!("n-{}", rand_suffix())),
            device_id: Some("DEVICE0000000001"),
        }
    }
}

pub(crate) fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

impl Fixture {
    pub(crate) fn signed_headers(&self, call: &Call, secret: &str) -> Vec<(&'static str, String)> {
        let timestamp = call.timestamp.to_string();
        let nonce = call.nonce.clone().unwrap_or_default();
        let input = SigningInput {
            method: "POST",
            operation_type: call.operation_type,
            app_id: &self.app_id,
            workspace_id: &self.workspace,
            device_id: "",
            user_id: "",
            timestamp: &timestamp,
            nonce: &nonce,
            body: call.body.as_bytes(),
        };
        let mut headers = vec![
            ("Operation-Type", call.operation_type.to_owned()),
            ("AppId", self.app_id.clone()),
            ("WorkspaceId", self.workspace.clone()),
            ("Ts", timestamp.clone()),
            ("Sign", sign(SignType::HmacSha256, secret.as_bytes(), &input)),
            ("Sign-Type", "hmac-sha256".to_owned()),
            ("Platform", "ios".to_owned()),
            ("User-Id", "alice".to_owned()),
        ];
        if let Some(nonce) = &call.nonce {
            headers.push(("Nonce", nonce.clone()));
        }
        if let Some(device_id) = call.device_id {
            headers.push(("Device-Id", device_id.to_owned()));
        }
        headers
    }

    pub(crate) async fn send(
        &self,
        headers: Vec<(&'static str, String)>,
        body: &str,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = self.server.http.post(self.server.url("/mgw")).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.headers().clone(), response.bytes().await.unwrap().to_vec())
    }

    pub(crate) async fn call(&self, call: Call<'_>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let headers = self.signed_headers(&call, &self.secret);
        self.send(headers, call.body).await
    }
}

/// Sends `POST /mgw` headers declaring `length` body bytes, sends no body, and returns the answer's
/// status line and headers.
pub(crate) async fn headers_only_post(base_url: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /mgw HTTP/1.1\r\nHost: {address}\r\nOperation-Type: com.bank.balance\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

pub(crate) fn result(headers: &HeaderMap) -> u16 {
    headers["result-status"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_signed_call_reaches_the_backend_and_the_backend_can_verify_it() {
    let fixture = fixture().await;
    let (status, headers, body) = fixture.call(Call::new("com.bank.balance", r#"{"accountId": "A-42"}"#)).await;
    assert_eq!(result(&headers), 1000, "{headers:?} {}", String::from_utf8_lossy(&body));
    assert_eq!(status, StatusCode::OK);
    assert!(!headers["trace-id"].is_empty());
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["balance"], 42);

    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.path_and_query, "/api/accounts/A-42/balance");
    assert_eq!(seen.headers["x-midship-operation-type"], "com.bank.balance");
    assert_eq!(seen.headers["x-midship-user-id"], "alice");
    assert_eq!(seen.headers["x-midship-trace-id"], headers["trace-id"]);
    let signature = seen.headers["x-midship-proxy-signature"].to_str().unwrap();
    midship_signing::proxy::verify_hmac(
        fixture.proxy_secret.as_bytes(),
        signature,
        "POST",
        &seen.path_and_query,
        &seen.body,
        now_ms(),
        60_000,
    )
    .expect("the backend can prove the call came through the gateway");
    assert!(
        midship_signing::proxy::verify_hmac(
            b"wrong",
            signature,
            "POST",
            &seen.path_and_query,
            &seen.body,
            now_ms(),
            60_000
        )
        .is_err()
    );
}

#[tokio::test]
async fn get_apis_send_body_fields_as_query_parameters() {
    let fixture = fixture().await;
    let (_, headers, _) =
        fixture.call(Call::new("com.bank.rates", r#"{"currency": "EUR", "day": "2026-11-22"}"#)).await;
    assert_eq!(result(&headers), 1000);
    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.path_and_query, "/api/rates/EUR?day=2026-11-22");
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn signing_failures_have_their_codes_and_never_reach_the_backend() {
    let fixture = fixture().await;
    let body = r#"{"accountId": "A-1"}"#;
    let without = |name: &str| {
        let name = name.to_owned();
        let mut headers = fixture.signed_headers(&Call::new("com.bank.balance", body), &fixture.secret);
        headers.retain(|(header, _)| *header != name);
        headers
    };
    assert_eq!(result(&fixture.send(without("Sign"), body).await.1), 7014);
    assert_eq!(result(&fixture.send(without("Ts"), body).await.1), 7007);
    assert_eq!(result(&fixture.send(without("AppId"), body).await.1), 7001);
    assert_eq!(result(&fixture.send(without("Operation-Type"), body).await.1), 3000);

    let wrong_key = fixture.signed_headers(&Call::new("com.bank.balance", body), "not-the-secret");
    assert_eq!(result(&fixture.send(wrong_key, body).await.1), 7002);
    let signed_other_body =
        fixture.signed_headers(&Call::new("com.bank.balance", r#"{"accountId": "A-2"}"#), &fixture.secret);
    assert_eq!(result(&fixture.send(signed_other_body, body).await.1), 7002, "the body is signed");

    let stale = Call { timestamp: now_ms() - 6 * 60 * 1000, ..Call::new("com.bank.balance", body) };
    let (status, headers, _) = fixture.call(stale).await;
    assert_eq!(result(&headers), 7003);
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let once = fixture.signed_headers(
        &Call { nonce: Some("only-once".into()), ..Call::new("com.bank.balance", body) },
        &fixture.secret,
    );
    assert_eq!(result(&fixture.send(once.clone(), body).await.1), 1000);
    assert_eq!(result(&fixture.send(once, body).await.1), 7015, "a replayed nonce is refused");

    let mut unknown_app = fixture.signed_headers(&Call::new("com.bank.balance", body), &fixture.secret);
    for (name, value) in unknown_app.iter_mut() {
        if *name == "WorkspaceId" {
            *value = "0000000000000000".into();
        }
    }
    assert_eq!(result(&fixture.send(unknown_app, body).await.1), 7000);
    assert_eq!(fixture.seen.lock().unwrap().len(), 1, "only the one good call reached the backend");
}

#[tokio::test]
async fn routing_and_body_failures_have_their_codes() {
    let fixture = fixture().await;
    let (status, headers, _) = fixture.call(Call::new("com.bank.nothing", "{}")).await;
    assert_eq!((result(&headers), status), (3000, StatusCode::NOT_FOUND));
    assert_eq!(result(&fixture.call(Call::new("com.bank.balance", "")).await.1), 3001);
    assert_eq!(result(&fixture.call(Call::new("com.bank.balance", "{not json")).await.1), 3002);
    assert_eq!(result(&fixture.call(Call::new("com.bank.balance", "{}")).await.1), 3002, "path parameter missing");

    fixture.server.admin().set_api_open(&fixture.workspace, "com.bank.balance", false).await.unwrap();
    assert_eq!(result(&fixture.call(Call::new("com.bank.balance", r#"{"accountId": "1"}"#)).await.1), 3000, "closed");
    fixture.server.admin().set_api_open(&fixture.workspace, "com.bank.balance", true).await.unwrap();
    assert_eq!(
        result(&fixture.call(Call::new("com.bank.balance", r#"{"accountId": "1"}"#)).await.1),
        1000,
        "open again"
    );

    // Only the headers are sent: the gateway refuses on the declared length, before any body.
    let answer = headers_only_post(&fixture.server.base_url, 2 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("result-status: 3004"), "{answer}");
}

#[tokio::test]
async fn backend_failures_have_their_codes() {
    let fixture = fixture().await;
    let (status, headers, _) = fixture.call(Call::new("com.bank.slow", "{}")).await;
    assert_eq!((result(&headers), status), (4001, StatusCode::GATEWAY_TIMEOUT));
    let (status, headers, _) = fixture.call(Call::new("com.bank.broken", "{}")).await;
    assert_eq!((result(&headers), status), (4002, StatusCode::BAD_GATEWAY));
    let (_, headers, _) = fixture.call(Call::new("com.bank.gone", "{}")).await;
    assert_eq!(result(&headers), 4003);
}

#[tokio::test]
async fn rate_limits_answer_1002() {
    let fixture = fixture().await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(result(&fixture.call(Call::new("com.bank.limited", "{}")).await.1));
    }
    assert_eq!(&codes[..2], &[1000, 1000]);
    assert!(codes[2..].contains(&1002), "{codes:?}");
}

#[tokio::test]
async fn declared_parameters_are_checked_before_the_backend() {
    let fixture = fixture().await;
    let mut transfer = api("com.bank.transfer", "core", "/transfer/{from}");
    transfer.parameters = Some(json!([
        { "name": "from", "type": "string", "required": true },
        { "name": "amount", "type": "number", "required": true },
        { "name": "memo", "type": "string" }
    ]));
    fixture.server.admin().create_api(&fixture.workspace, &transfer).await.unwrap();
    let calls_before = fixture.seen.lock().unwrap().len();
    let (_, headers, _) = fixture.call(Call::new("com.bank.transfer", r#"{"from": "A"}"#)).await;
    assert_eq!(result(&headers), 3002);
    assert!(headers["memo"].to_str().unwrap().contains("amount"), "{headers:?}");
    let (_, headers, _) = fixture.call(Call::new("com.bank.transfer", r#"{"from": "A", "amount": "ten"}"#)).await;
    assert_eq!(result(&headers), 3002);
    assert_eq!(fixture.seen.lock().unwrap().len(), calls_before, "refused before the backend");
    let (_, headers, _) =
        fixture.call(Call::new("com.bank.transfer", r#"{"from": "A", "amount": 10, "extra": true}"#)).await;
    assert_eq!(result(&headers), 1000);
    let shown = fixture.server.admin().show_api(&fixture.workspace, "com.bank.transfer").await.unwrap();
    assert_eq!(shown.parameters.unwrap()[1]["name"], "amount");

    let mut bad = api("com.bank.bad", "core", "/x/{id}");
    bad.parameters = Some(json!([{ "name": "id", "type": "object" }]));
    assert_eq!(
        fixture.server.admin().create_api(&fixture.workspace, &bad).await.unwrap_err().code(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn rate_limited_callers_get_the_configured_response() {
    let fixture = fixture().await;
    let limited = policy_api(
        "com.bank.busy",
        "core",
        "/busy",
        json!({ "rate_limited_response": { "status": 503, "body": "{\"retry_in_seconds\":1}" } }),
    );
    let limited = CreateApiRequest { rate_limit_per_second: Some(1), ..limited };
    fixture.server.admin().create_api(&fixture.workspace, &limited).await.unwrap();
    assert_eq!(result(&fixture.call(Call::new("com.bank.busy", "{}")).await.1), 1000);
    let (status, headers, body) = fixture.call(Call::new("com.bank.busy", "{}")).await;
    assert_eq!(result(&headers), 1002);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(String::from_utf8(body).unwrap(), r#"{"retry_in_seconds":1}"#);
}

#[tokio::test]
async fn unsigned_apis_and_rotated_keys() {
    let fixture = fixture().await;
    let (_, headers, _) = fixture
        .send(
            vec![
                ("Operation-Type", "com.bank.public".into()),
                ("AppId", fixture.app_id.clone()),
                ("WorkspaceId", fixture.workspace.clone()),
            ],
            "{}",
        )
        .await;
    assert_eq!(result(&headers), 1000, "need_sign off: no signature needed");

    // Warm the key cache with the current key, then rotate: the new key works at once and the
    // old one keeps working during its grace period.
    let body = r#"{"accountId":"1"}"#;
    let warm = fixture.signed_headers(&Call::new("com.bank.balance", body), &fixture.secret);
    assert_eq!(result(&fixture.send(warm, body).await.1), 1000);
    let rotated = fixture
        .server
        .admin()
        .rotate_key(&fixture.app_id, &RotateKeyRequest { grace_seconds: Some(3600) })
        .await
        .unwrap();
    let new_key = fixture.signed_headers(&Call::new("com.bank.balance", body), &rotated.secret);
    assert_eq!(result(&fixture.send(new_key, body).await.1), 1000, "the new key is accepted at once");
    let old_key = fixture.signed_headers(&Call::new("com.bank.balance", body), &fixture.secret);
    assert_eq!(result(&fixture.send(old_key, body).await.1), 1000, "the old key works during its grace period");
}

#[tokio::test]
async fn first_contact_issues_a_device_id_and_built_ins_answer() {
    let fixture = fixture().await;
    fixture
        .server
        .admin()
        .set_switch(&fixture.workspace, &json!({ "key": "greeting", "type": "string", "default_value": "hi" }))
        .await
        .unwrap();
    fixture.server.admin().publish_config(&fixture.workspace, "").await.unwrap();
    let call = Call { device_id: None, ..Call::new("midship.config.pull", "{}") };
    let (_, headers, body) = fixture.call(call).await;
    assert_eq!(result(&headers), 1000, "{}", String::from_utf8_lossy(&body));
    let utdid = headers["device-id"].to_str().unwrap();
    assert_eq!(utdid.len(), 16, "a utdid is issued at first contact");
    let pulled: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(pulled["values"]["greeting"], "hi");

    let (_, headers, _) = fixture.call(Call::new("midship.unknown.thing", "{}")).await;
    assert_eq!(result(&headers), 3000);
    let unsigned = vec![
        ("Operation-Type", "midship.config.pull".to_owned()),
        ("AppId", fixture.app_id.clone()),
        ("WorkspaceId", fixture.workspace.clone()),
    ];
    assert_eq!(result(&fixture.send(unsigned, "{}").await.1), 7014, "built-in services are signed too");
}

#[tokio::test]
async fn midship_time_tells_the_server_clock_whatever_the_body() {
    let fixture = fixture().await;
    let before = fixture.server.state.control.now_ms();
    let (_, headers, body) = fixture.call(Call::new("midship.time", "not even JSON")).await;
    assert_eq!(result(&headers), 1000, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let now_ms = answer["now_ms"].as_i64().unwrap();
    assert!(now_ms >= before && now_ms <= fixture.server.state.control.now_ms(), "{answer}");
}

#[tokio::test]
async fn the_gateway_speaks_http2_and_counts_calls() {
    let fixture = fixture().await;
    let http2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let call = Call::new("com.bank.balance", r#"{"accountId": "h2"}"#);
    let mut request = http2.post(fixture.server.url("/mgw.htm")).body(call.body.to_owned());
    for (name, value) in fixture.signed_headers(&call, &fixture.secret) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["result-status"], "1000");
    fixture.call(Call::new("com.no.such", "{}")).await;
    let metrics = fixture.server.http.get(fixture.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"midship_gateway_calls_total{operation_type="com.bank.balance",result="1000"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"midship_gateway_calls_total{operation_type="unknown",result="3000"} 1"#),
        "unknown operation types do not become labels"
    );
}

#[tokio::test]
async fn the_sdk_signs_calls_keeps_the_issued_device_id_and_surfaces_the_trace_id() {
    use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};

    let fixture = fixture().await;
    let mut settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    settings.retry_backoff = Duration::from_millis(5);
    let identity =
        DeviceIdentity { platform: Some("ios".into()), user_id: Some("alice".into()), ..DeviceIdentity::default() };
    let client = RpcClient::new(settings, identity).unwrap();

    let reply = client.rpc("com.bank.balance", &json!({ "accountId": "sdk" })).await.unwrap();
    assert!(reply.is_success(), "{reply:?}");
    assert_eq!(reply.json().unwrap()["balance"], 42);
    assert_eq!(reply.trace_id.len(), 16);
    let issued = client.device_id().expect("the gateway issued a utdid at first contact");
    client.rpc("com.bank.balance", &json!({ "accountId": "again" })).await.unwrap();
    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.headers["x-midship-device-id"], issued.as_str(), "the SDK sends the issued id from then on");
    assert_eq!(client.device_id(), Some(issued));

    let mut national = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    national.sign_type = midship_signing::client::SignType::HmacSm3;
    let national = RpcClient::new(national, DeviceIdentity::default()).unwrap();
    assert!(
        national.rpc("com.bank.balance", &json!({ "accountId": "sm3" })).await.unwrap().is_success(),
        "HMAC-SM3 signatures"
    );

    let unreachable = client.rpc("com.bank.gone", &json!({})).await.unwrap();
    assert_eq!(unreachable.result, 4003, "retried, then reported");
    let timeout = client.rpc("com.bank.slow", &json!({})).await.unwrap();
    assert_eq!(timeout.result, 4001, "a timeout may have run on the backend: not retried");
}

#[tokio::test]
async fn encrypted_bodies_are_opened_for_the_backend_and_sealed_back() {
    use midship_sdk::rpc::{DeviceIdentity, Encryption, RpcClient, RpcSettings};
    use midship_signing::envelope::Suite;

    let fixture = fixture().await;
    let admin = fixture.server.admin();
    admin
        .create_api(
            &fixture.workspace,
            &CreateApiRequest { need_encrypt: Some(true), ..api("com.bank.secret", "core", "/secret") },
        )
        .await
        .unwrap();
    let keys = admin.gateway_keys(&fixture.workspace).await.unwrap().items;
    assert_eq!(keys.iter().map(|key| key.suite.as_str()).collect::<Vec<_>>(), vec!["p256-aes256gcm", "sm2-sm4gcm"]);
    assert_eq!(admin.gateway_keys(&fixture.workspace).await.unwrap().items, keys, "keys are stable");

    let plain = fixture.call(Call::new("com.bank.secret", r#"{"pin": "1234"}"#)).await;
    assert_eq!(result(&plain.1), 3003, "a need_encrypt api refuses plaintext");

    for key in &keys {
        let suite = Suite::parse(&key.suite).unwrap();
        let mut settings =
            RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
        settings.encryption = Some(Encryption { suite, gateway_public_key: key.public_key.clone() });
        let client = RpcClient::new(settings, DeviceIdentity::default()).unwrap();
        let reply = client.rpc("com.bank.secret", &json!({ "pin": "1234" })).await.unwrap();
        assert!(reply.is_success(), "{}: {reply:?}", key.suite);
        assert_eq!(reply.json().unwrap()["balance"], 42, "the SDK opened the sealed answer");
        let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&seen.body).unwrap(),
            json!({ "pin": "1234" }),
            "the backend got plaintext"
        );
    }

    // Correctly signed, but not a sealed body for this gateway: 3003.
    let garbage = "not sealed at all, but signed";
    let mut headers = fixture.signed_headers(&Call::new("com.bank.secret", garbage), &fixture.secret);
    headers.push(("Encrypt-Suite", "p256-aes256gcm".into()));
    headers.push(("Encrypt-Key", keys[0].public_key.clone()));
    assert_eq!(result(&fixture.send(headers, garbage).await.1), 3003);
    let mut headers = fixture.signed_headers(&Call::new("com.bank.secret", garbage), &fixture.secret);
    headers.push(("Encrypt-Suite", "rot13".into()));
    headers.push(("Encrypt-Key", keys[0].public_key.clone()));
    assert_eq!(result(&fixture.send(headers, garbage).await.1), 3003, "unknown suites are refused");
}

pub(crate) fn policy_api(operation_type: &str, group: &str, path: &str, policies: Value) -> CreateApiRequest {
    let mut request = api(operation_type, group, path);
    request.header_rules = policies.get("header_rules").cloned();
    request.mock = policies.get("mock").cloned();
    request.migration = policies.get("migration").cloned();
    request.circuit_breaker = policies.get("circuit_breaker").cloned();
    request.cache = policies.get("cache").cloned();
    request.authorizer = policies.get("authorizer").cloned();
    request.rate_limited_response = policies.get("rate_limited_response").cloned();
    request
}

#[tokio::test]
async fn browsers_of_the_configured_origins_may_call_and_read_the_result_headers() {
    let origin = "https://h5.bank.example";
    let settings = midship_server::ServerSettings { cors_origins: vec![origin.to_owned()], ..Default::default() };
    let server = TestServer::start_with(settings).await;

    let preflight = |from: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/mgw"))
            .header("origin", from)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "operation-type,appid,workspaceid,ts,nonce,sign,sign-type,device-id",
            )
            .send()
    };
    let allowed = preflight(origin).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers()["access-control-allow-origin"], origin);
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for name in midship_protocol::headers::REQUEST {
        assert!(allowed_headers.contains(&name.to_ascii_lowercase()), "{name} in {allowed_headers}");
    }
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{:?}", other.headers());

    // The call itself (refused here: no such app) lets the page read Result-Status and Memo.
    let answer = server
        .http
        .post(server.url("/mgw"))
        .header("origin", origin)
        .header("operation-type", "com.bank.balance")
        .header("appid", "nope")
        .header("workspaceid", "nope")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], origin);
    let exposed = answer.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for name in midship_protocol::headers::RESPONSE.into_iter().chain(["Date"]) {
        assert!(exposed.contains(&name.to_ascii_lowercase()), "{name} in {exposed}");
    }
    assert!(answer.headers().contains_key("date"), "the clock a device corrects its Ts from");
    assert!(answer.headers().contains_key("result-status"));

    // Without configured origins, nothing is allowed.
    let closed = TestServer::start().await;
    let refused = closed
        .http
        .request(reqwest::Method::OPTIONS, closed.url("/mgw"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}
