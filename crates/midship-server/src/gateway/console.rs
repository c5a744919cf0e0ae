//! Gateway pages for the current workspace: backend groups and APIs, open and close.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use midship_api::CreateApiRequest;
use midship_core::access::Action;
use midship_gateway::{ApiStatus, NewApi, NewApiGroup, ProxySignature};
use serde::Deserialize;

use super::rest::api_definition;
use crate::AppState;
use crate::console::layout;
use crate::console::layout::secret_notice;
use crate::console::session::{ConsoleSession, failure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/gateway", get(page))
        .route("/console/gateway/groups", post(create_group))
        .route("/console/gateway/apis", post(create_api))
        .route("/console/gateway/status", post(set_status))
}

fn redirect() -> Response {
    axum::response::Redirect::to("/console/gateway").into_response()
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Gateway" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, "/console/gateway", "Gateway", body);
    };
    let groups = match state.gateway.list_groups(&session.principal, &workspace_id).await {
        Ok(groups) => groups,
        Err(error) => return failure(error),
    };
    let apis = match state.gateway.list_apis(&session.principal, &workspace_id).await {
        Ok(apis) => apis,
        Err(error) => return failure(error),
    };
    let stats = match state.gateway.api_stats(&session.principal, &workspace_id).await {
        Ok(stats) => stats,
        Err(error) => return failure(error),
    };
    let may_build = session.principal.authorize(Action::ManageApps).is_ok();
    let may_operate = session.principal.role.allows(Action::Operate);
    let group_name = |group_id: &str| {
        groups.iter().find(|group| group.group_id == group_id).map(|group| group.name.clone()).unwrap_or_default()
    };
    let body = html! {
        h1 { "Gateway" }
        p.muted { "Clients call " code { "POST /mgw" } " with " code { "Operation-Type" } ", " code { "AppId" } " and " code { "WorkspaceId " (workspace_id) } " (docs/protocol.md)." }
        h2 { "APIs" }
        table {
            thead { tr { th { "Operation type" } th { "Group" } th { "Method" } th { "Path" } th { "Signed" } th { "Limit/s" } th { "Status" } th {} } }
            tbody {
                @for api in &apis {
                    tr {
                        td.mono { a href={ "/console/gateway/apis/" (api.operation_type) } { (api.operation_type) } }
                        td { (group_name(&api.group_id)) }
                        td { (api.definition.method.as_str()) }
                        td.mono { (api.definition.path) }
                        td { @if api.definition.need_sign { "yes" } @else { "no" } }
                        td { (api.definition.rate_limit_per_second.map_or_else(|| "-".to_owned(), |limit| limit.to_string())) }
                        td { @if api.definition.status == ApiStatus::Open { "open" } @else { "closed" } }
                        td {
                            @if may_operate {
                                form method="post" action="/console/gateway/status" {
                                    (session.csrf_field())
                                    input type="hidden" name="operation_type" value=(api.operation_type);
                                    @if api.definition.status == ApiStatus::Open {
                                        input type="hidden" name="open" value="false";
                                        button.danger type="submit" { "Close" }
                                    } @else {
                                        input type="hidden" name="open" value="true";
                                        button type="submit" { "Open" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Calls since this node started" }
        @if stats.is_empty() { p.muted { "No calls yet." } }
        @else { div.scroll { table {
            thead { tr { th { "Operation type" } th { "Calls" } th { "By result code" } th { "p50 ms" } th { "p95 ms" } th { "p99 ms" } } }
            tbody { @for api in &stats { tr {
                td.mono { (api.operation_type) } td { (api.calls) }
                td { @for (code, calls) in &api.by_result { (code) ": " (calls) " " } }
                td { (format!("{:.1}", api.p50_ms)) } td { (format!("{:.1}", api.p95_ms)) } td { (format!("{:.1}", api.p99_ms)) }
            } } }
        } } }
        h2 { "Backend groups" }
        table {
            thead { tr { th { "Name" } th { "Group id" } th { "Base URL" } th { "Timeout ms" } } }
            tbody {
                @for group in &groups {
                    tr { td { (group.name) } td.mono { (group.group_id) } td.mono { (group.definition.base_url) } td { (group.definition.timeout_ms) } }
                }
            }
        }
        @if may_build {
            form.card method="post" action="/console/gateway/groups" {
                (session.csrf_field())
                h2 { "Add a backend group" }
                label { "Name " input name="name" required pattern="[a-z][a-z0-9_-]{0,31}"; }
                label { "Base URL " input name="base_url" required size="50" placeholder="http://accounts.internal:8080"; }
                label { "Timeout ms " input name="timeout_ms" type="number" min="1" max="60000" value="3000"; }
                button type="submit" { "Add group" }
            }
            @if !groups.is_empty() {
                form.card method="post" action="/console/gateway/apis" {
                    (session.csrf_field())
                    h2 { "Register an API" }
                    label { "Operation type " input name="operation_type" required size="40" placeholder="com.bank.account.balance"; }
                    label { "Group " select name="group" { @for group in &groups { option value=(group.group_id) { (group.name) } } } }
                    label { "Method " select name="method" { @for method in ["POST", "GET", "PUT", "PATCH", "DELETE"] { option { (method) } } } }
                    label { "Path " input name="path" required size="40" placeholder="/accounts/{accountId}/balance"; }
                    label { "Rate limit per second (empty for none) " input name="rate_limit" type="number" min="1"; }
                    label { input type="checkbox" name="no_sign" value="true"; " accept unsigned calls" }
                    button type="submit" { "Register API" }
                }
            }
        }
    };
    layout::page(&session, "/console/gateway", "Gateway", body)
}

#[derive(Debug, Deserialize)]
pub struct GroupForm {
    name: String,
    base_url: String,
    #[serde(default)]
    timeout_ms: String,
}

pub async fn create_group(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<GroupForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else { return redirect() };
    let timeout_ms = match form.timeout_ms.trim() {
        "" => None,
        text => match text.parse() {
            Ok(timeout) => Some(timeout),
            Err(_) => {
                return layout::error_page(StatusCode::BAD_REQUEST, "timeout must be a whole number of milliseconds");
            }
        },
    };
    let request = NewApiGroup {
        name: form.name.trim().to_owned(),
        base_url: form.base_url.trim().to_owned(),
        timeout_ms,
        proxy_signature: ProxySignature::Hmac,
        rsa_private_key: None,
    };
    match state.gateway.create_group(&session.principal, &workspace_id, request).await {
        Ok(group) => {
            let body = html! {
                h1 { "Group " (group.name) " added" }
                (secret_notice("Proxy-signature secret (the backend verifies X-Midship-Proxy-Signature with it)", &group.definition.proxy_secret))
                p { a href="/console/gateway" { "Back to the gateway" } }
            };
            (StatusCode::CREATED, layout::page(&session, "/console/gateway", "Group added", body)).into_response()
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ApiForm {
    operation_type: String,
    group: String,
    method: String,
    path: String,
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    no_sign: Option<String>,
}

pub async fn create_api(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<ApiForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else { return redirect() };
    let rate_limit_per_second = match form.rate_limit.trim() {
        "" => None,
        text => match text.parse() {
            Ok(limit) => Some(limit),
            Err(_) => return layout::error_page(StatusCode::BAD_REQUEST, "rate limit must be a whole number"),
        },
    };
    let request = CreateApiRequest {
        operation_type: form.operation_type.trim().to_owned(),
        group: form.group,
        method: form.method,
        path: form.path.trim().to_owned(),
        timeout_ms: None,
        content_type: None,
        charset: None,
        need_sign: Some(form.no_sign.is_none()),
        need_encrypt: None,
        rate_limit_per_second,
        description: None,
        ..CreateApiRequest::default()
    };
    let definition = match api_definition(&request) {
        Ok(definition) => definition,
        Err(error) => return failure(error),
    };
    let new_api = NewApi { operation_type: request.operation_type, group: request.group, definition };
    match state.gateway.create_api(&session.principal, &workspace_id, new_api).await {
        Ok(_) => redirect(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    operation_type: String,
    open: bool,
}

pub async fn set_status(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<StatusForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else { return redirect() };
    let status = if form.open { ApiStatus::Open } else { ApiStatus::Closed };
    match state.gateway.set_api_status(&session.principal, &workspace_id, &form.operation_type, status).await {
        Ok(_) => redirect(),
        Err(error) => failure(error),
    }
}
