//! The mobile gateway's cryptography, as pure functions: no I/O, no clock, no network. Keys,
//! timestamps and randomness come in from the caller, so every rule is a plain unit test and the
//! SDK can share the exact code the gateway runs.
//!
//! The gateway stands between untrusted devices and trusted backends, and each side of it needs a
//! different proof:
//!
//! - [`client`]: the gateway verifies that a call comes from the app it names. Devices sign a fixed
//!   signing string with HMAC-SHA256 or HMAC-SM3 and the app's secret; the gateway checks it in
//!   constant time against every key still valid, so keys can rotate without breaking devices.
//! - [`proxy`]: the gateway proves itself to backends with `X-Midship-Proxy-Signature` (HMAC with a
//!   group secret, or RSA so backends only hold a public key), bound to the method, path, time and
//!   body of the forwarded call.
//! - [`envelope`]: bodies can be encrypted end to end between the app and the gateway (ECDH on
//!   P-256 with AES-256-GCM, or on SM2 with SM4-GCM), for traffic that must stay confidential even
//!   where TLS is terminated early.
//!
//! - [`device_credential`]: the per-device secret a registered device signs with, derived from a
//!   server-only workspace key, so an app's secret alone cannot act as a registered device.
//! - [`connect_token`]: short-lived tokens that open the device long connection without a signed
//!   hello, HMAC'd with a server-only workspace key.
//!
//! The wire formats are documented in `docs/protocol-signing.md`.
//!
//! The one read from outside is [`RsaSigner::sign`], which blinds the RSA private-key operation
//! with OS randomness against timing attacks; its output stays deterministic.
//!
//! Key generation takes a [`rand_core`] 0.6 RNG (the one RustCrypto uses, not the workspace's
//! `rand` 0.9); callers outside tests pass [`rand_core::OsRng`], re-exported here so they need not
//! depend on that version themselves.

pub mod client;
pub mod connect_token;
pub mod device_credential;
pub mod envelope;
pub mod proxy;

pub use client::{SignType, SigningInput};
pub use envelope::{EnvelopeError, GatewayKey, SessionKey, Suite};
pub use proxy::{ProxySignatureError, RsaSigner, RsaVerifier, SigningError};
pub use rand_core;

/// Lower-case hex SHA-256 of a body, the last line of both signing strings.
fn body_digest_hex(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

#[cfg(test)]
mod test_rng {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    /// A seeded RNG, so key generation in tests is reproducible.
    pub(crate) fn seeded(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }
}
