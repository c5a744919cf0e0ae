//! Tenants, apps, workspaces and app signing keys.

use midship_core::access::Action;
use midship_core::page::{Page, PageRequest};
use midship_core::secrets::new_app_secret;
use midship_core::tenancy::DEFAULT_WORKSPACES;
use midship_core::{App, AppKey, NewAuditEntry, Platform, Principal, Tenant, ValidationError, Workspace, validation};
use midship_storage::AppScope;
use serde_json::json;

use crate::{ControlError, ControlPlane};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewApp {
    pub name: String,
    pub platforms: Vec<String>,
    /// Workspace names; [`DEFAULT_WORKSPACES`] when `None`.
    pub workspaces: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct CreatedApp {
    pub app: App,
    pub workspaces: Vec<Workspace>,
    /// The first signing key with its secret, shown once.
    pub key: AppKey,
}

#[derive(Debug, Clone)]
pub struct AppDetails {
    pub app: App,
    pub workspaces: Vec<Workspace>,
    /// Keys with their secrets blanked.
    pub keys: Vec<AppKey>,
}

#[derive(Debug, Clone)]
pub struct RotatedKey {
    pub key: AppKey,
    pub previous_keys_expire_at: i64,
}

const MAX_WORKSPACES_PER_REQUEST: usize = 16;
/// A month: long enough for the slowest app release to reach devices, short enough to matter.
const MAX_KEY_GRACE_SECONDS: u64 = 30 * 24 * 60 * 60;

fn app_summary(app: &App, workspaces: &[Workspace]) -> serde_json::Value {
    json!({
        "name": app.name,
        "platforms": Platform::join(&app.platforms),
        "workspaces": workspaces.iter().map(|ws| &ws.name).collect::<Vec<_>>(),
    })
}

fn without_secret(key: AppKey) -> AppKey {
    AppKey { secret: String::new(), ..key }
}

impl ControlPlane {
    pub async fn create_tenant(&self, who: &Principal, name: &str) -> Result<Tenant, ControlError> {
        who.authorize(Action::ManageTenants)?;
        let name = validation::display_name("name", name)?;
        let now = self.now_ms();
        let tenant = Tenant { tenant_id: self.new_id(), name, created_at: now };
        let audit = NewAuditEntry::by(who, now, "tenant.create", "tenant", &tenant.tenant_id)
            .after(json!({ "name": tenant.name }));
        self.storage.create_tenant(&tenant, &audit).await?;
        Ok(tenant)
    }

    pub async fn list_tenants(&self, who: &Principal, page: &PageRequest) -> Result<Page<Tenant>, ControlError> {
        who.authorize(Action::ManageTenants)?;
        Ok(self.storage.list_tenants(page).await?)
    }

    pub async fn current_tenant(&self, who: &Principal) -> Result<Tenant, ControlError> {
        self.storage.get_tenant(&who.tenant_id).await?.ok_or_else(|| ControlError::not_found("tenant", &who.tenant_id))
    }

    pub async fn create_app(&self, who: &Principal, request: NewApp) -> Result<CreatedApp, ControlError> {
        who.authorize(Action::ManageApps)?;
        let name = validation::display_name("name", &request.name)?;
        let platforms = Platform::parse_each(&request.platforms)?;
        let workspace_names = match request.workspaces {
            None => DEFAULT_WORKSPACES.iter().map(|name| (*name).to_owned()).collect(),
            Some(names) => {
                if names.is_empty() || names.len() > MAX_WORKSPACES_PER_REQUEST {
                    return Err(ValidationError::new("workspaces", "must name 1 to 16 workspaces").into());
                }
                let mut checked = Vec::with_capacity(names.len());
                for name in names {
                    let name = validation::slug("workspaces", &name)?;
                    if checked.contains(&name) {
                        return Err(ValidationError::new("workspaces", format!("`{name}` is named twice")).into());
                    }
                    checked.push(name);
                }
                checked
            }
        };
        let now = self.now_ms();
        let app = App { app_id: self.new_id(), tenant_id: who.tenant_id.clone(), name, platforms, created_at: now };
        let workspaces: Vec<Workspace> = workspace_names
            .into_iter()
            .map(|name| Workspace { workspace_id: self.new_id(), app_id: app.app_id.clone(), name, created_at: now })
            .collect();
        let key = AppKey {
            key_id: self.new_id(),
            app_id: app.app_id.clone(),
            secret: new_app_secret(&mut rand::rng()),
            created_at: now,
            expires_at: None,
        };
        let audit = NewAuditEntry::by(who, now, "app.create", "app", &app.app_id)
            .in_app(&app.app_id)
            .after(app_summary(&app, &workspaces));
        self.storage.create_app(&app, &workspaces, &key, &audit).await.map_err(|error| match error {
            midship_storage::StorageError::Conflict { entity: "app" } => {
                ControlError::Conflict(format!("an app named `{}` already exists", app.name))
            }
            other => other.into(),
        })?;
        Ok(CreatedApp { app, workspaces, key })
    }

    pub async fn list_apps(&self, who: &Principal, page: &PageRequest) -> Result<Page<App>, ControlError> {
        who.authorize(Action::Read)?;
        let scope = AppScope { tenant_id: who.tenant_id.clone(), only_app_ids: who.app_ids.clone() };
        Ok(self.storage.list_apps(&scope, page).await?)
    }

    /// The app, if it exists in the caller's tenant and scope; "not found" otherwise, so a token
    /// cannot probe for other tenants' apps.
    pub async fn visible_app(&self, who: &Principal, app_id: &str) -> Result<App, ControlError> {
        if !midship_core::ids::looks_like_id(app_id) || !who.can_see_app(app_id) {
            return Err(ControlError::not_found("app", app_id));
        }
        let now = self.now_ms();
        let app = self.lookups.apps.get_or_load(app_id.to_owned(), now, self.storage.get_app(app_id)).await?;
        app.filter(|app| app.tenant_id == who.tenant_id).ok_or_else(|| ControlError::not_found("app", app_id))
    }

    async fn cached_workspace(&self, workspace_id: &str) -> Result<Option<Workspace>, ControlError> {
        let load = self.storage.get_workspace(workspace_id);
        Ok(self.lookups.workspaces.get_or_load(workspace_id.to_owned(), self.now_ms(), load).await?)
    }

    /// The workspace and its app, if both are inside the caller's tenant and scope.
    pub async fn visible_workspace(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<(App, Workspace), ControlError> {
        let workspace = if midship_core::ids::looks_like_id(workspace_id) {
            self.cached_workspace(workspace_id).await?
        } else {
            None
        };
        let workspace = workspace.ok_or_else(|| ControlError::not_found("workspace", workspace_id))?;
        let app = match self.visible_app(who, &workspace.app_id).await {
            Err(ControlError::NotFound { .. }) => {
                return Err(ControlError::not_found("workspace", workspace_id));
            }
            other => other?,
        };
        Ok((app, workspace))
    }

    /// [`Self::visible_workspace`] where the caller may also do `action` in its app: the check
    /// every service runs before touching a workspace.
    pub async fn authorized_workspace(
        &self,
        who: &Principal,
        workspace_id: &str,
        action: Action,
    ) -> Result<(App, Workspace), ControlError> {
        let (app, workspace) = self.visible_workspace(who, workspace_id).await?;
        who.authorize_app(action, &app.app_id)?;
        Ok((app, workspace))
    }

    pub async fn app_details(&self, who: &Principal, app_id: &str) -> Result<AppDetails, ControlError> {
        who.authorize(Action::Read)?;
        let app = self.visible_app(who, app_id).await?;
        let workspaces = self.storage.list_workspaces(app_id).await?;
        let keys = self.storage.list_app_keys(app_id).await?.into_iter().map(without_secret).collect();
        Ok(AppDetails { app, workspaces, keys })
    }

    pub async fn list_workspaces(&self, who: &Principal, app_id: &str) -> Result<Vec<Workspace>, ControlError> {
        who.authorize(Action::Read)?;
        self.visible_app(who, app_id).await?;
        Ok(self.storage.list_workspaces(app_id).await?)
    }

    pub async fn create_workspace(&self, who: &Principal, app_id: &str, name: &str) -> Result<Workspace, ControlError> {
        let app = self.visible_app(who, app_id).await?;
        who.authorize_app(Action::ManageApps, &app.app_id)?;
        let name = validation::slug("name", name)?;
        let now = self.now_ms();
        let workspace = Workspace { workspace_id: self.new_id(), app_id: app.app_id.clone(), name, created_at: now };
        let audit = NewAuditEntry::by(who, now, "workspace.create", "workspace", &workspace.workspace_id)
            .in_app(&app.app_id)
            .after(json!({ "name": workspace.name }));
        self.storage.create_workspace(&workspace, &audit).await.map_err(|error| match error {
            midship_storage::StorageError::Conflict { .. } => {
                ControlError::Conflict(format!("app {} already has a workspace named `{}`", app.app_id, workspace.name))
            }
            other => other.into(),
        })?;
        Ok(workspace)
    }

    pub async fn list_keys(&self, who: &Principal, app_id: &str) -> Result<Vec<AppKey>, ControlError> {
        Ok(self.app_details(who, app_id).await?.keys)
    }

    /// Issues a new signing secret; earlier keys keep working for the grace period.
    pub async fn rotate_key(
        &self,
        who: &Principal,
        app_id: &str,
        grace_seconds: Option<u64>,
    ) -> Result<RotatedKey, ControlError> {
        let app = self.visible_app(who, app_id).await?;
        who.authorize_app(Action::ManageApps, &app.app_id)?;
        let grace_ms = match grace_seconds {
            Some(seconds) if seconds > MAX_KEY_GRACE_SECONDS => {
                return Err(ValidationError::new("grace_seconds", "must be at most 30 days (2592000)").into());
            }
            Some(seconds) => seconds as i64 * 1000,
            None => self.settings.key_grace_ms,
        };
        let now = self.now_ms();
        let previous_keys_expire_at = now + grace_ms;
        let key = AppKey {
            key_id: self.new_id(),
            app_id: app.app_id.clone(),
            secret: new_app_secret(&mut rand::rng()),
            created_at: now,
            expires_at: None,
        };
        let previous: Vec<String> = self
            .storage
            .list_app_keys(app_id)
            .await?
            .into_iter()
            .filter(|existing| existing.is_valid_at(now))
            .map(|existing| existing.key_id)
            .collect();
        let audit = NewAuditEntry::by(who, now, "app.key.rotate", "app", &app.app_id)
            .in_app(&app.app_id)
            .before(json!({ "valid_keys": previous }))
            .after(json!({ "new_key": key.key_id, "previous_keys_expire_at": previous_keys_expire_at }));
        self.storage.rotate_app_key(&key, previous_keys_expire_at, &audit).await?;
        Ok(RotatedKey { key, previous_keys_expire_at })
    }
}
