//! Features and experiments: GrowthBook's feature definition JSON (a default value and ordered
//! rules: forced values, percentage rollouts, experiments, prerequisites), the user being
//! evaluated, the saved groups conditions read, and the results, all with GrowthBook's camelCase
//! wire names.
//!
//! [`CompiledFeatures`] is the fast path: built once from the definitions, it compiles every
//! rule's condition, so evaluating many features for one user re-parses nothing.
//! [`evaluate_feature`] and [`run_experiment`] are GrowthBook's `evalFeature` and `run` over a
//! whole [`Context`], for one-off calls.

mod engine;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use engine::{CompiledFeatures, FeatureDiagnostic};

use crate::condition::SavedGroups;

/// A `[start, end)` range of the hash space.
pub type BucketRange = (f64, f64);

/// `(name, start, end)`: the slice of a namespace an experiment takes.
pub type Namespace = (String, f64, f64);

/// One feature: the value everyone gets unless a rule, tried in order, gives another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureDefinition {
    #[serde(default)]
    pub default_value: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FeatureRule>,
}

/// A rule of a feature. With `force` it gives that value to the users it targets (by
/// `condition`, prerequisites, filters and a `coverage` or `range` rollout); with `variations` it
/// runs an experiment; with neither it is skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureRule {
    /// Reported back as the result's `rule_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_conditions: Option<Vec<ParentCondition>>,
    /// `Some(Value::Null)` forces `null`: GrowthBook tests whether the key is present.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub force: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variations: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// The experiment key; defaults to the feature key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The attribute users are bucketed by; defaults to `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_attribute: Option<String>,
    /// Only used with sticky bucketing, which this engine does not do; kept for round trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_version: Option<i64>,
    /// The hash range a forced rule applies to (takes precedence over `coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<BucketRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<BucketRange>>,
    /// The share of users (0 to 1) a rollout or experiment includes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// The hash seed; defaults to the feature key (rollouts) or experiment key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Vec<VariationMeta>>,
    /// Remote-evaluation tracking payloads; carried, not acted on (there are no callbacks here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracks: Option<Vec<Value>>,
}

/// A prerequisite: the feature `id` is evaluated and its value tested with `condition` (as the
/// attribute `value`). A failed `gate` blocks the whole feature; otherwise only the rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentCondition {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gate: bool,
}

/// Includes only users whose hash (of `attribute`, with `seed`) falls in one of `ranges`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    pub seed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_version: Option<i64>,
    pub ranges: Vec<BucketRange>,
}

/// What is known about one variation of an experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariationMeta {
    /// Reported as the result's `key`; defaults to the variation index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A user bucketed here is treated as not in the experiment by feature rules, which then
    /// fall through to the next rule (holdouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentStatus {
    Draft,
    Running,
    Stopped,
}

/// An experiment: users are hashed into one of `variations`, by `weights` and `coverage` (or
/// explicit `ranges`), after targeting by `condition`, prerequisites, filters or namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    pub key: String,
    pub variations: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ExperimentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<BucketRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_conditions: Option<Vec<ParentCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// Puts every included user in this variation (QA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Vec<VariationMeta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// The user being evaluated and the switches that steer evaluation for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserContext {
    /// A JSON object; conditions read it with dotted paths.
    pub attributes: Value,
    /// Experiment key to variation index, overriding bucketing (QA).
    pub forced_variations: HashMap<String, i64>,
    /// Feature key to value, overriding every rule (source `override`).
    pub forced_feature_values: HashMap<String, Value>,
    /// When false, nobody is in any experiment.
    pub enabled: bool,
    /// When true, only forced variations put users in experiments.
    pub qa_mode: bool,
    /// The page or deep link the user is on, for `?experiment-key=N` forcing. Empty for none.
    pub url: String,
}

impl Default for UserContext {
    fn default() -> Self {
        Self {
            attributes: Value::Object(serde_json::Map::new()),
            forced_variations: HashMap::new(),
            forced_feature_values: HashMap::new(),
            enabled: true,
            qa_mode: false,
            url: String::new(),
        }
    }
}

/// GrowthBook's context: a user plus the feature definitions and the saved groups their
/// conditions read (the shape of the spec's cases).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(flatten)]
    pub user: UserContext,
    #[serde(default)]
    pub features: HashMap<String, FeatureDefinition>,
    /// `savedGroups`: the lists `$inGroup` and `$notInGroup` test.
    #[serde(default, skip_serializing_if = "SavedGroups::is_empty")]
    pub saved_groups: SavedGroups,
}

/// Why a feature has the value it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FeatureSource {
    UnknownFeature,
    DefaultValue,
    Force,
    Override,
    Experiment,
    /// A gating prerequisite failed.
    Prerequisite,
    /// Prerequisites form a cycle (or a chain deeper than 64 features).
    CyclicPrerequisite,
}

/// A feature's value for a user. `on` is the value's JavaScript truthiness.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureResult {
    pub value: Value,
    pub on: bool,
    pub off: bool,
    pub source: FeatureSource,
    /// The matching rule's `id`, empty for none.
    pub rule_id: String,
    /// The experiment that gave the value, shared with the compiled rule.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_shared")]
    pub experiment: Option<Arc<Experiment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_result: Option<ExperimentResult>,
}

impl FeatureResult {
    pub(crate) fn new(value: Value, source: FeatureSource, rule_id: &str) -> Self {
        let on = crate::js::truthy(&value);
        Self { value, on, off: !on, source, rule_id: rule_id.to_owned(), experiment: None, experiment_result: None }
    }
}

/// The outcome of running an experiment for a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentResult {
    pub in_experiment: bool,
    /// The assigned variation, or 0 (the baseline) when not in the experiment.
    pub variation_id: usize,
    pub value: Value,
    /// Whether the variation came from hashing (not forcing); when true, exposure is tracked.
    pub hash_used: bool,
    pub hash_attribute: String,
    pub hash_value: Value,
    /// The feature whose rule ran the experiment; `None` for a direct run.
    pub feature_id: Option<String>,
    /// The variation's meta key, or its index.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's hash, when one was computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<bool>,
    /// Always false: this engine does no sticky bucketing.
    pub sticky_bucket_used: bool,
}

/// GrowthBook's `evalFeature`: the value of feature `key` for `ctx.user`. Compiles the feature
/// (and its prerequisites) on every call: hold a [`CompiledFeatures`] to evaluate many.
pub fn evaluate_feature(ctx: &Context, key: &str) -> FeatureResult {
    CompiledFeatures::reachable_from(&ctx.features, [key], ctx.saved_groups.clone()).evaluate(&ctx.user, key)
}

/// GrowthBook's `run`: the variation of `experiment` for `ctx.user`.
pub fn run_experiment(ctx: &Context, experiment: &Experiment) -> ExperimentResult {
    let parents = experiment.parent_conditions.iter().flatten().map(|parent| parent.id.as_str());
    CompiledFeatures::reachable_from(&ctx.features, parents, ctx.saved_groups.clone())
        .run_experiment(&ctx.user, experiment)
}

/// Deserializes a present key, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn serialize_shared<S: Serializer>(experiment: &Option<Arc<Experiment>>, serializer: S) -> Result<S::Ok, S::Error> {
    experiment.as_deref().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn force_null_is_kept_apart_from_no_force() {
        let parsed: Result<Vec<FeatureRule>, _> = serde_json::from_value(json!([{"force": null}, {}]));
        let Ok(rules) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(rules[0].force, Some(Value::Null));
        assert_eq!(rules[1].force, None);
    }

    #[test]
    fn contexts_read_growthbook_json() {
        let parsed: Result<Context, _> = serde_json::from_value(json!({
            "attributes": {"id": "1"},
            "qaMode": true,
            "forcedVariations": {"exp": 1},
            "features": {"f": {"defaultValue": 2}},
        }));
        let Ok(ctx) = parsed else {
            panic!("{parsed:?}");
        };
        assert!(ctx.user.enabled);
        assert!(ctx.user.qa_mode);
        assert_eq!(ctx.user.forced_variations.get("exp"), Some(&1));
        assert_eq!(evaluate_feature(&ctx, "f").value, json!(2));
    }

    #[test]
    fn contexts_carry_saved_groups() {
        let wire = json!({
            "attributes": {"id": "u2"},
            "features": {"f": {"defaultValue": 0, "rules": [{"force": 1, "condition": {"id": {"$inGroup": "ids"}}}]}},
            "savedGroups": {"ids": ["u1", "u2"]},
        });
        let parsed: Result<Context, _> = serde_json::from_value(wire.clone());
        let Ok(ctx) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(ctx.saved_groups.get("ids").map(<[Value]>::len), Some(2));
        assert_eq!(evaluate_feature(&ctx, "f").value, json!(1));
        let experiment = Experiment {
            key: "e".into(),
            variations: vec![json!(0), json!(1)],
            condition: Some(json!({"id": {"$notInGroup": "ids"}})),
            ..Experiment::default()
        };
        assert!(!run_experiment(&ctx, &experiment).in_experiment);
        let written = serde_json::to_value(&ctx).ok();
        assert_eq!(written.as_ref().map(|written| &written["savedGroups"]), Some(&wire["savedGroups"]));
        let without = serde_json::to_value(Context::default()).ok();
        assert!(without.is_some_and(|without| without.get("savedGroups").is_none()));
    }
}
