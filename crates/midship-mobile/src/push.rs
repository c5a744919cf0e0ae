//! Push over Midship's own channel: notifications to a handler, opens and dismissals reported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use midship_sdk::push::{PushClient, PushEvent, PushNotification};
use midship_sdk::sync::SyncClient;

use crate::MidshipError;
use crate::midship::Shared;

/// A notification to show (or, with `revoked`, to take down: only `task_id` is set then).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushNotice {
    pub task_id: String,
    pub msg_id: String,
    pub title: String,
    pub content: String,
    pub uri: Option<String>,
    pub ext: HashMap<String, String>,
    pub silent: bool,
    pub revoked: bool,
}

/// The app's code for notifications. When it returns, the arrival is reported (`delivered`).
#[uniffi::export(with_foreign)]
pub trait PushHandler: Send + Sync + std::fmt::Debug {
    fn on_notification(&self, notice: PushNotice);
}

#[derive(Default)]
pub(crate) struct PushPart {
    handler: Mutex<Option<Arc<dyn PushHandler>>>,
    client: Mutex<Option<PushClient>>,
}

impl PushPart {
    fn client(&self) -> Result<PushClient, MidshipError> {
        self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone().ok_or(MidshipError::NotStarted)
    }
}

fn notice(notification: PushNotification) -> PushNotice {
    match notification {
        PushNotification::Message(message) => PushNotice {
            task_id: message.task_id,
            msg_id: message.msg_id,
            title: message.title,
            content: message.content,
            uri: message.uri,
            ext: message.ext.into_iter().collect(),
            silent: message.silent,
            revoked: false,
        },
        PushNotification::Revoke { task_id } => PushNotice {
            task_id,
            msg_id: String::new(),
            title: String::new(),
            content: String::new(),
            uri: None,
            ext: HashMap::new(),
            silent: true,
            revoked: true,
        },
    }
}

/// Rides on the started connection; the handler set before `start` receives from then on.
pub(crate) fn attach(shared: &Shared, sync: &SyncClient) {
    let client = PushClient::new(sync.clone());
    if let Some(handler) = shared.push.handler.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone() {
        client.on_notification(move |notification| {
            let handler = handler.clone();
            async move {
                let notice = notice(notification);
                if let Err(error) = tokio::task::spawn_blocking(move || handler.on_notification(notice)).await {
                    tracing::error!(%error, "a push handler failed");
                }
            }
        });
    }
    *shared.push.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(client);
}

#[derive(Debug, uniffi::Object)]
pub struct MidshipPush {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipPush {
    /// Set before `start`: notifications go to `handler` (the own channel's messages are kept
    /// for the device until then).
    pub fn set_handler(&self, handler: Arc<dyn PushHandler>) {
        *self.shared.push.handler.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }

    /// The user opened the notification of `task_id`.
    pub async fn report_opened(&self, task_id: String) -> Result<(), MidshipError> {
        self.report(task_id, PushEvent::Opened).await
    }

    pub async fn report_dismissed(&self, task_id: String) -> Result<(), MidshipError> {
        self.report(task_id, PushEvent::Dismissed).await
    }

    /// Binds the device to `user_id`, so pushes to the user reach it.
    pub async fn bind(&self, user_id: String) -> Result<(), MidshipError> {
        let client = self.shared.push.client()?;
        self.shared.run(async move { client.bind(&user_id).await.map(drop).map_err(MidshipError::from) }).await
    }

    pub async fn unbind(&self) -> Result<(), MidshipError> {
        let client = self.shared.push.client()?;
        self.shared.run(async move { client.unbind().await.map(drop).map_err(MidshipError::from) }).await
    }

    /// The platform channel's token (`fcm`, `apns` or a vendor's), or none for the own channel only.
    pub async fn report_token(&self, channel: Option<String>, token: Option<String>) -> Result<(), MidshipError> {
        let client = self.shared.push.client()?;
        self.shared
            .run(async move {
                client.report_token(channel.as_deref(), token.as_deref()).await.map(drop).map_err(MidshipError::from)
            })
            .await
    }
}

impl MidshipPush {
    async fn report(&self, task_id: String, event: PushEvent) -> Result<(), MidshipError> {
        let client = self.shared.push.client()?;
        self.shared.run(async move { client.report(&task_id, event).await.map(drop).map_err(MidshipError::from) }).await
    }
}
