//! Push (MPS): devices report their channel tokens and bind users; backends send simple,
//! template, multiple and broadcast pushes, now or on a schedule; a dispatcher hands each
//! device's message to its channel (own, APNs, FCM or a vendor's) and records what happened, so a
//! crash resumes without sending twice and statistics come from the same rows.

use midship_control::ControlError;
use midship_core::{Classify, ErrorKind};
use midship_storage::StorageError;

pub mod channel;
mod events;
pub mod message;
pub mod schedule;
mod service;

pub use service::{
    DeviceBinding, DeviceReport, DispatchObserver, PushKind, PushService, PushSettings, RevokeOutcome, TaskSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// A message too large for a channel.
    #[error("{0}")]
    TooLarge(String),
    #[error("no push template {0}")]
    UnknownTemplate(String),
    #[error("no push channel {0}")]
    UnknownChannel(String),
    #[error("no push task {0}")]
    UnknownTask(String),
    /// The task is past the state the change needs (cancelling a finished task, say).
    #[error("{0}")]
    Conflict(String),
    /// The workspace's settings do not allow it (a device binding itself when bindings come
    /// from the backend only, say).
    #[error("{0}")]
    Denied(String),
    #[error("no push device {0}: it has not reported to push yet")]
    UnknownDevice(String),
}

impl Classify for PushError {
    fn kind(&self) -> ErrorKind {
        match self {
            PushError::Control(control) => control.kind(),
            PushError::Invalid { .. } => ErrorKind::Invalid,
            PushError::TooLarge(_) => ErrorKind::TooLarge,
            PushError::UnknownTemplate(_)
            | PushError::UnknownChannel(_)
            | PushError::UnknownTask(_)
            | PushError::UnknownDevice(_) => ErrorKind::NotFound,
            PushError::Conflict(_) => ErrorKind::Conflict,
            PushError::Denied(_) => ErrorKind::Forbidden,
        }
    }
}

impl From<StorageError> for PushError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

#[cfg(test)]
mod tests;
