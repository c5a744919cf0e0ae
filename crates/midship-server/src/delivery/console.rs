//! Delivery page for the current workspace: packages with their diffs, release tasks with how
//! far devices got (the newest release as an SVG funnel), releasing a package, and pausing,
//! resuming, ending and rolling back releases. Uploads go through the API and CLI.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Form, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_delivery::{ReleaseAction, ReleaseDefinition, Stage, UploadRequest};
use midship_storage::{PackageKind, ReleaseStatus};
use midship_targeting::rules::Whitelist;
use serde::Deserialize;

use crate::AppState;
use crate::approvals;
use crate::console::layout;
use crate::console::rule_editor::{self, EditorParts, RuleFields};
use crate::console::session::{ConsoleSession, failure};
use crate::console::upload;
use crate::error::ApiError;
use crate::extract::refuse_announced_over;

/// `max_package_bytes`: the upload's body limit, as the admin API's.
pub fn routes(max_package_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/console/delivery", get(page))
        .route(
            "/console/delivery/upload",
            post(upload)
                .layer(DefaultBodyLimit::max(max_package_bytes))
                .layer(from_fn_with_state(max_package_bytes, refuse_announced_over)),
        )
        .route("/console/delivery/release", post(release))
        .route("/console/delivery/change", post(change))
}

const PAGE: &str = "/console/delivery";
/// A release's whitelist and share of devices are its stage; its rules name the rest.
const RELEASE_RULE: EditorParts = EditorParts { whitelist: false, percentage: false };

fn upload_form(session: &ConsoleSession) -> Markup {
    html! {
        form.card.upload #upload data-csrf=(session.csrf) data-url="/console/delivery/upload" {
            h2 { "Upload a package" }
            label.inline { "Kind " select name="kind" {
                option value="h5" { "H5 offline package (zip)" } option value="mini_program" { "mini program (zip)" }
                option value="hotpatch" { "hotpatch" } option value="upgrade" { "app upgrade (apk, ipa, hap)" }
            } }
            label.inline { "Platform " select name="platform" {
                option value="" { "(zips: none)" } option value="android" { "android" } option value="ios" { "ios" }
                option value="harmony" { "harmony" }
            } }
            label.inline { "Version " input name="version" size="10" placeholder="zips: from the manifest"; }
            label.inline { "Patches app version " input name="app_version" size="10" placeholder="hotpatches"; }
            label { "Notes " input name="notes" size="60"; }
            (upload::file_field("Upload", "midship package upload"))
        }
        (upload::script())
    }
}
const STEPS: [&str; 5] = ["checked", "offered", "downloaded", "installed", "failed"];

fn kilobytes(bytes: i64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    uploaded: Option<String>,
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession, Query(notice): Query<Notice>) -> Response {
    render(&state, &session, &notice, None).await
}

/// A release form refused: what was typed, the field at fault and why.
struct RefusedRelease<'a> {
    form: &'a ReleaseForm,
    field: &'static str,
    message: String,
}

async fn render(
    state: &AppState,
    session: &ConsoleSession,
    notice: &Notice,
    refused: Option<RefusedRelease<'_>>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Delivery" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(session, PAGE, "Delivery", body);
    };
    let packages = match state.delivery.packages(&session.principal, &workspace_id).await {
        Ok(packages) => packages,
        Err(error) => return failure(error),
    };
    let releases = match state.delivery.releases(&session.principal, &workspace_id).await {
        Ok(releases) => releases,
        Err(error) => return failure(error),
    };
    let may_operate = session.principal.role.allows(Action::Operate);
    let typed = refused.as_ref().map(|refused| refused.form);
    let invalid = |field: &str| refused.as_ref().is_some_and(|refused| refused.field == field).then_some("true");
    let uploaded =
        notice.uploaded.as_ref().and_then(|id| packages.iter().find(|summary| &summary.package.package_id == id));
    let body = html! {
        h1 { "Delivery" }
        @if let Some(summary) = uploaded {
            p.notice role="status" { "Uploaded " (summary.package.kind.as_str()) " " (summary.package.app_id) " "
                (summary.package.version) ", signed and diffed against " (summary.patches.len()) " earlier versions." }
        }
        @if may_operate { (upload_form(session)) }
        @if let Some(newest) = releases.first() {
            h2 { "Newest release: " (newest.package.kind.as_str()) " " (newest.package.app_id) " " (newest.package.version) }
            @let steps: Vec<(&str, i64)> = STEPS.iter().map(|step| (*step, newest.stats.get(*step).copied().unwrap_or(0))).collect();
            (layout::funnel_chart("devices per step of the newest release", &steps))
        }
        h2 { "Releases" }
        div.scroll { table {
            thead { tr {
                th { "Release" } th { "Package" } th { "Stage" } th { "Status" } th { "Updated" }
                @for step in STEPS { th { (step) } }
                th {}
            } }
            tbody {
                @for summary in &releases {
                    @let release = &summary.release;
                    tr {
                        td.mono { (release.release_id) }
                        td { (summary.package.kind.as_str()) " " (summary.package.app_id) " " (summary.package.version) }
                        td { (summary.definition.stage.name()) }
                        td { (release.status.as_str()) }
                        td { (format_rfc3339(release.updated_at)) }
                        @for step in STEPS { td { (summary.stats.get(step).copied().unwrap_or(0)) } }
                        td {
                            @if may_operate {
                                @for (action, allowed) in [
                                    (ReleaseAction::Pause, release.status == ReleaseStatus::Active),
                                    (ReleaseAction::Resume, release.status == ReleaseStatus::Paused),
                                    (ReleaseAction::End, !release.status.is_final()),
                                    (ReleaseAction::Rollback, summary.package.kind == PackageKind::Hotpatch && release.status != ReleaseStatus::RolledBack),
                                ] {
                                    @if allowed {
                                        form method="post" action="/console/delivery/change" {
                                            (session.csrf_field())
                                            input type="hidden" name="release_id" value=(release.release_id);
                                            input type="hidden" name="action" value=(action.as_str());
                                            button.danger[action == ReleaseAction::Rollback] type="submit" { (action.as_str()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } }
        h2 { "Packages" }
        div.scroll { table {
            thead { tr { th { "Package" } th { "Kind" } th { "App id / platform" } th { "Version" } th { "Size" } th { "Diffs from" } th { "Uploaded" } } }
            tbody {
                @for summary in &packages {
                    @let package = &summary.package;
                    tr {
                        td.mono { (package.package_id) }
                        td { (package.kind.as_str()) }
                        td { (package.app_id) }
                        td { (package.version) }
                        td { (kilobytes(package.size)) }
                        td {
                            @for (from_version, patch) in &summary.patches {
                                (from_version) ": " (kilobytes(patch.size)) " (" (format!("{:.1}", patch.size as f64 * 100.0 / package.size.max(1) as f64)) " %) "
                            }
                        }
                        td { (format_rfc3339(package.created_at)) }
                    }
                }
            }
        } }
        @if may_operate && !packages.is_empty() {
            form.card #release method="post" action="/console/delivery/release" {
                (session.csrf_field())
                h2 { "Release a package" }
                @if let Some(refused) = &refused { p.error role="alert" { (refused.message) } }
                label { "Package " select name="package_id" {
                    @for summary in packages.iter().rev() {
                        option value=(summary.package.package_id) selected[typed.is_some_and(|form| form.package_id == summary.package.package_id)] {
                            (summary.package.kind.as_str()) " " (summary.package.app_id) " " (summary.package.version)
                        }
                    }
                } }
                label { " Stage " select name="stage" aria-invalid=[invalid("stage")] {
                    @for (stage, words) in [("whitelist", "whitelist"), ("time_window", "time window"), ("capped", "first devices (cap)"), ("official", "official")] {
                        option value=(stage) selected[typed.is_some_and(|form| form.stage == stage)] { (words) }
                    }
                } }
                label { " Whitelist user ids " input name="users" size="40" placeholder="alice, bob"
                    value=[typed.map(|form| form.users.as_str())] aria-invalid=[invalid("users")]; }
                label.inline { " Time window (UTC) from " input type="datetime-local" name="window_start"
                    value=[typed.map(|form| form.window_start.as_str())] aria-invalid=[invalid("window_start")]; }
                label.inline { " until " input type="datetime-local" name="window_end"
                    value=[typed.map(|form| form.window_end.as_str())] aria-invalid=[invalid("window_end")]; }
                label { " Cap: the first " input name="max_devices" size="8" inputmode="numeric"
                    value=[typed.map(|form| form.max_devices.as_str())] aria-invalid=[invalid("max_devices")]; " devices that check" }
                label { " Upgrade mode " select name="mode" aria-invalid=[invalid("mode")] {
                    option value="" { "(not an upgrade)" }
                    @for (mode, words) in [("remind_once", "remind once"), ("remind_always", "remind every time"), ("force", "force")] {
                        option value=(mode) selected[typed.is_some_and(|form| form.mode == mode)] { (words) }
                    }
                } }
                (rule_editor::editor(typed.map(|form| &form.rule), refused.as_ref().map(|refused| refused.field), RELEASE_RULE))
                button type="submit" { "Release" }
            }
        }
        p.muted {
            "Devices check with " code { "midship.delivery.check" } " and report with " code { "midship.delivery.report" }
            "; time windows, caps and rules beyond a whitelist are set with the API or " code { "midship release" }
            " (docs/delivery.md)."
        }
    };
    let status = if refused.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut response = layout::page(session, PAGE, "Delivery", body);
    *response.status_mut() = status;
    response
}

/// The upload's fields, in the query: the body is the file.
#[derive(Debug, Deserialize)]
pub struct UploadFields {
    kind: String,
    platform: Option<String>,
    version: Option<String>,
    app_version: Option<String>,
    notes: Option<String>,
}

/// Answers as `console::upload`'s script reads it.
pub async fn upload(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(fields): Query<UploadFields>,
    body: Bytes,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return upload::refused(ApiError::invalid("pick an app and a workspace first"));
    };
    let request = UploadRequest {
        kind: fields.kind,
        platform: fields.platform,
        version: fields.version,
        app_id: None,
        build: None,
        notes: fields.notes,
        app_version: fields.app_version,
        store_url: None,
    };
    match state.delivery.upload(&session.principal, &workspace_id, request, body).await {
        Ok(summary) => upload::done(format!("{PAGE}?uploaded={}", summary.package.package_id)),
        Err(error) => upload::refused(error.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    package_id: String,
    stage: String,
    #[serde(default)]
    users: String,
    #[serde(default)]
    mode: String,
    /// Time window stage: UTC, as `datetime-local` sends it.
    #[serde(default)]
    window_start: String,
    #[serde(default)]
    window_end: String,
    /// Capped stage.
    #[serde(default)]
    max_devices: String,
    #[serde(flatten)]
    rule: RuleFields,
}

pub async fn release(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<ReleaseForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let refuse = |field: &'static str, message: String| RefusedRelease { form: &form, field, message };
    let stage = match stage_of(&form) {
        Ok(stage) => stage,
        Err((field, message)) => {
            return render(&state, &session, &Notice::default(), Some(refuse(field, message))).await;
        }
    };
    let mode = match form.mode.as_str() {
        "" => None,
        mode => match serde_json::from_value(serde_json::Value::String(mode.to_owned())) {
            Ok(mode) => Some(mode),
            Err(_) => {
                let refused = refuse("mode", "unknown upgrade mode".into());
                return render(&state, &session, &Notice::default(), Some(refused)).await;
            }
        },
    };
    let rules = match form.rule.to_rule(RELEASE_RULE) {
        Ok(rules) => rules,
        Err(error) => {
            return render(&state, &session, &Notice::default(), Some(refuse(error.field, error.message))).await;
        }
    };
    let definition = ReleaseDefinition { stage, rules, mode, remind_interval_hours: None, note: String::new() };
    match approvals::create_release(&state, &session.principal, &workspace_id, &form.package_id, definition).await {
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            // The message names the part at fault ("invalid stage…", "invalid mode…").
            let field = if error.message.contains("mode") { "mode" } else { "users" };
            render(&state, &session, &Notice::default(), Some(refuse(field, error.message))).await
        }
        outcome => approvals::console::after_gated(outcome, PAGE),
    }
}

/// The release's stage from the form, or the field at fault and why.
fn stage_of(form: &ReleaseForm) -> Result<Stage, (&'static str, String)> {
    let time = |field: &'static str, text: &str| {
        midship_core::clock::parse_utc_minute(text)
            .ok_or((field, format!("`{text}` is not a UTC time such as 2026-12-04T09:30")))
    };
    match form.stage.as_str() {
        "whitelist" => Ok(Stage::Whitelist {
            whitelist: Whitelist {
                user_ids: form.users.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect(),
                ..Whitelist::default()
            },
        }),
        "time_window" => {
            let start_at = match form.window_start.trim() {
                "" => None,
                text => Some(time("window_start", text)?),
            };
            Ok(Stage::TimeWindow { start_at, end_at: time("window_end", form.window_end.trim())? })
        }
        "capped" => match form.max_devices.trim().parse::<u64>() {
            Ok(max_devices) if max_devices > 0 => Ok(Stage::Capped { max_devices }),
            _ => Err(("max_devices", "a cap is a whole number of devices from 1".to_owned())),
        },
        "official" => Ok(Stage::Official),
        other => Err(("stage", format!("unknown stage `{other}`"))),
    }
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    release_id: String,
    action: String,
}

pub async fn change(State(state): State<AppState>, session: ConsoleSession, Form(form): Form<ChangeForm>) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let Some(action) = ReleaseAction::parse(&form.action) else {
        return layout::error_page(axum::http::StatusCode::BAD_REQUEST, "unknown release action");
    };
    approvals::console::after_gated(
        approvals::change_release(&state, &session.principal, &workspace_id, &form.release_id, action).await,
        PAGE,
    )
}
