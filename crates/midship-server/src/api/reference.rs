//! The admin API's reference page at `/api/v1/docs`: Swagger UI rendering the OpenAPI document,
//! its files served from the binary (no CDN, so it works where the server has no internet).

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use swagger_ui_dist::{ApiDefinition, OpenApiSource};

use crate::AppState;

/// Where the page lives; its files are under it.
pub const PAGE: &str = "/api/v1/docs";
const DOCUMENT: &str = "/api/v1/openapi.json";
const FILES: [&str; 6] = [
    "/swagger-ui.css",
    "/swagger-ui-bundle.js",
    "/swagger-ui.css.map",
    "/swagger-ui-bundle.js.map",
    "/oauth2-redirect.html",
    "/oauth2-redirect.js",
];

pub fn router() -> Router<AppState> {
    let ui = swagger_ui_dist::generate_routes(ApiDefinition {
        uri_prefix: PAGE,
        api_definition: OpenApiSource::Uri(DOCUMENT),
        title: Some("Midship admin API"),
    })
    .layer(axum::middleware::from_fn(plain_address));
    FILES
        .iter()
        .map(|file| format!("{PAGE}{file}"))
        .chain([PAGE.to_owned()])
        .fold(Router::new(), |router, path| router.route_service(&path, ui.clone()))
}

/// The page writes the address it was asked at into its HTML, so it is only served at its plain
/// address: a query string (which could carry markup) is dropped by a redirect.
async fn plain_address(request: Request, next: Next) -> Response {
    if request.uri().query().is_some() {
        return Redirect::to(request.uri().path()).into_response();
    }
    next.run(request).await
}
