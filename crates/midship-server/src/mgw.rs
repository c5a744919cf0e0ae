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

fn rpc_headers(headers: &HeaderMap) -> RpcHeaders {
    RpcHeaders {
        operation_type: header_text(headers, "operation-type"),
        app_id: header_text(headers, "appid"),
        workspace_id: header_text(headers, "workspaceid"),
        timestamp: header_text(headers, "ts"),
        sign: header_text(headers, "sign"),
        sign_type: header_text(headers, "sign-type"),
        nonce: header_text(headers, "nonce"),
        device_id: header_text(headers, "device-id"),
        user_id: header_text(headers, "user-id"),
        platform: header_text(headers, "platform"),
        app_version: header_text(headers, "app-version"),
        encrypt_suite: header_text(headers, "encrypt-suite"),
        encrypt_key: header_text(headers, "encrypt-key"),
    }
}

async fn mgw(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = rpc_headers(&parts.headers);
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
            let request =
                RpcRequest { headers: headers.clone(), method: parts.method.as_str().to_owned(), body, other_headers };
            state.gateway.handle(request).await
        }
        Err(()) => {
            let trace_id = midship_core::ids::new_id(state.control.now_ms(), &mut rand::rng());
            let mut failure = RpcResponse::failure(
                ResultCode::RequestTooLarge,
                &trace_id,
                Some(format!("the body is over {limit} bytes")),
            );
            failure.operation_type = "unknown".to_owned();
            failure
        }
    };
    let elapsed = started.elapsed();
    state.metrics.record_gateway_call(&response.operation_type, response.result.code(), elapsed.as_secs_f64());
    tracing::info!(
        target: "midship::digest",
        operation_type = %response.operation_type,
        app_id = response.app_id.as_deref().unwrap_or("-"),
        workspace_id = response.workspace_id.as_deref().unwrap_or("-"),
        result = response.result.code(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_bytes,
        response_bytes = response.body.len(),
        trace_id = %response.trace_id,
        device_id = headers.device_id.as_deref().or(response.issued_device_id.as_deref()).unwrap_or("-"),
        user_id = headers.user_id.as_deref().unwrap_or("-"),
        "rpc"
    );
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
