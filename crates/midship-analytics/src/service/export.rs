//! The Parquet export: periodic, and on an installation admin's request.

use midship_control::ControlError;
use midship_control::jobs::{BackgroundJob, JobError, Placement};
use midship_core::Principal;
use midship_core::access::Action;

use super::AnalyticsService;
use crate::AnalyticsError;
use crate::export::ExportSummary;

impl AnalyticsService {
    /// The Parquet export every `interval`, by one node of the cluster.
    pub fn export_job(&self, interval: std::time::Duration) -> std::sync::Arc<dyn BackgroundJob> {
        std::sync::Arc::new(ExportJob { service: self.clone(), interval })
    }

    /// Writes the batches stored since the last export as Parquet; `None` when exporting is off.
    pub async fn export_now(&self) -> Result<Option<ExportSummary>, AnalyticsError> {
        let Some(exporter) = &self.inner.exporter else { return Ok(None) };
        let exporter = exporter.lock().await;
        Ok(Some(exporter.export_new().await?))
    }

    /// [`AnalyticsService::export_now`] for an installation admin, with the directory written to.
    pub async fn export(&self, who: &Principal) -> Result<Option<(ExportSummary, std::path::PathBuf)>, AnalyticsError> {
        who.authorize(Action::ManageTenants).map_err(ControlError::from)?;
        let summary = self.export_now().await?;
        Ok(summary.zip(self.inner.settings.export_dir.clone()))
    }
}

/// The periodic Parquet export, by one node of the cluster.
pub(super) struct ExportJob {
    pub(super) service: AnalyticsService,
    pub(super) interval: std::time::Duration,
}

#[async_trait::async_trait]
impl BackgroundJob for ExportJob {
    fn name(&self) -> &'static str {
        "analytics-export"
    }

    fn placement(&self) -> Placement {
        Placement::OneNode
    }

    fn interval(&self) -> std::time::Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), JobError> {
        if let Some(summary) = self.service.export_now().await?
            && summary.files > 0
        {
            tracing::info!(
                batches = summary.batches,
                events = summary.events,
                files = summary.files,
                "analytics exported to parquet"
            );
        }
        Ok(())
    }
}
