//! `package` and `release` commands: delivery packages and their release tasks.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{PackageView, ReleaseView};
use serde_json::{Value, json};

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Upload a package file; H5 and mini program zips carry manifest.json at their root.
    Upload {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// upgrade, h5, mini_program or hotpatch.
        #[arg(long)]
        kind: String,
        /// The file; leave out for an upgrade given by --store-url.
        file: Option<PathBuf>,
        /// Upgrades and hotpatches: android, ios or harmony.
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        build: Option<i64>,
        #[arg(long)]
        notes: Option<String>,
        /// Hotpatches: the app version they patch.
        #[arg(long = "app-version")]
        app_version: Option<String>,
        #[arg(long = "store-url")]
        store_url: Option<String>,
    },
    /// Packages of a workspace with their diffs.
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// The public key that signs new uploads (apps ship it to verify manifests); `list`, `rotate`
    /// and `retire` manage the key's generations.
    #[command(args_conflicts_with_subcommands = true)]
    Key {
        /// The workspace (an id, NAME or APP/NAME) [default: the current context's].
        #[arg(long = "workspace")]
        workspace_id: Option<String>,
        #[command(subcommand)]
        action: Option<KeyAction>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Every generation of the key, oldest first.
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// A new generation signs uploads; older ones keep signing offers until retired.
    Rotate {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// Stop giving devices a generation's signatures (once no app ships only its public key).
    Retire {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        generation: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Release a package at a stage: whitelist, time-window, capped or official.
    Create {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long = "package")]
        package_id: String,
        #[arg(long, value_parser = ["whitelist", "time-window", "capped", "official"])]
        stage: String,
        /// Whitelist: user ids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        /// Whitelist: device ids (utdids), comma-separated.
        #[arg(long, value_delimiter = ',')]
        devices: Vec<String>,
        /// Whitelist: regular expressions on user and device ids.
        #[arg(long = "pattern")]
        patterns: Vec<String>,
        /// Time window: hours from now until it ends (at most 168).
        #[arg(long)]
        hours: Option<u32>,
        /// Capped: how many devices.
        #[arg(long = "max-devices")]
        max_devices: Option<u64>,
        /// Upgrades: remind_once, remind_always or force.
        #[arg(long)]
        mode: Option<String>,
        #[arg(long = "remind-hours")]
        remind_hours: Option<u32>,
        /// Rules as JSON: {"cities": {"include": [...]}, "os_version": {"in_range": {"min": "10"}}, ...}.
        #[arg(long)]
        rules: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Releases of a workspace, newest first, with devices per step.
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// One release with its definition and statistics.
    Show {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        release_id: String,
    },
    Pause {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        release_id: String,
    },
    Resume {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        release_id: String,
    },
    End {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        release_id: String,
    },
    /// Hotpatches: devices remove the patch at their next check.
    Rollback {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        release_id: String,
    },
}

fn print_packages(packages: &[PackageView]) {
    let rows = packages
        .iter()
        .map(|package| {
            let patches = package
                .patches
                .iter()
                .map(|patch| format!("{}: {} B ({:.1} %)", patch.from_version, patch.size, patch.ratio * 100.0))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                package.package_id.clone(),
                package.kind.clone(),
                package.app_id.clone(),
                package.version.clone(),
                package.size.to_string(),
                if patches.is_empty() { "-".into() } else { patches },
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["package", "kind", "app id", "version", "bytes", "diffs from"], &rows);
}

fn print_releases(releases: &[ReleaseView]) {
    let rows = releases
        .iter()
        .map(|release| {
            let stats = |name: &str| release.stats.get(name).copied().unwrap_or(0).to_string();
            vec![
                release.release_id.clone(),
                format!("{} {} {}", release.kind, release.app_id, release.version),
                release.definition["stage"]["kind"].as_str().unwrap_or("-").to_owned(),
                release.status.clone(),
                stats("checked"),
                stats("offered"),
                stats("downloaded"),
                stats("installed"),
                stats("failed"),
            ]
        })
        .collect::<Vec<_>>();
    output::table(
        &["release", "package", "stage", "status", "checked", "offered", "downloaded", "installed", "failed"],
        &rows,
    );
}

pub async fn package(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: PackageCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        PackageCommand::Upload {
            workspace_id,
            kind,
            file,
            platform,
            version,
            build,
            notes,
            app_version,
            store_url,
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let body = match &file {
                Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
                None => Vec::new(),
            };
            let build = build.map(|build| build.to_string());
            let mut query: Vec<(&str, &str)> = vec![("kind", kind.as_str())];
            for (name, value) in [
                ("platform", &platform),
                ("version", &version),
                ("build", &build),
                ("notes", &notes),
                ("app_version", &app_version),
                ("store_url", &store_url),
            ] {
                if let Some(value) = value {
                    query.push((name, value.as_str()));
                }
            }
            let bar = crate::output::transfer_bar(body.len() as u64, "uploading");
            let shown = bar.clone();
            let package = client
                .upload_package_reporting(&workspace_id, &query, body, move |sent| shown.set_position(sent))
                .await;
            bar.finish_and_clear();
            let package = package?;
            if json {
                output::json(&package)
            } else {
                print_packages(std::slice::from_ref(&package));
                Ok(())
            }
        }
        PackageCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let packages = client.list_packages(&workspace_id).await?;
            if json {
                output::json(&packages)
            } else {
                print_packages(&packages.items);
                Ok(())
            }
        }
        PackageCommand::Key { workspace_id, action: None } => {
            let workspace_id = resolve.workspace(&WorkspaceArg::named(workspace_id.unwrap_or_default())).await?;
            let key = client.delivery_signing_key(&workspace_id).await?;
            if json {
                output::json(&key)
            } else {
                println!("{} {}", key.algorithm, key.public_key);
                Ok(())
            }
        }
        PackageCommand::Key { action: Some(action), .. } => {
            let keys = match action {
                KeyAction::List { workspace_id } => {
                    client.list_signing_keys(&resolve.workspace(&workspace_id).await?).await?
                }
                KeyAction::Rotate { workspace_id } => {
                    client.rotate_signing_key(&resolve.workspace(&workspace_id).await?).await?
                }
                KeyAction::Retire { workspace_id, generation } => {
                    client.retire_signing_key(&resolve.workspace(&workspace_id).await?, generation).await?
                }
            };
            if json {
                return output::json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .items
                .iter()
                .map(|key| {
                    let state = match (&key.retired_at, key.signs_uploads) {
                        (Some(retired_at), _) => format!("retired {retired_at}"),
                        (None, true) => "signs uploads and offers".to_owned(),
                        (None, false) => "signs offers".to_owned(),
                    };
                    vec![key.generation.to_string(), key.public_key.clone(), key.created_at.clone(), state]
                })
                .collect();
            output::table(&["generation", "public key", "created", "state"], &rows);
            Ok(())
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

pub async fn release(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: ReleaseCommand,
    json: bool,
) -> anyhow::Result<()> {
    let (workspace_id, release_id, action) = match command {
        ReleaseCommand::Create {
            workspace_id,
            package_id,
            stage,
            users,
            devices,
            patterns,
            hours,
            max_devices,
            mode,
            remind_hours,
            rules,
            note,
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let stage = match stage.as_str() {
                "whitelist" => {
                    json!({ "kind": "whitelist", "whitelist": { "user_ids": users, "device_ids": devices, "patterns": patterns } })
                }
                "time-window" => {
                    let hours = hours.context("--stage time-window needs --hours")?;
                    json!({ "kind": "time_window", "end_at": now_ms() + i64::from(hours) * 3_600_000 })
                }
                "capped" => {
                    json!({ "kind": "capped", "max_devices": max_devices.context("--stage capped needs --max-devices")? })
                }
                "official" => json!({ "kind": "official" }),
                other => bail!("unknown stage {other}"),
            };
            let mut definition = json!({ "package_id": package_id, "stage": stage, "note": note });
            if let Some(rules) = rules {
                definition["rules"] = serde_json::from_str::<Value>(&rules).context("--rules is not JSON")?;
            }
            if let Some(mode) = mode {
                definition["mode"] = json!(mode);
            }
            if let Some(hours) = remind_hours {
                definition["remind_interval_hours"] = json!(hours);
            }
            let release = client.create_release(&workspace_id, &definition).await?;
            return if json {
                output::json(&release)
            } else {
                print_releases(std::slice::from_ref(&release));
                Ok(())
            };
        }
        ReleaseCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let releases = client.list_releases(&workspace_id).await?;
            return if json {
                output::json(&releases)
            } else {
                print_releases(&releases.items);
                Ok(())
            };
        }
        ReleaseCommand::Show { workspace_id, release_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let release = client.show_release(&workspace_id, &release_id).await?;
            return if json {
                output::json(&release)
            } else {
                print_releases(std::slice::from_ref(&release));
                println!("{}", serde_json::to_string_pretty(&release.definition)?);
                Ok(())
            };
        }
        ReleaseCommand::Pause { workspace_id, release_id } => (workspace_id, release_id, "pause"),
        ReleaseCommand::Resume { workspace_id, release_id } => (workspace_id, release_id, "resume"),
        ReleaseCommand::End { workspace_id, release_id } => (workspace_id, release_id, "end"),
        ReleaseCommand::Rollback { workspace_id, release_id } => (workspace_id, release_id, "rollback"),
    };
    let workspace_id = resolve.workspace(&workspace_id).await?;
    let release = client.change_release(&workspace_id, &release_id, action).await?;
    if json {
        output::json(&release)
    } else {
        print_releases(std::slice::from_ref(&release));
        Ok(())
    }
}
