//! Tenants, apps, their workspaces and signing keys.

use midship_api::{
    AppDetails, AppKeyView, AppView, CreateAppRequest, CreateTenantRequest, CreateWorkspaceRequest, CreatedApp, List,
    RotateKeyRequest, RotatedKey, TenantView, WhoAmI, WorkspaceView,
};

use super::{AdminClient, PageParams, SdkError};

impl AdminClient {
    pub async fn whoami(&self) -> Result<WhoAmI, SdkError> {
        self.get("/api/v1/whoami", &()).await
    }

    pub async fn current_tenant(&self) -> Result<TenantView, SdkError> {
        self.get("/api/v1/tenant", &()).await
    }

    pub async fn list_tenants(&self, page: &PageParams) -> Result<List<TenantView>, SdkError> {
        self.get("/api/v1/tenants", page).await
    }

    pub async fn create_tenant(&self, request: &CreateTenantRequest) -> Result<TenantView, SdkError> {
        self.post("/api/v1/tenants", request).await
    }

    pub async fn create_app(&self, request: &CreateAppRequest) -> Result<CreatedApp, SdkError> {
        self.post("/api/v1/apps", request).await
    }

    pub async fn list_apps(&self, page: &PageParams) -> Result<List<AppView>, SdkError> {
        self.get("/api/v1/apps", page).await
    }

    pub async fn show_app(&self, app_id: &str) -> Result<AppDetails, SdkError> {
        self.get(&format!("/api/v1/apps/{}", Self::segment(app_id)), &()).await
    }

    pub async fn list_workspaces(&self, app_id: &str) -> Result<List<WorkspaceView>, SdkError> {
        self.get(&format!("/api/v1/apps/{}/workspaces", Self::segment(app_id)), &()).await
    }

    pub async fn create_workspace(
        &self,
        app_id: &str,
        request: &CreateWorkspaceRequest,
    ) -> Result<WorkspaceView, SdkError> {
        self.post(&format!("/api/v1/apps/{}/workspaces", Self::segment(app_id)), request).await
    }

    pub async fn list_keys(&self, app_id: &str) -> Result<List<AppKeyView>, SdkError> {
        self.get(&format!("/api/v1/apps/{}/keys", Self::segment(app_id)), &()).await
    }

    pub async fn rotate_key(&self, app_id: &str, request: &RotateKeyRequest) -> Result<RotatedKey, SdkError> {
        self.post(&format!("/api/v1/apps/{}/keys/rotate", Self::segment(app_id)), request).await
    }
}
