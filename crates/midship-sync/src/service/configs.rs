//! bizType configurations: stored per workspace, kept in memory a short while, and the
//! built-in ones Midship's services use.

use std::sync::Arc;

use midship_core::access::Action;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::{StorageError, SyncConfigRecord};

use super::{ConfigList, SyncError, SyncService, builtin_configs, is_builtin};
use crate::config::SyncConfig;

impl SyncService {
    pub async fn put_config(
        &self,
        who: &Principal,
        workspace_id: &str,
        config: SyncConfig,
    ) -> Result<SyncConfig, SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        config.validate()?;
        let now = self.now_ms();
        let before = self.config(workspace_id, &config.biz_type).await.ok();
        let definition = serde_json::to_string(&config).expect("configurations serialize");
        let mut audit = NewAuditEntry::by(who, now, "sync.config.set", "sync_config", &config.biz_type)
            .in_app(&workspace.app_id)
            .after(serde_json::to_value(&config).expect("configurations serialize"));
        if let Some(before) = before {
            audit = audit.before(serde_json::to_value(before.as_ref()).expect("configurations serialize"));
        }
        let record = SyncConfigRecord {
            workspace_id: workspace_id.to_owned(),
            biz_type: config.biz_type.clone(),
            definition,
            updated_at: now,
        };
        self.storage().put_sync_config(&record, &audit).await?;
        self.forget_configs(workspace_id);
        Ok(config)
    }

    /// Stops the bizType; its stored messages stay until they expire.
    pub async fn delete_config(&self, who: &Principal, workspace_id: &str, biz_type: &str) -> Result<(), SyncError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        let before = self.config(workspace_id, biz_type).await?;
        let audit = NewAuditEntry::by(who, self.now_ms(), "sync.config.delete", "sync_config", biz_type)
            .in_app(&workspace.app_id)
            .before(serde_json::to_value(before.as_ref()).expect("configurations serialize"));
        self.storage().delete_sync_config(workspace_id, biz_type, &audit).await?;
        self.forget_configs(workspace_id);
        Ok(())
    }

    /// The workspace's own configurations (built-in bizTypes left out).
    pub async fn list_configs(&self, who: &Principal, workspace_id: &str) -> Result<ConfigList, SyncError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let configs = self.configs(workspace_id).await?;
        Ok(Arc::new(configs.iter().filter(|config| !is_builtin(&config.biz_type)).cloned().collect()))
    }

    /// Deletes a stored message that no device acknowledged yet, keeping its id remembered;
    /// whether there was one.
    pub async fn revoke_in(
        &self,
        workspace_id: &str,
        biz_type: &str,
        link_token: &str,
        third_msg_id: &str,
    ) -> Result<bool, SyncError> {
        let config = self.config(workspace_id, biz_type).await?;
        let stream = Self::stream(workspace_id, &config, link_token);
        Ok(self.storage().delete_sync_message(&stream, third_msg_id).await?)
    }

    pub(super) fn forget_configs(&self, workspace_id: &str) {
        self.inner.configs.forget(&workspace_id.to_owned());
    }

    /// The workspace's configurations, from memory when read recently.
    pub(crate) async fn configs(&self, workspace_id: &str) -> Result<ConfigList, SyncError> {
        let now = self.now_ms();
        if let Some(configs) = self.inner.configs.get(&workspace_id.to_owned(), now) {
            return Ok(configs);
        }
        let records = self.storage().list_sync_configs(workspace_id).await?;
        let configs: Vec<Arc<SyncConfig>> = records
            .iter()
            .map(|record| {
                serde_json::from_str(&record.definition).map(Arc::new).map_err(|error| {
                    SyncError::from(StorageError::Corrupt { table: "sync_configs", detail: error.to_string() })
                })
            })
            .chain(builtin_configs().iter().cloned().map(Ok))
            .collect::<Result<_, _>>()?;
        let configs = Arc::new(configs);
        self.inner.configs.insert(workspace_id.to_owned(), configs.clone(), now);
        Ok(configs)
    }

    pub(super) async fn config(&self, workspace_id: &str, biz_type: &str) -> Result<Arc<SyncConfig>, SyncError> {
        self.configs(workspace_id)
            .await?
            .iter()
            .find(|config| config.biz_type == biz_type)
            .cloned()
            .ok_or_else(|| SyncError::UnknownBizType(midship_core::ids::echo(biz_type)))
    }
}
