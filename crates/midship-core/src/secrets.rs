//! Secrets handed out once: admin API tokens (stored only as a hash) and app signing secrets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every admin token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "msp_";

/// A new admin API token: 256 random bits. The plain text is shown once and never stored.
pub fn new_api_token(rng: &mut impl RngCore) -> String {
    random_secret(TOKEN_PREFIX, rng)
}

/// `prefix` and 256 random bits, URL-safe.
fn random_secret(prefix: &str, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token. Tokens carry 256 random bits, so a fast hash is enough:
/// there is nothing to brute-force.
pub fn hash_api_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Console session cookies begin with this.
pub const SESSION_PREFIX: &str = "mss_";
/// The cookie a visitor holds before signing in, which the sign-in forms' anti-forgery field
/// comes from.
pub const PRESESSION_PREFIX: &str = "mps_";

/// A new console session secret, the cookie's value: 256 random bits, stored only hashed (with
/// [`hash_api_token`]).
pub fn new_session_secret(rng: &mut impl RngCore) -> String {
    random_secret(SESSION_PREFIX, rng)
}

/// A new pre-session cookie value: random, never stored.
pub fn new_presession_secret(rng: &mut impl RngCore) -> String {
    random_secret(PRESESSION_PREFIX, rng)
}

/// The anti-forgery token of a session's forms: derived from the session secret, which another
/// site cannot read, so nothing more is stored.
pub fn csrf_token(session_secret: &str) -> String {
    let digest = Sha256::digest(format!("midship csrf\n{session_secret}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// A short, non-secret hint shown in token lists (`msp_AbCd…`).
pub fn token_hint(token: &str) -> String {
    let visible: String = token.chars().take(TOKEN_PREFIX.len() + 4).collect();
    format!("{visible}…")
}

/// A new app signing secret: 256 random bits as 64 hex characters, easy to paste into app config.
pub fn new_app_secret(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn tokens_are_prefixed_and_hashed_stably() {
        let mut rng = StdRng::seed_from_u64(1);
        let token = new_api_token(&mut rng);
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_api_token(&token), hash_api_token(&token));
        assert_ne!(hash_api_token(&token), token);
        assert!(token_hint(&token).ends_with('…'));
        assert_eq!(new_app_secret(&mut rng).len(), 64);
    }
}
