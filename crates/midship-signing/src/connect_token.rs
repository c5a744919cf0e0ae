//! Connection tokens: short-lived proofs that let a device open the long connection without
//! signing its hello, issued by the RPC `midship.sync.token` or by a backend through the admin
//! API (which may vouch for the user). A token is
//!
//! `mct2.{base64url(claims JSON)}.{base64url(HMAC-SHA256(token key, "midship-connect-token-v2\n" + claims part))}`
//!
//! with base64url unpadded (RFC 4648 §5). The token key is the workspace's, held by the server
//! only: never the app's secret, which every copy of the app carries (the first version, `mct1`,
//! was keyed with it, so anyone who read it from an app could mint a token vouching for any user).
//! A token's lifetime is capped when it is used, not only when it is issued. Format in
//! docs/protocol-signing.md.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "mct2";
const DOMAIN: &[u8] = b"midship-connect-token-v2\n";
/// Longer tokens are refused before any work is done on them.
pub const MAX_TOKEN_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectClaims {
    #[serde(rename = "app")]
    pub app_id: String,
    #[serde(rename = "ws")]
    pub workspace_id: String,
    /// When set, only this device may use the token.
    #[serde(rename = "dev", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(rename = "uid", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The issuer vouches for `user_id` (a backend did; a device asking for itself does not).
    #[serde(rename = "uv", default)]
    pub user_verified: bool,
    /// Milliseconds since the epoch; tokens issued before a workspace's revocation are refused.
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// Milliseconds since the epoch.
    #[serde(rename = "exp")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a connection token")]
    Malformed,
    #[error("the connection token's signature does not match")]
    BadSignature,
    #[error("the connection token has expired")]
    Expired,
    #[error("the connection token lives longer than tokens may")]
    LifetimeTooLong,
}

fn mac(secret: &[u8], claims_part: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    mac.update(claims_part.as_bytes());
    mac
}

pub fn issue(secret: &[u8], claims: &ConnectClaims) -> String {
    let claims_part = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, &claims_part).finalize().into_bytes());
    format!("{PREFIX}.{claims_part}.{tag}")
}

/// The claims of a token signed with one of `secrets` that has not expired at `now_ms` and
/// whose life, from issue to expiry, is at most `max_lifetime_ms`. The signature is checked (in
/// constant time) before the claims are read.
pub fn verify(secrets: &[&[u8]], token: &str, now_ms: i64, max_lifetime_ms: i64) -> Result<ConnectClaims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(claims_part), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    if !secrets.iter().any(|secret| mac(secret, claims_part).verify_slice(&tag).is_ok()) {
        return Err(TokenError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD.decode(claims_part).map_err(|_| TokenError::Malformed)?;
    let claims: ConnectClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.expires_at <= now_ms {
        return Err(TokenError::Expired);
    }
    if claims.expires_at.saturating_sub(claims.issued_at) > max_lifetime_ms
        || claims.expires_at.saturating_sub(now_ms) > max_lifetime_ms
    {
        return Err(TokenError::LifetimeTooLong);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"3b43251287c3a391e6dc6e0003d225fd43e52035f606a3100b15de4b2755acc0";

    const DOCUMENTED_TOKEN: &str = "mct2.eyJhcHAiOiIwMUhWN1ozSzlNMlE4UlhBIiwid3MiOiIwMUhWN1ozS0E0TjZQMFdCIiwidWlkIjoiYWxpY2UiLCJ1diI6dHJ1ZSwiaWF0IjoxNzE3MDAwMDAwMDAwLCJleHAiOjE3MTcwMDA2MDAwMDB9.3Y1s2S2XYFRfqKKKqHEOKVvrlXJZiWIDelR8MQC-qxw";

    fn claims() -> ConnectClaims {
        ConnectClaims {
            app_id: "01HV7Z3K9M2Q8RXA".into(),
            workspace_id: "01HV7Z3KA4N6P0WB".into(),
            device_id: None,
            user_id: Some("alice".into()),
            user_verified: true,
            issued_at: 1_717_000_000_000,
            expires_at: 1_717_000_600_000,
        }
    }

    const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

    #[test]
    fn matches_the_documented_example() {
        let token = issue(SECRET, &claims());
        assert_eq!(token, DOCUMENTED_TOKEN);
        assert_eq!(verify(&[b"old", SECRET], &token, 1_717_000_000_000, WEEK_MS), Ok(claims()));
    }

    #[test]
    fn refuses_forged_expired_and_garbled_tokens() {
        let token = issue(SECRET, &claims());
        let now = claims().issued_at;
        assert_eq!(verify(&[b"other"], &token, now, WEEK_MS), Err(TokenError::BadSignature));
        assert_eq!(verify(&[SECRET], &token, claims().expires_at, WEEK_MS), Err(TokenError::Expired));
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"app":"X","ws":"Y","uv":true,"iat":0,"exp":99999999999999}"#);
        let tag = token.rsplit('.').next().unwrap();
        assert_eq!(
            verify(&[SECRET], &format!("mct2.{forged_claims}.{tag}"), now, WEEK_MS),
            Err(TokenError::BadSignature)
        );
        for garbled in ["", "mct2", "mct2.a", "mct1.a.b", "mct2.a.b.c", "mct2.!!.??"] {
            assert_eq!(verify(&[SECRET], garbled, now, WEEK_MS), Err(TokenError::Malformed), "{garbled}");
        }
        assert_eq!(verify(&[SECRET], &"a".repeat(3000), now, WEEK_MS), Err(TokenError::Malformed));
    }

    #[test]
    fn lifetimes_are_capped_when_a_token_is_used() {
        // Even a correctly signed token (a leaked key, an old issuer) may not live past the cap.
        let far = ConnectClaims { expires_at: 99_999_999_999_999, ..claims() };
        let token = issue(SECRET, &far);
        assert_eq!(verify(&[SECRET], &token, far.issued_at, WEEK_MS), Err(TokenError::LifetimeTooLong));
        let extreme = ConnectClaims { issued_at: i64::MIN, expires_at: i64::MAX, ..claims() };
        let token = issue(SECRET, &extreme);
        assert_eq!(verify(&[SECRET], &token, claims().issued_at, WEEK_MS), Err(TokenError::LifetimeTooLong));
        let backdated = ConnectClaims { issued_at: 0, ..claims() };
        let token = issue(SECRET, &backdated);
        assert_eq!(verify(&[SECRET], &token, claims().issued_at, WEEK_MS), Err(TokenError::LifetimeTooLong));
    }
}
