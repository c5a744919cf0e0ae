//! `api` commands: the gateway's groups and APIs.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{ApiGroupView, ApiView, CreateApiGroupRequest, CreateApiRequest};

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Backend groups.
    Group {
        #[command(subcommand)]
        command: ApiGroupCommand,
    },
    /// Register an API: an operation type routed to a group's backend.
    Create {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
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
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    Show {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        operation_type: String,
    },
    /// Replace an API's definition and policies with a JSON file in the body `api create` sends
    /// (`api show --json` gives one to start from; docs/protocol.md, "API policies").
    Update {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        operation_type: String,
        /// The definition: `{"group", "method", "path", "parameters", "mock", "cache", …}`.
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Stop routing an API: calls answer 3000.
    Close {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        operation_type: String,
    },
    Open {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        operation_type: String,
    },
    /// Calls by result code and p50/p95/p99 latency per API, on the node that answers.
    Stats {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
    /// The workspace's public keys for body encryption, to ship with the app.
    Keys {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiGroupCommand {
    /// Register a backend; prints its proxy-signature secret once.
    Create {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
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
        #[command(flatten)]
        workspace_id: WorkspaceArg,
    },
}

fn print_groups(groups: &[ApiGroupView]) {
    let rows = groups
        .iter()
        .map(|group| {
            vec![group.group_id.clone(), group.name.clone(), group.base_url.clone(), group.timeout_ms.to_string()]
        })
        .collect::<Vec<_>>();
    output::table(&["group id", "name", "base url", "timeout ms"], &rows);
}

fn print_apis(apis: &[ApiView]) {
    let rows = apis
        .iter()
        .map(|api| {
            vec![
                api.operation_type.clone(),
                api.method.clone(),
                api.path.clone(),
                api.status.clone(),
                if api.need_sign { "yes".to_owned() } else { "no".to_owned() },
                api.rate_limit_per_second.map_or_else(|| "-".to_owned(), |limit| limit.to_string()),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["operation type", "method", "path", "status", "signed", "rate limit"], &rows);
}

pub async fn api(client: &AdminClient, resolve: &Resolver<'_>, command: ApiCommand, json: bool) -> anyhow::Result<()> {
    let apis = match command {
        ApiCommand::Group {
            command:
                ApiGroupCommand::Create { workspace_id, name, base_url, timeout_ms, proxy_signature, rsa_private_key_file },
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let rsa_private_key = rsa_private_key_file
                .map(|path| std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display())))
                .transpose()?;
            let request = CreateApiGroupRequest {
                name,
                base_url,
                timeout_ms,
                proxy_signature: Some(proxy_signature),
                rsa_private_key,
            };
            let group = client.create_api_group(&workspace_id, &request).await?;
            if json {
                return output::json(&group);
            }
            print_groups(std::slice::from_ref(&group));
            if let Some(public_key) = &group.rsa_public_key {
                println!("the backend verifies X-Midship-Proxy-Signature (rsa-sha256) with this public key:");
                println!("{public_key}");
            }
            if let Some(secret) = &group.proxy_secret {
                println!(
                    "proxy-signature secret (shown only now; the backend verifies X-Midship-Proxy-Signature with it):"
                );
                println!("{secret}");
            }
            return Ok(());
        }
        ApiCommand::Group { command: ApiGroupCommand::List { workspace_id } } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let groups = client.list_api_groups(&workspace_id).await?;
            if json {
                return output::json(&groups);
            }
            print_groups(&groups.items);
            return Ok(());
        }
        ApiCommand::Stats { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let stats = client.api_stats(&workspace_id).await?;
            if json {
                return output::json(&stats);
            }
            let rows = stats
                .items
                .iter()
                .map(|api| {
                    let results = api
                        .by_result
                        .iter()
                        .map(|(code, calls)| format!("{code}:{calls}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    vec![
                        api.operation_type.clone(),
                        api.calls.to_string(),
                        results,
                        format!("{:.2}", api.p50_ms),
                        format!("{:.2}", api.p95_ms),
                        format!("{:.2}", api.p99_ms),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["operation type", "calls", "results", "p50 ms", "p95 ms", "p99 ms"], &rows);
            return Ok(());
        }
        ApiCommand::Keys { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let keys = client.gateway_keys(&workspace_id).await?;
            if json {
                return output::json(&keys);
            }
            let rows = keys.items.iter().map(|key| vec![key.suite.clone(), key.public_key.clone()]).collect::<Vec<_>>();
            output::table(&["suite", "public key"], &rows);
            return Ok(());
        }
        ApiCommand::Create {
            workspace_id,
            operation_type,
            group,
            method,
            path,
            timeout_ms,
            no_sign,
            rate_limit,
            description,
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let request = CreateApiRequest {
                operation_type,
                group,
                method,
                path,
                timeout_ms,
                content_type: None,
                charset: None,
                need_sign: Some(!no_sign),
                need_encrypt: None,
                rate_limit_per_second: rate_limit,
                description: Some(description),
                ..CreateApiRequest::default()
            };
            vec![client.create_api(&workspace_id, &request).await?]
        }
        ApiCommand::List { workspace_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let apis = client.list_apis(&workspace_id).await?;
            if json {
                return output::json(&apis);
            }
            apis.items
        }
        ApiCommand::Show { workspace_id, operation_type } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            vec![client.show_api(&workspace_id, &operation_type).await?]
        }
        ApiCommand::Update { workspace_id, operation_type, file } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut definition: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            if let Some(fields) = definition.as_object_mut() {
                fields.entry("operation_type").or_insert_with(|| operation_type.clone().into());
            }
            vec![client.update_api(&workspace_id, &operation_type, &definition).await?]
        }
        ApiCommand::Close { workspace_id, operation_type } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            vec![client.set_api_open(&workspace_id, &operation_type, false).await?]
        }
        ApiCommand::Open { workspace_id, operation_type } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            vec![client.set_api_open(&workspace_id, &operation_type, true).await?]
        }
    };
    if json {
        return output::json(&apis[0]);
    }
    print_apis(&apis);
    Ok(())
}
