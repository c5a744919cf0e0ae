//! Data sync: handlers per bizType, handed each message once (positions kept on disk).

use std::sync::{Arc, Mutex};

use midship_sdk::rpc::{DeviceCredential, DeviceIdentity};
use midship_sdk::sync::{Credentials, SyncClient, SyncSettings};
use midship_signing::SignType;

use crate::MidshipError;
use crate::midship::Shared;

/// One message of a bizType's stream (docs/sync.md). `seq` is 0 for non-persistent messages.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncMessage {
    pub biz_type: String,
    pub seq: i64,
    pub msg_id: String,
    pub payload: String,
    /// The server's clock, milliseconds since the epoch.
    pub created_at: i64,
    pub persistent: bool,
}

/// The app's code for one bizType. Called on an SDK thread, one message at a time in order;
/// when it returns, the message counts as handled and is never handed over again.
#[uniffi::export(with_foreign)]
pub trait SyncHandler: Send + Sync + std::fmt::Debug {
    fn on_message(&self, message: SyncMessage);
}

/// The connection once started, and the handlers registered before it.
#[derive(Default)]
pub(crate) struct SyncPart {
    client: Mutex<Option<SyncClient>>,
    waiting: Mutex<Vec<(String, Arc<dyn SyncHandler>)>>,
}

impl SyncPart {
    pub(crate) fn client(&self) -> Option<SyncClient> {
        self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

fn install(client: &SyncClient, biz_type: &str, handler: Arc<dyn SyncHandler>) {
    client.register(biz_type, move |data| {
        let handler = handler.clone();
        async move {
            let message = SyncMessage {
                biz_type: data.biz_type,
                seq: data.seq,
                msg_id: data.msg_id,
                payload: data.payload,
                created_at: data.created_at,
                persistent: data.persistent,
            };
            // The app's code may block; it runs beside the runtime's workers, not on them.
            if let Err(error) = tokio::task::spawn_blocking(move || handler.on_message(message)).await {
                tracing::error!(%error, "a sync handler failed");
            }
        }
    });
}

/// Midship's own announcements (docs/switches.md, docs/delivery.md): a new configuration version
/// is pulled at once, so switch values change without waiting for the next scheduled pull.
fn follow_announcements(client: &SyncClient, shared: &Shared) {
    let config = shared.config.clone();
    client.register(midship_protocol::builtins::biz_type::DELIVERY, move |data| {
        let config = config.clone();
        async move {
            let announced: serde_json::Value = serde_json::from_str(&data.payload).unwrap_or_default();
            let newer = announced["version"].as_i64().is_some_and(|version| version > config.version());
            if announced["kind"] == "config" && newer {
                // Its own task: the connection hands over the next message only after this returns.
                tokio::spawn(async move {
                    if let Err(error) = config.pull().await {
                        tracing::warn!(%error, "pull after an announcement failed");
                    }
                });
            }
        }
    });
}

/// Opens the long connection as the registered device (called by `start` inside the runtime).
pub(crate) fn connect(shared: &Shared, credential: &DeviceCredential) -> Result<SyncClient, MidshipError> {
    if let Some(client) = shared.sync.client() {
        return Ok(client);
    }
    let settings = &shared.settings;
    let credentials =
        Credentials::Device { device_secret: credential.device_secret.clone(), sign_type: SignType::DeviceHmacSha256 };
    let mut sync_settings = SyncSettings::new(
        &settings.server_url,
        &settings.app_id,
        &settings.workspace_id,
        credentials,
        &shared.state_path("sync"),
    );
    sync_settings.identity = DeviceIdentity {
        device_id: Some(credential.device_id.clone()),
        user_id: settings.user_id.clone(),
        platform: Some(settings.platform.clone()),
        app_version: Some(settings.app_version.clone()),
        os_version: settings.os_version.clone(),
        device_secret: None,
    };
    let client = SyncClient::new(sync_settings)?;
    follow_announcements(&client, shared);
    for (biz_type, handler) in shared.sync.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain(..) {
        install(&client, &biz_type, handler);
    }
    client.start();
    *shared.sync.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(client.clone());
    Ok(client)
}

#[derive(Debug, uniffi::Object)]
pub struct MidshipSync {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipSync {
    /// Hands the bizType's messages to `handler`. Register before `start`, so no message of
    /// the bizType arrives without its handler.
    pub fn register(&self, biz_type: String, handler: Arc<dyn SyncHandler>) {
        match self.shared.sync.client() {
            Some(client) => install(&client, &biz_type, handler),
            None => self
                .shared
                .sync
                .waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((biz_type, handler)),
        }
    }

    /// The last sequence of the bizType the handler finished (0 before any).
    pub fn position(&self, biz_type: String) -> i64 {
        self.shared.sync.client().map_or(0, |client| client.position(&biz_type))
    }

    /// Global bizTypes deliver only in the foreground: tell the SDK when the app moves.
    pub fn set_foreground(&self, foreground: bool) {
        if let Some(client) = self.shared.sync.client() {
            client.set_foreground(foreground);
        }
    }
}
