//! `/api/v1/audit`: the audit log, newest first.

use axum::Json;
use axum::extract::State;
use midship_api::{AuditEntryView, ErrorBody, List};
use midship_control::AuditQuery;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller, PageQuery};
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only changes to this app.
    app_id: Option<String>,
    /// Only this action, such as `app.create`.
    action: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Who changed what and when, with before and after summaries.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = List<AuditEntryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<List<AuditEntryView>>, ApiError> {
    let page = PageQuery { limit: params.limit, cursor: params.cursor }.page();
    let query = AuditQuery { app_id: params.app_id, action: params.action };
    let entries = state.control.list_audit(&who, query, &page).await?;
    Ok(Json(List { items: entries.items.into_iter().map(views::audit).collect(), next_cursor: entries.next_cursor }))
}
