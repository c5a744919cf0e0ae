//! Frequentist comparisons of a variation with control on the relative (or absolute) difference:
//! a two-sided Welch t-test with the delta-method variance, and its sequential form with
//! always-valid confidence intervals (Waudby-Smith et al. 2023, as gbstats computes them), so
//! results may be read at any time.

use serde::Serialize;

use crate::dist::{t_cdf, t_ppf};
use crate::{NotEnoughData, Statistic};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequentistSettings {
    pub alpha: f64,
    pub relative: bool,
    /// `Some(tuning)`: sequential testing with this tuning parameter (gbstats' default 5000).
    pub sequential: Option<f64>,
}

impl Default for FrequentistSettings {
    fn default() -> Self {
        Self { alpha: 0.05, relative: true, sequential: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrequentistResult {
    /// The difference, relative to control's mean when `relative`.
    pub expected: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
    pub stddev: f64,
}

/// The delta-method variance of the (relative) difference of means.
pub fn difference_variance(a: &Statistic, b: &Statistic, relative: bool) -> f64 {
    let (var_a, mean_a, n_a) = (a.variance(), a.unadjusted_mean(), a.n());
    let (var_b, mean_b, n_b) = (b.variance(), b.unadjusted_mean(), b.n());
    if relative {
        var_b / (mean_a.powi(2) * n_b) + var_a * mean_b.powi(2) / (mean_a.powi(4) * n_a)
    } else {
        var_b / n_b + var_a / n_a
    }
}

/// The (relative) difference of means; CUPED-adjusted means over control's unadjusted mean.
pub fn difference(a: &Statistic, b: &Statistic, relative: bool) -> f64 {
    if relative { (b.mean() - a.mean()) / a.unadjusted_mean() } else { b.mean() - a.mean() }
}

/// Why no comparison can be made, if none can.
pub fn not_enough_data(a: &Statistic, b: &Statistic, relative: bool) -> Option<NotEnoughData> {
    if a.n() == 0.0 || b.n() == 0.0 {
        return Some(NotEnoughData::NoUnits);
    }
    if relative && (a.mean() == 0.0 || a.unadjusted_mean() == 0.0) {
        return Some(NotEnoughData::BaselineZero);
    }
    if a.has_zero_variance() || b.has_zero_variance() {
        return Some(NotEnoughData::ZeroVariance);
    }
    None
}

pub fn compare(
    a: &Statistic,
    b: &Statistic,
    settings: FrequentistSettings,
) -> Result<FrequentistResult, NotEnoughData> {
    if let Some(reason) = not_enough_data(a, b, settings.relative) {
        return Err(reason);
    }
    let variance = difference_variance(a, b, settings.relative);
    let expected = difference(a, b, settings.relative);
    let stddev = variance.sqrt();
    let alpha = settings.alpha;
    let (ci, p_value) = match settings.sequential {
        None => {
            let dof = welch_dof(a, b);
            let width = t_ppf(1.0 - alpha / 2.0, dof) * stddev;
            let critical = expected / stddev;
            ([expected - width, expected + width], 2.0 * (1.0 - t_cdf(critical.abs(), dof)))
        }
        Some(tuning) => {
            let total = a.n() + b.n();
            let rho = ((-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning).sqrt();
            let s2 = variance * total;
            let spread = total * rho * rho + 1.0;
            let width = s2.sqrt() * ((2.0 * spread) * (spread.sqrt() / alpha).ln() / (total * rho).powi(2)).sqrt();
            let st2 = expected.powi(2) * total / variance;
            let evalue = (rho * rho * st2 / (2.0 * spread)).exp() / spread.sqrt();
            ([expected - width, expected + width], (1.0 / evalue).min(1.0))
        }
    };
    Ok(FrequentistResult { expected, ci, p_value, stddev })
}

/// Welch–Satterthwaite degrees of freedom.
pub fn welch_dof(a: &Statistic, b: &Statistic) -> f64 {
    let (var_a, n_a, var_b, n_b) = (a.variance(), a.n(), b.variance(), b.n());
    (var_b / n_b + var_a / n_a).powi(2)
        / (var_b.powi(2) / (n_b.powi(2) * (n_b - 1.0)) + var_a.powi(2) / (n_a.powi(2) * (n_a - 1.0)))
}
