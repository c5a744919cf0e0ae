//! The façade: settings, the SDK's own runtime, and the parts an app reaches through it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use midship_sdk::analytics::{AnalyticsLogger, LoggerSettings};
use midship_sdk::config::{ConfigClient, ConfigSettings, DeviceProfile};
use midship_sdk::delivery::{DeliveryClient, DeliverySettings};
use midship_sdk::rpc::{DeviceCredential, DeviceIdentity, RpcClient, RpcSettings};

use crate::secrets::{FileSecretStore, SecretStore};
use crate::{MidshipAnalytics, MidshipConfig, MidshipDelivery, MidshipError, MidshipPush, MidshipRpc, MidshipSync};

/// The key the device's credential is kept under in the [`SecretStore`].
const CREDENTIAL_KEY: &str = "device_credential";

#[derive(Debug, Clone, uniffi::Record)]
pub struct MidshipSettings {
    /// `https://midship.bank.example` (the `/mgw` and `/ws` paths are added).
    pub server_url: String,
    pub app_id: String,
    pub workspace_id: String,
    /// The app's signing secret. It only registers the device: every later call is signed with
    /// the device's own credential, so this secret, which any copy of the app reveals, cannot act
    /// as the device.
    pub app_secret: String,
    /// A directory this app alone uses: sync positions, the config cache, the analytics queue,
    /// downloads and installed H5 packages.
    pub state_dir: String,
    /// `android`, `ios`, `harmony`, `h5` or `miniprogram`.
    pub platform: String,
    pub app_version: String,
    pub user_id: Option<String>,
    pub os_version: Option<String>,
    pub model: Option<String>,
    /// Switch values used until a pull brings the server's: a JSON object (`"{}"` for none).
    pub config_defaults_json: String,
    /// The workspace's package signing keys (base64 Ed25519, `midship package key`), shipped
    /// inside the app: an offer is installed only when its manifest verifies with one of them.
    pub package_public_keys: Vec<String>,
}

/// What every part shares. Tasks spawned on the runtime never hold it, so it is always dropped
/// outside the runtime (see `Drop`).
pub(crate) struct Shared {
    /// Taken by [`Midship::shutdown`]; `handle` then refuses new work.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    pub(crate) settings: MidshipSettings,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) rpc: Arc<RpcClient>,
    pub(crate) config: Arc<ConfigClient>,
    pub(crate) delivery: Arc<DeliveryClient>,
    pub(crate) analytics: Arc<AnalyticsLogger>,
    pub(crate) sync: crate::sync::SyncPart,
    pub(crate) push: crate::push::PushPart,
    pub(crate) delivery_offers: crate::delivery::Offers,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Midship").field("server_url", &self.settings.server_url).finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            runtime.shutdown_background();
        }
    }
}

impl Shared {
    /// Runs `future` on the SDK's runtime, whatever executor (Kotlin coroutines, Swift tasks,
    /// Python's asyncio) awaits the answer.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, MidshipError>> + Send + 'static,
    ) -> Result<T, MidshipError> {
        match self.handle.spawn(future).await {
            Ok(outcome) => outcome,
            Err(error) if error.is_cancelled() => Err(MidshipError::Closed),
            Err(error) => Err(MidshipError::Internal { detail: error.to_string() }),
        }
    }

    pub(crate) fn state_path(&self, part: &str) -> PathBuf {
        PathBuf::from(&self.settings.state_dir).join(part)
    }

    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.handle.enter()
    }
}

/// The one object an app holds.
#[derive(Debug, uniffi::Object)]
pub struct Midship {
    shared: Arc<Shared>,
}

#[uniffi::export]
impl Midship {
    /// Reads what earlier runs kept (credential, cached config, positions, queued events); no
    /// network until [`Midship::start`]. `secrets` is the platform's secure storage; without
    /// one, the credential is kept in a file of `state_dir` only this user can read.
    #[uniffi::constructor]
    pub fn new(settings: MidshipSettings, secrets: Option<Arc<dyn SecretStore>>) -> Result<Arc<Self>, MidshipError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("midship-sdk")
            .enable_all()
            .build()
            .map_err(MidshipError::local)?;
        let state_dir = PathBuf::from(&settings.state_dir);
        let secrets = secrets.unwrap_or_else(|| FileSecretStore::new(state_dir.join("secrets").display().to_string()));
        let credential = stored_credential(secrets.as_ref())?;
        let defaults = match serde_json::from_str(&settings.config_defaults_json) {
            Ok(serde_json::Value::Object(defaults)) => defaults,
            _ => return Err(MidshipError::invalid("config_defaults_json must be a JSON object")),
        };
        let identity = DeviceIdentity {
            device_id: credential.as_ref().map(|credential| credential.device_id.clone()),
            device_secret: credential.map(|credential| credential.device_secret),
            user_id: settings.user_id.clone(),
            platform: Some(settings.platform.clone()),
            app_version: Some(settings.app_version.clone()),
            os_version: settings.os_version.clone(),
        };
        let rpc_settings =
            RpcSettings::new(&settings.server_url, &settings.app_id, &settings.workspace_id, &settings.app_secret);
        let rpc = RpcClient::new(rpc_settings, identity)?;
        let profile = DeviceProfile {
            os_version: settings.os_version.clone(),
            model: settings.model.clone(),
            ..DeviceProfile::default()
        };
        let config =
            ConfigClient::new(ConfigSettings { cache_dir: state_dir.join("config"), defaults }, rpc.clone(), profile);
        let delivery_settings = DeliverySettings {
            public_keys: settings.package_public_keys.clone(),
            download_dir: state_dir.join("downloads"),
            limits: midship_package::ArchiveLimits::default(),
        };
        let delivery = Arc::new(DeliveryClient::new(rpc.clone(), delivery_settings)?);
        let analytics = AnalyticsLogger::open(rpc.clone(), LoggerSettings::new(state_dir.join("analytics")))?;
        let exposures = analytics.clone();
        config.on_exposure(move |assignment| {
            if let Err(error) = exposures.exposure(assignment) {
                tracing::warn!(%error, experiment = %assignment.experiment, "cannot queue an exposure");
            }
        });
        let shared = Shared {
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            settings,
            secrets,
            rpc,
            config,
            delivery,
            analytics,
            sync: crate::sync::SyncPart::default(),
            push: crate::push::PushPart::default(),
            delivery_offers: crate::delivery::Offers::default(),
        };
        Ok(Arc::new(Self { shared: Arc::new(shared) }))
    }

    /// Registers the device at its first start (keeping the credential in the secret store),
    /// opens the long connection with the handlers registered so far, and pulls the
    /// configuration. A failed pull is not an error: the cached values stay in use.
    pub async fn start(&self) -> Result<(), MidshipError> {
        let shared = self.shared.clone();
        let rpc = shared.rpc.clone();
        let credential = match stored_credential(shared.secrets.as_ref())? {
            Some(credential) => credential,
            None => {
                let credential = shared.run(async move { Ok(rpc.register().await?) }).await?;
                let kept = serde_json::json!({
                    "device_id": credential.device_id,
                    "device_secret": credential.device_secret,
                });
                shared.secrets.set(CREDENTIAL_KEY.to_owned(), kept.to_string())?;
                credential
            }
        };
        let sync = {
            let _entered = shared.enter();
            crate::sync::connect(&shared, &credential)?
        };
        crate::push::attach(&shared, &sync);
        let config = shared.config.clone();
        let pulled = shared.run(async move { Ok(config.app_started().await?) }).await;
        if let Err(error) = pulled {
            tracing::warn!(%error, "configuration pull failed; cached values stay in use");
        }
        Ok(())
    }

    /// Closes the long connection; queued events stay on disk for the next run.
    pub fn stop(&self) {
        if let Some(sync) = self.shared.sync.client() {
            sync.stop();
        }
    }

    /// Stops everything and waits (up to 2 s) for the SDK's threads to finish, so no handler is
    /// called afterwards: call it before the host tears down (a Python interpreter at exit, a
    /// JVM shutting down). Every later call answers [`MidshipError::Closed`].
    pub fn shutdown(&self) {
        self.stop();
        let runtime = self.shared.runtime.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(runtime) = runtime {
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }

    /// The device's utdid, once registered.
    pub fn device_id(&self) -> Option<String> {
        self.shared.rpc.device_id()
    }

    pub fn rpc(&self) -> Arc<MidshipRpc> {
        Arc::new(MidshipRpc { shared: self.shared.clone() })
    }

    pub fn config(&self) -> Arc<MidshipConfig> {
        Arc::new(MidshipConfig { shared: self.shared.clone() })
    }

    pub fn sync(&self) -> Arc<MidshipSync> {
        Arc::new(MidshipSync { shared: self.shared.clone() })
    }

    pub fn push(&self) -> Arc<MidshipPush> {
        Arc::new(MidshipPush { shared: self.shared.clone() })
    }

    pub fn delivery(&self) -> Arc<MidshipDelivery> {
        Arc::new(MidshipDelivery { shared: self.shared.clone() })
    }

    pub fn analytics(&self) -> Arc<MidshipAnalytics> {
        Arc::new(MidshipAnalytics { shared: self.shared.clone() })
    }
}

/// A credential the store holds but cannot be read is an error, not a reason to register again
/// (which would make a second device of this one).
fn stored_credential(secrets: &dyn SecretStore) -> Result<Option<DeviceCredential>, MidshipError> {
    let Some(text) = secrets.get(CREDENTIAL_KEY.to_owned()) else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|error| MidshipError::local(format!("stored credential: {error}")))
}
