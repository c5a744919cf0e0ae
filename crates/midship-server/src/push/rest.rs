//! `/api/v1/workspaces/{workspace_id}/push/*`: sending pushes, tasks, revoking, statistics,
//! templates and channel credentials.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use midship_api::{
    ApprovalView, ErrorBody, List, PushDeliveryView, PushMessageBody, PushRequest, PushRevokeRequest, PushRevokeView,
    PushStatsRowView, PushStatsView, PushTaskView, PushTemplateBody,
};
use midship_core::clock::format_rfc3339;
use midship_core::page::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use midship_push::{PushKind, PushSettings, TaskSummary};
use midship_storage::{PushDefinitionKind, PushStatsRow, PushStatsScope};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::approvals::rest::APPROVAL_REQUESTED;
use crate::approvals::{self, Gated};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, checked_limit};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(list_tasks))
        .routes(routes!(show_task))
        .routes(routes!(cancel_task))
        .routes(routes!(list_deliveries))
        .routes(routes!(revoke))
        .routes(routes!(stats))
        .routes(routes!(list_templates))
        .routes(routes!(put_template, delete_template))
        .routes(routes!(list_channels))
        .routes(routes!(put_channel, delete_channel))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(put_binding, delete_binding))
}

pub(crate) fn task_view(summary: TaskSummary) -> PushTaskView {
    let task = summary.task;
    PushTaskView {
        task_id: task.task_id,
        kind: task.kind,
        status: task.status.as_str().to_owned(),
        created_at: format_rfc3339(task.created_at),
        parent_task_id: task.parent_task_id,
        next_run_at: task.next_run_at.map(format_rfc3339),
        runs: task.runs,
        targets: summary.totals.targets,
    }
}

/// Sends a push now, or schedules it (`schedule`). `kind` is `simple` (at most 10 targets with
/// a `message`), `template` (a stored `template`, shared `values`, at most 10 targets),
/// `multiple` (a `template`, at most 100 targets each with its own `values`) or `broadcast`
/// (a `message`, a `msg_id` and an `audience`). Everything is checked before anything is stored.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/push/send/{kind}", tag = "push",
    params(("workspace_id" = String, Path), ("kind" = String, Path, pattern = "^(simple|template|multiple|broadcast)$")),
    request_body = PushRequest,
    responses((status = 201, body = PushTaskView), (status = 202, description = APPROVAL_REQUESTED, body = ApprovalView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, kind)): Path<(String, String)>,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Response, ApiError> {
    let kind = PushKind::parse(&kind)
        .ok_or_else(|| ApiError::invalid("invalid kind: must be simple, template, multiple or broadcast"))?;
    match approvals::send_push(&state, &who, &workspace_id, kind, request).await? {
        Gated::Done(summary) => Ok((StatusCode::CREATED, Json(task_view(summary))).into_response()),
        Gated::Requested(approval) => Ok(approvals::rest::requested(&state, &approval)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TaskListParams {
    #[param(schema_with = midship_api::rules::page_limit)]
    limit: Option<u32>,
}

/// The workspace's push tasks, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/tasks", tag = "push",
    params(("workspace_id" = String, Path), TaskListParams),
    responses((status = 200, body = List<PushTaskView>), (status = 404, body = ErrorBody)))]
async fn list_tasks(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<List<PushTaskView>>, ApiError> {
    let limit = checked_limit(params.limit, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)?;
    let tasks = state.push.tasks(&who, &workspace_id, limit).await?;
    Ok(Json(List { items: tasks.into_iter().map(task_view).collect(), next_cursor: None }))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}", tag = "push",
    params(("workspace_id" = String, Path), ("task_id" = String, Path)),
    responses((status = 200, body = PushTaskView), (status = 404, body = ErrorBody)))]
async fn show_task(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, task_id)): Path<(String, String)>,
) -> Result<Json<PushTaskView>, ApiError> {
    Ok(Json(task_view(state.push.task(&who, &workspace_id, &task_id).await?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryListParams {
    /// The last device of the previous page.
    #[serde(default)]
    after: String,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A task's deliveries in device order: each device's channel, outcome times and error. Page with
/// `after` = the last `device_id` shown.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}/deliveries", tag = "push",
    params(("workspace_id" = String, Path), ("task_id" = String, Path), DeliveryListParams),
    responses((status = 200, body = List<PushDeliveryView>), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, task_id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<DeliveryListParams>,
) -> Result<Json<List<PushDeliveryView>>, ApiError> {
    let limit = checked_limit(params.limit, 100, 1000)?;
    let deliveries = state.push.deliveries(&who, &workspace_id, &task_id, &params.after, limit).await?;
    let next_cursor = (deliveries.len() == limit as usize)
        .then(|| deliveries.last().map(|delivery| delivery.device_id.clone()))
        .flatten();
    let time = |at: Option<i64>| at.map(format_rfc3339);
    let items = deliveries
        .into_iter()
        .map(|delivery| PushDeliveryView {
            task_id: delivery.task_id,
            device_id: delivery.device_id,
            user_id: delivery.user_id,
            platform: delivery.platform,
            channel: delivery.channel,
            msg_id: delivery.msg_id,
            expires_at: format_rfc3339(delivery.expires_at),
            sent_at: time(delivery.sent_at),
            failed_at: time(delivery.failed_at),
            error: delivery.error,
            delivered_at: time(delivery.delivered_at),
            opened_at: time(delivery.opened_at),
            ignored_at: time(delivery.ignored_at),
            revoked_at: time(delivery.revoked_at),
        })
        .collect();
    Ok(Json(List { items, next_cursor }))
}

/// Stops a scheduled or repeating task, or what a sending task has not sent yet.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/push/tasks/{task_id}/cancel", tag = "push",
    params(("workspace_id" = String, Path), ("task_id" = String, Path)),
    responses((status = 200, body = PushTaskView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_task(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, task_id)): Path<(String, String)>,
) -> Result<Json<PushTaskView>, ApiError> {
    Ok(Json(task_view(state.push.cancel(&who, &workspace_id, &task_id).await?)))
}

/// Revokes a task's messages, or one target's, within 7 days of sending.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/push/revoke", tag = "push",
    params(("workspace_id" = String, Path)), request_body = PushRevokeRequest,
    responses((status = 200, body = PushRevokeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<PushRevokeRequest>,
) -> Result<Json<PushRevokeView>, ApiError> {
    let outcome = state.push.revoke(&who, &workspace_id, &request).await?;
    Ok(Json(PushRevokeView { revoked: outcome.revoked, removed_undelivered: outcome.removed_undelivered }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatsParams {
    /// One task (with its runs).
    task_id: Option<String>,
    /// Tasks created from this time (milliseconds since the epoch), with `until`, at most 90 days.
    from: Option<i64>,
    until: Option<i64>,
}

fn stats_row(row: &PushStatsRow) -> PushStatsRowView {
    PushStatsRowView {
        channel: row.channel.clone(),
        platform: row.platform.clone(),
        targets: row.targets,
        sent: row.sent,
        failed: row.failed,
        delivered: row.delivered,
        opened: row.opened,
        ignored: row.ignored,
        revoked: row.revoked,
    }
}

fn stats_view(rows: &[PushStatsRow]) -> PushStatsView {
    PushStatsView { total: stats_row(&PushStatsRow::total(rows)), rows: rows.iter().map(stats_row).collect() }
}

/// Targets, sent, failed, delivered, opened, ignored and revoked, by channel and platform, for
/// a task or for the tasks created in a range.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/stats", tag = "push",
    params(("workspace_id" = String, Path), StatsParams),
    responses((status = 200, body = PushStatsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<Json<PushStatsView>, ApiError> {
    let scope = match (params.task_id, params.from, params.until) {
        (Some(task_id), None, None) => PushStatsScope::Task(task_id),
        (None, Some(from), Some(until)) => PushStatsScope::Range { from, until },
        _ => return Err(ApiError::invalid("give task_id, or from and until")),
    };
    let rows = state.push.stats(&who, &workspace_id, scope).await?;
    Ok(Json(stats_view(&rows)))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/templates", tag = "push",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<PushTemplateBody>), (status = 404, body = ErrorBody)))]
async fn list_templates(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<PushTemplateBody>>, ApiError> {
    let templates = state.push.list_definitions(&who, &workspace_id, PushDefinitionKind::Template).await?;
    let items = templates
        .into_iter()
        .map(|(name, message)| {
            let message: PushMessageBody = serde_json::from_value(message).map_err(|error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    midship_api::codes::INTERNAL,
                    format!("stored template {name} is unreadable: {error}"),
                )
            })?;
            Ok(PushTemplateBody { name, message })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(List { items, next_cursor: None }))
}

/// Creates or replaces a template; `${name}` placeholders in its texts take values at send time.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/push/templates/{name}", tag = "push",
    params(("workspace_id" = String, Path), ("name" = String, Path, pattern = "^[a-z][a-z0-9_-]{0,63}$")), request_body = PushTemplateBody,
    responses((status = 200, body = PushTemplateBody), (status = 400, body = ErrorBody)))]
async fn put_template(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<PushTemplateBody>,
) -> Result<Json<PushTemplateBody>, ApiError> {
    if !body.name.is_empty() && body.name != name {
        return Err(ApiError::invalid("invalid name: the body names another template than the path"));
    }
    let message = state.push.put_template(&who, &workspace_id, &name, body.message).await?;
    Ok(Json(PushTemplateBody { name, message }))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/push/templates/{name}", tag = "push",
    params(("workspace_id" = String, Path), ("name" = String, Path, pattern = "^[a-z][a-z0-9_-]{0,63}$")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_template(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.push.delete_definition(&who, &workspace_id, PushDefinitionKind::Template, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's channels (APNs, FCM, vendors), credentials redacted.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/channels", tag = "push",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<serde_json::Value>), (status = 404, body = ErrorBody)))]
async fn list_channels(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<Value>>, ApiError> {
    let channels = state.push.list_definitions(&who, &workspace_id, PushDefinitionKind::Channel).await?;
    let items = channels
        .into_iter()
        .map(|(name, mut definition)| {
            definition["name"] = Value::String(name);
            definition
        })
        .collect();
    Ok(Json(List { items, next_cursor: None }))
}

/// Sets a channel's settings and credentials, checked by building the channel: APNs
/// `{"kind": "apns", "team_id", "key_id", "private_key", "topic"}`, FCM `{"kind": "fcm",
/// "service_account": {...}}`, both with optional `endpoint`, `ca_certificate` and `limits`
/// (docs/push.md). Devices reporting a token for channel `name` are reached through it.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/push/channels/{name}", tag = "push",
    params(("workspace_id" = String, Path), ("name" = String, Path, pattern = "^[a-z][a-z0-9_-]{0,63}$")),
    request_body(content = serde_json::Value, description = "a channel definition"),
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_channel(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, name)): Path<(String, String)>,
    ApiJson(definition): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.push.put_channel(&who, &workspace_id, &name, definition).await?))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/push/channels/{name}", tag = "push",
    params(("workspace_id" = String, Path), ("name" = String, Path, pattern = "^[a-z][a-z0-9_-]{0,63}$")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_channel(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.push.delete_definition(&who, &workspace_id, PushDefinitionKind::Channel, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's push settings: `{"device_binding": "device" | "backend"}` (docs/push.md).
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/push/settings", tag = "push",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = PushSettings), (status = 404, body = ErrorBody)))]
async fn get_settings(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<PushSettings>, ApiError> {
    Ok(Json(state.push.settings(&who, &workspace_id).await?))
}

/// Sets the push settings. `device_binding: "backend"` makes devices unable to bind themselves
/// (`midship.push.bind` answers 1001): only the backend binds, through this API.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/push/settings", tag = "push",
    params(("workspace_id" = String, Path)), request_body = PushSettings,
    responses((status = 200, body = PushSettings)))]
async fn put_settings(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(settings): ApiJson<PushSettings>,
) -> Result<Json<PushSettings>, ApiError> {
    Ok(Json(state.push.put_settings(&who, &workspace_id, settings).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BindingBody {
    #[schema(schema_with = midship_api::rules::caller_id)]
    user_id: String,
}

/// Binds a device that reported to push to the user the backend knows signed in on it.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/push/devices/{device_id}/binding", tag = "push",
    params(("workspace_id" = String, Path), ("device_id" = String, Path)), request_body = BindingBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_binding(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, device_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<BindingBody>,
) -> Result<StatusCode, ApiError> {
    state.push.bind_by_backend(&who, &workspace_id, &device_id, Some(&body.user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unbinds a device (the user signed out).
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/push/devices/{device_id}/binding", tag = "push",
    params(("workspace_id" = String, Path), ("device_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_binding(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, device_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.push.bind_by_backend(&who, &workspace_id, &device_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
