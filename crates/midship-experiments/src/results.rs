//! An experiment's results from its statistics: per metric, each variation against control
//! (frequentist with optional sequential intervals, and Bayesian), p-values corrected across
//! metrics × variations, the sample ratio mismatch check and a power estimate. Every number that
//! cannot be computed is a reason ("not enough data"), never NaN.

use midship_stats::bayesian::{self, BayesianSettings};
use midship_stats::correction::{benjamini_hochberg, holm};
use midship_stats::dist::normal_ppf;
use midship_stats::frequentist::{self, FrequentistSettings};
use midship_stats::quantile::QuantileSummary;
use midship_stats::srm::{SRM_THRESHOLD, srm_p_value};
use midship_stats::statistic::cuped_theta;
use midship_stats::{NotEnoughData, Statistic};
use serde::{Deserialize, Serialize};

use crate::metric::MetricDefinition;

/// gbstats' default tuning of sequential intervals.
const SEQUENTIAL_TUNING: f64 = 5000.0;
const POWER: f64 = 0.8;

/// How results are read: the significance level, sequential intervals (safe to look at any
/// time; on by default) and the multiple-testing correction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AnalysisSettings {
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "yes")]
    pub sequential: bool,
    #[serde(default)]
    pub correction: Correction,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self { alpha: default_alpha(), sequential: true, correction: Correction::default() }
    }
}

fn default_alpha() -> f64 {
    0.05
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm's step-down: controls the chance of any false winner.
    #[default]
    Holm,
    /// Benjamini–Hochberg: controls the share of false winners.
    BenjaminiHochberg,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentResults {
    /// Exposed units per variation, in the definition's order.
    pub units: Vec<u64>,
    pub srm: SrmCheck,
    pub metrics: Vec<MetricResult>,
    /// Units each variation needs to detect the minimum effect on the first metric.
    pub power: Power,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SrmCheck {
    pub p_value: f64,
    /// Below gbstats' threshold (0.001): the split is broken and the results cannot be trusted.
    pub mismatch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Power {
    Estimated { metric_index: usize, minimum_detectable_effect: f64, units_per_variation: u64 },
    NotEnoughData { reason: NotEnoughData },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub key: String,
    pub name: String,
    pub inverse: bool,
    pub guardrail: bool,
    pub variations: Vec<VariationResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariationResult {
    pub variation: String,
    pub units: u64,
    /// The metric's value in this variation (a rate, a mean per unit or a ratio).
    pub value: f64,
    pub statistic: Statistic,
    /// Against control; absent for control itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Comparison {
    Compared {
        /// Relative uplift over control.
        uplift: f64,
        ci: [f64; 2],
        p_value: f64,
        /// After the correction across metrics × variations.
        adjusted_p_value: f64,
        chance_to_win: f64,
        credible_interval: [f64; 2],
        /// Expected loss of choosing control, then of choosing this variation.
        risk: [f64; 2],
    },
    NotEnoughData {
        reason: NotEnoughData,
    },
}

/// Results from each metric's statistics per variation (`statistics[metric][variation]`).
pub fn analyze(
    variation_keys: &[String],
    weights: &[f64],
    metrics: &[MetricDefinition],
    statistics: &[Vec<Statistic>],
    units: &[u64],
    minimum_detectable_effect: f64,
    settings: AnalysisSettings,
) -> ExperimentResults {
    let unit_counts: Vec<f64> = units.iter().map(|count| *count as f64).collect();
    let p_value = srm_p_value(&unit_counts, weights);
    let frequentist_settings = FrequentistSettings {
        alpha: settings.alpha,
        relative: true,
        sequential: settings.sequential.then_some(SEQUENTIAL_TUNING),
    };
    let mut metric_results: Vec<MetricResult> = metrics
        .iter()
        .zip(statistics)
        .map(|(metric, per_variation)| {
            let control = per_variation[0];
            let variations = per_variation
                .iter()
                .enumerate()
                .map(|(index, statistic)| {
                    let (control, statistic) = with_shared_theta(control, *statistic);
                    let comparison = (index > 0)
                        .then(|| compare(&control, &statistic, frequentist_settings, settings.alpha, metric.inverse));
                    VariationResult {
                        variation: variation_keys[index].clone(),
                        units: units.get(index).copied().unwrap_or(0),
                        value: statistic.unadjusted_mean(),
                        statistic,
                        comparison,
                    }
                })
                .collect();
            MetricResult {
                key: metric.key.clone(),
                name: metric.name.clone(),
                inverse: metric.inverse,
                guardrail: metric.guardrail,
                variations,
            }
        })
        .collect();
    correct(&mut metric_results, settings.correction);
    let power = statistics
        .first()
        .map(|per_variation| power(&per_variation[0], minimum_detectable_effect, settings.alpha))
        .unwrap_or(Power::NotEnoughData { reason: NotEnoughData::NoUnits });
    ExperimentResults {
        units: units.to_vec(),
        srm: SrmCheck { p_value, mismatch: p_value < SRM_THRESHOLD },
        metrics: metric_results,
        power,
    }
}

/// CUPED's θ is pooled over the two variations compared, as gbstats does.
fn with_shared_theta(control: Statistic, variation: Statistic) -> (Statistic, Statistic) {
    let theta = cuped_theta(&control, &variation);
    let set = |statistic: Statistic| match statistic {
        Statistic::RegressionAdjusted { n, post, pre, sum_of_products, .. } => {
            Statistic::RegressionAdjusted { n, post, pre, sum_of_products, theta }
        }
        other => other,
    };
    (set(control), set(variation))
}

fn compare(
    control: &Statistic,
    variation: &Statistic,
    frequentist_settings: FrequentistSettings,
    alpha: f64,
    inverse: bool,
) -> Comparison {
    let bayesian_settings = BayesianSettings { alpha, relative: true, inverse, prior: None };
    match (
        frequentist::compare(control, variation, frequentist_settings),
        bayesian::compare(control, variation, bayesian_settings),
    ) {
        (Ok(frequentist), Ok(bayesian)) => Comparison::Compared {
            uplift: frequentist.expected,
            ci: frequentist.ci,
            p_value: frequentist.p_value,
            adjusted_p_value: frequentist.p_value,
            chance_to_win: bayesian.chance_to_win,
            credible_interval: bayesian.ci,
            risk: bayesian.risk,
        },
        (Err(reason), _) | (_, Err(reason)) => Comparison::NotEnoughData { reason },
    }
}

fn correct(metrics: &mut [MetricResult], correction: Correction) {
    let mut slots: Vec<&mut f64> = metrics
        .iter_mut()
        .flat_map(|metric| metric.variations.iter_mut())
        .filter_map(|variation| match &mut variation.comparison {
            Some(Comparison::Compared { adjusted_p_value, .. }) => Some(adjusted_p_value),
            _ => None,
        })
        .collect();
    let raw: Vec<f64> = slots.iter().map(|value| **value).collect();
    let adjusted = match correction {
        Correction::Holm => holm(&raw),
        Correction::BenjaminiHochberg => benjamini_hochberg(&raw),
        Correction::None => raw,
    };
    for (slot, value) in slots.iter_mut().zip(adjusted) {
        **slot = value;
    }
}

/// Units per variation for a two-sided test at `alpha` with 80 % power to detect a relative
/// change of `effect` on control's mean, with control's variance:
/// n = 2 (z₁₋α/₂ + z₀.₈)² σ² / (effect · μ)². A quantile over events counts events, so its n is
/// turned into units at control's events per unit.
fn power(control: &Statistic, effect: f64, alpha: f64) -> Power {
    let (mean, variance) = (control.unadjusted_mean(), control.variance());
    let reason = if control.n() < 2.0 {
        Some(NotEnoughData::NoUnits)
    } else if mean == 0.0 {
        Some(NotEnoughData::BaselineZero)
    } else if control.has_zero_variance() {
        Some(NotEnoughData::ZeroVariance)
    } else {
        None
    };
    if let Some(reason) = reason {
        return Power::NotEnoughData { reason };
    }
    let values_per_unit = match control {
        Statistic::Quantile(QuantileSummary { n, clusters: Some(clusters), .. }) => n / clusters.below.n(),
        _ => 1.0,
    };
    let z = normal_ppf(1.0 - alpha / 2.0) + normal_ppf(POWER);
    let units = 2.0 * z * z * variance / (effect * mean).powi(2) / values_per_unit;
    Power::Estimated { metric_index: 0, minimum_detectable_effect: effect, units_per_variation: units.ceil() as u64 }
}

#[cfg(test)]
mod tests {
    use midship_stats::quantile::QuantileClusters;
    use midship_stats::statistic::Moments;

    use super::*;
    use crate::metric::MetricKind;

    fn conversion() -> MetricDefinition {
        MetricDefinition {
            key: "bought".into(),
            name: String::new(),
            kind: MetricKind::Conversion { event: "buy".into(), within_hours: None },
            inverse: false,
            guardrail: false,
        }
    }

    fn keys() -> Vec<String> {
        vec!["control".into(), "blue".into()]
    }

    #[test]
    fn a_clear_winner_has_a_small_p_value_and_a_high_chance_to_win() {
        let statistics = vec![vec![
            Statistic::Proportion { n: 10_000.0, sum: 1_000.0 },
            Statistic::Proportion { n: 10_000.0, sum: 1_200.0 },
        ]];
        let results = analyze(
            &keys(),
            &[0.5, 0.5],
            &[conversion()],
            &statistics,
            &[10_000, 10_000],
            0.05,
            AnalysisSettings::default(),
        );
        assert!(!results.srm.mismatch);
        let Some(Comparison::Compared { uplift, p_value, chance_to_win, .. }) =
            results.metrics[0].variations[1].comparison
        else {
            panic!("{results:?}")
        };
        assert!((uplift - 0.2).abs() < 1e-12);
        assert!(p_value < 0.01 && chance_to_win > 0.99, "{p_value} {chance_to_win}");
        assert!(matches!(results.power, Power::Estimated { units_per_variation, .. } if units_per_variation > 10_000));
    }

    #[test]
    fn the_power_of_a_quantile_over_events_is_counted_in_units() {
        // 10,000 startup times from 2,500 units, four each; 2,000 units have all four at or below
        // the p95, 500 have three.
        let mut values: Vec<f64> = (0..10_000).map(|index| f64::from(300 + index % 1_700)).collect();
        let counts = |sum: f64, sum_squares: f64| Moments::SampleMean { n: 2_500.0, sum, sum_squares };
        let clusters = QuantileClusters {
            below: counts(9_500.0, 2_000.0 * 16.0 + 500.0 * 9.0),
            events: counts(10_000.0, 40_000.0),
            sum_of_products: 38_000.0,
        };
        let summary = QuantileSummary::of_values(&mut values, 0.95, Some(clusters));
        let clustered = Statistic::Quantile(summary);
        let independent = Statistic::Quantile(QuantileSummary { clusters: None, ..summary });
        let units = |statistic: &Statistic| match power(statistic, 0.05, 0.05) {
            Power::Estimated { units_per_variation, .. } => units_per_variation as f64,
            other => panic!("{other:?}"),
        };
        let events_needed = units(&independent) * clustered.variance() / independent.variance();
        assert!((units(&clustered) - events_needed / 4.0).abs() <= 2.0, "{} {events_needed}", units(&clustered));
        assert!(units(&clustered) < units(&independent) / 3.0, "four values per unit");
    }

    #[test]
    fn empty_and_constant_variations_are_not_enough_data_and_a_skewed_split_is_flagged() {
        let statistics =
            vec![vec![Statistic::Proportion { n: 9_000.0, sum: 0.0 }, Statistic::Proportion { n: 1_000.0, sum: 0.0 }]];
        let results = analyze(
            &keys(),
            &[0.5, 0.5],
            &[conversion()],
            &statistics,
            &[9_000, 1_000],
            0.05,
            AnalysisSettings::default(),
        );
        assert!(results.srm.mismatch);
        assert_eq!(
            results.metrics[0].variations[1].comparison,
            Some(Comparison::NotEnoughData { reason: NotEnoughData::BaselineZero })
        );
        assert_eq!(results.power, Power::NotEnoughData { reason: NotEnoughData::BaselineZero });
        let text = serde_json::to_string(&results).unwrap();
        assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
    }
}
