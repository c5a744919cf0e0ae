//! Names wherever ids are: `--app "Mobile Bank"`, `--workspace prod`, `--app "Mobile Bank"
//! --workspace prod` or `--workspace "Mobile Bank/prod"` are looked up once through the admin API;
//! an id is used as it is, with no lookup. Without `--workspace` (or `--app`), the current
//! context's are used (`midship context use NAME --app … --workspace …`).

use anyhow::{Context, bail};
use midship_admin_client::{AdminClient, PageParams};
use midship_api::{AppView, WorkspaceView};
use midship_core::ids::looks_like_id;
use tokio::sync::OnceCell;

/// The `--workspace` (and `--app`) of every command that works in a workspace.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkspaceArg {
    /// The workspace: its id, its name (alone when one app has it, or with --app) or APP/NAME
    /// [default: the current context's].
    #[arg(long = "workspace", default_value = "", hide_default_value = true)]
    pub workspace: String,
    /// The app whose workspace --workspace names [default: the current context's].
    #[arg(long = "app")]
    pub app: Option<String>,
}

impl WorkspaceArg {
    pub fn named(workspace: String) -> Self {
        Self { workspace, app: None }
    }
}

/// What the current context says when a command does not.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub app: Option<String>,
    pub workspace: Option<String>,
}

#[derive(Debug)]
pub struct Resolver<'a> {
    client: &'a AdminClient,
    apps: OnceCell<Vec<AppView>>,
    defaults: Defaults,
}

impl<'a> Resolver<'a> {
    pub fn new(client: &'a AdminClient, defaults: Defaults) -> Self {
        Self { client, apps: OnceCell::new(), defaults }
    }

    /// Every app the token sees, read once.
    async fn apps(&self) -> anyhow::Result<&[AppView]> {
        let apps = self
            .apps
            .get_or_try_init(|| async {
                let mut apps = Vec::new();
                let mut cursor = None;
                loop {
                    let page = self.client.list_apps(&PageParams { limit: Some(200), cursor }).await?;
                    apps.extend(page.items);
                    cursor = page.next_cursor;
                    if cursor.is_none() {
                        return anyhow::Ok(apps);
                    }
                }
            })
            .await
            .context("cannot list the apps to find one by name")?;
        Ok(apps)
    }

    /// An app's id from its id or its name (compared without case).
    pub async fn app(&self, reference: &str) -> anyhow::Result<String> {
        if looks_like_id(reference) {
            return Ok(reference.to_owned());
        }
        let named: Vec<&AppView> =
            self.apps().await?.iter().filter(|app| app.name.eq_ignore_ascii_case(reference.trim())).collect();
        match named.as_slice() {
            [app] => Ok(app.app_id.clone()),
            [] => bail!("no app named {reference:?} (midship app list shows them)"),
            several => {
                let ids: Vec<&str> = several.iter().map(|app| app.app_id.as_str()).collect();
                bail!("several apps are named {reference:?} ({}): give the id", ids.join(", "))
            }
        }
    }

    /// Each app's id, from ids or names.
    pub async fn apps_of(&self, references: &[String]) -> anyhow::Result<Vec<String>> {
        let mut app_ids = Vec::with_capacity(references.len());
        for reference in references {
            app_ids.push(self.app(reference).await?);
        }
        Ok(app_ids)
    }

    /// A workspace's id from its id, `APP/WORKSPACE` (names or ids), a workspace name in `--app`
    /// (or the context's app), or a workspace name that only one app has; with no `--workspace`,
    /// the context's.
    pub async fn workspace(&self, given: &WorkspaceArg) -> anyhow::Result<String> {
        let typed = given.workspace.trim();
        let (reference, app) = if typed.is_empty() {
            let Some(workspace) = &self.defaults.workspace else {
                bail!("give --workspace (or save one in the context: midship context use NAME --workspace WS)");
            };
            (workspace.as_str(), given.app.as_ref().or(self.defaults.app.as_ref()))
        } else {
            (typed, given.app.as_ref().or(self.defaults.app.as_ref()))
        };
        if looks_like_id(reference) {
            return Ok(reference.to_owned());
        }
        let (app_ids, name) = match (reference.rsplit_once('/'), app) {
            (Some((app, name)), _) => (vec![self.app(app).await?], name),
            (None, Some(app)) => (vec![self.app(app).await?], reference),
            (None, None) => (self.apps().await?.iter().map(|app| app.app_id.clone()).collect(), reference),
        };
        let mut found: Vec<(String, WorkspaceView)> = Vec::new();
        for app_id in app_ids {
            let workspaces = self.client.list_workspaces(&app_id).await?.items;
            found.extend(
                workspaces
                    .into_iter()
                    .filter(|workspace| workspace.name.eq_ignore_ascii_case(name.trim()))
                    .map(|workspace| (app_id.clone(), workspace)),
            );
        }
        match found.as_slice() {
            [(_, workspace)] => Ok(workspace.workspace_id.clone()),
            [] => bail!("no workspace named {reference:?} (midship workspace list --app APP shows them)"),
            several => {
                let apps = self.apps().await?;
                let names: Vec<String> = several
                    .iter()
                    .map(|(app_id, _)| {
                        let app = apps
                            .iter()
                            .find(|app| &app.app_id == app_id)
                            .map_or(app_id.as_str(), |app| app.name.as_str());
                        format!("{app}/{name}")
                    })
                    .collect();
                bail!("several apps have a workspace named {reference:?}: write one of {}", names.join(", "))
            }
        }
    }
}
