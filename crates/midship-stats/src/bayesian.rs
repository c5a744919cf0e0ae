//! The Bayesian comparison gbstats calls "effect": a Gaussian model of the (relative) effect
//! with a flat prior by default (or a proper Gaussian one), giving the chance to win, a credible
//! interval and the risk (expected loss) of choosing either side.

use serde::Serialize;

use crate::dist::{normal_cdf, normal_ppf, normal_sf, truncated_normal_mean};
use crate::frequentist::{difference, difference_variance, not_enough_data};
use crate::{NotEnoughData, Statistic};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesianSettings {
    pub alpha: f64,
    pub relative: bool,
    /// A metric where lower is better (crash rate): the chance to win and the risks flip.
    pub inverse: bool,
    /// `Some((mean, variance))`: a proper Gaussian prior on the effect; `None`: flat.
    pub prior: Option<(f64, f64)>,
}

impl Default for BayesianSettings {
    fn default() -> Self {
        Self { alpha: 0.05, relative: true, inverse: false, prior: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BayesianResult {
    pub expected: f64,
    pub ci: [f64; 2],
    pub chance_to_win: f64,
    /// Expected loss of choosing control, then of choosing the variation.
    pub risk: [f64; 2],
    pub stddev: f64,
}

pub fn compare(a: &Statistic, b: &Statistic, settings: BayesianSettings) -> Result<BayesianResult, NotEnoughData> {
    if let Some(reason) = not_enough_data(a, b, settings.relative) {
        return Err(reason);
    }
    let data_variance = difference_variance(a, b, settings.relative);
    let data_mean = difference(a, b, settings.relative);
    let (mean, precision) = match settings.prior {
        Some((prior_mean, prior_variance)) => {
            let precision = 1.0 / data_variance + 1.0 / prior_variance;
            ((data_mean / data_variance + prior_mean / prior_variance) / precision, precision)
        }
        None => (data_mean, 1.0 / data_variance),
    };
    let stddev = (1.0 / precision).sqrt();
    let above_zero = normal_sf(-mean / stddev);
    let chance_to_win = if settings.inverse { 1.0 - above_zero } else { above_zero };
    let z = normal_ppf(1.0 - settings.alpha / 2.0);
    let ci = [mean - z * stddev, mean + z * stddev];
    let control_better = normal_cdf(-mean / stddev);
    let mean_negative = truncated_normal_mean(mean, stddev, f64::NEG_INFINITY, 0.0);
    let mean_positive = truncated_normal_mean(mean, stddev, 0.0, f64::INFINITY);
    // Either side may carry no probability at all (far in a tail): it then adds no loss.
    let weighted = |probability: f64, mean: f64| if probability == 0.0 { 0.0 } else { probability * mean };
    let risk_control = weighted(1.0 - control_better, mean_positive);
    let risk_variation = -weighted(control_better, mean_negative);
    let risk = if settings.inverse { [risk_variation, risk_control] } else { [risk_control, risk_variation] };
    Ok(BayesianResult { expected: mean, ci, chance_to_win, risk, stddev })
}
