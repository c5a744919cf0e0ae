//! One error for every part, so bindings get one exception type with a result code to branch on.

use midship_sdk::analytics::AnalyticsClientError;
use midship_sdk::config::ConfigError;
use midship_sdk::delivery::DeliveryClientError;
use midship_sdk::push::PushClientError;
use midship_sdk::rpc::{RegisterError, RpcError};
use midship_sdk::sync::SyncClientError;

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum MidshipError {
    /// The gateway answered with a result code other than 1000 (docs/protocol.md lists them).
    #[error("refused with result {result_code}: {memo}")]
    Refused { result_code: u16, memo: String },
    /// The server could not be reached, or the connection dropped; try again later.
    #[error("cannot reach midship: {detail}")]
    Unreachable { detail: String },
    /// The server answered something the protocol does not allow.
    #[error("unexpected answer: {detail}")]
    BadAnswer { detail: String },
    /// A package failed its signature or hash checks, or could not be unpacked: it was not used.
    #[error("package refused: {detail}")]
    Package { detail: String },
    /// The SDK's files (positions, queue, credential) could not be read or written.
    #[error("local state: {detail}")]
    LocalState { detail: String },
    /// The app passed something unusable (not JSON, an unknown id).
    #[error("invalid argument: {detail}")]
    InvalidArgument { detail: String },
    /// A call that needs [`crate::Midship::start`] came before it.
    #[error("call start() first")]
    NotStarted,
    /// [`crate::Midship::shutdown`] was called.
    #[error("the sdk is closed")]
    Closed,
    /// A fault of the SDK itself (one of its tasks failed); report it.
    #[error("sdk fault: {detail}")]
    Internal { detail: String },
}

impl MidshipError {
    pub(crate) fn refused(result_code: u16, memo: String) -> Self {
        MidshipError::Refused { result_code, memo }
    }

    pub(crate) fn invalid(detail: impl std::fmt::Display) -> Self {
        MidshipError::InvalidArgument { detail: detail.to_string() }
    }

    pub(crate) fn local(detail: impl std::fmt::Display) -> Self {
        MidshipError::LocalState { detail: detail.to_string() }
    }
}

impl From<RpcError> for MidshipError {
    fn from(error: RpcError) -> Self {
        match error {
            RpcError::Transport(_) => MidshipError::Unreachable { detail: error.to_string() },
            RpcError::NotAGateway(_) | RpcError::Envelope(_) => MidshipError::BadAnswer { detail: error.to_string() },
        }
    }
}

impl From<RegisterError> for MidshipError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Rpc(error) => error.into(),
            RegisterError::Refused { result, memo } => MidshipError::refused(result, memo),
            RegisterError::Answer(error) => MidshipError::BadAnswer { detail: error.to_string() },
        }
    }
}

impl From<ConfigError> for MidshipError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::Rpc(error) => error.into(),
            ConfigError::Refused { result, memo } => MidshipError::refused(result, memo),
            ConfigError::Answer(error) => MidshipError::BadAnswer { detail: error.to_string() },
            ConfigError::Cache(error) => MidshipError::local(error),
        }
    }
}

impl From<SyncClientError> for MidshipError {
    fn from(error: SyncClientError) -> Self {
        match error {
            SyncClientError::State { .. } => MidshipError::local(error),
            SyncClientError::NotConnected | SyncClientError::Timeout(_) => {
                MidshipError::Unreachable { detail: error.to_string() }
            }
        }
    }
}

impl From<PushClientError> for MidshipError {
    fn from(error: PushClientError) -> Self {
        match error {
            PushClientError::Sync(error) => error.into(),
            PushClientError::Refused { result, memo } => MidshipError::refused(result, memo),
        }
    }
}

impl From<DeliveryClientError> for MidshipError {
    fn from(error: DeliveryClientError) -> Self {
        match error {
            DeliveryClientError::Rpc(error) => error.into(),
            DeliveryClientError::Refused { result, memo } => MidshipError::refused(result, memo),
            DeliveryClientError::Answer(detail) => MidshipError::BadAnswer { detail },
            DeliveryClientError::Download(detail) => MidshipError::Unreachable { detail },
            DeliveryClientError::Io(error) => MidshipError::local(error),
            DeliveryClientError::Package(error) => MidshipError::Package { detail: error.to_string() },
        }
    }
}

impl From<AnalyticsClientError> for MidshipError {
    fn from(error: AnalyticsClientError) -> Self {
        match error {
            AnalyticsClientError::Rpc(error) => error.into(),
            AnalyticsClientError::Refused { result, memo } => MidshipError::refused(result, memo),
            AnalyticsClientError::BadAnswer(detail) => MidshipError::BadAnswer { detail },
            AnalyticsClientError::NoKind => MidshipError::invalid(error),
            AnalyticsClientError::Queue { .. } => MidshipError::local(error),
        }
    }
}
