//! Push on the device: messages of Midship's own channel (bizType `midship.push` over the long
//! connection), arrival, open and dismissal reports, token reports and user binding. All calls
//! travel over the sync client's connection, so they need it connected.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use midship_protocol::builtins::operation;
use midship_protocol::calls::PushCall;
use serde::Deserialize;
use serde_json::Value;

use crate::sync::{SyncClient, SyncClientError};

/// The bizType push's own channel uses.
pub use midship_protocol::builtins::biz_type::PUSH as PUSH_BIZ_TYPE;

/// A push message as the own channel carries it (docs/push.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushMessage {
    pub task_id: String,
    pub msg_id: String,
    pub title: String,
    pub content: String,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub ext: BTreeMap<String, String>,
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub silent: bool,
    #[serde(default)]
    pub classification: Option<String>,
    #[serde(default)]
    pub expiry_seconds: Option<u32>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushNotification {
    Message(Box<PushMessage>),
    /// The backend revoked a message the device already has: take its notification down.
    Revoke {
        task_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PushClientError {
    #[error(transparent)]
    Sync(#[from] SyncClientError),
    #[error("the server refused the call: result {result}, {memo}")]
    Refused { result: u16, memo: String },
}

/// What a device reports when it opens or dismisses a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEvent {
    Opened,
    Dismissed,
}

#[derive(Debug, Clone)]
pub struct PushClient {
    sync: SyncClient,
}

impl PushClient {
    pub fn new(sync: SyncClient) -> Self {
        Self { sync }
    }

    /// Hands own-channel messages to `handler`. When it returns, the message's arrival is
    /// reported (`delivered` in the statistics) and the sync client acknowledges it, so a message
    /// is shown at least once and reported once per device.
    pub fn on_notification<F, Fut>(&self, handler: F)
    where
        F: Fn(PushNotification) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let sync = self.sync.clone();
        self.sync.register(PUSH_BIZ_TYPE, move |data| {
            let handler = handler.clone();
            let sync = sync.clone();
            async move {
                let notification = match serde_json::from_str::<PushNotification>(&data.payload) {
                    Ok(notification) => notification,
                    Err(error) => {
                        tracing::warn!(%error, msg_id = %data.msg_id, "unreadable push message skipped");
                        return;
                    }
                };
                let task_id = match &notification {
                    PushNotification::Message(message) => Some(message.task_id.clone()),
                    PushNotification::Revoke { .. } => None,
                };
                handler(notification).await;
                // Reported on its own task: the connection answers RPCs only after the handler returns.
                if let Some(task_id) = task_id {
                    tokio::spawn(async move {
                        let body = PushCall {
                            task_id: Some(task_id.clone()),
                            event: Some("delivered".to_owned()),
                            ..PushCall::default()
                        };
                        if let Err(error) = call(&sync, operation::PUSH_ACK, body).await {
                            tracing::warn!(%error, task_id, "push arrival not reported");
                        }
                    });
                }
            }
        });
    }

    /// Reports the device's channel token (`channel` such as `apns`, `fcm` or a vendor's name),
    /// or `None` to be reached over the long connection only.
    pub async fn report_token(&self, channel: Option<&str>, token: Option<&str>) -> Result<Value, PushClientError> {
        let body =
            PushCall { channel: channel.map(str::to_owned), token: token.map(str::to_owned), ..PushCall::default() };
        call(&self.sync, operation::PUSH_REPORT, body).await
    }

    pub async fn bind(&self, user_id: &str) -> Result<Value, PushClientError> {
        call(&self.sync, operation::PUSH_BIND, PushCall { user_id: Some(user_id.to_owned()), ..PushCall::default() })
            .await
    }

    pub async fn unbind(&self) -> Result<Value, PushClientError> {
        call(&self.sync, operation::PUSH_UNBIND, PushCall::default()).await
    }

    /// The user opened or dismissed the notification of a task (from any channel).
    pub async fn report(&self, task_id: &str, event: PushEvent) -> Result<Value, PushClientError> {
        let event = match event {
            PushEvent::Opened => "opened",
            PushEvent::Dismissed => "dismissed",
        };
        let body = PushCall { task_id: Some(task_id.to_owned()), event: Some(event.to_owned()), ..PushCall::default() };
        call(&self.sync, operation::PUSH_ACK, body).await
    }
}

async fn call(sync: &SyncClient, operation_type: &str, body: PushCall) -> Result<Value, PushClientError> {
    let body = serde_json::to_value(body).expect("push bodies serialize");
    let reply = sync.rpc(operation_type, &body).await?;
    if !reply.is_success() {
        return Err(PushClientError::Refused { result: reply.result, memo: reply.memo });
    }
    Ok(reply.json().unwrap_or(Value::Null))
}
