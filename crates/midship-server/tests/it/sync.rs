//! Data sync end to end: the admin API sends, devices connect to `/ws` with the SDK's sync client
//! or a raw WebSocket client, and every documented close code is seen.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use midship_api::{CreateAppRequest, CreateTokenRequest, SyncBatchRequest, SyncSendRequest, SyncTokenRequest};
use midship_protocol::frame::{Ack, Hello, Ping};
use midship_protocol::{ClientFrame, Codec, ServerFrame, WireMessage, close};
use midship_sdk::rpc::DeviceIdentity;
use midship_sdk::sync::{ConnectionState, Credentials, SyncClient, SyncMessage, SyncSettings, sign_hello};
use midship_server::ServerSettings;
use midship_server::longconn::LongConnectionSettings;
use midship_signing::client::SignType;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::TestServer;

pub(crate) struct Fixture {
    pub(crate) server: TestServer,
    pub(crate) app_id: String,
    pub(crate) workspace: String,
    pub(crate) secret: String,
    pub(crate) state: tempfile::TempDir,
}

async fn fixture_with(settings: ServerSettings) -> Fixture {
    let server = TestServer::start_with(settings).await;
    let request = CreateAppRequest { name: "chat".into(), platforms: vec![], workspaces: None };
    let created = server.admin().create_app(&request).await.unwrap();
    let workspace = created.workspaces[2].workspace_id.clone();
    let fixture = Fixture {
        server,
        app_id: created.app.app_id,
        workspace,
        secret: created.secret,
        state: tempfile::tempdir().unwrap(),
    };
    fixture.configure(json!({ "biz_type": "CHAT-MSG" })).await;
    fixture
}

pub(crate) async fn fixture() -> Fixture {
    fixture_with(ServerSettings::default()).await
}

/// Starts the client and waits until its connection is up.
pub(crate) async fn start_connected(client: &midship_sdk::sync::SyncClient) {
    use midship_sdk::sync::ConnectionState;
    let (connected, mut is_connected) = tokio::sync::watch::channel(false);
    client.on_state_change(move |state| {
        connected.send_replace(matches!(state, ConnectionState::Connected { .. }));
    });
    client.start();
    tokio::time::timeout(Duration::from_secs(10), is_connected.wait_for(|connected| *connected))
        .await
        .expect("connected in time")
        .unwrap();
}

fn message(link_token: &str, third_msg_id: &str) -> SyncSendRequest {
    SyncSendRequest {
        biz_type: "CHAT-MSG".into(),
        link_token: link_token.into(),
        payload: format!("{{\"text\":\"{third_msg_id}\"}}"),
        third_msg_id: third_msg_id.into(),
        ..SyncSendRequest::default()
    }
}

impl Fixture {
    async fn configure(&self, config: serde_json::Value) {
        self.server.admin().put_sync_config(&self.workspace, &config).await.unwrap();
    }

    pub(crate) async fn send(&self, to: &str, id: &str) -> Option<i64> {
        self.server.admin().sync_send(&self.workspace, &message(to, id)).await.unwrap().seq
    }

    pub(crate) fn settings(&self, device: &str, user: Option<&str>, codec: Codec) -> SyncSettings {
        let credentials = Credentials::Secret { secret: self.secret.clone(), sign_type: SignType::HmacSha256 };
        let mut settings = SyncSettings::new(
            &self.server.base_url,
            &self.app_id,
            &self.workspace,
            credentials,
            &self.state.path().join(device),
        );
        settings.identity = DeviceIdentity {
            device_id: Some(device.into()),
            user_id: user.map(str::to_owned),
            platform: Some("android".into()),
            app_version: Some("2.0.0".into()),
            ..DeviceIdentity::default()
        };
        settings.codec = codec;
        settings.backoff_min = Duration::from_millis(20);
        settings.backoff_max = Duration::from_millis(200);
        settings
    }

    /// A started client whose CHAT-MSG handler reports into the returned channel.
    pub(crate) fn device(&self, settings: SyncSettings) -> (SyncClient, mpsc::UnboundedReceiver<SyncMessage>) {
        let client = SyncClient::new(settings).unwrap();
        let (sender, receiver) = mpsc::unbounded_channel();
        client.register("CHAT-MSG", move |message| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(message);
            }
        });
        client.start();
        (client, receiver)
    }

    pub(crate) fn signed_hello(&self, device: &str) -> Hello {
        let mut hello = Hello {
            app_id: self.app_id.clone(),
            workspace_id: self.workspace.clone(),
            device_id: Some(device.into()),
            foreground: true,
            ..Hello::default()
        };
        sign_hello(&mut hello, &self.secret, SignType::HmacSha256);
        hello
    }

    pub(crate) async fn raw(&self, protocol: Option<&str>) -> Raw {
        let url = format!("{}/ws", self.server.base_url.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        if let Some(protocol) = protocol {
            request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Raw { socket, codec: protocol.and_then(Codec::from_subprotocol).unwrap_or(Codec::Json) }
    }
}

/// A WebSocket client that speaks frames by hand, for what the SDK never sends.
pub(crate) struct Raw {
    pub(crate) socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    codec: Codec,
}

impl Raw {
    pub(crate) async fn send(&mut self, frame: ClientFrame) {
        let message = match self.codec.encode_client(frame) {
            WireMessage::Text(text) => Message::Text(text.try_into().unwrap()),
            WireMessage::Binary(bytes) => Message::Binary(bytes),
        };
        self.socket.send(message).await.unwrap();
    }

    pub(crate) async fn frame(&mut self) -> ServerFrame {
        loop {
            let wire = match self.socket.next().await.expect("open").expect("readable") {
                Message::Text(text) => WireMessage::Text(text.into()),
                Message::Binary(bytes) => WireMessage::Binary(bytes),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            };
            return self.codec.decode_server(&wire, 1 << 24).unwrap();
        }
    }

    /// The close code the server ends with, reading past any data frames.
    pub(crate) async fn close_code(&mut self) -> u16 {
        self.close().await.0
    }

    /// The close code and reason the server ends with, reading past any data frames.
    pub(crate) async fn close(&mut self) -> (u16, String) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(Some(frame)))) => return (u16::from(frame.code), frame.reason.to_string()),
                Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("no close frame: {error}"),
            }
        }
    }
}

pub(crate) async fn next(receiver: &mut mpsc::UnboundedReceiver<SyncMessage>) -> SyncMessage {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv()).await.expect("a message in time").unwrap()
}

#[tokio::test]
async fn configs_are_validated_listed_and_deleted() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let stored = admin.list_sync_configs(&fixture.workspace).await.unwrap();
    assert_eq!(stored.items[0]["persistent"], true);
    assert_eq!(stored.items[0]["retention_days"], 30);
    admin
        .put_sync_config(
            &fixture.workspace,
            &json!({ "biz_type": "NOTICE", "scope": "global", "repush": { "newest": 5 } }),
        )
        .await
        .unwrap();
    let listed = admin.list_sync_configs(&fixture.workspace).await.unwrap();
    let names: Vec<&str> = listed.items.iter().map(|config| config["biz_type"].as_str().unwrap()).collect();
    assert_eq!(names, ["CHAT-MSG", "NOTICE"]);

    let error = admin.put_sync_config(&fixture.workspace, &json!({ "biz_type": "X", "retention_days": 0 })).await;
    assert!(error.unwrap_err().to_string().contains("retention_days"));
    let error = admin.put_sync_config(&fixture.workspace, &json!({ "biz_type": "X", "colour": 1 })).await;
    assert!(error.unwrap_err().to_string().contains("colour"));
    let viewer = admin
        .create_token(&CreateTokenRequest {
            name: "v".into(),
            role: "viewer".into(),
            app_ids: None,
            expires_in_seconds: None,
        })
        .await
        .unwrap();
    let as_viewer = fixture.server.client_with(&viewer.token);
    let refused = as_viewer.put_sync_config(&fixture.workspace, &json!({ "biz_type": "Y" })).await;
    assert_eq!(refused.unwrap_err().code(), Some("forbidden"));
    admin.delete_sync_config(&fixture.workspace, "NOTICE").await.unwrap();
    assert_eq!(admin.delete_sync_config(&fixture.workspace, "NOTICE").await.unwrap_err().code(), Some("not_found"));
}

#[tokio::test]
async fn sends_are_numbered_without_gaps_and_bad_ones_refused() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    assert_eq!(fixture.send("alice", "m-1").await, Some(1));
    let repeat = admin.sync_send(&fixture.workspace, &message("alice", "m-1")).await.unwrap();
    assert_eq!((repeat.result.as_str(), repeat.seq), ("DUPLICATED_BIZ_ID", Some(1)), "a repeat stores nothing");
    assert_eq!(fixture.send("alice", "m-2").await, Some(2));
    assert_eq!(fixture.send("bob", "m-1").await, Some(1), "streams are per target");

    let oversized = SyncSendRequest { payload: "界".repeat(4097), ..message("alice", "m-3") };
    assert!(admin.sync_send(&fixture.workspace, &oversized).await.unwrap_err().to_string().contains("payload"));
    let exactly = SyncSendRequest { payload: "界".repeat(4096), ..message("alice", "m-4") };
    assert_eq!(admin.sync_send(&fixture.workspace, &exactly).await.unwrap().seq, Some(3), "4096 characters fit");
    let unknown = SyncSendRequest { biz_type: "NOPE".into(), ..message("alice", "m-5") };
    assert_eq!(admin.sync_send(&fixture.workspace, &unknown).await.unwrap_err().code(), Some("not_found"));
    let no_id = message("alice", "");
    assert_eq!(admin.sync_send(&fixture.workspace, &no_id).await.unwrap_err().code(), Some("invalid_request"));
    let bad_range = SyncSendRequest { app_version_range: Some(json!({ "from": "1" })), ..message("alice", "m-6") };
    assert_eq!(admin.sync_send(&fixture.workspace, &bad_range).await.unwrap_err().code(), Some("invalid_request"));
    let global = admin.sync_global(&fixture.workspace, &message("alice", "m-7")).await.unwrap_err();
    assert_eq!(global.code(), Some("invalid_request"), "the global endpoint takes no link token");
    let status = admin.sync_status(&fixture.workspace, "CHAT-MSG", "alice", None).await.unwrap();
    assert_eq!((status.last_seq, status.online), (3, false), "refused sends stored nothing");
}

#[tokio::test]
async fn the_sdk_receives_acks_and_after_a_reconnect_gets_only_the_rest() {
    let fixture = fixture().await;
    fixture.send("alice", "m-1").await;
    fixture.send("alice", "m-2").await;
    let states = Arc::new(Mutex::new(Vec::new()));
    let (client, mut received) = fixture.device(fixture.settings("PHONE", Some("alice"), Codec::Protobuf));
    let seen = states.clone();
    client.on_state_change(move |state| seen.lock().unwrap().push(state.clone()));
    assert_eq!((next(&mut received).await.seq, next(&mut received).await.seq), (1, 2));
    fixture.send("alice", "m-3").await;
    let live = next(&mut received).await;
    assert_eq!((live.seq, live.msg_id.as_str(), live.payload.as_str()), (3, "m-3", "{\"text\":\"m-3\"}"));
    assert_eq!(client.position("CHAT-MSG"), 3, "remembered on disk");
    client.stop();
    let admin = fixture.server.admin();
    let status = loop {
        let status = admin.sync_status(&fixture.workspace, "CHAT-MSG", "alice", Some("PHONE")).await.unwrap();
        if !status.online {
            break status;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(status.acked_seq, Some(3));

    fixture.send("alice", "m-4").await;
    let (again, mut received) = fixture.device(fixture.settings("PHONE", Some("alice"), Codec::Json));
    assert_eq!(next(&mut received).await.seq, 4, "only what was never processed");
    again.stop();
    let (tablet, mut received) = fixture.device(fixture.settings("TABLET", Some("alice"), Codec::Json));
    let all: Vec<i64> =
        [next(&mut received).await, next(&mut received).await].iter().map(|message| message.seq).collect();
    assert_eq!(all, [1, 2], "another device of the user starts from its own position");
    tablet.stop();
    assert!(matches!(states.lock().unwrap()[1], ConnectionState::Connected { .. }), "{:?}", states.lock().unwrap());
}

#[tokio::test]
async fn rpcs_run_over_the_connection_through_the_gateway() {
    let fixture = fixture().await;
    let (client, _) = fixture.device(fixture.settings("PHONE", Some("alice"), Codec::Protobuf));
    let reply = loop {
        match client.rpc("midship.sync.token", &json!({})).await {
            Ok(reply) => break reply,
            Err(midship_sdk::sync::SyncClientError::NotConnected) => tokio::task::yield_now().await,
            Err(error) => panic!("{error}"),
        }
    };
    assert!(reply.is_success(), "{reply:?}");
    let token = reply.json().unwrap()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mct2."));
    let unknown = client.rpc("com.nowhere", &json!({})).await.unwrap();
    assert_eq!(unknown.result, 3000);
    let empty = json!({});
    let calls: Vec<_> = (0..8).map(|_| client.rpc("midship.sync.token", &empty)).collect();
    for reply in futures_util::future::join_all(calls).await {
        assert!(reply.unwrap().is_success(), "several in flight at once");
    }
    client.stop();

    // The token the device got opens a connection without the secret.
    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    let hello = Hello {
        token: Some(token),
        ..Hello {
            app_id: fixture.app_id.clone(),
            workspace_id: fixture.workspace.clone(),
            device_id: Some("PHONE".into()),
            foreground: true,
            ..Hello::default()
        }
    };
    raw.send(ClientFrame::Hello(Box::new(hello))).await;
    let ServerFrame::Welcome(welcome) = raw.frame().await else { panic!("a welcome") };
    assert_eq!((welcome.device_id.as_str(), welcome.user_id.as_deref()), ("PHONE", Some("alice")));
    raw.send(ClientFrame::Ping(Ping { id: 7 })).await;
    assert!(matches!(raw.frame().await, ServerFrame::Pong(pong) if pong.id == 7));
}

#[tokio::test]
async fn verified_users_only_needs_a_token_from_the_backend() {
    let fixture = fixture().await;
    fixture.configure(json!({ "biz_type": "BANK", "verified_users_only": true })).await;
    let admin = fixture.server.admin();
    admin
        .sync_send(&fixture.workspace, &SyncSendRequest { biz_type: "BANK".into(), ..message("alice", "b-1") })
        .await
        .unwrap();
    let issued = admin
        .sync_token(
            &fixture.workspace,
            &SyncTokenRequest { user_id: Some("alice".into()), ..SyncTokenRequest::default() },
        )
        .await
        .unwrap();
    let mut settings = fixture.settings("VOUCHED", None, Codec::Json);
    settings.credentials = Credentials::Token(issued.token);
    let client = SyncClient::new(settings).unwrap();
    let (sender, mut received) = mpsc::unbounded_channel();
    client.register("BANK", move |message| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(message);
        }
    });
    client.start();
    assert_eq!(next(&mut received).await.msg_id, "b-1");
    client.stop();

    let long = SyncTokenRequest { ttl_seconds: Some(8 * 24 * 3600), ..SyncTokenRequest::default() };
    assert_eq!(admin.sync_token(&fixture.workspace, &long).await.unwrap_err().code(), Some("invalid_request"));
}

#[tokio::test]
async fn bad_handshakes_and_frames_close_with_documented_codes() {
    let fixture = fixture().await;
    let no_protocol = fixture
        .server
        .http
        .get(fixture.server.url("/ws"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(no_protocol.status(), 400);
    assert!(no_protocol.text().await.unwrap().contains("midship.v1.json"));
    let plain = fixture.server.http.get(fixture.server.url("/ws")).send().await.unwrap();
    assert_eq!(plain.status(), 400, "not an upgrade");

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    raw.send(ClientFrame::Ping(Ping { id: 1 })).await;
    assert_eq!(raw.close_code().await, close::HELLO_EXPECTED);

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    raw.socket.send(Message::Text("{\"type\":\"hello\",".into())).await.unwrap();
    assert_eq!(raw.close_code().await, close::MALFORMED_FRAME);

    let mut raw = fixture.raw(Some("midship.v1.protobuf")).await;
    raw.socket.send(Message::Text("{}".into())).await.unwrap();
    assert_eq!(raw.close_code().await, close::MALFORMED_FRAME, "text on the protobuf subprotocol");

    let mut raw = fixture.raw(Some("midship.v1.protobuf")).await;
    raw.socket.send(Message::Binary(vec![9, 9, 9].into())).await.unwrap();
    assert_eq!(raw.close_code().await, close::MALFORMED_FRAME, "unknown flag byte");

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    let mut forged = fixture.signed_hello("PHONE");
    forged.sign = Some("0".repeat(64));
    raw.send(ClientFrame::Hello(Box::new(forged))).await;
    let code = raw.close_code().await;
    assert_eq!(code, close::AUTHENTICATION_FAILED);

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    let replayed = fixture.signed_hello("PHONE");
    raw.send(ClientFrame::Hello(Box::new(replayed.clone()))).await;
    assert!(matches!(raw.frame().await, ServerFrame::Welcome(_)));
    let mut second = fixture.raw(Some("midship.v1.json")).await;
    second.send(ClientFrame::Hello(Box::new(replayed))).await;
    assert_eq!(second.close_code().await, close::AUTHENTICATION_FAILED, "a replayed hello");

    raw.send(ClientFrame::Ack(Ack { biz_type: "CHAT-MSG".into(), seq: 99 })).await;
    assert_eq!(raw.close_code().await, close::PROTOCOL_VIOLATION, "an ack of what was never sent");

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    raw.send(ClientFrame::Hello(Box::new(fixture.signed_hello("PHONE")))).await;
    assert!(matches!(raw.frame().await, ServerFrame::Welcome(_)));
    raw.send(ClientFrame::Hello(Box::new(fixture.signed_hello("PHONE")))).await;
    assert_eq!(raw.close_code().await, close::PROTOCOL_VIOLATION, "a second hello");

    let mut raw = fixture.raw(Some("midship.v1.json")).await;
    raw.send(ClientFrame::Hello(Box::new(fixture.signed_hello("PHONE")))).await;
    assert!(matches!(raw.frame().await, ServerFrame::Welcome(_)));
    let huge = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    raw.socket.send(Message::Text(huge.into())).await.unwrap();
    assert_eq!(raw.close_code().await, close::MESSAGE_TOO_BIG);

    let mut first = fixture.raw(Some("midship.v1.json")).await;
    first.send(ClientFrame::Hello(Box::new(fixture.signed_hello("TWIN")))).await;
    assert!(matches!(first.frame().await, ServerFrame::Welcome(_)));
    let mut second = fixture.raw(Some("midship.v1.json")).await;
    second.send(ClientFrame::Hello(Box::new(fixture.signed_hello("TWIN")))).await;
    assert!(matches!(second.frame().await, ServerFrame::Welcome(_)));
    assert_eq!(first.close_code().await, close::REPLACED);

    fixture.send("alice", "still-works").await;
    let metrics = fixture.server.http.get(fixture.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("midship_connection_closes_total{code=\"4000\"} 3"), "{metrics}");
}

#[tokio::test]
async fn silent_devices_are_closed() {
    let settings = ServerSettings {
        long_connection: LongConnectionSettings {
            idle_timeout: Duration::from_millis(300),
            hello_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_millis(300),
            ..LongConnectionSettings::default()
        },
        ..ServerSettings::default()
    };
    let fixture = fixture_with(settings).await;
    let mut mute = fixture.raw(Some("midship.v1.json")).await;
    assert_eq!(mute.close_code().await, close::HELLO_EXPECTED, "no hello in time");
    let mut idle = fixture.raw(Some("midship.v1.json")).await;
    idle.send(ClientFrame::Hello(Box::new(fixture.signed_hello("IDLE")))).await;
    assert!(matches!(idle.frame().await, ServerFrame::Welcome(_)));
    assert_eq!(idle.close_code().await, close::IDLE_TIMEOUT);

    // WebSocket pings count as activity: well past the idle timeout the connection still answers.
    // The idle timer runs on the server's wall clock, so real time passes between the pings here.
    let mut pinging = fixture.raw(Some("midship.v1.json")).await;
    pinging.send(ClientFrame::Hello(Box::new(fixture.signed_hello("PINGING")))).await;
    assert!(matches!(pinging.frame().await, ServerFrame::Welcome(_)));
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        pinging.socket.send(Message::Ping(Vec::new().into())).await.unwrap();
    }
    pinging.send(ClientFrame::Ping(Ping { id: 3 })).await;
    assert!(matches!(pinging.frame().await, ServerFrame::Pong(pong) if pong.id == 3));
}

#[tokio::test]
async fn a_device_that_never_reads_is_closed_as_too_slow_and_loses_nothing() {
    // A window so large that the server keeps writing until the socket stalls; the stalled write
    // times out and the device is closed. Nothing is lost: all is stored for the next connection.
    let settings = ServerSettings {
        long_connection: LongConnectionSettings {
            write_timeout: Duration::from_millis(300),
            sync: midship_sync::SyncSettings { window: 100_000, ..midship_sync::SyncSettings::default() },
            ..LongConnectionSettings::default()
        },
        ..ServerSettings::default()
    };
    let fixture = fixture_with(settings).await;
    let mut slow = fixture.raw(Some("midship.v1.json")).await;
    slow.send(ClientFrame::Hello(Box::new(Hello { user_id: Some("slow".into()), ..fixture.signed_hello("SLOW") })))
        .await;
    assert!(matches!(slow.frame().await, ServerFrame::Welcome(_)));
    let admin = fixture.server.admin();
    let payload = "p".repeat(4096);
    let mut sent = 0;
    loop {
        let request = SyncSendRequest { payload: payload.clone(), ..message("slow", &format!("s-{sent}")) };
        admin.sync_send(&fixture.workspace, &request).await.unwrap();
        sent += 1;
        if sent % 50 == 0 && !admin.sync_status(&fixture.workspace, "CHAT-MSG", "slow", None).await.unwrap().online {
            break;
        }
        assert!(sent < 10_000, "the slow device was never closed");
    }
    // The hub forgets the device a moment before the connection's task counts the close.
    let closed_as_too_slow = "midship_connection_closes_total{code=\"4008\"} 1";
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = fixture.server.http.get(fixture.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.contains(closed_as_too_slow) {
            break;
        }
    }
    assert!(metrics.contains(closed_as_too_slow), "{metrics}");
    let status = admin.sync_status(&fixture.workspace, "CHAT-MSG", "slow", None).await.unwrap();
    assert_eq!(status.last_seq, sent, "every message stayed stored for the next connection");
}

#[tokio::test]
async fn a_batch_stores_together_and_answers_each_message() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let unknown = SyncSendRequest { biz_type: "NOPE".into(), ..message("alice", "b-9") };
    let batch = SyncBatchRequest {
        messages: vec![
            message("alice", "b-1"),
            message("bob", "b-1"),
            message("alice", "b-1"),
            unknown,
            message("alice", "b-2"),
        ],
    };
    let answered = admin.sync_batch(&fixture.workspace, &batch).await.unwrap();
    let results: Vec<(&str, Option<i64>)> =
        answered.results.iter().map(|result| (result.result.as_str(), result.seq)).collect();
    assert_eq!(
        results,
        [
            ("SUCCESS", Some(1)),
            ("SUCCESS", Some(1)),
            ("DUPLICATED_BIZ_ID", Some(1)),
            ("FAILED", None),
            ("SUCCESS", Some(2)),
        ]
    );
    assert_eq!(answered.results[3].error.as_ref().unwrap().code, "not_found");

    let too_many =
        SyncBatchRequest { messages: (0..501).map(|index| message("alice", &format!("x-{index}"))).collect() };
    assert_eq!(admin.sync_batch(&fixture.workspace, &too_many).await.unwrap_err().code(), Some("invalid_request"));
    let bad = SyncBatchRequest {
        messages: vec![
            message("alice", "c-1"),
            SyncSendRequest { app_version_range: Some(json!(3)), ..message("alice", "c-2") },
        ],
    };
    let error = admin.sync_batch(&fixture.workspace, &bad).await.unwrap_err();
    assert!(error.to_string().contains("messages[1]"), "{error}");
    let status = admin.sync_status(&fixture.workspace, "CHAT-MSG", "alice", None).await.unwrap();
    assert_eq!(status.last_seq, 2, "a refused batch stored nothing");
}
