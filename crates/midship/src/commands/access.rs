//! `token`, `audit` and `whoami` commands.

use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_admin_client::{AuditParams, PageParams};
use midship_api::CreateTokenRequest;

use super::list_pages;
use super::resolve::Resolver;
use crate::cli::PageArgs;
use crate::output::{self, optional};

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

pub async fn token(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: TokenCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { role, name, app_ids, expires_in_days } => {
            let app_ids = resolve.apps_of(&app_ids).await?;
            let request = CreateTokenRequest {
                name,
                role,
                app_ids: if app_ids.is_empty() { None } else { Some(app_ids) },
                expires_in_seconds: expires_in_days.map(|days| days.saturating_mul(86_400)),
            };
            let issued = client.create_token(&request).await?;
            if json {
                return output::json(&issued);
            }
            println!(
                "created {} token {} ({}); it is shown only now:",
                issued.view.role, issued.view.token_id, issued.view.name
            );
            println!("{}", issued.token);
            Ok(())
        }
        TokenCommand::List(page) => {
            let tokens = list_pages(page, |params| async move { client.list_tokens(&params).await }).await?;
            if json {
                return output::json(&tokens);
            }
            let rows = tokens
                .items
                .iter()
                .map(|token| {
                    vec![
                        token.token_id.clone(),
                        token.name.clone(),
                        token.role.clone(),
                        token.app_ids.as_ref().map(|apps| apps.join(",")).unwrap_or_else(|| "all".to_owned()),
                        token.hint.clone(),
                        if token.active { "active".to_owned() } else { "inactive".to_owned() },
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["token id", "name", "role", "apps", "token", "state"], &rows);
            Ok(())
        }
        TokenCommand::Revoke { token_id } => {
            let revoked = client.revoke_token(&token_id).await?;
            if json {
                return output::json(&revoked);
            }
            println!(
                "revoked token {} ({}) at {}",
                revoked.token_id,
                revoked.name,
                optional(revoked.revoked_at.as_deref())
            );
            Ok(())
        }
    }
}

pub async fn audit(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: AuditCommand,
    json: bool,
) -> anyhow::Result<()> {
    let AuditCommand::List { app_id, action, limit, cursor } = command;
    let app_id = match app_id {
        Some(app) => Some(resolve.app(&app).await?),
        None => None,
    };
    let params = AuditParams { app_id, action, page: PageParams { limit: Some(limit), cursor } };
    let entries = client.list_audit(&params).await?;
    if json {
        return output::json(&entries);
    }
    let rows = entries
        .items
        .iter()
        .map(|entry| {
            vec![
                entry.at.clone(),
                entry.actor_name.clone(),
                entry.action.clone(),
                format!("{} {}", entry.target_kind, entry.target_id),
                entry.after.as_ref().map(ToString::to_string).unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["when", "who", "action", "target", "after"], &rows);
    if let Some(cursor) = entries.next_cursor {
        println!("more: --cursor {cursor}");
    }
    Ok(())
}

pub async fn whoami(client: &AdminClient, json: bool) -> anyhow::Result<()> {
    let who = client.whoami().await?;
    if json {
        return output::json(&who);
    }
    let apps = who.app_ids.as_ref().map(|apps| apps.join(",")).unwrap_or_else(|| "all".to_owned());
    println!(
        "{} {} ({}) · tenant {} · role {} · apps {}",
        who.actor_kind, who.actor_id, who.actor_name, who.tenant_id, who.role, apps
    );
    Ok(())
}
