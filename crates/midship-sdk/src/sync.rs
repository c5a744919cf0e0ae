//! The device side of data sync: one long connection (`/ws`, docs/protocol.md) kept open with
//! backoff and jitter, handlers per bizType, exactly-once hand-over, and RPCs over the same
//! connection.
//!
//! Every persistent message carries its stream's sequence. The client remembers, on disk, the
//! last sequence the app's handler finished per bizType and user; a message at or below it is
//! acknowledged again without calling the handler, so the server's at-least-once delivery
//! becomes exactly-once for the app. The order is: handler returns, position written (and
//! synced) to disk, ack sent. A crash between the handler's return and the disk write is the one
//! case where a handler sees a message twice.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use midship_protocol::builtins::operation;
use midship_protocol::frame::{Ack, Hello, Ping, RpcCall, State};
use midship_protocol::headers;
use midship_protocol::{ClientFrame, Codec, ServerFrame, WireMessage, close};
use midship_signing::SignType;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::rpc::{CallSigner, DeviceIdentity, RpcReply};

/// How the device proves it belongs to the app.
#[derive(Clone)]
pub enum Credentials {
    /// The app's signing secret: the hello and every RPC are signed.
    Secret { secret: String, sign_type: SignType },
    /// A registered device's credential ([`crate::rpc::RpcClient::register`]), for the device id
    /// in the identity: the hello and every RPC are signed with it (`device-hmac-*`).
    Device { device_secret: String, sign_type: SignType },
    /// A connection token (from `midship.sync.token` or the app's backend). RPCs go unsigned,
    /// so only APIs that do not need a signature answer them.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Secret { sign_type, .. } => write!(formatter, "Secret({sign_type:?}, <redacted>)"),
            Credentials::Device { sign_type, .. } => write!(formatter, "Device({sign_type:?}, <redacted>)"),
            Credentials::Token(_) => formatter.write_str("Token(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// The server's base URL (`http://`, `https://`, `ws://` or `wss://`); `/ws` is added.
    pub server_url: String,
    pub app_id: String,
    pub workspace_id: String,
    pub credentials: Credentials,
    pub identity: DeviceIdentity,
    /// Where positions and the issued device id are kept between runs.
    pub state_dir: PathBuf,
    /// `midship.v1.protobuf` (smaller, compressed when large) or `midship.v1.json`.
    pub codec: Codec,
    /// The first wait before reconnecting; doubled after each failure up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// For the handshake, the welcome and each RPC.
    pub timeout: Duration,
}

impl SyncSettings {
    pub fn new(server_url: &str, app_id: &str, workspace_id: &str, credentials: Credentials, state_dir: &Path) -> Self {
        Self {
            server_url: server_url.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            credentials,
            identity: DeviceIdentity::default(),
            state_dir: state_dir.to_owned(),
            codec: Codec::Protobuf,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A message handed to a handler: `biz_type`, `seq` (0 for non-persistent messages), `msg_id`
/// (the sender's `third_msg_id`), `payload`, `created_at` (the server's clock) and `persistent`.
pub use midship_protocol::frame::SyncData as SyncMessage;

/// An RPC frame for the long connection, signed like `POST /mgw` when a signer is given (a
/// connection opened with a token carries unsigned calls).
pub fn rpc_call(id: u64, operation_type: &str, body: Vec<u8>, signer: Option<&CallSigner>) -> RpcCall {
    let mut headers = BTreeMap::from([(headers::OPERATION_TYPE.to_owned(), operation_type.to_owned())]);
    if let Some(signer) = signer {
        let signature = signer.sign(operation::RPC_METHOD, operation_type, &body);
        headers.insert(headers::TS.to_owned(), signature.timestamp);
        headers.insert(headers::NONCE.to_owned(), signature.nonce);
        headers.insert(headers::SIGN.to_owned(), signature.sign);
        headers.insert(headers::SIGN_TYPE.to_owned(), signer.sign_type.as_str().to_owned());
    }
    RpcCall { id, headers, body: midship_protocol::frame::Body(body.into()) }
}

/// Signs a hello: `ts`, `nonce`, `sign` and `sign_type` over the signing string of
/// docs/protocol.md (method `CONNECT`, operation type `midship.connect`, empty body). A device
/// sign type keys it with the device's credential and covers the hello's device and user.
pub fn sign_hello(hello: &mut Hello, secret: &str, sign_type: SignType) {
    let signer = CallSigner {
        sign_type,
        secret,
        app_id: &hello.app_id,
        workspace_id: &hello.workspace_id,
        device_id: hello.device_id.as_deref().unwrap_or(""),
        user_id: hello.user_id.as_deref().unwrap_or(""),
    };
    let signature = signer.sign(operation::CONNECT_METHOD, operation::CONNECT, b"");
    hello.ts = Some(signature.timestamp);
    hello.nonce = Some(signature.nonce);
    hello.sign = Some(signature.sign);
    hello.sign_type = Some(sign_type.as_str().to_owned());
}

/// Where the connection is, for state callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected {
        device_id: String,
    },
    /// The connection ended; the client tries again after `retry_in` unless it is `None`.
    Disconnected {
        close_code: Option<u16>,
        reason: String,
        retry_in: Option<Duration>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncClientError {
    #[error("cannot read or write the sync state in {path}: {source}")]
    State { path: PathBuf, source: std::io::Error },
    #[error("not connected")]
    NotConnected,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Handler = Arc<dyn Fn(SyncMessage) -> BoxedFuture + Send + Sync>;
type StateListener = Box<dyn Fn(&ConnectionState) + Send + Sync>;

/// What the app asks of the running connection.
enum Command {
    Rpc { operation_type: String, body: Vec<u8>, reply: oneshot::Sender<RpcReply> },
}

const POSITIONS_FILE: &str = "sync-positions.json";
const DEVICE_ID_FILE: &str = "device-id";

struct Inner {
    settings: SyncSettings,
    credentials: RwLock<Credentials>,
    handlers: RwLock<HashMap<String, Handler>>,
    listeners: Mutex<Vec<StateListener>>,
    /// `{user or "-"}/{bizType}` → the last sequence the handler finished.
    positions: Mutex<BTreeMap<String, i64>>,
    device_id: Mutex<Option<String>>,
    foreground: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
}

/// A running data-sync client. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct SyncClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SyncClient").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

fn read_state<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, SyncClientError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| SyncClientError::State {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(SyncClientError::State { path: path.to_owned(), source }),
    }
}

/// Replaces the state file atomically and syncs it, so a crash leaves the old or the new state.
fn write_state(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    crate::replace_file(path, &serde_json::to_vec(value).expect("state serializes"))
}

fn websocket_url(server_url: &str) -> String {
    let base = if let Some(rest) = server_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = server_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        server_url.to_owned()
    };
    format!("{base}/ws")
}

impl SyncClient {
    /// Reads the state kept by earlier runs; call [`Self::register`], then [`Self::start`].
    pub fn new(settings: SyncSettings) -> Result<Self, SyncClientError> {
        std::fs::create_dir_all(&settings.state_dir)
            .map_err(|source| SyncClientError::State { path: settings.state_dir.clone(), source })?;
        let positions = read_state(&settings.state_dir.join(POSITIONS_FILE))?;
        let stored_device: Option<String> = read_state(&settings.state_dir.join(DEVICE_ID_FILE))?;
        let device_id = settings.identity.device_id.clone().or(stored_device);
        let inner = Inner {
            credentials: RwLock::new(settings.credentials.clone()),
            settings,
            handlers: RwLock::default(),
            listeners: Mutex::default(),
            positions: Mutex::new(positions),
            device_id: Mutex::new(device_id),
            foreground: watch::Sender::new(true),
            stopped: watch::Sender::new(false),
            commands: Mutex::new(None),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Handles the bizType's messages, one at a time and in order; the message is acknowledged
    /// when the returned future completes. Register before [`Self::start`]: messages of
    /// bizTypes without a handler are left unacknowledged, so they come again later.
    pub fn register<F, Fut>(&self, biz_type: &str, handler: F)
    where
        F: Fn(SyncMessage) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |message| Box::pin(handler(message)));
        self.inner
            .handlers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(biz_type.to_owned(), handler);
    }

    pub fn on_state_change(&self, listener: impl Fn(&ConnectionState) + Send + Sync + 'static) {
        self.inner.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Box::new(listener));
    }

    /// Replaces the credentials for the next connection (a fresh token, say).
    pub fn set_credentials(&self, credentials: Credentials) {
        *self.inner.credentials.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = credentials;
    }

    /// Global bizTypes deliver only in the foreground; tell the server when the app moves.
    pub fn set_foreground(&self, foreground: bool) {
        self.inner.foreground.send_replace(foreground);
    }

    /// The device id in use: given, kept from an earlier run, or issued at the first connection.
    pub fn device_id(&self) -> Option<String> {
        self.inner.device_id.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The last sequence of the bizType the handler finished, for the current user.
    pub fn position(&self, biz_type: &str) -> i64 {
        let key = self.position_key(biz_type);
        self.inner.positions.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key).copied().unwrap_or(0)
    }

    fn position_key(&self, biz_type: &str) -> String {
        format!("{}/{biz_type}", self.inner.settings.identity.user_id.as_deref().unwrap_or("-"))
    }

    /// Connects, and keeps reconnecting with backoff and jitter until [`Self::stop`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        self.inner.stopped.send_replace(false);
        let client = self.clone();
        tokio::spawn(async move { client.run().await })
    }

    /// Closes the connection (code 1000) and stops reconnecting.
    pub fn stop(&self) {
        self.inner.stopped.send_replace(true);
    }

    /// Calls a gateway RPC over the connection: the same pipeline and result codes as
    /// `POST /mgw`.
    pub async fn rpc(&self, operation_type: &str, body: &Value) -> Result<RpcReply, SyncClientError> {
        let commands = self.inner.commands.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let commands = commands.ok_or(SyncClientError::NotConnected)?;
        let (reply, answer) = oneshot::channel();
        let body = serde_json::to_vec(body).expect("JSON values serialize");
        let command = Command::Rpc { operation_type: operation_type.to_owned(), body, reply };
        commands.send(command).await.map_err(|_| SyncClientError::NotConnected)?;
        let timeout = self.inner.settings.timeout;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(SyncClientError::NotConnected),
            Err(_) => Err(SyncClientError::Timeout(timeout)),
        }
    }

    fn notify(&self, state: ConnectionState) {
        for listener in self.inner.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
            listener(&state);
        }
    }

    async fn run(&self) {
        let mut failures: u32 = 0;
        let mut stopped = self.inner.stopped.subscribe();
        while !*stopped.borrow_and_update() {
            self.notify(ConnectionState::Connecting);
            let ended = self.connect_once().await;
            if ended.welcomed {
                failures = 0;
            } else {
                failures = failures.saturating_add(1);
            }
            let give_up = ended.close_code == Some(close::REPLACED) || *stopped.borrow();
            let retry_in = (!give_up).then(|| self.backoff(failures));
            self.notify(ConnectionState::Disconnected { close_code: ended.close_code, reason: ended.reason, retry_in });
            let Some(retry_in) = retry_in else { break };
            tokio::select! {
                () = tokio::time::sleep(retry_in) => {}
                _ = stopped.wait_for(|stopped| *stopped).map(|_| ()) => {}
            }
        }
    }

    /// `backoff_min × 2^failures`, capped, then a random half to all of it, so devices that lost
    /// a server together do not come back together.
    fn backoff(&self, failures: u32) -> Duration {
        let settings = &self.inner.settings;
        let ceiling =
            settings.backoff_min.saturating_mul(2u32.saturating_pow(failures.min(16))).min(settings.backoff_max);
        ceiling.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }

    fn hello(&self) -> Hello {
        let settings = &self.inner.settings;
        let identity = &settings.identity;
        let prefix = format!("{}/", identity.user_id.as_deref().unwrap_or("-"));
        let positions = self
            .inner
            .positions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter_map(|(key, seq)| key.strip_prefix(&prefix).map(|biz_type| (biz_type.to_owned(), *seq)))
            .collect();
        let mut hello = Hello {
            app_id: settings.app_id.clone(),
            workspace_id: settings.workspace_id.clone(),
            device_id: self.device_id(),
            user_id: identity.user_id.clone(),
            platform: identity.platform.clone(),
            app_version: identity.app_version.clone(),
            os_version: identity.os_version.clone(),
            foreground: *self.inner.foreground.borrow(),
            positions,
            ..Hello::default()
        };
        match &*self.inner.credentials.read().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Credentials::Secret { secret, sign_type } => sign_hello(&mut hello, secret, *sign_type),
            Credentials::Device { device_secret, sign_type } => {
                sign_hello(&mut hello, device_secret, sign_type.for_device())
            }
            Credentials::Token(token) => hello.token = Some(token.clone()),
        }
        hello
    }

    fn rpc_call(&self, id: u64, operation_type: &str, body: Vec<u8>) -> RpcCall {
        let settings = &self.inner.settings;
        let credentials = self.inner.credentials.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let device_id = self.device_id().unwrap_or_default();
        let user_id = settings.identity.user_id.clone().unwrap_or_default();
        let (secret, sign_type) = match &*credentials {
            Credentials::Secret { secret, sign_type } => (secret, *sign_type),
            Credentials::Device { device_secret, sign_type } => (device_secret, sign_type.for_device()),
            Credentials::Token(_) => return rpc_call(id, operation_type, body, None),
        };
        let signer = CallSigner {
            sign_type,
            secret,
            app_id: &settings.app_id,
            workspace_id: &settings.workspace_id,
            device_id: &device_id,
            user_id: &user_id,
        };
        rpc_call(id, operation_type, body, Some(&signer))
    }

    /// One connection, from handshake to close.
    async fn connect_once(&self) -> Ended {
        let settings = &self.inner.settings;
        let codec = settings.codec;
        let mut request = match websocket_url(&settings.server_url).into_client_request() {
            Ok(request) => request,
            Err(error) => return Ended::failed(format!("bad server url: {error}")),
        };
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(codec.subprotocol()));
        let config = WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(0);
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        let mut socket = match tokio::time::timeout(settings.timeout, connecting).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(error)) => return Ended::failed(format!("cannot connect: {error}")),
            Err(_) => return Ended::failed("connecting timed out".to_owned()),
        };
        let max_frame_bytes = 16 * 1024 * 1024;
        let mut connection = ClientConnection { socket: &mut socket, codec };
        if let Err(ended) = connection.send(ClientFrame::Hello(Box::new(self.hello()))).await {
            return ended;
        }
        let welcome = match tokio::time::timeout(settings.timeout, connection.receive(max_frame_bytes)).await {
            Ok(Ok(ServerFrame::Welcome(welcome))) => welcome,
            Ok(Ok(_)) => return Ended::failed("the server did not start with a welcome".to_owned()),
            Ok(Err(ended)) => return ended,
            Err(_) => return Ended::failed("no welcome in time".to_owned()),
        };
        self.remember_device(&welcome.device_id);
        self.notify(ConnectionState::Connected { device_id: welcome.device_id.clone() });
        let (commands, mut command_receiver) = mpsc::channel(64);
        *self.inner.commands.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(commands);
        let mut ended =
            self.serve(&mut connection, &mut command_receiver, welcome.heartbeat_seconds, max_frame_bytes).await;
        *self.inner.commands.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        ended.welcomed = true;
        ended
    }

    fn remember_device(&self, device_id: &str) {
        let mut current = self.inner.device_id.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.as_deref() != Some(device_id) {
            *current = Some(device_id.to_owned());
            let path = self.inner.settings.state_dir.join(DEVICE_ID_FILE);
            if let Err(error) = write_state(&path, &current.clone()) {
                eprintln!("midship sync: cannot save the device id to {}: {error}", path.display());
            }
        }
    }

    async fn serve(
        &self,
        connection: &mut ClientConnection<'_>,
        commands: &mut mpsc::Receiver<Command>,
        heartbeat_seconds: u32,
        max_frame_bytes: usize,
    ) -> Ended {
        let mut foreground = self.inner.foreground.subscribe();
        let mut stopped = self.inner.stopped.subscribe();
        let heartbeat = Duration::from_secs(u64::from(heartbeat_seconds.max(1)));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        let mut pending: HashMap<u64, oneshot::Sender<RpcReply>> = HashMap::new();
        let mut next_id = 1u64;
        loop {
            let outcome: Result<(), Ended> = tokio::select! {
                frame = connection.receive(max_frame_bytes) => match frame {
                    Ok(frame) => self.on_frame(connection, frame, &mut pending).await,
                    Err(ended) => Err(ended),
                },
                _ = ticker.tick() => connection.send(ClientFrame::Ping(Ping { id: 0 })).await,
                Ok(()) = foreground.changed() => {
                    let now_foreground = *foreground.borrow_and_update();
                    connection.send(ClientFrame::State(State { foreground: now_foreground })).await
                }
                Some(Command::Rpc { operation_type, body, reply }) = commands.recv() => {
                    let id = next_id;
                    next_id += 1;
                    pending.insert(id, reply);
                    connection.send(ClientFrame::Rpc(self.rpc_call(id, &operation_type, body))).await
                }
                _ = stopped.wait_for(|stopped| *stopped).map(|_| ()) => {
                    let frame = tungstenite::protocol::CloseFrame { code: CloseCode::Normal, reason: "stopped".into() };
                    let _ = connection.socket.close(Some(frame)).await;
                    Err(Ended { close_code: Some(1000), reason: "stopped".to_owned(), welcomed: true })
                }
            };
            if let Err(ended) = outcome {
                return ended;
            }
        }
    }

    async fn on_frame(
        &self,
        connection: &mut ClientConnection<'_>,
        frame: ServerFrame,
        pending: &mut HashMap<u64, oneshot::Sender<RpcReply>>,
    ) -> Result<(), Ended> {
        match frame {
            ServerFrame::Sync(data) => {
                let handler = self
                    .inner
                    .handlers
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .get(&data.biz_type)
                    .cloned();
                let Some(handler) = handler else { return Ok(()) };
                let message = data;
                if !message.persistent {
                    handler(message).await;
                    return Ok(());
                }
                let (biz_type, seq) = (message.biz_type.clone(), message.seq);
                if seq > self.position(&biz_type) {
                    handler(message).await;
                    self.save_position(&biz_type, seq);
                }
                connection.send(ClientFrame::Ack(Ack { biz_type, seq })).await
            }
            ServerFrame::RpcResult(result) => {
                if let Some(reply) = pending.remove(&result.id) {
                    let _ = reply.send(RpcReply {
                        result: u16::try_from(result.result_status).unwrap_or(5000),
                        memo: result.memo,
                        tips: result.tips,
                        trace_id: result.trace_id,
                        http_status: u16::try_from(result.status).unwrap_or(500),
                        body: result.body.0.to_vec(),
                    });
                }
                Ok(())
            }
            ServerFrame::Welcome(_) | ServerFrame::Pong(_) => Ok(()),
        }
    }

    fn save_position(&self, biz_type: &str, seq: i64) {
        let key = self.position_key(biz_type);
        let mut positions = self.inner.positions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        positions.insert(key, seq);
        let path = self.inner.settings.state_dir.join(POSITIONS_FILE);
        if let Err(error) = write_state(&path, &*positions) {
            eprintln!("midship sync: cannot save positions to {}: {error}", path.display());
        }
    }
}

/// How a connection ended.
#[derive(Debug)]
struct Ended {
    close_code: Option<u16>,
    reason: String,
    /// The server welcomed it, so the backoff starts over.
    welcomed: bool,
}

impl Ended {
    fn failed(reason: String) -> Self {
        Self { close_code: None, reason, welcomed: false }
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct ClientConnection<'a> {
    socket: &'a mut Socket,
    codec: Codec,
}

impl ClientConnection<'_> {
    async fn send(&mut self, frame: ClientFrame) -> Result<(), Ended> {
        let message = match self.codec.encode_client(frame) {
            WireMessage::Text(bytes) => Message::Text(bytes.try_into().expect("frames are UTF-8")),
            WireMessage::Binary(bytes) => Message::Binary(bytes),
        };
        self.socket.send(message).await.map_err(|error| Ended::failed(format!("cannot write: {error}")))
    }

    /// The next frame from the server; `Err` when the connection ended.
    async fn receive(&mut self, max_frame_bytes: usize) -> Result<ServerFrame, Ended> {
        loop {
            let wire = match self.socket.next().await {
                None => return Err(Ended::failed("the connection closed".to_owned())),
                Some(Err(error)) => return Err(Ended::failed(format!("cannot read: {error}"))),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(Ended { close_code: Some(code), reason, welcomed: false });
                }
                Some(Ok(Message::Text(text))) => WireMessage::Text(text.into()),
                Some(Ok(Message::Binary(bytes))) => WireMessage::Binary(bytes),
                Some(Ok(_)) => continue,
            };
            return self
                .codec
                .decode_server(&wire, max_frame_bytes)
                .map_err(|error| Ended::failed(format!("the server sent a bad frame: {error}")));
        }
    }
}
