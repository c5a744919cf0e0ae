//! Holes an outside tester found, each driven from outside as the tester did: connections that
//! hold the node's file handles, metrics that grow from outside, the app's secret acting as a
//! registered device, forged and replayed credentials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use midship_api::SyncTokenRequest;
use midship_protocol::frame::Hello;
use midship_protocol::{ClientFrame, Codec, ServerFrame, close};
use midship_sdk::rpc::{DeviceCredential, DeviceIdentity, RpcClient, RpcSettings};
use midship_sdk::sync::{Credentials, sign_hello};
use midship_server::{ConnectionLimits, ServerSettings};
use midship_signing::client::{SignType, SigningInput};
use midship_signing::connect_token::ConnectClaims;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::TestServer;

fn address_of(server: &TestServer) -> SocketAddr {
    server.base_url.trim_start_matches("http://").parse().unwrap()
}

/// A connection from another loopback address, as a second host would make.
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// What the server sends before it closes the connection, or `None` if it is still open after
/// `patience`.
async fn read_until_closed(stream: &mut TcpStream, patience: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let reading = async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    };
    tokio::time::timeout(patience, reading).await.ok().map(|()| received)
}

async fn fastest_health_check(server: &TestServer) -> Duration {
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let response = server.http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        fastest = fastest.min(started.elapsed());
    }
    fastest
}

#[tokio::test]
async fn one_host_cannot_hold_the_node() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections_per_address: 100,
        ..ConnectionLimits::default()
    };
    let server = TestServer::start_with(ServerSettings { connections: limits, ..ServerSettings::default() }).await;
    let address = address_of(&server);

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from("127.0.0.2", address).await);
    }
    let fastest = fastest_health_check(&server).await;
    assert!(fastest < Duration::from_millis(100), "/healthz took {fastest:?} beside 300 idle sockets");

    // Past the per-address cap, connections are told 503 and closed at once.
    let mut refused = 0;
    for stream in idle.iter_mut().skip(100) {
        let answer = read_until_closed(stream, Duration::from_millis(500)).await.expect("closed at once");
        assert!(answer.starts_with(b"HTTP/1.1 503"), "{}", String::from_utf8_lossy(&answer));
        refused += 1;
    }
    assert_eq!(refused, 200);
    // The admitted ones that never send a request are closed at the header timeout.
    for stream in idle.iter_mut().take(100) {
        assert!(read_until_closed(stream, Duration::from_secs(5)).await.is_some(), "an idle socket stayed open");
    }

    // Half-sent headers, and a body announced but never sent, are cut off too.
    let mut half_sent = connect_from("127.0.0.3", address).await;
    half_sent.write_all(b"GET /healthz HTTP/1.1\r\nHost: midship\r\n").await.unwrap();
    assert!(read_until_closed(&mut half_sent, Duration::from_secs(5)).await.is_some(), "half-sent headers held");
    let mut silent_body = connect_from("127.0.0.3", address).await;
    silent_body.write_all(b"POST /mgw HTTP/1.1\r\nHost: midship\r\nContent-Length: 1000\r\n\r\n{\"a\":").await.unwrap();
    assert!(read_until_closed(&mut silent_body, Duration::from_secs(5)).await.is_some(), "a stalled body held");

    // Once the holders are gone, the address is welcome again.
    drop(idle);
    let mut again = connect_from("127.0.0.2", address).await;
    again.write_all(b"GET /healthz HTTP/1.1\r\nHost: midship\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut again, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let server = TestServer::start().await;
    let send_with_method = async |method: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        server.http.request(method, server.url("/healthz")).send().await.unwrap();
    };
    send_with_method("FROB0").await;
    let metrics = || async { server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap() };
    // The first scrape puts /metrics itself among the series.
    metrics().await;
    let before = metrics().await;
    for index in 1..200 {
        send_with_method(&format!("FROB{index}")).await;
    }
    let after = metrics().await;
    assert!(!after.contains("FROB"), "a client's method became a label");
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(after.len() < before.len() + 200, "metrics grew from {} to {} bytes", before.len(), after.len());
}

/// An RPC client of the sync fixture's app, as an app with its secret would make one.
fn rpc_client(fixture: &crate::sync::Fixture, identity: DeviceIdentity) -> Arc<RpcClient> {
    let settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    RpcClient::new(settings, identity).unwrap()
}

fn device_hello(fixture: &crate::sync::Fixture, credential: &DeviceCredential, user: &str) -> Hello {
    let mut hello = Hello {
        app_id: fixture.app_id.clone(),
        workspace_id: fixture.workspace.clone(),
        device_id: Some(credential.device_id.clone()),
        user_id: Some(user.into()),
        foreground: true,
        ..Hello::default()
    };
    sign_hello(&mut hello, &credential.device_secret, SignType::DeviceHmacSha256);
    hello
}

#[tokio::test]
async fn the_app_secret_cannot_act_as_a_registered_device() {
    let fixture = crate::sync::fixture().await;
    let phone = rpc_client(&fixture, DeviceIdentity { platform: Some("ios".into()), ..DeviceIdentity::default() });
    let credential = phone.register().await.unwrap();
    assert_eq!(credential.device_secret.len(), 64);
    assert!(phone.rpc("midship.time", &json!({})).await.unwrap().is_success(), "device-signed calls work");
    let again = phone.register().await.unwrap_err();
    assert!(again.to_string().contains("3005"), "an id registers once: {again}");

    // The real device's connection, signed with its credential for its user.
    let captured = device_hello(&fixture, &credential, "alice");
    let mut real = fixture.raw(Some("midship.v1.json")).await;
    real.send(ClientFrame::Hello(Box::new(captured.clone()))).await;
    assert!(matches!(real.frame().await, ServerFrame::Welcome(_)));

    // Replayed as captured, or re-targeted at another user or device: refused.
    let mut replayed = fixture.raw(Some("midship.v1.json")).await;
    replayed.send(ClientFrame::Hello(Box::new(captured.clone()))).await;
    let (code, reason) = replayed.close().await;
    assert_eq!((code, reason.starts_with("7015")), (close::AUTHENTICATION_FAILED, true), "{reason}");
    for retargeted in [
        Hello { user_id: Some("vip-user".into()), nonce: Some("fresh-nonce-1".into()), ..captured.clone() },
        Hello { device_id: Some("SOMEONE-ELSE".into()), nonce: Some("fresh-nonce-2".into()), ..captured.clone() },
    ] {
        let mut intruder = fixture.raw(Some("midship.v1.json")).await;
        intruder.send(ClientFrame::Hello(Box::new(retargeted))).await;
        let (code, reason) = intruder.close().await;
        assert_eq!((code, reason.starts_with("7002")), (close::AUTHENTICATION_FAILED, true), "{reason}");
    }
    // The app's secret (in every copy of the app) speaking for the registered device.
    let mut intruder = fixture.raw(Some("midship.v1.json")).await;
    intruder.send(ClientFrame::Hello(Box::new(fixture.signed_hello(&credential.device_id)))).await;
    let (code, reason) = intruder.close().await;
    assert_eq!((code, reason.starts_with("7017")), (close::AUTHENTICATION_FAILED, true), "{reason}");
    let impostor = rpc_client(
        &fixture,
        DeviceIdentity { device_id: Some(credential.device_id.clone()), ..DeviceIdentity::default() },
    );
    assert_eq!(impostor.rpc("midship.time", &json!({})).await.unwrap().result, 7017);

    // The real device was never disconnected: it still gets what is sent to its user.
    fixture.send("alice", "after-the-attempts").await;
    loop {
        if let ServerFrame::Sync(data) = real.frame().await {
            assert_eq!(data.msg_id, "after-the-attempts");
            break;
        }
    }
}

#[tokio::test]
async fn a_revoked_device_is_refused_and_disconnected_and_registers_anew() {
    let fixture = crate::sync::fixture().await;
    let identity = DeviceIdentity { platform: Some("android".into()), ..DeviceIdentity::default() };
    let phone = rpc_client(&fixture, identity.clone());
    let credential = phone.register().await.unwrap();
    let mut live = fixture.raw(Some("midship.v1.json")).await;
    live.send(ClientFrame::Hello(Box::new(device_hello(&fixture, &credential, "bob")))).await;
    assert!(matches!(live.frame().await, ServerFrame::Welcome(_)));

    let admin = fixture.server.admin();
    let revoked = admin.revoke_device_credential(&fixture.workspace, &credential.device_id).await.unwrap();
    assert!(revoked.connection_closed);
    let (code, reason) = live.close().await;
    assert_eq!((code, reason.starts_with("7018")), (close::AUTHENTICATION_FAILED, true), "{reason}");
    assert_eq!(phone.rpc("midship.time", &json!({})).await.unwrap().result, 7018);
    let mut reconnecting = fixture.raw(Some("midship.v1.json")).await;
    reconnecting.send(ClientFrame::Hello(Box::new(device_hello(&fixture, &credential, "bob")))).await;
    let (code, reason) = reconnecting.close().await;
    assert_eq!((code, reason.starts_with("7018")), (close::AUTHENTICATION_FAILED, true), "{reason}");
    let impostor = rpc_client(
        &fixture,
        DeviceIdentity { device_id: Some(credential.device_id.clone()), ..DeviceIdentity::default() },
    );
    assert_eq!(impostor.rpc("midship.time", &json!({})).await.unwrap().result, 7018, "nor with the app's secret");
    let twice = admin.revoke_device_credential(&fixture.workspace, &credential.device_id).await.unwrap_err();
    assert!(twice.to_string().contains("not found"), "{twice}");

    // The app registers again, without its old id, and is a new device.
    let renewed_phone = rpc_client(&fixture, identity);
    let renewed = renewed_phone.register().await.unwrap();
    assert_ne!(renewed.device_id, credential.device_id);
    assert!(renewed_phone.rpc("midship.time", &json!({})).await.unwrap().is_success());
}

#[tokio::test]
async fn signed_calls_need_a_nonce_and_spend_it() {
    let fixture = crate::sync::fixture().await;
    let url = fixture.server.url("/mgw");
    let call = |nonce: &str| {
        let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let timestamp = timestamp.to_string();
        let input = SigningInput {
            method: "POST",
            operation_type: "midship.time",
            app_id: &fixture.app_id,
            workspace_id: &fixture.workspace,
            device_id: "",
            user_id: "",
            timestamp: &timestamp,
            nonce,
            body: b"{}",
        };
        let sign = midship_signing::client::sign(SignType::HmacSha256, fixture.secret.as_bytes(), &input);
        let mut request = fixture
            .server
            .http
            .post(&url)
            .header("Operation-Type", "midship.time")
            .header("AppId", &fixture.app_id)
            .header("WorkspaceId", &fixture.workspace)
            .header("Ts", timestamp)
            .header("Sign", sign)
            .body("{}");
        if !nonce.is_empty() {
            request = request.header("Nonce", nonce);
        }
        async move { request.send().await.unwrap().headers()["result-status"].to_str().unwrap().to_owned() }
    };
    assert_eq!(call("").await, "7001", "no nonce, no call");
    assert_eq!(call("once").await, "1000");
    assert_eq!(call("once").await, "7015", "replayed");
}

#[tokio::test]
async fn tokens_minted_with_the_app_secret_are_refused_and_tokens_can_be_revoked() {
    let fixture = crate::sync::fixture().await;
    fixture
        .server
        .admin()
        .put_sync_config(&fixture.workspace, &json!({ "biz_type": "BANK", "verified_users_only": true }))
        .await
        .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let forged = ConnectClaims {
        app_id: fixture.app_id.clone(),
        workspace_id: fixture.workspace.clone(),
        device_id: None,
        user_id: Some("vip-user".into()),
        user_verified: true,
        issued_at: now,
        expires_at: now + 60_000,
    };
    let hello_with = |token: String| Hello {
        app_id: fixture.app_id.clone(),
        workspace_id: fixture.workspace.clone(),
        token: Some(token),
        foreground: true,
        ..Hello::default()
    };
    let mut attacker = fixture.raw(Some("midship.v1.json")).await;
    let token = midship_signing::connect_token::issue(fixture.secret.as_bytes(), &forged);
    attacker.send(ClientFrame::Hello(Box::new(hello_with(token)))).await;
    let (code, reason) = attacker.close().await;
    assert_eq!((code, reason.starts_with("7016")), (close::AUTHENTICATION_FAILED, true), "{reason}");

    // A backend's token works until the workspace revokes the tokens issued so far.
    let admin = fixture.server.admin();
    let request = SyncTokenRequest { user_id: Some("alice".into()), ..SyncTokenRequest::default() };
    let issued = admin.sync_token(&fixture.workspace, &request).await.unwrap();
    let mut backend_user = fixture.raw(Some("midship.v1.json")).await;
    backend_user.send(ClientFrame::Hello(Box::new(hello_with(issued.token.clone())))).await;
    assert!(matches!(backend_user.frame().await, ServerFrame::Welcome(_)));
    let policy = fixture
        .server
        .http
        .put(fixture.server.url(&format!("/api/v1/workspaces/{}/device-security", fixture.workspace)))
        .bearer_auth(&fixture.server.admin_token)
        .json(&json!({ "revoke_connect_tokens": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(policy.status(), 200);
    let policy: serde_json::Value = policy.json().await.unwrap();
    assert!(policy["connect_tokens_valid_after"].is_string(), "{policy}");
    let mut revoked = fixture.raw(Some("midship.v1.json")).await;
    revoked.send(ClientFrame::Hello(Box::new(hello_with(issued.token)))).await;
    let (code, reason) = revoked.close().await;
    assert_eq!((code, reason.contains("revoked")), (close::AUTHENTICATION_FAILED, true), "{reason}");
}

#[tokio::test]
async fn after_the_deadline_only_registered_devices_are_served() {
    let fixture = crate::sync::fixture().await;
    let legacy =
        rpc_client(&fixture, DeviceIdentity { device_id: Some("LEGACY-PHONE".into()), ..DeviceIdentity::default() });
    assert!(legacy.rpc("midship.time", &json!({})).await.unwrap().is_success(), "before the deadline");
    let set_deadline = |day: &str| {
        fixture
            .server
            .http
            .put(fixture.server.url(&format!("/api/v1/workspaces/{}/device-security", fixture.workspace)))
            .bearer_auth(&fixture.server.admin_token)
            .json(&json!({ "device_credentials_required_from": day }))
            .send()
    };
    assert_eq!(set_deadline("2020-02-30").await.unwrap().status(), 400, "not a day");
    assert_eq!(set_deadline("2020-01-01").await.unwrap().status(), 200);
    assert_eq!(legacy.rpc("midship.time", &json!({})).await.unwrap().result, 7017);
    // Registration still takes the app's secret, but no longer hands out an id the device only
    // claims: it issues a new one.
    let credential = legacy.register().await.unwrap();
    assert_ne!(credential.device_id, "LEGACY-PHONE");
    assert!(legacy.rpc("midship.time", &json!({})).await.unwrap().is_success(), "registered devices are served");

    // The SDK's sync client connects with the credential and receives its user's messages.
    let mut settings = fixture.settings(&credential.device_id, Some("bob"), Codec::Json);
    settings.credentials =
        Credentials::Device { device_secret: credential.device_secret, sign_type: SignType::HmacSha256 };
    let (_client, mut received) = fixture.device(settings);
    fixture.send("bob", "for-bob").await;
    assert_eq!(crate::sync::next(&mut received).await.msg_id, "for-bob");
}

#[tokio::test]
async fn identity_fields_are_bounded() {
    let fixture = crate::sync::fixture().await;
    let long_user = "u".repeat(10_000);
    let client = rpc_client(&fixture, DeviceIdentity { user_id: Some(long_user.clone()), ..DeviceIdentity::default() });
    let reply = client.rpc("midship.time", &json!({})).await.unwrap();
    assert_eq!(reply.result, 3002, "{}", reply.memo);
    assert!(reply.memo.contains("User-Id"), "{}", reply.memo);

    let mut hello = fixture.signed_hello("PHONE");
    hello.user_id = Some("x".repeat(1024 * 1024));
    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    raw.send(ClientFrame::Hello(Box::new(hello))).await;
    let (code, reason) = raw.close().await;
    assert_eq!((code, reason.starts_with("3002")), (close::AUTHENTICATION_FAILED, true), "{reason}");
}

#[tokio::test]
async fn an_upload_announced_over_the_limit_is_refused_before_its_body() {
    let server = TestServer::start().await;
    let created = server
        .admin()
        .create_app(&midship_api::CreateAppRequest { name: "big".into(), platforms: vec![], workspaces: None })
        .await
        .unwrap();
    let workspace = &created.workspaces[0].workspace_id;
    let mut stream = TcpStream::connect(address_of(&server)).await.unwrap();
    let head = format!(
        "POST /api/v1/workspaces/{workspace}/delivery/packages?kind=h5 HTTP/1.1\r\nHost: midship\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        server.admin_token,
        300u64 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Not a byte of the body is sent: the answer comes anyway.
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
