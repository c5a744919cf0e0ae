//! Deterministic bucketing: the same user always lands in the same bucket of the same rollout or
//! experiment, on the server and in every GrowthBook-compatible SDK, without storing anything.

/// GrowthBook's hash of `value` for `seed` into `[0, 1)`: version 1 is the original (biased,
/// three decimals) algorithm, version 2 the unbiased one (four decimals). Other versions give
/// `None`, which excludes the user.
pub fn hash(seed: &str, value: &str, version: i64) -> Option<f64> {
    match version {
        2 => {
            let first = fnv1a_32(seed.encode_utf16().chain(value.encode_utf16()));
            let second = fnv1a_32(first.to_string().encode_utf16());
            Some(f64::from(second % 10_000) / 10_000.0)
        }
        1 => {
            let hashed = fnv1a_32(value.encode_utf16().chain(seed.encode_utf16()));
            Some(f64::from(hashed % 1_000) / 1_000.0)
        }
        _ => None,
    }
}

/// 32-bit FNV-1a over UTF-16 code units, as JavaScript's `charCodeAt` sees a string.
fn fnv1a_32(units: impl Iterator<Item = u16>) -> u32 {
    units.fold(0x811c_9dc5, |hash, unit| (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193))
}

/// `n` equal weights summing to 1; none for `n <= 0`.
pub fn get_equal_weights(n: i64) -> Vec<f64> {
    match usize::try_from(n) {
        Ok(count) if count > 0 => vec![1.0 / n as f64; count],
        _ => Vec::new(),
    }
}

/// The `[start, end)` hash range of each variation: weights laid end to end, each range shrunk
/// to `coverage` of its weight so that lowering coverage never moves a user between variations.
/// Coverage is clamped to `[0, 1]`; weights that are missing, of the wrong length or not
/// summing to 1 (±0.01) fall back to equal weights.
pub fn get_bucket_ranges(num_variations: usize, coverage: f64, weights: Option<&[f64]>) -> Vec<(f64, f64)> {
    let coverage = coverage.clamp(0.0, 1.0);
    let equal;
    let weights = match weights {
        Some(weights) if weights.len() == num_variations && sums_to_one(weights) => weights,
        _ => {
            equal = get_equal_weights(i64::try_from(num_variations).unwrap_or(0));
            &equal
        }
    };
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|weight| {
            let start = cumulative;
            cumulative += weight;
            (start, start + coverage * weight)
        })
        .collect()
}

fn sums_to_one(weights: &[f64]) -> bool {
    let total: f64 = weights.iter().fold(0.0, |sum, weight| sum + weight);
    (0.99..=1.01).contains(&total)
}

/// Whether `n` falls in `[start, end)`.
pub fn in_range(n: f64, range: &(f64, f64)) -> bool {
    n >= range.0 && n < range.1
}

/// The index of the range `n` falls in, or -1 when it falls in none (not in the experiment).
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> i64 {
    ranges.iter().position(|range| in_range(n, range)).and_then(|index| i64::try_from(index).ok()).unwrap_or(-1)
}

/// Whether a user belongs to a namespace's `[start, end)` slice. Experiments sharing a
/// namespace take disjoint slices, so no user is in two of them.
pub fn in_namespace(hash_value: &str, namespace: &(String, f64, f64)) -> bool {
    let (name, start, end) = namespace;
    hash(&format!("__{name}"), hash_value, 1).is_some_and(|n| n >= *start && n < *end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_growthbook() {
        assert_eq!(hash("", "a", 1), Some(0.22));
        assert_eq!(hash("seed", "a", 2), Some(0.0505));
        assert_eq!(hash("abc", "def", 99), None);
    }

    #[test]
    fn non_ascii_values_hash_by_utf16_code_unit() {
        // Same UTF-16 code units, so the same hash, whichever way the text is split.
        assert_eq!(hash("é", "\u{1F600}", 2), hash("", "é\u{1F600}", 2));
        assert_ne!(hash("", "é", 1), hash("", "e", 1));
    }

    #[test]
    fn ranges_shrink_with_coverage() {
        assert_eq!(get_bucket_ranges(2, 0.5, None), vec![(0.0, 0.25), (0.5, 0.75)]);
        assert_eq!(choose_variation(0.4, &[(0.0, 0.25), (0.5, 0.75)]), -1);
        assert!(get_equal_weights(-3).is_empty());
    }
}
