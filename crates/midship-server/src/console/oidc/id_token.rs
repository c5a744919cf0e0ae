//! An OpenID Connect ID token checked as the core specification says (§3.1.3.7): a JWS signed by
//! one of the provider's published keys with RS256 or ES256 (never `none`, never a shared
//! secret), from the expected issuer, for this client, not expired, carrying the nonce this
//! browser's sign-in began with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::BigUint;
use rsa::signature::Verifier;
use serde::Deserialize;
use serde_json::Value;

/// Clock difference allowed between the provider and this node.
const CLOCK_SKEW_S: i64 = 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenError {
    #[error("the ID token is not a signed JWT")]
    Malformed,
    #[error("the ID token is signed with {0}, not RS256 or ES256")]
    Algorithm(String),
    #[error("the provider publishes no key {0:?} for the ID token")]
    UnknownKey(Option<String>),
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token's {0} is wrong")]
    Claim(&'static str),
    #[error("the ID token has expired")]
    Expired,
}

/// The provider's public keys (its `jwks_uri` document).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeySet {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

impl KeySet {
    /// Whether a key named `kid` is here (an unknown one means the provider rotated: fetch again).
    pub fn has(&self, kid: Option<&str>) -> bool {
        self.find(kid, None).is_some()
    }

    fn find(&self, kid: Option<&str>, kty: Option<&str>) -> Option<&Jwk> {
        let usable = |key: &&Jwk| {
            key.usage.as_deref().is_none_or(|usage| usage == "sig") && kty.is_none_or(|kty| key.kty == kty)
        };
        match kid {
            Some(kid) => self.keys.iter().filter(usable).find(|key| key.kid.as_deref() == Some(kid)),
            None => {
                let mut candidates = self.keys.iter().filter(usable);
                let only = candidates.next();
                if candidates.next().is_some() { None } else { only }
            }
        }
    }
}

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_s: i64,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn decode(part: &str) -> Result<Vec<u8>, IdTokenError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| IdTokenError::Malformed)
}

/// The `kid` the token names, to fetch the key set again when it is unknown.
pub fn key_id(token: &str) -> Result<Option<String>, IdTokenError> {
    let header = token.split('.').next().ok_or(IdTokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| IdTokenError::Malformed)?;
    Ok(header.kid)
}

/// The token's claims, once its signature and claims are checked.
pub fn verify(
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
) -> Result<serde_json::Map<String, Value>, IdTokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, payload_part, signature_part] = parts.as_slice() else { return Err(IdTokenError::Malformed) };
    let header: Header = serde_json::from_slice(&decode(header_part)?).map_err(|_| IdTokenError::Malformed)?;
    let signed = format!("{header_part}.{payload_part}");
    let signature = decode(signature_part)?;
    match header.alg.as_str() {
        "RS256" => {
            let key = keys.find(header.kid.as_deref(), Some("RSA")).ok_or(IdTokenError::UnknownKey(header.kid))?;
            verify_rs256(key, signed.as_bytes(), &signature)?;
        }
        "ES256" => {
            let key = keys.find(header.kid.as_deref(), Some("EC")).ok_or(IdTokenError::UnknownKey(header.kid))?;
            verify_es256(key, signed.as_bytes(), &signature)?;
        }
        other => return Err(IdTokenError::Algorithm(other.to_owned())),
    }
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&decode(payload_part)?).map_err(|_| IdTokenError::Malformed)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn verify_rs256(key: &Jwk, signed: &[u8], signature: &[u8]) -> Result<(), IdTokenError> {
    let number = |value: &Option<String>| -> Result<BigUint, IdTokenError> {
        let bytes = decode(value.as_deref().ok_or(IdTokenError::Signature)?)?;
        Ok(BigUint::from_bytes_be(&bytes))
    };
    let public = rsa::RsaPublicKey::new(number(&key.n)?, number(&key.e)?).map_err(|_| IdTokenError::Signature)?;
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
    let signature = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| IdTokenError::Signature)?;
    verifier.verify(signed, &signature).map_err(|_| IdTokenError::Signature)
}

fn verify_es256(key: &Jwk, signed: &[u8], signature: &[u8]) -> Result<(), IdTokenError> {
    if key.crv.as_deref() != Some("P-256") {
        return Err(IdTokenError::Signature);
    }
    let coordinate = |value: &Option<String>| decode(value.as_deref().ok_or(IdTokenError::Signature)?);
    let (x, y) = (coordinate(&key.x)?, coordinate(&key.y)?);
    if x.len() != 32 || y.len() != 32 {
        return Err(IdTokenError::Signature);
    }
    let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
    let verifier = p256::ecdsa::VerifyingKey::from_encoded_point(&point).map_err(|_| IdTokenError::Signature)?;
    // JWS carries ES256 signatures as r ‖ s, 64 bytes.
    let signature = p256::ecdsa::Signature::from_slice(signature).map_err(|_| IdTokenError::Signature)?;
    verifier.verify(signed, &signature).map_err(|_| IdTokenError::Signature)
}

fn check_claims(claims: &serde_json::Map<String, Value>, expected: &Expected<'_>) -> Result<(), IdTokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(expected.issuer) {
        return Err(IdTokenError::Claim("issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(audience)) => vec![audience.as_str()],
        Some(Value::Array(audiences)) => audiences.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(IdTokenError::Claim("audience"));
    }
    if audiences.len() > 1 && text("azp") != Some(expected.client_id) {
        return Err(IdTokenError::Claim("authorized party"));
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let expires = number("exp").ok_or(IdTokenError::Claim("expiry"))?;
    if expires + CLOCK_SKEW_S <= expected.now_s {
        return Err(IdTokenError::Expired);
    }
    if number("iat").is_some_and(|issued| issued > expected.now_s + CLOCK_SKEW_S) {
        return Err(IdTokenError::Claim("issue time"));
    }
    let nonce_matches = text("nonce")
        .is_some_and(|nonce| subtle::ConstantTimeEq::ct_eq(nonce.as_bytes(), expected.nonce.as_bytes()).into());
    if !nonce_matches {
        return Err(IdTokenError::Claim("nonce"));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(IdTokenError::Claim("subject"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://sso.bank.example/realms/staff";

    fn signing_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn key_set(kid: &str) -> KeySet {
        let point = signing_key().verifying_key().to_encoded_point(false);
        let jwk = json!({ "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()) });
        serde_json::from_value(json!({ "keys": [jwk] })).unwrap()
    }

    fn token(header: Value, claims: Value) -> String {
        let signed =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: p256::ecdsa::Signature = signing_key().sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn claims() -> Value {
        json!({ "iss": ISSUER, "aud": "midship", "sub": "s-1", "exp": 2_000, "iat": 1_000, "nonce": "n-1",
            "preferred_username": "carol" })
    }

    fn expected() -> Expected<'static> {
        Expected { issuer: ISSUER, client_id: "midship", nonce: "n-1", now_s: 1_500 }
    }

    #[test]
    fn a_token_signed_by_a_published_key_with_the_right_claims_verifies() {
        let token = token(json!({ "alg": "ES256", "kid": "k1" }), claims());
        let verified = verify(&token, &key_set("k1"), &expected()).unwrap();
        assert_eq!(verified["preferred_username"], "carol");
        assert_eq!(key_id(&token).unwrap().as_deref(), Some("k1"));
    }

    #[test]
    fn forged_or_misdirected_tokens_are_refused() {
        let keys = key_set("k1");
        let good = token(json!({ "alg": "ES256", "kid": "k1" }), claims());
        let mut tampered_claims = claims();
        tampered_claims["sub"] = json!("s-2");
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let (header, _) = signed.split_once('.').unwrap();
        let swapped = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(tampered_claims.to_string()));
        assert_eq!(verify(&swapped, &keys, &expected()), Err(IdTokenError::Signature));

        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert_eq!(verify(&unsigned, &keys, &expected()), Err(IdTokenError::Algorithm("none".into())));
        let shared_secret = token(json!({ "alg": "HS256", "kid": "k1" }), claims());
        assert!(matches!(verify(&shared_secret, &keys, &expected()), Err(IdTokenError::Algorithm(_))));
        let other_key = token(json!({ "alg": "ES256", "kid": "k2" }), claims());
        assert_eq!(verify(&other_key, &keys, &expected()), Err(IdTokenError::UnknownKey(Some("k2".into()))));

        for (claim, value, error) in [
            ("iss", json!("https://evil.example"), IdTokenError::Claim("issuer")),
            ("aud", json!("another-client"), IdTokenError::Claim("audience")),
            ("aud", json!(["midship", "another-client"]), IdTokenError::Claim("authorized party")),
            ("nonce", json!("n-2"), IdTokenError::Claim("nonce")),
            ("exp", json!(1_400), IdTokenError::Expired),
            ("iat", json!(9_000), IdTokenError::Claim("issue time")),
            ("sub", json!(""), IdTokenError::Claim("subject")),
        ] {
            let mut changed = claims();
            changed[claim] = value;
            let token = token(json!({ "alg": "ES256", "kid": "k1" }), changed);
            assert_eq!(verify(&token, &keys, &expected()), Err(error), "{claim}");
        }
        assert_eq!(verify("not.a-token", &keys, &expected()), Err(IdTokenError::Malformed));
    }

    #[test]
    fn a_token_expired_within_the_allowed_skew_still_verifies() {
        let mut recent = claims();
        recent["exp"] = json!(1_460);
        let token = token(json!({ "alg": "ES256", "kid": "k1" }), recent);
        assert!(verify(&token, &key_set("k1"), &expected()).is_ok());
    }
}
