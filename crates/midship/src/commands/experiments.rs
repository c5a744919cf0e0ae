//! `experiment` commands: laboratories, experiments and their phases, results and promotion. A
//! promotion in a workspace that requires approvals prints its request and exits with status 3.

use std::path::PathBuf;

use clap::Subcommand;
use midship_admin_client::{AdminClient, SdkError};
use midship_api::{CreateExperiment, CreateLaboratory, ExperimentResultsView, ExperimentView, PhaseName};
use serde_json::Value;

use super::read_json;
use super::resolve::{Resolver, WorkspaceArg};
use crate::output::{self, optional};

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Laboratories: traffic layers whose experiments never share a unit.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Every experiment of the workspace with its phase.
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// One experiment with its definition.
    Show {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// A new experiment in draft, from a definition file (docs/experiments.md).
    Create {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
        #[arg(long)]
        laboratory: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace an experiment's definition (while running: weights, coverage, audience, metrics).
    Update {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Serve the debug whitelist only.
    Debug {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// Start assigning the audience.
    Start {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// End the experiment; its results stay.
    Stop {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// Results so far: units, the split check, each metric against control, the power estimate.
    Results {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
    },
    /// Publish a variation's values as the switches' and stop the experiment.
    Promote {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
        variation: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    Create {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        key: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
}

pub async fn experiment(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: ExperimentCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    let phase = |workspace_id, key, phase| (workspace_id, key, phase);
    let (workspace_arg, key, next) = match command {
        ExperimentCommand::Lab { command } => return laboratory(client, resolve, command, json_output).await,
        ExperimentCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let experiments = client.list_experiments(&workspace_id).await?;
            if json_output {
                return output::json(&experiments);
            }
            let rows: Vec<Vec<String>> = experiments
                .items
                .iter()
                .map(|experiment| {
                    let variations = experiment.definition["variations"]
                        .as_array()
                        .map(|variations| {
                            variations
                                .iter()
                                .filter_map(|variation| variation["key"].as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    vec![
                        experiment.key.clone(),
                        experiment.laboratory.clone(),
                        experiment.phase.clone(),
                        variations,
                        optional(experiment.started_at.as_deref()),
                    ]
                })
                .collect();
            output::table(&["KEY", "LABORATORY", "PHASE", "VARIATIONS", "STARTED"], &rows);
            return Ok(());
        }
        ExperimentCommand::Show { workspace_id, key } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            return print(&client.get_experiment(&workspace_id, &key).await?, json_output);
        }
        ExperimentCommand::Create { workspace_id, key, laboratory, file } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = CreateExperiment { key, laboratory, definition: read_json(&file)? };
            return print(&client.create_experiment(&workspace_id, &request).await?, json_output);
        }
        ExperimentCommand::Update { workspace_id, key, file } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            return print(&client.update_experiment(&workspace_id, &key, &read_json(&file)?).await?, json_output);
        }
        ExperimentCommand::Results { workspace_id, key } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let results = client.experiment_results(&workspace_id, &key).await?;
            if json_output {
                return output::json(&results);
            }
            print_results(&results);
            return Ok(());
        }
        ExperimentCommand::Promote { workspace_id, key, variation, note } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let promotion = client.promote_variation(&workspace_id, &key, &variation, &note).await?;
            if let Some(approval) = promotion.approval {
                // The experiment is stopped with its decision; the publication waits.
                return Err(SdkError::PendingApproval(Box::new(approval)).into());
            }
            if json_output {
                return output::json(&promotion);
            }
            match promotion.published_version {
                Some(version) => println!("promoted {variation}: published as version {version}"),
                None => println!("promoted {variation}: its values were already published"),
            }
            return Ok(());
        }
        ExperimentCommand::Debug { workspace_id, key } => phase(workspace_id, key, PhaseName::Debug),
        ExperimentCommand::Start { workspace_id, key } => phase(workspace_id, key, PhaseName::Running),
        ExperimentCommand::Stop { workspace_id, key } => phase(workspace_id, key, PhaseName::Stopped),
    };
    let workspace_id = resolve.workspace(&workspace_arg).await?;
    print(&client.set_experiment_phase(&workspace_id, &key, next).await?, json_output)
}

async fn laboratory(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: LabCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        LabCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let laboratories = client.list_laboratories(&workspace_id).await?;
            if json_output {
                return output::json(&laboratories);
            }
            let rows: Vec<Vec<String>> = laboratories
                .items
                .iter()
                .map(|laboratory| vec![laboratory.key.clone(), laboratory.name.clone(), laboratory.description.clone()])
                .collect();
            output::table(&["KEY", "NAME", "DESCRIPTION"], &rows);
            Ok(())
        }
        LabCommand::Create { workspace_id, key, name, description } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let laboratory =
                client.create_laboratory(&workspace_id, &CreateLaboratory { key, name, description }).await?;
            if json_output {
                return output::json(&laboratory);
            }
            println!("laboratory {} created", laboratory.key);
            Ok(())
        }
    }
}

fn print(experiment: &ExperimentView, json_output: bool) -> anyhow::Result<()> {
    if json_output {
        return output::json(experiment);
    }
    println!("experiment  {} ({})", experiment.key, experiment.phase);
    println!("laboratory  {}", experiment.laboratory);
    if let Some(started) = &experiment.started_at {
        println!("started     {started}");
    }
    if let Some(stopped) = &experiment.stopped_at {
        println!("stopped     {stopped}");
    }
    if let Some(decision) = &experiment.decision {
        println!("decision    {}", decision["promoted"].as_str().unwrap_or("-"));
    }
    println!("{}", serde_json::to_string_pretty(&experiment.definition)?);
    Ok(())
}

/// `12.3%`, or `-` for a number the server could not give.
fn percent(value: &Value) -> String {
    value.as_f64().map_or_else(|| "-".to_owned(), |number| format!("{:.2}%", number * 100.0))
}

fn print_results(view: &ExperimentResultsView) {
    let results = &view.results;
    println!("experiment  {} ({}, {} days running)", view.experiment, view.phase, view.days_running);
    let units: Vec<String> = view
        .variations
        .iter()
        .zip(results["units"].as_array().into_iter().flatten())
        .map(|(variation, units)| format!("{variation} {units}"))
        .collect();
    println!("units       {}", units.join(", "));
    let srm = &results["srm"];
    if srm["mismatch"].as_bool() == Some(true) {
        println!(
            "WARNING     sample ratio mismatch (p = {}): the split is broken, do not trust these results",
            srm["p_value"]
        );
    }
    match results["power"]["status"].as_str() {
        Some("estimated") => println!(
            "power       {} units per variation to detect {} on {}",
            results["power"]["units_per_variation"],
            percent(&results["power"]["minimum_detectable_effect"]),
            results["metrics"][0]["key"].as_str().unwrap_or("the first metric")
        ),
        _ => println!("power       not enough data ({})", results["power"]["reason"].as_str().unwrap_or("-")),
    }
    let mut rows = Vec::new();
    for metric in results["metrics"].as_array().into_iter().flatten() {
        for variation in metric["variations"].as_array().into_iter().flatten() {
            let comparison = &variation["comparison"];
            let compared = comparison["status"] == "compared";
            let (uplift, interval, p_value, chance) = if compared {
                (
                    percent(&comparison["uplift"]),
                    format!("[{}, {}]", percent(&comparison["ci"][0]), percent(&comparison["ci"][1])),
                    format!("{:.4}", comparison["adjusted_p_value"].as_f64().unwrap_or(1.0)),
                    percent(&comparison["chance_to_win"]),
                )
            } else if comparison.is_null() {
                ("control".into(), String::new(), String::new(), String::new())
            } else {
                let reason = format!("not enough data ({})", comparison["reason"].as_str().unwrap_or("-"));
                (reason, String::new(), String::new(), String::new())
            };
            rows.push(vec![
                metric["key"].as_str().unwrap_or("-").to_owned(),
                variation["variation"].as_str().unwrap_or("-").to_owned(),
                variation["units"].to_string(),
                format!("{:.4}", variation["value"].as_f64().unwrap_or(0.0)),
                uplift,
                interval,
                p_value,
                chance,
            ]);
        }
    }
    output::table(&["METRIC", "VARIATION", "UNITS", "VALUE", "UPLIFT", "95% CI", "P (ADJ.)", "CHANCE TO WIN"], &rows);
}
