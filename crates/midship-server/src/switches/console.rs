//! Remote configuration pages for the current workspace: switches, publish, history, rollback.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_core::PageRequest;
use midship_core::clock::format_rfc3339;
use midship_switches::{SwitchDefinition, SwitchError, TargetedValue, ValueType};
use serde::Deserialize;

use crate::AppState;
use crate::approvals;
use crate::console::layout;
use crate::console::rule_editor::{self, EditorParts, RuleFields};
use crate::console::session::{ConsoleSession, failure};

/// A switch target may name its whitelist and share of devices.
const SWITCH_RULE: EditorParts = EditorParts { whitelist: true, percentage: true };

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/switches", get(page).post(set))
        .route("/console/switches/publish", post(publish))
        .route("/console/switches/rollback", post(rollback))
}

fn no_workspace(session: &ConsoleSession) -> Response {
    let body = html! { h1 { "Switches" } p.muted { "Create an app first, then pick it and a workspace above." } };
    layout::page(session, "/console/switches", "Switches", body)
}

/// What the person typed into the set form, kept when it is refused, with the field at fault.
struct Refused<'a> {
    form: &'a SwitchForm,
    field: &'static str,
    message: String,
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    render(&state, &session, None).await
}

async fn render(state: &AppState, session: &ConsoleSession, refused: Option<Refused<'_>>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(session);
    };
    let switches = match state.switches.list_switches(&session.principal, &workspace_id).await {
        Ok(switches) => switches,
        Err(error) => return failure(error),
    };
    let versions = match state.switches.history(&session.principal, &workspace_id, &PageRequest::first(20)).await {
        Ok(page) => page.items,
        Err(error) => return failure(error),
    };
    let workspace_name = session
        .workspaces
        .iter()
        .find(|ws| ws.workspace_id == workspace_id)
        .map(|ws| ws.name.clone())
        .unwrap_or_default();
    let may_change = session.principal.role.allows(midship_core::access::Action::Operate);
    let typed = refused.as_ref().map(|refused| refused.form);
    let invalid = |field: &str| refused.as_ref().is_some_and(|refused| refused.field == field).then_some("true");
    let body = html! {
        h1 { "Switches · " (workspace_name) }
        table {
            thead { tr { th { "Key" } th { "Type" } th { "Default" } th { "Targets" } th { "State" } } }
            tbody {
                @for status in &switches {
                    @let current = status.draft.as_ref().or(status.published.as_ref());
                    tr {
                        td.mono { (status.key) }
                        td { (current.map(|switch| switch.value_type.as_str()).unwrap_or("-")) }
                        td.mono { (current.map(|switch| switch.default_value.to_string()).unwrap_or_default()) }
                        td { (current.map(|switch| switch.targets.len()).unwrap_or(0)) }
                        td { (status.state.as_str()) }
                    }
                }
            }
        }
        @if may_change {
            form.card method="post" action="/console/switches/publish" {
                (session.csrf_field())
                label { "Note " input name="note" size="50"; }
                button type="submit" { "Publish the draft" }
            }
            form.card method="post" action="/console/switches" {
                (session.csrf_field())
                h2 #set { "Set a switch" }
                @if let Some(refused) = &refused { p.error role="alert" { (refused.message) } }
                label { "Key " input name="key" required pattern="[A-Za-z][A-Za-z0-9_.\\-]{0,127}"
                    value=[typed.map(|form| form.key.as_str())] aria-invalid=[invalid("key")]; }
                label { "Type "
                    select name="value_type" aria-invalid=[invalid("value_type")] {
                        @for kind in ["bool", "number", "string", "json"] {
                            option value=(kind) selected[typed.is_some_and(|form| form.value_type == kind)] { (kind) }
                        }
                    }
                }
                label { "Default value " input name="default_value" required
                    value=[typed.map(|form| form.default_value.as_str())] aria-invalid=[invalid("default_value")]; }
                label { "Description " input name="description" size="60"
                    value=[typed.map(|form| form.description.as_str())] aria-invalid=[invalid("description")]; }
                fieldset {
                    legend { "A value for some devices (added after the targets below)" }
                    label { "Value " input name="target_value" size="30" placeholder="empty: no targeted value"
                        value=[typed.map(|form| form.target_value.as_str())] aria-invalid=[invalid("target_value")]; }
                    (rule_editor::editor(typed.map(|form| &form.rule), refused.as_ref().map(|refused| refused.field), SWITCH_RULE))
                }
                details open[typed.is_some_and(|form| form.targets.trim().len() > 2)] {
                    summary { "Targets as JSON (several, first match wins)" }
                    label { "A JSON array of {\"value\": …, \"rule\": {…}} "
                        br; textarea name="targets" rows="6" cols="90" aria-invalid=[invalid("targets")] {
                            (typed.map_or("[]", |form| form.targets.as_str()))
                        }
                    }
                }
                button type="submit" { "Save to draft" }
            }
        }
        h2 { "History" }
        table {
            thead { tr { th { "Version" } th { "Published" } th { "By" } th { "Switches" } th { "Note" } th {} } }
            tbody {
                @for (index, version) in versions.iter().enumerate() {
                    tr {
                        td { (version.version) }
                        td { (format_rfc3339(version.published_at)) }
                        td { (version.published_by) }
                        td { (version.switch_count) }
                        td { (version.note) }
                        td {
                            @if may_change && index > 0 {
                                form method="post" action="/console/switches/rollback" {
                                    (session.csrf_field())
                                    input type="hidden" name="version" value=(version.version);
                                    button.danger type="submit" { "Roll back to this" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted {
            "Devices pull with " code { "midship.config.pull" } "; GrowthBook SDKs read "
            code { "/api/features/{client_key}" } " with the key " code { "GET /api/v1/workspaces/" (workspace_id) "/device-security" } " shows."
        }
    };
    let status = if refused.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, layout::page(session, "/console/switches", "Switches", body)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    key: String,
    value_type: String,
    default_value: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    targets: String,
    /// One more target, from the structured editor: this value for whom the rule names.
    #[serde(default)]
    target_value: String,
    #[serde(flatten)]
    rule: RuleFields,
}

pub async fn set(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<SwitchForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    let refuse = |field: &'static str, message: String| Refused { form: &form, field, message };
    let Some(value_type) = ValueType::parse(&form.value_type) else {
        let message = "type must be bool, number, string or json".to_owned();
        return render(&state, &session, Some(refuse("value_type", message))).await;
    };
    let default_value = match value_type.parse_value(&form.default_value) {
        Ok(value) => value,
        Err(message) => {
            return render(&state, &session, Some(refuse("default_value", format!("default value: {message}")))).await;
        }
    };
    let targets_text = if form.targets.trim().is_empty() { "[]" } else { form.targets.trim() };
    let mut targets: Vec<TargetedValue> = match serde_json::from_str(targets_text) {
        Ok(targets) => targets,
        Err(error) => {
            return render(&state, &session, Some(refuse("targets", format!("targets: {error}")))).await;
        }
    };
    if !form.target_value.trim().is_empty() {
        let value = match value_type.parse_value(&form.target_value) {
            Ok(value) => value,
            Err(message) => {
                return render(&state, &session, Some(refuse("target_value", format!("targeted value: {message}"))))
                    .await;
            }
        };
        let rule = match form.rule.to_rule(SWITCH_RULE) {
            Ok(rule) => rule,
            Err(error) => return render(&state, &session, Some(refuse(error.field, error.message))).await,
        };
        targets.push(TargetedValue { value, rule });
    }
    let definition = SwitchDefinition {
        key: form.key.trim().to_owned(),
        value_type,
        default_value,
        description: form.description.trim().to_owned(),
        platforms: Vec::new(),
        targets,
    };
    match state.switches.set_switch(&session.principal, &workspace_id, definition).await {
        Ok(_) => Redirect::to("/console/switches").into_response(),
        Err(SwitchError::Invalid(invalid)) => {
            // The error's path names the field ("key", "targets[0].rule.…").
            let field = ["key", "description", "default_value", "value_type"]
                .into_iter()
                .find(|field| invalid.path == *field)
                .unwrap_or("targets");
            render(&state, &session, Some(refuse(field, invalid.to_string()))).await
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    note: String,
}

pub async fn publish(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<PublishForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    approvals::console::after_gated(
        approvals::publish_config(&state, &session.principal, &workspace_id, form.note.trim()).await,
        "/console/switches",
    )
}

#[derive(Debug, Deserialize)]
pub struct RollbackForm {
    version: i64,
}

pub async fn rollback(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<RollbackForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    approvals::console::after_gated(
        approvals::rollback_config(&state, &session.principal, &workspace_id, form.version).await,
        "/console/switches",
    )
}
