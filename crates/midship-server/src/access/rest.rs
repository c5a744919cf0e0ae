//! The access area's admin API: `/api/v1/tokens` (admin API tokens) and `/api/v1/audit` (the
//! audit log, newest first).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{AuditEntryView, CreateTokenRequest, ErrorBody, IssuedToken, List, TokenView};
use midship_control::{AuditQuery, NewToken};
use midship_core::AuditEntry;
use midship_core::access::TokenRecord;
use midship_core::clock::format_rfc3339;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, PageQuery, page};

pub fn routes() -> OpenApiRouter<AppState> {
    audit_routes().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

/// Tokens of the tenant (admins only; app-scoped admins see tokens within their apps).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = List<TokenView>), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<TokenView>>, ApiError> {
    let page = state.control.list_tokens(&who, &query.page()?).await?;
    let now = state.control.now_ms();
    Ok(Json(List {
        items: page.items.into_iter().map(|token| token_view(token, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a token; the bearer secret is returned only in this response. An app in `app_ids` that
/// the caller may not see answers 404.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 404, description = "an app of `app_ids` the caller may not see", body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(request): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let new_token = NewToken {
        name: request.name,
        role: request.role,
        app_ids: request.app_ids,
        expires_in_seconds: request.expires_in_seconds,
    };
    let issued = state.control.create_token(&who, new_token).await?;
    let now = state.control.now_ms();
    Ok((StatusCode::CREATED, Json(IssuedToken { view: token_view(issued.record, now), token: issued.token })))
}

/// Revokes a token at once; revoking a revoked token changes nothing.
#[utoipa::path(delete, path = "/api/v1/tokens/{token_id}", tag = "tokens", params(("token_id" = String, Path)),
    responses((status = 200, body = TokenView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(token_id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let record = state.control.revoke_token(&who, &token_id).await?;
    Ok(Json(token_view(record, state.control.now_ms())))
}

fn audit_routes() -> OpenApiRouter<AppState> {
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
    #[param(schema_with = midship_api::rules::page_limit)]
    limit: Option<u32>,
    #[param(schema_with = midship_api::rules::number_cursor)]
    cursor: Option<String>,
}

/// Who changed what and when, with before and after summaries.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = List<AuditEntryView>), (status = 404, description = "`app_id` names an app the token may not see", body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<List<AuditEntryView>>, ApiError> {
    let page = page(params.limit, params.cursor)?;
    let query = AuditQuery { app_id: params.app_id, action: params.action };
    let entries = state.control.list_audit(&who, query, &page).await?;
    Ok(Json(List { items: entries.items.into_iter().map(audit_view).collect(), next_cursor: entries.next_cursor }))
}

fn token_view(record: TokenRecord, now_ms: i64) -> TokenView {
    TokenView {
        active: record.is_active_at(now_ms),
        token_id: record.token_id,
        tenant_id: record.tenant_id,
        name: record.name,
        role: record.role.as_str().to_owned(),
        app_ids: record.app_ids,
        hint: record.hint,
        created_at: format_rfc3339(record.created_at),
        created_by: record.created_by,
        expires_at: record.expires_at.map(format_rfc3339),
        revoked_at: record.revoked_at.map(format_rfc3339),
    }
}

fn audit_view(entry: AuditEntry) -> AuditEntryView {
    let AuditEntry { seq, entry } = entry;
    AuditEntryView {
        seq,
        at: format_rfc3339(entry.at),
        actor_token_id: entry.actor_token_id,
        actor_person_id: entry.actor_person_id,
        actor_name: entry.actor_name,
        action: entry.action,
        target_kind: entry.target_kind,
        target_id: entry.target_id,
        app_id: entry.app_id,
        before: entry.before,
        after: entry.after,
    }
}
