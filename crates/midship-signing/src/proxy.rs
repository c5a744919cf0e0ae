//! The gateway-to-backend signature, `X-Midship-Proxy-Signature`: how a backend proves a call came
//! through the gateway and was not changed or replayed long after.
//!
//! The string to sign joins four lines with `\n`, with no trailing newline:
//!
//! ```text
//! {METHOD}\n{path and query exactly as sent upstream}\n{t}\n{hex(sha256(body))}
//! ```
//!
//! and the header is `t={t},alg=hmac-sha256,sig={lower-case hex}` (keyed with the API group's proxy
//! secret) or `t={t},alg=rsa-sha256,sig={standard base64 RSASSA-PKCS1-v1_5 SHA-256 signature}`
//! (the backend holds only the public key). `t` is milliseconds since the Unix epoch.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// The header the gateway adds to every upstream call.
pub const HEADER: &str = "X-Midship-Proxy-Signature";
/// `alg` of the HMAC-SHA256 variant.
pub const ALG_HMAC_SHA256: &str = "hmac-sha256";
/// `alg` of the RSA variant.
pub const ALG_RSA_SHA256: &str = "rsa-sha256";
/// Size of the keys [`generate_rsa_key`] makes, and the smallest [`RsaSigner`] accepts.
pub const RSA_KEY_BITS: usize = 2048;

/// Why a proxy signature header does not prove the call came through the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxySignatureError {
    #[error("malformed proxy signature header: {0}")]
    MalformedHeader(&'static str),
    #[error("unknown or unexpected algorithm {found:?}, expected {expected}")]
    UnknownAlgorithm { found: String, expected: &'static str },
    #[error("timestamp {timestamp_ms} is more than {max_age_ms} ms away from now ({now_ms})")]
    StaleTimestamp { timestamp_ms: i64, now_ms: i64, max_age_ms: i64 },
    #[error("signature does not match")]
    BadSignature,
    #[error("invalid rsa public key")]
    BadPublicKey,
}

/// Why an RSA signing key cannot be made or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("invalid pkcs#8 rsa private key")]
    InvalidPrivateKey,
    #[error("rsa key has {bits} bits, at least {RSA_KEY_BITS} are required")]
    KeyTooSmall { bits: usize },
    #[error("rsa key generation failed")]
    KeyGeneration,
    #[error("cannot encode the rsa key as pem")]
    Encoding,
}

/// The string both variants sign (see the module docs).
pub fn string_to_sign(method: &str, path_and_query: &str, timestamp: &str, body: &[u8]) -> String {
    [method, path_and_query, timestamp, &crate::body_digest_hex(body)].join("\n")
}

/// The whole `X-Midship-Proxy-Signature` value for a call, signed with the group's proxy secret.
pub fn sign_hmac(secret: &[u8], method: &str, path_and_query: &str, timestamp_ms: i64, body: &[u8]) -> String {
    let timestamp = timestamp_ms.to_string();
    let message = string_to_sign(method, path_and_query, &timestamp, body);
    let signature = hex::encode(hmac_sha256(secret, &message).finalize().into_bytes());
    format!("t={timestamp},alg={ALG_HMAC_SHA256},sig={signature}")
}

/// Checks an HMAC proxy signature header: its algorithm, that `t` is within `max_age_ms` of
/// `now_ms` (either way, to allow for clock skew), and the HMAC, in constant time.
pub fn verify_hmac(
    secret: &[u8],
    header_value: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_ms: i64,
    max_age_ms: i64,
) -> Result<(), ProxySignatureError> {
    let header = ParsedHeader::parse(header_value)?.check(ALG_HMAC_SHA256, now_ms, max_age_ms)?;
    let expected = hex::decode(header.signature).map_err(|_| ProxySignatureError::BadSignature)?;
    let message = string_to_sign(method, path_and_query, header.timestamp, body);
    hmac_sha256(secret, &message).verify_slice(&expected).map_err(|_| ProxySignatureError::BadSignature)
}

/// Checks an RSA proxy signature header against the gateway's public key (SPKI `PUBLIC KEY` PEM as
/// [`RsaSigner::public_key_pem`] prints it, or PKCS#1 `RSA PUBLIC KEY` PEM). Backends that verify
/// many calls should keep an [`RsaVerifier`] instead, which parses the key once.
pub fn verify_rsa(
    public_key_pem: &str,
    header_value: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_ms: i64,
    max_age_ms: i64,
) -> Result<(), ProxySignatureError> {
    RsaVerifier::from_public_key_pem(public_key_pem)?.verify(
        header_value,
        method,
        path_and_query,
        body,
        now_ms,
        max_age_ms,
    )
}

/// Signs upstream calls with the gateway's RSA key, so backends need only its public key.
#[derive(Clone)]
pub struct RsaSigner {
    signing_key: pkcs1v15::SigningKey<Sha256>,
    public_key_pem: String,
    bits: usize,
}

impl RsaSigner {
    /// Loads a PKCS#8 `PRIVATE KEY` PEM (as [`generate_rsa_key`] makes or `openssl genpkey`
    /// prints) of at least [`RSA_KEY_BITS`] bits.
    pub fn from_pkcs8_pem(private_key_pem: &str) -> Result<RsaSigner, SigningError> {
        let private_key =
            RsaPrivateKey::from_pkcs8_pem(private_key_pem).map_err(|_| SigningError::InvalidPrivateKey)?;
        let bits = private_key.n().bits();
        if bits < RSA_KEY_BITS {
            return Err(SigningError::KeyTooSmall { bits });
        }
        let public_key_pem =
            private_key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|_| SigningError::Encoding)?;
        Ok(RsaSigner { signing_key: pkcs1v15::SigningKey::new(private_key), public_key_pem, bits })
    }

    /// The whole `X-Midship-Proxy-Signature` value for a call.
    pub fn sign(&self, method: &str, path_and_query: &str, timestamp_ms: i64, body: &[u8]) -> String {
        let timestamp = timestamp_ms.to_string();
        let message = string_to_sign(method, path_and_query, &timestamp, body);
        // Blinding with OS randomness hides the private-key operation's timing (the one place this
        // crate reads anything from outside); the signature itself is deterministic either way
        // (PKCS#1 v1.5), so tests still get fixed values. Without randomness it signs unblinded;
        // signing cannot otherwise fail with a key of 2048 bits or more, and if it did, the empty
        // `sig=` would simply be refused by the backend.
        let signature = self
            .signing_key
            .try_sign_with_rng(&mut rand_core::OsRng, message.as_bytes())
            .or_else(|_| self.signing_key.try_sign(message.as_bytes()))
            .map(|signature| BASE64.encode(signature.to_bytes()))
            .unwrap_or_default();
        format!("t={timestamp},alg={ALG_RSA_SHA256},sig={signature}")
    }

    /// The public key backends verify with, as an SPKI `PUBLIC KEY` PEM.
    pub fn public_key_pem(&self) -> String {
        self.public_key_pem.clone()
    }
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner").field("bits", &self.bits).finish_non_exhaustive()
    }
}

/// Checks RSA proxy signatures against one public key, parsed once.
#[derive(Debug, Clone)]
pub struct RsaVerifier {
    verifying_key: pkcs1v15::VerifyingKey<Sha256>,
}

impl RsaVerifier {
    /// Reads an SPKI `PUBLIC KEY` PEM or a PKCS#1 `RSA PUBLIC KEY` PEM.
    pub fn from_public_key_pem(public_key_pem: &str) -> Result<RsaVerifier, ProxySignatureError> {
        let public_key = RsaPublicKey::from_public_key_pem(public_key_pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(public_key_pem))
            .map_err(|_| ProxySignatureError::BadPublicKey)?;
        Ok(RsaVerifier { verifying_key: pkcs1v15::VerifyingKey::new(public_key) })
    }

    /// Same checks as [`verify_rsa`].
    pub fn verify(
        &self,
        header_value: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
        max_age_ms: i64,
    ) -> Result<(), ProxySignatureError> {
        let header = ParsedHeader::parse(header_value)?.check(ALG_RSA_SHA256, now_ms, max_age_ms)?;
        let signature_bytes = BASE64.decode(header.signature).map_err(|_| ProxySignatureError::BadSignature)?;
        let signature =
            pkcs1v15::Signature::try_from(signature_bytes.as_slice()).map_err(|_| ProxySignatureError::BadSignature)?;
        let message = string_to_sign(method, path_and_query, header.timestamp, body);
        self.verifying_key.verify(message.as_bytes(), &signature).map_err(|_| ProxySignatureError::BadSignature)
    }
}

/// A new RSA key for [`RsaSigner`], as a PKCS#8 `PRIVATE KEY` PEM of [`RSA_KEY_BITS`] bits. Slow:
/// expect a fraction of a second in release builds and many seconds in debug builds.
pub fn generate_rsa_key(rng: &mut impl rand_core::CryptoRngCore) -> Result<String, SigningError> {
    let private_key = RsaPrivateKey::new(rng, RSA_KEY_BITS).map_err(|_| SigningError::KeyGeneration)?;
    let pem = private_key.to_pkcs8_pem(LineEnding::LF).map_err(|_| SigningError::Encoding)?;
    Ok(pem.as_str().to_owned())
}

/// The fields of a header value, borrowed from it.
#[derive(Debug)]
struct ParsedHeader<'a> {
    /// `t` as written, so the verifier signs the same text the gateway did.
    timestamp: &'a str,
    timestamp_ms: i64,
    algorithm: &'a str,
    signature: &'a str,
}

impl<'a> ParsedHeader<'a> {
    /// Reads `t=…,alg=…,sig=…` in any order; fields it does not know are skipped, so later versions
    /// can add some.
    fn parse(value: &'a str) -> Result<ParsedHeader<'a>, ProxySignatureError> {
        let (mut timestamp, mut algorithm, mut signature) = (None, None, None);
        for part in value.split(',') {
            let (name, field) =
                part.split_once('=').ok_or(ProxySignatureError::MalformedHeader("a field has no '='"))?;
            let slot = match name.trim() {
                "t" => &mut timestamp,
                "alg" => &mut algorithm,
                "sig" => &mut signature,
                _ => continue,
            };
            if slot.replace(field.trim()).is_some() {
                return Err(ProxySignatureError::MalformedHeader("a field appears twice"));
            }
        }
        let timestamp = timestamp.ok_or(ProxySignatureError::MalformedHeader("t is missing"))?;
        let timestamp_ms = timestamp
            .parse::<i64>()
            .map_err(|_| ProxySignatureError::MalformedHeader("t is not milliseconds since the epoch"))?;
        let algorithm = algorithm.ok_or(ProxySignatureError::MalformedHeader("alg is missing"))?;
        let signature = signature.filter(|signature| !signature.is_empty());
        let signature = signature.ok_or(ProxySignatureError::MalformedHeader("sig is missing"))?;
        Ok(ParsedHeader { timestamp, timestamp_ms, algorithm, signature })
    }

    /// Checks the algorithm and the age, the cheap checks that come before the signature.
    fn check(self, algorithm: &'static str, now_ms: i64, max_age_ms: i64) -> Result<Self, ProxySignatureError> {
        if !self.algorithm.eq_ignore_ascii_case(algorithm) {
            return Err(ProxySignatureError::UnknownAlgorithm {
                found: self.algorithm.to_owned(),
                expected: algorithm,
            });
        }
        if now_ms.abs_diff(self.timestamp_ms) > max_age_ms.max(0).unsigned_abs() {
            return Err(ProxySignatureError::StaleTimestamp { timestamp_ms: self.timestamp_ms, now_ms, max_age_ms });
        }
        Ok(self)
    }
}

fn hmac_sha256(secret: &[u8], message: &str) -> Hmac<Sha256> {
    // HMAC hashes long keys and pads short ones, so every key length is accepted.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of every length");
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"proxy-secret-for-tests";
    const PATH: &str = "/api/accounts/balance?currency=EUR";
    const BODY: &[u8] = br#"{"accountId":"A-42"}"#;
    const TS: i64 = 1_717_000_000_123;
    const MINUTE: i64 = 60_000;
    /// A 2048-bit key made with `openssl genpkey -algorithm RSA`, so tests need no slow generation.
    const TEST_KEY_PEM: &str = include_str!("../testdata/rsa-2048-test-key.pem");
    /// Expected values computed independently with Python's `hmac` and `cryptography` packages.
    const EXPECTED_HMAC: &str = "a5694dca20ee7da8d6acb8e3097a1551cb5677b51503ddc769451b8bfc550de4";
    const EXPECTED_RSA: &str = "Wi5bhZTQy6yCdlvGwSFe/Tloqghg3cWczqYt9BN8uIdQC2g8J11oMTiLRztiR1Qlicvcdmcc4xcDWPrhfcD5QzNAW33T3vSc7Fxys1h8KyWzJsC9bdF6dtwZwnkUAWOJbhQXgpRjShHim4sjWwIqAXa9pjdWpiHgNaeZiW6Ha1yEPJJY0vQzu0Etb5KAgsBNnl0iL4k+x6jGSNai4joGUJInxDBS1MBYl8EHPj0+Cmhbnwf57LHmCewuB21HMtEPynCpT6FZQKMRPJVbCnAC37yw/N4OP/saiwhQO68W0odPW4WQKGIH5wzrmCrknlE1dmUJXu+wXEO/Igkm1QZ9Uw==";
    const EXPECTED_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAye/RijAqHn5oI3L0TU7N
/TQ4s5aEIFkNsaS5eJLkp1LhtM7VC3g9+yYTTFDj74k7+49OetBrfWWZXEnV8mHZ
b4BxmRt+ttcWf2tX9IjVbN/8ZOrvgsUHzXsSsndhLZ8j4otPHNbhcBcHmOb/guTa
kb8UzJ1bEFNAKoXFp6sqOA/8uMbIcdyjYQz8SiTuhZSKylHmJbGS/1EhMVvrPetq
nBDi/XQ4vW60btB5p4sdxvdHiNL/Vnfei6i19kbKfPBZXDvHj4UeDXgm7sG3CsIe
lyFw2cAFVmWpp1aGySBJFEGaXk6/5GdZBSitqLTRRNGTTtZQvrTfjtERHwYTmlZd
ZQIDAQAB
-----END PUBLIC KEY-----
";

    fn signer() -> RsaSigner {
        RsaSigner::from_pkcs8_pem(TEST_KEY_PEM).expect("the test key loads")
    }

    #[test]
    fn hmac_header_matches_an_independent_implementation() {
        assert_eq!(
            string_to_sign("POST", PATH, "1717000000123", BODY),
            "POST\n/api/accounts/balance?currency=EUR\n1717000000123\n\
             d5a56d9cc2abd473b46629fff3c9395c086ffdac1657553fab81c1f737704bbe"
        );
        assert_eq!(sign_hmac(SECRET, "POST", PATH, TS, BODY), format!("t={TS},alg=hmac-sha256,sig={EXPECTED_HMAC}"));
    }

    #[test]
    fn hmac_round_trips_and_refuses_changes() {
        let header = sign_hmac(SECRET, "POST", PATH, TS, BODY);
        assert_eq!(verify_hmac(SECRET, &header, "POST", PATH, BODY, TS + MINUTE, MINUTE), Ok(()));
        assert_eq!(verify_hmac(SECRET, &header, "POST", PATH, BODY, TS - MINUTE, MINUTE), Ok(()));
        let bad = Err(ProxySignatureError::BadSignature);
        assert_eq!(verify_hmac(b"other", &header, "POST", PATH, BODY, TS, MINUTE), bad);
        assert_eq!(verify_hmac(SECRET, &header, "PUT", PATH, BODY, TS, MINUTE), bad);
        assert_eq!(verify_hmac(SECRET, &header, "POST", "/api/accounts/balance", BODY, TS, MINUTE), bad);
        assert_eq!(verify_hmac(SECRET, &header, "POST", PATH, b"{}", TS, MINUTE), bad);
        let moved_time = header.replace(&format!("t={TS}"), &format!("t={}", TS + 1));
        assert_eq!(verify_hmac(SECRET, &moved_time, "POST", PATH, BODY, TS, MINUTE), bad);
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let header = sign_hmac(SECRET, "POST", PATH, TS, BODY);
        for now_ms in [TS + MINUTE + 1, TS - MINUTE - 1, i64::MAX, i64::MIN] {
            assert_eq!(
                verify_hmac(SECRET, &header, "POST", PATH, BODY, now_ms, MINUTE),
                Err(ProxySignatureError::StaleTimestamp { timestamp_ms: TS, now_ms, max_age_ms: MINUTE })
            );
        }
        assert!(verify_hmac(SECRET, &header, "POST", PATH, BODY, TS + 1, -5).is_err());
    }

    #[test]
    fn header_fields_may_come_in_any_order_with_extra_fields() {
        let reordered = format!("sig={EXPECTED_HMAC}, kid=2, alg=hmac-sha256, t={TS}");
        assert_eq!(verify_hmac(SECRET, &reordered, "POST", PATH, BODY, TS, MINUTE), Ok(()));
    }

    #[test]
    fn malformed_headers_are_named() {
        let malformed = [
            "",
            "garbage",
            "alg=hmac-sha256,sig=00",
            "t=soon,alg=hmac-sha256,sig=00",
            "t=1,sig=00",
            "t=1,alg=hmac-sha256",
            "t=1,alg=hmac-sha256,sig=",
            "t=1,t=2,alg=hmac-sha256,sig=00",
        ];
        for header in malformed {
            let verdict = verify_hmac(SECRET, header, "POST", PATH, BODY, 1, MINUTE);
            assert!(matches!(verdict, Err(ProxySignatureError::MalformedHeader(_))), "{header}: {verdict:?}");
        }
        assert_eq!(
            verify_hmac(SECRET, "t=1,alg=hmac-md5,sig=00", "POST", PATH, BODY, 1, MINUTE),
            Err(ProxySignatureError::UnknownAlgorithm { found: "hmac-md5".into(), expected: ALG_HMAC_SHA256 })
        );
        assert_eq!(
            verify_hmac(SECRET, "t=1,alg=hmac-sha256,sig=not-hex", "POST", PATH, BODY, 1, MINUTE),
            Err(ProxySignatureError::BadSignature)
        );
    }

    #[test]
    fn rsa_header_matches_an_independent_implementation() {
        let signer = signer();
        assert_eq!(signer.sign("POST", PATH, TS, BODY), format!("t={TS},alg=rsa-sha256,sig={EXPECTED_RSA}"));
        assert_eq!(signer.public_key_pem(), EXPECTED_PUBLIC_KEY_PEM);
        assert_eq!(format!("{signer:?}"), "RsaSigner { bits: 2048, .. }");
    }

    #[test]
    fn rsa_round_trips_and_refuses_changes() {
        let signer = signer();
        let public_key = signer.public_key_pem();
        let header = signer.sign("POST", PATH, TS, BODY);
        assert_eq!(verify_rsa(&public_key, &header, "POST", PATH, BODY, TS, MINUTE), Ok(()));
        let bad = Err(ProxySignatureError::BadSignature);
        assert_eq!(verify_rsa(&public_key, &header, "POST", PATH, b"{}", TS, MINUTE), bad);
        assert_eq!(verify_rsa(&public_key, &header, "POST", "/other", BODY, TS, MINUTE), bad);
        let truncated = &header[..header.len() - 8];
        assert_eq!(verify_rsa(&public_key, truncated, "POST", PATH, BODY, TS, MINUTE), bad);
        assert!(matches!(
            verify_rsa(&public_key, &header, "POST", PATH, BODY, TS + 2 * MINUTE, MINUTE),
            Err(ProxySignatureError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            verify_rsa(&public_key, &sign_hmac(SECRET, "POST", PATH, TS, BODY), "POST", PATH, BODY, TS, MINUTE),
            Err(ProxySignatureError::UnknownAlgorithm { .. })
        ));
        assert!(matches!(
            verify_hmac(SECRET, &header, "POST", PATH, BODY, TS, MINUTE),
            Err(ProxySignatureError::UnknownAlgorithm { .. })
        ));
        assert_eq!(
            verify_rsa("not a key", &header, "POST", PATH, BODY, TS, MINUTE),
            Err(ProxySignatureError::BadPublicKey)
        );
    }

    #[test]
    fn rsa_keys_must_be_pkcs8_and_large_enough() {
        assert_eq!(RsaSigner::from_pkcs8_pem("").map(drop), Err(SigningError::InvalidPrivateKey));
        assert_eq!(RsaSigner::from_pkcs8_pem(EXPECTED_PUBLIC_KEY_PEM).map(drop), Err(SigningError::InvalidPrivateKey));
        let small = RsaPrivateKey::new(&mut crate::test_rng::seeded(1), 1024).expect("a small key generates");
        let small_pem = small.to_pkcs8_pem(LineEnding::LF).expect("it encodes");
        assert_eq!(RsaSigner::from_pkcs8_pem(&small_pem).map(drop), Err(SigningError::KeyTooSmall { bits: 1024 }));
    }

    #[test]
    fn generated_keys_load_and_sign() {
        let pem = generate_rsa_key(&mut crate::test_rng::seeded(2)).expect("a key generates");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let signer = RsaSigner::from_pkcs8_pem(&pem).expect("the generated key loads");
        let header = signer.sign("GET", "/ping", TS, b"");
        assert_eq!(verify_rsa(&signer.public_key_pem(), &header, "GET", "/ping", b"", TS, MINUTE), Ok(()));
    }
}
