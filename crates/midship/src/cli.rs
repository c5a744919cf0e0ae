//! Command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    access, analytics, approvals, apps, delivery, devices, experiments, gateway, people, push, switches, sync,
};

#[derive(Debug, Parser)]
#[command(name = "midship", version, about = "Self-hosted mobile app platform: server and command-line tool")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Base URL of the Midship server the CLI talks to [default: the current context's
    /// (`midship context`), else http://127.0.0.1:7070].
    #[arg(long, global = true, env = "MIDSHIP_SERVER")]
    pub server: Option<String>,
    /// Admin API token [default: the current context's, else ./midship-data/admin-token].
    #[arg(long, global = true, env = "MIDSHIP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Midship server with every service.
    Serve(ServeArgs),
    /// Configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The key-encryption key that seals secrets stored in the database.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Sign the command line in as you: confirm the code it shows in the console; the session is
    /// saved as a context (your role and apps; approvals are yours).
    Login {
        /// The context's name [default: the server's host].
        #[arg(long)]
        context: Option<String>,
    },
    /// End the current context's session and forget it.
    Logout,
    /// Named servers and their tokens, so commands need no --server and --token.
    Context {
        #[command(subcommand)]
        command: crate::contexts::ContextCommand,
    },
    /// Print a shell completion script: `source <(midship completion bash)`, or save it where
    /// your shell loads completions (zsh: a file `_midship` on $fpath; fish: completions/midship.fish).
    Completion { shell: clap_complete::Shell },
    /// Check targeting rules by hand, without a server.
    Targeting {
        #[command(subcommand)]
        command: TargetingCommand,
    },
    #[command(flatten)]
    Admin(Box<AdminCommand>),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key (base64 of 32 bytes), or write it to a new file readable only by you.
    GenerateKey {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Seal every stored secret with the current key now, as each start does, and say how many
    /// were sealed with another key (after a rotation: when none are, the old key can go).
    Reseal(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub enum TargetingCommand {
    /// Print `true` or `false`: does the condition (GrowthBook syntax) match the attributes?
    EvalCondition {
        /// The condition as JSON, e.g. '{"city": {"$in": ["Hangzhou"]}}'.
        condition: String,
        /// The attributes as JSON, e.g. '{"city": "Hangzhou"}'.
        attributes: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (embedded database, lock file, first admin token) [default: ./midship-data]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7070]
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// sqlite://FILE or postgres://… [default: SQLite in the data directory]
    #[arg(long)]
    pub database_url: Option<String>,
    /// The cluster bus, nats://host:4222 (docs/deploy.md)
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Object storage for packages, s3://bucket?endpoint=http://host:port [default: data directory]
    #[arg(long)]
    pub blob_url: Option<String>,
    /// This node runs alone on PostgreSQL: start without a cluster bus
    #[arg(long)]
    pub single_node: bool,
    /// Config file (TOML); see `midship config default`.
    #[arg(long, env = "MIDSHIP_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented config file with every default.
    Default,
    /// Print the effective configuration (defaults, file and environment merged; secrets redacted).
    Show {
        #[arg(long, env = "MIDSHIP_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Apps of your tenant.
    App {
        #[command(subcommand)]
        command: apps::AppCommand,
    },
    /// Workspaces (dev, test, prod, …) of an app.
    Workspace {
        #[command(subcommand)]
        command: apps::WorkspaceCommand,
    },
    /// An app's signing keys.
    Key {
        #[command(subcommand)]
        command: apps::KeyCommand,
    },
    /// People: console accounts (sign-in with password and authenticator app).
    Person {
        #[command(subcommand)]
        command: people::PersonCommand,
    },
    /// Admin API tokens, for machines.
    Token {
        #[command(subcommand)]
        command: access::TokenCommand,
    },
    /// A/B experiments: laboratories, experiments, their phases, results and promotion.
    Experiment {
        #[command(subcommand)]
        command: experiments::ExperimentCommand,
    },
    /// Four eyes: the approval rule of a workspace and the requests waiting for a second person.
    Approval {
        #[command(subcommand)]
        command: approvals::ApprovalCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: access::AuditCommand,
    },
    /// Tenants of the installation.
    Tenant {
        #[command(subcommand)]
        command: apps::TenantCommand,
    },
    /// Remote configuration (switches) of a workspace.
    Switch {
        #[command(subcommand)]
        command: switches::SwitchCommand,
    },
    /// Gateway APIs (operation types) and their backend groups, per workspace.
    Api {
        #[command(subcommand)]
        command: gateway::ApiCommand,
    },
    /// Device security: the workspace's policy, and revoking a device's credential.
    Device {
        #[command(subcommand)]
        command: devices::DeviceCommand,
    },
    /// Push: notifications to devices and users, templates, channels, revoking and statistics.
    Push {
        #[command(subcommand)]
        command: push::PushCommand,
    },
    /// Delivery packages: upload (H5, mini program, upgrade, hotpatch), list, the signing key.
    Package {
        #[command(subcommand)]
        command: delivery::PackageCommand,
    },
    /// Delivery release tasks: gray stages and official releases, pause, resume, end, rollback.
    Release {
        #[command(subcommand)]
        command: delivery::ReleaseCommand,
    },
    /// Analytics reports: overview, real time, retention, events, funnels, pages, paths,
    /// performance, crash groups; and the upload policy.
    Stats {
        #[command(subcommand)]
        command: analytics::StatsCommand,
    },
    /// Data sync: bizType configurations and messages to devices and users.
    Sync {
        #[command(subcommand)]
        command: sync::SyncCommand,
    },
    /// Show the token in use: tenant, role and app scope.
    Whoami,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Items to show; every item when absent.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start after this cursor (from a previous `--json` listing).
    #[arg(long)]
    pub cursor: Option<String>,
}

impl ServeArgs {
    /// The values given as flags, which override the config file and the environment.
    pub fn flag_overrides(&self) -> crate::config::FlagOverrides {
        crate::config::FlagOverrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            nats_url: self.nats_url.clone(),
            blob_url: self.blob_url.clone(),
            single_node: self.single_node,
        }
    }
}
