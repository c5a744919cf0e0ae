//! `/api/v1/tenant`, `/api/v1/tenants`, `/api/v1/whoami`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use midship_api::{CreateTenantRequest, ErrorBody, List, TenantView, WhoAmI};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller, PageQuery};
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(current_tenant))
        .routes(routes!(list_tenants, create_tenant))
}

/// The token making the call: its tenant, role and app scope.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "tenants",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
async fn whoami(Caller(who): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        token_id: who.token_id,
        token_name: who.token_name,
        tenant_id: who.tenant_id,
        role: who.role.as_str().to_owned(),
        app_ids: who.app_ids,
    })
}

/// The caller's tenant.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenants",
    responses((status = 200, body = TenantView), (status = 401, body = ErrorBody)))]
async fn current_tenant(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(views::tenant(state.control.current_tenant(&who).await?)))
}

/// All tenants of the installation (admins of the installation tenant only).
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(PageQuery),
    responses((status = 200, body = List<TenantView>), (status = 403, body = ErrorBody)))]
async fn list_tenants(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<TenantView>>, ApiError> {
    let page = state.control.list_tenants(&who, &query.page()).await?;
    Ok(Json(List { items: page.items.into_iter().map(views::tenant).collect(), next_cursor: page.next_cursor }))
}

/// Creates a tenant (admins of the installation tenant only).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = TenantView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(request): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    let tenant = state.control.create_tenant(&who, &request.name).await?;
    Ok((StatusCode::CREATED, Json(views::tenant(tenant))))
}
