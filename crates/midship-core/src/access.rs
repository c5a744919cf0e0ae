//! Who may do what. A token carries a role, a tenant and optionally a list of apps; every admin
//! operation names an [`Action`] and asks the caller's [`Principal`] whether it is allowed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::tenancy::DEFAULT_TENANT_ID;
use crate::validation::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the tenant, including people and tokens.
    Admin,
    /// Builds apps: creates apps and workspaces, rotates keys, connects backends and outside
    /// systems, and operates releases.
    Developer,
    /// Runs the app in production: releases, pushes, switches; cannot create apps, nor act for
    /// the app's backend or send data to outside systems.
    Operator,
    /// Reads everything, changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Developer, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Read => true,
            Action::ManageApps | Action::Integrate => matches!(self, Role::Admin | Role::Developer),
            Action::Operate => matches!(self, Role::Admin | Role::Developer | Role::Operator),
            Action::ManageAccess | Action::ManageTenants => self == Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == text).ok_or_else(|| {
            ValidationError::new(
                "role",
                format!("unknown role `{text}` (expected admin, developer, operator or viewer)"),
            )
        })
    }
}

/// Kinds of operation, coarse on purpose: roles are easy to reason about when there are few rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Any read: lists, details, reports, the audit log.
    Read,
    /// Create apps and workspaces, rotate app keys.
    ManageApps,
    /// Day-to-day changes inside an app: releases, switches, pushes, configuration rollbacks.
    Operate,
    /// What a backend or an outside system is trusted with, so a leaked or misused operator token
    /// cannot do it: connection tokens that vouch for a user, binding devices to users, alert
    /// webhooks (data sent to outside URLs), configuration imports (a workspace's switches
    /// replaced wholesale).
    Integrate,
    /// Create and revoke tokens.
    ManageAccess,
    /// Create tenants; only for admins of the installation's own tenant.
    ManageTenants,
}

impl Action {
    pub fn describe(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::ManageApps => "manage apps",
            Action::Operate => "operate apps",
            Action::Integrate => "configure integrations",
            Action::ManageAccess => "manage access tokens",
            Action::ManageTenants => "manage tenants",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {role} role cannot {action}{scope}")]
pub struct AccessDenied {
    pub role: Role,
    pub action: &'static str,
    pub scope: String,
}

/// A stored admin API token. The plain token is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token_id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: Role,
    /// `None`: every app of the tenant. `Some`: only these apps.
    pub app_ids: Option<Vec<String>>,
    pub token_hash: String,
    /// The first characters of the token, to tell tokens apart in lists.
    pub hint: String,
    pub created_at: UnixMillis,
    /// Token id of whoever created this one; `None` for the bootstrap admin token.
    pub created_by: Option<String>,
    pub expires_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

impl TokenRecord {
    pub fn is_active_at(&self, now_ms: UnixMillis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires_at| now_ms < expires_at)
    }

    pub fn principal(&self) -> Principal {
        Principal {
            actor: Actor::Token { token_id: self.token_id.clone(), name: self.name.clone() },
            tenant_id: self.tenant_id.clone(),
            role: self.role,
            app_ids: self.app_ids.clone(),
        }
    }
}

/// Who acts: a machine holding an API token, or a person signed in to the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Token { token_id: String, name: String },
    Person { person_id: String, login: String },
}

/// The authenticated caller of an admin operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    pub tenant_id: String,
    pub role: Role,
    pub app_ids: Option<Vec<String>>,
}

impl Principal {
    /// The token's or the person's id.
    pub fn actor_id(&self) -> &str {
        match &self.actor {
            Actor::Token { token_id, .. } => token_id,
            Actor::Person { person_id, .. } => person_id,
        }
    }

    /// What the audit log and version history show: the token's name or the person's login.
    pub fn actor_name(&self) -> &str {
        match &self.actor {
            Actor::Token { name, .. } => name,
            Actor::Person { login, .. } => login,
        }
    }

    pub fn token_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::Token { token_id, .. } => Some(token_id),
            Actor::Person { .. } => None,
        }
    }

    pub fn person_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::Person { person_id, .. } => Some(person_id),
            Actor::Token { .. } => None,
        }
    }

    /// Whether the token's scope covers this app (a tenant-wide token sees all of its apps).
    pub fn can_see_app(&self, app_id: &str) -> bool {
        self.app_ids.as_ref().is_none_or(|apps| apps.iter().any(|scoped| scoped == app_id))
    }

    pub fn is_tenant_wide(&self) -> bool {
        self.app_ids.is_none()
    }

    /// Checks an action that is not about one app (tenant-wide ones need a tenant-wide token).
    pub fn authorize(&self, action: Action) -> Result<(), AccessDenied> {
        let needs_tenant_wide = matches!(action, Action::ManageApps | Action::ManageTenants);
        if !self.role.allows(action) || (needs_tenant_wide && !self.is_tenant_wide()) {
            return Err(self.denied(action, ""));
        }
        if action == Action::ManageTenants && self.tenant_id != DEFAULT_TENANT_ID {
            return Err(self.denied(action, " outside the installation tenant"));
        }
        Ok(())
    }

    /// Checks an action on one app; callers check [`Principal::can_see_app`] first so an app
    /// outside the token's scope answers "not found" rather than revealing that it exists.
    pub fn authorize_app(&self, action: Action, app_id: &str) -> Result<(), AccessDenied> {
        if !self.role.allows(action) {
            return Err(self.denied(action, ""));
        }
        if !self.can_see_app(app_id) {
            return Err(self.denied(action, &format!(" on app {app_id}")));
        }
        Ok(())
    }

    /// A token may only hand out access it holds itself: same or narrower app scope.
    pub fn authorize_token_grant(&self, requested_apps: Option<&[String]>) -> Result<(), AccessDenied> {
        self.authorize_any_scope(Action::ManageAccess)?;
        match (&self.app_ids, requested_apps) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(self.denied(Action::ManageAccess, " for every app of the tenant")),
            (Some(_), Some(requested)) => match requested.iter().find(|app| !self.can_see_app(app)) {
                Some(outside) => Err(self.denied(Action::ManageAccess, &format!(" on app {outside}"))),
                None => Ok(()),
            },
        }
    }

    fn authorize_any_scope(&self, action: Action) -> Result<(), AccessDenied> {
        if self.role.allows(action) { Ok(()) } else { Err(self.denied(action, "")) }
    }

    fn denied(&self, action: Action, scope: &str) -> AccessDenied {
        AccessDenied { role: self.role, action: action.describe(), scope: scope.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, app_ids: Option<Vec<&str>>) -> Principal {
        Principal {
            actor: Actor::Token { token_id: "t".into(), name: "test".into() },
            tenant_id: DEFAULT_TENANT_ID.into(),
            role,
            app_ids: app_ids.map(|apps| apps.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn viewers_change_nothing() {
        let viewer = principal(Role::Viewer, None);
        assert!(viewer.authorize(Action::Read).is_ok());
        for action in
            [Action::ManageApps, Action::Operate, Action::Integrate, Action::ManageAccess, Action::ManageTenants]
        {
            assert!(viewer.authorize(action).is_err(), "viewer allowed to {action:?}");
        }
    }

    #[test]
    fn role_matrix() {
        assert!(principal(Role::Developer, None).authorize(Action::ManageApps).is_ok());
        assert!(principal(Role::Operator, None).authorize(Action::ManageApps).is_err());
        assert!(principal(Role::Operator, None).authorize(Action::Operate).is_ok());
        assert!(principal(Role::Developer, None).authorize(Action::ManageAccess).is_err());
        assert!(principal(Role::Admin, None).authorize(Action::ManageTenants).is_ok());
    }

    #[test]
    fn integrations_need_a_developer() {
        for role in Role::ALL {
            let allowed = principal(role, None).authorize(Action::Integrate).is_ok();
            assert_eq!(allowed, matches!(role, Role::Admin | Role::Developer), "{role}");
        }
        let denied = principal(Role::Operator, None).authorize_app(Action::Integrate, "A").unwrap_err();
        assert_eq!(denied.to_string(), "the operator role cannot configure integrations");
        let scoped = principal(Role::Developer, Some(vec!["A"]));
        assert!(scoped.authorize_app(Action::Integrate, "A").is_ok(), "app-scoped developers integrate their apps");
        assert!(scoped.authorize_app(Action::Integrate, "B").is_err());
    }

    #[test]
    fn app_scoped_tokens_stay_in_scope() {
        let scoped = principal(Role::Admin, Some(vec!["A"]));
        assert!(scoped.can_see_app("A"));
        assert!(!scoped.can_see_app("B"));
        assert!(scoped.authorize(Action::ManageApps).is_err(), "scoped tokens create no apps");
        assert!(scoped.authorize_app(Action::ManageApps, "A").is_ok());
        assert!(scoped.authorize_token_grant(Some(&["A".to_owned()])).is_ok());
        assert!(scoped.authorize_token_grant(Some(&["B".to_owned()])).is_err());
        assert!(scoped.authorize_token_grant(None).is_err());
    }

    #[test]
    fn tenants_are_managed_only_from_the_installation_tenant() {
        let mut other = principal(Role::Admin, None);
        other.tenant_id = "T2".into();
        assert!(other.authorize(Action::ManageTenants).is_err());
    }

    #[test]
    fn revoked_and_expired_tokens_are_inactive() {
        let mut record = TokenRecord {
            token_id: "t".into(),
            tenant_id: "default".into(),
            name: "ci".into(),
            role: Role::Viewer,
            app_ids: None,
            token_hash: "h".into(),
            hint: "msp_x…".into(),
            created_at: 0,
            created_by: None,
            expires_at: Some(10),
            revoked_at: None,
        };
        assert!(record.is_active_at(9));
        assert!(!record.is_active_at(10));
        record.expires_at = None;
        record.revoked_at = Some(5);
        assert!(!record.is_active_at(6));
    }
}
