//! Console passwords: Argon2id with the `argon2` crate's defaults (OWASP's recommended 19 MiB,
//! two passes), stored as PHC strings so the parameters can be raised later.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use midship_core::ValidationError;
use rand::RngCore;

pub const MIN_LENGTH: usize = 12;
const MAX_LENGTH: usize = 256;

/// Length is what makes a password strong; the rest is a small list of the most common ones.
pub fn check_strength(password: &str, login: &str) -> Result<(), ValidationError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ValidationError::new("password", format!("must be at least {MIN_LENGTH} characters")));
    }
    if length > MAX_LENGTH {
        return Err(ValidationError::new("password", format!("must be at most {MAX_LENGTH} characters")));
    }
    let lower = password.to_lowercase();
    if lower.contains(login)
        || ["password", "123456789", "qwertyuiop", "midship"].iter().any(|weak| lower.contains(weak))
    {
        return Err(ValidationError::new("password", "is too easy to guess (it contains your login or a common word)"));
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
}

/// Whether the password matches; an unreadable stored hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A temporary password an admin hands over once: 18 random bytes, 24 characters.
pub fn temporary() -> String {
    let mut bytes = [0_u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A hash to verify against when the login is unknown, so a wrong login takes as long as a
/// wrong password and does not reveal which logins exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("a decoy password nobody has"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let stored = hash("correct horse battery staple");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(hash("same"), hash("same"), "salted");
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_strength("short", "ana").is_err());
        assert!(check_strength("ana-is-my-name-2026", "ana").is_err());
        assert!(check_strength("Password12345", "bo").is_err());
        assert!(check_strength("tram stop at dawn 7", "ana").is_ok());
        assert!(temporary().len() >= 24);
        assert!(check_strength(&temporary(), "ana").is_ok());
    }
}
