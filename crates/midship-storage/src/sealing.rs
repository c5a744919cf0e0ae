//! Secrets kept in the database (app signing secrets, the workspaces' server keys, envelope and
//! package signing keys, push channel credentials) are sealed under a key-encryption key (KEK)
//! that lives outside the database, so a copied database or backup gives none of them away.
//!
//! A sealed value is `sealed:v1:<kek id>:<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>`, with
//! the column it belongs to as associated data, so a value moved to another column does not open.
//! A keyring holds the current KEK, which seals, and any number of older ones that only open:
//! rotation is "add the new key, reseal, drop the old one" without a moment where a stored secret
//! cannot be read. Values written before sealing existed are read as they are and resealed at
//! start.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const SEALED_PREFIX: &str = "sealed:v1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a key-encryption key is 32 bytes in standard base64 (44 characters); this one is not")]
    MalformedKey,
    #[error("a secret is sealed with key-encryption key {key_id}, which this node does not have")]
    UnknownKey { key_id: String },
    #[error("a sealed secret does not open (damaged, or moved from another column)")]
    Damaged,
}

/// One key-encryption key. Its id (16 hex digits of a hash of the key) names it in sealed values
/// and logs without revealing it.
pub struct KeyEncryptionKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("KeyEncryptionKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl KeyEncryptionKey {
    /// A key from its standard base64 text (surrounding whitespace ignored, as in a key file).
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| SealError::MalformedKey)?);
        let bytes: &[u8; KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| SealError::MalformedKey)?;
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"midship key-encryption key id\n");
        hasher.update(bytes);
        let id = hex::encode(&hasher.finalize()[..8]);
        Self { id, cipher: Aes256Gcm::new(bytes.into()) }
    }

    /// A fresh random key as standard base64, the form key files and `MIDSHIP_SECRETS__KEY` hold.
    pub fn generate_text() -> Zeroizing<String> {
        let mut bytes = Zeroizing::new([0_u8; KEY_BYTES]);
        OsRng.fill_bytes(bytes.as_mut_slice());
        Zeroizing::new(STANDARD.encode(bytes.as_slice()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current KEK and the older ones that still open what they sealed.
#[derive(Debug)]
pub struct SecretKeyring {
    current: KeyEncryptionKey,
    open_only: Vec<KeyEncryptionKey>,
}

impl SecretKeyring {
    pub fn new(current: KeyEncryptionKey, open_only: Vec<KeyEncryptionKey>) -> Self {
        let open_only = open_only.into_iter().filter(|key| key.id != current.id).collect();
        Self { current, open_only }
    }

    /// A keyring with a fresh random key, for stores that live no longer than the process (tests,
    /// benchmarks).
    pub fn ephemeral() -> Self {
        let key = KeyEncryptionKey::parse(&KeyEncryptionKey::generate_text()).expect("a generated key parses");
        Self::new(key, Vec::new())
    }

    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }

    /// Seals `plain` for `column` (such as `app_keys.secret`) under the current key.
    pub fn seal(&self, column: &str, plain: &str) -> String {
        let mut nonce = [0_u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload { msg: plain.as_bytes(), aad: column.as_bytes() };
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}:{}", self.current.id, URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The plain value of a stored one: sealed values are opened with the key they name, values
    /// stored before sealing are returned as they are.
    pub fn open(&self, column: &str, stored: &str) -> Result<Zeroizing<String>, SealError> {
        let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(Zeroizing::new(stored.to_owned()));
        };
        let (key_id, body) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = std::iter::once(&self.current)
            .chain(&self.open_only)
            .find(|key| key.id == key_id)
            .ok_or_else(|| SealError::UnknownKey { key_id: key_id.to_owned() })?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Damaged)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: column.as_bytes() })
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map(Zeroizing::new).map_err(|_| SealError::Damaged)
    }

    /// Whether a stored value should be sealed again: it is plain, or sealed with an older key.
    pub fn needs_resealing(&self, stored: &str) -> bool {
        match stored.strip_prefix(SEALED_PREFIX).and_then(|rest| rest.split_once(':')) {
            Some((key_id, _)) => key_id != self.current.id,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyEncryptionKey {
        KeyEncryptionKey::parse(&KeyEncryptionKey::generate_text()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_column_and_hides_its_text() {
        let keyring = SecretKeyring::new(key(), Vec::new());
        let sealed = keyring.seal("app_keys.secret", "hunter2-hunter2");
        assert!(sealed.starts_with(&format!("sealed:v1:{}:", keyring.current_key_id())), "{sealed}");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(keyring.open("app_keys.secret", &sealed).unwrap().as_str(), "hunter2-hunter2");
        assert_eq!(keyring.open("delivery_signing_keys.secret", &sealed), Err(SealError::Damaged));
        assert_ne!(keyring.seal("app_keys.secret", "hunter2-hunter2"), sealed, "a fresh nonce per seal");
    }

    #[test]
    fn values_from_before_sealing_are_read_as_they_are_and_resealed() {
        let keyring = SecretKeyring::new(key(), Vec::new());
        assert_eq!(keyring.open("app_keys.secret", "plain-secret").unwrap().as_str(), "plain-secret");
        assert!(keyring.needs_resealing("plain-secret"));
        assert!(!keyring.needs_resealing(&keyring.seal("app_keys.secret", "plain-secret")));
    }

    #[test]
    fn rotation_keeps_old_values_open_until_resealed() {
        let old_text = KeyEncryptionKey::generate_text();
        let old = SecretKeyring::new(KeyEncryptionKey::parse(&old_text).unwrap(), Vec::new());
        let sealed_with_old = old.seal("c", "secret");
        let rotated = SecretKeyring::new(key(), vec![KeyEncryptionKey::parse(&old_text).unwrap()]);
        assert!(rotated.needs_resealing(&sealed_with_old));
        assert_eq!(rotated.open("c", &sealed_with_old).unwrap().as_str(), "secret");
        let without_old = SecretKeyring::new(key(), Vec::new());
        assert_eq!(
            without_old.open("c", &sealed_with_old),
            Err(SealError::UnknownKey { key_id: old.current_key_id().to_owned() })
        );
    }

    #[test]
    fn damaged_values_and_malformed_keys_are_refused() {
        let keyring = SecretKeyring::new(key(), Vec::new());
        let sealed = keyring.seal("c", "secret");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(keyring.open("c", &String::from_utf8(flipped).unwrap()), Err(SealError::Damaged));
        let id = keyring.current_key_id();
        assert_eq!(keyring.open("c", &format!("sealed:v1:{id}:AAAA")), Err(SealError::Damaged));
        assert_eq!(keyring.open("c", &format!("sealed:v1:{id}")), Err(SealError::Damaged));
        assert_eq!(KeyEncryptionKey::parse("c2hvcnQ=").unwrap_err(), SealError::MalformedKey);
        assert_eq!(KeyEncryptionKey::parse("not base64!").unwrap_err(), SealError::MalformedKey);
        let debug = format!("{:?}", KeyEncryptionKey::parse(&KeyEncryptionKey::generate_text()).unwrap());
        assert!(debug.contains("id") && !debug.contains("cipher"), "{debug}");
    }
}
