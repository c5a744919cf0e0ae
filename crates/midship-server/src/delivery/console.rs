//! Delivery page for the current workspace: packages with their diffs, release tasks with how
//! far devices got (the newest release as an SVG funnel), releasing a package, and pausing,
//! resuming, ending and rolling back releases. Uploads go through the API and CLI.

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_delivery::{DeliveryError, ReleaseAction, ReleaseDefinition, Stage};
use midship_storage::{PackageKind, ReleaseStatus};
use midship_targeting::rules::Whitelist;
use serde::Deserialize;

use crate::AppState;
use crate::approvals;
use crate::console::layout;
use crate::console::session::ConsoleSession;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/delivery", get(page))
        .route("/console/delivery/release", post(release))
        .route("/console/delivery/change", post(change))
}

const PAGE: &str = "/console/delivery";
const STEPS: [&str; 5] = ["checked", "offered", "downloaded", "installed", "failed"];

fn failure(error: DeliveryError) -> Response {
    let api_error = ApiError::from(error);
    layout::error_page(api_error.status, &api_error.message)
}

fn kilobytes(bytes: i64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

pub async fn page(State(state): State<AppState>, session: ConsoleSession) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Delivery" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, PAGE, "Delivery", body);
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
    let body = html! {
        h1 { "Delivery" }
        @if let Some(newest) = releases.first() {
            h2 { "Newest release: " (newest.package.kind.as_str()) " " (newest.package.app_id) " " (newest.package.version) }
            @let steps: Vec<(&str, i64)> = STEPS.iter().map(|step| (*step, newest.stats.get(*step).copied().unwrap_or(0))).collect();
            (layout::funnel_chart("devices per step of the newest release", &steps))
        }
        h2 { "Releases" }
        table {
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
        }
        h2 { "Packages" }
        table {
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
        }
        @if may_operate && !packages.is_empty() {
            form.card method="post" action="/console/delivery/release" {
                (session.csrf_field())
                h2 { "Release a package" }
                label { "Package " select name="package_id" {
                    @for summary in packages.iter().rev() {
                        option value=(summary.package.package_id) {
                            (summary.package.kind.as_str()) " " (summary.package.app_id) " " (summary.package.version)
                        }
                    }
                } }
                label { " Stage " select name="stage" { option value="whitelist" { "whitelist" } option value="official" { "official" } } }
                label { " Whitelist user ids " input name="users" size="40" placeholder="alice, bob"; }
                label { " Upgrade mode " select name="mode" {
                    option value="" { "(not an upgrade)" } option value="remind_once" { "remind once" }
                    option value="remind_always" { "remind every time" } option value="force" { "force" }
                } }
                button type="submit" { "Release" }
            }
        }
        p.muted {
            "Devices check with " code { "midship.delivery.check" } " and report with " code { "midship.delivery.report" }
            "; upload packages and set time windows, caps and rules with the API or " code { "midship package" } " / "
            code { "midship release" } " (docs/delivery.md)."
        }
    };
    layout::page(&session, PAGE, "Delivery", body)
}

#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    package_id: String,
    stage: String,
    #[serde(default)]
    users: String,
    #[serde(default)]
    mode: String,
}

pub async fn release(
    State(state): State<AppState>,
    session: ConsoleSession,
    Form(form): Form<ReleaseForm>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        return Redirect::to(PAGE).into_response();
    };
    let stage = match form.stage.as_str() {
        "whitelist" => Stage::Whitelist {
            whitelist: Whitelist {
                user_ids: form.users.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect(),
                ..Whitelist::default()
            },
        },
        _ => Stage::Official,
    };
    let mode = match form.mode.as_str() {
        "" => None,
        mode => match serde_json::from_value(serde_json::Value::String(mode.to_owned())) {
            Ok(mode) => Some(mode),
            Err(_) => return layout::error_page(axum::http::StatusCode::BAD_REQUEST, "unknown upgrade mode"),
        },
    };
    let definition =
        ReleaseDefinition { stage, rules: Default::default(), mode, remind_interval_hours: None, note: String::new() };
    approvals::console::after_gated(
        approvals::create_release(&state, &session.principal, &workspace_id, &form.package_id, definition).await,
        PAGE,
    )
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
