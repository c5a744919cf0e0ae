//! The `[cluster]` and `[blobs]` sections: what a node shares with the others (docs/deploy.md).

use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Several nodes on one PostgreSQL database talk over NATS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// `nats://host:4222` (several, comma-separated); empty: no bus.
    pub nats_url: String,
    /// Subjects and bucket names start with this, so installations can share one NATS.
    pub subject_prefix: String,
    /// Declares a node on PostgreSQL alone, so it may start without a bus.
    pub single_node: bool,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self { nats_url: String::new(), subject_prefix: "midship".into(), single_node: false }
    }
}

impl ClusterSection {
    /// The bus settings; `timestamp_window` is the gateway's, so nonces outlive every request
    /// that may still carry them.
    pub fn settings(&self, timestamp_window: Duration) -> midship_cluster::ClusterSettings {
        midship_cluster::ClusterSettings {
            nats_url: self.nats_url.clone(),
            prefix: self.subject_prefix.clone(),
            nonce_ttl: timestamp_window.saturating_mul(2) + Duration::from_secs(60),
            ..midship_cluster::ClusterSettings::default()
        }
    }
}

/// Where packages and patches are kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsSection {
    /// `s3://bucket?endpoint=http://host:port&region=…&prefix=…`; empty: `data_dir/packages`.
    pub url: String,
    pub access_key_id: String,
    /// Best given as `MIDSHIP_BLOBS__SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `proxy`: nodes stream packages to devices (with ranges); `redirect`: devices are sent
    /// to a pre-signed URL of the object store.
    pub downloads: BlobDownloads,
    /// How long a pre-signed URL stays valid.
    pub redirect_seconds: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobDownloads {
    #[default]
    Proxy,
    Redirect,
}

impl Default for BlobsSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            downloads: BlobDownloads::Proxy,
            redirect_seconds: 900,
        }
    }
}

impl std::fmt::Debug for BlobsSection {
    /// The secret key never reaches logs.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BlobsSection")
            .field("url", &self.url)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &if self.secret_access_key.is_empty() { "" } else { "****" })
            .field("downloads", &self.downloads)
            .field("redirect_seconds", &self.redirect_seconds)
            .finish()
    }
}

impl BlobsSection {
    /// The object store, `None` for the local directory.
    pub fn s3_settings(&self) -> anyhow::Result<Option<midship_delivery::S3Settings>> {
        if self.url.trim().is_empty() {
            return Ok(None);
        }
        let settings = midship_delivery::S3Settings::from_url(&self.url, &self.access_key_id, &self.secret_access_key)
            .context("invalid blobs.url")?;
        Ok(Some(settings))
    }

    pub fn redirect_downloads_for(&self) -> Option<Duration> {
        (self.downloads == BlobDownloads::Redirect).then(|| Duration::from_secs(self.redirect_seconds.max(1)))
    }
}
