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
mod apps;
mod builtins;
pub mod connections;
pub mod console;
mod delivery;
pub mod error;
pub mod extract;
mod gateway;
pub mod longconn;
pub mod metrics;
mod mgw;
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
use midship_gateway::{Gateway, GatewaySettings, ServerKeys};
use midship_push::PushService;
use midship_switches::SwitchService;
use midship_sync::SyncService;
use tower_http::trace::TraceLayer;

pub use connections::{ConnectionLimits, run};
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
    pub long_connection: longconn::LongConnectionSettings,
    pub delivery: DeliveryPlacement,
    pub analytics: midship_analytics::AnalyticsSettings,
}

/// Where delivery keeps package blobs, and its limits (the `[delivery]` config section).
#[derive(Debug, Clone)]
pub struct DeliveryPlacement {
    /// The package store's directory (`DATA_DIR/packages` for `midship serve`).
    pub package_dir: std::path::PathBuf,
    pub settings: midship_delivery::DeliverySettings,
}

impl Default for DeliveryPlacement {
    fn default() -> Self {
        Self {
            package_dir: std::path::PathBuf::from("./midship-data/packages"),
            settings: midship_delivery::DeliverySettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            connections: ConnectionLimits::default(),
            secure_cookies: false,
            long_connection: longconn::LongConnectionSettings::default(),
            delivery: DeliveryPlacement::default(),
            analytics: midship_analytics::AnalyticsSettings::default(),
        }
    }
}

/// What every handler can reach: the services of this node.
#[derive(Debug, Clone)]
pub struct AppState {
    pub control: ControlPlane,
    pub switches: SwitchService,
    pub gateway: Arc<Gateway>,
    pub sync: SyncService,
    pub push: PushService,
    pub delivery: DeliveryService,
    pub analytics: AnalyticsService,
    /// The workspaces' server-only keys (device credentials, connection tokens, SDK client keys).
    pub server_keys: Arc<ServerKeys>,
    pub metrics: Arc<metrics::Metrics>,
    pub settings: Arc<ServerSettings>,
}

impl AppState {
    /// Composes every service over one control plane (and so one storage).
    pub fn new(control: ControlPlane, settings: ServerSettings, gateway_settings: GatewaySettings) -> Self {
        let metrics = Arc::new(metrics::Metrics::new(control.storage().backend_name()));
        let switches = SwitchService::new(control.clone());
        let sync = SyncService::new(control.clone(), settings.long_connection.sync.clone());
        let observer: Arc<dyn midship_push::DispatchObserver> = metrics.clone();
        let push = PushService::observed(control.clone(), sync.clone(), Some(observer));
        let blobs = Arc::new(LocalBlobStore::new(&settings.delivery.package_dir));
        let delivery = DeliveryService::new(control.clone(), sync.clone(), blobs, settings.delivery.settings);
        let analytics = AnalyticsService::new(control.clone(), sync.clone(), settings.analytics.clone());
        let server_keys = Arc::new(ServerKeys::new(control.clone()));
        let builtins = builtins::registry(&control, &server_keys, &switches, &push, &delivery, &analytics);
        let gateway = Arc::new(Gateway::new(control.clone(), gateway_settings, builtins, server_keys.clone()));
        Self {
            control,
            switches,
            gateway,
            sync,
            push,
            delivery,
            analytics,
            server_keys,
            metrics,
            settings: Arc::new(settings),
        }
    }
}

/// The whole HTTP surface of a node.
pub fn router(state: AppState) -> Router {
    let max_body_bytes = state.settings.max_body_bytes;
    Router::new()
        .merge(api::router(state.settings.delivery.settings.max_package_bytes as usize))
        .merge(console::router())
        .merge(ops::router())
        .merge(mgw::router())
        .merge(longconn::router())
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::record_request))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Keeps this node's in-memory snapshots in step with publications made by other nodes of a
/// cluster, checking every `interval`, until the returned task is aborted.
pub fn spawn_snapshot_refresh(state: &AppState, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let switches = state.switches.clone();
    let gateway = state.gateway.clone();
    let delivery = state.delivery.clone();
    let analytics = state.analytics.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match switches.refresh_changed().await {
                Ok(0) => {}
                Ok(refreshed) => tracing::info!(refreshed, "reloaded configuration published by another node"),
                Err(error) => {
                    tracing::warn!(%error, "cannot check for newer configuration versions")
                }
            }
            match gateway.refresh_changed().await {
                Ok(false) => {}
                Ok(true) => tracing::info!("reloading gateway routes changed by another node"),
                Err(error) => tracing::warn!(%error, "cannot check the gateway revision"),
            }
            match delivery.refresh_changed().await {
                Ok(0) => {}
                Ok(refreshed) => tracing::info!(refreshed, "reloading releases changed by another node"),
                Err(error) => tracing::warn!(%error, "cannot check for release changes"),
            }
            if let Err(error) = analytics.catch_up().await {
                tracing::warn!(%error, "cannot count analytics batches stored by another node");
            }
        }
    })
}
