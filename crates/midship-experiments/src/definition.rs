//! What an experiment is: its variations (each a set of switch values), weights, traffic
//! coverage, the slice of its laboratory's layer, the audience, the assignment unit, the debug
//! whitelist and the metrics it is judged by; and the rules a definition must keep.

use std::collections::BTreeMap;

use midship_targeting::condition::Condition;
use midship_targeting::rules::{Rule, rule_condition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use midship_protocol::calls::AssignmentUnit;

use crate::metric::MetricDefinition;
use crate::results::AnalysisSettings;

/// Weights may be off by this much from summing to one (GrowthBook allows 0.01; we are stricter).
const WEIGHT_TOLERANCE: f64 = 1e-6;
pub const MAX_VARIATIONS: usize = 20;
const MAX_METRICS: usize = 20;
const MAX_WHITELIST: usize = 1_000;

/// A definition that does not hold together, with the JSON path of the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DefinitionError {
    pub path: String,
    pub message: String,
}

impl DefinitionError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// One arm of the experiment: the switch values a unit in it reads, or, in a gateway experiment,
/// the backend group its calls go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Variation {
    /// Short and stable: exposures and results name it (`control`, `blue`).
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Switch key → the value units in this variation read. Every variation sets the same keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub values: BTreeMap<String, Value>,
    /// Gateway experiments: the API group (by name) this variation's calls go to; none: the
    /// API's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// An experiment as its author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExperimentDefinition {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hypothesis: String,
    #[serde(default)]
    pub unit: AssignmentUnit,
    /// A gateway experiment splits this API's calls (variations name backend `group`s and set
    /// no `values`); without it the experiment sets switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    /// The first is the control every other is compared with.
    pub variations: Vec<Variation>,
    /// One per variation, summing to 1; equal when left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<f64>,
    /// The share of the audience (within the layer slice) that takes part, 0 to 1.
    #[serde(default = "full")]
    pub coverage: f64,
    /// `[start, end)` of the laboratory's layer this experiment takes; experiments of one
    /// laboratory that run at the same time may not overlap.
    #[serde(default = "whole_layer")]
    pub layer_range: (f64, f64),
    /// Who may take part, in the shared rule language (no `percentage`: that is `coverage`).
    #[serde(default)]
    pub audience: Rule,
    /// Unit id → variation key, forced while the experiment is in `debug`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub debug_whitelist: BTreeMap<String, String>,
    /// What the experiment is judged by; the defaults (page views, 7-day retention) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDefinition>,
    /// The smallest relative uplift worth detecting, for the power estimate (default 5 %).
    #[serde(default = "default_minimum_effect")]
    pub minimum_detectable_effect: f64,
    /// How results are read: significance level, sequential intervals, correction.
    #[serde(default)]
    pub analysis: AnalysisSettings,
    /// When devices stop being served the experiment (UTC, `2026-12-31T00:00`); it then waits,
    /// results kept, for someone to promote a variation or stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
}

fn full() -> f64 {
    1.0
}

fn whole_layer() -> (f64, f64) {
    (0.0, 1.0)
}

fn default_minimum_effect() -> f64 {
    0.05
}

impl ExperimentDefinition {
    /// The weights in force: as written, or equal.
    pub fn effective_weights(&self) -> Vec<f64> {
        if self.weights.is_empty() {
            vec![1.0 / self.variations.len().max(1) as f64; self.variations.len()]
        } else {
            self.weights.clone()
        }
    }

    /// `ends_at` in Unix milliseconds (validated definitions always parse).
    pub fn end_ms(&self) -> Option<i64> {
        self.ends_at.as_deref().and_then(midship_core::clock::parse_utc_minute)
    }

    /// The switch keys the experiment sets (every variation sets the same ones).
    pub fn switch_keys(&self) -> Vec<&str> {
        self.variations
            .first()
            .map(|variation| variation.values.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn variation_index(&self, key: &str) -> Option<usize> {
        self.variations.iter().position(|variation| variation.key == key)
    }

    /// The audience as one condition, or `None` for everyone.
    pub fn audience_condition(&self) -> Option<Value> {
        rule_condition(&self.audience)
    }

    pub fn validate(&self) -> Result<(), DefinitionError> {
        let count = self.variations.len();
        if !(2..=MAX_VARIATIONS).contains(&count) {
            return Err(DefinitionError::new("$.variations", format!("needs 2 to {MAX_VARIATIONS} variations")));
        }
        let keys = self.switch_keys();
        let gateway = self.operation_type.is_some();
        if let Some(operation_type) = &self.operation_type
            && (operation_type.is_empty() || operation_type.len() > 128 || operation_type.chars().any(char::is_control))
        {
            return Err(DefinitionError::new("$.operation_type", "must be 1 to 128 printable characters"));
        }
        if keys.is_empty() && !gateway {
            return Err(DefinitionError::new("$.variations[0].values", "sets no switch"));
        }
        for (index, variation) in self.variations.iter().enumerate() {
            let path = format!("$.variations[{index}]");
            midship_core::validation::slug("variation key", &variation.key)
                .map_err(|error| DefinitionError::new(format!("{path}.key"), error.message))?;
            if self.variations[..index].iter().any(|earlier| earlier.key == variation.key) {
                return Err(DefinitionError::new(format!("{path}.key"), format!("`{}` is used twice", variation.key)));
            }
            if gateway && !variation.values.is_empty() {
                return Err(DefinitionError::new(
                    format!("{path}.values"),
                    "a gateway experiment routes calls (`group`) and sets no switches",
                ));
            }
            if !gateway && variation.group.is_some() {
                return Err(DefinitionError::new(
                    format!("{path}.group"),
                    "only a gateway experiment (`operation_type`) routes calls to a group",
                ));
            }
            let same_keys = variation.values.keys().map(String::as_str).eq(keys.iter().copied());
            if !same_keys {
                return Err(DefinitionError::new(
                    format!("{path}.values"),
                    format!("must set the same switches as the first variation: {}", keys.join(", ")),
                ));
            }
        }
        let weights = self.effective_weights();
        if weights.len() != count {
            return Err(DefinitionError::new("$.weights", format!("needs one weight per variation ({count})")));
        }
        if let Some(index) = weights.iter().position(|weight| !weight.is_finite() || *weight < 0.0) {
            return Err(DefinitionError::new(format!("$.weights[{index}]"), "must be a number from 0 to 1"));
        }
        let total: f64 = weights.iter().sum();
        if (total - 1.0).abs() > WEIGHT_TOLERANCE {
            return Err(DefinitionError::new("$.weights", format!("must sum to 1, not {total}")));
        }
        if !(self.coverage > 0.0 && self.coverage <= 1.0) {
            return Err(DefinitionError::new("$.coverage", "must be above 0 and at most 1"));
        }
        let (start, end) = self.layer_range;
        if !((0.0..1.0).contains(&start) && end > start && end <= 1.0) {
            return Err(DefinitionError::new("$.layer_range", "must be [start, end) with 0 <= start < end <= 1"));
        }
        if self.audience.percentage.is_some() {
            return Err(DefinitionError::new("$.audience.percentage", "use coverage for the share that takes part"));
        }
        self.audience.validate("$.audience").map_err(|error| DefinitionError::new(error.path, error.message))?;
        if let Some(condition) = self.audience_condition() {
            Condition::compile(&condition).map_err(|error| {
                DefinitionError::new(format!("$.audience{}", error.path.trim_start_matches('$')), error.message)
            })?;
        }
        if self.debug_whitelist.len() > MAX_WHITELIST {
            return Err(DefinitionError::new("$.debug_whitelist", format!("at most {MAX_WHITELIST} units")));
        }
        for (unit, variation) in &self.debug_whitelist {
            if self.variation_index(variation).is_none() {
                return Err(DefinitionError::new(
                    format!("$.debug_whitelist[\"{unit}\"]"),
                    format!("no variation `{variation}`"),
                ));
            }
        }
        if self.metrics.len() > MAX_METRICS {
            return Err(DefinitionError::new("$.metrics", format!("at most {MAX_METRICS} metrics")));
        }
        for (index, metric) in self.metrics.iter().enumerate() {
            metric.validate(&format!("$.metrics[{index}]"))?;
            if self.metrics[..index].iter().any(|earlier| earlier.key == metric.key) {
                return Err(DefinitionError::new(format!("$.metrics[{index}].key"), "is used twice"));
            }
        }
        if !(self.minimum_detectable_effect > 0.0 && self.minimum_detectable_effect.is_finite()) {
            return Err(DefinitionError::new("$.minimum_detectable_effect", "must be above 0"));
        }
        if self.ends_at.is_some() && self.end_ms().is_none() {
            return Err(DefinitionError::new("$.ends_at", "must be a UTC time such as 2026-12-31T00:00"));
        }
        if !(self.analysis.alpha > 0.0 && self.analysis.alpha <= 0.5) {
            return Err(DefinitionError::new("$.analysis.alpha", "must be above 0 and at most 0.5"));
        }
        Ok(())
    }

    /// Whether two experiments' layer slices share any part of the layer.
    pub fn overlaps(&self, other: &ExperimentDefinition) -> bool {
        self.layer_range.0 < other.layer_range.1 && other.layer_range.0 < self.layer_range.1
    }
}

/// Where an experiment is in its life. Debug serves the whitelist only; running assigns everyone
/// in the audience; stopped serves nothing and keeps its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Draft,
    Debug,
    Running,
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::Debug => "debug",
            Phase::Running => "running",
            Phase::Stopped => "stopped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Phase::Draft, Phase::Debug, Phase::Running, Phase::Stopped].into_iter().find(|phase| phase.as_str() == text)
    }

    /// Whether devices are served anything of it.
    pub fn is_live(self) -> bool {
        matches!(self, Phase::Debug | Phase::Running)
    }

    /// draft → debug → running → stopped; debug may be skipped, and running goes back to
    /// nothing: a stopped experiment is finished.
    pub fn may_move_to(self, next: Phase) -> bool {
        matches!(
            (self, next),
            (Phase::Draft, Phase::Debug)
                | (Phase::Draft, Phase::Running)
                | (Phase::Debug, Phase::Running)
                | (Phase::Debug, Phase::Draft)
                | (Phase::Draft | Phase::Debug | Phase::Running, Phase::Stopped)
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn two_arms() -> ExperimentDefinition {
        serde_json::from_value(json!({
            "variations": [
                { "key": "control", "values": { "pay.button": "grey" } },
                { "key": "blue", "values": { "pay.button": "blue" } }
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_plain_definition_is_valid_with_equal_weights() {
        let definition = two_arms();
        definition.validate().unwrap();
        assert_eq!(definition.effective_weights(), [0.5, 0.5]);
        assert_eq!(definition.switch_keys(), ["pay.button"]);
    }

    #[test]
    fn bad_definitions_say_where() {
        type Change = Box<dyn Fn(&mut ExperimentDefinition)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|d| d.weights = vec![0.5, 0.6]), "$.weights"),
            (Box::new(|d| d.weights = vec![1.0]), "$.weights"),
            (Box::new(|d| d.weights = vec![1.5, -0.5]), "$.weights[1]"),
            (Box::new(|d| d.coverage = 0.0), "$.coverage"),
            (Box::new(|d| d.layer_range = (0.5, 0.5)), "$.layer_range"),
            (Box::new(|d| d.variations.truncate(1)), "$.variations"),
            (Box::new(|d| d.variations[1].key = "control".into()), "$.variations[1].key"),
            (
                Box::new(|d| d.variations[1].values.insert("other".into(), json!(1)).map(drop).unwrap_or(())),
                "$.variations[1].values",
            ),
            (Box::new(|d| d.audience.percentage = Some(10.0)), "$.audience.percentage"),
            (Box::new(|d| d.ends_at = Some("next tuesday".into())), "$.ends_at"),
            (Box::new(|d| drop(d.debug_whitelist.insert("d1".into(), "green".into()))), "$.debug_whitelist[\"d1\"]"),
        ];
        for (change, path) in cases {
            let mut definition = two_arms();
            change(&mut definition);
            let error = definition.validate().unwrap_err();
            assert_eq!(error.path, path, "{error}");
        }
    }

    #[test]
    fn phases_move_forward_only() {
        assert!(Phase::Draft.may_move_to(Phase::Debug));
        assert!(Phase::Debug.may_move_to(Phase::Running));
        assert!(Phase::Running.may_move_to(Phase::Stopped));
        assert!(!Phase::Running.may_move_to(Phase::Draft));
        assert!(!Phase::Stopped.may_move_to(Phase::Running));
        assert_eq!(Phase::parse("running"), Some(Phase::Running));
    }

    #[test]
    fn layer_slices_overlap_only_when_they_share_hash_space() {
        let mut left = two_arms();
        let mut right = two_arms();
        left.layer_range = (0.0, 0.5);
        right.layer_range = (0.5, 1.0);
        assert!(!left.overlaps(&right));
        right.layer_range = (0.4, 1.0);
        assert!(left.overlaps(&right));
    }
}
