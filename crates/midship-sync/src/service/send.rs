//! Sending: checks, then the writer's next transaction, then the bus to the hubs; and where a
//! stream stands.

use std::str::FromStr;
use std::sync::Arc;

use midship_core::access::Action;
use midship_core::{Platform, Principal, Workspace};
use midship_storage::{
    AppendOutcome, NewSyncMessage, ScheduleOutcome, StorageError, SyncAppend, SyncMessageRecord, SyncStream,
    SyncTargetKind,
};

use super::{
    MAX_BATCH_MESSAGES, MAX_PAYLOAD_CHARS, StreamStatus, SyncError, SyncService, check_id, invalid, refuse_builtin,
};
use crate::config::{Delivery, SyncConfig};
use crate::message::{SyncMessage, VersionRange, delivery_condition};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    pub biz_type: String,
    /// The userId or utdid the message is for.
    pub link_token: String,
    pub payload: String,
    /// The sender's id, unique per bizType and target: a repeat is answered as a duplicate.
    pub third_msg_id: String,
    /// Deliver only to devices of this platform (`android`, `ios`, ...).
    pub os_type: Option<String>,
    pub app_version_range: Option<VersionRange>,
    /// Not delivered before this (milliseconds since the epoch).
    pub valid_from: Option<i64>,
    /// Not delivered (and purged) after this.
    pub valid_until: Option<i64>,
    /// Store and deliver only if the target is online now.
    pub online_check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Stored (persistent) or handed to the online devices (non-persistent).
    Success,
    /// The stream already had this thirdMsgId; nothing new was stored.
    Duplicated,
    /// `online_check` was asked and the target has no connection; nothing was stored.
    TargetOffline,
}

impl SendResult {
    /// The mPaaS-style result string of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SendResult::Success => "SUCCESS",
            SendResult::Duplicated => "DUPLICATED_BIZ_ID",
            SendResult::TargetOffline => "TARGET_OFFLINE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    pub result: SendResult,
    /// The message's place in its stream; `None` for non-persistent and scheduled messages.
    pub seq: Option<i64>,
    /// Waits for its `valid_from` before entering the stream.
    pub scheduled: bool,
}

/// A send after its checks.
enum Prepared {
    /// Nothing for the writer: offline target, non-persistent or scheduled message.
    Answered(SendOutcome),
    Append {
        append: SyncAppend,
        latest_device_only: bool,
    },
}

impl SyncService {
    pub(super) fn stream(workspace_id: &str, config: &SyncConfig, link_token: &str) -> SyncStream {
        let global = config.target_kind() == SyncTargetKind::Global;
        SyncStream {
            workspace_id: workspace_id.to_owned(),
            biz_type: config.biz_type.clone(),
            target_kind: config.target_kind(),
            target_id: if global { String::new() } else { link_token.to_owned() },
        }
    }

    /// Sends one message. A persistent one is durable in its stream before this answers, then
    /// goes to the target's online devices; a non-persistent one goes only to those.
    pub async fn send(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: SendRequest,
    ) -> Result<SendOutcome, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        refuse_builtin(&request)?;
        self.send_in(&workspace, request).await
    }

    /// Sends up to [`MAX_BATCH_MESSAGES`] messages at once, each with its own outcome: they are
    /// written together (one transaction) and a bad one does not stop the others.
    pub async fn send_batch(
        &self,
        who: &Principal,
        workspace_id: &str,
        requests: Vec<SendRequest>,
    ) -> Result<Vec<Result<SendOutcome, SyncError>>, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        if requests.is_empty() || requests.len() > MAX_BATCH_MESSAGES {
            return Err(invalid("messages", format!("send 1 to {MAX_BATCH_MESSAGES} messages")));
        }
        requests.iter().try_for_each(refuse_builtin)?;
        self.send_batch_in(&workspace, requests).await
    }

    /// [`Self::send_batch`] for Midship's own services, which checked who asks already and may
    /// send larger batches (push sends a dispatcher step to its built-in bizType this way).
    pub async fn send_batch_in(
        &self,
        workspace: &Workspace,
        requests: Vec<SendRequest>,
    ) -> Result<Vec<Result<SendOutcome, SyncError>>, SyncError> {
        // Checked in order, then handed to the writer in order, so messages of one stream are
        // numbered in the order given.
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            prepared.push(self.prepare(workspace, request).await);
        }
        let appends: Vec<SyncAppend> = prepared
            .iter()
            .filter_map(|prepared| match prepared {
                Ok(Prepared::Append { append, .. }) => Some(append.clone()),
                _ => None,
            })
            .collect();
        let mut stored = self.inner.writer.append_all(appends).await.into_iter();
        let mut outcomes = Vec::with_capacity(prepared.len());
        for prepared in prepared {
            outcomes.push(match prepared {
                Ok(Prepared::Answered(outcome)) => Ok(outcome),
                Ok(Prepared::Append { append, latest_device_only }) => match stored.next() {
                    Some(Ok(outcome)) => Ok(self.finish(&append, latest_device_only, outcome).await),
                    Some(Err(error)) => Err(error.into()),
                    None => Err(SyncError::from(StorageError::Database("the sync writer answered too few".into()))),
                },
                Err(error) => Err(error),
            });
        }
        Ok(outcomes)
    }

    async fn send_in(&self, workspace: &Workspace, request: SendRequest) -> Result<SendOutcome, SyncError> {
        match self.prepare(workspace, request).await? {
            Prepared::Answered(outcome) => Ok(outcome),
            Prepared::Append { append, latest_device_only } => {
                let outcome = self.inner.writer.append(append.clone()).await?;
                Ok(self.finish(&append, latest_device_only, outcome).await)
            }
        }
    }

    /// Checks a send and does everything short of appending it: answers offline targets,
    /// hands non-persistent messages to the bus, schedules future ones.
    async fn prepare(&self, workspace: &Workspace, request: SendRequest) -> Result<Prepared, SyncError> {
        let workspace_id = workspace.workspace_id.as_str();
        let config = self.config(workspace_id, &request.biz_type).await?;
        let now = self.now_ms();
        self.check_send(&config, &request, now)?;
        let stream = Self::stream(workspace_id, &config, &request.link_token);
        if request.online_check && !self.inner.bus.is_online(workspace_id, stream.target_kind, &stream.target_id).await
        {
            return Ok(Prepared::Answered(SendOutcome {
                result: SendResult::TargetOffline,
                seq: None,
                scheduled: false,
            }));
        }
        let condition = delivery_condition(request.os_type.as_deref(), request.app_version_range.as_ref());
        let retention_end = now + config.retention_ms();
        let message = NewSyncMessage {
            stream,
            third_msg_id: request.third_msg_id,
            payload: request.payload,
            created_at: now,
            expires_at: request.valid_until.map_or(retention_end, |until| until.min(retention_end)),
            filter: condition.map(|condition| condition.to_string()),
        };
        let latest_device_only = config.delivery == Delivery::LatestDevice;
        if !config.persistent {
            self.publish(&message, 0, latest_device_only).await;
            return Ok(Prepared::Answered(SendOutcome { result: SendResult::Success, seq: None, scheduled: false }));
        }
        let append = SyncAppend { message, keep_newest: config.keep_newest(), id_expires_at: retention_end };
        let Some(due_at) = request.valid_from.filter(|from| *from > now) else {
            return Ok(Prepared::Append { append, latest_device_only });
        };
        let outcome = self.storage().schedule_sync_message(&append, due_at).await?;
        tracing::info!(
            app_id = %workspace.app_id,
            workspace_id,
            biz_type = %config.biz_type,
            third_msg_id = %append.message.third_msg_id,
            due_at,
            ?outcome,
            "sync message scheduled"
        );
        Ok(Prepared::Answered(match outcome {
            ScheduleOutcome::Scheduled { .. } => {
                SendOutcome { result: SendResult::Success, seq: None, scheduled: true }
            }
            ScheduleOutcome::Duplicate { seq } => {
                SendOutcome { result: SendResult::Duplicated, seq, scheduled: seq.is_none() }
            }
        }))
    }

    /// After the writer stored (or refused as a repeat) a message: the bus gets what was stored.
    async fn finish(&self, append: &SyncAppend, latest_device_only: bool, outcome: AppendOutcome) -> SendOutcome {
        match outcome {
            AppendOutcome::Appended { seq } => {
                self.publish(&append.message, seq, latest_device_only).await;
                SendOutcome { result: SendResult::Success, seq: Some(seq), scheduled: false }
            }
            AppendOutcome::Duplicate { seq } => {
                tracing::debug!(
                    third_msg_id = %append.message.third_msg_id,
                    ?seq,
                    "repeated thirdMsgId; nothing stored"
                );
                SendOutcome { result: SendResult::Duplicated, seq, scheduled: seq.is_none() }
            }
        }
    }

    fn check_send(&self, config: &SyncConfig, request: &SendRequest, now: i64) -> Result<(), SyncError> {
        let global = config.target_kind() == SyncTargetKind::Global;
        if global && !request.link_token.is_empty() {
            return Err(invalid("link_token", format!("bizType {} is global: send no link token", config.biz_type)));
        }
        if !global {
            check_id("link_token", &request.link_token)?;
        }
        check_id("third_msg_id", &request.third_msg_id)?;
        if request.payload.chars().count() > MAX_PAYLOAD_CHARS {
            return Err(invalid("payload", format!("must be at most {MAX_PAYLOAD_CHARS} characters")));
        }
        if let Some(os_type) = &request.os_type
            && Platform::from_str(&os_type.to_ascii_lowercase()).is_err()
        {
            let known: Vec<&str> = Platform::ALL.iter().map(|platform| platform.as_str()).collect();
            return Err(invalid("os_type", format!("must be one of {}", known.join(", "))));
        }
        if let Some(range) = &request.app_version_range {
            for (field, version) in [("min", &range.min), ("max", &range.max)] {
                if version.as_ref().is_some_and(|version| version.trim().is_empty() || version.len() > 64) {
                    return Err(invalid("app_version_range", format!("{field} must be a version such as 3.2.0")));
                }
            }
        }
        if let (Some(from), Some(until)) = (request.valid_from, request.valid_until)
            && from >= until
        {
            return Err(invalid("valid_until", "must be after valid_from"));
        }
        if request.valid_until.is_some_and(|until| until <= now) {
            return Err(invalid("valid_until", "is already past"));
        }
        if !config.persistent && request.valid_from.is_some_and(|from| from > now) {
            return Err(invalid("valid_from", "a non-persistent message goes out at once; it cannot wait"));
        }
        if request.valid_from.is_some_and(|from| from > now + config.retention_ms()) {
            return Err(invalid("valid_from", "must be within the bizType's retention"));
        }
        Ok(())
    }

    pub(super) async fn publish(&self, message: &NewSyncMessage, seq: i64, latest_device_only: bool) {
        let record = SyncMessageRecord {
            seq,
            third_msg_id: message.third_msg_id.clone(),
            payload: message.payload.clone(),
            created_at: message.created_at,
            expires_at: message.expires_at,
            filter: message.filter.clone(),
        };
        let message = SyncMessage::new(message.stream.clone(), record, latest_device_only);
        self.inner.bus.publish(Arc::new(message)).await;
    }

    /// The stream's last sequence, whether its target is online and, for a named device, how far
    /// it acknowledged.
    pub async fn status(
        &self,
        who: &Principal,
        workspace_id: &str,
        biz_type: &str,
        link_token: &str,
        device_id: Option<&str>,
    ) -> Result<StreamStatus, SyncError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let config = self.config(workspace_id, biz_type).await?;
        let stream = Self::stream(workspace_id, &config, link_token);
        self.inner.writer.flush_acks().await;
        let position = self.storage().sync_position(&stream, device_id.unwrap_or_default()).await?;
        let (last_seq, acked_seq) = (position.last_seq, device_id.map(|_| position.acked_seq));
        let online = self.inner.bus.is_online(workspace_id, stream.target_kind, &stream.target_id).await;
        Ok(StreamStatus { last_seq, acked_seq, online })
    }
}
