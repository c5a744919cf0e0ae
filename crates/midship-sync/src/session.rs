//! One device's connection as data sync sees it: which streams it has, how far each was sent and
//! acknowledged, and what to send next. The transport (the server's WebSocket task) drives it
//! and writes what it returns, in order.
//!
//! Per stream, messages go out in sequence order with at most `window` unacknowledged. Live
//! messages from the hub are sent straight away when they are the next in line; anything else —
//! a gap, a full window, a global stream while in the background — marks the stream as behind,
//! and it is caught up from storage, which always has every persistent message the hub saw.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use midship_storage::{SyncAck, SyncStream, SyncTargetKind};
use serde_json::Value;

use crate::config::{Delivery, SyncConfig};
use crate::hub::{Kick, Member, Registration};
use crate::message::{SyncMessage, device_attributes};
use crate::service::{SyncError, SyncService};

/// Who is connected, as the connection's authentication established it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub app_id: String,
    pub workspace_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    /// The userId came from a connection token the backend minted, not only from the device.
    pub user_verified: bool,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    pub os_version: Option<String>,
}

#[derive(Debug)]
pub enum SessionEvent {
    /// Routed here by the hub; pass it to [`DeviceSession::on_message`].
    Message(Arc<SyncMessage>),
    /// The hub ends this connection.
    Kicked(Kick),
    /// Live messages may have been missed; call [`DeviceSession::catch_up`].
    CatchUp,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The device broke the protocol; close the connection.
    #[error("{0}")]
    ProtocolViolation(String),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

#[derive(Debug)]
struct StreamState {
    stream: SyncStream,
    config: Arc<SyncConfig>,
    /// The highest sequence handled: delivered, or skipped because it is not for this device.
    sent: i64,
    acked: i64,
    /// Delivered and not yet acknowledged, in order.
    unacked: VecDeque<i64>,
    /// Storage may hold messages above `sent` that this connection has not looked at.
    behind: bool,
}

#[derive(Debug)]
pub struct DeviceSession {
    service: SyncService,
    identity: DeviceIdentity,
    attributes: Value,
    registration: Registration,
    foreground: bool,
    streams: HashMap<String, StreamState>,
}

impl DeviceSession {
    pub(crate) fn new(service: SyncService, identity: DeviceIdentity, foreground: bool) -> Self {
        let member = Member {
            workspace_id: &identity.workspace_id,
            device_id: &identity.device_id,
            user_id: identity.user_id.as_deref(),
            connected_at: service.now_ms(),
        };
        let registration = service.hub().register(member);
        service.bus().device_connected(member);
        let attributes = device_attributes(
            identity.platform.as_deref(),
            identity.app_version.as_deref(),
            identity.os_version.as_deref(),
        );
        Self { service, identity, attributes, registration, foreground, streams: HashMap::new() }
    }

    pub fn connection_id(&self) -> u64 {
        self.registration.connection_id
    }

    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// Sets up every stream of the device — from the position the app says it processed, or
    /// else from the device's acknowledged position — and answers the backlog to send.
    pub async fn start(&mut self, positions: &BTreeMap<String, i64>) -> Result<Vec<Arc<SyncMessage>>, SyncError> {
        let configs = self.service.configs(&self.identity.workspace_id).await?;
        // Acks of this device's previous connection may still be on their way to storage.
        self.service.flush_acks().await;
        let mut backlog = Vec::new();
        for config in configs.iter() {
            if self.init_stream(config.clone(), positions.get(&config.biz_type).copied()).await? {
                backlog.extend(self.pump(&config.biz_type).await?);
            }
        }
        Ok(backlog)
    }

    /// Waits for the next message routed to this connection, or for the hub to end it.
    /// Cancel-safe, so it can sit in a `select!` beside the socket.
    pub async fn next_event(&mut self) -> SessionEvent {
        let registration = &mut self.registration;
        tokio::select! {
            biased;
            kick = registration.signal.kicked() => SessionEvent::Kicked(kick),
            () = registration.catch_up.notified() => SessionEvent::CatchUp,
            message = registration.messages.recv() => match message {
                Some(message) => SessionEvent::Message(message),
                None => SessionEvent::Kicked(registration.signal.reason().unwrap_or(Kick::Replaced)),
            },
        }
    }

    /// What to send for a message the hub routed here.
    pub async fn on_message(&mut self, message: Arc<SyncMessage>) -> Result<Vec<Arc<SyncMessage>>, SyncError> {
        let biz_type = message.stream.biz_type.clone();
        if !self.streams.contains_key(&biz_type) {
            let configs = self.service.configs(&self.identity.workspace_id).await?;
            let Some(config) = configs.iter().find(|config| config.biz_type == biz_type).cloned() else {
                return Ok(Vec::new());
            };
            if !self.init_stream(config, None).await? {
                return Ok(Vec::new());
            }
        }
        let now = self.service.now_ms();
        let window = self.service.window();
        let foreground = self.foreground;
        let Some(state) = self.streams.get_mut(&biz_type) else { return Ok(Vec::new()) };
        if state.stream != message.stream {
            return Ok(Vec::new());
        }
        let visible = foreground || state.stream.target_kind != SyncTargetKind::Global;
        if !message.persistent() {
            let deliver = visible && message.deliverable_to(&self.attributes, now);
            return Ok(if deliver { vec![message] } else { Vec::new() });
        }
        if message.seq <= state.sent {
            return Ok(Vec::new());
        }
        if state.behind || message.seq != state.sent + 1 || state.unacked.len() >= window || !visible {
            state.behind = true;
            return self.pump(&biz_type).await;
        }
        state.sent = message.seq;
        if message.deliverable_to(&self.attributes, now) {
            state.unacked.push_back(message.seq);
            return Ok(vec![message]);
        }
        Ok(Vec::new())
    }

    /// Reads every stream from storage again, as far as the window allows: what went past this
    /// connection while the cluster bus was down.
    pub async fn catch_up(&mut self) -> Result<Vec<Arc<SyncMessage>>, SyncError> {
        let biz_types: Vec<String> = self.streams.keys().cloned().collect();
        let mut out = Vec::new();
        for biz_type in biz_types {
            if let Some(state) = self.streams.get_mut(&biz_type) {
                state.behind = true;
            }
            out.extend(self.pump(&biz_type).await?);
        }
        Ok(out)
    }

    /// The app processed the bizType's stream up to `seq`; answers what the freed window lets
    /// through.
    pub async fn ack(&mut self, biz_type: &str, seq: i64) -> Result<Vec<Arc<SyncMessage>>, SessionError> {
        let Some(state) = self.streams.get_mut(biz_type) else {
            return Err(SessionError::ProtocolViolation(format!(
                "ack for bizType {biz_type}, which this connection has no stream of"
            )));
        };
        if seq > state.sent {
            return Err(SessionError::ProtocolViolation(format!(
                "ack of sequence {seq} of {biz_type}, but only up to {} was sent",
                state.sent
            )));
        }
        if seq <= state.acked {
            return Ok(Vec::new());
        }
        state.acked = seq;
        while state.unacked.front().is_some_and(|&front| front <= seq) {
            state.unacked.pop_front();
        }
        self.service.record_ack(SyncAck {
            stream: state.stream.clone(),
            device_id: self.identity.device_id.clone(),
            seq,
            at: self.service.now_ms(),
        });
        Ok(self.pump(biz_type).await?)
    }

    /// The app moved to the foreground or background; global data flows only in the foreground.
    pub async fn set_foreground(&mut self, foreground: bool) -> Result<Vec<Arc<SyncMessage>>, SyncError> {
        self.foreground = foreground;
        let mut released = Vec::new();
        if foreground {
            let global: Vec<String> = self
                .streams
                .values()
                .filter(|state| state.stream.target_kind == SyncTargetKind::Global)
                .map(|state| state.stream.biz_type.clone())
                .collect();
            for biz_type in global {
                released.extend(self.pump(&biz_type).await?);
            }
        }
        Ok(released)
    }

    /// Creates the stream's state; `false` when the bizType has no stream for this device
    /// (a user target on a connection without a user, or without a verified one).
    async fn init_stream(&mut self, config: Arc<SyncConfig>, position: Option<i64>) -> Result<bool, SyncError> {
        let identity = &self.identity;
        let target_id = match config.target_kind() {
            SyncTargetKind::User => match &identity.user_id {
                Some(user_id) if identity.user_verified || !config.verified_users_only => user_id.clone(),
                _ => return Ok(false),
            },
            SyncTargetKind::Device => identity.device_id.clone(),
            SyncTargetKind::Global => String::new(),
        };
        let stream = SyncStream {
            workspace_id: identity.workspace_id.clone(),
            biz_type: config.biz_type.clone(),
            target_kind: config.target_kind(),
            target_id,
        };
        let stored =
            self.service.storage().sync_position(&stream, &identity.device_id).await.map_err(SyncError::from)?;
        let start = position.filter(|position| *position >= 0).unwrap_or(stored.acked_seq);
        if start > stored.acked_seq {
            self.service.record_ack(SyncAck {
                stream: stream.clone(),
                device_id: identity.device_id.clone(),
                seq: start,
                at: self.service.now_ms(),
            });
        }
        // Nothing newer in storage: no need to look until a message arrives.
        let behind = stored.last_seq > start;
        let state = StreamState { stream, config, sent: start, acked: start, unacked: VecDeque::new(), behind };
        self.streams.insert(state.stream.biz_type.clone(), state);
        Ok(true)
    }

    /// Loads what the stream has above `sent` from storage, as far as the window allows.
    async fn pump(&mut self, biz_type: &str) -> Result<Vec<Arc<SyncMessage>>, SyncError> {
        let window = self.service.window();
        let foreground = self.foreground;
        let hub = self.service.hub().clone();
        let Some(state) = self.streams.get_mut(biz_type) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        if !state.behind || (state.stream.target_kind == SyncTargetKind::Global && !foreground) {
            return Ok(out);
        }
        let latest_device_only = state.config.delivery == Delivery::LatestDevice;
        if latest_device_only
            && !hub.is_latest_device(&state.stream.workspace_id, &state.stream.target_id, &self.identity.device_id)
        {
            return Ok(out);
        }
        loop {
            let room = window.saturating_sub(state.unacked.len());
            if room == 0 {
                return Ok(out);
            }
            let records = self
                .service
                .storage()
                .sync_messages_after(&state.stream, state.sent, room as u32)
                .await
                .map_err(SyncError::from)?;
            let now = self.service.now_ms();
            let loaded = records.len();
            for record in records {
                state.sent = record.seq;
                let message = SyncMessage::new(state.stream.clone(), record, latest_device_only);
                if message.deliverable_to(&self.attributes, now) {
                    state.unacked.push_back(message.seq);
                    out.push(Arc::new(message));
                }
            }
            if loaded < room {
                state.behind = false;
                return Ok(out);
            }
        }
    }
}

impl Drop for DeviceSession {
    fn drop(&mut self) {
        self.service.hub().unregister(
            &self.identity.workspace_id,
            &self.identity.device_id,
            self.registration.connection_id,
        );
    }
}
