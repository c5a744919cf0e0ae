//! The admin REST API under `/api/v1`, assembled from each area's `rest` module. Every handler
//! carries a `#[utoipa::path]`, and the OpenAPI document is collected from those, so it cannot
//! drift; [`contract`] adds the error answers every route shares, [`roles`] states each route's
//! minimum role, and [`reference`] renders the document as a page.

mod contract;
pub mod reference;
mod roles;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Midship admin API",
        description = "Manage tenants, apps, workspaces, keys, people, access tokens and the audit log. \
                       Errors are `{\"code\", \"message\"}`; the codes are listed in docs/api.md. \
                       Each operation states the least token role that may call it (`x-minimum-role`).",
        license(name = "Apache-2.0")
    ),
    security(("bearer" = [])),
    components(schemas(midship_api::KindPolicy)),
    tags(
        (name = "tenants"), (name = "apps"), (name = "people"), (name = "tokens"), (name = "audit"), (name = "approvals"), (name = "switches"), (name = "experiments"), (name = "gateway"), (name = "sync"), (name = "push"), (name = "delivery"), (name = "analytics")
    )
)]
struct ApiDoc;

/// The API's routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, OpenApi) {
    routes_with(midship_delivery::DeliverySettings::default().max_package_bytes as usize)
}

/// The routes, with package uploads limited to `max_package_bytes`.
pub fn routes_with(max_package_bytes: usize) -> (Router<AppState>, OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(crate::apps::rest::routes())
        .merge(crate::access::rest::routes())
        .merge(crate::access::people_rest::routes())
        .merge(crate::approvals::rest::routes())
        .merge(crate::switches::rest::routes())
        .merge(crate::experiments::rest::routes())
        .merge(crate::gateway::rest::routes())
        .merge(crate::sync::rest::routes())
        .merge(crate::push::rest::routes())
        .merge(crate::delivery::rest::routes(max_package_bytes))
        .merge(crate::analytics::rest::routes(max_package_bytes))
        .split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    contract::add_shared_responses(&mut document);
    roles::add_minimum_roles(&mut document);
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("an admin API token (`msp_…`)")).build(),
        ),
    );
    (router, document)
}

pub fn router(max_package_bytes: usize) -> Router<AppState> {
    let (router, document) = routes_with(max_package_bytes);
    // Serialized once and shared: axum clones handlers per connection, and a deep copy of the
    // whole document for every device connection would cost more than the connection itself.
    let document = Bytes::from(serde_json::to_vec(&document).expect("the OpenAPI document serializes"));
    let serve_document =
        move || std::future::ready(([(header::CONTENT_TYPE, "application/json")], document.clone()).into_response());
    router
        .route("/api/v1/openapi.json", get(serve_document))
        .merge(crate::switches::client::router())
        .merge(crate::delivery::rest::blob_router())
        .merge(reference::router())
}
