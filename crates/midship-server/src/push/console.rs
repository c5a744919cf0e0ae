//! Push page for the current workspace: the last week's funnel as an SVG chart, the newest tasks
//! with their figures, sending a simple push, cancelling and revoking.

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_api::{PushAudience, PushMessageBody, PushRequest, PushRevokeRequest, PushTarget};
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_push::PushKind;
use midship_storage::{PushStatsRow, PushStatsScope, PushTaskStatus};
use serde::Deserialize;

use crate::AppState;
use crate::approvals;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/push", get(page))
        .route("/console/push/send", post(send))
        .route("/console/push/cancel", post(cancel))
        .route("/console/push/revoke", post(revoke))
}

const PAGE: &str = "/console/push";
const WEEK_MS: i64 = 7 * 86_400_000;
const TASKS_SHOWN: u32 = 50;

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Push" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, PAGE, "Push", body);
    };
    let now = state.control.now_ms();
    let week = PushStatsScope::Range { from: now - WEEK_MS, until: now + 1 };
    let week = match state.push.stats(&session.principal, &workspace_id, week).await {
        Ok(rows) => PushStatsRow::total(&rows),
        Err(error) => return failure(error),
    };
    let tasks = match state.push.tasks(&session.principal, &workspace_id, TASKS_SHOWN).await {
        Ok(tasks) => tasks,
        Err(error) => return failure(error),
    };
    let may_send = session.principal.role.allows(Action::Operate);
    let body = html! {
        h1 { "Push" }
        p { a href="/console/push/templates" { "Templates and channels →" } }
        h2 { "Last 7 days" }
        (layout::funnel_chart("push funnel, last 7 days", &[
            ("targets", week.targets), ("sent", week.sent), ("delivered", week.delivered),
            ("opened", week.opened), ("ignored", week.ignored),
        ]))
        p.muted { (week.failed) " failed, " (week.revoked) " revoked." }
        h2 { "Tasks" }
        table {
            thead { tr {
                th { "Task" } th { "Kind" } th { "Status" } th { "Created" } th { "Targets" } th { "Sent" }
                th { "Failed" } th { "Delivered" } th { "Opened" } th { "Ignored" } th { "Revoked" } th {}
            } }
            tbody {
                @for summary in &tasks {
                    @let (task, figures) = (&summary.task, &summary.totals);
                    tr {
                        td.mono { (task.task_id) }
                        td { (task.kind) }
                        td { (task.status.as_str()) @if let Some(next) = task.next_run_at { " (next " (format_rfc3339(next)) ")" } }
                        td { (format_rfc3339(task.created_at)) }
                        td { (figures.targets) } td { (figures.sent) } td { (figures.failed) } td { (figures.delivered) }
                        td { (figures.opened) } td { (figures.ignored) } td { (figures.revoked) }
                        td {
                            @if may_send && matches!(task.status, PushTaskStatus::Scheduled | PushTaskStatus::Sending) {
                                form method="post" action="/console/push/cancel" {
                                    (session.csrf_field())
                                    input type="hidden" name="task_id" value=(task.task_id);
                                    button type="submit" { "Cancel" }
                                }
                            }
                            @if may_send && task.status != PushTaskStatus::Scheduled && now - task.created_at <= WEEK_MS {
                                form method="post" action="/console/push/revoke" {
                                    (session.csrf_field())
                                    input type="hidden" name="task_id" value=(task.task_id);
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_send {
            form.card method="post" action="/console/push/send" {
                (session.csrf_field())
                h2 { "Send a push" }
                label { "To " select name="target_kind" {
                    option value="user" { "user" } option value="device" { "device (utdid)" }
                    option value="broadcast" { "every device (broadcast)" }
                } }
                label { " " input name="target_id" placeholder="userId or utdid (not for a broadcast)"; }
                label { "Message id " input name="msg_id" required; }
                label { "Title " input name="title" size="40"; }
                label { "Content " br; textarea name="content" rows="3" cols="90" {} }
                label { "Open (URI) " input name="uri" size="50"; }
                button type="submit" { "Send" }
            }
        }
        p.muted {
            "Devices report tokens and bind users with " code { "midship.push.report" } " and "
            code { "midship.push.bind" } "; templates and channels (APNs, FCM) are on "
            a href="/console/push/templates" { "their own page" } "."
        }
    };
    layout::page(&session, PAGE, "Push", body)
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    target_kind: String,
    target_id: String,
    msg_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    uri: String,
}

pub async fn send(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<SendForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let uri = Some(form.uri.trim().to_owned()).filter(|uri| !uri.is_empty());
    let message = Some(PushMessageBody { title: form.title, content: form.content, uri, ..PushMessageBody::default() });
    let (kind, request) = if form.target_kind == "broadcast" {
        let audience = Some(PushAudience::default());
        let request =
            PushRequest { message, msg_id: Some(form.msg_id.trim().to_owned()), audience, ..PushRequest::default() };
        (PushKind::Broadcast, request)
    } else {
        let target = PushTarget {
            kind: form.target_kind,
            id: form.target_id.trim().to_owned(),
            msg_id: form.msg_id.trim().to_owned(),
            ..PushTarget::default()
        };
        (PushKind::Simple, PushRequest { targets: vec![target], message, ..PushRequest::default() })
    };
    let outcome = approvals::send_push(&state, &session.principal, &workspace_id, kind, request).await;
    approvals::console::after_gated(outcome, PAGE)
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    task_id: String,
}

pub async fn cancel(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<TaskForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    match state.push.cancel(&session.principal, &workspace_id, &form.task_id).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

pub async fn revoke(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<TaskForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let request = PushRevokeRequest { task_id: Some(form.task_id), ..PushRevokeRequest::default() };
    match state.push.revoke(&session.principal, &workspace_id, &request).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}
