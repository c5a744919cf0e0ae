//! `/api/v1/workspaces/{workspace_id}/approval-policy` and `/approvals`: the four-eyes rule and
//! its requests. Gated changes answer `202 Accepted` with the request where the rule is on.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use midship_api::{ApprovalPolicy, ApprovalView, DecisionRequest, ErrorBody, List};
use midship_core::approval::{ApprovalRecord, ApprovalStatus};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::approval_view;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiQuery, Caller, page};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(list_approvals))
        .routes(routes!(get_approval))
        .routes(routes!(approve))
        .routes(routes!(refuse))
}

/// How a gated route's `202` reads in the OpenAPI document.
pub const APPROVAL_REQUESTED: &str =
    "the workspace requires approvals: the change waits for another person (`/approvals/{approval_id}`)";

/// The answer of a gated change that now waits for approval: `202` with the request, and its
/// address in `Location`.
pub fn requested(state: &AppState, approval: &ApprovalRecord) -> Response {
    let location = format!("/api/v1/workspaces/{}/approvals/{}", approval.workspace_id, approval.approval_id);
    let view = approval_view(approval, state.control.now_ms());
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(view)).into_response()
}

/// Whether gated changes in the workspace wait for a second person.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/approval-policy", tag = "approvals",
    params(("workspace_id" = String, Path)),
    responses((status = 200, body = ApprovalPolicy), (status = 404, body = ErrorBody)))]
async fn get_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
) -> Result<Json<ApprovalPolicy>, ApiError> {
    let approvals_required = state.control.approvals_required(&who, &workspace_id).await?;
    Ok(Json(ApprovalPolicy { approvals_required }))
}

/// Turns the four-eyes rule on or off for the workspace (admins only). Requests already made
/// stay as they are.
#[utoipa::path(put, path = "/api/v1/workspaces/{workspace_id}/approval-policy", tag = "approvals",
    params(("workspace_id" = String, Path)), request_body = ApprovalPolicy,
    responses((status = 200, body = ApprovalPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn put_policy(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiJson(policy): ApiJson<ApprovalPolicy>,
) -> Result<Json<ApprovalPolicy>, ApiError> {
    let approvals_required =
        state.control.set_approvals_required(&who, &workspace_id, policy.approvals_required).await?;
    Ok(Json(ApprovalPolicy { approvals_required }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ApprovalListParams {
    /// Only requests in this state (`pending` includes requests past their 7 days, shown as
    /// `expired`).
    #[param(pattern = "^(pending|approved|applied|failed|refused|cancelled)$")]
    status: Option<String>,
    #[param(schema_with = midship_api::rules::page_limit)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The workspace's approval requests, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/approvals", tag = "approvals",
    params(("workspace_id" = String, Path), ApprovalListParams),
    responses((status = 200, body = List<ApprovalView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_approvals(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(workspace_id): Path<String>,
    ApiQuery(params): ApiQuery<ApprovalListParams>,
) -> Result<Json<List<ApprovalView>>, ApiError> {
    let status = match params.status.as_deref() {
        None => None,
        Some(text) => Some(ApprovalStatus::parse(text).ok_or_else(|| {
            ApiError::invalid("invalid status: must be pending, approved, applied, failed, refused or cancelled")
        })?),
    };
    let approvals =
        state.control.list_approvals(&who, &workspace_id, status, &page(params.limit, params.cursor)?).await?;
    let now = state.control.now_ms();
    let items = approvals.items.iter().map(|approval| approval_view(approval, now)).collect();
    Ok(Json(List { items, next_cursor: approvals.next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}", tag = "approvals",
    params(("workspace_id" = String, Path), ("approval_id" = String, Path)),
    responses((status = 200, body = ApprovalView), (status = 404, body = ErrorBody)))]
async fn get_approval(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, approval_id)): Path<(String, String)>,
) -> Result<Json<ApprovalView>, ApiError> {
    let approval = state.control.get_approval(&who, &workspace_id, &approval_id).await?;
    Ok(Json(approval_view(&approval, state.control.now_ms())))
}

/// Approves a pending request and applies it at once, as it was asked. Only a person may
/// approve (not an API token), never the requester, and only one allowed to make the change.
/// The answer is the request with its outcome: `applied`, or `failed` with why (the draft
/// changed since it was reviewed, the package is gone…; nothing changed then).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}/approve", tag = "approvals",
    params(("workspace_id" = String, Path), ("approval_id" = String, Path)),
    request_body(content = Option<DecisionRequest>),
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody),
        (status = 403, description = "a token, the requester, or a role that may not make the change", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "the request is no longer pending", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, approval_id)): Path<(String, String)>,
    ApiJsonOrDefault(decision): ApiJsonOrDefault<DecisionRequest>,
) -> Result<Json<ApprovalView>, ApiError> {
    let approval = super::approve(&state, &who, &workspace_id, &approval_id, &decision.comment).await?;
    Ok(Json(approval_view(&approval, state.control.now_ms())))
}

/// Refuses a pending request; its requester refusing it withdraws it (`cancelled`).
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace_id}/approvals/{approval_id}/refuse", tag = "approvals",
    params(("workspace_id" = String, Path), ("approval_id" = String, Path)),
    request_body(content = Option<DecisionRequest>),
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "the request is no longer pending", body = ErrorBody)))]
async fn refuse(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((workspace_id, approval_id)): Path<(String, String)>,
    ApiJsonOrDefault(decision): ApiJsonOrDefault<DecisionRequest>,
) -> Result<Json<ApprovalView>, ApiError> {
    let approval = state.control.refuse(&who, &workspace_id, &approval_id, &decision.comment).await?;
    Ok(Json(approval_view(&approval, state.control.now_ms())))
}
