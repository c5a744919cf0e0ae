//! `midship stats …`: analytics reports as tables (or JSON with `--json`), and the upload policy.

use anyhow::Context;
use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_admin_client::{LogSearchParams, ReportParams};
use midship_api::AnalyticsPolicy;
use serde::Serialize;

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

/// The workspace and days (UTC, `YYYY-MM-DD`) a report covers.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportRange {
    #[command(flatten)]
    pub workspace_id: WorkspaceArg,
    /// First day; default 29 days before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day; default today.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Ask one device (--device) or every device of one user (--user) to upload its log file.
    Request {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long = "device", conflicts_with = "user_id", required_unless_present = "user_id")]
        device_id: Option<String>,
        #[arg(long = "user")]
        user_id: Option<String>,
    },
    /// Files uploaded in the range, newest first.
    List {
        #[command(flatten)]
        range: ReportRange,
    },
    /// Lines containing a keyword (ignoring case).
    Search {
        #[command(flatten)]
        range: ReportRange,
        keyword: String,
        #[arg(long = "device")]
        device_id: Option<String>,
        #[arg(long = "user")]
        user_id: Option<String>,
    },
    /// Print one file.
    Get {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        file_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Launches, active devices and users, new and cumulative devices per day.
    Overview {
        #[command(flatten)]
        range: ReportRange,
        /// Only this app version.
        #[arg(long)]
        version: Option<String>,
    },
    /// Events, launches and active devices per minute over the last hour.
    Realtime {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// Of the devices (or users) new in each period, how many are active N periods later.
    Retention {
        #[command(flatten)]
        range: ReportRange,
        #[arg(long, default_value = "device", value_parser = ["device", "user"])]
        subject: String,
        #[arg(long, default_value = "day", value_parser = ["day", "week", "month"])]
        period: String,
        /// Comma-separated offsets in periods.
        #[arg(long, default_value = "1,7")]
        offsets: String,
    },
    /// Custom events with counts and devices; with --name and --attribute, that attribute's values.
    Events {
        #[command(flatten)]
        range: ReportRange,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        attribute: Option<String>,
    },
    /// Devices reaching each step of an ordered funnel of custom events.
    Funnel {
        #[command(flatten)]
        range: ReportRange,
        /// Comma-separated event names, in order.
        #[arg(long)]
        steps: String,
        /// The last step within this many seconds of the first.
        #[arg(long = "window-seconds", default_value_t = 86_400)]
        window_seconds: u64,
    },
    /// Page views, visitors and average time on page.
    Pages {
        #[command(flatten)]
        range: ReportRange,
    },
    /// The most frequent steps from one page to the next.
    Paths {
        #[command(flatten)]
        range: ReportRange,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Startup, page load and network percentiles.
    Perf {
        #[command(flatten)]
        range: ReportRange,
    },
    /// Crash, ANR or lag groups, the most frequent first.
    Crashes {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long, default_value = "crash", value_parser = ["crash", "anr", "lag"])]
        kind: String,
    },
    /// One crash group: per-version rates and the newest events.
    Crash {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        fingerprint: String,
    },
    /// Write the events stored since the last export as Parquet now (installation admins).
    Export,
    /// Diagnosis: ask a device (or a user's devices) for its log file, list, search and fetch files.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// List the symbol files, or upload a ProGuard/R8 mapping for an app version.
    Symbols {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// The mapping file (mapping.txt) to upload.
        #[arg(long, requires = "app_version")]
        upload: Option<std::path::PathBuf>,
        #[arg(long = "app-version")]
        app_version: Option<String>,
    },
    /// Show the upload policy, or replace it with a JSON file (`--set FILE`).
    Policy {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long)]
        set: Option<std::path::PathBuf>,
    },
}

fn params(range: &ReportRange) -> ReportParams {
    ReportParams { from: range.from.clone(), to: range.to.clone(), ..ReportParams::default() }
}

/// Prints `report` as JSON, or as the table `rows` makes of it.
fn show<T: Serialize>(
    report: &T,
    json: bool,
    headers: &[&str],
    rows: impl FnOnce(&T) -> Vec<Vec<String>>,
) -> anyhow::Result<()> {
    if json {
        return output::json(report);
    }
    output::table(headers, &rows(report));
    Ok(())
}

fn or_dash(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

pub async fn stats(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: StatsCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        StatsCommand::Overview { range, version } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let report = client
                .analytics_overview(&range.workspace_id.workspace, &ReportParams { version, ..params(&range) })
                .await?;
            show(&report, json, &["day", "launches", "active devices", "active users", "new", "cumulative"], |report| {
                report
                    .days
                    .iter()
                    .map(|day| {
                        vec![
                            day.day.clone(),
                            day.launches.to_string(),
                            day.active_devices.to_string(),
                            day.active_users.to_string(),
                            day.new_devices.to_string(),
                            day.cumulative_devices.to_string(),
                        ]
                    })
                    .collect()
            })
        }
        StatsCommand::Realtime { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let report = client.analytics_realtime(&workspace_id).await?;
            show(&report, json, &["minute", "events", "launches", "active devices"], |report| {
                report
                    .minutes
                    .iter()
                    .filter(|minute| minute.events > 0)
                    .map(|minute| {
                        vec![
                            midship_core::clock::format_rfc3339(minute.minute),
                            minute.events.to_string(),
                            minute.launches.to_string(),
                            minute.active_devices.to_string(),
                        ]
                    })
                    .collect()
            })
        }
        StatsCommand::Retention { range, subject, period, offsets } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let request =
                ReportParams { subject: Some(subject), period: Some(period), offsets: Some(offsets), ..params(&range) };
            let report = client.analytics_retention(&range.workspace_id.workspace, &request).await?;
            let mut headers = vec!["cohort".to_owned(), "size".to_owned()];
            if let Some(cohort) = report.cohorts.first() {
                headers.extend(cohort.retained.iter().map(|retained| format!("+{}", retained.offset)));
            }
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            show(&report, json, &headers, |report| {
                report
                    .cohorts
                    .iter()
                    .map(|cohort| {
                        let mut row = vec![cohort.start.clone(), cohort.size.to_string()];
                        row.extend(cohort.retained.iter().map(|retained| match retained.count {
                            // The period has not begun: no figure yet, rather than a false 0 %.
                            None => "—".to_owned(),
                            Some(count) => {
                                let percent =
                                    if cohort.size == 0 { 0.0 } else { 100.0 * count as f64 / cohort.size as f64 };
                                format!("{count} ({percent:.1}%)")
                            }
                        }));
                        row
                    })
                    .collect()
            })
        }
        StatsCommand::Events { range, name, attribute } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let report = client
                .analytics_events(&range.workspace_id.workspace, &ReportParams { name, attribute, ..params(&range) })
                .await?;
            if !json && !report.breakdown.is_empty() {
                output::table(
                    &["value", "count"],
                    &report
                        .breakdown
                        .iter()
                        .map(|value| vec![value.value.clone(), value.count.to_string()])
                        .collect::<Vec<_>>(),
                );
                return Ok(());
            }
            show(&report, json, &["event", "count", "devices"], |report| {
                report
                    .events
                    .iter()
                    .map(|event| vec![event.name.clone(), event.count.to_string(), event.devices.to_string()])
                    .collect()
            })
        }
        StatsCommand::Funnel { range, steps, window_seconds } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let request = ReportParams { steps: Some(steps), window_seconds: Some(window_seconds), ..params(&range) };
            let report = client.analytics_funnel(&range.workspace_id.workspace, &request).await?;
            show(&report, json, &["step", "devices", "of first"], |report| {
                let first = report.steps.first().map_or(0, |step| step.devices);
                report
                    .steps
                    .iter()
                    .map(|step| {
                        let percent = if first == 0 { 0.0 } else { 100.0 * step.devices as f64 / first as f64 };
                        vec![step.name.clone(), step.devices.to_string(), format!("{percent:.1}%")]
                    })
                    .collect()
            })
        }
        StatsCommand::Pages { range } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let report = client.analytics_pages(&range.workspace_id.workspace, &params(&range)).await?;
            show(&report, json, &["page", "views", "visitors", "average ms"], |report| {
                report
                    .pages
                    .iter()
                    .map(|page| {
                        vec![
                            page.page.clone(),
                            page.views.to_string(),
                            page.visitors.to_string(),
                            or_dash(page.average_duration_ms),
                        ]
                    })
                    .collect()
            })
        }
        StatsCommand::Paths { range, limit } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let report = client
                .analytics_paths(&range.workspace_id.workspace, &ReportParams { limit: Some(limit), ..params(&range) })
                .await?;
            show(&report, json, &["from", "to", "count"], |report| {
                report
                    .paths
                    .iter()
                    .map(|path| vec![path.from.clone(), path.to.clone(), path.count.to_string()])
                    .collect()
            })
        }
        StatsCommand::Perf { range } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let report = client.analytics_perf(&range.workspace_id.workspace, &params(&range)).await?;
            show(&report, json, &["measure", "count", "p50", "p90", "p95", "p99"], |report| {
                let row = |name: String, figures: &midship_api::Percentiles| {
                    vec![
                        name,
                        figures.count.to_string(),
                        or_dash(figures.p50),
                        or_dash(figures.p90),
                        or_dash(figures.p95),
                        or_dash(figures.p99),
                    ]
                };
                let mut rows = vec![
                    row("startup ms".into(), &report.startup_ms),
                    row("page load ms".into(), &report.page_load_ms),
                ];
                rows.extend(report.network.iter().map(|host| row(format!("{} ms", host.host), &host.duration_ms)));
                rows
            })
        }
        StatsCommand::Crashes { workspace_id, kind } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let report = client
                .analytics_crashes(&workspace_id, &ReportParams { kind: Some(kind), ..ReportParams::default() })
                .await?;
            show(&report, json, &["fingerprint", "count", "devices", "users", "last seen", "title"], |report| {
                report
                    .groups
                    .iter()
                    .map(|group| {
                        vec![
                            group.fingerprint.clone(),
                            group.count.to_string(),
                            group.devices.to_string(),
                            group.users.to_string(),
                            midship_core::clock::format_rfc3339(group.last_seen),
                            group.title.clone(),
                        ]
                    })
                    .collect()
            })
        }
        StatsCommand::Crash { workspace_id, fingerprint } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let detail = client.analytics_crash(&workspace_id, &fingerprint).await?;
            if json {
                return output::json(&detail);
            }
            println!(
                "{} ({}): {} events, {} devices, {} users",
                detail.summary.title,
                detail.summary.kind,
                detail.summary.count,
                detail.summary.devices,
                detail.summary.users
            );
            output::table(
                &["version", "count", "launches", "per launch"],
                &detail
                    .versions
                    .iter()
                    .map(|version| {
                        vec![
                            version.version.clone(),
                            version.count.to_string(),
                            version.launches.to_string(),
                            version.rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.4}")),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
            println!("{}", serde_json::to_string_pretty(&detail.samples.first())?);
            Ok(())
        }
        StatsCommand::Export => {
            let spinner = crate::output::spinner("writing Parquet files");
            let export = client.analytics_export().await;
            spinner.finish_and_clear();
            let export = export?;
            if json {
                return output::json(&export);
            }
            println!(
                "{} events of {} batches in {} files under {}",
                export.events, export.batches, export.files, export.directory
            );
            Ok(())
        }
        StatsCommand::Symbols { workspace_id, upload, app_version } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            if let (Some(path), Some(app_version)) = (upload, app_version) {
                let mapping = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let uploaded = client.upload_mapping(&workspace_id, &app_version, mapping).await?;
                if json {
                    return output::json(&uploaded);
                }
                println!("{} mapping for {}: {} classes", uploaded.kind, uploaded.app_version, uploaded.classes);
                return Ok(());
            }
            let files = client.symbol_files(&workspace_id).await?;
            show(&files, json, &["app version", "kind", "classes", "bytes", "uploaded"], |files| {
                files
                    .iter()
                    .map(|file| {
                        vec![
                            file.app_version.clone(),
                            file.kind.clone(),
                            file.classes.to_string(),
                            file.size.to_string(),
                            file.uploaded_at.clone(),
                        ]
                    })
                    .collect()
            })
        }
        StatsCommand::Logs { command } => logs(client, resolve, command, json).await,
        StatsCommand::Policy { workspace_id, set } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let policy = match set {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    let policy: AnalyticsPolicy =
                        serde_json::from_str(&text).with_context(|| format!("{} is not a policy", path.display()))?;
                    client.set_analytics_policy(&workspace_id, &policy).await?
                }
                None => client.analytics_policy(&workspace_id).await?,
            };
            output::json(&policy)
        }
    }
}

async fn logs(client: &AdminClient, resolve: &Resolver<'_>, command: LogsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        LogsCommand::Request { workspace_id, device_id, user_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = client.request_logs(&workspace_id, &midship_api::LogRequest { device_id, user_id }).await?;
            if json {
                return output::json(&request);
            }
            println!("asked for logs: request {}", request.request_id);
            Ok(())
        }
        LogsCommand::List { range } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let files = client.log_files(&range.workspace_id.workspace, &params(&range)).await?;
            show(&files, json, &["file", "device", "user", "name", "bytes", "uploaded"], |files| {
                files
                    .iter()
                    .map(|file| {
                        vec![
                            file.file_id.clone(),
                            file.device_id.clone(),
                            output::optional(file.user_id.as_deref()),
                            file.file_name.clone(),
                            file.size.to_string(),
                            file.uploaded_at.clone(),
                        ]
                    })
                    .collect()
            })
        }
        LogsCommand::Search { range, keyword, device_id, user_id } => {
            let range = ReportRange {
                workspace_id: WorkspaceArg::named(resolve.workspace(&range.workspace_id).await?),
                ..range
            };
            let search =
                LogSearchParams { q: keyword, device_id, user_id, from: range.from.clone(), to: range.to.clone() };
            let lines = client.search_logs(&range.workspace_id.workspace, &search).await?;
            show(&lines, json, &["file", "device", "line", "text"], |lines| {
                lines
                    .iter()
                    .map(|line| {
                        vec![
                            line.file_id.clone(),
                            line.device_id.clone(),
                            line.line_number.to_string(),
                            line.line.clone(),
                        ]
                    })
                    .collect()
            })
        }
        LogsCommand::Get { workspace_id, file_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            print!("{}", client.download_log(&workspace_id, &file_id).await?);
            Ok(())
        }
    }
}
