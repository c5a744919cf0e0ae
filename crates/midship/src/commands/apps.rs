//! `app`, `workspace`, `key` and `tenant` commands.

use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{
    AppKeyView, CreateAppRequest, CreateTenantRequest, CreateWorkspaceRequest, RotateKeyRequest, WorkspaceView,
};

use super::list_pages;
use super::resolve::Resolver;
use crate::cli::PageArgs;
use crate::output::{self, optional};

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
pub enum TenantCommand {
    Create {
        name: String,
    },
    List(PageArgs),
    /// The tenant of the token in use.
    Show,
}

fn print_keys(keys: &[AppKeyView]) {
    let rows = keys
        .iter()
        .map(|key| {
            vec![
                key.key_id.clone(),
                key.created_at.clone(),
                optional(key.expires_at.as_deref()),
                key.active.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["key id", "created", "expires", "active"], &rows);
}

fn workspace_rows(workspaces: &[WorkspaceView]) -> Vec<Vec<String>> {
    workspaces.iter().map(|ws| vec![ws.workspace_id.clone(), ws.name.clone(), ws.created_at.clone()]).collect()
}

pub async fn app(client: &AdminClient, resolve: &Resolver<'_>, command: AppCommand, json: bool) -> anyhow::Result<()> {
    match command {
        AppCommand::Create { name, platforms, workspaces } => {
            let request = CreateAppRequest {
                name,
                platforms,
                workspaces: if workspaces.is_empty() { None } else { Some(workspaces) },
            };
            let created = client.create_app(&request).await?;
            if json {
                return output::json(&created);
            }
            println!("created app {} ({})", created.app.name, created.app.app_id);
            output::table(&["workspace id", "name", "created"], &workspace_rows(&created.workspaces));
            println!("signing key {}; its secret is shown only now:", created.key_id);
            println!("{}", created.secret);
            Ok(())
        }
        AppCommand::List(page) => {
            let apps = list_pages(page, |params| async move { client.list_apps(&params).await }).await?;
            if json {
                return output::json(&apps);
            }
            let rows = apps
                .items
                .iter()
                .map(|app| vec![app.app_id.clone(), app.name.clone(), app.platforms.join(","), app.created_at.clone()])
                .collect::<Vec<_>>();
            output::table(&["app id", "name", "platforms", "created"], &rows);
            Ok(())
        }
        AppCommand::Show { app_id } => {
            let app_id = resolve.app(&app_id).await?;
            let details = client.show_app(&app_id).await?;
            if json {
                return output::json(&details);
            }
            println!(
                "{} ({})  platforms: {}  created {}",
                details.app.name,
                details.app.app_id,
                details.app.platforms.join(","),
                details.app.created_at
            );
            println!();
            output::table(&["workspace id", "name", "created"], &workspace_rows(&details.workspaces));
            println!();
            print_keys(&details.keys);
            Ok(())
        }
    }
}

pub async fn workspace(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: WorkspaceCommand,
    json: bool,
) -> anyhow::Result<()> {
    let workspaces = match command {
        WorkspaceCommand::Create { app_id, name } => {
            let app_id = resolve.app(&app_id).await?;
            let created = client.create_workspace(&app_id, &CreateWorkspaceRequest { name }).await?;
            if json {
                return output::json(&created);
            }
            vec![created]
        }
        WorkspaceCommand::List { app_id } => {
            let app_id = resolve.app(&app_id).await?;
            let listed = client.list_workspaces(&app_id).await?;
            if json {
                return output::json(&listed);
            }
            listed.items
        }
    };
    output::table(&["workspace id", "name", "created"], &workspace_rows(&workspaces));
    Ok(())
}

pub async fn key(client: &AdminClient, resolve: &Resolver<'_>, command: KeyCommand, json: bool) -> anyhow::Result<()> {
    match command {
        KeyCommand::Rotate { app_id, grace_seconds } => {
            let app_id = resolve.app(&app_id).await?;
            let rotated = client.rotate_key(&app_id, &RotateKeyRequest { grace_seconds }).await?;
            if json {
                return output::json(&rotated);
            }
            println!(
                "new signing key {} for app {}; earlier keys expire at {}",
                rotated.key_id, rotated.app_id, rotated.previous_keys_expire_at
            );
            println!("its secret is shown only now:");
            println!("{}", rotated.secret);
            Ok(())
        }
        KeyCommand::List { app_id } => {
            let app_id = resolve.app(&app_id).await?;
            let keys = client.list_keys(&app_id).await?;
            if json {
                return output::json(&keys);
            }
            print_keys(&keys.items);
            Ok(())
        }
    }
}

pub async fn tenant(client: &AdminClient, command: TenantCommand, json: bool) -> anyhow::Result<()> {
    let tenants = match command {
        TenantCommand::Create { name } => {
            vec![client.create_tenant(&CreateTenantRequest { name }).await?]
        }
        TenantCommand::Show => vec![client.current_tenant().await?],
        TenantCommand::List(page) => {
            let listed = list_pages(page, |params| async move { client.list_tenants(&params).await }).await?;
            if json {
                return output::json(&listed);
            }
            listed.items
        }
    };
    if json {
        return output::json(&tenants[0]);
    }
    let rows = tenants
        .iter()
        .map(|tenant| vec![tenant.tenant_id.clone(), tenant.name.clone(), tenant.created_at.clone()])
        .collect::<Vec<_>>();
    output::table(&["tenant id", "name", "created"], &rows);
    Ok(())
}
