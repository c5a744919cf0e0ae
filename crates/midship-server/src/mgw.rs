//! `POST /mgw` (alias `/mgw.htm`): the one HTTP entry point of client RPCs. Reads the protocol
//! headers and a bounded body, runs the gateway pipeline, and writes `Result-Status`, `Memo`,
//! `Tips` and `Trace-Id` (docs/protocol.md). Also the digest log line and the per-API metrics.

use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use midship_gateway::{ResultCode, RpcHeaders, RpcRequest, RpcResponse, default_status};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/mgw", post(mgw)).route("/mgw.htm", post(mgw))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// The protocol headers of a call, looked up by their lower-case names (docs/protocol.md), from
/// HTTP headers or the header map of an RPC frame.
pub(crate) fn rpc_headers(lookup: impl Fn(&str) -> Option<String>) -> RpcHeaders {
    RpcHeaders {
        operation_type: lookup("operation-type"),
        app_id: lookup("appid"),
        workspace_id: lookup("workspaceid"),
        timestamp: lookup("ts"),
        sign: lookup("sign"),
        sign_type: lookup("sign-type"),
        nonce: lookup("nonce"),
        device_id: lookup("device-id"),
        user_id: lookup("user-id"),
        platform: lookup("platform"),
        app_version: lookup("app-version"),
        encrypt_suite: lookup("encrypt-suite"),
        encrypt_key: lookup("encrypt-key"),
    }
}

/// Which way a call came in, for the digest log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    LongConnection,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::LongConnection => "ws",
        }
    }
}

/// What the digest line says about the caller, taken before the request moves into the gateway.
struct RpcOrigin {
    transport: Transport,
    device_id: Option<String>,
    user_id: Option<String>,
    request_bytes: usize,
}

impl RpcOrigin {
    fn of(headers: &RpcHeaders, transport: Transport, request_bytes: usize) -> Self {
        Self {
            transport,
            device_id: headers.device_id.as_deref().map(bounded_for_log),
            user_id: headers.user_id.as_deref().map(bounded_for_log),
            request_bytes,
        }
    }
}

/// What a client sent, cut to a length a log line can hold (the gateway refuses longer ids, but
/// the digest line records refused calls too).
fn bounded_for_log(value: &str) -> String {
    match value.char_indices().nth(midship_gateway::MAX_IDENTITY_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
        None => value.to_owned(),
    }
}

/// Runs one call through the gateway and records it: the metrics and the digest log line. Both
/// entry points, `POST /mgw` and RPC frames on the long connection, come through here.
pub(crate) async fn dispatch(state: &AppState, request: RpcRequest, transport: Transport) -> RpcResponse {
    let started = Instant::now();
    let origin = RpcOrigin::of(&request.headers, transport, request.body.len());
    let response = state.gateway.handle(request).await;
    record(state, &origin, &response, started.elapsed());
    response
}

fn record(state: &AppState, origin: &RpcOrigin, response: &RpcResponse, elapsed: std::time::Duration) {
    state.metrics.record_gateway_call(&response.operation_type, response.result.code(), elapsed.as_secs_f64());
    tracing::info!(
        target: "midship::digest",
        operation_type = %response.operation_type,
        app_id = response.app_id.as_deref().unwrap_or("-"),
        workspace_id = response.workspace_id.as_deref().unwrap_or("-"),
        result = response.result.code(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_bytes = origin.request_bytes,
        response_bytes = response.body.len(),
        trace_id = %response.trace_id,
        device_id = origin.device_id.as_deref().or(response.issued_device_id.as_deref()).unwrap_or("-"),
        user_id = origin.user_id.as_deref().unwrap_or("-"),
        transport = origin.transport.as_str(),
        "rpc"
    );
}

async fn mgw(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = rpc_headers(|name| header_text(&parts.headers, name));
    let limit = state.settings.max_body_bytes;
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .is_some_and(|length| length > limit);
    // Refused before reading when the length is declared, and as soon as the limit is passed otherwise.
    let body =
        if declared_too_large { Err(()) } else { axum::body::to_bytes(Body::new(body), limit).await.map_err(|_| ()) };
    let request_bytes = body.as_ref().map_or(0, Bytes::len);
    let response = match body {
        Ok(body) => {
            let other_headers = parts
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    value.to_str().ok().map(|value| (name.as_str().to_owned(), value.to_owned()))
                })
                .collect();
            let request = RpcRequest { headers, method: parts.method.as_str().to_owned(), body, other_headers };
            dispatch(&state, request, Transport::Http).await
        }
        Err(()) => {
            let trace_id = midship_core::ids::new_id(state.control.now_ms(), &mut rand::rng());
            let mut failure = RpcResponse::failure(
                ResultCode::RequestTooLarge,
                &trace_id,
                Some(format!("the body is over {limit} bytes")),
            );
            failure.operation_type = "unknown".to_owned();
            record(&state, &RpcOrigin::of(&headers, Transport::Http, request_bytes), &failure, started.elapsed());
            failure
        }
    };
    into_http(response)
}

/// Header values must be visible ASCII; anything else in a memo becomes `?`.
fn header_value(text: &str) -> HeaderValue {
    let cleaned: String =
        text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(512).collect();
    HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static("?"))
}

fn into_http(response: RpcResponse) -> Response {
    let status = StatusCode::from_u16(response.status)
        .unwrap_or_else(|_| StatusCode::from_u16(default_status(response.result)).unwrap_or(StatusCode::OK));
    let mut http = (status, response.body).into_response();
    let headers = http.headers_mut();
    // Backend headers first, so the gateway's own protocol headers always win.
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    headers.insert(HeaderName::from_static("result-status"), HeaderValue::from(response.result.code()));
    headers.insert(HeaderName::from_static("memo"), header_value(&response.memo));
    headers.insert(HeaderName::from_static("tips"), header_value(&response.tips));
    headers.insert(HeaderName::from_static("trace-id"), header_value(&response.trace_id));
    if let Some(suite) = response.sealed_with {
        headers.insert(HeaderName::from_static("encrypt-suite"), HeaderValue::from_static(suite));
    }
    if let Some(device_id) = &response.issued_device_id {
        headers.insert(HeaderName::from_static("device-id"), header_value(device_id));
    }
    if let Some(content_type) = response.content_type.as_deref().and_then(|text| HeaderValue::from_str(text).ok()) {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    http
}
