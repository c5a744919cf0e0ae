//! Remote configuration (switches): typed getters over the cached values and the app's defaults.

use std::sync::Arc;

use crate::MidshipError;
use crate::midship::Shared;

#[derive(Debug, uniffi::Object)]
pub struct MidshipConfig {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipConfig {
    /// Pulls now; answers whether any value changed.
    pub async fn pull(&self) -> Result<bool, MidshipError> {
        let config = self.shared.config.clone();
        self.shared
            .run(async move { Ok(config.pull().await?.is_some_and(|change| !change.changed_keys.is_empty())) })
            .await
    }

    pub fn get_string(&self, key: String, fallback: String) -> String {
        self.shared.config.get_str(&key, &fallback)
    }

    pub fn get_bool(&self, key: String, fallback: bool) -> bool {
        self.shared.config.get_bool(&key, fallback)
    }

    pub fn get_number(&self, key: String, fallback: f64) -> f64 {
        self.shared.config.get_f64(&key, fallback)
    }

    /// A JSON switch's value as JSON text.
    pub fn get_json(&self, key: String) -> Option<String> {
        self.shared.config.get_json(&key).map(|value| value.to_string())
    }

    /// The published version the values come from (0 before the first pull).
    pub fn version(&self) -> i64 {
        self.shared.config.version()
    }
}
