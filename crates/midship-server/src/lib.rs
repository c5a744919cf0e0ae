//! The Midship server: composes the services behind one HTTP listener.
//!
//! - `/api/v1/*`: the admin REST API (one module per resource under [`api`]), documented at
//!   `/api/v1/openapi.json`, generated from the handlers.
//! - `/console/*`: server-rendered web console ([`console`]).
//! - `/healthz`, `/readyz`, `/metrics`: operations ([`ops`]).
//!
//! Only this crate knows HTTP: it maps the services' errors to statuses and error codes
//! ([`error`]). Start it with [`run`] on any listener, so tests bind port 0.

pub mod api;
pub mod console;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod ops;
pub mod storage;
mod views;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use midship_control::ControlPlane;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use storage::{StorageOpenError, open_storage};

/// HTTP-level settings, from the `[server]` config section.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Larger request bodies are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// Mark console cookies `Secure` (set when Midship is reached over HTTPS).
    pub secure_cookies: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            secure_cookies: false,
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub control: ControlPlane,
    pub metrics: Arc<metrics::Metrics>,
    pub settings: Arc<ServerSettings>,
}

/// The whole HTTP surface of a node.
pub fn router(control: ControlPlane, settings: ServerSettings) -> Router {
    let metrics = Arc::new(metrics::Metrics::new(control.storage().backend_name()));
    let max_body_bytes = settings.max_body_bytes;
    let state = AppState {
        control,
        metrics: metrics.clone(),
        settings: Arc::new(settings),
    };
    Router::new()
        .merge(api::router())
        .merge(console::router())
        .merge(ops::router())
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::record_request,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `router` on `listener` (HTTP/1.1 and cleartext HTTP/2) until `shutdown` completes,
/// then lets in-flight requests finish.
pub async fn run<F>(listener: TcpListener, router: Router, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
