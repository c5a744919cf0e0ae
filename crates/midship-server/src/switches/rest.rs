//! `/api/v1/workspaces/{workspace_id}/switches` and `/config/*`: remote configuration.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use midship_api::{
    ApprovalView, ConfigVersionView, ErrorBody, ImportResult, List, PublishRequest, RollbackRequest, SwitchStatusView,
};
use midship_core::clock::format_rfc3339;
use midship_switches::{ConfigDocument, ExportSource, ImportMode, PublishedVersion, SwitchDefinition, SwitchStatus};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::approvals::rest::APPROVAL_REQUESTED;
use crate::approvals::{self, Gated};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiQuery, Caller, NumberPageQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_switches, set_switch))
        .routes(routes!(get_switch, delete_switch))
        .routes(routes!(publish))
        .routes(routes!(versions))
        .routes(routes!(rollback))
        .routes(routes!(export))
        .routes(routes!(import))
}

pub fn status_view(status: SwitchStatus) -> SwitchStatusView {
    let to_json = |definition: Option<SwitchDefinition>| {
        definition.map(|definition| serde_json::to_value(definition).expect("definitions serialize"))
    };
    SwitchStatusView {
        key: status.key,
        state: status.state.as_str().to_owned(),
        draft: to_json(status.draft),
        published: to_json(status.published),
    }
}

fn version_view(published: PublishedVersion, who: &str, note: &str) -> ConfigVersionView {
    ConfigVersionView {
        version: published.version,
        published_at: format_rfc3339(published.published_at),
        published_by: who.to_owned(),
        note: note.to_owned(),
        switch_count: published.switch_count,
    }
}

/// Every switch of the workspace: the draft, what devices get, and the state between them.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/switches", tag = "switches",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = List<SwitchStatusView>), (status = 404, body = ErrorBody)))]
async fn list_switches(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<List<SwitchStatusView>>, ApiError> {
    let switches = state.switches.list_switches(&who, &workspace_id).await?;
    Ok(Json(List { items: switches.into_iter().map(status_view).collect(), next_cursor: None }))
}

/// Creates or replaces a switch in the draft (devices get it after `publish`). The body is a
/// switch definition: `key`, `type` (bool, number, string, json), `default_value`, optional
/// `description`, `platforms` and ordered `targets` of `{value, rule}` (see docs/switches.md).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/switches", tag = "switches",
    params(("workspace_id" = String, Path)), request_body = SwitchDefinition,
    responses((status = 200, body = SwitchStatusView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn set_switch(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(definition): ApiJson<SwitchDefinition>,
) -> Result<Json<SwitchStatusView>, ApiError> {
    let key = definition.key.clone();
    state.switches.set_switch(&who, &workspace_id, definition).await?;
    Ok(Json(status_view(state.switches.get_switch(&who, &workspace_id, &key).await?)))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/switches/{key}", tag = "switches",
    params(("workspace_id" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = SwitchStatusView), (status = 404, body = ErrorBody)))]
async fn get_switch(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
) -> Result<Json<SwitchStatusView>, ApiError> {
    Ok(Json(status_view(state.switches.get_switch(&who, &workspace_id, &key).await?)))
}

/// Removes a switch from the draft; devices keep it until the next publication.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}/switches/{key}", tag = "switches",
    params(("workspace_id" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_switch(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.switches.delete_switch(&who, &workspace_id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes the draft as the next version.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/config/publish", tag = "switches",
    params(("workspace_id" = String, Path)), request_body(content = Option<PublishRequest>),
    responses((status = 201, body = ConfigVersionView), (status = 202, description = APPROVAL_REQUESTED, body = ApprovalView),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn publish(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJsonOrDefault(request): ApiJsonOrDefault<PublishRequest>,
) -> Result<Response, ApiError> {
    match approvals::publish_config(&state, &who, &workspace_id, &request.note).await? {
        Gated::Done(published) => {
            let view = version_view(published, who.actor_name(), &request.note);
            Ok((StatusCode::CREATED, Json(view)).into_response())
        }
        Gated::Requested(approval) => Ok(approvals::rest::requested(&state, &approval)),
    }
}

/// Published versions, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/config/versions", tag = "switches",
    params(("workspace_id" = String, Path), NumberPageQuery),
    responses((status = 200, body = List<ConfigVersionView>), (status = 404, body = ErrorBody)))]
async fn versions(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(query): ApiQuery<NumberPageQuery>,
) -> Result<Json<List<ConfigVersionView>>, ApiError> {
    let page = state.switches.history(&who, &workspace_id, &query.page()?).await?;
    let items = page
        .items
        .into_iter()
        .map(|summary| ConfigVersionView {
            version: summary.version,
            published_at: format_rfc3339(summary.published_at),
            published_by: summary.published_by,
            note: summary.note,
            switch_count: summary.switch_count,
        })
        .collect();
    Ok(Json(List { items, next_cursor: page.next_cursor }))
}

/// Makes an earlier version current again, as a new version, and resets the draft to it.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/config/rollback", tag = "switches",
    params(("workspace_id" = String, Path)), request_body = RollbackRequest,
    responses((status = 201, body = ConfigVersionView), (status = 202, description = APPROVAL_REQUESTED, body = ApprovalView),
        (status = 404, body = ErrorBody)))]
async fn rollback(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(request): ApiJson<RollbackRequest>,
) -> Result<Response, ApiError> {
    match approvals::rollback_config(&state, &who, &workspace_id, request.version).await? {
        Gated::Done(published) => {
            let note = format!("rollback to version {}", request.version);
            Ok((StatusCode::CREATED, Json(version_view(published, who.actor_name(), &note))).into_response())
        }
        Gated::Requested(approval) => Ok(approvals::rest::requested(&state, &approval)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportParams {
    /// `published` (default) or `draft`.
    #[param(schema_with = export_source)]
    source: Option<String>,
    /// A published version (only with `source=published`); the latest when absent.
    version: Option<i64>,
}

fn export_source() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["published", "draft"]))
        .build()
}

/// The configuration as a JSON document (`midship.switches.v1`), for backups and for `import`.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/config/export", tag = "switches",
    params(("workspace_id" = String, Path), ExportParams),
    responses((status = 200, body = ConfigDocument), (status = 404, body = ErrorBody)))]
async fn export(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Json<ConfigDocument>, ApiError> {
    let source = match (params.source.as_deref().unwrap_or("published"), params.version) {
        ("published", version) => ExportSource::Published(version),
        ("draft", None) => ExportSource::Draft,
        ("draft", Some(_)) => {
            return Err(ApiError::invalid("version applies only to source=published"));
        }
        (other, _) => {
            return Err(ApiError::invalid(format!("source `{other}` must be published or draft")));
        }
    };
    Ok(Json(state.switches.export(&who, &workspace_id, source).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `replace` (default: the draft becomes the document) or `merge`.
    #[param(schema_with = import_mode)]
    mode: Option<String>,
}

fn import_mode() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["replace", "merge"]))
        .build()
}

/// Loads a `midship.switches.v1` document into the draft; nothing changes unless all of it is valid.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/config/import", tag = "switches",
    params(("workspace_id" = String, Path), ImportParams), request_body = ConfigDocument,
    responses((status = 200, body = ImportResult), (status = 404, body = ErrorBody)))]
async fn import(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiJson(document): ApiJson<ConfigDocument>,
) -> Result<Json<ImportResult>, ApiError> {
    let mode = match params.mode.as_deref().unwrap_or("replace") {
        "replace" => ImportMode::Replace,
        "merge" => ImportMode::Merge,
        other => {
            return Err(ApiError::invalid(format!("mode `{other}` must be replace or merge")));
        }
    };
    let imported = state.switches.import(&who, &workspace_id, document, mode).await?;
    Ok(Json(ImportResult { imported }))
}
