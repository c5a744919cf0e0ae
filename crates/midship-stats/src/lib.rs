//! The statistics engine of experiments, pure and without I/O: summary statistics per variation
//! (`statistic`), the tests comparing a variation with control — frequentist Welch t-tests on the
//! relative uplift by the delta method, sequential always-valid intervals, a Gaussian Bayesian
//! effect model — (`frequentist`, `bayesian`), the variance of quantiles (`quantile`), the sample
//! ratio mismatch check (`srm`) and corrections for testing many metrics and variations
//! (`correction`). The numbers follow GrowthBook's gbstats 0.8.0 on the same inputs; the
//! distributions they need are in `dist`.

pub mod bayesian;
pub mod correction;
pub mod dist;
pub mod frequentist;
pub mod quantile;
pub mod srm;
pub mod statistic;

pub use statistic::Statistic;

/// Why a comparison gives no numbers: shown as "not enough data", never as NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotEnoughData {
    /// Control's mean is zero, so a relative uplift is undefined.
    BaselineZero,
    /// A variation's variance is zero or negative (every unit alike, or one unit).
    ZeroVariance,
    /// A variation has no units.
    NoUnits,
}
