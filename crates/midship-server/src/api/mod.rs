//! The admin REST API under `/api/v1`, one module per resource. Every handler carries a
//! `#[utoipa::path]`, and the OpenAPI document is collected from those, so it cannot drift.

mod apps;
mod audit;
pub mod client;
pub mod gateway;
pub mod switches;
pub mod sync;
mod tenants;
mod tokens;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Midship admin API",
        description = "Manage tenants, apps, workspaces, keys, access tokens and the audit log. \
                       Errors are `{\"code\", \"message\"}`; the codes are listed in docs/api.md.",
        license(name = "Apache-2.0")
    ),
    security(("bearer" = [])),
    tags(
        (name = "tenants"), (name = "apps"), (name = "tokens"), (name = "audit"), (name = "switches"), (name = "gateway"), (name = "sync")
    )
)]
struct ApiDoc;

/// The API's routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(tenants::routes())
        .merge(apps::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(switches::routes())
        .merge(gateway::routes())
        .merge(sync::routes())
        .split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("an admin API token (`msp_…`)")).build(),
        ),
    );
    (router, document)
}

pub fn router() -> Router<AppState> {
    let (router, document) = routes();
    let document = serde_json::to_value(&document).expect("the OpenAPI document serializes");
    router.route("/api/v1/openapi.json", get(move || async move { Json(document) })).merge(client::router())
}
