//! Identifiers: 16 characters of Crockford base32 holding 48 bits of creation time and 32 random
//! bits. They sort by creation time, which keyset pagination relies on, and they are short enough
//! for a client to send in a header (`AppId`, `WorkspaceId`).

use rand::RngCore;

use crate::clock::UnixMillis;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new sortable identifier for something created at `now_ms`.
pub fn new_id(now_ms: UnixMillis, rng: &mut impl RngCore) -> String {
    let time_bits = (now_ms.max(0) as u128) & ((1u128 << 48) - 1);
    let value = (time_bits << 32) | u128::from(rng.next_u32());
    (0..16).rev().map(|digit| CROCKFORD[((value >> (digit * 5)) & 31) as usize] as char).collect()
}

/// Whether `text` has the shape of an identifier made by [`new_id`]; lets callers answer
/// "not found" for garbage without a database round trip.
pub fn looks_like_id(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|byte| CROCKFORD.contains(&byte))
}

/// A bounded, printable part of an id a caller sent, safe to echo back in an error message.
pub fn echo(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let mut rng = StdRng::seed_from_u64(7);
        let earlier = new_id(1_700_000_000_000, &mut rng);
        let later = new_id(1_700_000_000_001, &mut rng);
        assert!(earlier < later, "{earlier} should sort before {later}");
        assert!(looks_like_id(&earlier));
        assert_eq!(earlier.len(), 16);
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert!(!looks_like_id("../etc/passwd"));
        assert!(!looks_like_id("0123456789abcdef"));
    }
}
