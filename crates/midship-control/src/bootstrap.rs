//! First start: the installation tenant and its first admin token.

use midship_core::access::{Role, TokenRecord};
use midship_core::secrets::{hash_api_token, new_api_token, token_hint};
use midship_core::tenancy::DEFAULT_TENANT_ID;
use midship_core::{NewAuditEntry, Tenant};
use midship_storage::Bootstrap;
use serde_json::json;

use crate::{ControlError, ControlPlane};

/// The admin token made on first start; the caller shows it once and saves it for the operator.
#[derive(Debug)]
pub struct BootstrapToken {
    pub token_id: String,
    pub token: String,
}

impl ControlPlane {
    /// Creates the installation tenant and an admin token if the database has no tenant yet.
    /// `persist` runs before the token is committed, so a token that could not be handed to the
    /// operator never becomes valid.
    pub async fn bootstrap<F>(&self, persist: F) -> Result<Option<BootstrapToken>, ControlError>
    where
        F: FnOnce(&BootstrapToken) -> std::io::Result<()>,
    {
        let now = self.now_ms();
        let token = BootstrapToken { token_id: self.new_id(), token: new_api_token(&mut rand::rng()) };
        let tenant = Tenant { tenant_id: DEFAULT_TENANT_ID.to_owned(), name: "Default".to_owned(), created_at: now };
        let admin_token = TokenRecord {
            token_id: token.token_id.clone(),
            tenant_id: tenant.tenant_id.clone(),
            name: "bootstrap admin".to_owned(),
            role: Role::Admin,
            app_ids: None,
            token_hash: hash_api_token(&token.token),
            hint: token_hint(&token.token),
            created_at: now,
            created_by: None,
            expires_at: None,
            revoked_at: None,
        };
        let audit = NewAuditEntry {
            tenant_id: tenant.tenant_id.clone(),
            at: now,
            actor_token_id: None,
            actor_person_id: None,
            actor_name: "midship".to_owned(),
            action: "tenant.bootstrap".to_owned(),
            target_kind: "tenant".to_owned(),
            target_id: tenant.tenant_id.clone(),
            app_id: None,
            before: None,
            after: Some(json!({ "tenant_id": tenant.tenant_id, "admin_token_id": token.token_id })),
        };
        if self.storage.get_tenant(DEFAULT_TENANT_ID).await?.is_some() {
            return Ok(None);
        }
        persist(&token).map_err(ControlError::SaveToken)?;
        let created = self.storage.bootstrap(&Bootstrap { tenant, admin_token, audit }).await?;
        Ok(created.then_some(token))
    }
}
