//! Command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Base URL of the Midship server the CLI talks to.
    #[arg(long, global = true, env = "MIDSHIP_SERVER", default_value = "http://127.0.0.1:7070")]
    pub server: String,
    /// Admin API token; defaults to ./midship-data/admin-token when that file exists.
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
    /// Check targeting rules by hand, without a server.
    Targeting {
        #[command(subcommand)]
        command: TargetingCommand,
    },
    #[command(flatten)]
    Admin(Box<AdminCommand>),
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
        command: AppCommand,
    },
    /// Workspaces (dev, test, prod, …) of an app.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// An app's signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Tenants of the installation.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Remote configuration (switches) of a workspace.
    Switch {
        #[command(subcommand)]
        command: SwitchCommand,
    },
    /// Gateway APIs (operation types) and their backend groups, per workspace.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Push: notifications to devices and users, templates, channels, revoking and statistics.
    Push {
        #[command(subcommand)]
        command: PushCommand,
    },
    /// Delivery packages: upload (H5, mini program, upgrade, hotpatch), list, the signing key.
    Package {
        #[command(subcommand)]
        command: PackageCommand,
    },
    /// Delivery release tasks: gray stages and official releases, pause, resume, end, rollback.
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
    /// Analytics reports: overview, real time, retention, events, funnels, pages, paths,
    /// performance, crash groups; and the upload policy.
    Stats {
        #[command(subcommand)]
        command: StatsCommand,
    },
    /// Data sync: bizType configurations and messages to devices and users.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Show the token in use: tenant, role and app scope.
    Whoami,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// bizType configurations.
    Config {
        #[command(subcommand)]
        command: SyncConfigCommand,
    },
    /// Send one message to a user's or device's stream.
    Send {
        #[arg(long = "workspace")]
        workspace_id: String,
        biz_type: String,
        /// The userId or utdid.
        #[arg(long = "to")]
        link_token: String,
        #[command(flatten)]
        message: SyncMessageArgs,
    },
    /// Send one message to every device (a global bizType).
    Global {
        #[arg(long = "workspace")]
        workspace_id: String,
        biz_type: String,
        #[command(flatten)]
        message: SyncMessageArgs,
    },
    /// A stream's last sequence, whether its target is online, and a device's acknowledged position.
    Status {
        #[arg(long = "workspace")]
        workspace_id: String,
        biz_type: String,
        /// The userId or utdid; leave out for global bizTypes.
        #[arg(long = "to", default_value = "")]
        link_token: String,
        #[arg(long = "device")]
        device_id: Option<String>,
    },
    /// A connection token that vouches for a user, for an app to open its long connection with.
    Token {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long = "user")]
        user_id: Option<String>,
        /// Only this device may use it.
        #[arg(long = "device")]
        device_id: Option<String>,
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: u32,
    },
}

/// What `sync send` and `sync global` share.
#[derive(Debug, clap::Args)]
pub struct SyncMessageArgs {
    #[arg(long)]
    pub payload: String,
    /// Your id for the message; a repeat answers DUPLICATED_BIZ_ID.
    #[arg(long = "id")]
    pub third_msg_id: String,
    /// Only devices of this platform (android, ios, harmony, h5, miniprogram).
    #[arg(long)]
    pub os_type: Option<String>,
    /// Only app versions at or above this.
    #[arg(long)]
    pub min_version: Option<String>,
    /// Only app versions at or below this.
    #[arg(long)]
    pub max_version: Option<String>,
    /// Deliver from this many seconds from now.
    #[arg(long)]
    pub delay_seconds: Option<u64>,
    /// Not delivered after this many seconds from now.
    #[arg(long)]
    pub valid_seconds: Option<u64>,
    /// Store and deliver only if the target is online now.
    #[arg(long)]
    pub online_check: bool,
}

#[derive(Debug, Subcommand)]
pub enum SyncConfigCommand {
    /// Create or replace a bizType's configuration.
    Set {
        #[arg(long = "workspace")]
        workspace_id: String,
        biz_type: String,
        /// targeted or global.
        #[arg(long, default_value = "targeted")]
        scope: String,
        /// user or device (targeted scope).
        #[arg(long, default_value = "user")]
        target: String,
        /// all_devices or latest_device.
        #[arg(long, default_value = "all_devices")]
        delivery: String,
        /// Drop messages for offline targets instead of keeping them.
        #[arg(long)]
        non_persistent: bool,
        #[arg(long, default_value_t = 30)]
        retention_days: u32,
        /// Re-push only the newest N messages of a backlog.
        #[arg(long)]
        repush_newest: Option<u32>,
        /// Deliver only to connections whose user a backend vouched for (`sync token`).
        #[arg(long)]
        verified_users_only: bool,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    /// Remove a bizType; its stored messages stay until they expire.
    Delete {
        #[arg(long = "workspace")]
        workspace_id: String,
        biz_type: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Backend groups.
    Group {
        #[command(subcommand)]
        command: ApiGroupCommand,
    },
    /// Register an API: an operation type routed to a group's backend.
    Create {
        #[arg(long = "workspace")]
        workspace_id: String,
        operation_type: String,
        /// Group name or id.
        #[arg(long)]
        group: String,
        #[arg(long, default_value = "POST")]
        method: String,
        /// Path appended to the group's base URL; `{name}` segments come from the body.
        #[arg(long)]
        path: String,
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// Accept calls without a client signature.
        #[arg(long)]
        no_sign: bool,
        /// Calls per second on each node.
        #[arg(long)]
        rate_limit: Option<u32>,
        #[arg(long, default_value = "")]
        description: String,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    Show {
        #[arg(long = "workspace")]
        workspace_id: String,
        operation_type: String,
    },
    /// Stop routing an API: calls answer 3000.
    Close {
        #[arg(long = "workspace")]
        workspace_id: String,
        operation_type: String,
    },
    Open {
        #[arg(long = "workspace")]
        workspace_id: String,
        operation_type: String,
    },
    /// Calls by result code and p50/p95/p99 latency per API, on the node that answers.
    Stats {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    /// The workspace's public keys for body encryption, to ship with the app.
    Keys {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiGroupCommand {
    /// Register a backend; prints its proxy-signature secret once.
    Create {
        #[arg(long = "workspace")]
        workspace_id: String,
        name: String,
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// hmac (default) or rsa: how the gateway proves itself to this backend.
        #[arg(long, default_value = "hmac")]
        proxy_signature: String,
        /// PKCS#8 PEM private key for rsa; one is generated when absent.
        #[arg(long)]
        rsa_private_key_file: Option<PathBuf>,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SwitchCommand {
    /// Create or replace a switch in the draft (devices get it after `switch publish`).
    Set {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        key: String,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    /// Remove a switch from the draft.
    Delete {
        #[arg(long = "workspace")]
        workspace_id: String,
        key: String,
    },
    /// Publish the draft as the next version.
    Publish {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Published versions, newest first.
    History {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Make an earlier version current again (published as a new version).
    Rollback {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long = "to")]
        version: i64,
    },
    /// Print the configuration as a JSON document (the latest published version by default).
    Export {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long, conflicts_with = "draft")]
        version: Option<i64>,
        #[arg(long)]
        draft: bool,
    },
    /// Load a JSON document (from `switch export`) into the draft.
    Import {
        #[arg(long = "workspace")]
        workspace_id: String,
        file: PathBuf,
        /// Keep draft switches the document does not name.
        #[arg(long)]
        merge: bool,
    },
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

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an app with its workspaces and first signing secret.
    Create {
        name: String,
        /// android, ios, harmony, h5 or miniprogram; repeat or separate with commas.
        #[arg(long = "platform", value_delimiter = ',')]
        platforms: Vec<String>,
        /// Workspace to create instead of dev, test and prod; repeat or separate with commas.
        #[arg(long = "workspace", value_delimiter = ',')]
        workspaces: Vec<String>,
    },
    List(PageArgs),
    Show {
        app_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    Create {
        #[arg(long = "app")]
        app_id: String,
        name: String,
    },
    List {
        #[arg(long = "app")]
        app_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue a new signing secret; earlier keys keep working for the grace period.
    Rotate {
        #[arg(long = "app")]
        app_id: String,
        /// Grace period of the earlier keys in seconds [default: the server's, 86400].
        #[arg(long)]
        grace_seconds: Option<u64>,
    },
    List {
        #[arg(long = "app")]
        app_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// admin, developer, operator or viewer.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "cli token")]
        name: String,
        /// Limit the token to this app; repeat for several.
        #[arg(long = "app", value_delimiter = ',')]
        app_ids: Vec<String>,
        #[arg(long)]
        expires_in_days: Option<u64>,
    },
    List(PageArgs),
    Revoke {
        token_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    List {
        #[arg(long = "app")]
        app_id: Option<String>,
        /// Only this action, such as app.create.
        #[arg(long)]
        action: Option<String>,
        /// Entries to show [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    Create {
        name: String,
    },
    List(PageArgs),
    /// The tenant of the token in use.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Up to 10 targets, one message.
    Simple {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        template: String,
        #[arg(long = "targets-file")]
        targets_file: PathBuf,
        #[command(flatten)]
        schedule: PushScheduleArgs,
    },
    /// Every device of a platform: all, bound or unbound ones.
    Broadcast {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        /// One task; otherwise the tasks of the last `--days` days.
        #[arg(long = "task")]
        task_id: Option<String>,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// The newest tasks.
    Tasks {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Stop a scheduled or repeating task.
    Cancel {
        #[arg(long = "workspace")]
        workspace_id: String,
        task_id: String,
    },
    /// Bind a device to a user (as the backend), or unbind it.
    Bind {
        #[arg(long = "workspace")]
        workspace_id: String,
        device_id: String,
        #[arg(long = "user", required_unless_present = "unbind")]
        user_id: Option<String>,
        #[arg(long, conflicts_with = "user_id")]
        unbind: bool,
    },
    /// Show the workspace's push settings, or change them.
    Settings {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        name: String,
        #[command(flatten)]
        message: PushMessageArgs,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    Delete {
        #[arg(long = "workspace")]
        workspace_id: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PushChannelCommand {
    /// Set a channel from a JSON file (docs/push.md), checked before it is stored.
    Set {
        #[arg(long = "workspace")]
        workspace_id: String,
        name: String,
        #[arg(long = "file")]
        file: PathBuf,
    },
    List {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    Delete {
        #[arg(long = "workspace")]
        workspace_id: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Upload a package file; H5 and mini program zips carry manifest.json at their root.
    Upload {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    /// The public key devices verify package manifests with.
    Key {
        #[arg(long = "workspace")]
        workspace_id: String,
    },
}

/// The workspace and days (UTC, `YYYY-MM-DD`) a report covers.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportRange {
    #[arg(long = "workspace")]
    pub workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long, default_value = "crash", value_parser = ["crash", "anr", "lag"])]
        kind: String,
    },
    /// One crash group: per-version rates and the newest events.
    Crash {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
        /// The mapping file (mapping.txt) to upload.
        #[arg(long, requires = "app_version")]
        upload: Option<std::path::PathBuf>,
        #[arg(long = "app-version")]
        app_version: Option<String>,
    },
    /// Show the upload policy, or replace it with a JSON file (`--set FILE`).
    Policy {
        #[arg(long = "workspace")]
        workspace_id: String,
        #[arg(long)]
        set: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Release a package at a stage: whitelist, time-window, capped or official.
    Create {
        #[arg(long = "workspace")]
        workspace_id: String,
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
        #[arg(long = "workspace")]
        workspace_id: String,
    },
    /// One release with its definition and statistics.
    Show {
        #[arg(long = "workspace")]
        workspace_id: String,
        release_id: String,
    },
    Pause {
        #[arg(long = "workspace")]
        workspace_id: String,
        release_id: String,
    },
    Resume {
        #[arg(long = "workspace")]
        workspace_id: String,
        release_id: String,
    },
    End {
        #[arg(long = "workspace")]
        workspace_id: String,
        release_id: String,
    },
    /// Hotpatches: devices remove the patch at their next check.
    Rollback {
        #[arg(long = "workspace")]
        workspace_id: String,
        release_id: String,
    },
}
