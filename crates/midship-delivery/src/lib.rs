//! Delivery (MDS): what devices download and when.
//!
//! - [`blob`]: the package store, content-addressed by sha256 (a local directory by default);
//! - [`upload`]: uploads checked per kind (zip structure, H5 manifest, sizes) into signed packages;
//! - [`definition`]: release tasks — gray stages, rules, upgrade modes — checked and compiled;
//! - [`snapshot`]: one workspace's live releases in memory, answering `midship.delivery.check`;
//! - [`service`]: uploads, diffs, releases, statistics and the check, tied to storage;
//! - [`signing_keys`]: the workspace's manifest keys, their rotation and retirement.
//!
//! No HTTP here: the server maps [`DeliveryError`] to statuses and result codes.

pub mod blob;
pub mod definition;
mod events;
mod s3;
pub mod service;
pub mod signing_keys;
pub mod snapshot;
pub mod upload;

#[cfg(test)]
mod tests;

use midship_control::ControlError;
use midship_core::{Classify, ErrorKind};
use midship_package::PackageError;
use midship_storage::StorageError;

pub use blob::{BlobError, BlobStore, LocalBlobStore};
pub use definition::{ReleaseDefinition, Stage, UpgradeMode};
pub use s3::{S3BlobStore, S3Settings, S3UrlError};
pub use service::{DeliveryService, DeliverySettings, ReleaseAction, ReleaseSummary};
pub use upload::UploadRequest;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("invalid package: {0}")]
    Package(#[from] PackageError),
    #[error("{0}")]
    TooLarge(String),
    #[error("no package {0}")]
    UnknownPackage(String),
    #[error("no release {0}")]
    UnknownRelease(String),
    #[error("no signing key generation {0}")]
    UnknownSigningKey(i64),
    /// The change does not fit the release's state, or another release (one active hotpatch
    /// per app version, say).
    #[error("{0}")]
    Conflict(String),
    #[error("package store: {0}")]
    Blob(#[from] BlobError),
}

impl Classify for DeliveryError {
    fn kind(&self) -> ErrorKind {
        match self {
            DeliveryError::Control(control) => control.kind(),
            DeliveryError::Invalid { .. } | DeliveryError::Package(_) => ErrorKind::Invalid,
            DeliveryError::TooLarge(_) => ErrorKind::TooLarge,
            DeliveryError::UnknownPackage(_)
            | DeliveryError::UnknownRelease(_)
            | DeliveryError::UnknownSigningKey(_) => ErrorKind::NotFound,
            DeliveryError::Conflict(_) => ErrorKind::Conflict,
            // A blob name that is not a sha256 cannot name a stored package.
            DeliveryError::Blob(BlobError::BadName(_)) => ErrorKind::NotFound,
            DeliveryError::Blob(_) => ErrorKind::Unavailable,
        }
    }
}

impl From<StorageError> for DeliveryError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> DeliveryError {
    DeliveryError::Invalid { field: field.into(), message: message.into() }
}
