//! Apps and workspaces pages.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_control::NewApp;
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_core::{Platform, Principal};
use serde::Deserialize;

use crate::AppState;
use crate::console::form::Fields;
use crate::console::layout::{self, secret_notice};
use crate::console::session::{ConsoleSession, failure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/apps", get(list).post(create))
        .route("/console/apps/{app_id}", get(show))
        .route("/console/apps/{app_id}/workspaces", post(create_workspace))
        .route("/console/apps/{app_id}/keys/rotate", post(rotate_key))
}

fn can(principal: &Principal, action: Action) -> bool {
    principal.authorize(action).is_ok()
}

pub async fn list(session: ConsoleSession) -> Response {
    let body = html! {
        h1 { "Apps" }
        @if session.apps.is_empty() { p.muted { "No apps yet." } } @else {
            table {
                thead { tr { th { "Name" } th { "App id" } th { "Platforms" } th { "Created" } } }
                tbody {
                    @for app in &session.apps {
                        tr {
                            td { a href={ "/console/apps/" (app.app_id) } { (app.name) } }
                            td.mono { (app.app_id) }
                            td { (Platform::join(&app.platforms)) }
                            td { (format_rfc3339(app.created_at)) }
                        }
                    }
                }
            }
        }
        @if can(&session.principal, Action::ManageApps) { (create_form(&session)) }
    };
    layout::page(&session, "/console/apps", "Apps", body)
}

fn create_form(session: &ConsoleSession) -> Markup {
    html! {
        form.card method="post" action="/console/apps" {
            (session.csrf_field())
            h2 { "Create an app" }
            label { "Name " input name="name" required maxlength="64"; }
            fieldset {
                legend { "Platforms" }
                @for platform in Platform::ALL {
                    label style="display:inline-block;margin-right:1rem" {
                        input type="checkbox" name="platforms" value=(platform.as_str()); " " (platform.as_str())
                    }
                }
            }
            label { "Workspaces " input name="workspaces" value="dev, test, prod"; }
            button type="submit" { "Create app" }
        }
    }
}

/// Form fields arrive as a list of pairs so a repeated checkbox (`platforms`) keeps every value.
pub async fn create(State(state): State<AppState>, session: ConsoleSession, Form(fields): Form<Fields>) -> Response {
    let workspaces: Vec<String> = fields
        .all("workspaces")
        .iter()
        .flat_map(|list| list.split(',').map(|name| name.trim().to_owned()))
        .filter(|name| !name.is_empty())
        .collect();
    let request = NewApp {
        name: fields.first("name"),
        platforms: fields.all("platforms"),
        workspaces: if workspaces.is_empty() { None } else { Some(workspaces) },
    };
    let created = match state.control.create_app(&session.principal, request).await {
        Ok(created) => created,
        Err(error) => return failure(error),
    };
    let body = html! {
        h1 { "App " (created.app.name) " created" }
        p { "App id " code { (created.app.app_id) } ", workspaces: "
            @for (index, workspace) in created.workspaces.iter().enumerate() {
                @if index > 0 { ", " } (workspace.name) " (" code { (workspace.workspace_id) } ")"
            }
        }
        (secret_notice(&format!("Signing secret (key {})", created.key.key_id), &created.key.secret))
        p { a href={ "/console/apps/" (created.app.app_id) } { "Open the app" } }
    };
    (StatusCode::CREATED, layout::page(&session, "/console/apps", "App created", body)).into_response()
}

pub async fn show(State(state): State<AppState>, session: ConsoleSession, Path(app_id): Path<String>) -> Response {
    let details = match state.control.app_details(&session.principal, &app_id).await {
        Ok(details) => details,
        Err(error) => return failure(error),
    };
    let now = state.control.now_ms();
    let may_change = session.principal.authorize_app(Action::ManageApps, &app_id).is_ok();
    let body = html! {
        h1 { (details.app.name) " " span.muted.mono { (details.app.app_id) } }
        p { "Platforms: " (Platform::join(&details.app.platforms)) " · created " (format_rfc3339(details.app.created_at)) }
        h2 { "Workspaces" }
        table {
            thead { tr { th { "Name" } th { "Workspace id" } th { "Created" } } }
            tbody {
                @for workspace in &details.workspaces {
                    tr { td { (workspace.name) } td.mono { (workspace.workspace_id) } td { (format_rfc3339(workspace.created_at)) } }
                }
            }
        }
        @if may_change {
            form.card method="post" action={ "/console/apps/" (app_id) "/workspaces" } {
                (session.csrf_field())
                label { "New workspace " input name="name" required pattern="[a-z][a-z0-9_-]{0,31}"; }
                button type="submit" { "Create workspace" }
            }
        }
        h2 { "Signing keys" }
        table {
            thead { tr { th { "Key id" } th { "Created" } th { "Expires" } th { "State" } } }
            tbody {
                @for key in &details.keys {
                    tr {
                        td.mono { (key.key_id) }
                        td { (format_rfc3339(key.created_at)) }
                        td { (key.expires_at.map(format_rfc3339).unwrap_or_else(|| "never".to_owned())) }
                        td { @if key.is_valid_at(now) { "valid" } @else { "expired" } }
                    }
                }
            }
        }
        @if may_change {
            form.card method="post" action={ "/console/apps/" (app_id) "/keys/rotate" } {
                (session.csrf_field())
                p { "Rotating issues a new secret; the current keys keep working for the grace period." }
                button.danger type="submit" { "Rotate key" }
            }
        }
    };
    layout::page(&session, "/console/apps", &details.app.name, body)
}

#[derive(Debug, Deserialize)]
pub struct WorkspaceForm {
    name: String,
}

pub async fn create_workspace(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(app_id): Path<String>,
    Form(form): Form<WorkspaceForm>,
) -> Response {
    match state.control.create_workspace(&session.principal, &app_id, form.name.trim()).await {
        Ok(_) => Redirect::to(&format!("/console/apps/{app_id}")).into_response(),
        Err(error) => failure(error),
    }
}

pub async fn rotate_key(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(app_id): Path<String>,
) -> Response {
    let rotated = match state.control.rotate_key(&session.principal, &app_id, None).await {
        Ok(rotated) => rotated,
        Err(error) => return failure(error),
    };
    state.gateway.forget_app_keys(&app_id);
    let body = html! {
        h1 { "New signing key" }
        (secret_notice(&format!("Secret of key {}", rotated.key.key_id), &rotated.key.secret))
        p { "Earlier keys stay valid until " (format_rfc3339(rotated.previous_keys_expire_at)) "." }
        p { a href={ "/console/apps/" (app_id) } { "Back to the app" } }
    };
    layout::page(&session, "/console/apps", "New signing key", body)
}
