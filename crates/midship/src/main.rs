//! `midship`: the server (`midship serve`) and the command-line tool for the admin API, in one
//! binary.

mod cli;
mod commands;
mod config;
mod contexts;
mod login;
mod output;
mod secrets;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use anyhow::Context;

use crate::cli::{Cli, Command, ConfigCommand, SecretsCommand, TargetingCommand};
use crate::config::{Config, FlagOverrides, LogFormat};

/// mimalloc instead of the system allocator: with thousands of connections allocating and
/// freeing small buffers across threads, glibc's arenas fragment (and RSS grows) and its
/// consolidation shows up in profiles; mimalloc keeps both low.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("midship: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json_output = cli.global.json;
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match pending_approval(&error) {
            Some(approval) => {
                commands::approvals::print_pending(approval, json_output);
                ExitCode::from(PENDING_APPROVAL_EXIT)
            }
            None => {
                eprintln!("midship: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The exit status of a command whose change waits for approval: not applied, not an error.
const PENDING_APPROVAL_EXIT: u8 = 3;

fn pending_approval(error: &anyhow::Error) -> Option<&midship_api::ApprovalView> {
    error.chain().find_map(|cause| match cause.downcast_ref::<midship_admin_client::SdkError>() {
        Some(midship_admin_client::SdkError::PendingApproval(approval)) => Some(approval.as_ref()),
        _ => None,
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.config.as_deref(), &args.flag_overrides())?;
            init_logging(&config);
            serve::serve(config).await
        }
        Command::Secrets { command: SecretsCommand::GenerateKey { output } } => secrets::generate_key(output.as_ref()),
        Command::Secrets { command: SecretsCommand::Reseal(args) } => {
            let config = Config::load(args.config.as_deref(), &args.flag_overrides())?;
            init_logging(&config);
            secrets::reseal(&config).await
        }
        Command::Context { command } => contexts::run(command, cli.global.token.as_deref()),
        Command::Login { context } => login::login(cli.global.server.as_deref(), context.as_deref()).await,
        Command::Logout => login::logout(cli.global.server.as_deref(), cli.global.token.as_deref()).await,
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "midship", &mut std::io::stdout());
            Ok(())
        }
        Command::Config { command: ConfigCommand::Default } => {
            print!("{}", config::DEFAULT_FILE);
            Ok(())
        }
        Command::Config { command: ConfigCommand::Show { config: file } } => {
            let config = Config::load(file.as_deref(), &FlagOverrides::default())?;
            let mut shown = config.clone();
            shown.database.url = midship_server::storage::redact_database_url(&config.database.url);
            if !config.secrets.key.is_empty() {
                shown.secrets.key = "****".to_owned();
            }
            if !config.blobs.secret_access_key.is_empty() {
                shown.blobs.secret_access_key = "****".to_owned();
            }
            if !config.cluster.nats_url.is_empty() {
                shown.cluster.nats_url = midship_server::storage::redact_database_url(&config.cluster.nats_url);
            }
            if config.database.url.is_empty() {
                shown.database.url = String::new();
            }
            print!("{}", toml::to_string_pretty(&shown)?);
            Ok(())
        }
        Command::Targeting { command: TargetingCommand::EvalCondition { condition, attributes } } => {
            let condition: serde_json::Value = serde_json::from_str(&condition).context("the condition is not JSON")?;
            let attributes: serde_json::Value =
                serde_json::from_str(&attributes).context("the attributes are not JSON")?;
            let compiled = midship_targeting::condition::Condition::compile(&condition)
                .map_err(|error| anyhow::anyhow!("invalid condition at {}: {}", error.path, error.message))?;
            println!("{}", compiled.matches(&attributes));
            Ok(())
        }
        Command::Admin(command) => commands::run(&cli.global, *command).await,
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
