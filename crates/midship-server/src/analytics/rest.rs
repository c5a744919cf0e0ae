//! `/api/v1/workspaces/{workspace_id}/analytics/*`: reports (overview, real time, retention, funnel,
//! events, pages, paths, performance, crash/ANR/lag groups) and the upload policy.

use axum::Json;
use axum::extract::{Path, State};
use midship_analytics::report::DayRange;
use midship_api::{
    AlertEventView, AlertRuleDefinition, AlertRuleView, AnalyticsPolicy, ErrorBody, EventsReport, ExportView,
    FailureGroupDetail, FailuresReport, FunnelReport, LogLineView, LogRequest, LogRequestView, OverviewReport,
    PagesReport, PathsReport, PerfReport, RealtimeReport, RetentionReport, SymbolFileView,
};
use midship_protocol::calls::LogFileView;
use serde::Deserialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, checked_limit, refuse_announced_over};

pub fn routes(max_symbol_file_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(
            routes!(upload_symbols, list_symbols)
                .layer(axum::extract::DefaultBodyLimit::max(max_symbol_file_bytes))
                .layer(axum::middleware::from_fn_with_state(max_symbol_file_bytes, refuse_announced_over)),
        )
        .routes(routes!(overview))
        .routes(routes!(realtime))
        .routes(routes!(retention))
        .routes(routes!(funnel))
        .routes(routes!(events))
        .routes(routes!(pages))
        .routes(routes!(paths))
        .routes(routes!(perf))
        .routes(routes!(crashes))
        .routes(routes!(crash))
        .routes(routes!(show_policy, update_policy))
        .routes(routes!(export))
        .routes(routes!(list_alerts, create_alert))
        .routes(routes!(update_alert, delete_alert))
        .routes(routes!(alert_history))
        .routes(routes!(request_logs, list_logs))
        .routes(routes!(search_logs))
        .routes(routes!(download_log))
}

/// The query every report shares; each reads the parameters it documents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    version: Option<String>,
    subject: Option<String>,
    period: Option<String>,
    offsets: Option<String>,
    steps: Option<String>,
    window_seconds: Option<u64>,
    name: Option<String>,
    attribute: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
    /// Log search: the keyword, and the device or user.
    q: Option<String>,
    device_id: Option<String>,
    user_id: Option<String>,
}

impl ReportQuery {
    fn range(&self, state: &AppState) -> Result<DayRange, ApiError> {
        Ok(state.analytics.range(self.from.as_deref(), self.to.as_deref())?)
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::from(midship_analytics::AnalyticsError::Invalid { field: field.into(), message: message.into() })
}

/// Launches, active devices and users, new and cumulative devices per day (UTC), optionally for
/// one app version, with the figures of each version seen.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/overview", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"),
        ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today"), ("version" = Option<String>, Query)),
    responses((status = 200, body = OverviewReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn overview(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<OverviewReport>, ApiError> {
    let range = query.range(&state)?;
    Ok(Json(state.analytics.overview(&who, &workspace_id, range, query.version.as_deref()).await?))
}

/// Events, launches and active devices per minute over the last hour.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/realtime", tag = "analytics",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = RealtimeReport), (status = 404, body = ErrorBody)))]
async fn realtime(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<RealtimeReport>, ApiError> {
    Ok(Json(state.analytics.realtime(&who, &workspace_id).await?))
}

/// N-period retention of each cohort in the range: of the devices (or users) new in a period, how
/// many are active `offset` periods later.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/retention", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today"),
        ("subject" = Option<String>, Query, pattern = "^(device|user)$", description = "device (default) or user"),
        ("period" = Option<String>, Query, pattern = "^(day|week|month)$", description = "day (default), week or month"),
        ("offsets" = Option<String>, Query, pattern = r"^(400|[1-3][0-9]{2}|[0-9]{1,2})(,(400|[1-3][0-9]{2}|[0-9]{1,2})){0,59}$",
            description = "1 to 60 comma-separated periods, each 0 to 400; default 1,7")),
    responses((status = 200, body = RetentionReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn retention(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<RetentionReport>, ApiError> {
    let range = query.range(&state)?;
    let offsets = query
        .offsets
        .as_deref()
        .unwrap_or("1,7")
        .split(',')
        .map(|offset| offset.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid("offsets", "must be comma-separated whole numbers"))?;
    let subject = query.subject.as_deref().unwrap_or("device");
    let period = query.period.as_deref().unwrap_or("day");
    Ok(Json(state.analytics.retention(&who, &workspace_id, range, subject, period, &offsets).await?))
}

/// Devices reaching each step of an ordered funnel of custom events within a time window.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/funnel", tag = "analytics",
    params(("workspace_id" = String, Path), ("steps" = String, Query, pattern = r"^[^,]+(,[^,]+){1,9}$", description = "2 to 10 comma-separated event names"),
        ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today"),
        ("window_seconds" = Option<u64>, Query, minimum = 1, maximum = 7776000, description = "1 second to 90 days, default 86400")),
    responses((status = 200, body = FunnelReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn funnel(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<FunnelReport>, ApiError> {
    let range = query.range(&state)?;
    let steps: Vec<String> =
        query.steps.as_deref().unwrap_or_default().split(',').map(|step| step.trim().to_owned()).collect();
    let window = query.window_seconds.unwrap_or(86_400);
    Ok(Json(state.analytics.funnel(&who, &workspace_id, range, &steps, window).await?))
}

/// Custom events with counts and devices; with `name` and `attribute`, that attribute's values.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/events", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today"),
        ("name" = Option<String>, Query), ("attribute" = Option<String>, Query)),
    responses((status = 200, body = EventsReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<EventsReport>, ApiError> {
    let range = query.range(&state)?;
    let breakdown = query.name.as_deref().zip(query.attribute.as_deref());
    Ok(Json(state.analytics.events(&who, &workspace_id, range, breakdown).await?))
}

/// Page views, visitors and average time on page.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/pages", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today")),
    responses((status = 200, body = PagesReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn pages(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<PagesReport>, ApiError> {
    let range = query.range(&state)?;
    Ok(Json(state.analytics.pages(&who, &workspace_id, range).await?))
}

/// The most frequent steps from one page to the next.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/paths", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1 to 500, default 20")),
    responses((status = 200, body = PathsReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn paths(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<PathsReport>, ApiError> {
    let range = query.range(&state)?;
    let limit = checked_limit(query.limit, 20, 500)?;
    Ok(Json(state.analytics.paths(&who, &workspace_id, range, limit as usize).await?))
}

/// Startup, page load and network percentiles.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/perf", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today")),
    responses((status = 200, body = PerfReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn perf(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<PerfReport>, ApiError> {
    let range = query.range(&state)?;
    Ok(Json(state.analytics.perf(&who, &workspace_id, range).await?))
}

/// Crash, ANR or lag groups (by normalised stack), the most frequent first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/crashes", tag = "analytics",
    params(("workspace_id" = String, Path), ("kind" = Option<String>, Query, pattern = "^(crash|anr|lag)$", description = "crash (default), anr or lag")),
    responses((status = 200, body = FailuresReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn crashes(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<FailuresReport>, ApiError> {
    Ok(Json(state.analytics.failures(&who, &workspace_id, query.kind.as_deref().unwrap_or("crash")).await?))
}

/// One group: its figures, its rate per app version and its newest events.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/crashes/{fingerprint}", tag = "analytics",
    params(("workspace_id" = String, Path), ("fingerprint" = String, Path)),
    responses((status = 200, body = FailureGroupDetail), (status = 404, body = ErrorBody)))]
async fn crash(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, fingerprint)): Path<(String, String)>,
) -> Result<Json<FailureGroupDetail>, ApiError> {
    Ok(Json(state.analytics.failure(&who, &workspace_id, &fingerprint).await?))
}

/// The upload policy devices get from `midship.analytics.policy`.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/policy", tag = "analytics",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = AnalyticsPolicy), (status = 404, body = ErrorBody)))]
async fn show_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<AnalyticsPolicy>, ApiError> {
    Ok(Json(state.analytics.policy(&who, &workspace_id).await?))
}

/// Replaces the upload policy.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/analytics/policy", tag = "analytics",
    params(("workspace_id" = String, Path)), request_body = AnalyticsPolicy,
    responses((status = 200, body = AnalyticsPolicy), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(policy): ApiJson<AnalyticsPolicy>,
) -> Result<Json<AnalyticsPolicy>, ApiError> {
    Ok(Json(state.analytics.set_policy(&who, &workspace_id, policy).await?))
}

/// Writes the events stored since the last export as Parquet now (the server also does so every
/// `analytics.export_interval_seconds`). Installation admins only.
#[utoipa::path(post, path = "/api/v1/analytics/export", tag = "analytics",
    responses((status = 200, body = ExportView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn export(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<ExportView>, ApiError> {
    let (summary, directory) = state.analytics.export(&who).await?.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            midship_api::codes::CONFLICT,
            "this server does not export to parquet",
        )
    })?;
    Ok(Json(ExportView {
        batches: summary.batches as u64,
        events: summary.events as u64,
        files: summary.files as u64,
        directory: directory.display().to_string(),
    }))
}

/// The workspace's alert rules with their current state.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/alerts", tag = "analytics",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<AlertRuleView>), (status = 404, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<Vec<AlertRuleView>>, ApiError> {
    Ok(Json(state.analytics.alerts(&who, &workspace_id).await?))
}

/// Creates an alert rule.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/analytics/alerts", tag = "analytics",
    params(("workspace_id" = String, Path)), request_body = AlertRuleDefinition,
    responses((status = 201, body = AlertRuleView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_alert(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(definition): ApiJson<AlertRuleDefinition>,
) -> Result<(axum::http::StatusCode, Json<AlertRuleView>), ApiError> {
    let rule = state.analytics.put_alert(&who, &workspace_id, None, definition).await?;
    Ok((axum::http::StatusCode::CREATED, Json(rule)))
}

/// Replaces an alert rule's definition.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/analytics/alerts/{rule_id}", tag = "analytics",
    params(("workspace_id" = String, Path), ("rule_id" = String, Path)), request_body = AlertRuleDefinition,
    responses((status = 200, body = AlertRuleView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_alert(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, rule_id)): Path<(String, String)>,
    ApiJson(definition): ApiJson<AlertRuleDefinition>,
) -> Result<Json<AlertRuleView>, ApiError> {
    Ok(Json(state.analytics.put_alert(&who, &workspace_id, Some(&rule_id), definition).await?))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/analytics/alerts/{rule_id}", tag = "analytics",
    params(("workspace_id" = String, Path), ("rule_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_alert(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, rule_id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.analytics.delete_alert(&who, &workspace_id, &rule_id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Notifications sent (a rule started or stopped firing), newest first, with how the webhook went.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/alert-history", tag = "analytics",
    params(("workspace_id" = String, Path), ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1 to 1000, default 100")),
    responses((status = 200, body = Vec<AlertEventView>), (status = 404, body = ErrorBody)))]
async fn alert_history(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<Vec<AlertEventView>>, ApiError> {
    let limit = checked_limit(query.limit, 100, 1000)?;
    Ok(Json(state.analytics.alert_history(&who, &workspace_id, limit).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolQuery {
    app_version: String,
    /// Only `proguard` for now.
    #[serde(default = "proguard")]
    kind: String,
}

fn proguard() -> String {
    "proguard".into()
}

/// Uploads a ProGuard/R8 mapping (the body, as text) for an app version. That version's crashes,
/// ANRs and lags, past and future, are retraced and regrouped with it.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/analytics/symbols", tag = "analytics",
    params(("workspace_id" = String, Path), ("app_version" = String, Query, min_length = 1, max_length = 64), ("kind" = Option<String>, Query, pattern = "^proguard$", description = "proguard (the default)")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 201, body = SymbolFileView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn upload_symbols(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<SymbolQuery>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<SymbolFileView>), ApiError> {
    if query.kind != "proguard" {
        return Err(invalid("kind", "only proguard mappings are supported; native and iOS symbol files are not yet"));
    }
    let view = state.analytics.upload_mapping(&who, &workspace_id, &query.app_version, body.to_vec()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/symbols", tag = "analytics",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = Vec<SymbolFileView>), (status = 404, body = ErrorBody)))]
async fn list_symbols(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<Vec<SymbolFileView>>, ApiError> {
    Ok(Json(state.analytics.symbol_files(&who, &workspace_id).await?))
}

/// Asks one device (`device_id`) or every device of one user (`user_id`) for its local log file,
/// through sync: online devices get the request at once, others when they connect within 3 days.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/analytics/logs", tag = "analytics",
    params(("workspace_id" = String, Path)), request_body = LogRequest,
    responses((status = 201, body = LogRequestView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn request_logs(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<LogRequest>,
) -> Result<(axum::http::StatusCode, Json<LogRequestView>), ApiError> {
    let view = state.analytics.request_logs(&who, &workspace_id, request).await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}

/// Log files devices uploaded in the range (by upload day), newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/logs", tag = "analytics",
    params(("workspace_id" = String, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today")),
    responses((status = 200, body = Vec<LogFileView>), (status = 404, body = ErrorBody)))]
async fn list_logs(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<Vec<LogFileView>>, ApiError> {
    let range = query.range(&state)?;
    Ok(Json(state.analytics.log_files(&who, &workspace_id, range).await?))
}

/// Lines of uploaded log files containing `q` (ignoring case), optionally of one device or user,
/// in files uploaded in the range; at most 500.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/logs/search", tag = "analytics",
    params(("workspace_id" = String, Path), ("q" = String, Query, pattern = r"\S", description = "the keyword, not only spaces"),
        ("device_id" = Option<String>, Query), ("user_id" = Option<String>, Query), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default 29 days before `to`; at most 400 days before `to`"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD, default today")),
    responses((status = 200, body = Vec<LogLineView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn search_logs(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<Vec<LogLineView>>, ApiError> {
    let search = midship_analytics::service::LogSearch {
        keyword: query.q.clone().unwrap_or_default(),
        device_id: query.device_id.clone(),
        user_id: query.user_id.clone(),
        range: query.range(&state)?,
    };
    Ok(Json(state.analytics.search_logs(&who, &workspace_id, &search).await?))
}

/// One uploaded log file, as text.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/analytics/logs/{file_id}", tag = "analytics",
    params(("workspace_id" = String, Path), ("file_id" = String, Path)),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 404, body = ErrorBody)))]
async fn download_log(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, file_id)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (file, text) = state.analytics.log_file(&who, &workspace_id, &file_id).await?;
    let disposition = format!("attachment; filename=\"{}\"", file.file_name.replace(['"', '\\', '\r', '\n'], "_"));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}
