//! Analytics: reports, policy, export, alerts, symbol files and diagnosis logs.

use midship_api::{
    AlertEventView, AlertRuleDefinition, AlertRuleView, AnalyticsPolicy, ErrorBody, EventsReport, ExportView,
    FailureGroupDetail, FailuresReport, FunnelReport, LogLineView, LogRequest, LogRequestView, OverviewReport,
    PagesReport, PathsReport, PerfReport, RealtimeReport, RetentionReport, SymbolFileView,
};
use midship_protocol::calls::LogFileView;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AdminClient, SdkError};

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

impl AdminClient {
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
