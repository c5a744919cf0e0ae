//! Signing in and out, the session cookie, and the current app and workspace.

use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use midship_control::{ControlError, Principal};
use midship_core::{App, PageRequest, Workspace};
use serde::Deserialize;

use super::layout;
use crate::AppState;
use crate::error::ApiError;

const SESSION_COOKIE: &str = "midship_session";
const CONTEXT_COOKIE: &str = "midship_context";

/// The app and workspace the console is looking at, remembered in a cookie as `APP/WORKSPACE`.
#[derive(Debug, Clone, Default)]
pub struct ConsoleContext {
    app_id: Option<String>,
    workspace_id: Option<String>,
}

impl ConsoleContext {
    pub fn app_id(&self) -> Option<&str> {
        self.app_id.as_deref()
    }

    pub fn workspace_id(&self) -> Option<&str> {
        self.workspace_id.as_deref()
    }
}

/// A signed-in console visitor and what the page header needs.
#[derive(Debug)]
pub struct ConsoleSession {
    pub principal: Principal,
    pub apps: Vec<App>,
    pub workspaces: Vec<Workspace>,
    pub context: ConsoleContext,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}");
    HeaderValue::from_str(&text).expect("cookie values are ASCII")
}

/// Renders a control-plane failure as a console error page, with the admin API's status.
pub fn failure(error: ControlError) -> Response {
    let api_error = ApiError::from(error);
    layout::error_page(api_error.status, &api_error.message)
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token =
            cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| Redirect::to("/console/login").into_response())?;
        let principal = match state.control.authenticate(token).await {
            Ok(principal) => principal,
            Err(ControlError::Unauthenticated) => {
                return Err(Redirect::to("/console/login").into_response());
            }
            Err(other) => return Err(failure(other)),
        };
        let apps = state.control.list_apps(&principal, &PageRequest::first(200)).await.map_err(failure)?.items;
        let (app_id, workspace_id) =
            match cookie(&parts.headers, CONTEXT_COOKIE).and_then(|value| value.split_once('/')) {
                Some((app, workspace)) => (Some(app.to_owned()), Some(workspace.to_owned())),
                None => (None, None),
            };
        let current_app = app_id
            .filter(|id| apps.iter().any(|app| &app.app_id == id))
            .or_else(|| apps.first().map(|app| app.app_id.clone()));
        let workspaces = match &current_app {
            Some(app_id) => state.control.list_workspaces(&principal, app_id).await.map_err(failure)?,
            None => Vec::new(),
        };
        let workspace_id = workspace_id
            .filter(|id| workspaces.iter().any(|ws| &ws.workspace_id == id))
            .or_else(|| workspaces.first().map(|ws| ws.workspace_id.clone()));
        Ok(Self { principal, apps, workspaces, context: ConsoleContext { app_id: current_app, workspace_id } })
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login_page() -> Response {
    login_form(StatusCode::OK, None)
}

fn login_form(status: StatusCode, error: Option<&str>) -> Response {
    layout::bare_page(
        status,
        "Sign in",
        html! {
            h1 { "Sign in to Midship" }
            form.card method="post" action="/console/login" {
                label { "Admin API token" br; input type="password" name="token" size="60" autocomplete="off" required autofocus; }
                @if let Some(error) = error { p.error { (error) } }
                button type="submit" { "Sign in" }
            }
            p.muted { "The first admin token is in " code { "DATA_DIR/admin-token" } "; " code { "midship token create" } " makes more." }
        },
    )
}

pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    match state.control.authenticate(token).await {
        Ok(_) => {
            let mut response = Redirect::to("/console/apps").into_response();
            let max_age = 12 * 60 * 60;
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, token, max_age, state.settings.secure_cookies));
            response
        }
        Err(ControlError::Unauthenticated) => {
            login_form(StatusCode::UNAUTHORIZED, Some("That token is unknown, revoked or expired."))
        }
        Err(other) => failure(other),
    }
}

pub async fn logout(State(state): State<AppState>) -> Response {
    let mut response = Redirect::to("/console/login").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, state.settings.secure_cookies));
    headers.append(header::SET_COOKIE, set_cookie(CONTEXT_COOKIE, "", 0, state.settings.secure_cookies));
    response
}

#[derive(Debug, Deserialize)]
pub struct SwitchQuery {
    app_id: String,
    workspace_id: Option<String>,
}

/// Makes another app (and workspace) current, then shows that app.
pub async fn switch_context(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(query): Query<SwitchQuery>,
) -> Response {
    let workspaces = match state.control.list_workspaces(&session.principal, &query.app_id).await {
        Ok(workspaces) => workspaces,
        Err(error) => return failure(error),
    };
    // A workspace of the previously selected app does not carry over; fall back to the first.
    let workspace = workspaces
        .iter()
        .find(|ws| Some(&ws.workspace_id) == query.workspace_id.as_ref())
        .or_else(|| workspaces.first());
    let Some(workspace) = workspace else {
        return layout::error_page(StatusCode::NOT_FOUND, "that app has no workspace");
    };
    let mut response = Redirect::to(&format!("/console/apps/{}", query.app_id)).into_response();
    let value = format!("{}/{}", query.app_id, workspace.workspace_id);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(CONTEXT_COOKIE, &value, 30 * 24 * 60 * 60, state.settings.secure_cookies),
    );
    response
}
