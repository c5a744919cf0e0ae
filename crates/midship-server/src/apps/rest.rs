//! The apps area's admin API: `/api/v1/apps` (apps, their workspaces and signing keys) and
//! `/api/v1/tenant`, `/api/v1/tenants`, `/api/v1/whoami`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use midship_api::{
    AppDetails, AppKeyView, AppView, CreateAppRequest, CreateTenantRequest, CreateWorkspaceRequest, CreatedApp,
    ErrorBody, List, RotateKeyRequest, RotatedKey, TenantView, WhoAmI, WorkspaceView,
};
use midship_control::NewApp;
use midship_core::clock::format_rfc3339;
use midship_core::{App, AppKey, Tenant, Workspace};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrDefault, ApiQuery, Caller, PageQuery};

pub fn routes() -> OpenApiRouter<AppState> {
    tenant_routes()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(show_app))
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(list_keys))
        .routes(routes!(rotate_key))
}

/// Apps of the caller's tenant (only the token's apps for an app-scoped token).
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", params(PageQuery),
    responses((status = 200, body = List<AppView>), (status = 401, body = ErrorBody)))]
async fn list_apps(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<AppView>>, ApiError> {
    let page = state.control.list_apps(&who, &query.page()?).await?;
    Ok(Json(List { items: page.items.into_iter().map(app_view).collect(), next_cursor: page.next_cursor }))
}

/// Creates an app with its workspaces (`dev`, `test`, `prod` unless named) and its first
/// signing secret, which is returned only in this response.
#[utoipa::path(post, path = "/api/v1/apps", tag = "apps", request_body = CreateAppRequest,
    responses((status = 201, body = CreatedApp), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn create_app(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiJson(request): ApiJson<CreateAppRequest>,
) -> Result<(StatusCode, Json<CreatedApp>), ApiError> {
    let new_app = NewApp { name: request.name, platforms: request.platforms, workspaces: request.workspaces };
    let created = state.control.create_app(&who, new_app).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApp {
            app: app_view(created.app),
            workspaces: created.workspaces.into_iter().map(workspace_view).collect(),
            key_id: created.key.key_id,
            secret: created.key.secret,
        }),
    ))
}

/// One app with its workspaces and keys (without secrets).
#[utoipa::path(get, path = "/api/v1/apps/{app_id}", tag = "apps", params(("app_id" = String, Path)),
    responses((status = 200, body = AppDetails), (status = 404, body = ErrorBody)))]
async fn show_app(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(app_id): Path<String>,
) -> Result<Json<AppDetails>, ApiError> {
    let details = state.control.app_details(&who, &app_id).await?;
    let now = state.control.now_ms();
    Ok(Json(AppDetails {
        app: app_view(details.app),
        workspaces: details.workspaces.into_iter().map(workspace_view).collect(),
        keys: details.keys.into_iter().map(|key| key_view(key, now)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/apps/{app_id}/workspaces", tag = "apps", params(("app_id" = String, Path)),
    responses((status = 200, body = List<WorkspaceView>), (status = 404, body = ErrorBody)))]
async fn list_workspaces(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(app_id): Path<String>,
) -> Result<Json<List<WorkspaceView>>, ApiError> {
    let workspaces = state.control.list_workspaces(&who, &app_id).await?;
    Ok(Json(List { items: workspaces.into_iter().map(workspace_view).collect(), next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/apps/{app_id}/workspaces", tag = "apps", params(("app_id" = String, Path)),
    request_body = CreateWorkspaceRequest,
    responses((status = 201, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(app_id): Path<String>,
    ApiJson(request): ApiJson<CreateWorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let workspace = state.control.create_workspace(&who, &app_id, &request.name).await?;
    Ok((StatusCode::CREATED, Json(workspace_view(workspace))))
}

/// The app's signing keys, without secrets.
#[utoipa::path(get, path = "/api/v1/apps/{app_id}/keys", tag = "apps", params(("app_id" = String, Path)),
    responses((status = 200, body = List<AppKeyView>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(app_id): Path<String>,
) -> Result<Json<List<AppKeyView>>, ApiError> {
    let keys = state.control.list_keys(&who, &app_id).await?;
    let now = state.control.now_ms();
    Ok(Json(List { items: keys.into_iter().map(|key| key_view(key, now)).collect(), next_cursor: None }))
}

/// Issues a new signing secret (returned only here); earlier keys stay valid for the grace period.
#[utoipa::path(post, path = "/api/v1/apps/{app_id}/keys/rotate", tag = "apps", params(("app_id" = String, Path)),
    request_body(content = Option<RotateKeyRequest>, description = "optional; `{}` uses the configured grace period"),
    responses((status = 201, body = RotatedKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(app_id): Path<String>,
    ApiJsonOrDefault(request): ApiJsonOrDefault<RotateKeyRequest>,
) -> Result<(StatusCode, Json<RotatedKey>), ApiError> {
    let rotated = state.control.rotate_key(&who, &app_id, request.grace_seconds).await?;
    state.gateway.forget_app_keys(&app_id);
    Ok((
        StatusCode::CREATED,
        Json(RotatedKey {
            app_id: rotated.key.app_id,
            key_id: rotated.key.key_id,
            secret: rotated.key.secret,
            previous_keys_expire_at: format_rfc3339(rotated.previous_keys_expire_at),
        }),
    ))
}

fn tenant_routes() -> OpenApiRouter<AppState> {
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
        actor_kind: if who.person_id().is_some() { "person" } else { "token" }.to_owned(),
        actor_id: who.actor_id().to_owned(),
        actor_name: who.actor_name().to_owned(),
        tenant_id: who.tenant_id,
        role: who.role.as_str().to_owned(),
        app_ids: who.app_ids,
    })
}

/// The caller's tenant.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenants",
    responses((status = 200, body = TenantView), (status = 401, body = ErrorBody)))]
async fn current_tenant(State(state): State<AppState>, Caller(who): Caller) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(tenant_view(state.control.current_tenant(&who).await?)))
}

/// All tenants of the installation (admins of the installation tenant only).
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(PageQuery),
    responses((status = 200, body = List<TenantView>), (status = 403, body = ErrorBody)))]
async fn list_tenants(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<List<TenantView>>, ApiError> {
    let page = state.control.list_tenants(&who, &query.page()?).await?;
    Ok(Json(List { items: page.items.into_iter().map(tenant_view).collect(), next_cursor: page.next_cursor }))
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
    Ok((StatusCode::CREATED, Json(tenant_view(tenant))))
}

fn tenant_view(tenant: Tenant) -> TenantView {
    TenantView { tenant_id: tenant.tenant_id, name: tenant.name, created_at: format_rfc3339(tenant.created_at) }
}

fn app_view(app: App) -> AppView {
    AppView {
        app_id: app.app_id,
        tenant_id: app.tenant_id,
        name: app.name,
        platforms: app.platforms.iter().map(|platform| platform.as_str().to_owned()).collect(),
        created_at: format_rfc3339(app.created_at),
    }
}

fn workspace_view(workspace: Workspace) -> WorkspaceView {
    WorkspaceView {
        workspace_id: workspace.workspace_id,
        app_id: workspace.app_id,
        name: workspace.name,
        created_at: format_rfc3339(workspace.created_at),
    }
}

fn key_view(key: AppKey, now_ms: i64) -> AppKeyView {
    AppKeyView {
        active: key.is_valid_at(now_ms),
        key_id: key.key_id,
        created_at: format_rfc3339(key.created_at),
        expires_at: key.expires_at.map(format_rfc3339),
    }
}
