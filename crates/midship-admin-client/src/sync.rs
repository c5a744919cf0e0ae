//! Data sync: bizType configurations, sending and stream status.

use midship_api::{
    List, SyncBatchRequest, SyncBatchResponse, SyncSendRequest, SyncSendResponse, SyncStatusView, SyncTokenRequest,
    SyncTokenView,
};

use super::{AdminClient, SdkError};

impl AdminClient {
    /// Creates or replaces a bizType's sync configuration (docs/sync.md).
    pub async fn put_sync_config(
        &self,
        workspace_id: &str,
        config: &serde_json::Value,
    ) -> Result<serde_json::Value, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "sync/configs"), config).await
    }

    pub async fn list_sync_configs(&self, workspace_id: &str) -> Result<List<serde_json::Value>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "sync/configs"), &()).await
    }

    pub async fn delete_sync_config(&self, workspace_id: &str, biz_type: &str) -> Result<(), SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("sync/configs/{}", Self::segment(biz_type)));
        self.delete(&path).await
    }

    /// A connection token vouching for a user, for the app to open its long connection with.
    pub async fn sync_token(&self, workspace_id: &str, request: &SyncTokenRequest) -> Result<SyncTokenView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "sync/tokens"), request).await
    }

    /// Sends to a user or device stream; global bizTypes go through [`Self::sync_global`].
    pub async fn sync_send(&self, workspace_id: &str, request: &SyncSendRequest) -> Result<SyncSendResponse, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "sync/send"), request).await
    }

    /// Up to 500 messages in one call, each with its own result.
    pub async fn sync_batch(
        &self,
        workspace_id: &str,
        request: &SyncBatchRequest,
    ) -> Result<SyncBatchResponse, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "sync/batch"), request).await
    }

    pub async fn sync_global(
        &self,
        workspace_id: &str,
        request: &SyncSendRequest,
    ) -> Result<SyncSendResponse, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "sync/global"), request).await
    }

    pub async fn sync_status(
        &self,
        workspace_id: &str,
        biz_type: &str,
        link_token: &str,
        device_id: Option<&str>,
    ) -> Result<SyncStatusView, SdkError> {
        let mut query = vec![("biz_type", biz_type.to_owned()), ("link_token", link_token.to_owned())];
        if let Some(device_id) = device_id {
            query.push(("device_id", device_id.to_owned()));
        }
        self.get(&Self::workspace_path(workspace_id, "sync/status"), &query).await
    }
}
