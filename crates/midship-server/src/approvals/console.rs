//! The approvals page of the current workspace: the four-eyes rule (admins turn it on), the
//! requests waiting for someone, and the decisions taken.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_core::PageRequest;
use midship_core::access::Action;
use midship_core::approval::{ApprovalRecord, ApprovalStatus};
use midship_core::clock::format_rfc3339;
use serde::Deserialize;

use crate::AppState;
use crate::approvals::Gated;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

const PAGE: &str = "/console/approvals";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/console/approvals/policy", post(set_policy))
        .route("/console/approvals/{approval_id}/approve", post(approve))
        .route("/console/approvals/{approval_id}/refuse", post(refuse))
}

/// Where a console form that made a gated change goes: back to `done` once made, to this page
/// when the change waits for a second person, to an error page when it was refused.
pub fn after_gated<T>(outcome: Result<Gated<T>, ApiError>, done: &str) -> Response {
    match outcome {
        Ok(Gated::Done(_)) => Redirect::to(done).into_response(),
        Ok(Gated::Requested(approval)) => {
            Redirect::to(&format!("{PAGE}?requested={}", approval.approval_id)).into_response()
        }
        Err(error) => error_page(error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    requested: Option<String>,
    decided: Option<String>,
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession, Query(notice): Query<Notice>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Approvals" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, PAGE, "Approvals", body);
    };
    let who = &session.principal;
    let required = match state.control.approvals_required(who, &workspace_id).await {
        Ok(required) => required,
        Err(error) => return failure(error),
    };
    let recent = match state.control.list_approvals(who, &workspace_id, None, &PageRequest::first(100)).await {
        Ok(page) => page.items,
        Err(error) => return failure(error),
    };
    let now = state.control.now_ms();
    let (open, decided): (Vec<_>, Vec<_>) = recent.iter().partition(|approval| approval.is_open_at(now));
    let find =
        |id: &Option<String>| id.as_ref().and_then(|id| recent.iter().find(|approval| &approval.approval_id == id));
    let may_operate = who.role.allows(Action::Operate);
    let body = html! {
        h1 { "Approvals · " (workspace_name(&session, &workspace_id)) }
        @if let Some(approval) = find(&notice.requested) {
            p.notice role="status" {
                "Sent for approval: " strong { (approval.summary) } ". Another person with the operator role or above "
                "must approve it before it takes effect."
            }
        }
        @if let Some(approval) = find(&notice.decided) {
            p.notice role="status" { (approval.summary) ": " strong { (approval.status_at(now)) }
                @if !approval.outcome.is_empty() { " — " (approval.outcome) } }
        }
        section.card {
            @if required {
                p { strong { "Four eyes are on." } " Publishing or rolling back switches, starting, widening or rolling "
                    "back releases and broadcast pushes wait here until another person approves them." }
            } @else {
                p { "Four eyes are off: gated changes take effect at once." }
            }
            @if who.role.allows(Action::ManageAccess) {
                form method="post" action="/console/approvals/policy" {
                    (session.csrf_field())
                    input type="hidden" name="required" value=(if required { "off" } else { "on" });
                    button type="submit" { (if required { "Turn approvals off" } else { "Require approvals" }) }
                }
            }
        }
        h2 { "Waiting (" (open.len()) ")" }
        @if open.is_empty() { p.muted { "Nothing waits for approval." } }
        @for approval in &open {
            (open_request(&session, approval, may_operate))
        }
        h2 { "Decided" }
        @if decided.is_empty() { p.muted { "Nothing decided yet." } }
        @else { div.scroll { table {
            thead { tr { th { "Asked" } th { "By" } th { "Change" } th { "Decision" } th { "Decided by" } th { "Comment" } th { "Outcome" } } }
            tbody {
                @for approval in &decided {
                    tr {
                        td { (format_rfc3339(approval.requested_at)) }
                        td { (approval.requested_by.name) }
                        td { (approval.summary) }
                        td { (approval.status_at(now)) }
                        td { (approval.decided_by.as_ref().map(|actor| actor.name.as_str()).unwrap_or("")) }
                        td { (approval.comment) }
                        td { (approval.outcome) }
                    }
                }
            }
        } } }
    };
    layout::page(&session, PAGE, "Approvals", body)
}

fn open_request(session: &ConsoleSession, approval: &ApprovalRecord, may_operate: bool) -> Markup {
    let mine = approval.requested_by.is(&session.principal);
    let may_approve = may_operate && !mine && session.principal.person_id().is_some();
    let action = |verb: &str| format!("{PAGE}/{}/{verb}", approval.approval_id);
    html! {
        article.card data-approval=(approval.approval_id) {
            h3 { (approval.summary) }
            p.muted { (approval.change.describe()) " · asked by " (approval.requested_by.name) " at "
                (format_rfc3339(approval.requested_at)) " · open until " (format_rfc3339(approval.expires_at())) }
            details { summary { "What will be applied" }
                pre.mono { (serde_json::to_string_pretty(&approval.payload).unwrap_or_default()) } }
            @if may_approve {
                form method="post" action=(action("approve")) {
                    (session.csrf_field())
                    label { "Comment " input name="comment" maxlength="500" size="40"; }
                    button type="submit" { "Approve and apply" }
                }
            } @else if mine {
                p.muted { "You asked for this: another person approves it." }
            }
            @if may_operate {
                form method="post" action=(action("refuse")) {
                    (session.csrf_field())
                    @if !mine { label { "Reason " input name="comment" maxlength="500" size="40"; } }
                    button.danger type="submit" { (if mine { "Withdraw" } else { "Refuse" }) }
                }
            }
        }
    }
}

fn workspace_name(session: &ConsoleSession, workspace_id: &str) -> String {
    session.workspaces.iter().find(|ws| ws.workspace_id == workspace_id).map(|ws| ws.name.clone()).unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    required: String,
}

pub async fn set_policy(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<PolicyForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let required = form.required == "on";
    match state.control.set_approvals_required(&session.principal, &workspace_id, required).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    comment: String,
}

pub async fn approve(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(approval_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    match super::approve(&state, &session.principal, &workspace_id, &approval_id, &form.comment).await {
        Ok(approval) => decided(&approval),
        Err(error) => error_page(error),
    }
}

pub async fn refuse(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(approval_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    match state.control.refuse(&session.principal, &workspace_id, &approval_id, &form.comment).await {
        Ok(approval) => decided(&approval),
        Err(error) => failure(error),
    }
}

fn decided(approval: &ApprovalRecord) -> Response {
    debug_assert!(approval.status != ApprovalStatus::Pending);
    Redirect::to(&format!("{PAGE}?decided={}", approval.approval_id)).into_response()
}

fn error_page(error: ApiError) -> Response {
    layout::error_page(error.status, &error.message)
}
