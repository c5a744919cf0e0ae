//! Signing in and out, the session cookie, and the current app and workspace.
//!
//! People sign in with their login and password, then a code from their authenticator app when
//! they have one; API tokens are for machines and do not open the console. The session's secret
//! lives only in an HttpOnly, SameSite=Strict cookie; every form carries an anti-forgery field
//! derived from it ([`super::csrf`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use midship_control::people::sign_in::{Owed, SignedIn};
use midship_control::{ControlError, Principal};
use midship_core::people::SessionStage;
use midship_core::secrets::{PRESESSION_PREFIX, csrf_token, new_presession_secret};
use midship_core::{App, PageRequest, Workspace};
use serde::Deserialize;

use super::layout;
use crate::AppState;
use crate::error::ApiError;

pub(crate) const SESSION_COOKIE: &str = "midship_session";
/// The half-done sign-in, between the password and the authenticator code.
pub(crate) const PENDING_COOKIE: &str = "midship_pending";
/// Before sign-in there is no session: the sign-in forms' anti-forgery field comes from this.
pub(crate) const PRESESSION_COOKIE: &str = "midship_presession";
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

/// A signed-in person with nothing owed, and what the page header needs.
#[derive(Debug)]
pub struct ConsoleSession {
    pub principal: Principal,
    pub apps: Vec<App>,
    pub workspaces: Vec<Workspace>,
    pub context: ConsoleContext,
    /// The value of every form's anti-forgery field.
    pub csrf: String,
}

impl ConsoleSession {
    /// The hidden anti-forgery field every state-changing form carries.
    pub fn csrf_field(&self) -> Markup {
        csrf_input(&self.csrf)
    }
}

pub(crate) fn csrf_input(value: &str) -> Markup {
    html! { input type="hidden" name=(super::csrf::FIELD) value=(value); }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

pub(crate) fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}");
    HeaderValue::from_str(&text).expect("cookie values are ASCII")
}

/// Renders any failure as a console error page, with the admin API's status and message.
pub fn failure(error: impl Into<ApiError>) -> Response {
    let api_error = error.into();
    layout::error_page(api_error.status, &api_error.message)
}

/// The signed-in person, whatever they still owe: the account page's extractor.
#[derive(Debug)]
pub struct AccountSession {
    pub signed_in: SignedIn,
    pub csrf: String,
}

impl AccountSession {
    pub fn csrf_field(&self) -> Markup {
        csrf_input(&self.csrf)
    }
}

impl FromRequestParts<AppState> for AccountSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret =
            cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| Redirect::to("/console/login").into_response())?;
        match state.control.authenticate_session(secret).await {
            Ok(signed_in) => Ok(Self { signed_in, csrf: csrf_token(secret) }),
            Err(ControlError::Unauthenticated) => Err(Redirect::to("/console/login").into_response()),
            Err(other) => Err(failure(other)),
        }
    }
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AccountSession { signed_in, csrf } = AccountSession::from_request_parts(parts, state).await?;
        if signed_in.owes(&state.control).is_some() {
            return Err(Redirect::to("/console/account").into_response());
        }
        let principal = signed_in.principal.clone();
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
        Ok(Self { principal, apps, workspaces, context: ConsoleContext { app_id: current_app, workspace_id }, csrf })
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// The pre-session cookie's value, made when the visitor has none.
fn presession(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    match cookie(headers, PRESESSION_COOKIE) {
        Some(value) if value.starts_with(PRESESSION_PREFIX) && value.len() < 100 => (value.to_owned(), None),
        _ => {
            let value = new_presession_secret(&mut rand::rng());
            let header = set_cookie(PRESESSION_COOKIE, &value, 24 * 60 * 60, secure);
            (value, Some(header))
        }
    }
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    sign_in_form(&state, &headers, StatusCode::OK, "", None)
}

fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    error: Option<&str>,
) -> Response {
    let (presession_value, new_cookie) = presession(headers, state.settings.secure_cookies);
    let mut response = layout::bare_page(
        status,
        "Sign in",
        html! {
            h1 { "Sign in to Midship" }
            form.card.narrow method="post" action="/console/login" {
                (csrf_input(&csrf_token(&presession_value)))
                label for="login" { "Login" }
                input #login type="text" name="login" value=(login) autocomplete="username" required autofocus[login.is_empty()]
                    aria-invalid=[error.map(|_| "true")];
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required autofocus[!login.is_empty()]
                    aria-invalid=[error.map(|_| "true")];
                @if let Some(error) = error { p.error role="alert" { (error) } }
                button type="submit" { "Sign in" }
            }
            @if let Some(provider) = state.oidc.as_deref() {
                p { a.button href="/console/oidc/start" { (provider.settings.label) } }
            }
            p.muted { "First start writes the " code { "admin" } " account's temporary password to "
                code { "DATA_DIR/admin-password" } ". API tokens are for machines; they do not open the console." }
        },
    );
    if let Some(value) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let address = peer.ip().to_string();
    match state.control.sign_in_with_password(&form.login, &form.password, &address).await {
        Ok(started) if started.stage == SessionStage::Password => {
            let mut response = Redirect::to("/console/login/code").into_response();
            let max_age = (started.expires_at - state.control.now_ms()) / 1000;
            let cookie = set_cookie(PENDING_COOKIE, &started.secret, max_age, state.settings.secure_cookies);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Ok(started) => signed_in_response(&state, &started.secret, started.expires_at),
        Err(error) => {
            let error = ApiError::from(error);
            sign_in_form(&state, &headers, error.status, &form.login, Some(&error.message))
        }
    }
}

fn signed_in_response(state: &AppState, secret: &str, expires_at: i64) -> Response {
    let mut response = Redirect::to("/console").into_response();
    for cookie in session_cookies(state, secret, expires_at) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The cookies of a session begun: its secret, and the half-done sign-in's cookie cleared.
pub fn session_cookies(state: &AppState, secret: &str, expires_at: i64) -> [HeaderValue; 2] {
    let max_age = (expires_at - state.control.now_ms()) / 1000;
    let secure_cookies = state.settings.secure_cookies;
    [set_cookie(SESSION_COOKIE, secret, max_age, secure_cookies), set_cookie(PENDING_COOKIE, "", 0, secure_cookies)]
}

pub async fn code_page(headers: HeaderMap) -> Response {
    if cookie(&headers, PENDING_COOKIE).is_none() {
        return Redirect::to("/console/login").into_response();
    }
    code_form(&headers, StatusCode::OK, None)
}

fn code_form(headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let pending = cookie(headers, PENDING_COOKIE).unwrap_or_default();
    layout::bare_page(
        status,
        "Authenticator code",
        html! {
            h1 { "Authenticator code" }
            form.card.narrow method="post" action="/console/login/code" {
                (csrf_input(&csrf_token(pending)))
                label for="code" { "The six-digit code your authenticator app shows" }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}"
                    maxlength="7" required autofocus aria-invalid=[error.map(|_| "true")];
                @if let Some(error) = error { p.error role="alert" { (error) } }
                button type="submit" { "Continue" }
            }
            p.muted { "Lost the phone? An admin resets your second factor from the People page." }
        },
    )
}

pub async fn submit_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(pending) = cookie(&headers, PENDING_COOKIE) else {
        return Redirect::to("/console/login").into_response();
    };
    match state.control.sign_in_with_code(pending, &form.code, &peer.ip().to_string()).await {
        Ok(started) => signed_in_response(&state, &started.secret, started.expires_at),
        Err(error) => {
            let error = ApiError::from(error);
            code_form(&headers, error.status, Some(&error.message))
        }
    }
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Err(error) = state.control.sign_out(secret).await
    {
        return failure(error);
    }
    let mut response = Redirect::to("/console/login").into_response();
    let secure_cookies = state.settings.secure_cookies;
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, secure_cookies));
    headers.append(header::SET_COOKIE, set_cookie(CONTEXT_COOKIE, "", 0, secure_cookies));
    response
}

/// Where the console sends someone who owes something before using it.
pub fn owed_message(owed: Owed) -> &'static str {
    match owed {
        Owed::NewPassword => "Choose your own password: the one you signed in with was temporary.",
        Owed::SecondFactor => "Set up an authenticator app: this installation requires a second factor.",
    }
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
