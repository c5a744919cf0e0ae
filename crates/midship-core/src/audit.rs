//! The audit log: every change made through the admin API, who made it, and what it changed.
//! Entries are written in the same transaction as the change they describe.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Principal;
use crate::clock::UnixMillis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub tenant_id: String,
    pub at: UnixMillis,
    /// The API token used; `None` for a person's change or one the server makes by itself (the
    /// first-start bootstrap).
    pub actor_token_id: Option<String>,
    /// The person signed in to the console, or who owns the token used.
    pub actor_person_id: Option<String>,
    /// The token's name or the person's login.
    pub actor_name: String,
    /// Dotted verb such as `app.create` or `token.revoke`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub app_id: Option<String>,
    /// Summaries of the target before and after; never secrets.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl NewAuditEntry {
    pub fn by(principal: &Principal, at: UnixMillis, action: &str, target_kind: &str, target_id: &str) -> Self {
        Self {
            tenant_id: principal.tenant_id.clone(),
            at,
            actor_token_id: principal.token_id().map(str::to_owned),
            actor_person_id: principal.person_id().map(str::to_owned),
            actor_name: principal.actor_name().to_owned(),
            action: action.to_owned(),
            target_kind: target_kind.to_owned(),
            target_id: target_id.to_owned(),
            app_id: None,
            before: None,
            after: None,
        }
    }

    pub fn in_app(self, app_id: &str) -> Self {
        Self { app_id: Some(app_id.to_owned()), ..self }
    }

    pub fn before(self, summary: Value) -> Self {
        Self { before: Some(summary), ..self }
    }

    pub fn after(self, summary: Value) -> Self {
        Self { after: Some(summary), ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the tenant's log; newer entries have larger numbers.
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub app_id: Option<String>,
    pub action: Option<String>,
    /// Limits the log to the apps an app-scoped token may see.
    pub visible_apps: Option<Vec<String>>,
}
