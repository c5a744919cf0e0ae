//! Data sync pages for the current workspace: bizType configurations, sending a message, and a
//! stream's status.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_core::access::Action;
use midship_gateway::NewConnectToken;
use midship_sync::{Delivery, Repush, Scope, SendRequest, SyncConfig, TargetKindName};
use serde::Deserialize;

use crate::AppState;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/sync", get(page))
        .route("/console/sync/configs", post(set))
        .route("/console/sync/delete", post(delete))
        .route("/console/sync/send", post(send))
        .route("/console/sync/token", post(issue_token))
}

const PAGE: &str = "/console/sync";

fn no_workspace(session: &ConsoleSession) -> Response {
    let body = html! { h1 { "Data sync" } p.muted { "Create an app first, then pick it and a workspace above." } };
    layout::page(session, PAGE, "Data sync", body)
}

/// `?biz_type=&link_token=&device_id=`: show that stream's status.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    biz_type: String,
    #[serde(default)]
    link_token: String,
    #[serde(default)]
    device_id: String,
}

fn describe_repush(repush: Repush) -> String {
    match repush {
        Repush::All => "all".to_owned(),
        Repush::Newest(count) => format!("newest {count}"),
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(query): Query<StatusQuery>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    let configs = match state.sync.list_configs(&session.principal, &workspace_id).await {
        Ok(configs) => configs,
        Err(error) => return failure(error),
    };
    let status = if query.biz_type.is_empty() {
        None
    } else {
        let device_id = Some(query.device_id.trim()).filter(|device_id| !device_id.is_empty());
        let status = state
            .sync
            .status(&session.principal, &workspace_id, &query.biz_type, query.link_token.trim(), device_id)
            .await;
        match status {
            Ok(status) => Some(status),
            Err(error) => return failure(error),
        }
    };
    let may_configure = session.principal.role.allows(Action::ManageApps);
    let may_send = session.principal.role.allows(Action::Operate);
    let body = html! {
        h1 { "Data sync" }
        p.muted { (state.sync.hub().connection_count()) " devices connected to this node." }
        table {
            thead { tr {
                th { "bizType" } th { "Scope" } th { "Target" } th { "Delivery" } th { "Persistent" }
                th { "Retention" } th { "Re-push" } th { "Verified users only" } th {}
            } }
            tbody {
                @for config in configs.iter() {
                    tr {
                        td.mono { (config.biz_type) }
                        td { @if config.scope == Scope::Global { "global" } @else { "targeted" } }
                        td { @if config.target == TargetKindName::Device { "device" } @else { "user" } }
                        td { @if config.delivery == Delivery::LatestDevice { "latest device" } @else { "all devices" } }
                        td { @if config.persistent { "yes" } @else { "no" } }
                        td { (config.retention_days) " days" }
                        td { (describe_repush(config.repush)) }
                        td { @if config.verified_users_only { "yes" } @else { "no" } }
                        td {
                            @if may_configure {
                                form method="post" action="/console/sync/delete" {
                                    (session.csrf_field())
                                    input type="hidden" name="biz_type" value=(config.biz_type);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_configure {
            form.card method="post" action="/console/sync/configs" {
                (session.csrf_field())
                h2 { "Set a bizType" }
                label { "bizType " input name="biz_type" required pattern="[A-Za-z][A-Za-z0-9_\\-]{0,63}"; }
                label { "Scope " select name="scope" { option value="targeted" { "targeted" } option value="global" { "global" } } }
                label { "Target " select name="target" { option value="user" { "user" } option value="device" { "device" } } }
                label { "Delivery " select name="delivery" {
                    option value="all_devices" { "all devices" } option value="latest_device" { "latest device" }
                } }
                label { "Persistent " select name="persistent" { option value="true" { "yes" } option value="false" { "no" } } }
                label { "Retention days " input name="retention_days" type="number" min="1" max="365" value="30"; }
                label { "Re-push newest (empty: all) " input name="repush_newest" type="number" min="1" max="10000"; }
                label { "Verified users only " input name="verified_users_only" type="checkbox" value="true"; }
                button type="submit" { "Save" }
            }
        }
        @if may_send && !configs.is_empty() {
            form.card method="post" action="/console/sync/send" {
                (session.csrf_field())
                h2 { "Send a message" }
                label { "bizType " select name="biz_type" { @for config in configs.iter() { option value=(config.biz_type) { (config.biz_type) } } } }
                label { "To (userId or utdid; empty for global) " input name="link_token"; }
                label { "Message id " input name="third_msg_id" required; }
                label { "Payload (at most 4096 characters) " br; textarea name="payload" rows="4" cols="90" maxlength="4096" {} }
                button type="submit" { "Send" }
            }
        }
        @if session.principal.role.allows(Action::Integrate) {
            form.card method="post" action="/console/sync/token" {
                (session.csrf_field())
                h2 { "A connection token" }
                p.muted { "What an app's backend hands its app after its own sign-in: the long connection then speaks for this user "
                    "(bizTypes for verified users only reach such connections). Shown once." }
                label.inline { "User id " input name="user_id" required; }
                label.inline { "Device (utdid, optional) " input name="device_id"; }
                label.inline { "Valid for (seconds) " input name="ttl_seconds" type="number" min="60" max="86400" value=(super::rest::DEFAULT_TOKEN_TTL_SECONDS); }
                button type="submit" { "Issue" }
            }
        }
        form.card method="get" action=(PAGE) {
            h2 { "Stream status" }
            label { "bizType " input name="biz_type" value=(query.biz_type) required; }
            label { "To " input name="link_token" value=(query.link_token); }
            label { "Device " input name="device_id" value=(query.device_id); }
            button type="submit" { "Show" }
        }
        @if let Some(status) = &status {
            table {
                thead { tr { th { "Last sequence" } th { "Acknowledged by the device" } th { "Online" } } }
                tbody { tr {
                    td { (status.last_seq) }
                    td { (status.acked_seq.map_or_else(|| "-".to_owned(), |seq| seq.to_string())) }
                    td { @if status.online { "yes" } @else { "no" } }
                } }
            }
        }
        p.muted { "Devices connect to " code { "/ws" } " (docs/protocol.md); backends send with " code { "POST /api/v1/workspaces/" (workspace_id) "/sync/send" } "." }
    };
    layout::page(&session, PAGE, "Data sync", body)
}

#[derive(Debug, Deserialize)]
pub struct ConfigForm {
    biz_type: String,
    scope: String,
    target: String,
    delivery: String,
    persistent: String,
    retention_days: u32,
    #[serde(default)]
    repush_newest: String,
    #[serde(default)]
    verified_users_only: Option<String>,
}

pub async fn set(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<ConfigForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    let repush = match form.repush_newest.trim() {
        "" => Repush::All,
        count => match count.parse() {
            Ok(count) => Repush::Newest(count),
            Err(_) => return layout::error_page(StatusCode::BAD_REQUEST, "re-push newest must be a number"),
        },
    };
    let choice = |value: &str, yes: &str| value == yes;
    let config = SyncConfig {
        biz_type: form.biz_type.trim().to_owned(),
        scope: if choice(&form.scope, "global") { Scope::Global } else { Scope::Targeted },
        target: if choice(&form.target, "device") { TargetKindName::Device } else { TargetKindName::User },
        delivery: if choice(&form.delivery, "latest_device") { Delivery::LatestDevice } else { Delivery::AllDevices },
        persistent: !choice(&form.persistent, "false"),
        retention_days: form.retention_days,
        repush,
        verified_users_only: form.verified_users_only.is_some(),
    };
    match state.sync.put_config(&session.principal, &workspace_id, config).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    biz_type: String,
}

pub async fn delete(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<DeleteForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    match state.sync.delete_config(&session.principal, &workspace_id, &form.biz_type).await {
        Ok(()) => Redirect::to(PAGE).into_response(),
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    biz_type: String,
    #[serde(default)]
    link_token: String,
    third_msg_id: String,
    #[serde(default)]
    payload: String,
}

pub async fn send(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<SendForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session);
    };
    let request = SendRequest {
        biz_type: form.biz_type.clone(),
        link_token: form.link_token.trim().to_owned(),
        third_msg_id: form.third_msg_id.trim().to_owned(),
        payload: form.payload,
        ..SendRequest::default()
    };
    let link_token = request.link_token.clone();
    match state.sync.send(&session.principal, &workspace_id, request).await {
        Ok(_) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("biz_type", &form.biz_type)
                .append_pair("link_token", &link_token)
                .finish();
            Redirect::to(&format!("{PAGE}?{query}")).into_response()
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    user_id: String,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    ttl_seconds: String,
}

/// Issues a connection token and shows it once.
pub async fn issue_token(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let ttl_seconds = match form.ttl_seconds.trim() {
        "" => super::rest::DEFAULT_TOKEN_TTL_SECONDS,
        text => match text.parse() {
            Ok(seconds) => seconds,
            Err(_) => return layout::error_page(StatusCode::BAD_REQUEST, "the lifetime is whole seconds"),
        },
    };
    let device_id = Some(form.device_id.trim().to_owned()).filter(|device| !device.is_empty());
    let request = NewConnectToken { user_id: Some(form.user_id.trim().to_owned()), device_id, ttl_seconds };
    match state.gateway.issue_connect_token(&session.principal, &workspace_id, request).await {
        Ok(issued) => {
            let body = html! {
                h1 { "Connection token for " (form.user_id.trim()) }
                (layout::secret_notice("Connection token", &issued.token))
                p { "Valid until " (midship_core::clock::format_rfc3339(issued.expires_at)) ". " a href=(PAGE) { "Back to data sync" } }
            };
            layout::page(&session, PAGE, "Connection token", body)
        }
        Err(error) => {
            let error = ApiError::from(error);
            layout::error_page(error.status, &error.message)
        }
    }
}
