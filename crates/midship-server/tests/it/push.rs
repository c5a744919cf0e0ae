//! Push end to end: devices on `/ws` with the SDK's push client, backends through the admin API,
//! and APNs and FCM channels against local HTTP/2 + TLS servers that check the real protocols.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use midship_api::{PushAudience, PushMessageBody, PushRequest, PushRevokeRequest, PushStatsRowView, PushTarget};
use midship_protocol::Codec;
use midship_sdk::push::{PushClient, PushEvent, PushNotification};
use midship_sdk::sync::SyncClient;
use midship_server::tls::{TlsListener, load_tls_config};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::sync::{Fixture, fixture};

fn message(title: &str, content: &str) -> PushMessageBody {
    PushMessageBody { title: title.into(), content: content.into(), ..PushMessageBody::default() }
}

fn target(kind: &str, id: &str, msg_id: &str) -> PushTarget {
    PushTarget { kind: kind.into(), id: id.into(), msg_id: msg_id.into(), values: BTreeMap::new() }
}

fn simple(targets: Vec<PushTarget>, message: PushMessageBody) -> PushRequest {
    PushRequest { targets, message: Some(message), ..PushRequest::default() }
}

/// A device on the long connection with the push client, its notifications in a channel.
struct Device {
    sync: SyncClient,
    push: PushClient,
    received: mpsc::UnboundedReceiver<PushNotification>,
}

impl Device {
    async fn connect(fixture: &Fixture, device_id: &str, platform: &str) -> Self {
        let mut settings = fixture.settings(device_id, None, Codec::Json);
        settings.identity.platform = Some(platform.into());
        let sync = SyncClient::new(settings).unwrap();
        let push = PushClient::new(sync.clone());
        let (sender, received) = mpsc::unbounded_channel();
        push.on_notification(move |notification| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(notification);
            }
        });
        crate::sync::start_connected(&sync).await;
        Self { sync, push, received }
    }

    async fn next(&mut self) -> PushNotification {
        tokio::time::timeout(Duration::from_secs(10), self.received.recv()).await.expect("a push in time").unwrap()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.sync.stop();
    }
}

/// Waits until the task's totals satisfy `done` (the dispatcher and device reports run on their own).
async fn stats_when(fixture: &Fixture, task_id: &str, done: impl Fn(&PushStatsRowView) -> bool) -> PushStatsRowView {
    let admin = fixture.server.admin();
    let read = || async { admin.push_task_stats(&fixture.workspace, task_id).await.unwrap().total };
    midship_testkit::eventually("the task's statistics", read, done).await
}

#[tokio::test]
async fn a_push_to_a_bound_user_arrives_over_the_long_connection_and_its_open_is_counted() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let mut phone = Device::connect(&fixture, "phone-1", "android").await;
    assert_eq!(phone.push.bind("alice").await.unwrap()["bound"], "alice");

    let mut parcel = message("Parcel", "Your parcel is at the locker");
    parcel.uri = Some("app://parcels/42".into());
    parcel.ext.insert("locker".into(), "B7".into());
    let task = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("user", "alice", "biz-1")], parcel))
        .await
        .unwrap();
    assert_eq!((task.kind.as_str(), task.targets), ("simple", 1));

    let PushNotification::Message(arrived) = phone.next().await else { panic!("a message") };
    assert_eq!((arrived.task_id.as_str(), arrived.msg_id.as_str()), (task.task_id.as_str(), "biz-1"));
    assert_eq!(arrived.content, "Your parcel is at the locker");
    assert_eq!(arrived.uri.as_deref(), Some("app://parcels/42"));
    assert_eq!(arrived.ext["locker"], "B7");

    phone.push.report(&task.task_id, PushEvent::Opened).await.unwrap();
    let total = stats_when(&fixture, &task.task_id, |total| total.delivered == 1 && total.opened == 1).await;
    assert_eq!((total.targets, total.sent, total.failed, total.ignored), (1, 1, 0, 0));
    let stats = admin.push_task_stats(&fixture.workspace, &task.task_id).await.unwrap();
    assert_eq!((stats.rows[0].channel.as_str(), stats.rows[0].platform.as_str()), ("own", "android"));
    let metrics = fixture.server.http.get(fixture.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("midship_push_deliveries_total{channel=\"own\",outcome=\"sent\"} 1"), "{metrics}");

    // The range statistics see the same task; an unbound user is reached no more.
    let now = now_ms();
    let ranged = admin.push_range_stats(&fixture.workspace, now - 60_000, now + 60_000).await.unwrap();
    assert_eq!(ranged.total.opened, 1);
    phone.push.unbind().await.unwrap();
    let after = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("user", "alice", "biz-2")], message("a", "b")))
        .await
        .unwrap();
    assert_eq!(after.targets, 0);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn template_pushes_fill_placeholders_and_refuse_unknown_ones() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let mut template = message("Hello ${name}", "Parcel ${code} is at ${place}");
    template.uri = Some("app://parcels/${code}".into());
    admin.put_push_template(&fixture.workspace, "parcel", &template).await.unwrap();
    assert_eq!(admin.push_templates(&fixture.workspace).await.unwrap().items[0].name, "parcel");
    let mut phone = Device::connect(&fixture, "phone-2", "ios").await;

    let values = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    };
    let request = PushRequest {
        targets: vec![target("device", "phone-2", "t-1")],
        template: Some("parcel".into()),
        values: values(&[("name", "Ana"), ("code", "X9"), ("place", "locker B7")]),
        ..PushRequest::default()
    };
    let task = admin.push_send(&fixture.workspace, "template", &request).await.unwrap();
    let PushNotification::Message(arrived) = phone.next().await else { panic!("a message") };
    assert_eq!(arrived.task_id, task.task_id);
    assert_eq!(arrived.title, "Hello Ana");
    assert_eq!(arrived.content, "Parcel X9 is at locker B7");
    assert_eq!(arrived.uri.as_deref(), Some("app://parcels/X9"));

    // Multiple: each target its own values.
    let mut other = Device::connect(&fixture, "phone-3", "android").await;
    let mut first = target("device", "phone-2", "m-1");
    first.values = values(&[("name", "Ana"), ("code", "A1"), ("place", "desk")]);
    let mut second = target("device", "phone-3", "m-2");
    second.values = values(&[("name", "Ben"), ("code", "B2"), ("place", "door")]);
    let multiple =
        PushRequest { targets: vec![first, second], template: Some("parcel".into()), ..PushRequest::default() };
    admin.push_send(&fixture.workspace, "multiple", &multiple).await.unwrap();
    let PushNotification::Message(to_ana) = phone.next().await else { panic!("a message") };
    let PushNotification::Message(to_ben) = other.next().await else { panic!("a message") };
    assert_eq!((to_ana.title.as_str(), to_ana.msg_id.as_str()), ("Hello Ana", "m-1"));
    assert_eq!((to_ben.content.as_str(), to_ben.msg_id.as_str()), ("Parcel B2 is at door", "m-2"));

    // Bad input is refused before anything is stored.
    let tasks_before = admin.push_tasks(&fixture.workspace, 100).await.unwrap().items.len();
    let mut misspelt = request.clone();
    misspelt.values.insert("nmae".into(), "x".into());
    let error = admin.push_send(&fixture.workspace, "template", &misspelt).await.unwrap_err().to_string();
    assert!(error.contains("no placeholder `nmae`"), "{error}");
    let mut missing = request.clone();
    missing.values.remove("place");
    assert!(admin.push_send(&fixture.workspace, "template", &missing).await.unwrap_err().to_string().contains("place"));
    let mut unknown = request.clone();
    unknown.template = Some("nope".into());
    assert!(
        admin.push_send(&fixture.workspace, "template", &unknown).await.unwrap_err().to_string().contains("not_found")
    );
    let eleven = (0..11).map(|index| target("device", &format!("d{index}"), "x")).collect();
    let error = admin.push_send(&fixture.workspace, "simple", &simple(eleven, message("a", "b"))).await.unwrap_err();
    assert!(error.to_string().contains("1 to 10 targets"), "{error}");
    let huge = simple(vec![target("device", "phone-2", "x")], message("big", &"x".repeat(5000)));
    assert!(
        admin
            .push_send(&fixture.workspace, "simple", &huge)
            .await
            .unwrap_err()
            .to_string()
            .contains("payload_too_large")
    );
    let broadcast_with_targets =
        PushRequest { msg_id: Some("b".into()), ..simple(vec![target("device", "x", "y")], message("a", "b")) };
    assert!(admin.push_send(&fixture.workspace, "broadcast", &broadcast_with_targets).await.is_err());
    assert_eq!(admin.push_tasks(&fixture.workspace, 100).await.unwrap().items.len(), tasks_before);
}

#[tokio::test]
async fn revoking_removes_an_undelivered_message_and_takes_down_a_delivered_one() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    // Offline: the message waits in the device's stream.
    let waiting = admin
        .push_send(
            &fixture.workspace,
            "simple",
            &simple(vec![target("device", "tablet", "w-1")], message("Sale", "ends today")),
        )
        .await
        .unwrap();
    stats_when(&fixture, &waiting.task_id, |total| total.sent == 1).await;
    let revoke = PushRevokeRequest { task_id: Some(waiting.task_id.clone()), ..PushRevokeRequest::default() };
    let outcome = admin.push_revoke(&fixture.workspace, &revoke).await.unwrap();
    assert_eq!((outcome.revoked, outcome.removed_undelivered), (1, 1));

    let later = admin
        .push_send(
            &fixture.workspace,
            "simple",
            &simple(vec![target("device", "tablet", "w-2")], message("News", "hello")),
        )
        .await
        .unwrap();
    stats_when(&fixture, &later.task_id, |total| total.sent == 1).await;
    let mut tablet = Device::connect(&fixture, "tablet", "android").await;
    let PushNotification::Message(first) = tablet.next().await else { panic!("a message") };
    assert_eq!(first.task_id, later.task_id, "the revoked message never arrives");

    // Delivered already: the device is told to take the notification down.
    stats_when(&fixture, &later.task_id, |total| total.delivered == 1).await;
    // By the sender's msg_id and the target, as a backend that kept only its own ids would.
    let revoke = PushRevokeRequest {
        msg_id: Some("w-2".into()),
        target_kind: Some("device".into()),
        target_id: Some("tablet".into()),
        ..PushRevokeRequest::default()
    };
    let outcome = admin.push_revoke(&fixture.workspace, &revoke).await.unwrap();
    assert_eq!((outcome.revoked, outcome.removed_undelivered), (1, 0));
    assert_eq!(tablet.next().await, PushNotification::Revoke { task_id: later.task_id.clone() });
    let total = stats_when(&fixture, &later.task_id, |total| total.revoked == 1).await;
    assert_eq!(total.delivered, 1);
    let unknown = PushRevokeRequest { task_id: Some("nope".into()), ..PushRevokeRequest::default() };
    assert!(admin.push_revoke(&fixture.workspace, &unknown).await.unwrap_err().to_string().contains("not_found"));
}

#[tokio::test]
async fn a_broadcast_reaches_bound_devices_of_a_platform_once() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let mut bound = Device::connect(&fixture, "b-1", "android").await;
    bound.push.bind("carol").await.unwrap();
    let mut unbound = Device::connect(&fixture, "b-2", "android").await;
    unbound.push.report_token(None, None).await.unwrap();
    let ios = Device::connect(&fixture, "b-3", "ios").await;
    ios.push.bind("dave").await.unwrap();

    let request = PushRequest {
        message: Some(message("Service notice", "Maintenance tonight")),
        msg_id: Some("notice-1".into()),
        audience: Some(PushAudience {
            platform: Some("android".into()),
            devices: Some("bound".into()),
            bound_within_days: Some(7),
        }),
        ..PushRequest::default()
    };
    let task = admin.push_send(&fixture.workspace, "broadcast", &request).await.unwrap();
    assert_eq!(task.targets, 1);
    let PushNotification::Message(arrived) = bound.next().await else { panic!("a message") };
    assert_eq!(arrived.msg_id, "notice-1");

    let everyone = PushRequest { audience: Some(PushAudience::default()), msg_id: Some("notice-2".into()), ..request };
    let task = admin.push_send(&fixture.workspace, "broadcast", &everyone).await.unwrap();
    assert_eq!(task.targets, 3);
    let PushNotification::Message(arrived) = unbound.next().await else { panic!("a message") };
    assert_eq!(arrived.msg_id, "notice-2");
    let PushNotification::Message(arrived) = bound.next().await else { panic!("a message") };
    assert_eq!(arrived.msg_id, "notice-2", "each device once per broadcast");
}

#[tokio::test]
async fn scheduled_pushes_wait_and_cancelled_ones_never_run() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let mut request = simple(vec![target("device", "watch", "s-1")], message("Later", "soon"));
    request.schedule = Some(midship_api::PushSchedule { at: i64::MAX / 2, repeat: None, until: None });
    let error = admin.push_send(&fixture.workspace, "simple", &request).await.unwrap_err();
    assert!(error.to_string().contains("within a year"), "{error}");
    let now = now_ms();
    request.schedule =
        Some(midship_api::PushSchedule { at: now + 3_600_000, repeat: Some("daily".into()), until: None });
    let task = admin.push_send(&fixture.workspace, "simple", &request).await.unwrap();
    assert_eq!((task.status.as_str(), task.runs, task.targets), ("scheduled", 0, 0));
    assert!(task.next_run_at.is_some());
    let cancelled = admin.push_cancel(&fixture.workspace, &task.task_id).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    let again = admin.push_cancel(&fixture.workspace, &task.task_id).await.unwrap_err();
    assert!(again.to_string().contains("conflict"), "{again}");
}

// ---- provider protocol servers ------------------------------------------------------------------

/// A local HTTPS server (HTTP/2 by ALPN) with a fresh self-signed certificate; answers the
/// router's base URL and the certificate to trust.
async fn https_server(router: axum::Router) -> (String, String, tempfile::TempDir) {
    let directory = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate_path = directory.path().join("cert.pem");
    let key_path = directory.path().join("key.pem");
    std::fs::write(&certificate_path, generated.cert.pem()).unwrap();
    std::fs::write(&key_path, generated.key_pair.serialize_pem()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = TlsListener::new(listener, load_tls_config(&certificate_path, &key_path).unwrap()).unwrap();
    tokio::spawn(async move { axum::serve(tls, router).await });
    (format!("https://localhost:{port}"), generated.cert.pem(), directory)
}

fn decode_segment(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).expect("base64url")
}

#[derive(Default)]
struct Recorded {
    requests: Vec<(HeaderMap, Version, String, Value)>,
}

#[derive(Clone)]
struct ApnsServer {
    recorded: Arc<Mutex<Recorded>>,
    key: p256::ecdsa::VerifyingKey,
}

async fn apns_handler(
    State(server): State<ApnsServer>,
    Path(device_token): Path<String>,
    version: Version,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    use p256::ecdsa::signature::Verifier;
    let authorization = headers["authorization"].to_str().unwrap().to_owned();
    let jwt = authorization.strip_prefix("bearer ").expect("bearer provider token");
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&decode_segment(parts[0])).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&decode_segment(parts[2])).expect("raw r||s");
    let signed = format!("{}.{}", parts[0], parts[1]);
    if header["alg"] != "ES256"
        || header["kid"] != "KEY123"
        || server.key.verify(signed.as_bytes(), &signature).is_err()
    {
        return (StatusCode::FORBIDDEN, Json(json!({ "reason": "InvalidProviderToken" }))).into_response();
    }
    server.recorded.lock().unwrap().requests.push((headers, version, device_token.clone(), body));
    match device_token.as_str() {
        "apns-gone" => (StatusCode::GONE, Json(json!({ "reason": "Unregistered", "timestamp": 1 }))).into_response(),
        _ => StatusCode::OK.into_response(),
    }
}

#[tokio::test]
async fn apns_gets_http2_requests_with_a_valid_provider_token_and_retires_unregistered_tokens() {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let server = ApnsServer { recorded: Arc::default(), key: *key.verifying_key() };
    let router =
        axum::Router::new().route("/3/device/{token}", axum::routing::post(apns_handler)).with_state(server.clone());
    let (endpoint, certificate, _directory) = https_server(router).await;
    let p8 = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();

    let broken = json!({ "kind": "apns", "team_id": "TEAM", "key_id": "K", "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----", "topic": "t" });
    let error = admin.put_push_channel(&fixture.workspace, "apns", &broken).await.unwrap_err().to_string();
    assert!(error.contains("private_key"), "{error}");
    let definition = json!({
        "kind": "apns", "team_id": "TEAM42", "key_id": "KEY123", "private_key": p8, "topic": "com.example.bank",
        "endpoint": endpoint, "ca_certificate": certificate, "limits": { "backoff_ms": 10 },
    });
    let shown = admin.put_push_channel(&fixture.workspace, "apns", &definition).await.unwrap();
    assert_eq!(shown["private_key"], "(redacted)");

    let good = Device::connect(&fixture, "iphone-1", "ios").await;
    good.push.report_token(Some("apns"), Some("apns-good")).await.unwrap();
    let gone = Device::connect(&fixture, "iphone-2", "ios").await;
    gone.push.report_token(Some("apns"), Some("apns-gone")).await.unwrap();

    let mut alert = message("Transfer received", "€120 from Ana");
    alert.expiry_seconds = Some(600);
    let task = admin
        .push_send(
            &fixture.workspace,
            "simple",
            &simple(vec![target("device", "iphone-1", "tx-1"), target("device", "iphone-2", "tx-2")], alert),
        )
        .await
        .unwrap();
    let total = stats_when(&fixture, &task.task_id, |total| total.sent + total.failed == 2).await;
    assert_eq!((total.sent, total.failed), (1, 1));
    let deliveries = admin.push_deliveries(&fixture.workspace, &task.task_id, "", 10).await.unwrap();
    let gone_delivery = deliveries.items.iter().find(|delivery| delivery.device_id == "iphone-2").unwrap();
    assert_eq!(gone_delivery.channel, "apns");
    assert_eq!(gone_delivery.error.as_deref(), Some("apns: 410 Unregistered"));
    assert!(deliveries.items.iter().any(|delivery| delivery.device_id == "iphone-1" && delivery.sent_at.is_some()));

    {
        let recorded = server.recorded.lock().unwrap();
        let (headers, version, token, body) = recorded
            .requests
            .iter()
            .find(|(_, _, token, _)| token == "apns-good")
            .expect("a request for the good token");
        assert_eq!(*version, Version::HTTP_2);
        assert_eq!(token, "apns-good");
        assert_eq!(headers["apns-topic"], "com.example.bank");
        assert_eq!(headers["apns-push-type"], "alert");
        assert_eq!(headers["apns-priority"], "10");
        assert_eq!(headers["apns-collapse-id"], "tx-1");
        let expiration: i64 = headers["apns-expiration"].to_str().unwrap().parse().unwrap();
        assert!(expiration > 1_700_000_000, "seconds since the epoch");
        assert_eq!(body["aps"]["alert"]["title"], "Transfer received");
        assert_eq!(body["aps"]["alert"]["body"], "€120 from Ana");
        assert_eq!(body["midship"]["task_id"], task.task_id);
        let jwt = headers["authorization"].to_str().unwrap().strip_prefix("bearer ").unwrap().to_owned();
        let claims: Value = serde_json::from_slice(&decode_segment(jwt.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["iss"], "TEAM42");
        assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
    }

    // The 410 retired the token: the next push to that device goes over the own channel.
    let next = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("device", "iphone-2", "tx-3")], message("a", "b")))
        .await
        .unwrap();
    let total = stats_when(&fixture, &next.task_id, |total| total.sent == 1).await;
    assert_eq!(total.failed, 0);
    let stats = admin.push_task_stats(&fixture.workspace, &next.task_id).await.unwrap();
    assert_eq!(stats.rows[0].channel, "own");
    // A silent push is a background push with low priority.
    let mut silent = message("", "");
    silent.silent = true;
    let quiet = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("device", "iphone-1", "q-1")], silent))
        .await
        .unwrap();
    stats_when(&fixture, &quiet.task_id, |total| total.sent == 1).await;
    let recorded = server.recorded.lock().unwrap();
    let (headers, _, _, body) = recorded.requests.last().unwrap();
    assert_eq!(
        (headers["apns-push-type"].to_str().unwrap(), headers["apns-priority"].to_str().unwrap()),
        ("background", "5")
    );
    assert_eq!(body["aps"]["content-available"], 1);
}

#[derive(Clone)]
struct FcmServer {
    key: rsa::RsaPublicKey,
    /// Known once the server listens.
    token_uri: Arc<Mutex<String>>,
    token_requests: Arc<Mutex<u32>>,
    messages: Arc<Mutex<Vec<Value>>>,
    busy_once: Arc<Mutex<bool>>,
}

async fn fcm_token(State(server): State<FcmServer>, body: String) -> Response {
    use rsa::signature::Verifier;
    let form: BTreeMap<&str, &str> = body.split('&').filter_map(|pair| pair.split_once('=')).collect();
    if form.get("grant_type") != Some(&"urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "unsupported_grant_type" }))).into_response();
    }
    let assertion = form["assertion"];
    let parts: Vec<&str> = assertion.split('.').collect();
    let header: Value = serde_json::from_slice(&decode_segment(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&decode_segment(parts[1])).unwrap();
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(server.key.clone());
    let signature = rsa::pkcs1v15::Signature::try_from(decode_segment(parts[2]).as_slice()).unwrap();
    let valid = header["alg"] == "RS256"
        && claims["iss"] == "push@bank.iam.gserviceaccount.com"
        && claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
        && claims["aud"] == *server.token_uri.lock().unwrap()
        && claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 3600
        && verifier.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).is_ok();
    if !valid {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    *server.token_requests.lock().unwrap() += 1;
    Json(json!({ "access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer" })).into_response()
}

async fn fcm_send(
    State(server): State<FcmServer>,
    Path(project): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers["authorization"] != "Bearer ya29.test-token" {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": { "status": "UNAUTHENTICATED" } }))).into_response();
    }
    assert_eq!(project, "bank-app");
    let token = body["message"]["token"].as_str().unwrap_or_default().to_owned();
    if token == "fcm-busy" {
        let mut busy = server.busy_once.lock().unwrap();
        if !*busy {
            *busy = true;
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": { "status": "UNAVAILABLE" } })))
                .into_response();
        }
    }
    server.messages.lock().unwrap().push(body);
    if token == "fcm-gone" {
        let error = json!({ "error": { "code": 404, "status": "NOT_FOUND", "details": [
            { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED" } ] } });
        return (StatusCode::NOT_FOUND, Json(error)).into_response();
    }
    Json(json!({ "name": "projects/bank-app/messages/1" })).into_response()
}

#[tokio::test]
async fn fcm_exchanges_a_service_account_jwt_once_and_sends_v1_messages() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let private_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let state = FcmServer {
        key: private_key.to_public_key(),
        token_uri: Arc::default(),
        token_requests: Arc::default(),
        messages: Arc::default(),
        busy_once: Arc::default(),
    };
    let router = axum::Router::new()
        .route("/token", axum::routing::post(fcm_token))
        .route("/v1/projects/{project}/messages:send", axum::routing::post(fcm_send))
        .with_state(state.clone());
    let (endpoint, certificate, _directory) = https_server(router).await;
    *state.token_uri.lock().unwrap() = format!("{endpoint}/token");

    let account = json!({
        "type": "service_account",
        "project_id": "bank-app",
        "client_email": "push@bank.iam.gserviceaccount.com",
        "private_key": private_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        "token_uri": format!("{endpoint}/token"),
    });
    let definition = json!({
        "kind": "fcm", "service_account": account, "endpoint": endpoint, "ca_certificate": certificate,
        "limits": { "backoff_ms": 10 },
    });
    admin.put_push_channel(&fixture.workspace, "fcm", &definition).await.unwrap();
    // Credentials the provider refuses are refused when they are set, before anything is sent.
    let mut intruder = definition.clone();
    intruder["service_account"]["client_email"] = json!("intruder@elsewhere.iam.gserviceaccount.com");
    let refused = admin.put_push_channel(&fixture.workspace, "fcm-2", &intruder).await.unwrap_err().to_string();
    assert!(refused.contains("refused the credentials") && refused.contains("invalid_grant"), "{refused}");
    let malformed = json!({ "kind": "fcm", "service_account": { "project_id": "x" } });
    assert!(
        admin
            .put_push_channel(&fixture.workspace, "fcm", &malformed)
            .await
            .unwrap_err()
            .to_string()
            .contains("service_account")
    );

    for (device, token) in [("pixel-1", "fcm-good"), ("pixel-2", "fcm-gone"), ("pixel-3", "fcm-busy")] {
        let phone = Device::connect(&fixture, device, "android").await;
        phone.push.report_token(Some("fcm"), Some(token)).await.unwrap();
    }
    let mut offer = message("Offer", "New savings rate");
    offer.image_url = Some("https://cdn.example/offer.png".into());
    offer.style = Some("image".into());
    offer.ext.insert("screen".into(), "savings".into());
    let targets = vec![
        target("device", "pixel-1", "o-1"),
        target("device", "pixel-2", "o-2"),
        target("device", "pixel-3", "o-3"),
    ];
    let task = admin.push_send(&fixture.workspace, "simple", &simple(targets, offer)).await.unwrap();
    let total = stats_when(&fixture, &task.task_id, |total| total.sent + total.failed == 3).await;
    assert_eq!((total.sent, total.failed), (2, 1), "the busy one went through on a retry; the gone one failed");

    let messages = state.messages.lock().unwrap().clone();
    let good = messages.iter().find(|body| body["message"]["token"] == "fcm-good").unwrap();
    assert_eq!(good["message"]["notification"]["title"], "Offer");
    assert_eq!(good["message"]["notification"]["body"], "New savings rate");
    assert_eq!(good["message"]["notification"]["image"], "https://cdn.example/offer.png");
    assert_eq!(good["message"]["data"]["task_id"], task.task_id);
    assert_eq!(good["message"]["data"]["msg_id"], "o-1");
    assert_eq!(good["message"]["data"]["ext"], "{\"screen\":\"savings\"}");
    assert_eq!(good["message"]["android"]["priority"], "HIGH");
    assert!(good["message"]["android"]["ttl"].as_str().unwrap().ends_with('s'));

    // The access token is reused; the unregistered token is retired.
    let again = admin
        .push_send(
            &fixture.workspace,
            "simple",
            &simple(vec![target("device", "pixel-1", "o-4"), target("device", "pixel-2", "o-5")], message("a", "b")),
        )
        .await
        .unwrap();
    stats_when(&fixture, &again.task_id, |total| total.sent == 2).await;
    assert_eq!(*state.token_requests.lock().unwrap(), 1, "the token the settings check obtained serves every send");
    let stats = admin.push_task_stats(&fixture.workspace, &again.task_id).await.unwrap();
    let channels: Vec<&str> = stats.rows.iter().map(|row| row.channel.as_str()).collect();
    assert_eq!(channels, ["fcm", "own"]);
}

#[tokio::test]
async fn a_workspace_can_take_bindings_from_its_backend_only() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let settings = admin.put_push_settings(&fixture.workspace, &json!({ "device_binding": "backend" })).await.unwrap();
    assert_eq!(settings["device_binding"], "backend");
    let mut phone = Device::connect(&fixture, "phone-b", "android").await;
    phone.push.report_token(None, None).await.unwrap();
    // A device claiming someone else's user is refused.
    match phone.push.bind("mallory-wants-alice").await {
        Err(midship_sdk::push::PushClientError::Refused { result, memo }) => {
            assert_eq!(result, 1001, "{memo}");
        }
        other => panic!("a device bound itself: {other:?}"),
    }
    let unknown = admin.push_bind(&fixture.workspace, "never-reported", Some("alice")).await.unwrap_err();
    assert!(unknown.to_string().contains("not_found"), "{unknown}");
    admin.push_bind(&fixture.workspace, "phone-b", Some("alice")).await.unwrap();
    let task = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("user", "alice", "a-1")], message("Hi", "Alice")))
        .await
        .unwrap();
    assert_eq!(task.targets, 1);
    let PushNotification::Message(arrived) = phone.next().await else { panic!("a message") };
    assert_eq!(arrived.msg_id, "a-1");
    admin.push_bind(&fixture.workspace, "phone-b", None).await.unwrap();
    let after = admin
        .push_send(&fixture.workspace, "simple", &simple(vec![target("user", "alice", "a-2")], message("Hi", "again")))
        .await
        .unwrap();
    assert_eq!(after.targets, 0, "signed out");
    let odd = admin.put_push_settings(&fixture.workspace, &json!({ "device_binding": "anyone" })).await.unwrap_err();
    assert!(odd.to_string().contains("invalid_request"), "{odd}");
}
