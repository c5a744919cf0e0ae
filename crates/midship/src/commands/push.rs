//! `push` commands: sending, revoking, statistics, tasks, templates and channels.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{
    PushAudience, PushMessageBody, PushRequest, PushRevokeRequest, PushSchedule, PushStatsView, PushTarget,
    PushTaskView,
};
use serde_json::json;

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Up to 10 targets, one message.
    Simple {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// `device:UTDID:MSG_ID` or `user:USER_ID:MSG_ID`, repeated.
        #[arg(long = "to", required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        message: PushMessageArgs,
        #[command(flatten)]
        schedule: PushScheduleArgs,
    },
    /// A stored template with shared values, up to 10 targets.
    Template {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        template: String,
        #[arg(long = "to", required = true)]
        targets: Vec<String>,
        /// `name=value`, repeated.
        #[arg(long = "value")]
        values: Vec<String>,
        #[command(flatten)]
        schedule: PushScheduleArgs,
    },
    /// A template with values per target, up to 100 targets, from a JSON file:
    /// `[{"kind": "user", "id": "...", "msg_id": "...", "values": {...}}, ...]`.
    Multiple {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        template: String,
        #[arg(long = "targets-file")]
        targets_file: PathBuf,
        #[command(flatten)]
        schedule: PushScheduleArgs,
    },
    /// Every device of a platform: all, bound or unbound ones.
    Broadcast {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long = "id")]
        msg_id: String,
        #[arg(long)]
        platform: Option<String>,
        /// all, bound or unbound.
        #[arg(long, default_value = "all")]
        devices: String,
        /// Only devices bound within the last 7 or 15 days.
        #[arg(long)]
        bound_within_days: Option<u32>,
        #[command(flatten)]
        message: PushMessageArgs,
        #[command(flatten)]
        schedule: PushScheduleArgs,
    },
    /// Take back a task's messages, or one target's, within 7 days; or by msg id and target.
    Revoke {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(required_unless_present = "msg_id")]
        task_id: Option<String>,
        /// The business message id, with --device or --user, instead of a task id.
        #[arg(long = "msg-id", conflicts_with = "task_id")]
        msg_id: Option<String>,
        #[arg(long = "device", conflicts_with = "user")]
        device: Option<String>,
        #[arg(long = "user")]
        user: Option<String>,
    },
    /// Targets, sent, delivered, opened and ignored, by channel and platform.
    Stats {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// One task; otherwise the tasks of the last `--days` days.
        #[arg(long = "task")]
        task_id: Option<String>,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// The newest tasks.
    Tasks {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Stop a scheduled or repeating task.
    Cancel {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        task_id: String,
    },
    /// Bind a device to a user (as the backend), or unbind it.
    Bind {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        device_id: String,
        #[arg(long = "user", required_unless_present = "unbind")]
        user_id: Option<String>,
        #[arg(long, conflicts_with = "user_id")]
        unbind: bool,
    },
    /// Show the workspace's push settings, or change them.
    Settings {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// device (devices bind themselves) or backend (only the backend binds).
        #[arg(long)]
        device_binding: Option<String>,
    },
    /// Stored templates: set, list, delete.
    Templates {
        #[command(subcommand)]
        command: PushTemplateCommand,
    },
    /// Channel settings and credentials (APNs, FCM, vendors): set, list, delete.
    Channels {
        #[command(subcommand)]
        command: PushChannelCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct PushMessageArgs {
    #[arg(long, default_value = "")]
    pub title: String,
    #[arg(long, default_value = "")]
    pub content: String,
    #[arg(long)]
    pub uri: Option<String>,
    /// `key=value`, repeated.
    #[arg(long = "ext")]
    pub ext: Vec<String>,
    /// plain, big_text or image.
    #[arg(long)]
    pub style: Option<String>,
    #[arg(long)]
    pub image_url: Option<String>,
    #[arg(long)]
    pub silent: bool,
    #[arg(long)]
    pub expiry_seconds: Option<u32>,
    #[arg(long)]
    pub classification: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PushScheduleArgs {
    /// Send this many seconds from now instead of at once.
    #[arg(long)]
    pub in_seconds: Option<u64>,
    /// daily, weekly or monthly (with --in-seconds for the first time).
    #[arg(long, requires = "in_seconds")]
    pub repeat: Option<String>,
    /// Stop repeating after this many days.
    #[arg(long, requires = "repeat")]
    pub for_days: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum PushTemplateCommand {
    /// Create or replace a template; `${name}` placeholders take values at send time.
    Set {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        name: String,
        #[command(flatten)]
        message: PushMessageArgs,
    },
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    Delete {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PushChannelCommand {
    /// Set a channel from a JSON file (docs/push.md), checked before it is stored.
    Set {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        name: String,
        #[arg(long = "file")]
        file: PathBuf,
    },
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    Delete {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        name: String,
    },
}

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

/// `name=value` pairs.
fn pairs(option: &str, texts: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    texts
        .iter()
        .map(|text| {
            let (name, value) =
                text.split_once('=').with_context(|| format!("--{option} {text}: expected name=value"))?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `device:UTDID:MSG_ID` or `user:USER_ID:MSG_ID`.
fn targets(texts: &[String]) -> anyhow::Result<Vec<PushTarget>> {
    texts
        .iter()
        .map(|text| {
            let mut parts = text.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(kind @ ("device" | "user")), Some(id), Some(msg_id)) => Ok(PushTarget {
                    kind: kind.to_owned(),
                    id: id.to_owned(),
                    msg_id: msg_id.to_owned(),
                    values: BTreeMap::new(),
                }),
                _ => bail!("--to {text}: expected device:UTDID:MSG_ID or user:USER_ID:MSG_ID"),
            }
        })
        .collect()
}

fn message(args: PushMessageArgs) -> anyhow::Result<PushMessageBody> {
    Ok(PushMessageBody {
        title: args.title,
        content: args.content,
        uri: args.uri,
        ext: pairs("ext", &args.ext)?,
        style: args.style,
        image_url: args.image_url,
        silent: args.silent,
        expiry_seconds: args.expiry_seconds,
        classification: args.classification,
    })
}

fn schedule(args: PushScheduleArgs) -> Option<PushSchedule> {
    let at = now_ms().saturating_add((args.in_seconds? as i64).saturating_mul(1000));
    Some(PushSchedule { at, repeat: args.repeat, until: args.for_days.map(|days| at + i64::from(days) * DAY_MS) })
}

fn print_tasks(tasks: &[PushTaskView]) {
    let rows = tasks
        .iter()
        .map(|task| {
            vec![
                task.task_id.clone(),
                task.kind.clone(),
                task.status.clone(),
                task.targets.to_string(),
                task.runs.to_string(),
                task.created_at.clone(),
                output::optional(task.next_run_at.as_deref()),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["task", "kind", "status", "targets", "runs", "created", "next run"], &rows);
}

fn print_stats(stats: &PushStatsView) {
    let rows = stats
        .rows
        .iter()
        .chain(std::iter::once(&stats.total))
        .map(|row| {
            vec![
                row.channel.clone(),
                row.platform.clone(),
                row.targets.to_string(),
                row.sent.to_string(),
                row.failed.to_string(),
                row.delivered.to_string(),
                row.opened.to_string(),
                row.ignored.to_string(),
                row.revoked.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(
        &["channel", "platform", "targets", "sent", "failed", "delivered", "opened", "ignored", "revoked"],
        &rows,
    );
}

async fn send(
    client: &AdminClient,
    workspace_id: &str,
    kind: &str,
    request: PushRequest,
    json_output: bool,
) -> anyhow::Result<()> {
    let task = client.push_send(workspace_id, kind, &request).await?;
    if json_output {
        return output::json(&task);
    }
    print_tasks(&[task]);
    Ok(())
}

pub async fn push(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: PushCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        PushCommand::Simple { workspace_id, targets: to, message: args, schedule: when } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = PushRequest {
                targets: targets(&to)?,
                message: Some(message(args)?),
                schedule: schedule(when),
                ..PushRequest::default()
            };
            send(client, &workspace_id, "simple", request, json_output).await
        }
        PushCommand::Template { workspace_id, template, targets: to, values, schedule: when } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = PushRequest {
                targets: targets(&to)?,
                template: Some(template),
                values: pairs("value", &values)?,
                schedule: schedule(when),
                ..PushRequest::default()
            };
            send(client, &workspace_id, "template", request, json_output).await
        }
        PushCommand::Multiple { workspace_id, template, targets_file, schedule: when } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let text = std::fs::read_to_string(&targets_file)
                .with_context(|| format!("cannot read {}", targets_file.display()))?;
            let targets: Vec<PushTarget> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON array of targets", targets_file.display()))?;
            let request =
                PushRequest { targets, template: Some(template), schedule: schedule(when), ..PushRequest::default() };
            send(client, &workspace_id, "multiple", request, json_output).await
        }
        PushCommand::Broadcast {
            workspace_id,
            msg_id,
            platform,
            devices,
            bound_within_days,
            message: args,
            schedule: when,
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = PushRequest {
                message: Some(message(args)?),
                msg_id: Some(msg_id),
                audience: Some(PushAudience { platform, devices: Some(devices), bound_within_days }),
                schedule: schedule(when),
                ..PushRequest::default()
            };
            send(client, &workspace_id, "broadcast", request, json_output).await
        }
        PushCommand::Revoke { workspace_id, task_id, msg_id, device, user } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let (target_kind, target_id) = match (device, user) {
                (Some(device), _) => (Some("device".to_owned()), Some(device)),
                (None, Some(user)) => (Some("user".to_owned()), Some(user)),
                (None, None) => (None, None),
            };
            let request = PushRevokeRequest { task_id, msg_id, target_kind, target_id };
            let outcome = client.push_revoke(&workspace_id, &request).await?;
            if json_output {
                return output::json(&outcome);
            }
            println!("revoked {} ({} before delivery)", outcome.revoked, outcome.removed_undelivered);
            Ok(())
        }
        PushCommand::Stats { workspace_id, task_id, days } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let stats = match task_id {
                Some(task_id) => client.push_task_stats(&workspace_id, &task_id).await?,
                None => {
                    let until = now_ms();
                    client.push_range_stats(&workspace_id, until - i64::from(days) * DAY_MS, until + 1).await?
                }
            };
            if json_output {
                return output::json(&stats);
            }
            print_stats(&stats);
            Ok(())
        }
        PushCommand::Tasks { workspace_id, limit } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let tasks = client.push_tasks(&workspace_id, limit).await?;
            if json_output {
                return output::json(&tasks);
            }
            print_tasks(&tasks.items);
            Ok(())
        }
        PushCommand::Cancel { workspace_id, task_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let task = client.push_cancel(&workspace_id, &task_id).await?;
            if json_output {
                return output::json(&task);
            }
            print_tasks(&[task]);
            Ok(())
        }
        PushCommand::Bind { workspace_id, device_id, user_id, unbind } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let user_id = if unbind { None } else { user_id };
            client.push_bind(&workspace_id, &device_id, user_id.as_deref()).await?;
            if json_output {
                return output::json(&json!({ "device_id": device_id, "user_id": user_id }));
            }
            match user_id {
                Some(user_id) => println!("{device_id} bound to {user_id}"),
                None => println!("{device_id} unbound"),
            }
            Ok(())
        }
        PushCommand::Settings { workspace_id, device_binding } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let settings = match device_binding {
                Some(binding) => client.put_push_settings(&workspace_id, &json!({ "device_binding": binding })).await?,
                None => client.push_settings(&workspace_id).await?,
            };
            if json_output {
                return output::json(&settings);
            }
            println!("device binding: {}", settings["device_binding"].as_str().unwrap_or("?"));
            Ok(())
        }
        PushCommand::Templates { command } => template(client, resolve, command, json_output).await,
        PushCommand::Channels { command } => channel(client, resolve, command, json_output).await,
    }
}

async fn template(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: PushTemplateCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        PushTemplateCommand::Set { workspace_id, name, message: args } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let stored = client.put_push_template(&workspace_id, &name, &message(args)?).await?;
            if json_output {
                return output::json(&stored);
            }
            println!("template {} set", stored.name);
            Ok(())
        }
        PushTemplateCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let templates = client.push_templates(&workspace_id).await?;
            if json_output {
                return output::json(&templates);
            }
            let rows = templates
                .items
                .iter()
                .map(|template| {
                    vec![template.name.clone(), template.message.title.clone(), template.message.content.clone()]
                })
                .collect::<Vec<_>>();
            output::table(&["name", "title", "content"], &rows);
            Ok(())
        }
        PushTemplateCommand::Delete { workspace_id, name } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            client.delete_push_template(&workspace_id, &name).await?;
            if json_output {
                return output::json(&json!({ "deleted": name }));
            }
            println!("deleted {name}");
            Ok(())
        }
    }
}

async fn channel(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: PushChannelCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        PushChannelCommand::Set { workspace_id, name, file } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let definition: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let stored = client.put_push_channel(&workspace_id, &name, &definition).await?;
            if json_output {
                return output::json(&stored);
            }
            println!("channel {name} set ({})", stored["kind"].as_str().unwrap_or("?"));
            Ok(())
        }
        PushChannelCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let channels = client.push_channels(&workspace_id).await?;
            if json_output {
                return output::json(&channels);
            }
            let text = |value: &serde_json::Value| value.as_str().unwrap_or("-").to_owned();
            let rows = channels
                .items
                .iter()
                .map(|channel| vec![text(&channel["name"]), text(&channel["kind"]), text(&channel["endpoint"])])
                .collect::<Vec<_>>();
            output::table(&["name", "kind", "endpoint"], &rows);
            Ok(())
        }
        PushChannelCommand::Delete { workspace_id, name } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            client.delete_push_channel(&workspace_id, &name).await?;
            if json_output {
                return output::json(&json!({ "deleted": name }));
            }
            println!("deleted {name}");
            Ok(())
        }
    }
}
