//! Compact JWS for provider authentication: ES256 (APNs) and RS256 (Google OAuth).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// ES256: the signature is the raw `r || s`, as JWS asks (not DER).
pub fn es256(header: &Value, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer;
    let input = signing_input(header, claims);
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// RS256: RSASSA-PKCS1-v1_5 with SHA-256.
pub fn rs256(header: &Value, claims: &Value, key: &rsa::pkcs1v15::SigningKey<sha2::Sha256>) -> String {
    use rsa::signature::{SignatureEncoding, Signer};
    let input = signing_input(header, claims);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
