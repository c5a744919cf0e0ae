//! Prometheus metrics, rendered at `/metrics`. The registry lives in the server state rather than
//! in a global, so several servers in one test process keep separate counts.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    storage: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayCallLabels {
    operation_type: String,
    result: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation_type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    /// The close code the server sent; 0 when the device went away first.
    code: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PushLabels {
    /// A channel name from the workspace's settings (or `own`), never raw client input.
    channel: String,
    outcome: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    gateway_calls: Family<GatewayCallLabels, Counter>,
    gateway_durations: Family<OperationLabels, Histogram>,
    connections: Gauge,
    connection_closes: Family<CloseLabels, Counter>,
    sync_deliveries: Counter,
    push_deliveries: Family<PushLabels, Counter>,
}

impl Metrics {
    pub fn new(storage_backend: &str) -> Self {
        let mut registry = Registry::with_prefix("midship");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.5, 14))
        });
        registry.register("http_request_duration_seconds", "HTTP request latency by route", durations.clone());
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                storage: storage_backend.to_owned(),
            })
            .set(1);
        registry.register("build_info", "Version and storage backend of this node", build_info);
        let gateway_calls = Family::<GatewayCallLabels, Counter>::default();
        registry.register("gateway_calls", "Client RPCs by operation type and result code", gateway_calls.clone());
        let gateway_durations = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00005, 2.0, 18))
        });
        registry.register(
            "gateway_call_duration_seconds",
            "Client RPC latency through the gateway by operation type",
            gateway_durations.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Open device long connections on this node", connections.clone());
        let connection_closes = Family::<CloseLabels, Counter>::default();
        registry.register("connection_closes", "Ended long connections by close code", connection_closes.clone());
        let sync_deliveries = Counter::default();
        registry.register("sync_deliveries", "Sync messages written to device connections", sync_deliveries.clone());
        let push_deliveries = Family::<PushLabels, Counter>::default();
        registry.register(
            "push_deliveries",
            "Push messages handed to a channel, by channel and outcome (sent or failed)",
            push_deliveries.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            durations,
            gateway_calls,
            gateway_durations,
            connections,
            connection_closes,
            sync_deliveries,
            push_deliveries,
        }
    }

    /// One client RPC. `operation_type` must be a routed one (or `unknown`), never raw client
    /// input, so the label set stays bounded.
    pub fn record_gateway_call(&self, operation_type: &str, result: u16, seconds: f64) {
        let operation_type = operation_type.to_owned();
        self.gateway_calls.get_or_create(&GatewayCallLabels { operation_type: operation_type.clone(), result }).inc();
        self.gateway_durations.get_or_create(&OperationLabels { operation_type }).observe(seconds);
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self, close_code: u16) {
        self.connections.dec();
        self.connection_closes.get_or_create(&CloseLabels { code: close_code }).inc();
    }

    pub fn sync_delivered(&self, messages: usize) {
        self.sync_deliveries.inc_by(messages as u64);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

/// Counts every request and its latency under its route template (never the raw path, whose ids
/// would make the label set unbounded).
pub async fn record_request(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.requests.get_or_create(&RequestLabels { method, route: route.clone(), status }).inc();
    metrics.durations.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    response
}

/// The method as a label from a closed set: a client can send any token as its method, and every
/// distinct label is a series kept until restart.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl midship_push::DispatchObserver for Metrics {
    fn dispatched(&self, channel: &str, sent: u64, failed: u64) {
        for (outcome, count) in [("sent", sent), ("failed", failed)] {
            if count > 0 {
                self.push_deliveries.get_or_create(&PushLabels { channel: channel.to_owned(), outcome }).inc_by(count);
            }
        }
    }
}
