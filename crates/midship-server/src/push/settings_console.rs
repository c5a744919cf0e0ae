//! The push settings page of the current workspace: templates (set, delete, send to a target
//! with values) and channels (APNs, FCM: credentials set and removed, never shown back).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_api::{PushMessageBody, PushRequest, PushTarget};
use midship_core::access::Action;
use midship_push::{PushError, PushKind};
use midship_storage::PushDefinitionKind;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::approvals;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

const PAGE: &str = "/console/push/templates";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page).post(set_template))
        .route("/console/push/templates/delete", post(delete_template))
        .route("/console/push/templates/send", post(send_template))
        .route("/console/push/channels", post(set_channel))
        .route("/console/push/channels/delete", post(delete_channel))
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Push templates and channels" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, PAGE, "Push templates", body);
    };
    let who = &session.principal;
    let templates = match state.push.list_definitions(who, &workspace_id, PushDefinitionKind::Template).await {
        Ok(templates) => templates,
        Err(error) => return failure(error),
    };
    let channels = match state.push.list_definitions(who, &workspace_id, PushDefinitionKind::Channel).await {
        Ok(channels) => channels,
        Err(error) => return failure(error),
    };
    let may_send = who.role.allows(Action::Operate);
    let may_configure = who.role.allows(Action::ManageApps);
    let text = |message: &Value, field: &str| message.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let body = html! {
        h1 { "Push templates and channels" }
        p { a href="/console/push" { "← Push tasks" } }
        h2 { "Templates" }
        div.scroll { table {
            thead { tr { th { "Name" } th { "Title" } th { "Content" } th { "Opens" } th {} } }
            tbody {
                @for (name, message) in &templates {
                    tr {
                        td.mono { (name) } td { (text(message, "title")) } td { (text(message, "content")) } td { (text(message, "uri")) }
                        td { @if may_send {
                            form method="post" action="/console/push/templates/delete" {
                                (session.csrf_field()) input type="hidden" name="name" value=(name);
                                button.danger type="submit" { "Delete" }
                            }
                        } }
                    }
                }
            }
        } }
        @if may_send {
            form.card method="post" action=(PAGE) {
                (session.csrf_field())
                h2 { "Set a template" }
                label { "Name " input name="name" required pattern="[a-z][a-z0-9_\\-]{0,63}" placeholder="bill"; }
                label { "Title " input name="title" size="50" placeholder="Bill for ${month}"; }
                label { "Content " br; textarea name="content" rows="2" cols="90" placeholder="Due: ${amount}" {} }
                label { "Opens (URI) " input name="uri" size="50"; }
                button type="submit" { "Save template" }
            }
            @if !templates.is_empty() {
                form.card method="post" action="/console/push/templates/send" {
                    (session.csrf_field())
                    h2 { "Send a template" }
                    label { "Template " select name="template" { @for (name, _) in &templates { option value=(name) { (name) } } } }
                    label.inline { "To " select name="target_kind" { option value="user" { "user" } option value="device" { "device (utdid)" } } }
                    label.inline { input name="target_id" required placeholder="userId or utdid"; }
                    label.inline { "Message id " input name="msg_id" required; }
                    label { "Values, one " code { "name=value" } " per line " br;
                        textarea name="values" rows="3" cols="60" placeholder="month=May\namount=40" {} }
                    button type="submit" { "Send" }
                }
            }
        }
        h2 { "Channels" }
        p.muted { "Devices report a token for a channel; pushes to them go through it. Credentials are stored sealed and never shown again." }
        div.scroll { table {
            thead { tr { th { "Name" } th { "Kind" } th {} } }
            tbody {
                @for (name, definition) in &channels {
                    tr {
                        td.mono { (name) } td { (text(definition, "kind")) }
                        td { @if may_configure {
                            form method="post" action="/console/push/channels/delete" {
                                (session.csrf_field()) input type="hidden" name="name" value=(name);
                                button.danger type="submit" { "Remove" }
                            }
                        } }
                    }
                }
            }
        } }
        @if may_configure {
            form.card method="post" action="/console/push/channels" {
                (session.csrf_field())
                h2 { "Set a channel" }
                label { "Name " input name="name" required pattern="[a-z][a-z0-9_\\-]{0,63}" placeholder="apns"; }
                label { "Definition (JSON: APNs " code { "{\"kind\": \"apns\", \"team_id\", \"key_id\", \"private_key\", \"topic\"}" }
                    ", FCM " code { "{\"kind\": \"fcm\", \"service_account\": {…}}" } "; docs/push.md) " br;
                    textarea name="definition" rows="6" cols="90" required {} }
                button type="submit" { "Save channel" }
            }
        }
    };
    layout::page(&session, "/console/push", "Push templates", body)
}

fn workspace_of(session: &ConsoleSession) -> Option<String> {
    session.context.workspace_id().map(str::to_owned)
}

fn done(result: Result<impl Sized, PushError>) -> Response {
    match result {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct TemplateForm {
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    uri: String,
}

pub async fn set_template(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<TemplateForm>,
) -> Response {
    let Some(workspace_id) = workspace_of(&session) else { return Redirect::to(PAGE).into_response() };
    let uri = Some(form.uri.trim().to_owned()).filter(|uri| !uri.is_empty());
    let message = PushMessageBody { title: form.title, content: form.content, uri, ..PushMessageBody::default() };
    done(state.push.put_template(&session.principal, &workspace_id, form.name.trim(), message).await)
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    name: String,
}

pub async fn delete_template(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<NameForm>,
) -> Response {
    let Some(workspace_id) = workspace_of(&session) else { return Redirect::to(PAGE).into_response() };
    done(
        state.push.delete_definition(&session.principal, &workspace_id, PushDefinitionKind::Template, &form.name).await,
    )
}

#[derive(Debug, Deserialize)]
pub struct SendTemplateForm {
    template: String,
    target_kind: String,
    target_id: String,
    msg_id: String,
    #[serde(default)]
    values: String,
}

/// `name=value` lines; blank lines are skipped, a line without `=` is refused.
fn parse_values(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut values = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| ApiError::invalid(format!("invalid values: `{line}` is not name=value")))?;
        values.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(values)
}

pub async fn send_template(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<SendTemplateForm>,
) -> Response {
    let Some(workspace_id) = workspace_of(&session) else { return Redirect::to(PAGE).into_response() };
    let values = match parse_values(&form.values) {
        Ok(values) => values,
        Err(error) => return layout::error_page(error.status, &error.message),
    };
    let target = PushTarget {
        kind: form.target_kind,
        id: form.target_id.trim().to_owned(),
        msg_id: form.msg_id.trim().to_owned(),
        ..PushTarget::default()
    };
    let request =
        PushRequest { targets: vec![target], template: Some(form.template), values, ..PushRequest::default() };
    let outcome = approvals::send_push(&state, &session.principal, &workspace_id, PushKind::Template, request).await;
    approvals::console::after_gated(outcome, "/console/push")
}

#[derive(Debug, Deserialize)]
pub struct ChannelForm {
    name: String,
    definition: String,
}

pub async fn set_channel(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<ChannelForm>,
) -> Response {
    let Some(workspace_id) = workspace_of(&session) else { return Redirect::to(PAGE).into_response() };
    let definition: Value = match serde_json::from_str(&form.definition) {
        Ok(definition) => definition,
        Err(error) => {
            return layout::error_page(axum::http::StatusCode::BAD_REQUEST, &format!("invalid definition: {error}"));
        }
    };
    done(state.push.put_channel(&session.principal, &workspace_id, form.name.trim(), definition).await)
}

pub async fn delete_channel(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<NameForm>,
) -> Response {
    let Some(workspace_id) = workspace_of(&session) else { return Redirect::to(PAGE).into_response() };
    done(state.push.delete_definition(&session.principal, &workspace_id, PushDefinitionKind::Channel, &form.name).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_name_value_lines() {
        let values = parse_values("month = May\n\namount=40\n").unwrap();
        assert_eq!(values.get("month").map(String::as_str), Some("May"));
        assert_eq!(values.get("amount").map(String::as_str), Some("40"));
        assert!(parse_values("no equals sign").is_err());
    }
}
