//! One device connection, in one task: wait for the hello and authenticate it through the
//! gateway, open the device's sync session, then serve frames until either side ends it. Every
//! way it ends is a documented close code (`midship_protocol::close`).

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use midship_gateway::{ConnectRequest, RpcHeaders, RpcRequest, RpcResponse};
use midship_protocol::frame::{Hello, Pong, RpcCall, RpcResult, Welcome};
use midship_protocol::{ClientFrame, Codec, ServerFrame, WireMessage, close};
use midship_sync::{DeviceIdentity, DeviceSession, Kick, SessionError, SessionEvent, SyncError, SyncMessage};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

use crate::AppState;
use crate::mgw::{Transport, dispatch, rpc_headers};

/// Why the server ends a connection: the close code and a short reason.
#[derive(Debug)]
struct Ending {
    code: u16,
    reason: String,
}

impl Ending {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }

    /// The peer went away (or the socket failed): there is nobody to send a close frame to.
    fn gone() -> Self {
        Self::new(0, "")
    }
}

impl From<SyncError> for Ending {
    fn from(error: SyncError) -> Self {
        tracing::error!(%error, "sync failed on a connection");
        Ending::new(close::SERVER_ERROR, "server error")
    }
}

pub(super) async fn run(state: AppState, mut socket: WebSocket, codec: Codec, max_frame_bytes: usize) {
    state.metrics.connection_opened();
    let ending = serve(&state, &mut socket, codec, max_frame_bytes).await;
    state.metrics.connection_closed(ending.code);
    if ending.code != 0 {
        // Close reasons are at most 123 bytes.
        let mut reason = ending.reason;
        while reason.len() > 123 {
            reason.pop();
        }
        let frame = CloseFrame { code: ending.code, reason: Utf8Bytes::from(reason) };
        let _ = timeout(state.settings.long_connection.write_timeout, socket.send(Message::Close(Some(frame)))).await;
    }
}

/// Reads the next message: a data message, or `None` for a WebSocket ping or pong (which counts
/// as activity; tungstenite answers pings itself). `Err` ends the connection.
async fn next_message(socket: &mut WebSocket) -> Result<Option<WireMessage>, Ending> {
    match socket.recv().await {
        None | Some(Ok(Message::Close(_))) => Err(Ending::gone()),
        Some(Err(error)) => Err(read_failure(&error)),
        Some(Ok(Message::Text(text))) => Ok(Some(WireMessage::Text(Bytes::from(text)))),
        Some(Ok(Message::Binary(bytes))) => Ok(Some(WireMessage::Binary(bytes))),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(None),
    }
}

/// The next data message, skipping pings and pongs.
async fn next_data(socket: &mut WebSocket) -> Result<WireMessage, Ending> {
    loop {
        if let Some(message) = next_message(socket).await? {
            return Ok(message);
        }
    }
}

fn read_failure(error: &axum::Error) -> Ending {
    let text = error.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big") {
        return Ending::new(close::MESSAGE_TOO_BIG, "message too big");
    }
    if text.contains("invalid utf-8") || text.contains("Invalid UTF") {
        return Ending::new(close::MALFORMED_FRAME, "text frame is not UTF-8");
    }
    tracing::debug!(error = %text, "connection read failed");
    Ending::gone()
}

fn decode(codec: Codec, message: &WireMessage, max_frame_bytes: usize) -> Result<ClientFrame, Ending> {
    codec.decode_client(message, max_frame_bytes).map_err(|error| match error {
        midship_protocol::FrameError::TooLarge(_) => Ending::new(close::MESSAGE_TOO_BIG, error.to_string()),
        other => Ending::new(close::MALFORMED_FRAME, other.to_string()),
    })
}

fn to_message(wire: WireMessage) -> Message {
    match wire {
        // Frames are encoded from Rust strings, so text is always UTF-8.
        WireMessage::Text(bytes) => Message::Text(Utf8Bytes::try_from(bytes).unwrap_or_default()),
        WireMessage::Binary(bytes) => Message::Binary(bytes),
    }
}

struct Connection<'a> {
    state: &'a AppState,
    socket: &'a mut WebSocket,
    codec: Codec,
}

impl Connection<'_> {
    /// Writes frames and flushes once, within the write timeout.
    async fn send_all(&mut self, frames: Vec<WireMessage>) -> Result<(), Ending> {
        if frames.is_empty() {
            return Ok(());
        }
        let write = async {
            for frame in frames {
                self.socket.feed(to_message(frame)).await?;
            }
            self.socket.flush().await
        };
        match timeout(self.state.settings.long_connection.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::gone()),
            Err(_) => Err(Ending::new(close::TOO_SLOW, "a write timed out")),
        }
    }

    async fn send(&mut self, frame: ServerFrame) -> Result<(), Ending> {
        let wire = self.codec.encode_server(frame);
        self.send_all(vec![wire]).await
    }

    async fn deliver(&mut self, messages: Vec<Arc<SyncMessage>>) -> Result<(), Ending> {
        if messages.is_empty() {
            return Ok(());
        }
        self.state.metrics.sync_delivered(messages.len());
        let frames = messages.iter().map(|message| message.wire(self.codec)).collect();
        self.send_all(frames).await
    }
}

async fn serve(state: &AppState, socket: &mut WebSocket, codec: Codec, max_frame_bytes: usize) -> Ending {
    let settings = &state.settings.long_connection;
    let hello = match timeout(settings.hello_timeout, next_data(socket)).await {
        Err(_) => return Ending::new(close::HELLO_EXPECTED, "no hello arrived in time"),
        Ok(Err(ending)) => return ending,
        Ok(Ok(message)) => match decode(codec, &message, max_frame_bytes) {
            Ok(ClientFrame::Hello(hello)) => *hello,
            Ok(_) => return Ending::new(close::HELLO_EXPECTED, "the first frame must be a hello"),
            Err(ending) => return ending,
        },
    };
    let foreground = hello.foreground;
    let positions = hello.positions.clone();
    let identity = match authenticate(state, hello).await {
        Ok(identity) => identity,
        Err(ending) => return ending,
    };
    let mut session = match state.sync.connect(identity, foreground) {
        Ok(session) => session,
        Err(SyncError::AtCapacity(limit)) => {
            return Ending::new(close::TRY_AGAIN_LATER, format!("this node holds its maximum of {limit} connections"));
        }
        Err(error) => return error.into(),
    };
    let mut connection = Connection { state, socket, codec };
    match run_session(&mut connection, &mut session, positions, max_frame_bytes).await {
        Ok(never) => match never {},
        Err(ending) => ending,
    }
}

/// Checks the hello's signature or token; the identity the session runs under.
async fn authenticate(state: &AppState, hello: Hello) -> Result<DeviceIdentity, Ending> {
    let headers = RpcHeaders {
        app_id: Some(hello.app_id),
        workspace_id: Some(hello.workspace_id),
        timestamp: hello.ts,
        sign: hello.sign,
        sign_type: hello.sign_type,
        nonce: hello.nonce,
        device_id: hello.device_id,
        user_id: hello.user_id,
        platform: hello.platform.clone(),
        app_version: hello.app_version.clone(),
        ..RpcHeaders::default()
    };
    let device =
        state.gateway.authenticate_connect(ConnectRequest { headers, token: hello.token }).await.map_err(
            |(result, detail)| Ending::new(close::AUTHENTICATION_FAILED, format!("{} {detail}", result.code())),
        )?;
    Ok(DeviceIdentity {
        app_id: device.app_id,
        workspace_id: device.workspace_id,
        device_id: device.device_id,
        user_id: device.user_id,
        user_verified: device.user_verified,
        platform: hello.platform,
        app_version: hello.app_version,
        os_version: hello.os_version,
    })
}

/// What the loop waits for besides frames: an RPC that finished.
type RpcDone = (u64, RpcResponse);

async fn run_session(
    connection: &mut Connection<'_>,
    session: &mut DeviceSession,
    positions: std::collections::BTreeMap<String, i64>,
    max_frame_bytes: usize,
) -> Result<std::convert::Infallible, Ending> {
    let state = connection.state;
    let settings = &state.settings.long_connection;
    let identity = session.identity().clone();
    connection
        .send(ServerFrame::Welcome(Welcome {
            connection_id: session.connection_id().to_string(),
            device_id: identity.device_id.clone(),
            user_id: identity.user_id.clone(),
            heartbeat_seconds: settings.heartbeat.as_secs() as u32,
            idle_timeout_seconds: settings.idle_timeout.as_secs() as u32,
            server_time: state.control.now_ms(),
            max_frame_bytes: max_frame_bytes as u64,
        }))
        .await?;
    tracing::debug!(device_id = %identity.device_id, workspace_id = %identity.workspace_id, "device connected");
    let backlog = session.start(&positions).await?;
    connection.deliver(backlog).await?;

    let (rpc_done, mut rpc_results) = mpsc::channel::<RpcDone>(settings.max_rpcs_in_flight.max(1));
    let mut rpcs_in_flight = 0usize;
    let mut idle_deadline = Instant::now() + settings.idle_timeout;
    loop {
        tokio::select! {
            biased;
            event = session.next_event() => match event {
                SessionEvent::Message(message) => {
                    let deliveries = session.on_message(message).await?;
                    connection.deliver(deliveries).await?;
                }
                SessionEvent::CatchUp => {
                    let deliveries = session.catch_up().await?;
                    connection.deliver(deliveries).await?;
                }
                SessionEvent::Kicked(Kick::Overflow) => {
                    return Err(Ending::new(close::TOO_SLOW, "the device reads too slowly"));
                }
                SessionEvent::Kicked(Kick::Replaced) => {
                    return Err(Ending::new(close::REPLACED, "a newer connection of this device replaced this one"));
                }
                SessionEvent::Kicked(Kick::Shutdown) => {
                    return Err(Ending::new(close::GOING_AWAY, "the server is shutting down"));
                }
                SessionEvent::Kicked(Kick::Revoked) => {
                    let code = midship_gateway::ResultCode::DeviceCredentialRevoked.code();
                    return Err(Ending::new(close::AUTHENTICATION_FAILED, format!("{code} device credential revoked")));
                }
            },
            Some((id, response)) = rpc_results.recv() => {
                rpcs_in_flight -= 1;
                connection.send(ServerFrame::RpcResult(rpc_result(id, response))).await?;
            }
            received = next_message(connection.socket) => {
                idle_deadline = Instant::now() + settings.idle_timeout;
                let Some(received) = received? else { continue };
                let frame = decode(connection.codec, &received, max_frame_bytes)?;
                match frame {
                    ClientFrame::Hello(_) => {
                        return Err(Ending::new(close::PROTOCOL_VIOLATION, "a second hello"));
                    }
                    ClientFrame::Ping(ping) => connection.send(ServerFrame::Pong(Pong { id: ping.id })).await?,
                    ClientFrame::Ack(ack) => {
                        let released = session.ack(&ack.biz_type, ack.seq).await.map_err(|error| match error {
                            SessionError::ProtocolViolation(detail) => Ending::new(close::PROTOCOL_VIOLATION, detail),
                            SessionError::Sync(error) => error.into(),
                        })?;
                        connection.deliver(released).await?;
                    }
                    ClientFrame::State(device_state) => {
                        let released = session.set_foreground(device_state.foreground).await?;
                        connection.deliver(released).await?;
                    }
                    ClientFrame::Rpc(call) => {
                        if rpcs_in_flight >= settings.max_rpcs_in_flight {
                            let refusal = too_many_rpcs(state, settings.max_rpcs_in_flight);
                            connection.send(ServerFrame::RpcResult(rpc_result(call.id, refusal))).await?;
                        } else {
                            rpcs_in_flight += 1;
                            let id = call.id;
                            spawn_rpc(state.clone(), id, rpc_request(call, &identity), rpc_done.clone());
                        }
                    }
                }
            }
            () = sleep_until(idle_deadline) => {
                return Err(Ending::new(close::IDLE_TIMEOUT, "nothing arrived within the idle timeout"));
            }
        }
    }
}

fn spawn_rpc(state: AppState, id: u64, request: RpcRequest, done: mpsc::Sender<RpcDone>) {
    tokio::spawn(async move {
        let response = dispatch(&state, request, Transport::LongConnection).await;
        // The channel has room for every call in flight; it is closed only when the connection ended.
        let _ = done.send((id, response)).await;
    });
}

fn too_many_rpcs(state: &AppState, limit: usize) -> RpcResponse {
    let trace_id = midship_core::ids::new_id(state.control.now_ms(), &mut rand::rng());
    let detail = format!("at most {limit} calls may be in flight on one connection");
    RpcResponse::failure(midship_gateway::ResultCode::RateLimited, &trace_id, Some(detail))
}

/// The frame's headers, with what the connection already established filled in where absent.
fn rpc_request(call: RpcCall, identity: &DeviceIdentity) -> RpcRequest {
    let frame_headers = call.headers;
    let lookup = |name: &str| {
        frame_headers.iter().find(|(candidate, _)| candidate.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone())
    };
    let mut headers = rpc_headers(lookup);
    let fill = |slot: &mut Option<String>, value: Option<&String>| {
        if slot.is_none() {
            *slot = value.cloned();
        }
    };
    fill(&mut headers.app_id, Some(&identity.app_id));
    fill(&mut headers.workspace_id, Some(&identity.workspace_id));
    fill(&mut headers.device_id, Some(&identity.device_id));
    fill(&mut headers.user_id, identity.user_id.as_ref());
    fill(&mut headers.platform, identity.platform.as_ref());
    fill(&mut headers.app_version, identity.app_version.as_ref());
    let other_headers = frame_headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
    RpcRequest { headers, method: "POST".to_owned(), body: call.body.0, other_headers }
}

fn rpc_result(id: u64, response: RpcResponse) -> RpcResult {
    let mut headers: std::collections::BTreeMap<String, String> = response.headers.into_iter().collect();
    if let Some(suite) = response.sealed_with {
        headers.insert("encrypt-suite".to_owned(), suite.to_owned());
    }
    RpcResult {
        id,
        result_status: u32::from(response.result.code()),
        memo: response.memo,
        tips: response.tips,
        trace_id: response.trace_id,
        status: u32::from(response.status),
        content_type: response.content_type,
        headers,
        body: midship_protocol::frame::Body(response.body),
        device_id: response.issued_device_id,
    }
}
