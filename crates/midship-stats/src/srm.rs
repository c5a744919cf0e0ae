//! The sample ratio mismatch check: a chi-square goodness-of-fit test of the units each
//! variation received against the weights it was given. A small p-value (gbstats warns below
//! 0.001) means the split itself is broken and the results cannot be trusted.

use crate::dist::chi2_sf;

/// The p-value of the observed split; 1 when nothing was observed.
pub fn srm_p_value(units: &[f64], weights: &[f64]) -> f64 {
    let total: f64 = units.iter().sum();
    if total == 0.0 {
        return 1.0;
    }
    let total_weight: f64 = weights.iter().sum();
    let statistic: f64 = units
        .iter()
        .zip(weights)
        .filter(|(_, weight)| **weight > 0.0)
        .map(|(observed, weight)| {
            let expected = weight / total_weight * total;
            (observed - expected).powi(2) / expected
        })
        .sum();
    chi2_sf(statistic, units.len() as f64 - 1.0)
}

/// gbstats' threshold for the warning.
pub const SRM_THRESHOLD: f64 = 0.001;
