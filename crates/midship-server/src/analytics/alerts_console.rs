//! The alert rules of the current workspace and what they told their webhooks: rules set,
//! switched off and removed (developers: a rule posts to an outside URL), the history of
//! firings and resolutions.

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_api::AlertRuleDefinition;
use midship_core::access::Action;
use serde::Deserialize;

use crate::AppState;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};

const PAGE: &str = "/console/analytics/alerts";
const METRICS: [(&str, &str); 5] = [
    ("crash_rate", "crashes per launch"),
    ("anr_rate", "ANRs per launch"),
    ("startup_p95_ms", "startup p95 (ms)"),
    ("api_error_rate", "gateway API errors per call"),
    ("api_latency_p95_ms", "gateway API latency p95 (ms)"),
];

pub fn routes() -> Router<AppState> {
    Router::new().route(PAGE, get(page).post(save)).route("/console/analytics/alerts/delete", post(delete))
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Alerts" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, "/console/analytics", "Alerts", body);
    };
    let who = &session.principal;
    let rules = match state.analytics.alerts(who, &workspace_id).await {
        Ok(rules) => rules,
        Err(error) => return failure(error),
    };
    let history = match state.analytics.alert_history(who, &workspace_id, 100).await {
        Ok(history) => history,
        Err(error) => return failure(error),
    };
    let may_change = who.role.allows(Action::Integrate);
    let rule_name = |rule_id: &str| {
        rules
            .iter()
            .find(|rule| rule.rule_id == rule_id)
            .map_or_else(|| rule_id.to_owned(), |rule| rule.definition.name.clone())
    };
    let body = html! {
        p { a href="/console/analytics" { "← Analytics" } }
        h1 { "Alerts" }
        div.scroll { table {
            thead { tr { th { "Rule" } th { "When" } th { "State" } th { "Last value" } th { "Webhook" } th {} } }
            tbody { @for rule in &rules {
                @let definition = &rule.definition;
                tr {
                    td { (definition.name) @if !definition.enabled { " (off)" } }
                    td { (definition.metric) @if let Some(api) = &definition.operation_type { " of " code { (api) } }
                        " > " (definition.threshold) " over " (definition.window_minutes) " min" }
                    td { (rule.state) }
                    td { (rule.last_value.map(|value| format!("{value:.4}")).unwrap_or_else(|| "—".into())) }
                    td.mono { (definition.webhook_url) }
                    td { @if may_change {
                        form method="post" action="/console/analytics/alerts/delete" {
                            (session.csrf_field()) input type="hidden" name="rule_id" value=(rule.rule_id);
                            button.danger type="submit" { "Remove" }
                        }
                    } }
                }
            } }
        } }
        @if rules.is_empty() { p.muted { "No rules yet." } }
        @if may_change {
            form.card method="post" action=(PAGE) {
                (session.csrf_field())
                h2 { "Add a rule" }
                label { "Name " input name="name" required maxlength="100"; }
                label.inline { "When " select name="metric" { @for (metric, words) in METRICS { option value=(metric) { (words) } } } }
                label.inline { "of the gateway API " input name="operation_type" placeholder="(api metrics only)"; }
                label.inline { "goes above " input name="threshold" required inputmode="decimal" size="8"; }
                label.inline { "over " input name="window_minutes" value="5" size="4"; " minutes" }
                label { "Tell the webhook " input name="webhook_url" required type="url" size="60" placeholder="https://hooks.bank.example/midship"; }
                button type="submit" { "Add rule" }
            }
        }
        h2 { "History" }
        @if history.is_empty() { p.muted { "No rule has fired." } }
        @else { div.scroll { table {
            thead { tr { th { "At" } th { "Rule" } th { "State" } th { "Value" } th { "Webhook told" } th { "Detail" } } }
            tbody { @for event in &history { tr {
                td { (event.at) } td { (rule_name(&event.rule_id)) } td { (event.state) } td { (format!("{:.4}", event.value)) }
                td { (if event.delivered { "yes" } else { "no" }) " (" (event.attempts) " attempts)" }
                td { (event.detail.clone().unwrap_or_default()) }
            } } }
        } } }
    };
    layout::page(&session, "/console/analytics", "Alerts", body)
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    name: String,
    metric: String,
    #[serde(default)]
    operation_type: String,
    threshold: String,
    window_minutes: String,
    webhook_url: String,
}

pub async fn save(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<RuleForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let (Ok(threshold), Ok(window_minutes)) =
        (form.threshold.trim().parse::<f64>(), form.window_minutes.trim().parse::<u32>())
    else {
        return layout::error_page(
            axum::http::StatusCode::BAD_REQUEST,
            "the threshold is a number and the window whole minutes",
        );
    };
    let operation_type = Some(form.operation_type.trim().to_owned()).filter(|api| !api.is_empty());
    let definition = AlertRuleDefinition {
        name: form.name,
        metric: form.metric,
        operation_type,
        threshold,
        window_minutes,
        webhook_url: form.webhook_url.trim().to_owned(),
        enabled: true,
    };
    match state.analytics.put_alert(&session.principal, &workspace_id, None, definition).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    rule_id: String,
}

pub async fn delete(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<DeleteForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    match state.analytics.delete_alert(&session.principal, &workspace_id, &form.rule_id).await {
        Ok(()) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}
