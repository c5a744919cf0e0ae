//! A typed client of Midship's admin REST API (`/api/v1`), used by the `midship` CLI, by tests and
//! by any backend that automates Midship: the client and its transport here, one module per area
//! with that area's calls. Devices use the device SDK (`midship-sdk`) instead.

mod access;
mod analytics;
mod approvals;
mod apps;
mod delivery;
mod experiments;
mod gateway;
mod people;
mod push;
mod switches;
mod sync;

pub use access::AuditParams;
pub use analytics::{LogSearchParams, ReportParams};

use std::time::Duration;

use midship_api::{ApprovalView, ErrorBody};
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
    /// The workspace requires approvals: the change was not made, it waits as this request for
    /// another person (`approve_request`).
    #[error("sent for approval as request {}: {}", .0.approval_id, .0.summary)]
    PendingApproval(Box<ApprovalView>),
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
        if status == StatusCode::ACCEPTED {
            let body = response.bytes().await?;
            if let Ok(approval) = serde_json::from_slice::<ApprovalView>(&body) {
                return Err(SdkError::PendingApproval(Box::new(approval)));
            }
            return serde_json::from_slice(&body).map_err(|error| SdkError::Api {
                status,
                code: "unexpected_response".to_owned(),
                message: error.to_string(),
            });
        }
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

    fn workspace_path(workspace_id: &str, rest: &str) -> String {
        format!("/api/v1/workspaces/{}/{rest}", Self::segment(workspace_id))
    }
}
