//! The web console: server-rendered HTML (maud), no JavaScript build step. People sign in with
//! their own account (password and authenticator app, or single sign-on: `oidc`); the session lives in an HttpOnly,
//! SameSite=Strict cookie and every form carries an anti-forgery field. Every page goes through
//! the same control plane as the admin API, with the person's role and app scope.
//!
//! Each area's pages live in its folder (`apps/console.rs`, …) with their routes, merged here;
//! a new page also adds its link to [`layout::NAV`]. This module holds what the pages share: the
//! layout, sign-in and the session.

pub(crate) mod account;
pub(crate) mod csrf;
pub(crate) mod device;
pub(crate) mod form;
pub(crate) mod layout;
pub mod oidc;
pub(crate) mod rule_editor;
pub(crate) mod session;
pub(crate) mod upload;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};

use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/apps") }))
        .route("/console/login", get(session::login_page).post(session::login))
        .route("/console/login/code", get(session::code_page).post(session::submit_code))
        .route("/console/logout", post(session::logout))
        .merge(account::routes())
        .merge(oidc::routes())
        .merge(device::routes())
        .merge(crate::access::people_console::routes())
        .route("/console/switch", get(session::switch_context))
        .merge(crate::apps::console::routes())
        .merge(crate::access::console::routes())
        .merge(crate::approvals::console::routes())
        .merge(crate::switches::console::routes())
        .merge(crate::experiments::console::routes())
        .merge(crate::gateway::console::routes())
        .merge(crate::gateway::api_console::routes())
        .merge(crate::sync::console::routes())
        .merge(crate::push::console::routes())
        .merge(crate::push::settings_console::routes())
        .merge(crate::delivery::console::routes(state.settings.delivery.settings.max_package_bytes as usize))
        .merge(crate::analytics::console::routes())
        .merge(crate::analytics::detail_console::routes())
        .merge(crate::analytics::alerts_console::routes())
        .route("/console/{*rest}", any(unknown_page))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::require_token))
        .layer(axum::middleware::from_fn(refuse_cross_site_posts))
}

/// A console address that leads nowhere gets a page, not the API's JSON.
async fn unknown_page() -> Response {
    layout::error_page(StatusCode::NOT_FOUND, "there is no console page at this address")
}

/// Defence in depth beside SameSite=Strict cookies: a form post must come from this origin.
async fn refuse_cross_site_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let headers = request.headers();
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
        let origin_host = headers
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok())
            .and_then(|origin| origin.split_once("://").map(|(_, rest)| rest.to_owned()));
        if let (Some(origin_host), Some(host)) = (origin_host, host)
            && origin_host != host
        {
            return layout::error_page(StatusCode::FORBIDDEN, "cross-site form posts are refused").into_response();
        }
    }
    next.run(request).await
}
