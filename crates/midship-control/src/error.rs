use midship_core::access::AccessDenied;
use midship_core::{Classify, ErrorKind, ValidationError};
use midship_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No token, an unknown one, or a revoked or expired one.
    #[error("missing, unknown, revoked or expired token")]
    Unauthenticated,
    /// A console sign-in that failed: the same words whether the login or the password was wrong.
    #[error("{0}")]
    SignInRefused(&'static str),
    /// Too many failed sign-ins for the account or from the address; try again later.
    #[error("too many failed sign-ins; try again in {} s", (retry_after_ms + 999) / 1000)]
    TooManyAttempts { retry_after_ms: i64 },
    #[error(transparent)]
    Forbidden(#[from] AccessDenied),
    /// A rule on who may decide an approval request: not its requester, not a token.
    #[error("{0}")]
    NotYours(&'static str),
    #[error("{}", describe_not_found(kind, id))]
    NotFound { kind: &'static str, id: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(StorageError),
    /// The first admin token could not be handed to the operator, so it was not created.
    #[error("cannot save the admin token: {0}")]
    SaveToken(std::io::Error),
}

impl ControlError {
    pub fn not_found(kind: &'static str, id: &str) -> Self {
        // Echo back only a bounded, printable part of what the caller sent.
        Self::NotFound { kind, id: midship_core::ids::echo(id) }
    }
}

impl From<StorageError> for ControlError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict { entity } => ControlError::Conflict(format!("{entity} already exists")),
            StorageError::NotFound { entity } => ControlError::NotFound { kind: entity, id: String::new() },
            other => ControlError::Storage(other),
        }
    }
}

/// `app 06H0… not found`, or `token not found` when the id is unknown to the layer that noticed.
fn describe_not_found(kind: &str, id: &str) -> String {
    if id.is_empty() { format!("{kind} not found") } else { format!("{kind} {id} not found") }
}

impl Classify for ControlError {
    fn kind(&self) -> ErrorKind {
        match self {
            ControlError::Unauthenticated | ControlError::SignInRefused(_) => ErrorKind::Unauthenticated,
            ControlError::TooManyAttempts { .. } => ErrorKind::RateLimited,
            ControlError::Forbidden(_) | ControlError::NotYours(_) => ErrorKind::Forbidden,
            ControlError::NotFound { .. } => ErrorKind::NotFound,
            ControlError::Invalid(_) => ErrorKind::Invalid,
            ControlError::Conflict(_) => ErrorKind::Conflict,
            ControlError::Storage(storage) => storage.kind(),
            ControlError::SaveToken(_) => ErrorKind::Internal,
        }
    }
}
