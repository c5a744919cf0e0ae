//! One gateway API's page: its definition and policies (authorizer, mock, cache, circuit breaker,
//! traffic migration, header rules, parameters, limits) edited as the JSON the admin API takes,
//! checked as the API checks it, kept as typed when refused.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use midship_api::CreateApiRequest;
use midship_core::access::Action;
use midship_gateway::{Api, NewApi};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::rest::{api_definition, api_view};
use crate::AppState;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/gateway/apis/{operation_type}", get(page).post(save))
}

/// The API as the body `PUT …/apis/{operation_type}` takes: its view without ids, status and
/// time, the policies beside the other fields, the group by name, nothing empty.
fn editable(api: Api, group_name: &str) -> String {
    let mut view = serde_json::to_value(api_view(api)).expect("views serialize");
    let fields = view.as_object_mut().expect("a view is an object");
    for read_only in ["api_id", "workspace_id", "group_id", "status", "updated_at"] {
        fields.remove(read_only);
    }
    if let Some(Value::Object(policies)) = fields.remove("policies") {
        fields.extend(policies);
    }
    fields.insert("group".into(), Value::String(group_name.to_owned()));
    let kept: Map<String, Value> =
        fields.iter().filter(|(_, value)| !value.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    serde_json::to_string_pretty(&kept).expect("values serialize")
}

async fn render(
    state: &AppState,
    session: &ConsoleSession,
    operation_type: &str,
    refused: Option<(&str, String)>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to("/console/gateway").into_response();
    };
    let api = match state.gateway.get_api(&session.principal, &workspace_id, operation_type).await {
        Ok(api) => api,
        Err(error) => return failure(error),
    };
    let groups = match state.gateway.list_groups(&session.principal, &workspace_id).await {
        Ok(groups) => groups,
        Err(error) => return failure(error),
    };
    let group_name = groups
        .iter()
        .find(|group| group.group_id == api.group_id)
        .map_or(api.group_id.clone(), |group| group.name.clone());
    let may_edit = session.principal.authorize(Action::ManageApps).is_ok();
    let text = match &refused {
        Some((typed, _)) => (*typed).to_owned(),
        None => editable(api, &group_name),
    };
    let body = html! {
        p { a href="/console/gateway" { "← Gateway" } }
        h1.mono { (operation_type) }
        form.card method="post" action={ "/console/gateway/apis/" (operation_type) } {
            (session.csrf_field())
            @if let Some((_, message)) = &refused { p.error role="alert" { (message) } }
            label { "Definition and policies (docs/protocol.md, \"API policies\")" br;
                textarea.mono name="definition" rows="28" cols="100" readonly[!may_edit]
                    aria-invalid=[refused.as_ref().map(|_| "true")] { (text) } }
            @if may_edit { button type="submit" { "Save" } }
        }
    };
    let mut response = layout::page(session, "/console/gateway", operation_type, body);
    if refused.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

pub async fn page(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(operation_type): Path<String>,
) -> Response {
    render(&state, &session, &operation_type, None).await
}

#[derive(Debug, Deserialize)]
pub struct DefinitionForm {
    definition: String,
}

pub async fn save(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(operation_type): Path<String>,
    Form(form): Form<DefinitionForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to("/console/gateway").into_response();
    };
    let refuse = |message: String| render(&state, &session, &operation_type, Some((&form.definition, message)));
    let request: CreateApiRequest = match serde_json::from_str(&form.definition) {
        Ok(request) => request,
        Err(error) => return refuse(format!("invalid definition: {error}")).await,
    };
    if request.operation_type != operation_type {
        return refuse("invalid operation_type: it names another API than this page's".into()).await;
    }
    let definition = match api_definition(&request) {
        Ok(definition) => definition,
        Err(error) => return refuse(error.message).await,
    };
    let update = NewApi { operation_type: request.operation_type, group: request.group, definition };
    match state.gateway.update_api(&session.principal, &workspace_id, update).await {
        Ok(_) => Redirect::to("/console/gateway").into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            if error.status == StatusCode::BAD_REQUEST || error.status == StatusCode::NOT_FOUND {
                refuse(error.message).await
            } else {
                layout::error_page(error.status, &error.message)
            }
        }
    }
}
