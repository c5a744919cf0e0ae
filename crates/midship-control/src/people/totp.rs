//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, six digits), what every
//! authenticator app speaks, and the base32 text their secrets are shared as.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

pub const STEP_MS: i64 = 30_000;
const DIGITS: u32 = 6;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new shared secret: 160 random bits (RFC 4226's recommendation) as base32.
pub fn new_secret(rng: &mut impl RngCore) -> String {
    let mut bytes = [0_u8; 20];
    rng.fill_bytes(&mut bytes);
    base32_encode(&bytes)
}

/// The code of one step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    format!("{:0width$}", value % 10_u32.pow(DIGITS), width = DIGITS as usize)
}

/// The step a code typed at `now_ms` belongs to, allowing one step of clock drift either way;
/// `None` when the code matches none of them.
pub fn matching_step(secret_base32: &str, code: &str, now_ms: i64) -> Option<i64> {
    let code: String = code.chars().filter(|character| !character.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let secret = base32_decode(secret_base32)?;
    let current = now_ms.div_euclid(STEP_MS);
    [current - 1, current, current + 1].into_iter().find(|step| {
        let expected = code_at_step(&secret, *step);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
    })
}

/// What authenticator apps scan (as a QR code) or accept pasted.
pub fn provisioning_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let label = format!("{issuer}:{account}");
    let mut uri = url::Url::parse("otpauth://totp/").expect("a constant URL");
    uri.set_path(&label);
    uri.query_pairs_mut()
        .append_pair("secret", secret_base32)
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", "6")
        .append_pair("period", "30");
    uri.to_string()
}

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0_u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buffer[0], buffer[1], buffer[2], buffer[3], buffer[4]]);
        let characters = (chunk.len() * 8).div_ceil(5);
        for index in 0..characters {
            let value = (bits >> (35 - index * 5)) & 0x1f;
            text.push(char::from(BASE32[value as usize]));
        }
    }
    text
}

/// Reads base32 without padding, ignoring case, spaces and `=`.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for character in text.chars().filter(|character| !character.is_whitespace() && *character != '=') {
        let upper = character.to_ascii_uppercase();
        let value = BASE32.iter().position(|candidate| char::from(*candidate) == upper)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (the RFC prints eight digits; apps use the last six).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, eight_digits) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at_step(secret, seconds / 30), eight_digits[2..], "at {seconds} s");
        }
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB")]
        {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None, "1 is not base32");
    }

    #[test]
    fn codes_match_one_step_either_side_only() {
        let secret = base32_encode(b"12345678901234567890");
        let now = 1_111_111_111_000;
        let step = now / STEP_MS;
        let code = |step| code_at_step(b"12345678901234567890", step);
        assert_eq!(matching_step(&secret, &code(step), now), Some(step));
        assert_eq!(matching_step(&secret, &code(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&secret, &code(step + 1), now), Some(step + 1));
        assert_eq!(matching_step(&secret, &code(step - 2), now), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn provisioning_uri_names_issuer_and_account() {
        let uri = provisioning_uri("Midship", "ana@bank.example", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Midship:ana@bank.example?secret=JBSWY3DPEHPK3PXP&issuer=Midship&algorithm=SHA1&digits=6&period=30"
        );
    }
}
