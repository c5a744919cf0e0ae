//! Gateway result codes: the codes themselves are the device contract (`midship_protocol`); what
//! is the gateway's own is which code a built-in service's failure answers.

use midship_core::ErrorKind;
pub use midship_protocol::ResultCode;

/// The code a built-in service's failure of `kind` answers, the device's face of the one error
/// classification (the admin API's is `midship_server::error::status_and_code`).
pub fn result_for_kind(kind: ErrorKind) -> ResultCode {
    match kind {
        ErrorKind::Invalid | ErrorKind::NotFound => ResultCode::MalformedRequest,
        ErrorKind::TooLarge => ResultCode::RequestTooLarge,
        ErrorKind::Unauthenticated | ErrorKind::Forbidden => ResultCode::AccessDenied,
        ErrorKind::Conflict => ResultCode::Conflict,
        ErrorKind::RateLimited => ResultCode::RateLimited,
        ErrorKind::Unavailable => ResultCode::BackendUnreachable,
        ErrorKind::Internal => ResultCode::Unknown,
    }
}
