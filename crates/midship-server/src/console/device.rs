//! `midship login`: the device authorization flow (RFC 8628). Two JSON endpoints for the CLI,
//! outside the admin API (no token yet) and outside the console's form checks (no cookie), and
//! the console page where the signed-in person confirms the code their terminal shows.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::html;
use midship_api::{DeviceLoginPoll, DeviceLoginRequest, DeviceLoginStarted, DeviceLoginState};
use midship_control::people::device::DEVICE_LOGIN_MS;
use midship_core::clock::format_rfc3339;
use serde::Deserialize;

use super::layout;
use super::session::{ConsoleSession, failure};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;

/// Seconds between two polls of the CLI.
const POLL_SECONDS: i64 = 2;
const PAGE: &str = "/console/device";

/// The CLI's endpoints; merged outside the console's anti-forgery layer.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/device", post(start))
        .route("/api/login/device/token", post(poll))
        .route("/api/login/sign-out", post(sign_out))
}

/// The person's page; merged inside the console.
pub fn routes() -> Router<AppState> {
    Router::new().route(PAGE, get(page).post(decide))
}

async fn start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<DeviceLoginRequest>,
) -> Result<Json<DeviceLoginStarted>, ApiError> {
    let started = state.control.start_device_login(&request.client_name, &peer.ip().to_string()).await?;
    let scheme = if state.settings.secure_cookies { "https" } else { "http" };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("localhost");
    let verification_uri = format!("{scheme}://{host}{PAGE}");
    Ok(Json(DeviceLoginStarted {
        verification_uri_complete: format!("{verification_uri}?code={}", started.user_code),
        verification_uri,
        device_code: started.device_code,
        user_code: started.user_code,
        expires_in: DEVICE_LOGIN_MS / 1000,
        interval: POLL_SECONDS,
    }))
}

async fn poll(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<DeviceLoginPoll>,
) -> Result<Json<DeviceLoginState>, ApiError> {
    let current = state.control.device_login_state(&request.device_code).await?;
    Ok(Json(DeviceLoginState { status: current.as_str().to_owned() }))
}

/// Ends the session the bearer token is (`midship logout`); a stale one is already over.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::of_kind(midship_core::ErrorKind::Unauthenticated, "no bearer token"))?;
    state.control.sign_out(bearer.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

async fn page(State(state): State<AppState>, session: ConsoleSession, Query(query): Query<CodeQuery>) -> Response {
    let typed = query.code.unwrap_or_default();
    let pending = if typed.is_empty() { None } else { state.control.pending_device_login(&typed).await.ok() };
    let body = html! {
        h1 { "Sign in a command line" }
        @if let Some(login) = &pending {
            section.card {
                p { strong { (login.client_name) } " at " (login.address) " asked at " (format_rfc3339(login.created_at))
                    " to act as you (" (session.principal.actor_name()) ", " (session.principal.role.as_str()) ")." }
                p { "Confirm only if your terminal shows the code " strong.mono { (login.user_code) } "." }
                form method="post" action=(PAGE) {
                    (session.csrf_field())
                    input type="hidden" name="code" value=(login.user_code);
                    button type="submit" name="decision" value="approve" { "Sign it in" }
                    " "
                    button.danger type="submit" name="decision" value="deny" { "Refuse" }
                }
            }
        } @else {
            @if !typed.is_empty() { p.error role="alert" { "No sign-in waits for this code (it may have expired): run " code { "midship login" } " again." } }
            form.card.narrow method="get" action=(PAGE) {
                label for="code" { "The code your terminal shows" }
                input #code name="code" required autofocus autocomplete="off" placeholder="BCDF-GHJK" value=(typed);
                button type="submit" { "Continue" }
            }
        }
        p.muted { "The command line then acts as you, with your role and apps, until it signs out or the session times out." }
    };
    layout::page(&session, PAGE, "Sign in a command line", body)
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    code: String,
    decision: String,
}

async fn decide(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<DecisionForm>) -> Response {
    let outcome = match form.decision.as_str() {
        "approve" => state.control.approve_device_login(&session.principal, &form.code).await.map(|_| true),
        "deny" => state.control.deny_device_login(&form.code).await.map(|_| false),
        _ => return layout::error_page(StatusCode::BAD_REQUEST, "decide approve or deny"),
    };
    match outcome {
        Ok(approved) => {
            let body = html! {
                h1 { (if approved { "The command line is signed in" } else { "The sign-in was refused" }) }
                p { (if approved { "Go back to your terminal." } else { "Nothing signed in; your terminal says so." }) }
            };
            layout::page(&session, PAGE, "Sign in a command line", body)
        }
        Err(error) => failure(error),
    }
}
