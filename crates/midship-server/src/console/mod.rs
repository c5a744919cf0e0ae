//! The web console: server-rendered HTML (maud), no JavaScript build step. People sign in with an
//! admin API token, kept in an HttpOnly, SameSite=Strict cookie; every page goes through the same
//! control plane as the admin API, so the console can do nothing the token could not.
//!
//! Later issues add their pages as modules here and a link in [`layout::NAV`].

mod access;
mod analytics;
mod apps;
mod delivery;
mod gateway;
mod layout;
mod push;
mod session;
mod switches;
mod sync;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/apps") }))
        .route("/console/login", get(session::login_page).post(session::login))
        .route("/console/logout", post(session::logout))
        .route("/console/switch", get(session::switch_context))
        .route("/console/apps", get(apps::list).post(apps::create))
        .route("/console/apps/{app_id}", get(apps::show))
        .route("/console/apps/{app_id}/workspaces", post(apps::create_workspace))
        .route("/console/apps/{app_id}/keys/rotate", post(apps::rotate_key))
        .route("/console/tokens", get(access::tokens).post(access::create_token))
        .route("/console/tokens/{token_id}/revoke", post(access::revoke_token))
        .route("/console/audit", get(access::audit))
        .route("/console/switches", get(switches::page).post(switches::set))
        .route("/console/gateway", get(gateway::page))
        .route("/console/gateway/groups", post(gateway::create_group))
        .route("/console/gateway/apis", post(gateway::create_api))
        .route("/console/gateway/status", post(gateway::set_status))
        .route("/console/analytics", get(analytics::page))
        .route("/console/delivery", get(delivery::page))
        .route("/console/delivery/release", post(delivery::release))
        .route("/console/delivery/change", post(delivery::change))
        .route("/console/push", get(push::page))
        .route("/console/push/send", post(push::send))
        .route("/console/push/cancel", post(push::cancel))
        .route("/console/push/revoke", post(push::revoke))
        .route("/console/sync", get(sync::page))
        .route("/console/sync/configs", post(sync::set))
        .route("/console/sync/delete", post(sync::delete))
        .route("/console/sync/send", post(sync::send))
        .route("/console/switches/publish", post(switches::publish))
        .route("/console/switches/rollback", post(switches::rollback))
        .layer(axum::middleware::from_fn(refuse_cross_site_posts))
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
