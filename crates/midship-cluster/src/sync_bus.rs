//! The cluster's `midship_sync::Bus`: messages dispatched here at once and published for the
//! other nodes; presence and kicks asked of every node.

use std::sync::Arc;

use async_trait::async_trait;
use midship_storage::{SyncMessageRecord, SyncStream, SyncTargetKind};
use midship_sync::hub::Member;
use midship_sync::{Bus, Hub, Kick, SyncMessage};
use serde::{Deserialize, Serialize};

use crate::{Cluster, ClusterError};

/// A sync message on the bus: everything a node needs to route it to its devices.
#[derive(Debug, Serialize, Deserialize)]
struct MessageFrame {
    origin: String,
    workspace_id: String,
    biz_type: String,
    target_kind: String,
    target_id: String,
    seq: i64,
    third_msg_id: String,
    payload: String,
    created_at: i64,
    expires_at: i64,
    filter: Option<String>,
    latest_device_only: bool,
}

impl MessageFrame {
    fn new(origin: &str, message: &SyncMessage) -> Self {
        let record = message.record();
        Self {
            origin: origin.to_owned(),
            workspace_id: message.stream.workspace_id.clone(),
            biz_type: message.stream.biz_type.clone(),
            target_kind: message.stream.target_kind.as_str().to_owned(),
            target_id: message.stream.target_id.clone(),
            seq: record.seq,
            third_msg_id: record.third_msg_id,
            payload: record.payload,
            created_at: record.created_at,
            expires_at: record.expires_at,
            filter: record.filter,
            latest_device_only: message.latest_device_only,
        }
    }

    fn into_message(self) -> Option<SyncMessage> {
        let stream = SyncStream {
            workspace_id: self.workspace_id,
            biz_type: self.biz_type,
            target_kind: SyncTargetKind::parse(&self.target_kind)?,
            target_id: self.target_id,
        };
        let record = SyncMessageRecord {
            seq: self.seq,
            third_msg_id: self.third_msg_id,
            payload: self.payload,
            created_at: self.created_at,
            expires_at: self.expires_at,
            filter: self.filter,
        };
        Some(SyncMessage::new(stream, record, self.latest_device_only))
    }
}

/// "Does this target have a connection on your node?"
#[derive(Debug, Serialize, Deserialize)]
struct PresenceQuestion {
    origin: String,
    workspace_id: String,
    target_kind: String,
    target_id: String,
}

/// "Close this device's connection if you hold it."
#[derive(Debug, Serialize, Deserialize)]
struct KickRequest {
    origin: String,
    workspace_id: String,
    device_id: String,
    reason: u8,
}

/// "This device (of this user) connected to me."
#[derive(Debug, Serialize, Deserialize)]
struct DeviceConnected {
    origin: String,
    workspace_id: String,
    device_id: String,
    user_id: Option<String>,
    connected_at: i64,
}

#[derive(Debug)]
pub struct SyncBus {
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
}

impl SyncBus {
    /// Routes the cluster's sync traffic into `hub`, and answers the other nodes' questions
    /// about it.
    pub async fn start(cluster: Arc<Cluster>, hub: Arc<Hub>) -> Result<Arc<Self>, ClusterError> {
        let to_hub = hub.clone();
        cluster
            .subscribe_frames("sync.message", move |frame: MessageFrame| {
                if let Some(message) = frame.into_message() {
                    to_hub.dispatch(&Arc::new(message));
                }
            })
            .await?;
        let to_hub = hub.clone();
        cluster
            .answer("sync.presence", move |question: PresenceQuestion| {
                SyncTargetKind::parse(&question.target_kind)
                    .is_some_and(|kind| to_hub.is_online(&question.workspace_id, kind, &question.target_id))
            })
            .await?;
        let to_hub = hub.clone();
        cluster
            .answer("sync.kick", move |request: KickRequest| {
                Kick::from_code(request.reason)
                    .is_some_and(|reason| to_hub.kick_device(&request.workspace_id, &request.device_id, reason))
            })
            .await?;
        let to_hub = hub.clone();
        cluster
            .subscribe_frames("sync.device-connected", move |frame: DeviceConnected| {
                to_hub.connected_elsewhere(Member {
                    workspace_id: &frame.workspace_id,
                    device_id: &frame.device_id,
                    user_id: frame.user_id.as_deref(),
                    connected_at: frame.connected_at,
                })
            })
            .await?;
        let to_hub = hub.clone();
        cluster.subscribe_frames("catch-up", move |_: crate::Origin| to_hub.catch_up_all()).await?;
        let mut reconnects = cluster.reconnects();
        let to_hub = hub.clone();
        cluster.spawn(async move {
            while reconnects.changed().await.is_ok() {
                to_hub.catch_up_all();
            }
        });
        Ok(Arc::new(Self { cluster, hub }))
    }
}

#[async_trait]
impl Bus for SyncBus {
    async fn publish(&self, message: Arc<SyncMessage>) {
        self.hub.dispatch(&message);
        self.cluster.publish("sync.message", &MessageFrame::new(&self.cluster.node_id, &message)).await;
    }

    async fn is_online(&self, workspace_id: &str, kind: SyncTargetKind, target_id: &str) -> bool {
        if self.hub.is_online(workspace_id, kind, target_id) {
            return true;
        }
        let question = PresenceQuestion {
            origin: self.cluster.node_id.clone(),
            workspace_id: workspace_id.to_owned(),
            target_kind: kind.as_str().to_owned(),
            target_id: target_id.to_owned(),
        };
        self.cluster.ask_others("sync.presence", &question).await
    }

    async fn kick_device(&self, workspace_id: &str, device_id: &str, reason: Kick) -> bool {
        if self.hub.kick_device(workspace_id, device_id, reason) {
            return true;
        }
        let request = KickRequest {
            origin: self.cluster.node_id.clone(),
            workspace_id: workspace_id.to_owned(),
            device_id: device_id.to_owned(),
            reason: reason.code(),
        };
        self.cluster.ask_others("sync.kick", &request).await
    }

    fn device_connected(&self, member: Member<'_>) {
        let cluster = self.cluster.clone();
        let frame = DeviceConnected {
            origin: cluster.node_id.clone(),
            workspace_id: member.workspace_id.to_owned(),
            device_id: member.device_id.to_owned(),
            user_id: member.user_id.map(str::to_owned),
            connected_at: member.connected_at,
        };
        tokio::spawn(async move { cluster.publish("sync.device-connected", &frame).await });
    }
}
