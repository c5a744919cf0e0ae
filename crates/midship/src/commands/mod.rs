//! CLI commands that drive a running server through the admin API (via the SDK's client), one
//! module per area, each with its grammar (clap) and what it runs.

pub mod access;
pub mod analytics;
pub mod approvals;
pub mod apps;
pub mod delivery;
pub mod devices;
pub mod experiments;
pub mod gateway;
pub mod people;
pub mod push;
mod resolve;
pub mod switches;
pub mod sync;

use std::future::Future;
use std::path::Path;

use anyhow::Context;
use midship_admin_client::AdminClient;
use midship_admin_client::PageParams;
use midship_api::List;

use crate::cli::{AdminCommand, GlobalArgs, PageArgs};
use resolve::Resolver;

pub async fn run(global: &GlobalArgs, command: AdminCommand) -> anyhow::Result<()> {
    let client = client(global)?;
    let resolve = Resolver::new(&client, defaults(global)?);
    let json = global.json;
    match command {
        AdminCommand::App { command } => apps::app(&client, &resolve, command, json).await,
        AdminCommand::Workspace { command } => apps::workspace(&client, &resolve, command, json).await,
        AdminCommand::Key { command } => apps::key(&client, &resolve, command, json).await,
        AdminCommand::Tenant { command } => apps::tenant(&client, command, json).await,
        AdminCommand::Person { command } => people::person(&client, &resolve, command, json).await,
        AdminCommand::Token { command } => access::token(&client, &resolve, command, json).await,
        AdminCommand::Audit { command } => access::audit(&client, &resolve, command, json).await,
        AdminCommand::Api { command } => gateway::api(&client, &resolve, command, json).await,
        AdminCommand::Device { command } => devices::device(&client, &resolve, command, json).await,
        AdminCommand::Switch { command } => switches::switch(&client, &resolve, command, json).await,
        AdminCommand::Push { command } => push::push(&client, &resolve, command, json).await,
        AdminCommand::Package { command } => delivery::package(&client, &resolve, command, json).await,
        AdminCommand::Release { command } => delivery::release(&client, &resolve, command, json).await,
        AdminCommand::Stats { command } => analytics::stats(&client, &resolve, command, json).await,
        AdminCommand::Sync { command } => sync::sync(&client, &resolve, command, json).await,
        AdminCommand::Approval { command } => approvals::approval(&client, &resolve, command, json).await,
        AdminCommand::Experiment { command } => experiments::experiment(&client, &resolve, command, json).await,
        AdminCommand::Whoami => access::whoami(&client, json).await,
    }
}

/// The current context's app and workspace, when commands name none (and no --server points
/// elsewhere).
fn defaults(global: &GlobalArgs) -> anyhow::Result<resolve::Defaults> {
    if global.server.is_some() {
        return Ok(resolve::Defaults::default());
    }
    let contexts = crate::contexts::Contexts::load()?;
    Ok(contexts
        .current()
        .map(|(_, context)| resolve::Defaults { app: context.app.clone(), workspace: context.workspace.clone() })
        .unwrap_or_default())
}

/// The server and token: flags (or their environment variables) first, then the current
/// context when no server is named, then a local server and the token its first start saved.
fn client(global: &GlobalArgs) -> anyhow::Result<AdminClient> {
    let saved = match &global.server {
        Some(_) => None,
        None => crate::contexts::Contexts::load()?.current().map(|(_, context)| context.clone()),
    };
    let server = global
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|context| context.server.clone()))
        .unwrap_or_else(|| LOCAL_SERVER.to_owned());
    let token = match (&global.token, saved) {
        (Some(token), _) => token.clone(),
        (None, Some(context)) => context.token,
        (None, None) => {
            let local = Path::new("./midship-data").join(crate::serve::ADMIN_TOKEN_FILE);
            std::fs::read_to_string(&local).map(|text| text.trim().to_owned()).with_context(|| {
                format!(
                    "no token: pass --token, set MIDSHIP_TOKEN, save one with `midship context add`, or run next to {}",
                    local.display()
                )
            })?
        }
    };
    AdminClient::new(&server, token).context("invalid --server")
}

/// A JSON document from a file the user names.
fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

pub const LOCAL_SERVER: &str = "http://127.0.0.1:7070";

/// One page when `--limit` is given, otherwise every page, followed through the cursors.
async fn list_pages<T, F, Fut>(page: PageArgs, mut fetch: F) -> anyhow::Result<List<T>>
where
    F: FnMut(PageParams) -> Fut,
    Fut: Future<Output = Result<List<T>, midship_admin_client::SdkError>>,
{
    if page.limit.is_some() {
        return Ok(fetch(PageParams { limit: page.limit, cursor: page.cursor }).await?);
    }
    let mut items = Vec::new();
    let mut cursor = page.cursor;
    loop {
        let next = fetch(PageParams { limit: Some(200), cursor: cursor.take() }).await?;
        items.extend(next.items);
        match next.next_cursor {
            Some(next_cursor) => cursor = Some(next_cursor),
            None => {
                return Ok(List { items, next_cursor: None });
            }
        }
    }
}
