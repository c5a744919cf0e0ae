//! Analytics page for the current workspace: active devices and launches per day (SVG), the
//! overview table, day-1 and day-7 retention, a funnel of chosen steps, the last hour per minute,
//! performance percentiles and crash, ANR and lag groups.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use midship_analytics::AnalyticsError;
use midship_api::Percentiles;
use midship_core::clock::format_rfc3339;
use serde::Deserialize;

use crate::AppState;
use crate::console::layout;
use crate::console::session::{ConsoleSession, failure};

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/analytics", get(page))
}

const PAGE: &str = "/console/analytics";

#[derive(Debug, Default, Deserialize)]
pub struct AnalyticsQuery {
    from: Option<String>,
    to: Option<String>,
    /// Comma-separated custom event names.
    steps: Option<String>,
    /// Limit the daily figures to one app version.
    version: Option<String>,
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "-".to_owned() } else { format!("{:.1}%", 100.0 * part as f64 / whole as f64) }
}

fn milliseconds(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value} ms"))
}

fn percentile_row(name: &str, figures: &Percentiles) -> Markup {
    html! {
        tr {
            td { (name) } td { (figures.count) }
            td { (milliseconds(figures.p50)) } td { (milliseconds(figures.p90)) }
            td { (milliseconds(figures.p95)) } td { (milliseconds(figures.p99)) }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(query): Query<AnalyticsQuery>,
) -> Response {
    let Some(workspace_id) = session.context.workspace_id().map(str::to_owned) else {
        let body = html! { h1 { "Analytics" } p.muted { "Create an app first, then pick it and a workspace above." } };
        return layout::page(&session, PAGE, "Analytics", body);
    };
    let analytics = &state.analytics;
    let who = &session.principal;
    let blank = |text: &Option<String>| text.as_deref().filter(|text| !text.is_empty()).map(str::to_owned);
    let (from, to) = (blank(&query.from), blank(&query.to));
    let version = blank(&query.version);
    let range = match analytics.range(from.as_deref(), to.as_deref()) {
        Ok(range) => range,
        Err(error) => return failure(error),
    };
    let steps: Vec<String> = blank(&query.steps)
        .unwrap_or_default()
        .split(',')
        .map(|step| step.trim().to_owned())
        .filter(|step| !step.is_empty())
        .collect();
    let reports = async {
        let overview = analytics.overview(who, &workspace_id, range, version.as_deref()).await?;
        let retention = analytics.retention(who, &workspace_id, range, "device", "day", &[1, 7]).await?;
        let realtime = analytics.realtime(who, &workspace_id).await?;
        let perf = analytics.perf(who, &workspace_id, range).await?;
        let events = analytics.events(who, &workspace_id, range, None).await?;
        let funnel = match steps.len() {
            0 => None,
            _ => Some(analytics.funnel(who, &workspace_id, range, &steps, 86_400).await?),
        };
        let mut groups = Vec::new();
        for kind in ["crash", "anr", "lag"] {
            groups.extend(analytics.failures(who, &workspace_id, kind).await?.groups);
        }
        Ok::<_, AnalyticsError>((overview, retention, realtime, perf, events, funnel, groups))
    };
    let (overview, retention, realtime, perf, events, funnel, groups) = match reports.await {
        Ok(reports) => reports,
        Err(error) => return failure(error),
    };
    let active: Vec<(String, i64)> =
        overview.days.iter().map(|day| (day.day.clone(), day.active_devices as i64)).collect();
    let launches: Vec<(String, i64)> = overview.days.iter().map(|day| (day.day.clone(), day.launches as i64)).collect();
    let minutes: Vec<(String, i64)> = realtime
        .minutes
        .iter()
        .map(|minute| (format_rfc3339(minute.minute)[11..16].to_owned(), minute.events as i64))
        .collect();
    let first_day = overview.days.first().map(|day| day.day.clone()).unwrap_or_default();
    let last_day = overview.days.last().map(|day| day.day.clone()).unwrap_or_default();
    let body = html! {
        h1 { "Analytics" }
        form.card method="get" action=(PAGE) {
            label { "From " input type="date" name="from" value=(first_day); }
            label { "To " input type="date" name="to" value=(last_day); }
            label { "App version " select name="version" {
                option value="" { "every version" }
                @for figures in &overview.versions {
                    option value=(figures.version) selected[version.as_deref() == Some(figures.version.as_str())] { (figures.version) }
                }
            } }
            label { "Funnel steps (custom events, in order) " input name="steps" size="50" placeholder="view_item, add_to_cart, checkout" value=(steps.join(", ")); }
            button type="submit" { "Show" }
        }
        h2 { "Active devices per day" @if let Some(version) = &version { " · version " (version) } }
        (layout::column_chart("active devices per day", &active))
        h2 { "Launches per day" @if let Some(version) = &version { " · version " (version) } }
        (layout::column_chart("launches per day", &launches))
        h2 { "Last hour: events per minute (" (realtime.active_devices) " active devices)" }
        (layout::column_chart("events per minute over the last hour", &minutes))
        @if let Some(funnel) = &funnel {
            h2 { "Funnel (steps within a day)" }
            @let stages: Vec<(&str, i64)> = funnel.steps.iter().map(|step| (step.name.as_str(), step.devices as i64)).collect();
            (layout::funnel_chart("devices per funnel step", &stages))
        }
        h2 { "Overview" }
        table {
            thead { tr { th { "Day" } th { "Launches" } th { "Active devices" } th { "Active users" } th { "New devices" } th { "Cumulative" } } }
            tbody {
                @for day in overview.days.iter().rev() {
                    tr {
                        td { (day.day) } td { (day.launches) } td { (day.active_devices) } td { (day.active_users) }
                        td { (day.new_devices) } td { (day.cumulative_devices) }
                    }
                }
            }
        }
        h2 { "Retention of new devices" }
        table {
            thead { tr { th { "Cohort" } th { "New devices" } th { "Day 1" } th { "Day 7" } } }
            tbody {
                @for cohort in retention.cohorts.iter().rev().filter(|cohort| cohort.size > 0) {
                    tr {
                        td { (cohort.start) } td { (cohort.size) }
                        @for retained in &cohort.retained {
                            @match retained.count {
                                Some(count) => td { (count) " (" (percent(count, cohort.size)) ")" },
                                None => td.muted title="this period has not begun" { "—" },
                            }
                        }
                    }
                }
            }
        }
        h2 { "App versions" }
        table {
            thead { tr { th { "Version" } th { "Launches" } th { "Active devices" } th { "Crashes" } th { "Crashes per launch" } } }
            tbody {
                @for version in &overview.versions {
                    tr {
                        td.mono { (version.version) } td { (version.launches) } td { (version.active_devices) }
                        td { (version.crashes) } td { (percent(version.crashes, version.launches)) }
                    }
                }
            }
        }
        h2 { "Custom events" }
        table {
            thead { tr { th { "Event" } th { "Count" } th { "Devices" } } }
            tbody { @for event in events.events.iter().take(50) { tr { td.mono { (event.name) } td { (event.count) } td { (event.devices) } } } }
        }
        h2 { "Performance" }
        table {
            thead { tr { th { "Measure" } th { "Count" } th { "p50" } th { "p90" } th { "p95" } th { "p99" } } }
            tbody {
                (percentile_row("startup", &perf.startup_ms))
                (percentile_row("page load", &perf.page_load_ms))
                @for host in &perf.network { (percentile_row(&format!("{} ({} errors)", host.host, host.errors), &host.duration_ms)) }
            }
        }
        h2 { "Crashes, ANRs and lags" }
        p { a href="/console/analytics/logs" { "Diagnosis logs: ask devices for their log files, search them →" } " · "
            a href="/console/analytics/alerts" { "Alert rules and their history →" } " · "
            a href="/console/analytics/symbols" { "Symbol files (ProGuard/R8) →" } }
        @if groups.is_empty() { p.muted { "None reported." } } @else {
            table {
                thead { tr { th { "Kind" } th { "Group" } th { "Count" } th { "Devices" } th { "Users" } th { "First seen" } th { "Last seen" } th { "Fingerprint" } } }
                tbody {
                    @for group in &groups {
                        tr {
                            td { (group.kind) } td { a href={ "/console/analytics/crashes/" (group.fingerprint) } { (group.title) } }
                            td { (group.count) } td { (group.devices) } td { (group.users) }
                            td { (format_rfc3339(group.first_seen)) } td { (format_rfc3339(group.last_seen)) } td.mono { (group.fingerprint) }
                        }
                    }
                }
            }
        }
    };
    layout::page(&session, PAGE, "Analytics", body)
}
