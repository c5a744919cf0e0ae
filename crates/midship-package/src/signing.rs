//! Ed25519 signatures over the exact bytes of a manifest's JSON, so a verifier never has to
//! re-serialize (and agree on a canonical form) before checking.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{PackageError, PackageManifest};

pub const ALGORITHM: &str = "ed25519";

/// What a device receives: the manifest as signed text and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The manifest's JSON, exactly as signed.
    pub manifest: String,
    pub algorithm: String,
    /// Base64 of the 64-byte signature.
    pub signature: String,
}

/// A workspace's signing key.
pub struct ManifestSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ManifestSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ManifestSigner").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

impl ManifestSigner {
    pub fn generate() -> Self {
        Self { key: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// From the base64 of the 32-byte secret.
    pub fn from_secret(secret: &str) -> Result<Self, PackageError> {
        let bytes = STANDARD.decode(secret).map_err(|error| PackageError::BadSignature(error.to_string()))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| PackageError::BadSignature("a secret key has 32 bytes".into()))?;
        Ok(Self { key: SigningKey::from_bytes(&bytes) })
    }

    pub fn secret(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }

    /// Base64 of the 32-byte public key, what clients are configured with.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, manifest: &PackageManifest) -> SignedManifest {
        let text = serde_json::to_string(manifest).expect("manifests serialize");
        let signature = self.sign_text(&text);
        SignedManifest { manifest: text, algorithm: ALGORITHM.into(), signature }
    }

    /// Base64 of the signature over a manifest's exact text (Ed25519 signs the same text the
    /// same way every time).
    pub fn sign_text(&self, manifest: &str) -> String {
        STANDARD.encode(self.key.sign(manifest.as_bytes()).to_bytes())
    }
}

/// The manifest, if `signed` verifies with `public_key` (base64).
pub fn verify_manifest(public_key: &str, signed: &SignedManifest) -> Result<PackageManifest, PackageError> {
    let bad = |reason: &str| PackageError::BadSignature(reason.to_owned());
    if signed.algorithm != ALGORITHM {
        return Err(bad("unsupported algorithm"));
    }
    let key_bytes: [u8; 32] = STANDARD
        .decode(public_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("bad public key"))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| bad("bad public key"))?;
    let signature: [u8; 64] = STANDARD
        .decode(&signed.signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("malformed signature"))?;
    key.verify(signed.manifest.as_bytes(), &Signature::from_bytes(&signature)).map_err(|_| bad("wrong signature"))?;
    serde_json::from_str(&signed.manifest).map_err(|error| PackageError::BadSignature(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_manifests_verify_and_tampering_is_caught() {
        let signer = ManifestSigner::generate();
        let manifest = PackageManifest {
            workspace_id: "ws".into(),
            kind: "h5".into(),
            app_id: "12345678".into(),
            version: "1.0.0".into(),
            package_sha256: "00".into(),
            package_size: 1,
            files: Vec::new(),
        };
        let signed = signer.sign(&manifest);
        assert_eq!(verify_manifest(&signer.public_key(), &signed).unwrap(), manifest);
        let restored = ManifestSigner::from_secret(&signer.secret()).unwrap();
        assert_eq!(verify_manifest(&restored.public_key(), &signed).unwrap(), manifest);

        let mut tampered = signed.clone();
        tampered.manifest = tampered.manifest.replace("1.0.0", "1.0.1");
        assert!(verify_manifest(&signer.public_key(), &tampered).is_err());
        assert!(verify_manifest(&ManifestSigner::generate().public_key(), &signed).is_err());
    }
}
