//! The gateway: API groups, APIs, encryption keys and statistics.

use midship_api::{
    ApiGroupView, ApiStatsView, ApiView, CreateApiGroupRequest, CreateApiRequest, DeviceCredentialRevoked,
    DeviceSecurityRequest, DeviceSecurityView, EnvelopeKeyView, List,
};

use super::{AdminClient, SdkError};

impl AdminClient {
    pub async fn create_api_group(
        &self,
        workspace_id: &str,
        request: &CreateApiGroupRequest,
    ) -> Result<ApiGroupView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "api-groups"), request).await
    }

    pub async fn list_api_groups(&self, workspace_id: &str) -> Result<List<ApiGroupView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "api-groups"), &()).await
    }

    pub async fn create_api(&self, workspace_id: &str, request: &CreateApiRequest) -> Result<ApiView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "apis"), request).await
    }

    /// Replaces an API's definition and policies (`definition` in the body `create_api` sends).
    pub async fn update_api(
        &self,
        workspace_id: &str,
        operation_type: &str,
        definition: &serde_json::Value,
    ) -> Result<ApiView, SdkError> {
        self.put(&Self::workspace_path(workspace_id, &format!("apis/{}", Self::segment(operation_type))), definition)
            .await
    }

    pub async fn list_apis(&self, workspace_id: &str) -> Result<List<ApiView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "apis"), &()).await
    }

    pub async fn show_api(&self, workspace_id: &str, operation_type: &str) -> Result<ApiView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("apis/{}", Self::segment(operation_type))), &()).await
    }

    /// Opens (`open = true`) or closes an API.
    pub async fn set_api_open(
        &self,
        workspace_id: &str,
        operation_type: &str,
        open: bool,
    ) -> Result<ApiView, SdkError> {
        let action = if open { "open" } else { "close" };
        self.post(&Self::workspace_path(workspace_id, &format!("apis/{}/{action}", Self::segment(operation_type))), &())
            .await
    }

    /// The workspace's public keys for body encryption.
    pub async fn gateway_keys(&self, workspace_id: &str) -> Result<List<EnvelopeKeyView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "gateway-keys"), &()).await
    }

    /// Per-API calls and latency on the answering node.
    pub async fn api_stats(&self, workspace_id: &str) -> Result<List<ApiStatsView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "api-stats"), &()).await
    }

    /// The workspace's device security policy and its SDK client key.
    pub async fn device_security(&self, workspace_id: &str) -> Result<DeviceSecurityView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "device-security"), &()).await
    }

    /// Revokes a device's credential; it registers again under a new id.
    pub async fn revoke_device_credential(
        &self,
        workspace_id: &str,
        device_id: &str,
    ) -> Result<DeviceCredentialRevoked, SdkError> {
        let path =
            Self::workspace_path(workspace_id, &format!("devices/{}/revoke-credential", Self::segment(device_id)));
        self.post(&path, &serde_json::json!({})).await
    }

    pub async fn set_device_security(
        &self,
        workspace_id: &str,
        request: &DeviceSecurityRequest,
    ) -> Result<DeviceSecurityView, SdkError> {
        self.put(&Self::workspace_path(workspace_id, "device-security"), request).await
    }
}
