//! Typed client of the admin REST API (`/api/v1`).

use std::time::Duration;

use midship_api::{
    AlertEventView, AlertRuleDefinition, AlertRuleView, AnalyticsPolicy, ApiGroupView, ApiStatsView, ApiView,
    AppDetails, AppKeyView, AppView, AuditEntryView, ConfigVersionView, CreateApiGroupRequest, CreateApiRequest,
    CreateAppRequest, CreateTenantRequest, CreateTokenRequest, CreateWorkspaceRequest, CreatedApp, EnvelopeKeyView,
    ErrorBody, EventsReport, ExportView, FailureGroupDetail, FailuresReport, FunnelReport, ImportResult, IssuedToken,
    List, LogFileView, LogLineView, LogRequest, LogRequestView, OverviewReport, PackageView, PagesReport, PathsReport,
    PerfReport, PublishRequest, PushDeliveryView, PushMessageBody, PushRequest, PushRevokeRequest, PushRevokeView,
    PushStatsView, PushTaskView, PushTemplateBody, RealtimeReport, ReleaseView, RetentionReport, RollbackRequest,
    RotateKeyRequest, RotatedKey, SigningKeyView, SwitchStatusView, SymbolFileView, SyncBatchRequest,
    SyncBatchResponse, SyncSendRequest, SyncSendResponse, SyncStatusView, SyncTokenRequest, SyncTokenView, TenantView,
    TokenView, WhoAmI, WorkspaceView,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The server answered with an error body; `code` is one of `midship_api::codes`.
    #[error("{message} ({code}, HTTP {status})")]
    Api { status: StatusCode, code: String, message: String },
    #[error("cannot reach the server: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("invalid server url: {0}")]
    InvalidUrl(String),
    #[error("cannot write the local cache: {0}")]
    Cache(std::io::Error),
}

impl SdkError {
    /// The admin API error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SdkError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Pagination of list calls.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The parameters of analytics reports; each report reads the ones docs/analytics.md lists for it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportParams {
    /// `YYYY-MM-DD` (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<String>,
    /// Comma-separated event names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A log search: the keyword, and optionally a device, a user and upload days.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogSearchParams {
    pub q: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(flatten)]
    pub page: PageParams,
}

#[derive(Debug, Clone)]
pub struct AdminClient {
    base_url: url::Url,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// `server` is the base URL (`http://127.0.0.1:7070`); `token` an admin API token.
    pub fn new(server: &str, token: impl Into<String>) -> Result<Self, SdkError> {
        let base_url = url::Url::parse(server).map_err(|error| SdkError::InvalidUrl(format!("{server}: {error}")))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(SdkError::InvalidUrl(format!("{server}: expected http or https")));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("midship-sdk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { base_url, token: token.into(), http })
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, SdkError> {
        let url = self.base_url.join(path).map_err(|error| SdkError::InvalidUrl(error.to_string()))?;
        Ok(self.http.request(method, url).bearer_auth(&self.token))
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, SdkError> {
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.json().await?);
        }
        let body = response.text().await.unwrap_or_default();
        let error = serde_json::from_str::<ErrorBody>(&body).unwrap_or_else(|_| ErrorBody {
            code: "unexpected_response".to_owned(),
            message: body.chars().take(200).collect(),
        });
        Err(SdkError::Api { status, code: error.code, message: error.message })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &impl Serialize) -> Result<T, SdkError> {
        self.send(self.request(Method::GET, path)?.query(query)).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, SdkError> {
        self.send(self.request(Method::POST, path)?.json(body)).await
    }

    async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, SdkError> {
        self.send(self.request(Method::PUT, path)?.json(body)).await
    }

    /// A call answered `204 No Content` on success.
    async fn delete(&self, path: &str) -> Result<(), SdkError> {
        self.no_content(self.request(Method::DELETE, path)?).await
    }

    /// Sends a call answered `204 No Content` on success.
    async fn no_content(&self, request: reqwest::RequestBuilder) -> Result<(), SdkError> {
        let response = request.send().await?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let body: ErrorBody = response.json().await?;
        Err(SdkError::Api { status, code: body.code, message: body.message })
    }

    /// Path segments that come from callers are percent-encoded.
    fn segment(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

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

    pub async fn create_token(&self, request: &CreateTokenRequest) -> Result<IssuedToken, SdkError> {
        self.post("/api/v1/tokens", request).await
    }

    pub async fn list_tokens(&self, page: &PageParams) -> Result<List<TokenView>, SdkError> {
        self.get("/api/v1/tokens", page).await
    }

    pub async fn revoke_token(&self, token_id: &str) -> Result<TokenView, SdkError> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/tokens/{}", Self::segment(token_id)))?).await
    }

    pub async fn list_audit(&self, params: &AuditParams) -> Result<List<AuditEntryView>, SdkError> {
        self.get("/api/v1/audit", params).await
    }

    fn workspace_path(workspace_id: &str, rest: &str) -> String {
        format!("/api/v1/workspaces/{}/{rest}", Self::segment(workspace_id))
    }

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

    /// Sends a push (`kind`: simple, template, multiple or broadcast), now or on its schedule.
    pub async fn push_send(
        &self,
        workspace_id: &str,
        kind: &str,
        request: &PushRequest,
    ) -> Result<PushTaskView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, &format!("push/send/{}", Self::segment(kind))), request).await
    }

    pub async fn push_tasks(&self, workspace_id: &str, limit: u32) -> Result<List<PushTaskView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/tasks"), &[("limit", limit)]).await
    }

    pub async fn push_task(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("push/tasks/{}", Self::segment(task_id))), &()).await
    }

    /// A task's deliveries after device `after` (empty for the first page), at most `limit`.
    pub async fn push_deliveries(
        &self,
        workspace_id: &str,
        task_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<List<PushDeliveryView>, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/tasks/{}/deliveries", Self::segment(task_id)));
        self.get(&path, &[("after", after.to_owned()), ("limit", limit.to_string())]).await
    }

    pub async fn push_settings(&self, workspace_id: &str) -> Result<serde_json::Value, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/settings"), &()).await
    }

    /// Sets the workspace's push settings, e.g. `{"device_binding": "backend"}`.
    pub async fn put_push_settings(
        &self,
        workspace_id: &str,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, SdkError> {
        self.put(&Self::workspace_path(workspace_id, "push/settings"), settings).await
    }

    /// Binds a device to a user (`Some`) or unbinds it (`None`), as the backend.
    pub async fn push_bind(&self, workspace_id: &str, device_id: &str, user_id: Option<&str>) -> Result<(), SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/devices/{}/binding", Self::segment(device_id)));
        match user_id {
            Some(user_id) => {
                let body = serde_json::json!({ "user_id": user_id });
                self.no_content(self.request(Method::PUT, &path)?.json(&body)).await
            }
            None => self.delete(&path).await,
        }
    }

    pub async fn push_cancel(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskView, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/tasks/{}/cancel", Self::segment(task_id)));
        self.post(&path, &()).await
    }

    pub async fn push_revoke(
        &self,
        workspace_id: &str,
        request: &PushRevokeRequest,
    ) -> Result<PushRevokeView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "push/revoke"), request).await
    }

    /// A task's statistics.
    pub async fn push_task_stats(&self, workspace_id: &str, task_id: &str) -> Result<PushStatsView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/stats"), &[("task_id", task_id)]).await
    }

    /// Statistics of the tasks created in `[from, until)` (milliseconds), at most 90 days.
    pub async fn push_range_stats(&self, workspace_id: &str, from: i64, until: i64) -> Result<PushStatsView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/stats"), &[("from", from), ("until", until)]).await
    }

    pub async fn put_push_template(
        &self,
        workspace_id: &str,
        name: &str,
        message: &PushMessageBody,
    ) -> Result<PushTemplateBody, SdkError> {
        let body = PushTemplateBody { name: name.to_owned(), message: message.clone() };
        self.put(&Self::workspace_path(workspace_id, &format!("push/templates/{}", Self::segment(name))), &body).await
    }

    pub async fn push_templates(&self, workspace_id: &str) -> Result<List<PushTemplateBody>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/templates"), &()).await
    }

    pub async fn delete_push_template(&self, workspace_id: &str, name: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("push/templates/{}", Self::segment(name)))).await
    }

    /// Sets a channel's settings and credentials (docs/push.md); answers them redacted.
    pub async fn put_push_channel(
        &self,
        workspace_id: &str,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<serde_json::Value, SdkError> {
        self.put(&Self::workspace_path(workspace_id, &format!("push/channels/{}", Self::segment(name))), definition)
            .await
    }

    pub async fn push_channels(&self, workspace_id: &str) -> Result<List<serde_json::Value>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/channels"), &()).await
    }

    pub async fn delete_push_channel(&self, workspace_id: &str, name: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("push/channels/{}", Self::segment(name)))).await
    }

    // ---- delivery ------------------------------------------------------------------------

    /// Uploads a package (`query`: kind, platform, version, app_id, build, notes, app_version,
    /// store_url, as `midship_delivery::UploadRequest` reads them); `body` is the file.
    pub async fn upload_package(
        &self,
        workspace_id: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<PackageView, SdkError> {
        let request = self
            .request(Method::POST, &Self::workspace_path(workspace_id, "delivery/packages"))?
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(Duration::from_secs(600))
            .body(body);
        self.send(request).await
    }

    pub async fn list_packages(&self, workspace_id: &str) -> Result<List<PackageView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/packages"), &()).await
    }

    pub async fn delivery_signing_key(&self, workspace_id: &str) -> Result<SigningKeyView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/signing-key"), &()).await
    }

    /// Creates a release: `definition` is `{"package_id", "stage", "rules", "mode", …}`.
    pub async fn create_release(
        &self,
        workspace_id: &str,
        definition: &serde_json::Value,
    ) -> Result<ReleaseView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "delivery/releases"), definition).await
    }

    pub async fn list_releases(&self, workspace_id: &str) -> Result<List<ReleaseView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "delivery/releases"), &()).await
    }

    pub async fn show_release(&self, workspace_id: &str, release_id: &str) -> Result<ReleaseView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("delivery/releases/{}", Self::segment(release_id))), &())
            .await
    }

    /// `action`: pause, resume, end or rollback.
    pub async fn change_release(
        &self,
        workspace_id: &str,
        release_id: &str,
        action: &str,
    ) -> Result<ReleaseView, SdkError> {
        let path = Self::workspace_path(
            workspace_id,
            &format!("delivery/releases/{}/{}", Self::segment(release_id), Self::segment(action)),
        );
        self.post(&path, &serde_json::json!({})).await
    }

    // ---- analytics -----------------------------------------------------------------------

    async fn analytics_report<T: DeserializeOwned>(
        &self,
        workspace_id: &str,
        report: &str,
        params: &ReportParams,
    ) -> Result<T, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("analytics/{report}")), params).await
    }

    pub async fn analytics_overview(
        &self,
        workspace_id: &str,
        params: &ReportParams,
    ) -> Result<OverviewReport, SdkError> {
        self.analytics_report(workspace_id, "overview", params).await
    }

    pub async fn analytics_realtime(&self, workspace_id: &str) -> Result<RealtimeReport, SdkError> {
        self.analytics_report(workspace_id, "realtime", &ReportParams::default()).await
    }

    pub async fn analytics_retention(
        &self,
        workspace_id: &str,
        params: &ReportParams,
    ) -> Result<RetentionReport, SdkError> {
        self.analytics_report(workspace_id, "retention", params).await
    }

    pub async fn analytics_funnel(&self, workspace_id: &str, params: &ReportParams) -> Result<FunnelReport, SdkError> {
        self.analytics_report(workspace_id, "funnel", params).await
    }

    pub async fn analytics_events(&self, workspace_id: &str, params: &ReportParams) -> Result<EventsReport, SdkError> {
        self.analytics_report(workspace_id, "events", params).await
    }

    pub async fn analytics_pages(&self, workspace_id: &str, params: &ReportParams) -> Result<PagesReport, SdkError> {
        self.analytics_report(workspace_id, "pages", params).await
    }

    pub async fn analytics_paths(&self, workspace_id: &str, params: &ReportParams) -> Result<PathsReport, SdkError> {
        self.analytics_report(workspace_id, "paths", params).await
    }

    pub async fn analytics_perf(&self, workspace_id: &str, params: &ReportParams) -> Result<PerfReport, SdkError> {
        self.analytics_report(workspace_id, "perf", params).await
    }

    pub async fn analytics_crashes(
        &self,
        workspace_id: &str,
        params: &ReportParams,
    ) -> Result<FailuresReport, SdkError> {
        self.analytics_report(workspace_id, "crashes", params).await
    }

    pub async fn analytics_crash(&self, workspace_id: &str, fingerprint: &str) -> Result<FailureGroupDetail, SdkError> {
        let report = format!("crashes/{}", Self::segment(fingerprint));
        self.analytics_report(workspace_id, &report, &ReportParams::default()).await
    }

    pub async fn analytics_policy(&self, workspace_id: &str) -> Result<AnalyticsPolicy, SdkError> {
        self.analytics_report(workspace_id, "policy", &ReportParams::default()).await
    }

    pub async fn set_analytics_policy(
        &self,
        workspace_id: &str,
        policy: &AnalyticsPolicy,
    ) -> Result<AnalyticsPolicy, SdkError> {
        self.put(&Self::workspace_path(workspace_id, "analytics/policy"), policy).await
    }

    /// Writes the events stored since the last export as Parquet now (installation admins).
    pub async fn analytics_export(&self) -> Result<ExportView, SdkError> {
        self.post("/api/v1/analytics/export", &serde_json::json!({})).await
    }

    pub async fn create_alert(
        &self,
        workspace_id: &str,
        definition: &AlertRuleDefinition,
    ) -> Result<AlertRuleView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "analytics/alerts"), definition).await
    }

    pub async fn update_alert(
        &self,
        workspace_id: &str,
        rule_id: &str,
        definition: &AlertRuleDefinition,
    ) -> Result<AlertRuleView, SdkError> {
        self.put(
            &Self::workspace_path(workspace_id, &format!("analytics/alerts/{}", Self::segment(rule_id))),
            definition,
        )
        .await
    }

    pub async fn delete_alert(&self, workspace_id: &str, rule_id: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("analytics/alerts/{}", Self::segment(rule_id)))).await
    }

    pub async fn list_alerts(&self, workspace_id: &str) -> Result<Vec<AlertRuleView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "analytics/alerts"), &()).await
    }

    /// Notifications sent, newest first.
    pub async fn alert_history(&self, workspace_id: &str) -> Result<Vec<AlertEventView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "analytics/alert-history"), &()).await
    }

    /// Uploads a ProGuard/R8 mapping for an app version.
    pub async fn upload_mapping(
        &self,
        workspace_id: &str,
        app_version: &str,
        mapping: Vec<u8>,
    ) -> Result<SymbolFileView, SdkError> {
        let request = self
            .request(Method::POST, &Self::workspace_path(workspace_id, "analytics/symbols"))?
            .query(&[("app_version", app_version), ("kind", "proguard")])
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(mapping);
        self.send(request).await
    }

    pub async fn symbol_files(&self, workspace_id: &str) -> Result<Vec<SymbolFileView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "analytics/symbols"), &()).await
    }

    /// Asks a device or a user's devices for their log file.
    pub async fn request_logs(&self, workspace_id: &str, request: &LogRequest) -> Result<LogRequestView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "analytics/logs"), request).await
    }

    pub async fn log_files(&self, workspace_id: &str, params: &ReportParams) -> Result<Vec<LogFileView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "analytics/logs"), params).await
    }

    /// Lines containing `search.q`, optionally of one device or user.
    pub async fn search_logs(
        &self,
        workspace_id: &str,
        search: &LogSearchParams,
    ) -> Result<Vec<LogLineView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "analytics/logs/search"), search).await
    }

    /// One uploaded log file's text.
    pub async fn download_log(&self, workspace_id: &str, file_id: &str) -> Result<String, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("analytics/logs/{}", Self::segment(file_id)));
        let response = self.request(Method::GET, &path)?.send().await?;
        if !response.status().is_success() {
            let status = response.status();
            let body: ErrorBody = response.json().await?;
            return Err(SdkError::Api { status, code: body.code, message: body.message });
        }
        Ok(response.text().await?)
    }
}
