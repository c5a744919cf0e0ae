//! `POST /mgw` (alias `/mgw.htm`): the one HTTP entry point of client RPCs. Reads the protocol
//! headers and a bounded body, runs the gateway pipeline, and writes `Result-Status`, `Memo`,
//! `Tips` and `Trace-Id` (docs/protocol.md). Also the digest log line and the per-API metrics.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use midship_gateway::{ResultCode, RpcHeaders, RpcRequest, RpcResponse};
use midship_protocol::headers;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;

/// `cors_origins` are the web origins whose pages may call from a browser (`*` for any); an
/// origin that is not a valid header value is skipped (config loading has refused it already).
pub fn router(cors_origins: &[String]) -> Router<AppState> {
    if cors_origins.is_empty() {
        return Router::new().route("/mgw", post(mgw)).route("/mgw.htm", post(mgw));
    }
    // OPTIONS is routed so that preflights reach the CORS layer (which answers them) instead of
    // the node's 405 for unrouted methods.
    let with_preflight = || post(mgw).options(|| async { StatusCode::NO_CONTENT });
    Router::new().route("/mgw", with_preflight()).route("/mgw.htm", with_preflight()).layer(cors(cors_origins))
}

/// Answers browsers' preflights and lets pages send the protocol headers and read the answer's.
/// Calls carry no cookies: the signature is the credential.
fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()))
    };
    let request_headers = headers::REQUEST.into_iter().map(protocol_header).chain([header::CONTENT_TYPE]);
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST])
        .allow_headers(request_headers.collect::<Vec<_>>())
        // And `Date`: the server's clock, which a page whose clock is off needs to sign again (7003).
        .expose_headers(headers::RESPONSE.into_iter().map(protocol_header).chain([header::DATE]).collect::<Vec<_>>())
        .max_age(Duration::from_secs(600))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// The protocol headers of a call (docs/protocol.md), from HTTP headers or the header map of an
/// RPC frame; `lookup` matches names ignoring case.
pub(crate) fn rpc_headers(lookup: impl Fn(&str) -> Option<String>) -> RpcHeaders {
    RpcHeaders {
        operation_type: lookup(headers::OPERATION_TYPE),
        app_id: lookup(headers::APP_ID),
        workspace_id: lookup(headers::WORKSPACE_ID),
        timestamp: lookup(headers::TS),
        sign: lookup(headers::SIGN),
        sign_type: lookup(headers::SIGN_TYPE),
        nonce: lookup(headers::NONCE),
        device_id: lookup(headers::DEVICE_ID),
        user_id: lookup(headers::USER_ID),
        platform: lookup(headers::PLATFORM),
        app_version: lookup(headers::APP_VERSION),
        encrypt_suite: lookup(headers::ENCRYPT_SUITE),
        encrypt_key: lookup(headers::ENCRYPT_KEY),
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

fn protocol_header(name: &'static str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).expect("the protocol's header names are valid")
}

fn into_http(response: RpcResponse) -> Response {
    let status = StatusCode::from_u16(response.status)
        .unwrap_or_else(|_| StatusCode::from_u16(response.result.http_status()).unwrap_or(StatusCode::OK));
    let mut http = (status, response.body).into_response();
    let answer_headers = http.headers_mut();
    // Backend headers first, so the gateway's own protocol headers always win.
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            answer_headers.append(name, value);
        }
    }
    answer_headers.insert(protocol_header(headers::RESULT_STATUS), HeaderValue::from(response.result.code()));
    answer_headers.insert(protocol_header(headers::MEMO), header_value(&response.memo));
    answer_headers.insert(protocol_header(headers::TIPS), header_value(&response.tips));
    answer_headers.insert(protocol_header(headers::TRACE_ID), header_value(&response.trace_id));
    if let Some(suite) = response.sealed_with {
        answer_headers.insert(protocol_header(headers::ENCRYPT_SUITE), HeaderValue::from_static(suite));
    }
    if let Some(device_id) = &response.issued_device_id {
        answer_headers.insert(protocol_header(headers::DEVICE_ID), header_value(device_id));
    }
    if let Some(content_type) = response.content_type.as_deref().and_then(|text| HeaderValue::from_str(text).ok()) {
        answer_headers.insert(header::CONTENT_TYPE, content_type);
    }
    http
}
