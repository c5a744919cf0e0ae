//! Gateway result codes, sent in `Result-Status` (the mPaaS contract, docs/protocol.md "Result
//! codes"), with the HTTP status a failed `POST /mgw` answers with.

/// Why a call ended; `Success` when the backend or built-in service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Success,
    AccessDenied,
    RateLimited,
    NotAuthorized,
    LoginRequired,
    UnknownOperation,
    EmptyRequest,
    MalformedRequest,
    DecryptionFailed,
    BackendTimeout,
    BackendError,
    BackendUnreachable,
    Unknown,
    NoKey,
    SigningFieldsMissing,
    BadSignature,
    TimestampOutsideWindow,
    TimestampMissing,
    SignatureMissing,
    /// Midship's own code: the nonce was seen within the timestamp window.
    ReplayedNonce,
    /// Midship's own code: the body is larger than the gateway accepts.
    RequestTooLarge,
    /// Midship's own code: a connection token that is forged, garbled, expired or for another
    /// app, workspace or device.
    TokenInvalid,
    /// Midship's own code: the call must be signed with the device's own credential (the
    /// device registered, or its workspace no longer accepts app-secret signatures).
    DeviceCredentialRequired,
    /// Midship's own code: the device's credential was revoked; it registers again under a new
    /// id.
    DeviceCredentialRevoked,
    /// Midship's own code: the call does not fit the current state of what it names.
    Conflict,
}

impl ResultCode {
    pub const ALL: [ResultCode; 25] = [
        ResultCode::Success,
        ResultCode::AccessDenied,
        ResultCode::RateLimited,
        ResultCode::NotAuthorized,
        ResultCode::LoginRequired,
        ResultCode::UnknownOperation,
        ResultCode::EmptyRequest,
        ResultCode::MalformedRequest,
        ResultCode::DecryptionFailed,
        ResultCode::BackendTimeout,
        ResultCode::BackendError,
        ResultCode::BackendUnreachable,
        ResultCode::Unknown,
        ResultCode::NoKey,
        ResultCode::SigningFieldsMissing,
        ResultCode::BadSignature,
        ResultCode::TimestampOutsideWindow,
        ResultCode::TimestampMissing,
        ResultCode::SignatureMissing,
        ResultCode::ReplayedNonce,
        ResultCode::RequestTooLarge,
        ResultCode::TokenInvalid,
        ResultCode::DeviceCredentialRequired,
        ResultCode::DeviceCredentialRevoked,
        ResultCode::Conflict,
    ];

    pub fn code(self) -> u16 {
        match self {
            ResultCode::Success => 1000,
            ResultCode::AccessDenied => 1001,
            ResultCode::RateLimited => 1002,
            ResultCode::NotAuthorized => 1005,
            ResultCode::LoginRequired => 2000,
            ResultCode::UnknownOperation => 3000,
            ResultCode::EmptyRequest => 3001,
            ResultCode::MalformedRequest => 3002,
            ResultCode::DecryptionFailed => 3003,
            ResultCode::BackendTimeout => 4001,
            ResultCode::BackendError => 4002,
            ResultCode::BackendUnreachable => 4003,
            ResultCode::Unknown => 5000,
            ResultCode::NoKey => 7000,
            ResultCode::SigningFieldsMissing => 7001,
            ResultCode::BadSignature => 7002,
            ResultCode::TimestampOutsideWindow => 7003,
            ResultCode::TimestampMissing => 7007,
            ResultCode::SignatureMissing => 7014,
            ResultCode::ReplayedNonce => 7015,
            ResultCode::RequestTooLarge => 3004,
            ResultCode::TokenInvalid => 7016,
            ResultCode::DeviceCredentialRequired => 7017,
            ResultCode::DeviceCredentialRevoked => 7018,
            ResultCode::Conflict => 3005,
        }
    }

    /// The default `Memo`: what went wrong, for developers.
    pub fn memo(self) -> &'static str {
        match self {
            ResultCode::Success => "success",
            ResultCode::AccessDenied => "access denied",
            ResultCode::RateLimited => "rate limited",
            ResultCode::NotAuthorized => "not authorised by the authorizer api",
            ResultCode::LoginRequired => "login required",
            ResultCode::UnknownOperation => "unknown or closed operation type",
            ResultCode::EmptyRequest => "empty request",
            ResultCode::MalformedRequest => "malformed request",
            ResultCode::DecryptionFailed => "decryption failed",
            ResultCode::BackendTimeout => "backend timeout",
            ResultCode::BackendError => "backend error",
            ResultCode::BackendUnreachable => "backend unreachable",
            ResultCode::Unknown => "unknown error",
            ResultCode::NoKey => "no key for the app",
            ResultCode::SigningFieldsMissing => "signing fields missing",
            ResultCode::BadSignature => "bad signature",
            ResultCode::TimestampOutsideWindow => "timestamp outside the window",
            ResultCode::TimestampMissing => "timestamp missing",
            ResultCode::SignatureMissing => "signature missing",
            ResultCode::ReplayedNonce => "replayed nonce",
            ResultCode::RequestTooLarge => "request body too large",
            ResultCode::TokenInvalid => "connection token invalid or expired",
            ResultCode::DeviceCredentialRequired => "sign with the device credential",
            ResultCode::DeviceCredentialRevoked => "device credential revoked",
            ResultCode::Conflict => "conflicts with the current state",
        }
    }

    /// The default `Tips`: what an app may show its user.
    pub fn tips(self) -> &'static str {
        match self {
            ResultCode::Success => "",
            ResultCode::RateLimited => "Too many requests, please try again later.",
            ResultCode::LoginRequired => "Please sign in.",
            ResultCode::BackendTimeout | ResultCode::BackendUnreachable | ResultCode::BackendError => {
                "The service is busy, please try again later."
            }
            ResultCode::TimestampOutsideWindow => "Please check the time settings of your device.",
            _ => "Something went wrong, please try again later.",
        }
    }

    /// The code `Result-Status` carries, read back (`None` for a code this version does not know).
    pub fn from_code(code: u16) -> Option<ResultCode> {
        ResultCode::ALL.into_iter().find(|candidate| candidate.code() == code)
    }

    /// The HTTP status of a failed `POST /mgw` call (on success the backend's status is sent).
    pub fn http_status(self) -> u16 {
        match self {
            ResultCode::Success => 200,
            ResultCode::AccessDenied | ResultCode::NotAuthorized => 403,
            ResultCode::RateLimited => 429,
            ResultCode::LoginRequired => 401,
            ResultCode::UnknownOperation => 404,
            ResultCode::EmptyRequest | ResultCode::MalformedRequest | ResultCode::DecryptionFailed => 400,
            ResultCode::RequestTooLarge => 413,
            ResultCode::Conflict => 409,
            ResultCode::BackendTimeout => 504,
            ResultCode::BackendError | ResultCode::BackendUnreachable => 502,
            ResultCode::Unknown => 500,
            ResultCode::NoKey
            | ResultCode::SigningFieldsMissing
            | ResultCode::BadSignature
            | ResultCode::TimestampOutsideWindow
            | ResultCode::TimestampMissing
            | ResultCode::SignatureMissing
            | ResultCode::ReplayedNonce
            | ResultCode::TokenInvalid
            | ResultCode::DeviceCredentialRequired
            | ResultCode::DeviceCredentialRevoked => 401,
        }
    }

    /// Whether a client may send the same call again by itself: it was stopped before it could
    /// change anything (rate limited, or Midship's storage or the backend unreachable), so a retry
    /// cannot apply it twice. A backend timeout or error may have acted, so it is the app's call.
    pub fn is_safe_to_retry(self) -> bool {
        matches!(self, ResultCode::RateLimited | ResultCode::BackendUnreachable)
    }

    pub fn is_success(self) -> bool {
        self == ResultCode::Success
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_read_back() {
        let codes: HashSet<u16> = ResultCode::ALL.iter().map(|code| code.code()).collect();
        assert_eq!(codes.len(), ResultCode::ALL.len());
        for code in ResultCode::ALL {
            assert_eq!(ResultCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ResultCode::from_code(1003), None);
    }
}
