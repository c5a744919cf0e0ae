//! The Parquet export: periodic, and on an installation admin's request.

use midship_control::ControlError;
use midship_core::Principal;
use midship_core::access::Action;

use super::AnalyticsService;
use crate::AnalyticsError;
use crate::export::ExportSummary;

impl AnalyticsService {
    /// Writes the batches stored since the last export as Parquet; `None` when exporting is off.
    pub async fn export_now(&self) -> Result<Option<ExportSummary>, AnalyticsError> {
        let Some(exporter) = &self.inner.exporter else { return Ok(None) };
        let exporter = exporter.lock().await;
        Ok(Some(exporter.export_new().await?))
    }

    /// Exports every `interval` until the returned task is aborted.
    pub fn spawn_exports(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match service.export_now().await {
                    Ok(Some(summary)) if summary.files > 0 => {
                        tracing::info!(
                            batches = summary.batches,
                            events = summary.events,
                            files = summary.files,
                            "analytics exported to parquet"
                        )
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot export analytics to parquet"),
                }
            }
        })
    }

    /// [`AnalyticsService::export_now`] for an installation admin, with the directory written to.
    pub async fn export(&self, who: &Principal) -> Result<Option<(ExportSummary, std::path::PathBuf)>, AnalyticsError> {
        who.authorize(Action::ManageTenants).map_err(ControlError::from)?;
        let summary = self.export_now().await?;
        Ok(summary.zip(self.inner.settings.export_dir.clone()))
    }
}
