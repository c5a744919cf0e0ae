//! `sync` commands: bizType configurations, sending, stream status and connection tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{SyncSendRequest, SyncSendResponse, SyncTokenRequest};
use serde_json::{Value, json};

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// bizType configurations.
    Config {
        #[command(subcommand)]
        command: SyncConfigCommand,
    },
    /// Send one message to a user's or device's stream.
    Send {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        biz_type: String,
        /// The userId or utdid.
        #[arg(long = "to")]
        link_token: String,
        #[command(flatten)]
        message: SyncMessageArgs,
    },
    /// Send one message to every device (a global bizType).
    Global {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        biz_type: String,
        #[command(flatten)]
        message: SyncMessageArgs,
    },
    /// A stream's last sequence, whether its target is online, and a device's acknowledged position.
    Status {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        biz_type: String,
        /// The userId or utdid; leave out for global bizTypes.
        #[arg(long = "to", default_value = "")]
        link_token: String,
        #[arg(long = "device")]
        device_id: Option<String>,
    },
    /// A connection token that vouches for a user, for an app to open its long connection with.
    Token {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
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
        #[command(flatten)]
        workspace_id: WorkspaceArg,
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
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// Remove a bizType; its stored messages stay until they expire.
    Delete {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        biz_type: String,
    },
}

fn print_configs(configs: &[Value]) {
    let text = |config: &Value, field: &str| match &config[field] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let fields =
        ["biz_type", "scope", "target", "delivery", "persistent", "retention_days", "repush", "verified_users_only"];
    let rows =
        configs.iter().map(|config| fields.iter().map(|field| text(config, field)).collect()).collect::<Vec<_>>();
    output::table(
        &["biz type", "scope", "target", "delivery", "persistent", "retention days", "repush", "verified users only"],
        &rows,
    );
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

fn send_request(biz_type: String, link_token: String, message: SyncMessageArgs) -> SyncSendRequest {
    let now = now_ms();
    let later = |seconds: u64| now.saturating_add((seconds as i64).saturating_mul(1000));
    let app_version_range = (message.min_version.is_some() || message.max_version.is_some())
        .then(|| json!({ "min": message.min_version, "max": message.max_version }));
    SyncSendRequest {
        biz_type,
        link_token,
        payload: message.payload,
        third_msg_id: message.third_msg_id,
        os_type: message.os_type,
        app_version_range,
        valid_from: message.delay_seconds.map(later),
        valid_until: message.valid_seconds.map(later),
        online_check: message.online_check,
    }
}

fn print_sent(sent: &SyncSendResponse, json_output: bool) -> anyhow::Result<()> {
    if json_output {
        return output::json(sent);
    }
    match (sent.seq, sent.scheduled) {
        (Some(seq), _) => println!("{} (seq {seq})", sent.result),
        (None, true) => println!("{} (scheduled)", sent.result),
        (None, false) => println!("{}", sent.result),
    }
    Ok(())
}

pub async fn sync(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: SyncCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        SyncCommand::Config {
            command:
                SyncConfigCommand::Set {
                    workspace_id,
                    biz_type,
                    scope,
                    target,
                    delivery,
                    non_persistent,
                    retention_days,
                    repush_newest,
                    verified_users_only,
                },
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let repush = repush_newest.map_or_else(|| json!("all"), |newest| json!({ "newest": newest }));
            let config = json!({
                "biz_type": biz_type,
                "scope": scope,
                "target": target,
                "delivery": delivery,
                "persistent": !non_persistent,
                "retention_days": retention_days,
                "repush": repush,
                "verified_users_only": verified_users_only,
            });
            let stored = client.put_sync_config(&workspace_id, &config).await?;
            if json_output {
                return output::json(&stored);
            }
            print_configs(&[stored]);
            Ok(())
        }
        SyncCommand::Config { command: SyncConfigCommand::List { workspace_id } } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let configs = client.list_sync_configs(&workspace_id).await?;
            if json_output {
                return output::json(&configs);
            }
            print_configs(&configs.items);
            Ok(())
        }
        SyncCommand::Config { command: SyncConfigCommand::Delete { workspace_id, biz_type } } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            client.delete_sync_config(&workspace_id, &biz_type).await?;
            if json_output {
                return output::json(&json!({ "deleted": biz_type }));
            }
            println!("deleted {biz_type}");
            Ok(())
        }
        SyncCommand::Send { workspace_id, biz_type, link_token, message } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let sent = client.sync_send(&workspace_id, &send_request(biz_type, link_token, message)).await?;
            print_sent(&sent, json_output)
        }
        SyncCommand::Global { workspace_id, biz_type, message } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let sent = client.sync_global(&workspace_id, &send_request(biz_type, String::new(), message)).await?;
            print_sent(&sent, json_output)
        }
        SyncCommand::Status { workspace_id, biz_type, link_token, device_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let status = client.sync_status(&workspace_id, &biz_type, &link_token, device_id.as_deref()).await?;
            if json_output {
                return output::json(&status);
            }
            let acked = status.acked_seq.map_or_else(|| "-".to_owned(), |seq| seq.to_string());
            let online = if status.online { "online" } else { "offline" };
            println!(
                "{} {}: last seq {}, acknowledged {acked}, {online}",
                status.biz_type, status.link_token, status.last_seq
            );
            Ok(())
        }
        SyncCommand::Token { workspace_id, user_id, device_id, ttl_seconds } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = SyncTokenRequest { user_id, device_id, ttl_seconds: Some(ttl_seconds) };
            let issued = client.sync_token(&workspace_id, &request).await?;
            if json_output {
                return output::json(&issued);
            }
            println!("{}", issued.token);
            println!("expires at {}", issued.expires_at);
            Ok(())
        }
    }
}
