//! The request signature by hand, for tools and tests that sign calls themselves (and so that
//! every binding can check itself against `conformance/signing-vectors.json`).

use midship_signing::client::{SignType, SigningInput, sign};

use crate::MidshipError;

/// One call's signing inputs (docs/protocol-signing.md); `device_id` and `user_id` are `""`
/// where the call names none, and only count for the `device-hmac-*` sign types.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CallToSign {
    pub method: String,
    pub operation_type: String,
    pub app_id: String,
    pub workspace_id: String,
    pub device_id: String,
    pub user_id: String,
    pub ts: String,
    pub nonce: String,
    pub body: Vec<u8>,
    /// `hmac-sha256`, `hmac-sm3`, `device-hmac-sha256` or `device-hmac-sm3`.
    pub sign_type: String,
    /// The app's secret or the device's credential, as the ASCII text it was given in.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedCall {
    pub signing_string: String,
    /// For the `Sign` header.
    pub sign: String,
}

#[uniffi::export]
pub fn sign_call(call: CallToSign) -> Result<SignedCall, MidshipError> {
    let sign_type = SignType::parse(&call.sign_type)
        .ok_or_else(|| MidshipError::invalid(format!("unknown sign type {:?}", call.sign_type)))?;
    let input = SigningInput {
        method: &call.method,
        operation_type: &call.operation_type,
        app_id: &call.app_id,
        workspace_id: &call.workspace_id,
        device_id: &call.device_id,
        user_id: &call.user_id,
        timestamp: &call.ts,
        nonce: &call.nonce,
        body: &call.body,
    };
    let signing_string = if sign_type.is_device() { input.device_signing_string() } else { input.signing_string() };
    Ok(SignedCall { signing_string, sign: sign(sign_type, call.key.as_bytes(), &input) })
}
