//! Analysis (MAS): client logs in, reports out.
//!
//! - [`alert`]: alert rules on crash and ANR rates, startup and gateway API figures, with webhooks;
//! - [`event`]: the upload format, decoded and checked event by event, placed in time;
//! - [`export`]: raw events in Parquet, partitioned by app and day, for outside engines;
//! - [`fingerprint`]: crash, ANR and lag grouping by normalised stack;
//! - [`rollup`]: one workspace's rollups and active-device sets in memory, updated per batch;
//! - [`report`]: overview, real time, retention, funnels, events, pages, paths, performance and
//!   failure groups, computed from the rollups;
//! - [`pb`]: the protobuf form of an upload;
//! - [`policy`]: what each device uploads;
//! - [`service`]: uploads group-committed to storage, the rollups rebuilt from it at start and
//!   kept current, reports with access checks.
//!
//! No HTTP here: the server maps [`AnalyticsError`] to statuses and result codes.

pub mod alert;
pub mod event;
pub mod experiment_log;
pub mod export;
pub mod fingerprint;
mod histogram;
pub mod pb;
pub mod policy;
pub mod proguard;
pub mod report;
pub mod rollup;
pub mod service;

use midship_control::ControlError;
use midship_core::{Classify, ErrorKind};
use midship_storage::StorageError;

pub use service::{AnalyticsService, AnalyticsSettings, ServerExposure};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The batch cannot be read at all; nothing of it is kept.
    #[error("{0}")]
    Malformed(String),
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// The device sent more than its share this minute.
    #[error("{0}")]
    RateLimited(String),
    #[error("no alert rule {0}")]
    UnknownAlert(String),
    #[error("no log file {0}")]
    UnknownLogFile(String),
    /// The log request does not name this device or its user.
    #[error("log request {0} is not for this device")]
    NotAsked(String),
    #[error("no failure group {0}")]
    UnknownGroup(String),
    /// Parquet files cannot be written.
    #[error("cannot export to parquet: {0}")]
    Export(String),
}

impl Classify for AnalyticsError {
    fn kind(&self) -> ErrorKind {
        match self {
            AnalyticsError::Control(control) => control.kind(),
            AnalyticsError::Malformed(_) | AnalyticsError::Invalid { .. } => ErrorKind::Invalid,
            AnalyticsError::UnknownGroup(_) | AnalyticsError::UnknownAlert(_) | AnalyticsError::UnknownLogFile(_) => {
                ErrorKind::NotFound
            }
            AnalyticsError::NotAsked(_) => ErrorKind::Forbidden,
            AnalyticsError::RateLimited(_) => ErrorKind::RateLimited,
            AnalyticsError::Export(_) => ErrorKind::Unavailable,
        }
    }
}

impl From<StorageError> for AnalyticsError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Invalid { field: field.into(), message: message.into() }
}
