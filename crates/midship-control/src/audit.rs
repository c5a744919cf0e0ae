//! Reading the audit log (writing happens with each change, in the storage transaction).

use midship_core::access::Action;
use midship_core::page::{Page, PageRequest};
use midship_core::{AuditEntry, AuditFilter, Principal, ValidationError};

use crate::{ControlError, ControlPlane};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub app_id: Option<String>,
    pub action: Option<String>,
}

impl ControlPlane {
    pub async fn list_audit(
        &self,
        who: &Principal,
        query: AuditQuery,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, ControlError> {
        who.authorize(Action::Read)?;
        if page.after.as_deref().is_some_and(|cursor| midship_core::page::number_cursor(cursor).is_none()) {
            return Err(ValidationError::new("cursor", "is not a cursor this list returned").into());
        }
        if let Some(app_id) = &query.app_id {
            self.visible_app(who, app_id).await?;
        }
        let filter = AuditFilter { app_id: query.app_id, action: query.action, visible_apps: who.app_ids.clone() };
        Ok(self.storage.list_audit(&who.tenant_id, &filter, page).await?)
    }
}
