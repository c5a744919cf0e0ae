//! Quantile metrics (startup time p95), as gbstats 0.8.0 models them: the sample quantile with
//! the order statistics at the edges of its binomial confidence interval, from which a variance
//! follows (Price & Bonett 2001). For an event quantile — over every startup of every unit — the
//! events of one unit are not independent, so the variance is widened by the ratio of the
//! cluster-robust (delta-method) variance of the share of events at or below the quantile to
//! its independent-events variance ν(1 − ν)/n.

use serde::{Deserialize, Serialize};

use crate::dist::normal_ppf;
use crate::statistic::Moments;

/// The confidence level the bounds are taken at, fixed by gbstats.
const BOUNDS_ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileSummary {
    /// Values the quantile is taken over: events for an event quantile, units for a unit quantile.
    pub n: f64,
    /// The sample size the bounds were taken at (`n` when they are exact order statistics).
    pub n_star: f64,
    /// The level, as 0.95 for p95.
    pub nu: f64,
    pub quantile: f64,
    /// The sample quantiles at [`bound_levels`].
    pub lower: f64,
    pub upper: f64,
    /// An event quantile's units, for the cluster-robust variance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<QuantileClusters>,
}

/// Per unit: its events at or below the quantile (`below`) and all its events (`events`), summed
/// over the units with their squares, and the sum of their products.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileClusters {
    pub below: Moments,
    pub events: Moments,
    pub sum_of_products: f64,
}

/// The levels whose sample quantiles bound ν's: ν ± z₀.₉₇₅ √(ν(1 − ν)/n*), kept inside (0, 1).
pub fn bound_levels(nu: f64, n_star: f64) -> (f64, f64) {
    let spread = normal_ppf(1.0 - BOUNDS_ALPHA / 2.0) * (nu * (1.0 - nu) / n_star).sqrt();
    ((nu - spread).max(1e-8), (nu + spread).min(1.0 - 1e-8))
}

/// The sample quantile at `level`, interpolated between neighbours as SQL's `PERCENTILE_CONT`
/// does (Hyndman & Fan's type 7). `None` when there are no values. Reorders `values` (a selection
/// in linear time, not a sort).
pub fn sample_quantile(values: &mut [f64], level: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let position = level.clamp(0.0, 1.0) * last as f64;
    let rank = position.floor() as usize;
    let (_, at_rank, above) = values.select_nth_unstable_by(rank, f64::total_cmp);
    let at_rank = *at_rank;
    let next = above.iter().copied().min_by(f64::total_cmp).unwrap_or(at_rank);
    Some(at_rank + (next - at_rank) * (position - rank as f64))
}

impl QuantileSummary {
    /// The summary of `values` at level `nu`, with exact bounds (`n* = n`). Reorders `values`.
    pub fn of_values(values: &mut [f64], nu: f64, clusters: Option<QuantileClusters>) -> Self {
        let n = values.len() as f64;
        let (lower_level, upper_level) = bound_levels(nu, n.max(1.0));
        let mut at = |level: f64| sample_quantile(values, level).unwrap_or(0.0);
        Self { n, n_star: n, nu, quantile: at(nu), lower: at(lower_level), upper: at(upper_level), clusters }
    }

    fn independent_variance(&self) -> f64 {
        if self.n <= 1.0 {
            return 0.0;
        }
        let width = (self.upper - self.lower) / (2.0 * normal_ppf(1.0 - BOUNDS_ALPHA / 2.0));
        (self.n_star / self.n) * (self.n - 1.0) * width * width
    }

    /// Before gbstats' floor: the independent variance, or for an event quantile the same
    /// scaled by the clustering.
    fn initial_variance(&self) -> f64 {
        let Some(clusters) = self.clusters else { return self.independent_variance() };
        let units = clusters.below.n();
        if self.n <= 1.0 || self.nu == 0.0 || units <= 1.0 || clusters.events.sum() <= 0.0 {
            return 0.0;
        }
        let independent_share_variance = self.nu * (1.0 - self.nu) / self.n;
        self.independent_variance() * clusters.share_variance() / independent_share_variance
    }

    /// gbstats floors the variance at 10⁻⁵ from 100 values on.
    pub fn variance(&self) -> f64 {
        if self.n < 100.0 { self.initial_variance() } else { self.initial_variance().max(1e-5) }
    }

    /// Too few values for the interval to stay inside the data, or no spread in a small sample.
    pub fn has_zero_variance(&self) -> bool {
        let z2 = normal_ppf(1.0 - BOUNDS_ALPHA / 2.0).powi(2);
        let above_one = self.n <= z2 * self.nu / (1.0 - self.nu);
        let below_zero = self.n <= z2 * (1.0 - self.nu) / self.nu;
        above_one || below_zero || (self.initial_variance() <= 0.0 && self.n < 1000.0)
    }
}

impl QuantileClusters {
    /// The delta-method variance of Σbelow / Σevents over units.
    fn share_variance(&self) -> f64 {
        let units = self.below.n();
        let correction = units / (units - 1.0);
        let mean_below = self.below.sum() / units;
        let mean_events = self.events.sum() / units;
        let variance_below = (self.below.sum_squares() / units - mean_below * mean_below) * correction;
        let variance_events = (self.events.sum_squares() / units - mean_events * mean_events) * correction;
        let covariance = (self.sum_of_products / units - mean_below * mean_events) * correction;
        (variance_below - 2.0 * mean_below * covariance / mean_events
            + mean_below * mean_below * variance_events / (mean_events * mean_events))
            / (units * mean_events * mean_events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_quantiles_interpolate_like_percentile_cont() {
        let mut values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(sample_quantile(&mut values, 0.5), Some(2.5));
        assert_eq!(sample_quantile(&mut values, 1.0), Some(4.0));
        assert_eq!(sample_quantile(&mut values, 0.0), Some(1.0));
        assert_eq!(sample_quantile(&mut values, 0.9), Some(3.7));
        assert_eq!(sample_quantile(&mut [7.0], 0.95), Some(7.0));
        assert_eq!(sample_quantile(&mut [], 0.95), None);
    }

    #[test]
    fn a_handful_of_values_has_no_p95_interval() {
        let mut values: Vec<f64> = (0..50).rev().map(f64::from).collect();
        let summary = QuantileSummary::of_values(&mut values, 0.95, None);
        // 50 ≤ 1.96² · 0.95 / 0.05 ≈ 73: the interval's upper edge is past the largest value.
        assert!(summary.has_zero_variance());
        let mut values: Vec<f64> = (0..1000).rev().map(f64::from).collect();
        let summary = QuantileSummary::of_values(&mut values, 0.95, None);
        assert!(!summary.has_zero_variance() && summary.variance() > 0.0);
        assert!((summary.quantile - 949.05).abs() < 1e-9);
    }
}
