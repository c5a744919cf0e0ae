//! GrowthBook's encrypted features: a payload whose `features` go out as `encryptedFeatures`,
//! `base64(iv).base64(AES-128-CBC with PKCS#7 padding)`, which GrowthBook's SDKs open with the
//! `decryptionKey` (base64 of the 16-byte key) built into the app. It keeps the rules out of
//! plain sight of anyone who fetches the payload with the client key alone.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

type Encryptor = cbc::Encryptor<aes::Aes128>;

/// `plaintext` sealed for GrowthBook's SDKs under `key` with a fresh random IV.
pub fn encrypt(key: &[u8; 16], plaintext: &[u8]) -> String {
    let iv: [u8; 16] = rand::random();
    encrypt_with_iv(key, &iv, plaintext)
}

fn encrypt_with_iv(key: &[u8; 16], iv: &[u8; 16], plaintext: &[u8]) -> String {
    let ciphertext = Encryptor::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    format!("{}.{}", STANDARD.encode(iv), STANDARD.encode(ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example GrowthBook's SDKs test their decryption with (key `Ns04T5n9+59rl2x3SlNHtQ==`).
    #[test]
    fn matches_growthbooks_own_example() {
        let key: [u8; 16] = STANDARD.decode("Ns04T5n9+59rl2x3SlNHtQ==").unwrap().try_into().unwrap();
        let iv: [u8; 16] = STANDARD.decode("vMSg2Bj/IurObDsWVmvkUg==").unwrap().try_into().unwrap();
        let features = br#"{"testfeature1":{"defaultValue":true,"rules":[{"condition":{"id":"1234"},"force":false}]}}"#;
        let sealed = encrypt_with_iv(&key, &iv, features);
        assert_eq!(
            sealed,
            "vMSg2Bj/IurObDsWVmvkUg==.L6qtQkIzKDoE2Dix6IAKDcVel8PHUnzJ7JjmLjFZFQDqidRIoCxKmvxvUj2kTuHFTQ3/NJ3D6XhxhXXv2+dsXpw5woQf0eAgqrcxHrbtFORs18tRXRZza7zqgzwvcznx"
        );
    }

    #[test]
    fn every_payload_gets_its_own_iv() {
        let key = [7_u8; 16];
        assert_ne!(encrypt(&key, b"{}"), encrypt(&key, b"{}"));
    }
}
