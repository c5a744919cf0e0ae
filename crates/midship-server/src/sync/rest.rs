//! `/api/v1/workspaces/{workspace_id}/sync/*`: bizType configurations, sending to streams,
//! stream status and connection tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{
    ErrorBody, List, SyncBatchRequest, SyncBatchResponse, SyncBatchResult, SyncSendRequest, SyncSendResponse,
    SyncStatusView, SyncTokenRequest, SyncTokenView,
};
use midship_core::clock::format_rfc3339;
use midship_gateway::NewConnectToken;
use midship_sync::{SendRequest, SyncConfig, VersionRange};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};

/// A token lives an hour unless the caller asks otherwise.
/// How long a connection token lasts when the caller names no lifetime.
pub(crate) const DEFAULT_TOKEN_TTL_SECONDS: u32 = 3600;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_configs, put_config))
        .routes(routes!(delete_config))
        .routes(routes!(send))
        .routes(routes!(send_global))
        .routes(routes!(send_batch))
        .routes(routes!(status))
        .routes(routes!(issue_token))
}

pub(crate) fn config_json(config: &SyncConfig) -> Value {
    serde_json::to_value(config).expect("configurations serialize")
}

/// The workspace's bizType configurations.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/sync/configs", tag = "sync",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<serde_json::Value>), (status = 404, body = ErrorBody)))]
async fn list_configs(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<Value>>, ApiError> {
    let configs = state.sync.list_configs(&who, &workspace_id).await?;
    Ok(Json(List { items: configs.iter().map(|config| config_json(config)).collect(), next_cursor: None }))
}

/// Creates or replaces a bizType's configuration: `{"biz_type", "scope": "targeted"|"global",
/// "target": "user"|"device", "delivery": "all_devices"|"latest_device", "persistent",
/// "retention_days", "repush": "all"|{"newest": n}, "verified_users_only"}` (docs/sync.md).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sync/configs", tag = "sync",
    params(("workspace_id" = String, Path)), request_body = SyncConfig,
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_config(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(config): ApiJson<SyncConfig>,
) -> Result<Json<Value>, ApiError> {
    let config = state.sync.put_config(&who, &workspace_id, config).await?;
    Ok(Json(config_json(&config)))
}

/// Removes a bizType; its stored messages stay until they expire.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/sync/configs/{biz_type}", tag = "sync",
    params(("workspace_id" = String, Path), ("biz_type" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delete_config(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, biz_type)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.sync.delete_config(&who, &workspace_id, &biz_type).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn send_request(request: SyncSendRequest) -> Result<SendRequest, ApiError> {
    let app_version_range = request
        .app_version_range
        .map(serde_json::from_value::<VersionRange>)
        .transpose()
        .map_err(|error| ApiError::invalid(format!("invalid app_version_range: {error}")))?;
    Ok(SendRequest {
        biz_type: request.biz_type,
        link_token: request.link_token,
        payload: request.payload,
        third_msg_id: request.third_msg_id,
        os_type: request.os_type,
        app_version_range,
        valid_from: request.valid_from,
        valid_until: request.valid_until,
        online_check: request.online_check,
    })
}

fn send_response(outcome: midship_sync::SendOutcome) -> SyncSendResponse {
    SyncSendResponse { result: outcome.result.as_str().to_owned(), seq: outcome.seq, scheduled: outcome.scheduled }
}

/// Sends one message to a user's or device's stream. A persistent message is durable when this
/// answers; a repeated `third_msg_id` answers `DUPLICATED_BIZ_ID` and stores nothing.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sync/send", tag = "sync",
    params(("workspace_id" = String, Path)), request_body = SyncSendRequest,
    responses((status = 200, body = SyncSendResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<SyncSendRequest>,
) -> Result<Json<SyncSendResponse>, ApiError> {
    let outcome = state.sync.send(&who, &workspace_id, send_request(request)?).await?;
    Ok(Json(send_response(outcome)))
}

/// Sends one message to every device of the workspace (a global bizType), delivered to each
/// while it is online and in the foreground.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sync/global", tag = "sync",
    params(("workspace_id" = String, Path)), request_body = SyncSendRequest,
    responses((status = 200, body = SyncSendResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send_global(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<SyncSendRequest>,
) -> Result<Json<SyncSendResponse>, ApiError> {
    if !request.link_token.is_empty() {
        return Err(ApiError::invalid("invalid link_token: a global message has none"));
    }
    let outcome = state.sync.send(&who, &workspace_id, send_request(request)?).await?;
    Ok(Json(send_response(outcome)))
}

/// Sends up to 500 messages in one call (targeted ones need `link_token`, global ones none), each
/// with its own outcome; they are stored together, so a busy backend pays one commit per batch.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sync/batch", tag = "sync",
    params(("workspace_id" = String, Path)), request_body = SyncBatchRequest,
    responses((status = 200, body = SyncBatchResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send_batch(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<SyncBatchRequest>,
) -> Result<Json<SyncBatchResponse>, ApiError> {
    let mut converted = Vec::with_capacity(request.messages.len());
    let mut refused = Vec::new();
    for (index, message) in request.messages.into_iter().enumerate() {
        match send_request(message) {
            Ok(message) => converted.push(message),
            Err(error) => refused.push((index, error)),
        }
    }
    if let Some((index, error)) = refused.into_iter().next() {
        return Err(ApiError::invalid(format!("messages[{index}]: {}", error.message)));
    }
    let outcomes = state.sync.send_batch(&who, &workspace_id, converted).await?;
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(outcome) => {
                let sent = send_response(outcome);
                SyncBatchResult { result: sent.result, seq: sent.seq, scheduled: sent.scheduled, error: None }
            }
            Err(error) => {
                let error = ApiError::from(error);
                let body = ErrorBody { code: error.code.to_owned(), message: error.message };
                SyncBatchResult { result: "FAILED".to_owned(), seq: None, scheduled: false, error: Some(body) }
            }
        })
        .collect();
    Ok(Json(SyncBatchResponse { results }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatusParams {
    biz_type: String,
    /// The userId or utdid; empty for global bizTypes.
    #[serde(default)]
    link_token: String,
    /// Also show how far this device acknowledged.
    device_id: Option<String>,
}

/// A stream's last sequence, whether its target is online, and a device's acknowledged position.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/sync/status", tag = "sync",
    params(("workspace_id" = String, Path), StatusParams),
    responses((status = 200, body = SyncStatusView), (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<StatusParams>,
) -> Result<Json<SyncStatusView>, ApiError> {
    let status = state
        .sync
        .status(&who, &workspace_id, &params.biz_type, &params.link_token, params.device_id.as_deref())
        .await?;
    Ok(Json(SyncStatusView {
        biz_type: params.biz_type,
        link_token: params.link_token,
        last_seq: status.last_seq,
        acked_seq: status.acked_seq,
        online: status.online,
    }))
}

/// A connection token for the app to open the long connection with (the hello's `token`),
/// vouching for `user_id`: bizTypes with `verified_users_only` reach only such connections.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/sync/tokens", tag = "sync",
    params(("workspace_id" = String, Path)), request_body = SyncTokenRequest,
    responses((status = 201, body = SyncTokenView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn issue_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<SyncTokenRequest>,
) -> Result<(StatusCode, Json<SyncTokenView>), ApiError> {
    let request = NewConnectToken {
        user_id: request.user_id,
        device_id: request.device_id,
        ttl_seconds: request.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS),
    };
    let issued = state.gateway.issue_connect_token(&who, &workspace_id, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(SyncTokenView { token: issued.token, expires_at: format_rfc3339(issued.expires_at) }),
    ))
}
