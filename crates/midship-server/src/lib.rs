//! The Midship server: composes the services behind one HTTP listener.
//!
//! - `/api/v1/*`: the admin REST API ([`api`], assembled from each area's `rest` module),
//!   documented at `/api/v1/openapi.json`, generated from the handlers.
//! - `/console/*`: server-rendered web console ([`console`], with each area's pages in its folder).
//! - `/healthz`, `/readyz`, `/metrics`: operations ([`ops`]).
//! - `POST /mgw`: client RPCs through the gateway ([`mgw`]); `GET /ws`: the device long
//!   connection ([`longconn`]), carrying sync data and RPCs.
//!
//! One folder per area (`apps`, `access`, `switches`, `gateway`, `sync`, `push`, `delivery`,
//! `analytics`), each with its REST handlers (`rest`), console pages (`console`) and built-in RPCs
//! (`rpc`), so a change to one area stays in one place.
//!
//! Only this crate knows HTTP: it maps the services' errors to statuses and error codes
//! ([`error`]). Start it with [`run`] on any listener, so tests bind port 0.

mod access;
mod analytics;
pub mod api;
mod approvals;
mod apps;
mod builtins;
pub mod connections;
pub mod console;
mod delivery;
pub mod error;
mod experiments;
pub mod extract;
mod gateway;
pub mod longconn;
pub mod metrics;
mod mgw;
pub mod node;
pub mod ops;
mod push;
pub mod storage;
mod switches;
mod sync;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use midship_analytics::AnalyticsService;
use midship_control::ControlPlane;
use midship_delivery::{DeliveryService, LocalBlobStore};
use midship_experiments::ExperimentService;
use midship_gateway::{Gateway, GatewaySettings, ServerKeys};
use midship_push::PushService;
use midship_switches::SwitchService;
use midship_sync::{Bus, Hub, LocalBus, SyncService};
use tower_http::trace::TraceLayer;

pub use connections::{ConnectionLimits, run};
pub use node::{Node, NodeSettings};
pub use storage::{StorageOpenError, open_storage};

/// HTTP-level settings, from the `[server]` config section.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Larger request bodies are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// Timeouts and caps that keep one client from holding the node's connections.
    pub connections: ConnectionLimits,
    /// Mark console cookies `Secure` (set when Midship is reached over HTTPS).
    pub secure_cookies: bool,
    /// Web origins whose pages may call `/mgw` (CORS; `*` for any, empty for none).
    pub cors_origins: Vec<String>,
    pub long_connection: longconn::LongConnectionSettings,
    pub delivery: DeliveryPlacement,
    pub analytics: midship_analytics::AnalyticsSettings,
    /// Single sign-on to the console; `None`: passwords (and authenticator codes) only.
    pub oidc: Option<console::oidc::OidcSettings>,
}

/// Where delivery keeps package blobs, and its limits (the `[delivery]` config section).
#[derive(Debug, Clone)]
pub struct DeliveryPlacement {
    /// The package store's directory (`DATA_DIR/packages` for `midship serve`) when packages
    /// are kept on this node's disk.
    pub package_dir: std::path::PathBuf,
    pub settings: midship_delivery::DeliverySettings,
    /// Send devices to a pre-signed object storage URL for this long instead of streaming the
    /// package through the node; `None` (or a store without such URLs): stream it.
    pub redirect_downloads_for: Option<std::time::Duration>,
}

impl Default for DeliveryPlacement {
    fn default() -> Self {
        Self {
            package_dir: std::path::PathBuf::from("./midship-data/packages"),
            settings: midship_delivery::DeliverySettings::default(),
            redirect_downloads_for: None,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            connections: ConnectionLimits::default(),
            secure_cookies: false,
            cors_origins: Vec::new(),
            long_connection: longconn::LongConnectionSettings::default(),
            delivery: DeliveryPlacement::default(),
            analytics: midship_analytics::AnalyticsSettings::default(),
            oidc: None,
        }
    }
}

/// What every handler can reach: the services of this node.
#[derive(Debug, Clone)]
pub struct AppState {
    pub control: ControlPlane,
    pub switches: SwitchService,
    pub experiments: ExperimentService,
    pub gateway: Arc<Gateway>,
    pub sync: SyncService,
    pub push: PushService,
    pub delivery: DeliveryService,
    pub analytics: AnalyticsService,
    /// The workspaces' server-only keys (device credentials, connection tokens, SDK client keys).
    pub server_keys: Arc<ServerKeys>,
    pub metrics: Arc<metrics::Metrics>,
    pub settings: Arc<ServerSettings>,
    /// Notified when another node announces a change: the snapshot refresh runs at once.
    pub changes: Arc<tokio::sync::Notify>,
    /// Set by a change announcement: the refresh reloads symbol files too.
    pub symbols_may_have_changed: Arc<std::sync::atomic::AtomicBool>,
    /// The cluster bus; `None` on a node that is alone.
    pub cluster: Option<Arc<midship_cluster::Cluster>>,
    /// The console's OpenID provider, when single sign-on is configured.
    pub oidc: Option<Arc<console::oidc::Provider>>,
}

/// What a node is built on beyond its database: the cluster bus (none for a node that is alone)
/// and the package store (a local directory unless given).
#[derive(Debug, Default)]
pub struct Infrastructure {
    pub cluster: Option<Arc<midship_cluster::Cluster>>,
    pub blobs: Option<Arc<dyn midship_delivery::BlobStore>>,
}

impl AppState {
    /// Composes every service over one control plane (and so one storage), for a node alone,
    /// with packages in `settings.delivery.package_dir`.
    pub fn new(control: ControlPlane, settings: ServerSettings, gateway_settings: GatewaySettings) -> Self {
        Self::alone(control, settings, gateway_settings, None)
    }

    /// A node without a bus: its hub is the only one.
    fn alone(
        control: ControlPlane,
        settings: ServerSettings,
        gateway_settings: GatewaySettings,
        blobs: Option<Arc<dyn midship_delivery::BlobStore>>,
    ) -> Self {
        let hub = Arc::new(Hub::new(settings.long_connection.sync.connection_queue));
        let bus = Arc::new(LocalBus::new(hub.clone()));
        Self::compose(control, settings, gateway_settings, Services { hub, bus, cluster: None, blobs })
    }

    /// Composes every service on `infrastructure`: with a cluster, sync traffic, presence, kicks,
    /// nonces and change announcements go over its bus.
    pub async fn with_infrastructure(
        control: ControlPlane,
        settings: ServerSettings,
        gateway_settings: GatewaySettings,
        infrastructure: Infrastructure,
    ) -> Result<Self, midship_cluster::ClusterError> {
        let Some(cluster) = infrastructure.cluster else {
            return Ok(Self::alone(control, settings, gateway_settings, infrastructure.blobs));
        };
        let hub = Arc::new(Hub::new(settings.long_connection.sync.connection_queue));
        let bus = midship_cluster::SyncBus::start(cluster.clone(), hub.clone()).await?;
        let services = Services { hub, bus, cluster: Some(cluster.clone()), blobs: infrastructure.blobs };
        let state = Self::compose(control, settings, gateway_settings, services);
        let on_change = state.clone();
        cluster
            .on_change(move || {
                on_change.control.forget_cached_lookups();
                on_change.sync.forget_cached_configs();
                on_change.gateway.forget_cached_lookups();
                on_change.symbols_may_have_changed.store(true, std::sync::atomic::Ordering::Release);
                on_change.changes.notify_one();
            })
            .await?;
        Ok(state)
    }

    fn compose(
        control: ControlPlane,
        settings: ServerSettings,
        gateway_settings: GatewaySettings,
        services: Services,
    ) -> Self {
        let metrics = Arc::new(metrics::Metrics::new(control.storage().backend_name()));
        let sync =
            SyncService::with_bus(control.clone(), settings.long_connection.sync.clone(), services.hub, services.bus);
        let switches = SwitchService::announcing(control.clone(), sync.clone());
        let experiments = ExperimentService::new(control.clone(), switches.clone());
        let observer: Arc<dyn midship_push::DispatchObserver> = metrics.clone();
        let push = PushService::observed(control.clone(), sync.clone(), Some(observer));
        let blobs = services.blobs.unwrap_or_else(|| Arc::new(LocalBlobStore::new(&settings.delivery.package_dir)));
        let delivery = DeliveryService::new(control.clone(), sync.clone(), blobs, settings.delivery.settings);
        let analytics = AnalyticsService::new(control.clone(), sync.clone(), settings.analytics.clone());
        let server_keys = Arc::new(ServerKeys::new(control.clone()));
        let builtins = builtins::registry(&control, &server_keys, &experiments, &push, &delivery, &analytics);
        let traffic =
            experiments::traffic::GatewayExperiments { experiments: experiments.clone(), analytics: analytics.clone() };
        let hooks = midship_gateway::GatewayHooks {
            cluster: services.cluster.clone().map(|cluster| cluster as Arc<dyn midship_gateway::ClusterGuards>),
            experiments: Some(Arc::new(traffic)),
        };
        let gateway = Arc::new(Gateway::new(control.clone(), gateway_settings, builtins, server_keys.clone(), hooks));
        let oidc = settings.oidc.clone().map(|oidc| Arc::new(console::oidc::Provider::new(oidc)));
        Self {
            control,
            switches,
            experiments,
            gateway,
            sync,
            push,
            delivery,
            analytics,
            server_keys,
            metrics,
            settings: Arc::new(settings),
            changes: Arc::new(tokio::sync::Notify::new()),
            symbols_may_have_changed: Arc::default(),
            cluster: services.cluster,
            oidc,
        }
    }
}

/// The parts [`AppState::compose`] builds the services from.
struct Services {
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    cluster: Option<Arc<midship_cluster::Cluster>>,
    blobs: Option<Arc<dyn midship_delivery::BlobStore>>,
}

/// The whole HTTP surface of a node.
pub fn router(state: AppState) -> Router {
    let max_body_bytes = state.settings.max_body_bytes;
    Router::new()
        .merge(api::router(state.settings.delivery.settings.max_package_bytes as usize))
        .merge(console::router(&state))
        .merge(console::device::api_routes())
        .merge(ops::router())
        .merge(mgw::router(&state.settings.cors_origins))
        .merge(longconn::router())
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::middleware::from_fn_with_state(state.cluster.clone(), announce_changes))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::record_request))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// After a change made through the admin API or the console, tells the other nodes of the
/// cluster, so they drop their caches and refresh their snapshots at once.
async fn announce_changes(
    axum::extract::State(cluster): axum::extract::State<Option<Arc<midship_cluster::Cluster>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let Some(cluster) = cluster else { return next.run(request).await };
    let path = request.uri().path();
    let changes = !request.method().is_safe() && changes_configuration(path);
    let response = next.run(request).await;
    let status = response.status();
    if changes && (status.is_success() || status.is_redirection()) {
        cluster.announce_change().await;
    }
    response
}

/// Calls that change what nodes keep in memory (apps, keys, tokens, switches, routes, bizTypes,
/// releases, security policies, channels, symbol files) rather than data passing through (sends,
/// pushes, uploads, log requests): only those are announced, so a busy backend sending messages
/// through one node does not make every other node drop its caches at each send.
fn changes_configuration(path: &str) -> bool {
    const DATA_PLANE: [&str; 11] = [
        "/sync/send",
        "/sync/batch",
        "/sync/global",
        "/sync/tokens",
        "/push/send/",
        "/push/revoke",
        "/push/tasks/",
        "/push/devices/",
        "/analytics/logs",
        "/analytics/export",
        "/delivery/packages",
    ];
    (path.starts_with("/api/") || path.starts_with("/console/")) && !DATA_PLANE.iter().any(|part| path.contains(part))
}

#[cfg(test)]
mod announcement_tests {
    use super::changes_configuration;

    #[test]
    fn configuration_changes_are_announced_and_sends_are_not() {
        assert!(changes_configuration("/api/v1/workspaces/W/config/publish"));
        assert!(changes_configuration("/api/v1/tokens/T"));
        assert!(changes_configuration("/api/v1/workspaces/W/sync/configs"));
        assert!(!changes_configuration("/api/v1/workspaces/W/sync/send"));
        assert!(!changes_configuration("/api/v1/workspaces/W/push/send/broadcast"));
        assert!(!changes_configuration("/mgw"));
    }
}
