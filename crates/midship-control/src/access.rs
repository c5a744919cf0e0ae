//! Admin API tokens: authentication, creation, listing and revocation.

use std::str::FromStr;

use midship_core::access::{Action, Role, TokenRecord};
use midship_core::page::{Page, PageRequest};
use midship_core::secrets::{TOKEN_PREFIX, hash_api_token, new_api_token, token_hint};
use midship_core::{NewAuditEntry, Principal, ValidationError, validation};
use serde_json::json;

use crate::{ControlError, ControlPlane};

/// What a caller asks for when creating a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: String,
    pub app_ids: Option<Vec<String>>,
    pub expires_in_seconds: Option<u64>,
}

/// A created token; `token` is the secret, shown once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub token: String,
}

const MAX_TOKEN_LIFETIME_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;

fn token_summary(record: &TokenRecord) -> serde_json::Value {
    json!({
        "name": record.name,
        "role": record.role.as_str(),
        "app_ids": record.app_ids,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
    })
}

impl ControlPlane {
    /// Resolves a bearer token to its principal.
    /// The caller of an admin API request: an API token, or a person's session that
    /// `midship login` began (their console session's rules apply: timeouts, sign-out, and
    /// nothing owed).
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, ControlError> {
        if bearer.starts_with(midship_core::secrets::SESSION_PREFIX) {
            let signed_in = self.authenticate_session(bearer).await?;
            if signed_in.owes(self).is_some() {
                return Err(ControlError::Unauthenticated);
            }
            return Ok(signed_in.principal);
        }
        if !bearer.starts_with(TOKEN_PREFIX) || bearer.len() > 128 {
            return Err(ControlError::Unauthenticated);
        }
        let hash = hash_api_token(bearer);
        let now = self.now_ms();
        let record = self.lookups.tokens.get_or_load(hash.clone(), now, self.storage.find_token_by_hash(&hash)).await?;
        match record {
            Some(record) if record.is_active_at(self.now_ms()) => Ok(record.principal()),
            _ => Err(ControlError::Unauthenticated),
        }
    }

    pub async fn create_token(&self, who: &Principal, request: NewToken) -> Result<IssuedToken, ControlError> {
        let name = validation::display_name("name", &request.name)?;
        let role = Role::from_str(&request.role)?;
        let app_ids = normalize_app_ids(request.app_ids)?;
        who.authorize_token_grant(app_ids.as_deref())?;
        for app_id in app_ids.iter().flatten() {
            self.visible_app(who, app_id).await?;
        }
        let now = self.now_ms();
        let expires_at = match request.expires_in_seconds {
            Some(0) => {
                return Err(ValidationError::new("expires_in_seconds", "must be positive").into());
            }
            Some(seconds) if seconds > MAX_TOKEN_LIFETIME_SECONDS => {
                return Err(ValidationError::new("expires_in_seconds", "must be at most ten years").into());
            }
            Some(seconds) => Some(now + (seconds as i64) * 1000),
            None => None,
        };
        let token = new_api_token(&mut rand::rng());
        let record = TokenRecord {
            token_id: self.new_id(),
            tenant_id: who.tenant_id.clone(),
            name,
            role,
            app_ids,
            token_hash: hash_api_token(&token),
            hint: token_hint(&token),
            created_at: now,
            created_by: Some(who.actor_id().to_owned()),
            expires_at,
            revoked_at: None,
        };
        let audit =
            NewAuditEntry::by(who, now, "token.create", "token", &record.token_id).after(token_summary(&record));
        self.storage.create_token(&record, &audit).await?;
        Ok(IssuedToken { record, token })
    }

    pub async fn list_tokens(&self, who: &Principal, page: &PageRequest) -> Result<Page<TokenRecord>, ControlError> {
        // App-scoped admins manage tokens too, but only see the ones inside their scope.
        who.authorize(Action::ManageAccess)?;
        let mut tokens = self.storage.list_tokens(&who.tenant_id, page).await?;
        tokens.items.retain(|token| token_within_scope(who, token));
        Ok(tokens)
    }

    pub async fn revoke_token(&self, who: &Principal, token_id: &str) -> Result<TokenRecord, ControlError> {
        let record = self
            .storage
            .get_token(token_id)
            .await?
            .filter(|record| record.tenant_id == who.tenant_id && token_within_scope(who, record))
            .ok_or_else(|| ControlError::not_found("token", token_id))?;
        who.authorize_token_grant(record.app_ids.as_deref())?;
        let now = self.now_ms();
        let audit =
            NewAuditEntry::by(who, now, "token.revoke", "token", token_id).before(token_summary(&record)).after(
                token_summary(&TokenRecord { revoked_at: Some(record.revoked_at.unwrap_or(now)), ..record.clone() }),
            );
        self.storage.revoke_token(token_id, now, &audit).await?;
        self.lookups.tokens.forget(&record.token_hash);
        self.storage.get_token(token_id).await?.ok_or_else(|| ControlError::not_found("token", token_id))
    }
}

/// An app scope as given: at least one app, or `None` for every app; sorted, without repeats.
pub(crate) fn normalize_app_ids(app_ids: Option<Vec<String>>) -> Result<Option<Vec<String>>, ControlError> {
    match app_ids {
        Some(app_ids) if app_ids.is_empty() => {
            Err(ValidationError::new("app_ids", "must name at least one app, or be absent for every app").into())
        }
        Some(mut app_ids) => {
            app_ids.sort();
            app_ids.dedup();
            Ok(Some(app_ids))
        }
        None => Ok(None),
    }
}

fn token_within_scope(who: &Principal, token: &TokenRecord) -> bool {
    scope_within(who, token.app_ids.as_ref())
}

/// An app-scoped caller sees only the tokens and people whose apps all lie inside its own scope.
pub(crate) fn scope_within(who: &Principal, app_ids: Option<&Vec<String>>) -> bool {
    match (&who.app_ids, app_ids) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(_), Some(apps)) => apps.iter().all(|app| who.can_see_app(app)),
    }
}
