//! Midship's own channel: a message per device in the device's `midship.push` sync stream, so it
//! reaches the device over the long connection now or when it next connects, until it expires.
//! The stream's message id is the task id, so a resumed dispatch never stores a message twice.

use async_trait::async_trait;
use midship_core::Workspace;
use midship_sync::{PUSH_BIZ_TYPE, SendRequest, SyncService};

use super::{ChannelResult, Outgoing, PushChannel};
use crate::message::OwnChannelPayload;

#[derive(Debug, Clone)]
pub struct OwnChannel {
    pub sync: SyncService,
}

pub fn request(device_id: &str, third_msg_id: &str, payload: &OwnChannelPayload, valid_until: i64) -> SendRequest {
    SendRequest {
        biz_type: PUSH_BIZ_TYPE.to_owned(),
        link_token: device_id.to_owned(),
        payload: payload.to_json(),
        third_msg_id: third_msg_id.to_owned(),
        valid_until: Some(valid_until),
        ..SendRequest::default()
    }
}

#[async_trait]
impl PushChannel for OwnChannel {
    async fn send(&self, workspace: &Workspace, batch: &[Outgoing]) -> Vec<ChannelResult> {
        let requests = batch
            .iter()
            .map(|outgoing| {
                let delivery = &outgoing.delivery;
                let payload = OwnChannelPayload::Message {
                    task_id: delivery.task_id.clone(),
                    msg_id: delivery.msg_id.clone(),
                    message: Box::new(outgoing.message.clone()),
                    expires_at: delivery.expires_at,
                };
                request(&delivery.device_id, &delivery.task_id, &payload, delivery.expires_at)
            })
            .collect();
        // One transaction for the whole step; a duplicate is a message stored by an earlier,
        // interrupted dispatch.
        match self.sync.send_batch_in(workspace, requests).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|outcome| match outcome {
                    Ok(_) => ChannelResult::Sent,
                    Err(error) => ChannelResult::Failed { error: error.to_string(), token_invalid: false },
                })
                .collect(),
            Err(error) => {
                batch.iter().map(|_| ChannelResult::Failed { error: error.to_string(), token_invalid: false }).collect()
            }
        }
    }
}
