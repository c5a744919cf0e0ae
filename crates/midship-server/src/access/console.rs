//! Tokens and audit log pages.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_control::{AuditQuery, NewToken};
use midship_core::PageRequest;
use midship_core::access::Role;
use midship_core::clock::format_rfc3339;
use serde::Deserialize;

use crate::AppState;
use crate::console::form::Fields;
use crate::console::layout;
use crate::console::layout::{app_scope_label, app_scope_picker, secret_notice};
use crate::console::session::{ConsoleSession, failure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/tokens", get(tokens).post(create_token))
        .route("/console/tokens/{token_id}/revoke", post(revoke_token))
        .route("/console/audit", get(audit))
}

pub async fn tokens(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let tokens = match state.control.list_tokens(&session.principal, &PageRequest::first(200)).await {
        Ok(page) => page.items,
        Err(error) => return failure(error),
    };
    let now = state.control.now_ms();
    let body = html! {
        h1 { "Access tokens" }
        table {
            thead { tr { th { "Name" } th { "Role" } th { "Apps" } th { "Token" } th { "Created" } th { "State" } th {} } }
            tbody {
                @for token in &tokens {
                    tr {
                        td { (token.name) }
                        td { (token.role.as_str()) }
                        td { (app_scope_label(token.app_ids.as_deref(), &session.apps)) }
                        td.mono { (token.hint) }
                        td { (format_rfc3339(token.created_at)) }
                        td {
                            @if let Some(revoked_at) = token.revoked_at { "revoked " (format_rfc3339(revoked_at)) }
                            @else if !token.is_active_at(now) { "expired" }
                            @else { "active" }
                        }
                        td {
                            @if token.revoked_at.is_none() && Some(token.token_id.as_str()) != session.principal.token_id() {
                                form method="post" action={ "/console/tokens/" (token.token_id) "/revoke" } {
                                    (session.csrf_field())
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.card method="post" action="/console/tokens" {
            (session.csrf_field())
            h2 { "Create a token" }
            label { "Name " input name="name" required maxlength="64"; }
            label { "Role "
                select name="role" { @for role in Role::ALL { option value=(role.as_str()) { (role.as_str()) } } }
            }
            (app_scope_picker(&session.apps, &[]))
            label { "Expires in days (empty for never) " input name="expires_in_days" type="number" min="1"; }
            button type="submit" { "Create token" }
        }
    };
    layout::page(&session, "/console/tokens", "Tokens", body)
}

pub async fn create_token(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(fields): Form<Fields>,
) -> Response {
    let app_ids = fields.all("app_ids");
    let expires_in_seconds = match fields.first("expires_in_days").trim() {
        "" => None,
        days => match days.parse::<u64>() {
            Ok(days) => Some(days.saturating_mul(86_400)),
            Err(_) => {
                return layout::error_page(StatusCode::BAD_REQUEST, "expires in days must be a whole number");
            }
        },
    };
    let request = NewToken {
        name: fields.first("name"),
        role: fields.first("role"),
        app_ids: if app_ids.is_empty() { None } else { Some(app_ids) },
        expires_in_seconds,
    };
    let issued = match state.control.create_token(&session.principal, request).await {
        Ok(issued) => issued,
        Err(error) => return failure(error),
    };
    let body = html! {
        h1 { "Token " (issued.record.name) " created" }
        (secret_notice(&format!("Bearer token ({} role)", issued.record.role.as_str()), &issued.token))
        p { a href="/console/tokens" { "Back to tokens" } }
    };
    (StatusCode::CREATED, layout::page(&session, "/console/tokens", "Token created", body)).into_response()
}

pub async fn revoke_token(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(token_id): Path<String>,
) -> Response {
    match state.control.revoke_token(&session.principal, &token_id).await {
        Ok(_) => Redirect::to("/console/tokens").into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditPageQuery {
    app_id: Option<String>,
    action: Option<String>,
    cursor: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(query): Query<AuditPageQuery>,
) -> Response {
    let non_empty = |value: &Option<String>| value.clone().filter(|text| !text.trim().is_empty());
    let filter = AuditQuery { app_id: non_empty(&query.app_id), action: non_empty(&query.action) };
    let page = PageRequest::new(Some(50), non_empty(&query.cursor));
    let entries = match state.control.list_audit(&session.principal, filter.clone(), &page).await {
        Ok(entries) => entries,
        Err(error) => return failure(error),
    };
    let body = html! {
        h1 { "Audit log" }
        form method="get" action="/console/audit" {
            label style="display:inline" { "App id " input name="app_id" value=(filter.app_id.clone().unwrap_or_default()); }
            " "
            label style="display:inline" { "Action " input name="action" placeholder="app.create" value=(filter.action.clone().unwrap_or_default()); }
            " " button type="submit" { "Filter" }
        }
        div.scroll { table {
            thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "Before" } th { "After" } } }
            tbody {
                @for item in &entries.items {
                    tr {
                        td { (format_rfc3339(item.entry.at)) }
                        td { (item.entry.actor_name) }
                        td.mono { (item.entry.action) }
                        td.mono { (item.entry.target_kind) " " (item.entry.target_id) }
                        td.mono.json { (item.entry.before.as_ref().map(ToString::to_string).unwrap_or_default()) }
                        td.mono.json { (item.entry.after.as_ref().map(ToString::to_string).unwrap_or_default()) }
                    }
                }
            }
        } }
        @if let Some(cursor) = &entries.next_cursor {
            p { a href={ "/console/audit?cursor=" (cursor) "&app_id=" (filter.app_id.clone().unwrap_or_default()) "&action=" (filter.action.clone().unwrap_or_default()) } { "Older entries →" } }
        }
    };
    layout::page(&session, "/console/audit", "Audit log", body)
}
