//! Client request signatures: how a device proves a call comes from an app that holds its secret.
//!
//! The signing string joins seven lines with `\n`, with no trailing newline:
//!
//! ```text
//! {METHOD}\n{Operation-Type}\n{AppId}\n{WorkspaceId}\n{Ts}\n{Nonce}\n{hex(sha256(body))}
//! ```
//!
//! `METHOD` is upper-case (`POST`); `Ts` is the decimal milliseconds exactly as sent in the header;
//! `Nonce` is the header's value, or the empty string when the header is absent; the last line is
//! the lower-case hex SHA-256 of the raw body bytes (an empty body hashes the empty string). The
//! signature (`Sign`) is the lower-case hex HMAC of the string's UTF-8 bytes, keyed with the app's
//! secret: HMAC-SHA256 for `Sign-Type: hmac-sha256` (the default), HMAC-SM3 for `hmac-sm3`.
//!
//! Worked example (the unit test `worked_example_matches_the_docs` checks these values): secret
//! `3b43251287c3a391e6dc6e0003d225fd43e52035f606a3100b15de4b2755acc0` (those 64 ASCII
//! characters are the key bytes), body `{"accountId":"A-42"}`, and the signing string
//!
//! ```text
//! POST
//! com.bank.account.balance
//! 01HV7Z3K9M2Q8RXA
//! 01HV7Z3KA4N6P0WB
//! 1717000000000
//! 5f2c1a9e0b7d4c3e8a6f1b2d3c4e5f60
//! d5a56d9cc2abd473b46629fff3c9395c086ffdac1657553fab81c1f737704bbe
//! ```
//!
//! signs as `fd79e74d9b14b9bf73f34efa40c9417e287404debcecf1727de6f9f249443a6e` with
//! `hmac-sha256` and as `0ae59d40d55c19708664b6500d139085ae4a469a454e5e87dc838eb32da3ef77` with
//! `hmac-sm3`.
//!
//! A device that registered holds its own credential ([`crate::device_credential`]) and signs
//! with `Sign-Type: device-hmac-sha256` (or `device-hmac-sm3`), keyed with that credential, over
//! nine lines that also bind the call to its device and user:
//!
//! ```text
//! {METHOD}\n{Operation-Type}\n{AppId}\n{WorkspaceId}\n{Device-Id}\n{User-Id}\n{Ts}\n{Nonce}\n{hex(sha256(body))}
//! ```

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sm3::Sm3;

/// The HMAC a client signs with, named by the `Sign-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignType {
    /// `hmac-sha256`, the default when the header is absent, keyed with the app's secret.
    HmacSha256,
    /// `hmac-sm3`, for apps bound to the Chinese national algorithms.
    HmacSm3,
    /// `device-hmac-sha256`: keyed with the device's own credential, over the device signing
    /// string.
    DeviceHmacSha256,
    /// `device-hmac-sm3`.
    DeviceHmacSm3,
}

impl SignType {
    /// Every sign type, for listings and tests.
    pub const ALL: [SignType; 4] =
        [SignType::HmacSha256, SignType::HmacSm3, SignType::DeviceHmacSha256, SignType::DeviceHmacSm3];

    /// Signed with a device credential rather than the app's secret.
    pub fn is_device(self) -> bool {
        matches!(self, SignType::DeviceHmacSha256 | SignType::DeviceHmacSm3)
    }

    /// The device-credential counterpart of an app-secret sign type (and itself otherwise).
    pub fn for_device(self) -> SignType {
        match self {
            SignType::HmacSha256 | SignType::DeviceHmacSha256 => SignType::DeviceHmacSha256,
            SignType::HmacSm3 | SignType::DeviceHmacSm3 => SignType::DeviceHmacSm3,
        }
    }

    /// Reads a `Sign-Type` header value, ignoring case; `None` for anything unknown. An absent
    /// header means [`SignType::HmacSha256`], which the caller decides.
    pub fn parse(header: &str) -> Option<SignType> {
        let header = header.trim();
        SignType::ALL.into_iter().find(|sign_type| sign_type.as_str().eq_ignore_ascii_case(header))
    }

    /// The header value, lower-case.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::HmacSha256 => "hmac-sha256",
            SignType::HmacSm3 => "hmac-sm3",
            SignType::DeviceHmacSha256 => "device-hmac-sha256",
            SignType::DeviceHmacSm3 => "device-hmac-sm3",
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of a call that its signature covers, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct SigningInput<'a> {
    /// The HTTP method, upper-case (`POST`).
    pub method: &'a str,
    pub operation_type: &'a str,
    pub app_id: &'a str,
    pub workspace_id: &'a str,
    /// The `Device-Id` header (`""` when absent); only device signatures cover it.
    pub device_id: &'a str,
    /// The `User-Id` header (`""` when absent); only device signatures cover it.
    pub user_id: &'a str,
    /// The `Ts` header exactly as sent, so a signature never depends on how a number is printed.
    pub timestamp: &'a str,
    /// The `Nonce` header, or `""` when the call has none.
    pub nonce: &'a str,
    /// The raw body bytes as received (before any decryption).
    pub body: &'a [u8],
}

impl SigningInput<'_> {
    /// The string an app-secret signature covers (see the module docs).
    pub fn signing_string(&self) -> String {
        [
            self.method,
            self.operation_type,
            self.app_id,
            self.workspace_id,
            self.timestamp,
            self.nonce,
            &crate::body_digest_hex(self.body),
        ]
        .join("\n")
    }

    /// The string a device-credential signature covers: the device and user too.
    pub fn device_signing_string(&self) -> String {
        [
            self.method,
            self.operation_type,
            self.app_id,
            self.workspace_id,
            self.device_id,
            self.user_id,
            self.timestamp,
            self.nonce,
            &crate::body_digest_hex(self.body),
        ]
        .join("\n")
    }

    fn string_for(&self, sign_type: SignType) -> String {
        if sign_type.is_device() { self.device_signing_string() } else { self.signing_string() }
    }
}

/// The signature a client sends in `Sign`: lower-case hex HMAC of the signing string.
pub fn sign(sign_type: SignType, secret: &[u8], input: &SigningInput) -> String {
    let message = input.string_for(sign_type);
    match sign_type {
        SignType::HmacSha256 | SignType::DeviceHmacSha256 => {
            hex::encode(keyed::<Hmac<Sha256>>(secret, message.as_bytes()).finalize().into_bytes())
        }
        SignType::HmacSm3 | SignType::DeviceHmacSm3 => {
            hex::encode(keyed::<Hmac<Sm3>>(secret, message.as_bytes()).finalize().into_bytes())
        }
    }
}

/// Checks `signature` (hex, as sent in `Sign`) against each secret in turn — the app's current key
/// and the keys still in their rotation grace period — and answers the index of the secret that
/// signed it. Each comparison runs in constant time.
pub fn verify(sign_type: SignType, secrets: &[&[u8]], input: &SigningInput, signature: &str) -> Option<usize> {
    let expected = hex::decode(signature.trim()).ok()?;
    let message = input.string_for(sign_type);
    secrets.iter().position(|secret| match sign_type {
        SignType::HmacSha256 | SignType::DeviceHmacSha256 => {
            keyed::<Hmac<Sha256>>(secret, message.as_bytes()).verify_slice(&expected).is_ok()
        }
        SignType::HmacSm3 | SignType::DeviceHmacSm3 => {
            keyed::<Hmac<Sm3>>(secret, message.as_bytes()).verify_slice(&expected).is_ok()
        }
    })
}

/// An HMAC keyed with `secret` that has absorbed `message`.
fn keyed<M: Mac + KeyInit>(secret: &[u8], message: &[u8]) -> M {
    // HMAC hashes long keys and pads short ones, so every key length is accepted.
    let mut mac = <M as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of every length");
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"3b43251287c3a391e6dc6e0003d225fd43e52035f606a3100b15de4b2755acc0";
    const BODY: &[u8] = br#"{"accountId":"A-42"}"#;

    fn worked_example() -> SigningInput<'static> {
        SigningInput {
            method: "POST",
            operation_type: "com.bank.account.balance",
            app_id: "01HV7Z3K9M2Q8RXA",
            workspace_id: "01HV7Z3KA4N6P0WB",
            device_id: "01HV7Z3KB8C2D4E6",
            user_id: "alice",
            timestamp: "1717000000000",
            nonce: "5f2c1a9e0b7d4c3e8a6f1b2d3c4e5f60",
            body: BODY,
        }
    }

    /// RFC 4231 test case 2 and GM/T 0042-2015 appendix D.3 (as in Linux `crypto/testmgr.h`)
    /// for the raw HMACs under the signing code.
    #[test]
    fn hmacs_match_published_vectors() {
        let rfc4231_case2 = keyed::<Hmac<Sha256>>(b"Jefe", b"what do ya want for nothing?").finalize();
        assert_eq!(
            hex::encode(rfc4231_case2.into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let rfc4231_case1 = keyed::<Hmac<Sha256>>(&[0x0b; 20], b"Hi There").finalize();
        assert_eq!(
            hex::encode(rfc4231_case1.into_bytes()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );

        let key_1_to_32: Vec<u8> = (1..=32).collect();
        let key_1_to_37: Vec<u8> = (1..=37).collect();
        let abcd = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".repeat(2);
        let gmt0042: [(&[u8], &[u8], &str); 4] = [
            (&key_1_to_32, &abcd, "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a"),
            (&key_1_to_37, &[0xcd; 50], "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae"),
            (&[0x0b; 32], b"Hi There", "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
            ),
        ];
        for (key, data, expected) in gmt0042 {
            let mac = keyed::<Hmac<Sm3>>(key, data).finalize();
            assert_eq!(hex::encode(mac.into_bytes()), expected);
        }
    }

    #[test]
    fn worked_example_matches_the_docs() {
        let input = worked_example();
        assert_eq!(
            input.signing_string(),
            "POST\ncom.bank.account.balance\n01HV7Z3K9M2Q8RXA\n01HV7Z3KA4N6P0WB\n1717000000000\n\
             5f2c1a9e0b7d4c3e8a6f1b2d3c4e5f60\n\
             d5a56d9cc2abd473b46629fff3c9395c086ffdac1657553fab81c1f737704bbe"
        );
        assert_eq!(
            sign(SignType::HmacSha256, SECRET, &input),
            "fd79e74d9b14b9bf73f34efa40c9417e287404debcecf1727de6f9f249443a6e"
        );
        assert_eq!(
            sign(SignType::HmacSm3, SECRET, &input),
            "0ae59d40d55c19708664b6500d139085ae4a469a454e5e87dc838eb32da3ef77"
        );
    }

    #[test]
    fn device_signatures_cover_the_device_and_user() {
        let input = worked_example();
        let credential = b"9f1c2a7e4b3d8c6a5e0f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60";
        assert_eq!(
            input.device_signing_string(),
            "POST\ncom.bank.account.balance\n01HV7Z3K9M2Q8RXA\n01HV7Z3KA4N6P0WB\n01HV7Z3KB8C2D4E6\nalice\n\
             1717000000000\n5f2c1a9e0b7d4c3e8a6f1b2d3c4e5f60\n\
             d5a56d9cc2abd473b46629fff3c9395c086ffdac1657553fab81c1f737704bbe"
        );
        let signature = sign(SignType::DeviceHmacSha256, credential, &input);
        assert_eq!(signature, DEVICE_SIGNATURE_SHA256);
        assert_eq!(sign(SignType::DeviceHmacSm3, credential, &input), DEVICE_SIGNATURE_SM3);
        for other in [
            SigningInput { device_id: "01HV7Z3KB8C2D4E7", ..input },
            SigningInput { user_id: "mallory", ..input },
            SigningInput { user_id: "", ..input },
        ] {
            assert_eq!(verify(SignType::DeviceHmacSha256, &[credential], &other, &signature), None, "{other:?}");
        }
        assert_eq!(verify(SignType::HmacSha256, &[credential], &input, &signature), None, "never the app string");
        assert_eq!(
            sign(SignType::HmacSha256, SECRET, &input),
            sign(SignType::HmacSha256, SECRET, &SigningInput { device_id: "x", user_id: "y", ..input }),
            "app-secret signatures do not cover the device"
        );
    }

    const DEVICE_SIGNATURE_SHA256: &str = "fd21b3dd71401fedc6d927b8312044f740833e95cda3134655a5ce79c1d3572b";
    const DEVICE_SIGNATURE_SM3: &str = "05862333711ec7398311d504a2bb17cfa854678cee92675c0ad31602a239641b";

    #[test]
    fn absent_nonce_and_empty_body_keep_their_lines() {
        let input = SigningInput { nonce: "", body: b"", ..worked_example() };
        assert_eq!(
            input.signing_string(),
            "POST\ncom.bank.account.balance\n01HV7Z3K9M2Q8RXA\n01HV7Z3KA4N6P0WB\n1717000000000\n\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sign(SignType::HmacSha256, SECRET, &input),
            "418dd2750943ae44db760260fb9c65591626d3e31074bcccf7d9cae0e35b0bc1"
        );
    }

    #[test]
    fn sign_type_parses_known_values_in_any_case() {
        assert_eq!(SignType::parse("hmac-sha256"), Some(SignType::HmacSha256));
        assert_eq!(SignType::parse("HMAC-SHA256"), Some(SignType::HmacSha256));
        assert_eq!(SignType::parse("Hmac-Sm3"), Some(SignType::HmacSm3));
        assert_eq!(SignType::parse("Device-HMAC-SHA256"), Some(SignType::DeviceHmacSha256));
        assert_eq!(SignType::parse(""), None);
        assert_eq!(SignType::parse("md5"), None);
        assert_eq!(SignType::parse("hmac-sha1"), None);
        for sign_type in SignType::ALL {
            assert_eq!(SignType::parse(sign_type.as_str()), Some(sign_type));
            assert_eq!(sign_type.to_string(), sign_type.as_str());
        }
    }

    #[test]
    fn verify_answers_which_secret_signed() {
        let input = worked_example();
        let previous: &[u8] = b"previous-secret";
        for sign_type in SignType::ALL {
            let signature = sign(sign_type, SECRET, &input);
            assert_eq!(verify(sign_type, &[SECRET], &input, &signature), Some(0));
            assert_eq!(verify(sign_type, &[previous, SECRET], &input, &signature), Some(1));
            assert_eq!(verify(sign_type, &[previous], &input, &signature), None);
            assert_eq!(verify(sign_type, &[], &input, &signature), None);
            assert_eq!(verify(sign_type, &[SECRET], &input, &signature.to_uppercase()), Some(0));
        }
    }

    #[test]
    fn verify_refuses_changed_inputs_and_garbage() {
        let input = worked_example();
        let signature = sign(SignType::HmacSha256, SECRET, &input);
        let changed = [
            SigningInput { method: "GET", ..input },
            SigningInput { operation_type: "com.bank.account.close", ..input },
            SigningInput { app_id: "01HV7Z3K9M2Q8RXB", ..input },
            SigningInput { workspace_id: "01HV7Z3KA4N6P0WC", ..input },
            SigningInput { timestamp: "1717000000001", ..input },
            SigningInput { nonce: "", ..input },
            SigningInput { body: br#"{"accountId":"A-43"}"#, ..input },
        ];
        for other in changed {
            assert_eq!(verify(SignType::HmacSha256, &[SECRET], &other, &signature), None, "{other:?}");
        }
        assert_eq!(verify(SignType::HmacSm3, &[SECRET], &input, &signature), None);
        for garbage in ["", "zz", "abc", &signature[..62], &format!("{signature}00"), "💥"] {
            assert_eq!(verify(SignType::HmacSha256, &[SECRET], &input, garbage), None, "{garbage}");
        }
    }
}
