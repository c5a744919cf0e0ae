//! Remote configuration: switches, publications, versions, import and export.

use midship_api::{ConfigVersionView, ImportResult, List, PublishRequest, RollbackRequest, SwitchStatusView};
use reqwest::Method;

use super::{AdminClient, PageParams, SdkError};

impl AdminClient {
    /// Every switch with its draft, its published definition and its state.
    pub async fn list_switches(&self, workspace_id: &str) -> Result<List<SwitchStatusView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "switches"), &()).await
    }

    /// Creates or replaces a switch in the draft; `definition` is a switch definition (docs/switches.md).
    pub async fn set_switch(
        &self,
        workspace_id: &str,
        definition: &serde_json::Value,
    ) -> Result<SwitchStatusView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "switches"), definition).await
    }

    pub async fn get_switch(&self, workspace_id: &str, key: &str) -> Result<SwitchStatusView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("switches/{}", Self::segment(key))), &()).await
    }

    pub async fn delete_switch(&self, workspace_id: &str, key: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("switches/{}", Self::segment(key)))).await
    }

    pub async fn publish_config(&self, workspace_id: &str, note: &str) -> Result<ConfigVersionView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "config/publish"), &PublishRequest { note: note.to_owned() })
            .await
    }

    pub async fn config_versions(
        &self,
        workspace_id: &str,
        page: &PageParams,
    ) -> Result<List<ConfigVersionView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "config/versions"), page).await
    }

    pub async fn rollback_config(&self, workspace_id: &str, version: i64) -> Result<ConfigVersionView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "config/rollback"), &RollbackRequest { version }).await
    }

    /// `draft`: the draft; otherwise a published version (the latest when `version` is `None`).
    pub async fn export_config(
        &self,
        workspace_id: &str,
        draft: bool,
        version: Option<i64>,
    ) -> Result<serde_json::Value, SdkError> {
        let mut query: Vec<(&str, String)> = vec![("source", if draft { "draft" } else { "published" }.to_owned())];
        if let Some(version) = version {
            query.push(("version", version.to_string()));
        }
        self.get(&Self::workspace_path(workspace_id, "config/export"), &query).await
    }

    pub async fn import_config(
        &self,
        workspace_id: &str,
        document: &serde_json::Value,
        merge: bool,
    ) -> Result<ImportResult, SdkError> {
        let path = Self::workspace_path(workspace_id, "config/import");
        let request = self
            .request(Method::POST, &path)?
            .query(&[("mode", if merge { "merge" } else { "replace" })])
            .json(document);
        self.send(request).await
    }
}
