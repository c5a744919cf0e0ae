//! The one place that turns errors into HTTP statuses and admin API error codes: every domain
//! error names its [`ErrorKind`], and [`status_and_code`] maps each kind once. The gateway maps
//! the same kinds to result codes (`midship_gateway::result_for_kind`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use midship_api::{ErrorBody, codes};
use midship_core::{Classify, ErrorKind};

/// An admin API error: a status, a stable code (see `docs/api.md`) and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The status and error code of each kind of failure.
pub fn status_and_code(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::Invalid => (StatusCode::BAD_REQUEST, codes::INVALID_REQUEST),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, codes::PAYLOAD_TOO_LARGE),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, codes::FORBIDDEN),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, codes::NOT_FOUND),
        ErrorKind::Conflict => (StatusCode::CONFLICT, codes::CONFLICT),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, codes::UNAVAILABLE),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL),
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// An error of `kind` with `message`, which the caller reads as it is.
    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (status, code) = status_and_code(kind);
        Self::new(status, code, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::of_kind(ErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::of_kind(ErrorKind::NotFound, message)
    }
}

/// Any classified error: failures of Midship itself are logged whole and answered without their
/// text ([`ErrorKind::describes_to_caller`]).
impl<E: Classify> From<E> for ApiError {
    fn from(error: E) -> Self {
        let kind = error.kind();
        match kind {
            ErrorKind::Internal => tracing::error!(%error, "request failed"),
            ErrorKind::Unavailable => tracing::warn!(%error, "service unavailable"),
            _ => {}
        }
        Self::of_kind(kind, error.caller_message())
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
    ApiError::not_found("no such endpoint")
}

pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, codes::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}

#[cfg(test)]
mod tests {
    use midship_control::ControlError;
    use midship_storage::StorageError;

    use super::*;

    #[test]
    fn storage_failures_are_not_described_to_callers() {
        let error: ApiError =
            ControlError::from(StorageError::Database("connection to 10.0.0.5 refused".into())).into();
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.message.contains("10.0.0.5"), "{}", error.message);
        let error: ApiError = ControlError::from(StorageError::Corrupt { table: "apps", detail: "bad".into() }).into();
        assert_eq!((error.status, error.code), (StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL));
        let error: ApiError = ControlError::not_found("app", "A1").into();
        assert_eq!((error.status, error.message.as_str()), (StatusCode::NOT_FOUND, "app A1 not found"));
    }
}
