//! `/api/v1/tokens`: admin API tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{CreateTokenRequest, ErrorBody, IssuedToken, List, TokenView};
use midship_control::NewToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, PageQuery};
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

/// Tokens of the tenant (admins only; app-scoped admins see tokens within their apps).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = List<TokenView>), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<TokenView>>, ApiError> {
    let page = state.control.list_tokens(&who, &query.page()).await?;
    let now = state.control.now_ms();
    Ok(Json(List {
        items: page.items.into_iter().map(|token| views::token(token, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a token; the bearer secret is returned only in this response.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
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
    Ok((StatusCode::CREATED, Json(IssuedToken { view: views::token(issued.record, now), token: issued.token })))
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
    Ok(Json(views::token(record, state.control.now_ms())))
}
