//! The one place that turns service errors into HTTP statuses and admin API error codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use midship_api::{ErrorBody, codes};
use midship_control::ControlError;
use midship_storage::StorageError;

/// An admin API error: a status, a stable code (see `docs/api.md`) and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        let message = error.to_string();
        match error {
            ControlError::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message),
            ControlError::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message),
            ControlError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message),
            ControlError::Invalid(_) => Self::invalid(message),
            ControlError::Conflict(_) => Self::new(StatusCode::CONFLICT, codes::CONFLICT, message),
            ControlError::Storage(StorageError::Database(detail)) => {
                tracing::error!(error = %detail, "database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, "storage is unavailable, try again")
            }
            ControlError::SaveToken(_) => {
                tracing::error!(error = %message, "bootstrap failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, "internal error, see the server log")
            }
            ControlError::Storage(storage_error) => {
                tracing::error!(error = %storage_error, "storage failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, "internal error, see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.to_owned(), message: self.message };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub async fn not_found_fallback() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such endpoint")
}

pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, codes::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}

impl From<midship_switches::SwitchError> for ApiError {
    fn from(error: midship_switches::SwitchError) -> Self {
        use midship_switches::SwitchError;
        let message = error.to_string();
        match error {
            SwitchError::Control(control) => control.into(),
            SwitchError::Invalid(_) => Self::invalid(message),
            SwitchError::UnknownSwitch(_) | SwitchError::UnknownVersion(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            SwitchError::ConcurrentPublish | SwitchError::NothingToPublish(_) => {
                Self::new(StatusCode::CONFLICT, codes::CONFLICT, message)
            }
        }
    }
}

impl From<midship_gateway::GatewayError> for ApiError {
    fn from(error: midship_gateway::GatewayError) -> Self {
        use midship_gateway::GatewayError;
        let message = error.to_string();
        match error {
            GatewayError::Control(control) => control.into(),
            GatewayError::Invalid(_) => Self::invalid(message),
            GatewayError::Conflict(_) => Self::new(StatusCode::CONFLICT, codes::CONFLICT, message),
            GatewayError::UnknownGroup(_) | GatewayError::UnknownApi(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
        }
    }
}

impl From<midship_push::PushError> for ApiError {
    fn from(error: midship_push::PushError) -> Self {
        use midship_push::PushError;
        let message = error.to_string();
        match error {
            PushError::Control(control) => control.into(),
            PushError::Invalid { .. } => Self::invalid(message),
            PushError::TooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, codes::PAYLOAD_TOO_LARGE, message),
            PushError::UnknownTemplate(_) | PushError::UnknownChannel(_) | PushError::UnknownTask(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            PushError::Conflict(_) => Self::new(StatusCode::CONFLICT, codes::CONFLICT, message),
            PushError::Denied(_) => Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message),
            PushError::UnknownDevice(_) => Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message),
        }
    }
}

impl From<midship_sync::SyncError> for ApiError {
    fn from(error: midship_sync::SyncError) -> Self {
        use midship_sync::SyncError;
        let message = error.to_string();
        match error {
            SyncError::Control(control) => control.into(),
            SyncError::InvalidConfig(_) | SyncError::InvalidSend { .. } => Self::invalid(message),
            SyncError::UnknownBizType(_) => Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message),
            SyncError::AtCapacity(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, message),
        }
    }
}

impl From<midship_analytics::AnalyticsError> for ApiError {
    fn from(error: midship_analytics::AnalyticsError) -> Self {
        use midship_analytics::AnalyticsError;
        let message = error.to_string();
        match error {
            AnalyticsError::Control(control) => control.into(),
            AnalyticsError::Malformed(_) | AnalyticsError::Invalid { .. } => Self::invalid(message),
            AnalyticsError::UnknownGroup(_) | AnalyticsError::UnknownAlert(_) | AnalyticsError::UnknownLogFile(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            AnalyticsError::NotAsked(_) => Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message),
            AnalyticsError::RateLimited(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, message),
            AnalyticsError::WriterStopped | AnalyticsError::Export(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE, message)
            }
        }
    }
}

impl From<midship_delivery::DeliveryError> for ApiError {
    fn from(error: midship_delivery::DeliveryError) -> Self {
        use midship_delivery::DeliveryError;
        let message = error.to_string();
        match error {
            DeliveryError::Control(control) => control.into(),
            DeliveryError::Invalid { .. } | DeliveryError::Package(_) => Self::invalid(message),
            DeliveryError::TooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, codes::PAYLOAD_TOO_LARGE, message),
            DeliveryError::UnknownPackage(_) | DeliveryError::UnknownRelease(_) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            DeliveryError::Conflict(_) => Self::new(StatusCode::CONFLICT, codes::CONFLICT, message),
            DeliveryError::Blob(midship_delivery::BlobError::BadName(_)) => {
                Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
            }
            DeliveryError::Blob(blob_error) => {
                tracing::error!(error = %blob_error, "package store failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::UNAVAILABLE,
                    "the package store is unavailable, try again",
                )
            }
        }
    }
}
