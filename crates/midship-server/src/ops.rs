//! Liveness, readiness and metrics endpoints for load balancers and Prometheus.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The node can serve traffic: its storage answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let storage = state.control.storage();
    let node_id = state.control.node_id();
    let live_nodes = state.cluster.as_ref().map_or(1, |cluster| cluster.live_nodes());
    match storage.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ready",
                "storage": storage.backend_name(),
                "node_id": node_id,
                "live_nodes": live_nodes,
            })),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "storage": storage.backend_name(), "reason": "storage does not answer" }),
                ),
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
