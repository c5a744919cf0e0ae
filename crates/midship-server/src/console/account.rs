//! The signed-in person's own account: password, authenticator app, open sessions, and
//! signing out everywhere. Reachable while something is owed (a temporary password, a second
//! factor the installation requires), which the other pages redirect here for.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use midship_control::people::password::MIN_LENGTH;
use midship_control::people::sign_in::Owed;
use midship_control::{ControlError, TotpSetup};
use midship_core::clock::format_rfc3339;
use serde::Deserialize;

use super::layout;
use super::session::{AccountSession, failure, owed_message};
use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/account", get(account))
        .route("/console/account/password", post(change_password))
        .route("/console/account/totp", post(begin_totp))
        .route("/console/account/totp/confirm", post(confirm_totp))
        .route("/console/account/sign-out-everywhere", post(sign_out_everywhere))
}

/// What a form on this page sent back, to show again beside its error.
#[derive(Debug, Default)]
struct Feedback<'a> {
    password_error: Option<&'a str>,
    totp_setup: Option<&'a TotpSetup>,
    totp_error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn account(State(state): State<AppState>, session: AccountSession) -> Response {
    render(&state, &session, StatusCode::OK, Feedback::default()).await
}

async fn render(state: &AppState, session: &AccountSession, status: StatusCode, feedback: Feedback<'_>) -> Response {
    let person = &session.signed_in.person;
    let sessions = match state.control.open_sessions(&session.signed_in).await {
        Ok(sessions) => sessions,
        Err(error) => return failure(error),
    };
    let owed = session.signed_in.owes(&state.control);
    let body = html! {
        h1 { "Your account" }
        @if let Some(owed) = owed { p.notice role="status" { (owed_message(owed)) } }
        @if let Some(notice) = feedback.notice { p.notice role="status" { (notice) } }
        dl.facts {
            dt { "Login" } dd { (person.login) }
            dt { "Name" } dd { (person.display_name) }
            dt { "Role" } dd { (person.role.as_str()) }
            dt { "Apps" } dd { (person.app_ids.as_ref().map(|apps| apps.join(", ")).unwrap_or_else(|| "all".to_owned())) }
        }
        (password_form(session, owed == Some(Owed::NewPassword), feedback.password_error))
        @if owed != Some(Owed::NewPassword) {
            (second_factor_section(session, feedback.totp_setup, feedback.totp_error))
        }
        h2 { "Open sessions" }
        table {
            thead { tr { th { "Signed in" } th { "Last used" } th { "From" } th {} } }
            tbody {
                @for open in &sessions {
                    tr {
                        td { (format_rfc3339(open.created_at)) }
                        td { (format_rfc3339(open.last_seen_at)) }
                        td.mono { (open.address) }
                        td { @if open.session_hash == session.signed_in.session.session_hash { "this browser" } }
                    }
                }
            }
        }
        form.card method="post" action="/console/account/sign-out-everywhere" {
            (session.csrf_field())
            p { "Lost a laptop, or signed in somewhere you should not have? End every session, this one included." }
            button.danger type="submit" { "Sign out everywhere" }
        }
    };
    layout::account_page(status, &person.login, person.role.as_str(), &session.csrf, "Your account", body)
}

fn password_form(session: &AccountSession, required: bool, error: Option<&str>) -> Markup {
    html! {
        form.card method="post" action="/console/account/password" {
            (session.csrf_field())
            h2 { @if required { "Choose your password" } @else { "Change your password" } }
            label for="current_password" { "Current password" }
            input #current_password type="password" name="current_password" autocomplete="current-password" required;
            label for="new_password" { "New password (at least " (MIN_LENGTH) " characters; a few words make a good one)" }
            input #new_password type="password" name="new_password" autocomplete="new-password" required
                minlength=(MIN_LENGTH) aria-invalid=[error.map(|_| "true")];
            @if let Some(error) = error { p.error role="alert" { (error) } }
            p.muted { "Changing it signs you out everywhere; sign in again with the new one." }
            button type="submit" { "Save password" }
        }
    }
}

fn second_factor_section(session: &AccountSession, setup: Option<&TotpSetup>, error: Option<&str>) -> Markup {
    let person = &session.signed_in.person;
    html! {
        section.card {
            h2 { "Authenticator app" }
            @if person.has_second_factor() {
                p { "Set up " (person.totp.as_ref().and_then(|totp| totp.enabled_at).map(format_rfc3339).unwrap_or_default())
                    ". Signing in asks for its code. If the phone is lost, an admin resets it." }
            } @else if let Some(setup) = setup {
                p { "Scan this with your authenticator app (or type the key), then enter the code it shows." }
                div.qr { (PreEscaped(qr_svg(&setup.provisioning_uri))) }
                p { "Key: " code { (setup.secret) } }
                (confirm_form(session, error))
            } @else if person.totp.is_some() {
                p { "Setup was started. Enter the code your app shows, or start again for a new key." }
                (confirm_form(session, error))
                (begin_form(session, "Start again"))
            } @else {
                p { "A code from an app such as FreeOTP, Google Authenticator or Microsoft Authenticator, asked for at each sign-in." }
                (begin_form(session, "Set up an authenticator app"))
            }
        }
    }
}

fn begin_form(session: &AccountSession, label: &str) -> Markup {
    html! {
        form method="post" action="/console/account/totp" {
            (session.csrf_field())
            button type="submit" { (label) }
        }
    }
}

fn confirm_form(session: &AccountSession, error: Option<&str>) -> Markup {
    html! {
        form method="post" action="/console/account/totp/confirm" {
            (session.csrf_field())
            label for="code" { "Code" }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="7" required
                aria-invalid=[error.map(|_| "true")];
            @if let Some(error) = error { p.error role="alert" { (error) } }
            button type="submit" { "Confirm" }
        }
    }
}

/// The otpauth URI as a QR code, drawn on the server as SVG.
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build(),
        Err(_) => String::new(),
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    session: AccountSession,
    Form(form): Form<PasswordForm>,
) -> Response {
    let principal = &session.signed_in.principal;
    match state.control.change_own_password(principal, &form.current_password, &form.new_password).await {
        Ok(_) => Redirect::to("/console/login").into_response(),
        Err(ControlError::Invalid(invalid)) => {
            let message = invalid.to_string();
            let feedback = Feedback { password_error: Some(&message), ..Feedback::default() };
            render(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, feedback).await
        }
        Err(error) => failure(error),
    }
}

async fn begin_totp(State(state): State<AppState>, session: AccountSession) -> Response {
    match state.control.begin_totp_enrollment(&session.signed_in.principal).await {
        Ok(setup) => {
            // The page shows the enrollment begun; re-read the person so it knows.
            let session = match refreshed(&state, session).await {
                Ok(session) => session,
                Err(response) => return response,
            };
            render(&state, &session, StatusCode::OK, Feedback { totp_setup: Some(&setup), ..Feedback::default() }).await
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn confirm_totp(State(state): State<AppState>, session: AccountSession, Form(form): Form<CodeForm>) -> Response {
    match state.control.confirm_totp_enrollment(&session.signed_in.principal, &form.code).await {
        Ok(_) => match refreshed(&state, session).await {
            Ok(session) => {
                let notice = "Your authenticator app is set up: signing in now asks for its code.";
                render(&state, &session, StatusCode::OK, Feedback { notice: Some(notice), ..Feedback::default() }).await
            }
            Err(response) => response,
        },
        Err(error @ (ControlError::Invalid(_) | ControlError::Conflict(_))) => {
            let error = ApiError::from(error);
            let feedback = Feedback { totp_error: Some(&error.message), ..Feedback::default() };
            render(&state, &session, error.status, feedback).await
        }
        Err(error) => failure(error),
    }
}

async fn sign_out_everywhere(State(state): State<AppState>, session: AccountSession) -> Response {
    let person_id = session.signed_in.person.person_id.clone();
    match state.control.sign_out_everywhere(&session.signed_in.principal, &person_id).await {
        Ok(()) => Redirect::to("/console/login").into_response(),
        Err(error) => failure(error),
    }
}

async fn refreshed(state: &AppState, session: AccountSession) -> Result<AccountSession, Response> {
    let person_id = session.signed_in.person.person_id.clone();
    let person = state.control.get_person(&session.signed_in.principal, &person_id).await.map_err(failure)?;
    let signed_in = midship_control::people::sign_in::SignedIn { person, ..session.signed_in };
    Ok(AccountSession { signed_in, csrf: session.csrf })
}
