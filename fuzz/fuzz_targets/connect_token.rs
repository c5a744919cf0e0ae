//! Connection tokens a device presents in its hello. Drives `check` below, a thin wrapper over
//! `midship_signing::connect_token::verify`, so a new token format needs only `check` and the
//! seeds changed.
//!
//! Invariants: never a panic; claims that parse issue a token that verifies back to them (or is
//! refused as expired, as living past the lifetime cap, or as too long to be a token).

#![no_main]

use libfuzzer_sys::fuzz_target;
use midship_fuzz::{NOW_MS, TOKEN_SECRET};
use midship_signing::connect_token::{self, ConnectClaims, MAX_TOKEN_BYTES, TokenError};

/// The longest a token may live, as the gateway checks it.
const MAX_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

/// The token check the gateway runs on a hello, with a rotated-out key first.
fn check(token: &str) -> Result<ConnectClaims, TokenError> {
    connect_token::verify(&[b"an older key", TOKEN_SECRET], token, NOW_MS, MAX_LIFETIME_MS)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = check(&text);

    // The bytes as a token's claims: what an issuer signs, the device sends back.
    let Ok(claims) = serde_json::from_slice::<ConnectClaims>(data) else {
        return;
    };
    let token = connect_token::issue(TOKEN_SECRET, &claims);
    let expected = if token.len() > MAX_TOKEN_BYTES {
        Err(TokenError::Malformed)
    } else if claims.expires_at <= NOW_MS {
        Err(TokenError::Expired)
    } else if claims.expires_at.saturating_sub(claims.issued_at) > MAX_LIFETIME_MS
        || claims.expires_at.saturating_sub(NOW_MS) > MAX_LIFETIME_MS
    {
        Err(TokenError::LifetimeTooLong)
    } else {
        Ok(claims)
    };
    assert_eq!(check(&token), expected, "{token}");
});
