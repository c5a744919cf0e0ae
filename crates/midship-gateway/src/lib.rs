//! The mobile gateway (MGS): every client RPC, named by its operation type, passes one pipeline —
//! identify the app and workspace, verify timestamp, signature and nonce, rate-limit, and route
//! to a built-in `midship.*` service or to a registered backend API. The pipeline takes and
//! returns plain values ([`RpcRequest`], [`RpcResponse`]), so `POST /mgw` and RPC frames on the
//! long connection share it; only the server crate speaks inbound HTTP.
//!
//! Route tables and app keys are read from memory (loaded on first use, dropped on change), so a
//! call touches the database only when a device is seen for the first time.

mod admin;
pub mod attestation;
pub mod builtin;
pub mod connect;
mod credentials;
pub mod definition;
pub mod experiments;
mod limits;
mod model;
mod pipeline;
mod policies;
mod request;
pub mod result;
mod routes;
mod stats;
mod upstream;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use midship_control::{ControlError, ControlPlane};
use midship_core::{Classify, ErrorKind};
use midship_signing::envelope::{GatewayKey, Suite};
use midship_storage::StorageError;

pub use admin::{NewApi, NewApiGroup};
pub use builtin::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
pub use connect::{ConnectRequest, ConnectedDevice, IssuedConnectToken, NewConnectToken};
pub use credentials::{
    AssignmentProver, DeviceRegistration, DeviceSecurityChange, REGISTER_OPERATION_TYPE, ServerKeys,
};
pub use definition::{
    ApiDefinition, ApiGroupDefinition, ApiStatus, Authorizer, CannedResponse, CircuitBreaker, DefinitionError,
    HeaderAction, HeaderRule, HeaderStage, HttpMethod, Mock, Parameter, ParameterKind, ProxySignature, ResponseCache,
    TrafficMigration,
};
pub use experiments::{GatewayHooks, TrafficAssignment, TrafficExperiments};
pub use limits::ClusterGuards;
pub use midship_core::api_calls::ApiTotals;
pub use model::{Api, ApiGroup};
pub use request::{MAX_IDENTITY_CHARS, RpcHeaders, RpcRequest, RpcResponse};
pub use result::{ResultCode, result_for_kind};
pub use stats::ApiStats;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Invalid(#[from] DefinitionError),
    #[error("{0}")]
    Conflict(String),
    #[error("api group {0} not found")]
    UnknownGroup(String),
    #[error("api {0} not found")]
    UnknownApi(String),
}

impl Classify for GatewayError {
    fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::Control(control) => control.kind(),
            GatewayError::Invalid(_) => ErrorKind::Invalid,
            GatewayError::Conflict(_) => ErrorKind::Conflict,
            GatewayError::UnknownGroup(_) | GatewayError::UnknownApi(_) => ErrorKind::NotFound,
        }
    }
}

impl From<StorageError> for GatewayError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

/// Tunables, from the `[gateway]` config section.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// How far a request's `Ts` may be from the server's clock (default 5 minutes).
    pub timestamp_window_ms: i64,
    /// Calls per second per API on this node when the API names none; `None`: no default.
    pub default_api_rate_limit: Option<u32>,
    /// Calls per second of all an app's APIs together on this node; `None`: no limit.
    pub app_rate_limit: Option<u32>,
    /// How long app keys are cached, and so how soon a rotation elsewhere is seen.
    pub key_cache_ttl_ms: i64,
    /// Nonces remembered for replay protection.
    pub nonce_capacity: usize,
    /// Body-encryption suites clients may use; several at once, for migrations.
    pub accepted_suites: Vec<Suite>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            timestamp_window_ms: 5 * 60 * 1000,
            default_api_rate_limit: None,
            app_rate_limit: None,
            key_cache_ttl_ms: 5000,
            nonce_capacity: 1_000_000,
            accepted_suites: Suite::ALL.to_vec(),
        }
    }
}

/// Memory the response cache and authorizer cache may use on one node.
const ANSWER_CACHE_BUDGET_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub struct Gateway {
    control: ControlPlane,
    settings: GatewaySettings,
    builtins: BuiltinRegistry,
    routes: routes::RouteCache,
    keys: routes::KeyCache,
    nonces: limits::NonceCache,
    /// The cluster's nonce record; `None` on a node that is alone.
    cluster: Option<Arc<dyn ClusterGuards>>,
    /// Experiments splitting APIs' traffic; `None`: none are.
    experiments: Option<Arc<dyn TrafficExperiments>>,
    limiter: limits::RateLimiter,
    envelope_keys: RwLock<HashMap<(String, Suite), Arc<GatewayKey>>>,
    server_keys: Arc<credentials::ServerKeys>,
    /// Whether a device registered, by workspace and device id.
    credentialed: midship_core::cache::TtlCache<(String, String), midship_storage::CredentialStatus>,
    breakers: policies::Breakers,
    stats: stats::CallStats,
    answers: policies::AnswerCache,
    http: reqwest::Client,
}

impl Gateway {
    pub fn new(
        control: ControlPlane,
        settings: GatewaySettings,
        builtins: BuiltinRegistry,
        server_keys: Arc<ServerKeys>,
        hooks: GatewayHooks,
    ) -> Self {
        let GatewayHooks { cluster, experiments } = hooks;
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds with static settings");
        Self {
            keys: routes::KeyCache::new(settings.key_cache_ttl_ms),
            nonces: limits::NonceCache::new(settings.nonce_capacity),
            cluster,
            experiments,
            control,
            settings,
            builtins,
            routes: routes::RouteCache::default(),
            limiter: limits::RateLimiter::default(),
            envelope_keys: RwLock::default(),
            server_keys,
            credentialed: midship_core::cache::TtlCache::new(
                credentials::CREDENTIAL_LOOKUP_TTL_MS,
                credentials::CREDENTIAL_LOOKUP_CAPACITY,
            ),
            breakers: policies::Breakers::default(),
            stats: stats::CallStats::default(),
            answers: policies::AnswerCache::new(ANSWER_CACHE_BUDGET_BYTES),
            http,
        }
    }

    /// The workspace's key pair of a suite, created (and stored for every node) on first use.
    pub(crate) async fn envelope_key(&self, workspace_id: &str, suite: Suite) -> Result<Arc<GatewayKey>, GatewayError> {
        let cache_key = (workspace_id.to_owned(), suite);
        if let Some(key) = self.envelope_keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&cache_key) {
            return Ok(key.clone());
        }
        let candidate = GatewayKey::generate(suite, &mut midship_signing::rand_core::OsRng);
        let candidate_hex = hex::encode(candidate.secret_bytes().as_slice());
        let storage = self.control.storage();
        let stored = storage.envelope_key(workspace_id, suite.as_str(), &candidate_hex, self.control.now_ms()).await?;
        let corrupt = |detail: String| StorageError::Corrupt { table: "gateway_envelope_keys", detail };
        let secret = hex::decode(&stored).map_err(|error| corrupt(error.to_string()))?;
        let key = Arc::new(GatewayKey::from_secret_bytes(suite, &secret).map_err(|error| corrupt(error.to_string()))?);
        self.envelope_keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(cache_key, key.clone());
        Ok(key)
    }

    /// Drops the app's cached keys after a rotation on this node, so the new key works at once.
    pub fn forget_app_keys(&self, app_id: &str) {
        self.keys.forget(app_id);
    }

    pub fn builtin_operation_types(&self) -> Vec<String> {
        let mut names: Vec<String> = self.builtins.operation_types().map(str::to_owned).collect();
        names.sort();
        names
    }
}

/// Entry points for the fuzz targets in `fuzz/`, not an API: what the gateway does with a backend
/// call's raw body before any I/O.
#[doc(hidden)]
pub mod fuzzing {
    use crate::definition::ApiDefinition;

    /// The path and query the backend is called with for `body`, or why the call is refused.
    pub fn backend_target(definition: &ApiDefinition, body: &[u8]) -> Result<String, String> {
        let fields = crate::upstream::body_fields(body)?;
        definition.check_parameters(&fields)?;
        crate::upstream::upstream_target(definition, &fields)
    }
}
