//! Named contexts: a server and the token to use with it, saved once so commands need neither
//! `--server` nor `--token`. Kept in `$XDG_CONFIG_HOME/midship/contexts.toml` (or
//! `~/.config/midship/…`, or `$MIDSHIP_CONTEXTS` when set), readable by its owner only.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contexts {
    /// The context commands use when no `--server` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, SavedContext>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedContext {
    pub server: String,
    pub token: String,
    /// The app whose workspaces `--workspace NAME` names, when a command gives no `--app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The workspace commands use when they give no `--workspace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Save a server and token under a name (the token from --token or MIDSHIP_TOKEN), and use it.
    Add {
        name: String,
        /// The server's base URL, such as https://midship.bank.example.
        #[arg(long = "url")]
        url: String,
    },
    /// Use this context from now on; `--app` and `--workspace` become what commands use when they
    /// name none (`--workspace ""` forgets it).
    Use {
        name: String,
        #[arg(long)]
        app: Option<String>,
        #[arg(long)]
        workspace: Option<String>,
    },
    /// The saved contexts; `*` marks the current one.
    List,
    /// Forget a context (the token stays valid: revoke it with `midship token revoke`).
    Remove { name: String },
}

pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("MIDSHIP_CONTEXTS") {
        return Ok(PathBuf::from(path));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(config) if !config.is_empty() => PathBuf::from(config),
        _ => {
            PathBuf::from(std::env::var_os("HOME").context("neither XDG_CONFIG_HOME nor HOME is set")?).join(".config")
        }
    };
    Ok(base.join("midship").join("contexts.toml"))
}

impl Contexts {
    pub fn load() -> anyhow::Result<Self> {
        let path = path()?;
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("cannot read {}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file whole (a temporary file renamed over it), mode 0600: it holds tokens.
    pub fn save(&self) -> anyhow::Result<()> {
        let path = path()?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let temporary = path.with_extension("tmp");
        let text = toml::to_string(self).context("cannot write the contexts")?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, &path).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn current(&self) -> Option<(&str, &SavedContext)> {
        let name = self.current.as_deref()?;
        self.contexts.get(name).map(|context| (name, context))
    }
}

pub fn run(command: ContextCommand, token: Option<&str>) -> anyhow::Result<()> {
    let mut contexts = Contexts::load()?;
    match command {
        ContextCommand::Add { name, url } => {
            let Some(token) = token else {
                bail!("give the token with --token or MIDSHIP_TOKEN (it is saved, not printed)");
            };
            url::Url::parse(&url).with_context(|| format!("{url} is not a URL"))?;
            let context = SavedContext { server: url, token: token.to_owned(), app: None, workspace: None };
            contexts.contexts.insert(name.clone(), context);
            contexts.current = Some(name.clone());
            contexts.save()?;
            println!("saved context {name} in {} and made it current", path()?.display());
        }
        ContextCommand::Use { name, app, workspace } => {
            let Some(context) = contexts.contexts.get_mut(&name) else {
                bail!("no context named {name} (midship context list shows them)");
            };
            let non_empty = |text: String| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
            if let Some(app) = app {
                context.app = non_empty(app);
            }
            if let Some(workspace) = workspace {
                context.workspace = non_empty(workspace);
            }
            let scope = match (&context.app, &context.workspace) {
                (Some(app), Some(workspace)) => format!(" (app {app}, workspace {workspace})"),
                (None, Some(workspace)) => format!(" (workspace {workspace})"),
                (Some(app), None) => format!(" (app {app})"),
                (None, None) => String::new(),
            };
            contexts.current = Some(name.clone());
            contexts.save()?;
            println!("using context {name}{scope}");
        }
        ContextCommand::List => {
            for (name, context) in &contexts.contexts {
                let marker = if contexts.current.as_deref() == Some(name) { "*" } else { " " };
                let scope =
                    [context.app.as_deref(), context.workspace.as_deref()].into_iter().flatten().collect::<Vec<_>>();
                println!("{marker} {name}\t{}\t{}", context.server, scope.join("/"));
            }
        }
        ContextCommand::Remove { name } => {
            if contexts.contexts.remove(&name).is_none() {
                bail!("no context named {name}");
            }
            if contexts.current.as_deref() == Some(&name) {
                contexts.current = None;
            }
            contexts.save()?;
            println!("removed context {name}");
        }
    }
    Ok(())
}
