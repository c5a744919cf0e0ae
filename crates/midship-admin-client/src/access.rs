//! Admin API tokens and the audit log.

use midship_api::{AuditEntryView, CreateTokenRequest, IssuedToken, List, TokenView};
use reqwest::Method;
use serde::Serialize;

use super::{AdminClient, PageParams, SdkError};

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(flatten)]
    pub page: PageParams,
}

impl AdminClient {
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
}
