//! Device-side remote configuration: typed getters over local defaults and the last pulled values,
//! a disk cache that survives restarts, pulls at cold start and after 30 minutes in the
//! background, and change listeners. Experiments ride on the same pull: the device keeps its
//! assignments (and sends them back, so they stick), and the first read of an experiment's
//! switch reports one exposure per experiment, unit and variation, ever. Pulls are the signed RPC `midship.config.pull`, so they go
//! through the gateway with the device's identity and credential like every other call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use midship_protocol::builtins::operation;
use midship_protocol::calls::{Assignment, ConfigPullCall, ConfigPullResponse, StickyAssignment};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rpc::{RpcClient, RpcError};

/// Background time after which coming back to the foreground pulls again.
pub const BACKGROUND_REFRESH_AFTER_MS: i64 = 30 * 60 * 1000;

/// What targeting reads about the device beyond the identity its [`RpcClient`] sends (device,
/// user, platform and app version); sent with every pull.
pub use midship_protocol::calls::DeviceFacts as DeviceProfile;

#[derive(Debug, Clone)]
pub struct ConfigSettings {
    /// Where the last pulled values are kept between runs.
    pub cache_dir: PathBuf,
    /// Values used until a pull delivers the server's, and for keys the server does not send.
    pub defaults: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("the pull was refused ({result}): {memo}")]
    Refused { result: u16, memo: String },
    #[error("the pull's answer is not what the protocol says: {0}")]
    Answer(#[from] serde_json::Error),
    #[error("cannot write the local cache: {0}")]
    Cache(std::io::Error),
}

/// What a pull changed, handed to listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    pub version: i64,
    /// Keys whose value differs from before (added, changed or removed).
    pub changed_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CachedConfig {
    version: i64,
    etag: Option<String>,
    values: BTreeMap<String, Value>,
    #[serde(default)]
    experiments: Vec<Assignment>,
    /// `experiment/unit/variation` of every exposure already reported.
    #[serde(default)]
    exposed: BTreeSet<String>,
}

type Listener = Box<dyn Fn(&ConfigChange) + Send + Sync>;
type ExposureListener = Box<dyn Fn(&Assignment) + Send + Sync>;

/// The remote configuration of one app workspace on one device.
pub struct ConfigClient {
    settings: ConfigSettings,
    profile: RwLock<DeviceProfile>,
    cache: RwLock<CachedConfig>,
    listeners: Mutex<Vec<Listener>>,
    exposure_listener: Mutex<Option<ExposureListener>>,
    background_since: Mutex<Option<i64>>,
    rpc: Arc<RpcClient>,
}

impl std::fmt::Debug for ConfigClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ConfigClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ConfigClient {
    /// Loads the cached values of an earlier run, if any; no network until [`Self::pull`].
    pub fn new(settings: ConfigSettings, rpc: Arc<RpcClient>, profile: DeviceProfile) -> Arc<Self> {
        let client = Self {
            cache: RwLock::new(Self::read_cache(&settings, rpc.workspace_id())),
            settings,
            profile: RwLock::new(profile),
            listeners: Mutex::new(Vec::new()),
            exposure_listener: Mutex::new(None),
            background_since: Mutex::new(None),
            rpc,
        };
        Arc::new(client)
    }

    fn cache_path(settings: &ConfigSettings, workspace_id: &str) -> PathBuf {
        settings.cache_dir.join(format!("midship-config-{workspace_id}.json"))
    }

    /// A missing or unreadable cache is the same as none: defaults apply until the next pull.
    fn read_cache(settings: &ConfigSettings, workspace_id: &str) -> CachedConfig {
        std::fs::read(Self::cache_path(settings, workspace_id))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn write_cache(&self, cache: &CachedConfig) -> Result<(), ConfigError> {
        let path = Self::cache_path(&self.settings, self.rpc.workspace_id());
        let temporary = path.with_extension("tmp");
        std::fs::create_dir_all(&self.settings.cache_dir).map_err(ConfigError::Cache)?;
        std::fs::write(&temporary, serde_json::to_vec(cache).expect("cache serializes")).map_err(ConfigError::Cache)?;
        std::fs::rename(&temporary, &path).map_err(ConfigError::Cache)
    }

    /// The server's value, else the local default. Reading a switch of an experiment the
    /// device is in reports the exposure, the first time.
    pub fn get(&self, key: &str) -> Option<Value> {
        let value = {
            let cache = self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            cache.values.get(key).or_else(|| self.settings.defaults.get(key)).cloned()
        };
        self.note_exposure(key);
        value
    }

    /// Who is told of exposures: the app's analytics (`Midship` wires its logger here).
    pub fn on_exposure(&self, listener: impl Fn(&Assignment) + Send + Sync + 'static) {
        *self.exposure_listener.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Box::new(listener));
    }

    /// The experiments this device is in, from the last pull.
    pub fn experiments(&self) -> Vec<Assignment> {
        self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner()).experiments.clone()
    }

    fn note_exposure(&self, key: &str) {
        let first_reads: Vec<Assignment> = {
            let mut cache = self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let reads: Vec<Assignment> = cache
                .experiments
                .iter()
                .filter(|assignment| !assignment.debug && assignment.switches.iter().any(|switch| switch == key))
                .cloned()
                .collect();
            reads
                .into_iter()
                .filter(|assignment| {
                    cache
                        .exposed
                        .insert(format!("{}/{}/{}", assignment.experiment, assignment.unit, assignment.variation))
                })
                .collect()
        };
        if first_reads.is_empty() {
            return;
        }
        let cache = self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if let Err(error) = self.write_cache(&cache) {
            tracing::warn!(%error, "cannot keep the reported exposures; they may be reported again");
        }
        if let Some(listener) = &*self.exposure_listener.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            for assignment in &first_reads {
                listener(assignment);
            }
        }
    }

    pub fn get_bool(&self, key: &str, fallback: bool) -> bool {
        self.get(key).and_then(|value| value.as_bool()).unwrap_or(fallback)
    }

    pub fn get_f64(&self, key: &str, fallback: f64) -> f64 {
        self.get(key).and_then(|value| value.as_f64()).unwrap_or(fallback)
    }

    pub fn get_str(&self, key: &str, fallback: &str) -> String {
        self.get(key).and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_else(|| fallback.to_owned())
    }

    pub fn get_json(&self, key: &str) -> Option<Value> {
        self.get(key)
    }

    /// The published version the values come from (0: none pulled yet).
    pub fn version(&self) -> i64 {
        self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner()).version
    }

    pub fn on_change(&self, listener: impl Fn(&ConfigChange) + Send + Sync + 'static) {
        self.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Box::new(listener));
    }

    /// Updates what targeting reads about the device; the next pull uses it (a user signing in
    /// is [`RpcClient::set_user`]).
    pub fn set_profile(&self, profile: DeviceProfile) {
        *self.profile.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = profile;
    }

    /// Cold start: pull once.
    pub async fn app_started(&self) -> Result<Option<ConfigChange>, ConfigError> {
        self.pull().await
    }

    pub fn entered_background(&self, now_ms: i64) {
        *self.background_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(now_ms);
    }

    /// Back in the foreground: pulls when the app spent 30 minutes or more in the background.
    pub async fn entered_foreground(&self, now_ms: i64) -> Result<Option<ConfigChange>, ConfigError> {
        let since = self.background_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        match since {
            Some(since) if now_ms - since >= BACKGROUND_REFRESH_AFTER_MS => self.pull().await,
            _ => Ok(None),
        }
    }

    /// Asks the server for this device's values; returns what changed (`None`: nothing did).
    pub async fn pull(&self) -> Result<Option<ConfigChange>, ConfigError> {
        let profile = self.profile.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let (known_etag, held) = {
            let cache = self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let held: Vec<StickyAssignment> = cache
                .experiments
                .iter()
                .filter(|assignment| !assignment.debug)
                .map(|assignment| StickyAssignment {
                    experiment: assignment.experiment.clone(),
                    variation: assignment.variation.clone(),
                    unit: assignment.unit.clone(),
                    proof: assignment.proof.clone(),
                })
                .collect();
            (cache.etag.clone(), held)
        };
        let request =
            serde_json::to_value(ConfigPullCall::new(profile, known_etag, held)).expect("pull bodies serialize");
        let reply = self.rpc.rpc(operation::CONFIG_PULL, &request).await?;
        if !reply.is_success() {
            return Err(ConfigError::Refused { result: reply.result, memo: reply.memo });
        }
        let pulled: ConfigPullResponse = serde_json::from_slice(&reply.body)?;
        let Some(values) = pulled.values.filter(|_| !pulled.not_modified) else {
            return Ok(None);
        };
        let (fresh, changed_keys) = {
            let mut cache = self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let fresh = CachedConfig {
                version: pulled.version,
                etag: Some(pulled.etag),
                values: values.into_iter().collect(),
                experiments: pulled.experiments,
                exposed: cache.exposed.clone(),
            };
            let keys: std::collections::BTreeSet<&String> = cache.values.keys().chain(fresh.values.keys()).collect();
            let changed: Vec<String> =
                keys.into_iter().filter(|key| cache.values.get(*key) != fresh.values.get(*key)).cloned().collect();
            *cache = fresh.clone();
            (fresh, changed)
        };
        self.write_cache(&fresh)?;
        if changed_keys.is_empty() {
            return Ok(None);
        }
        let change = ConfigChange { version: fresh.version, changed_keys };
        for listener in self.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
            listener(&change);
        }
        Ok(Some(change))
    }
}
