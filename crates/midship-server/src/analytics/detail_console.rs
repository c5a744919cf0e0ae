//! The analytics pages below the overview: one crash group (its stack, rates per app version,
//! the newest samples with their device context), diagnosis logs (ask a device or a user's
//! devices for their log file, read the files, search them) and symbol files (ProGuard/R8
//! mappings that retrace crashes).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_analytics::service::LogSearch;
use midship_api::LogRequest;
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};
use crate::console::upload;
use crate::error::ApiError;

const LOGS: &str = "/console/analytics/logs";
const SYMBOLS: &str = "/console/analytics/symbols";
/// A ProGuard/R8 mapping of a large app runs to tens of megabytes.
const MAX_MAPPING_BYTES: usize = 256 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/analytics/crashes/{fingerprint}", get(crash_group))
        .route(LOGS, get(logs))
        .route("/console/analytics/logs/request", post(request_logs))
        .route("/console/analytics/logs/files/{file_id}", get(log_file))
        .route(SYMBOLS, get(symbols))
        .route(
            "/console/analytics/symbols/upload",
            post(upload_symbols).layer(DefaultBodyLimit::max(MAX_MAPPING_BYTES)),
        )
}

fn no_workspace(session: &ConsoleSession, path: &str, title: &str) -> Response {
    let body = html! { h1 { (title) } p.muted { "Create an app first, then pick it and a workspace above." } };
    layout::page(session, path, title, body)
}

/// A sample's stack as a developer reads it: the exception, then one frame per line.
fn stack(sample: &Value) -> String {
    let text = |value: &Value, field: &str| value.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let exception = sample.get("exception").cloned().unwrap_or_default();
    let mut lines = vec![format!("{}: {}", text(&exception, "type"), text(&exception, "message"))];
    for frame in sample.get("frames").and_then(Value::as_array).into_iter().flatten() {
        let place = match (frame.get("file").and_then(Value::as_str), frame.get("line").and_then(Value::as_u64)) {
            (Some(file), Some(line)) => format!(" ({file}:{line})"),
            (Some(file), None) => format!(" ({file})"),
            _ => String::new(),
        };
        let module = frame.get("module").and_then(Value::as_str).map(|module| format!("{module}.")).unwrap_or_default();
        lines.push(format!("    at {module}{}{place}", text(frame, "function")));
    }
    lines.join("\n")
}

fn context_facts(sample: &Value) -> Markup {
    let mut facts: Vec<(String, String)> = Vec::new();
    for field in ["device_id", "user_id", "app_version"] {
        if let Some(value) = sample.get(field).and_then(Value::as_str) {
            facts.push((field.to_owned(), value.to_owned()));
        }
    }
    if let Some(time) = sample.get("time").and_then(Value::as_i64) {
        facts.push(("time".into(), format_rfc3339(time)));
    }
    if let Some(context) = sample.get("context").and_then(Value::as_object) {
        for (name, value) in context {
            let shown = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            facts.push((name.clone(), shown));
        }
    }
    html! { dl.facts { @for (name, value) in &facts { dt { (name) } dd { (value) } } } }
}

pub async fn crash_group(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(fingerprint): Path<String>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session, "/console/analytics", "Crash group");
    };
    let detail = match state.analytics.failure(&session.principal, &workspace_id, &fingerprint).await {
        Ok(detail) => detail,
        Err(error) => return failure(error),
    };
    let summary = &detail.summary;
    let body = html! {
        p { a href="/console/analytics" { "← Analytics" } }
        h1 { (summary.kind) ": " (summary.title) }
        dl.facts {
            dt { "Events" } dd { (summary.count) }
            dt { "Devices" } dd { (summary.devices) }
            dt { "Users" } dd { (summary.users) }
            dt { "First seen" } dd { (format_rfc3339(summary.first_seen)) }
            dt { "Last seen" } dd { (format_rfc3339(summary.last_seen)) }
            dt { "Fingerprint" } dd.mono { (summary.fingerprint) }
        }
        @if let Some(newest) = detail.samples.first() {
            h2 { "Stack (newest sample)" }
            pre.mono.scroll { (stack(newest)) }
        }
        h2 { "Per app version" }
        div.scroll { table {
            thead { tr { th { "Version" } th { "Events" } th { "Launches" } th { "Per launch" } } }
            tbody {
                @for version in &detail.versions {
                    tr {
                        td { (version.version) } td { (version.count) } td { (version.launches) }
                        td { (version.rate.map(|rate| format!("{:.2} %", rate * 100.0)).unwrap_or_else(|| "no launches".into())) }
                    }
                }
            }
        } }
        h2 { "Newest samples (" (detail.samples.len()) ")" }
        @for sample in &detail.samples {
            section.card {
                (context_facts(sample))
                details { summary { "Stack" } pre.mono.scroll { (stack(sample)) } }
                details { summary { "As stored" } pre.mono.scroll { (serde_json::to_string_pretty(sample).unwrap_or_default()) } }
            }
        }
    };
    layout::page(&session, "/console/analytics", "Crash group", body)
}

#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    q: Option<String>,
    device_id: Option<String>,
    requested: Option<String>,
}

pub async fn logs(State(state): State<AppState>, session: ConsoleSession, Query(query): Query<LogsQuery>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session, LOGS, "Diagnosis logs");
    };
    let who = &session.principal;
    let range = match state.analytics.range(None, None) {
        Ok(range) => range,
        Err(error) => return failure(error),
    };
    let files = match state.analytics.log_files(who, &workspace_id, range).await {
        Ok(files) => files,
        Err(error) => return failure(error),
    };
    let keyword = query.q.clone().unwrap_or_default();
    let device_id = query.device_id.clone().filter(|id| !id.trim().is_empty());
    let lines = if keyword.trim().is_empty() {
        None
    } else {
        let search = LogSearch { keyword: keyword.clone(), device_id: device_id.clone(), user_id: None, range };
        match state.analytics.search_logs(who, &workspace_id, &search).await {
            Ok(lines) => Some(lines),
            Err(error) => return failure(error),
        }
    };
    let body = html! {
        p { a href="/console/analytics" { "← Analytics" } }
        h1 { "Diagnosis logs" }
        @if let Some(requested) = &query.requested {
            p.notice role="status" { "Asked " (requested) " for its log file: online devices answer at once, the others when they connect within 3 days." }
        }
        @if who.role.allows(Action::Operate) {
            form.card method="post" action="/console/analytics/logs/request" {
                (session.csrf_field())
                h2 { "Ask for a log file" }
                label.inline { "Device (utdid) " input name="device_id" size="30"; }
                label.inline { "or every device of the user " input name="user_id" size="20"; }
                button type="submit" { "Ask" }
            }
        }
        form.card method="get" action=(LOGS) {
            h2 { "Search the last 30 days" }
            label.inline { "Keyword " input name="q" required value=(keyword); }
            label.inline { "Device " input name="device_id" value=(device_id.clone().unwrap_or_default()); }
            button type="submit" { "Search" }
        }
        @if let Some(lines) = &lines {
            h2 { (lines.len()) " matching lines" }
            div.scroll { table {
                thead { tr { th { "Device" } th { "File" } th { "Line" } th { "Text" } } }
                tbody { @for line in lines { tr {
                    td.mono { (line.device_id) }
                    td.mono { a href={ "/console/analytics/logs/files/" (line.file_id) } { (line.file_id) } }
                    td { (line.line_number) } td.mono { (line.line) }
                } } }
            } }
        }
        h2 { "Files" }
        @if files.is_empty() { p.muted { "No device sent a log file in the last 30 days." } }
        @else { div.scroll { table {
            thead { tr { th { "Uploaded" } th { "Device" } th { "User" } th { "Size" } th {} } }
            tbody { @for file in &files { tr {
                td { (file.uploaded_at) } td.mono { (file.device_id) }
                td { (file.user_id.clone().unwrap_or_default()) } td { (file.size) " bytes" }
                td { a href={ "/console/analytics/logs/files/" (file.file_id) } { "Read" } }
            } } }
        } } }
    };
    layout::page(&session, LOGS, "Diagnosis logs", body)
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    user_id: String,
}

pub async fn request_logs(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<RequestForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(LOGS).into_response();
    };
    let given = |text: String| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let request = LogRequest { device_id: given(form.device_id), user_id: given(form.user_id) };
    let asked = request.device_id.clone().or_else(|| request.user_id.clone().map(|user| format!("user {user}")));
    match state.analytics.request_logs(&session.principal, &workspace_id, request).await {
        Ok(_) => {
            let asked: String = url::form_urlencoded::byte_serialize(asked.unwrap_or_default().as_bytes()).collect();
            Redirect::to(&format!("{LOGS}?requested={asked}")).into_response()
        }
        Err(error) => failure(error),
    }
}

pub async fn log_file(State(state): State<AppState>, session: ConsoleSession, Path(file_id): Path<String>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session, LOGS, "Log file");
    };
    match state.analytics.log_file(&session.principal, &workspace_id, &file_id).await {
        Ok((file, text)) => {
            let body = html! {
                p { a href=(LOGS) { "← Diagnosis logs" } }
                h1 { "Log file of " (file.device_id) }
                p.muted { "Uploaded " (file.uploaded_at) ", " (file.size) " bytes." }
                pre.mono.scroll { (text) }
            };
            layout::page(&session, LOGS, "Log file", body)
        }
        Err(error) => failure(error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SymbolsNotice {
    uploaded: Option<String>,
}

pub async fn symbols(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(notice): Query<SymbolsNotice>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return no_workspace(&session, SYMBOLS, "Symbol files");
    };
    let files = match state.analytics.symbol_files(&session.principal, &workspace_id).await {
        Ok(files) => files,
        Err(error) => return failure(error),
    };
    let body = html! {
        p { a href="/console/analytics" { "← Analytics" } }
        h1 { "Symbol files" }
        @if let Some(version) = &notice.uploaded {
            p.notice role="status" { "The mapping of " (version) " is in place: crashes of that version, past and new, are retraced and grouped again." }
        }
        @if session.principal.role.allows(Action::Operate) {
            form.card.upload data-csrf=(session.csrf) data-url="/console/analytics/symbols/upload" {
                h2 { "Upload a ProGuard/R8 mapping" }
                label { "App version " input name="app_version" required maxlength="64" placeholder="3.2.0"; }
                (upload::file_field("Upload", "midship stats symbols --upload"))
            }
            (upload::script())
        }
        @if files.is_empty() { p.muted { "No symbol files yet." } }
        @else { div.scroll { table {
            thead { tr { th { "App version" } th { "Kind" } th { "Classes" } th { "Size" } th { "Uploaded" } } }
            tbody { @for file in &files { tr {
                td { (file.app_version) } td { (file.kind) } td { (file.classes) } td { (file.size) " bytes" } td { (file.uploaded_at) }
            } } }
        } } }
    };
    layout::page(&session, "/console/analytics", "Symbol files", body)
}

#[derive(Debug, Deserialize)]
pub struct SymbolFields {
    #[serde(default)]
    app_version: String,
}

pub async fn upload_symbols(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(fields): Query<SymbolFields>,
    body: axum::body::Bytes,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return upload::refused(ApiError::invalid("pick an app and a workspace first"));
    };
    let version = fields.app_version.trim();
    match state.analytics.upload_mapping(&session.principal, &workspace_id, version, body.to_vec()).await {
        Ok(view) => {
            let version: String = url::form_urlencoded::byte_serialize(view.app_version.as_bytes()).collect();
            upload::done(format!("{SYMBOLS}?uploaded={version}"))
        }
        Err(error) => upload::refused(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stack_reads_as_a_developer_expects() {
        let sample = json!({ "exception": { "type": "java.lang.IllegalStateException", "message": "closed" },
            "frames": [{ "function": "pay", "module": "com.bank.Checkout", "file": "Checkout.kt", "line": 42 },
                       { "function": "main" }] });
        assert_eq!(
            stack(&sample),
            "java.lang.IllegalStateException: closed\n    at com.bank.Checkout.pay (Checkout.kt:42)\n    at main"
        );
    }
}
