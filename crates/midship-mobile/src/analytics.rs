//! The analytics logger: events queued on disk, uploaded in batches under the server's policy.

use std::sync::Arc;

use midship_sdk::analytics::Network;

use crate::MidshipError;
use crate::midship::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct UploadReport {
    pub batches: u64,
    pub events: u64,
    /// Batches the server had counted before (sent again after a lost answer).
    pub duplicates: u64,
}

#[derive(Debug, uniffi::Object)]
pub struct MidshipAnalytics {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipAnalytics {
    /// A custom event with a JSON object of attributes; answers whether the policy keeps it.
    pub fn event(&self, name: String, attributes_json: String) -> Result<bool, MidshipError> {
        let attributes: serde_json::Value = serde_json::from_str(&attributes_json).map_err(MidshipError::invalid)?;
        if !attributes.is_object() {
            return Err(MidshipError::invalid("attributes must be a JSON object"));
        }
        Ok(self.shared.analytics.event(&name, attributes)?)
    }

    pub fn page(&self, page: String, duration_ms: u64) -> Result<bool, MidshipError> {
        Ok(self.shared.analytics.page(&page, duration_ms)?)
    }

    pub fn log(&self, level: String, message: String) -> Result<bool, MidshipError> {
        Ok(self.shared.analytics.log(&level, &message)?)
    }

    /// Events waiting to be uploaded.
    pub fn queued(&self) -> Result<u64, MidshipError> {
        Ok(self.shared.analytics.queued()? as u64)
    }

    /// Uploads what the policy allows on this network; what fails stays queued.
    pub async fn upload(&self, on_wifi: bool) -> Result<UploadReport, MidshipError> {
        let analytics = self.shared.analytics.clone();
        let network = if on_wifi { Network::Wifi } else { Network::Cellular };
        self.shared
            .run(async move {
                let summary = analytics.upload(network).await?;
                Ok(UploadReport {
                    batches: summary.batches as u64,
                    events: summary.events,
                    duplicates: summary.duplicates as u64,
                })
            })
            .await
    }
}
