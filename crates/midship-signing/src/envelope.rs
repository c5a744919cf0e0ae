//! Body envelopes: optional end-to-end encryption of request and response bodies between an app and
//! the gateway, for data that must stay confidential wherever TLS ends.
//!
//! The gateway holds a long-lived key pair per [`Suite`] and publishes the public half. For each
//! request the client makes an ephemeral key pair, agrees a shared secret with the gateway's public
//! key (ECDH, the x-coordinate), and derives a 32-byte session key with HKDF (salt empty, info
//! `midship-envelope-v1`; SHA-256 for [`Suite::P256Aes256Gcm`], SM3 for [`Suite::Sm2Sm4Gcm`]).
//! AES-256-GCM uses all 32 bytes, SM4-GCM the first 16.
//!
//! The request carries `Encrypt-Suite: {suite}` and `Encrypt-Key: {standard base64 of the client's
//! uncompressed SEC1 public key}`, and its body is `nonce (12 bytes) || ciphertext || tag (16
//! bytes)`, sealed with the associated data `request`. The response body has the same layout,
//! sealed with the same session key under a fresh nonce and the associated data `response`, so a
//! response can never be replayed as a request (or the reverse).
//!
//! Several suites can be accepted at once (each with its own gateway key), so apps can migrate
//! from one to another.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, AesGcm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use elliptic_curve::sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint};
use elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytesSize, PublicKey, SecretKey};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use sm3::Sm3;
use sm4::Sm4;
use zeroize::Zeroizing;

/// The request header naming the suite.
pub const SUITE_HEADER: &str = "Encrypt-Suite";
/// The request header carrying the client's ephemeral public key.
pub const KEY_HEADER: &str = "Encrypt-Key";
/// Bytes of the nonce that starts every sealed body.
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag that ends every sealed body.
pub const TAG_LEN: usize = 16;
/// The HKDF info string; a new version of the envelope changes it.
pub const KDF_INFO: &[u8] = b"midship-envelope-v1";

const REQUEST_AAD: &[u8] = b"request";
const RESPONSE_AAD: &[u8] = b"response";

type Sm4Gcm = AesGcm<Sm4, U12>;

/// A key agreement and cipher pair, named by the `Encrypt-Suite` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// `p256-aes256gcm`: ECDH on NIST P-256, HKDF-SHA256, AES-256-GCM.
    P256Aes256Gcm,
    /// `sm2-sm4gcm`: ECDH on the SM2 curve, HKDF-SM3, SM4-GCM (the Chinese national algorithms).
    Sm2Sm4Gcm,
}

impl Suite {
    /// Every suite, for listings and tests.
    pub const ALL: [Suite; 2] = [Suite::P256Aes256Gcm, Suite::Sm2Sm4Gcm];

    /// Reads an `Encrypt-Suite` header value, ignoring case; `None` for anything unknown.
    pub fn parse(header: &str) -> Option<Suite> {
        let header = header.trim();
        Suite::ALL.into_iter().find(|suite| suite.as_str().eq_ignore_ascii_case(header))
    }

    /// The header value, lower-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::P256Aes256Gcm => "p256-aes256gcm",
            Suite::Sm2Sm4Gcm => "sm2-sm4gcm",
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Suite {
    type Err = EnvelopeError;

    fn from_str(text: &str) -> Result<Suite, EnvelopeError> {
        Suite::parse(text).ok_or_else(|| EnvelopeError::BadSuite(text.to_owned()))
    }
}

/// Why a body cannot be sealed or opened. None of these says which byte was wrong, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("unknown encryption suite {0:?}")]
    BadSuite(String),
    #[error("public key is not a base64 point on the suite's curve")]
    BadPublicKey,
    #[error("secret key is not a valid 32-byte scalar for the suite's curve")]
    BadSecretKey,
    #[error("sealed body has {len} bytes, fewer than a nonce and a tag")]
    TooShort { len: usize },
    #[error("authentication failed: wrong key or altered body")]
    AuthenticationFailed,
}

/// The gateway's long-lived key pair for one suite; its public half is given to apps.
#[derive(Clone)]
pub struct GatewayKey {
    secret: CurveSecret,
}

impl GatewayKey {
    /// A new random key pair.
    pub fn generate(suite: Suite, rng: &mut impl CryptoRngCore) -> GatewayKey {
        GatewayKey { secret: CurveSecret::random(suite, rng) }
    }

    /// Loads a key pair stored with [`GatewayKey::secret_bytes`]: the 32-byte big-endian scalar.
    pub fn from_secret_bytes(suite: Suite, bytes: &[u8]) -> Result<GatewayKey, EnvelopeError> {
        Ok(GatewayKey { secret: CurveSecret::from_bytes(suite, bytes)? })
    }

    pub fn suite(&self) -> Suite {
        self.secret.suite()
    }

    /// The secret scalar, 32 bytes big-endian, to store (encrypted at rest) and reload later.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.secret.to_bytes()
    }

    /// The public key apps encrypt to: the uncompressed SEC1 point (65 bytes, `04 || x || y`) in
    /// standard base64.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(self.secret.public_key_sec1())
    }
}

impl fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayKey")
            .field("suite", &self.suite())
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

/// The key one request and its response are sealed with. Wiped from memory when dropped.
#[derive(Clone)]
pub struct SessionKey {
    suite: Suite,
    key: Zeroizing<[u8; 32]>,
}

impl SessionKey {
    pub fn suite(&self) -> Suite {
        self.suite
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey").field("suite", &self.suite).finish_non_exhaustive()
    }
}

/// Gateway side: derives the session key from the client's `Encrypt-Key` and opens the request
/// body. The suite is the gateway key's; the caller picks the key matching `Encrypt-Suite`.
pub fn open_request(
    gateway_key: &GatewayKey,
    client_public_key_b64: &str,
    sealed: &[u8],
) -> Result<(Vec<u8>, SessionKey), EnvelopeError> {
    let client_public_key = BASE64.decode(client_public_key_b64.trim()).map_err(|_| EnvelopeError::BadPublicKey)?;
    let session = gateway_key.secret.session_key(&client_public_key)?;
    let plaintext = open(&session, sealed, REQUEST_AAD)?;
    Ok((plaintext, session))
}

/// Gateway side: seals a response body with the request's session key. `nonce` must be fresh
/// random bytes; never reuse one with the same session key.
pub fn seal_response(session: &SessionKey, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    seal(session, plaintext, nonce, RESPONSE_AAD)
}

/// Client side (SDK and tests): seals a request body to the gateway's public key. Answers the
/// ephemeral public key for `Encrypt-Key` (base64), the sealed body, and the session key for
/// [`open_response`].
pub fn seal_request(
    suite: Suite,
    gateway_public_key_b64: &str,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(String, Vec<u8>, SessionKey), EnvelopeError> {
    let ephemeral = CurveSecret::random(suite, rng);
    let mut nonce = [0; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_request_with(&ephemeral, gateway_public_key_b64, plaintext, nonce)
}

/// Client side: opens a response body sealed with [`seal_response`].
pub fn open_response(session: &SessionKey, sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    open(session, sealed, RESPONSE_AAD)
}

/// [`seal_request`] with its randomness spelled out, for known-answer tests.
fn seal_request_with(
    ephemeral: &CurveSecret,
    gateway_public_key_b64: &str,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<(String, Vec<u8>, SessionKey), EnvelopeError> {
    let gateway_public_key = BASE64.decode(gateway_public_key_b64.trim()).map_err(|_| EnvelopeError::BadPublicKey)?;
    let session = ephemeral.session_key(&gateway_public_key)?;
    let sealed = seal(&session, plaintext, nonce, REQUEST_AAD);
    Ok((BASE64.encode(ephemeral.public_key_sec1()), sealed, session))
}

fn seal(session: &SessionKey, plaintext: &[u8], nonce: [u8; NONCE_LEN], aad: &[u8]) -> Vec<u8> {
    match session.suite {
        Suite::P256Aes256Gcm => {
            seal_with(&Aes256Gcm::new(GenericArray::from_slice(&session.key[..])), plaintext, nonce, aad)
        }
        Suite::Sm2Sm4Gcm => {
            seal_with(&Sm4Gcm::new(GenericArray::from_slice(&session.key[..16])), plaintext, nonce, aad)
        }
    }
}

fn open(session: &SessionKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    match session.suite {
        Suite::P256Aes256Gcm => open_with(&Aes256Gcm::new(GenericArray::from_slice(&session.key[..])), sealed, aad),
        Suite::Sm2Sm4Gcm => open_with(&Sm4Gcm::new(GenericArray::from_slice(&session.key[..16])), sealed, aad),
    }
}

fn seal_with<A>(cipher: &A, plaintext: &[u8], nonce: [u8; NONCE_LEN], aad: &[u8]) -> Vec<u8>
where
    A: AeadInPlace<NonceSize = U12, TagSize = U16>,
{
    let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(&GenericArray::from(nonce), aad, &mut sealed[NONCE_LEN..])
        // GCM refuses only messages over 64 GiB; bodies are capped far below that.
        .expect("GCM seals any body under 64 GiB");
    sealed.extend_from_slice(&tag);
    sealed
}

fn open_with<A>(cipher: &A, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError>
where
    A: AeadInPlace<NonceSize = U12, TagSize = U16>,
{
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(EnvelopeError::TooShort { len: sealed.len() });
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plaintext = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(GenericArray::from_slice(nonce), aad, &mut plaintext, GenericArray::from_slice(tag))
        .map_err(|_| EnvelopeError::AuthenticationFailed)?;
    Ok(plaintext)
}

/// A secret scalar on one suite's curve.
#[derive(Clone)]
enum CurveSecret {
    P256(p256::SecretKey),
    Sm2(sm2::SecretKey),
}

impl CurveSecret {
    fn random(suite: Suite, rng: &mut impl CryptoRngCore) -> CurveSecret {
        match suite {
            Suite::P256Aes256Gcm => CurveSecret::P256(p256::SecretKey::random(rng)),
            Suite::Sm2Sm4Gcm => CurveSecret::Sm2(sm2::SecretKey::random(rng)),
        }
    }

    fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<CurveSecret, EnvelopeError> {
        if bytes.len() != 32 {
            return Err(EnvelopeError::BadSecretKey);
        }
        let secret = match suite {
            Suite::P256Aes256Gcm => p256::SecretKey::from_slice(bytes).map(CurveSecret::P256),
            Suite::Sm2Sm4Gcm => sm2::SecretKey::from_slice(bytes).map(CurveSecret::Sm2),
        };
        secret.map_err(|_| EnvelopeError::BadSecretKey)
    }

    fn suite(&self) -> Suite {
        match self {
            CurveSecret::P256(_) => Suite::P256Aes256Gcm,
            CurveSecret::Sm2(_) => Suite::Sm2Sm4Gcm,
        }
    }

    fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut bytes = Zeroizing::new([0; 32]);
        match self {
            CurveSecret::P256(secret) => bytes.copy_from_slice(&secret.to_bytes()),
            CurveSecret::Sm2(secret) => bytes.copy_from_slice(&secret.to_bytes()),
        }
        bytes
    }

    fn public_key_sec1(&self) -> Vec<u8> {
        match self {
            CurveSecret::P256(secret) => uncompressed_public_key(secret),
            CurveSecret::Sm2(secret) => uncompressed_public_key(secret),
        }
    }

    /// ECDH with the peer's SEC1 public key, then HKDF: the key both sides arrive at.
    fn session_key(&self, peer_public_key_sec1: &[u8]) -> Result<SessionKey, EnvelopeError> {
        let mut key = Zeroizing::new([0; 32]);
        let expanded = match self {
            CurveSecret::P256(secret) => {
                let shared = shared_x_coordinate(secret, peer_public_key_sec1)?;
                Hkdf::<Sha256>::new(None, &shared[..]).expand(KDF_INFO, &mut key[..])
            }
            CurveSecret::Sm2(secret) => {
                let shared = shared_x_coordinate(secret, peer_public_key_sec1)?;
                Hkdf::<Sm3>::new(None, &shared[..]).expand(KDF_INFO, &mut key[..])
            }
        };
        // HKDF refuses only outputs longer than 255 hash blocks.
        expanded.expect("HKDF expands to 32 bytes");
        Ok(SessionKey { suite: self.suite(), key })
    }
}

fn uncompressed_public_key<C>(secret: &SecretKey<C>) -> Vec<u8>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    secret.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// The ECDH shared secret: the x-coordinate of our scalar times the peer's point. Decoding the
/// point checks it is on the curve and not the identity; both curves have cofactor 1, so no
/// small-subgroup points exist.
fn shared_x_coordinate<C>(
    secret: &SecretKey<C>,
    peer_public_key_sec1: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let peer = PublicKey::<C>::from_sec1_bytes(peer_public_key_sec1).map_err(|_| EnvelopeError::BadPublicKey)?;
    let shared = elliptic_curve::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_rng::seeded;

    const PLAINTEXT: &[u8] = br#"{"accountId":"A-42"}"#;
    const RESPONSE: &[u8] = br#"{"balance":"12.00"}"#;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).expect("test hex is valid")
    }

    fn sm2_secret(hex_scalar: &str) -> sm2::SecretKey {
        sm2::SecretKey::from_slice(&unhex(hex_scalar)).expect("test scalar is valid")
    }

    fn p256_secret(hex_scalar: &str) -> p256::SecretKey {
        p256::SecretKey::from_slice(&unhex(hex_scalar)).expect("test scalar is valid")
    }

    /// RFC 5903 section 8.1 (ECDH on P-256): both public keys and the shared x-coordinate.
    #[test]
    fn p256_ecdh_matches_rfc5903() {
        let initiator = p256_secret("c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433");
        let responder = p256_secret("c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53");
        let responder_public = uncompressed_public_key(&responder);
        assert_eq!(
            hex::encode(uncompressed_public_key(&initiator)),
            "04dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c37725811805271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3"
        );
        assert_eq!(
            hex::encode(&responder_public),
            "04d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf6356fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab"
        );
        let shared = shared_x_coordinate(&initiator, &responder_public).expect("the point is valid");
        assert_eq!(hex::encode(&shared[..]), "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de");
    }

    /// GM/T 0003.5-2012 (GB/T 32918.5) on the recommended SM2 curve: the sample key pair d·G, the
    /// encryption example's C1 = k·G, and k·P = (x2, y2), whose x2 is exactly an ECDH secret.
    #[test]
    fn sm2_ecdh_matches_gmt0003_examples() {
        let d = sm2_secret("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8");
        let k = sm2_secret("59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21");
        let public_d = uncompressed_public_key(&d);
        let public_k = uncompressed_public_key(&k);
        assert_eq!(
            hex::encode(&public_d),
            "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
        );
        assert_eq!(
            hex::encode(&public_k),
            "0404ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
        );
        let x2 = "335e18d751e51f040e27d468138b7ab1dc86ad7f981d7d416222fd6ab3ed230d";
        assert_eq!(hex::encode(&shared_x_coordinate(&k, &public_d).expect("valid point")[..]), x2);
        assert_eq!(hex::encode(&shared_x_coordinate(&d, &public_k).expect("valid point")[..]), x2);
    }

    /// RFC 8998 appendix A.1: `AesGcm<Sm4, U12>` is SM4-GCM as other implementations know it.
    #[test]
    fn sm4_gcm_matches_rfc8998() {
        let cipher = Sm4Gcm::new(GenericArray::from_slice(&unhex("0123456789abcdeffedcba9876543210")));
        let nonce = unhex("00001234567800000000abcd");
        let aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let mut buffer = unhex(
            "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa",
        );
        let tag =
            cipher.encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut buffer).expect("it seals");
        assert_eq!(
            hex::encode(&buffer),
            "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
        );
        assert_eq!(hex::encode(tag), "83de3541e4c2b58177e065a9bf7b62ec");
    }

    /// A whole exchange with fixed keys and nonces, computed independently in Python (the
    /// `cryptography` package for P-256, HKDF and both GCMs; textbook affine arithmetic and
    /// `hmac` with SM3 for the SM2 suite), so SDKs in other languages have values to match.
    #[test]
    fn fixed_exchanges_match_an_independent_implementation() {
        struct Expected {
            suite: Suite,
            gateway_public_key: &'static str,
            ephemeral_public_key: &'static str,
            shared_secret: &'static str,
            session_key: &'static str,
            sealed_request: &'static str,
            sealed_response: &'static str,
        }
        let cases = [
            Expected {
                suite: Suite::P256Aes256Gcm,
                gateway_public_key: "BGD+1LolWp0xyWHrdMY1bWjASbiSO2H6bOZpYi5g8p+2eQP+EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk=",
                ephemeral_public_key: "BLfCCkzmMYlktVK7jjOpAumNZawYaFrUjOhpaizDYw5BPBAMgYhuc40ldess6Vm6NLXlyIB6mJUI8WZDY+lMrjA=",
                shared_secret: "978f9ef3f9e6bd8afe4435cd2e074955eecd5a8e7577c3b20be63be119b91362",
                session_key: "587d1a38ee6a37a1ab769ed3fc761fb9694ddb330738d11fb2ae5cfb63a888cf",
                sealed_request: "000102030405060708090a0b4ed11f859014241e9a66221c052c58fe4d6890ca8b3813327ed67e082d434b38fc77e189",
                sealed_response: "0c0d0e0f1011121314151617e56e981f4e50f184581a2626f2f70e055a56a3ab13435331566021e3fd8dedfcbb21a9",
            },
            Expected {
                suite: Suite::Sm2Sm4Gcm,
                gateway_public_key: "BFd0QnHOp9YYhYKGuWsqd8phYlWbAOfx1b2IImtFttB2s79RL1Vo0Dm916fE26QRJ6/a4l2VwLSAajLJ0gRSv8s=",
                ephemeral_public_key: "BMz8IQm9ZY0rDzf6q39Wzuo7cuxKmeXkD/diMx0IeJpJ+XQpCHfyk6BtMQx9823gXNb0yvG8BVibN4fJaIy5uFw=",
                shared_secret: "d2354e644f68befd537a8a2c0f52ea75c38ce1e384ef280c6356939c1bf1896c",
                session_key: "4697c36e7c89ffd9b9f86e208e9bc34f046718b7ecb0b6a7e4a410e8985ac293",
                sealed_request: "000102030405060708090a0b33fe6c42e21be9f979007feef532e1b51e5b4d50e51d6860e238fc7377a7d9f649deaae8",
                sealed_response: "0c0d0e0f10111213141516179d1bf6dd3b3c9e272906f2dcf91f6aff778512ae5d1d64bc57b50e8f97a39941e1940a",
            },
        ];
        let gateway_secret = unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        let ephemeral_secret = unhex("3e7a1b72db1b78f854a7ca11197aac262dcd69ebaab3cf15f1fdbe7df9eabcb2");
        let request_nonce: [u8; NONCE_LEN] = std::array::from_fn(|index| index as u8);
        let response_nonce: [u8; NONCE_LEN] = std::array::from_fn(|index| index as u8 + 12);
        for case in cases {
            let gateway = GatewayKey::from_secret_bytes(case.suite, &gateway_secret).expect("valid scalar");
            assert_eq!(gateway.public_key_base64(), case.gateway_public_key);
            let ephemeral = CurveSecret::from_bytes(case.suite, &ephemeral_secret).expect("valid scalar");
            let (ephemeral_public_key, sealed, client_session) =
                seal_request_with(&ephemeral, &gateway.public_key_base64(), PLAINTEXT, request_nonce)
                    .expect("it seals");
            assert_eq!(ephemeral_public_key, case.ephemeral_public_key);
            let gateway_point = BASE64.decode(case.gateway_public_key).expect("base64");
            let shared = match &ephemeral {
                CurveSecret::P256(secret) => shared_x_coordinate(secret, &gateway_point),
                CurveSecret::Sm2(secret) => shared_x_coordinate(secret, &gateway_point),
            };
            assert_eq!(hex::encode(&shared.expect("valid point")[..]), case.shared_secret);
            assert_eq!(hex::encode(&client_session.key[..]), case.session_key);
            assert_eq!(hex::encode(&sealed), case.sealed_request);

            let (opened, gateway_session) = open_request(&gateway, &ephemeral_public_key, &sealed).expect("it opens");
            assert_eq!(opened, PLAINTEXT);
            let response = seal_response(&gateway_session, RESPONSE, response_nonce);
            assert_eq!(hex::encode(&response), case.sealed_response);
            assert_eq!(open_response(&client_session, &response).expect("it opens"), RESPONSE);
        }
    }

    #[test]
    fn random_exchanges_round_trip_for_every_suite() {
        let mut rng = seeded(3);
        for suite in Suite::ALL {
            let gateway = GatewayKey::generate(suite, &mut rng);
            for plaintext in [&b""[..], PLAINTEXT, &[0x5a; 4096][..]] {
                let (client_key, sealed, client_session) =
                    seal_request(suite, &gateway.public_key_base64(), plaintext, &mut rng).expect("it seals");
                assert_eq!(sealed.len(), NONCE_LEN + plaintext.len() + TAG_LEN);
                let (opened, gateway_session) = open_request(&gateway, &client_key, &sealed).expect("it opens");
                assert_eq!(opened, plaintext);
                assert_eq!(gateway_session.suite(), suite);
                let response = seal_response(&gateway_session, RESPONSE, [7; NONCE_LEN]);
                assert_eq!(open_response(&client_session, &response).expect("it opens"), RESPONSE);
            }
        }
    }

    #[test]
    fn gateway_keys_reload_from_their_secret_bytes() {
        let mut rng = seeded(4);
        for suite in Suite::ALL {
            let key = GatewayKey::generate(suite, &mut rng);
            let reloaded = GatewayKey::from_secret_bytes(suite, &key.secret_bytes()[..]).expect("valid scalar");
            assert_eq!(reloaded.public_key_base64(), key.public_key_base64());
            assert_eq!(reloaded.suite(), suite);
            let public_key = BASE64.decode(key.public_key_base64()).expect("base64");
            assert_eq!((public_key.len(), public_key[0]), (65, 0x04), "uncompressed SEC1 point");
            let debug = format!("{key:?}");
            assert!(!debug.contains(&hex::encode(&key.secret_bytes()[..])), "{debug}");
        }
    }

    #[test]
    fn invalid_secret_bytes_are_refused() {
        let orders = [
            (Suite::P256Aes256Gcm, unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")),
            (Suite::Sm2Sm4Gcm, unhex("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123")),
        ];
        for (suite, order) in orders {
            for bytes in [&[0; 32][..], &[0xff; 32], &[1; 31], &[1; 33], &[], &order] {
                assert_eq!(
                    GatewayKey::from_secret_bytes(suite, bytes).map(drop),
                    Err(EnvelopeError::BadSecretKey),
                    "{suite} {bytes:?}"
                );
            }
        }
    }

    #[test]
    fn altered_bodies_and_wrong_keys_fail_authentication() {
        let mut rng = seeded(5);
        for suite in Suite::ALL {
            let gateway = GatewayKey::generate(suite, &mut rng);
            let (client_key, sealed, client_session) =
                seal_request(suite, &gateway.public_key_base64(), PLAINTEXT, &mut rng).expect("it seals");
            for index in 0..sealed.len() {
                let mut altered = sealed.clone();
                altered[index] ^= 0x01;
                assert_eq!(
                    open_request(&gateway, &client_key, &altered).map(drop),
                    Err(EnvelopeError::AuthenticationFailed),
                    "{suite}: byte {index}"
                );
            }
            let mut extended = sealed.clone();
            extended.push(0);
            assert_eq!(
                open_request(&gateway, &client_key, &extended).map(drop),
                Err(EnvelopeError::AuthenticationFailed)
            );

            let other_gateway = GatewayKey::generate(suite, &mut rng);
            assert_eq!(
                open_request(&other_gateway, &client_key, &sealed).map(drop),
                Err(EnvelopeError::AuthenticationFailed)
            );

            // A response cannot be passed off as a request, nor a request as a response.
            let (_, gateway_session) = open_request(&gateway, &client_key, &sealed).expect("it opens");
            let response = seal_response(&gateway_session, RESPONSE, [9; NONCE_LEN]);
            assert_eq!(
                open_request(&gateway, &client_key, &response).map(drop),
                Err(EnvelopeError::AuthenticationFailed)
            );
            assert_eq!(open_response(&client_session, &sealed).map(drop), Err(EnvelopeError::AuthenticationFailed));
        }
    }

    #[test]
    fn bad_public_keys_and_short_bodies_are_named() {
        let mut rng = seeded(6);
        let p256_gateway = GatewayKey::generate(Suite::P256Aes256Gcm, &mut rng);
        let sm2_gateway = GatewayKey::generate(Suite::Sm2Sm4Gcm, &mut rng);
        let (_, sealed, _) =
            seal_request(Suite::P256Aes256Gcm, &p256_gateway.public_key_base64(), PLAINTEXT, &mut rng).expect("seals");
        let mut off_curve = BASE64.decode(p256_gateway.public_key_base64()).expect("base64");
        off_curve[64] ^= 1;
        let bad_keys = [
            String::new(),
            "not base64!".to_owned(),
            BASE64.encode([0x04; 65]),
            BASE64.encode([0x00]),
            BASE64.encode(&off_curve),
            // A P-256 point is (almost surely) not on the SM2 curve.
            p256_gateway.public_key_base64(),
        ];
        for key in &bad_keys {
            assert_eq!(open_request(&sm2_gateway, key, &sealed).map(drop), Err(EnvelopeError::BadPublicKey), "{key}");
            assert_eq!(
                seal_request(Suite::Sm2Sm4Gcm, key, PLAINTEXT, &mut rng).map(drop),
                Err(EnvelopeError::BadPublicKey),
                "{key}"
            );
        }
        let client_key = BASE64.encode(uncompressed_public_key(&p256::SecretKey::random(&mut rng)));
        for len in [0, 1, NONCE_LEN, NONCE_LEN + TAG_LEN - 1] {
            assert_eq!(
                open_request(&p256_gateway, &client_key, &sealed[..len]).map(drop),
                Err(EnvelopeError::TooShort { len })
            );
        }
    }

    #[test]
    fn compressed_client_keys_are_accepted() {
        let mut rng = seeded(7);
        for suite in Suite::ALL {
            let gateway = GatewayKey::generate(suite, &mut rng);
            let (client_key, sealed, _) =
                seal_request(suite, &gateway.public_key_base64(), PLAINTEXT, &mut rng).expect("it seals");
            let point = BASE64.decode(&client_key).expect("base64");
            let mut compressed = vec![0x02 | (point[64] & 1)];
            compressed.extend_from_slice(&point[1..33]);
            let (opened, _) = open_request(&gateway, &BASE64.encode(compressed), &sealed).expect("it opens");
            assert_eq!(opened, PLAINTEXT);
        }
    }

    #[test]
    fn suites_parse_their_header_values() {
        assert_eq!(Suite::parse("p256-aes256gcm"), Some(Suite::P256Aes256Gcm));
        assert_eq!(Suite::parse("SM2-SM4GCM"), Some(Suite::Sm2Sm4Gcm));
        assert_eq!(Suite::parse("aes"), None);
        assert_eq!("rsa".parse::<Suite>(), Err(EnvelopeError::BadSuite("rsa".into())));
        for suite in Suite::ALL {
            assert_eq!(suite.as_str().parse::<Suite>(), Ok(suite));
            assert_eq!(suite.to_string(), suite.as_str());
        }
    }

    #[test]
    fn debug_output_hides_session_keys() {
        let session = SessionKey { suite: Suite::Sm2Sm4Gcm, key: Zeroizing::new([0xab; 32]) };
        assert_eq!(format!("{session:?}"), "SessionKey { suite: Sm2Sm4Gcm, .. }");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a client sends, the gateway answers an error or a body, never a panic.
        #[test]
        fn arbitrary_input_never_panics(
            suite_index in 0usize..2,
            key_text in ".{0,100}",
            key_bytes in proptest::collection::vec(any::<u8>(), 0..80),
            sealed in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let suite = Suite::ALL[suite_index];
            let gateway = GatewayKey::generate(suite, &mut seeded(8));
            let _ = open_request(&gateway, &key_text, &sealed);
            let _ = open_request(&gateway, &BASE64.encode(&key_bytes), &sealed);
            let _ = GatewayKey::from_secret_bytes(suite, &key_bytes);
            let session = SessionKey { suite, key: Zeroizing::new([3; 32]) };
            prop_assert!(open_response(&session, &sealed).is_err());
        }
    }
}
