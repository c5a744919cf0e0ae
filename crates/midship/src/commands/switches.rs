//! `switch` commands: remote configuration.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{ConfigVersionView, SwitchStatusView};
use serde_json::{Value, json};

use super::list_pages;
use super::resolve::{Resolver, WorkspaceArg};
use crate::cli::PageArgs;
use crate::output::{self};

#[derive(Debug, Subcommand)]
pub enum SwitchCommand {
    /// Create or replace a switch in the draft (devices get it after `switch publish`).
    Set {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
        /// bool, number, string or json.
        #[arg(long = "type")]
        value_type: String,
        /// The value devices get when no target matches, typed as `--type` says (`true`, `42`, `text`, `{"a":1}`).
        #[arg(long = "default")]
        default_value: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Only these platforms receive the key; repeat or separate with commas.
        #[arg(long = "platform", value_delimiter = ',')]
        platforms: Vec<String>,
        /// A targeted value as JSON, `{"value": …, "rule": {…}}` (docs/switches.md); repeat, first match wins.
        #[arg(long = "target")]
        targets: Vec<String>,
        /// A JSON file holding the whole definition instead of the flags above (its key must match).
        #[arg(long, conflicts_with_all = ["targets"])]
        file: Option<PathBuf>,
    },
    /// One switch: its draft, what devices get, and its state.
    Get {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// Remove a switch from the draft.
    Delete {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// Publish the draft as the next version.
    Publish {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Published versions, newest first.
    History {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Make an earlier version current again (published as a new version).
    Rollback {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long = "to")]
        version: i64,
    },
    /// Print the configuration as a JSON document (the latest published version by default).
    Export {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        #[arg(long, conflicts_with = "draft")]
        version: Option<i64>,
        #[arg(long)]
        draft: bool,
    },
    /// Load a JSON document (from `switch export`) into the draft.
    Import {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        file: PathBuf,
        /// Keep draft switches the document does not name.
        #[arg(long)]
        merge: bool,
    },
}

/// Reads a value typed on the command line as the switch's type says.
fn typed_value(value_type: &str, text: &str) -> anyhow::Result<Value> {
    Ok(match value_type {
        "bool" => Value::Bool(text.parse().with_context(|| format!("`{text}` is not true or false"))?),
        "number" => Value::Number(text.parse().with_context(|| format!("`{text}` is not a number"))?),
        "string" => Value::String(text.to_owned()),
        "json" => serde_json::from_str(text).with_context(|| format!("`{text}` is not JSON"))?,
        other => bail!("unknown type `{other}` (expected bool, number, string or json)"),
    })
}

fn print_statuses(statuses: &[SwitchStatusView]) {
    let rows = statuses
        .iter()
        .map(|status| {
            let current = status.draft.as_ref().or(status.published.as_ref());
            let field =
                |name: &str| current.and_then(|definition| definition.get(name)).cloned().unwrap_or(Value::Null);
            let targets = field("targets").as_array().map_or(0, Vec::len);
            vec![
                status.key.clone(),
                field("type").as_str().unwrap_or("-").to_owned(),
                field("default_value").to_string(),
                targets.to_string(),
                status.state.clone(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["key", "type", "default", "targets", "state"], &rows);
}

fn print_versions(versions: &[ConfigVersionView]) {
    let rows = versions
        .iter()
        .map(|version| {
            vec![
                version.version.to_string(),
                version.published_at.clone(),
                version.published_by.clone(),
                version.switch_count.to_string(),
                version.note.clone(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["version", "published", "by", "switches", "note"], &rows);
}

pub async fn switch(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: SwitchCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        SwitchCommand::Set { workspace_id, key, value_type, default_value, description, platforms, targets, file } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let definition = match file {
                Some(path) => {
                    let definition = super::read_json(&path)?;
                    if definition.get("key").and_then(Value::as_str) != Some(key.as_str()) {
                        bail!("{} defines a different key than `{key}`", path.display());
                    }
                    definition
                }
                None => {
                    let targets = targets
                        .iter()
                        .map(|target| {
                            serde_json::from_str::<Value>(target)
                                .with_context(|| format!("--target `{target}` is not JSON"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    json!({
                        "key": key,
                        "type": value_type,
                        "default_value": typed_value(&value_type, &default_value)?,
                        "description": description,
                        "platforms": platforms,
                        "targets": targets,
                    })
                }
            };
            let status = client.set_switch(&workspace_id, &definition).await?;
            if json_output {
                return output::json(&status);
            }
            print_statuses(&[status]);
            Ok(())
        }
        SwitchCommand::Get { workspace_id, key } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let status = client.get_switch(&workspace_id, &key).await?;
            output::json(&status)
        }
        SwitchCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let statuses = client.list_switches(&workspace_id).await?;
            if json_output {
                return output::json(&statuses);
            }
            print_statuses(&statuses.items);
            Ok(())
        }
        SwitchCommand::Delete { workspace_id, key } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            client.delete_switch(&workspace_id, &key).await?;
            if json_output {
                return output::json(&json!({ "deleted": key }));
            }
            println!("deleted `{key}` from the draft; devices keep it until the next publish");
            Ok(())
        }
        SwitchCommand::Publish { workspace_id, note } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let version = client.publish_config(&workspace_id, &note).await?;
            if json_output {
                return output::json(&version);
            }
            println!("published version {} ({} switches)", version.version, version.switch_count);
            Ok(())
        }
        SwitchCommand::History { workspace_id, page } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let versions = list_pages(page, |params| {
                let workspace_id = workspace_id.clone();
                async move { client.config_versions(&workspace_id, &params).await }
            })
            .await?;
            if json_output {
                return output::json(&versions);
            }
            print_versions(&versions.items);
            Ok(())
        }
        SwitchCommand::Rollback { workspace_id, version } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let published = client.rollback_config(&workspace_id, version).await?;
            if json_output {
                return output::json(&published);
            }
            println!("version {version} is current again, published as version {}", published.version);
            Ok(())
        }
        SwitchCommand::Export { workspace_id, version, draft } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            output::json(&client.export_config(&workspace_id, draft, version).await?)
        }
        SwitchCommand::Import { workspace_id, file, merge } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let document = super::read_json(&file)?;
            let result = client.import_config(&workspace_id, &document, merge).await?;
            if json_output {
                return output::json(&result);
            }
            println!("imported {} switches into the draft; publish to send them to devices", result.imported);
            Ok(())
        }
    }
}
