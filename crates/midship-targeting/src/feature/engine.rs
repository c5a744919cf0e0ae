//! Feature evaluation and experiment runs over compiled definitions: GrowthBook's `evalFeature`
//! and `runExperiment` (without sticky bucketing, URL targeting or tracking callbacks, which
//! belong to the device SDKs).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    BucketRange, Experiment, ExperimentResult, ExperimentStatus, FeatureDefinition, FeatureResult, FeatureRule,
    FeatureSource, Filter, ParentCondition, UserContext,
};
use crate::condition::{AttributePath, Condition, ConditionError, SavedGroups};
use crate::hash::{choose_variation, get_bucket_ranges, hash, in_namespace, in_range};
use crate::js;
use crate::query_string::get_query_string_override;

/// Prerequisite chains longer than this are treated as cycles: it bounds the recursion, and no
/// real configuration nests features this deep.
const MAX_PREREQUISITE_DEPTH: usize = 64;

/// Feature definitions compiled for evaluation: every condition parsed, every regex built, every
/// `$in` list hashed and every experiment's bucket ranges computed once. Share it (it is `Send`
/// and `Sync`) and rebuild it when the definitions or the saved groups change.
#[derive(Debug, Clone, Default)]
pub struct CompiledFeatures {
    features: HashMap<String, CompiledFeature>,
    diagnostics: Vec<FeatureDiagnostic>,
    /// Kept for experiments run later ([`CompiledFeatures::run_experiment`]).
    saved_groups: SavedGroups,
}

/// A condition in a feature definition that [`Condition::compile`] would refuse. The feature
/// still evaluates, as GrowthBook would; this is for showing authors what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDiagnostic {
    pub feature: String,
    /// Where in the definition, e.g. `rules[2].condition`.
    pub location: String,
    pub error: ConditionError,
}

impl fmt::Display for FeatureDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "feature {} {}: {}", self.feature, self.location, self.error)
    }
}

#[derive(Debug, Clone)]
struct CompiledFeature {
    default_value: Value,
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: String,
    parents: Vec<CompiledParent>,
    filters: Option<Vec<CompiledFilter>>,
    action: RuleAction,
}

#[derive(Debug, Clone)]
enum RuleAction {
    Force(ForcedValue),
    Experiment(CompiledExperiment),
    /// Neither `force` nor `variations`.
    Skip,
}

#[derive(Debug, Clone)]
struct ForcedValue {
    value: Value,
    condition: Option<Condition>,
    rollout: Rollout,
}

/// A forced rule's percentage rollout (`coverage`) or hash `range`.
#[derive(Debug, Clone)]
struct Rollout {
    seed: String,
    hash_attribute: HashAttribute,
    range: Option<BucketRange>,
    coverage: Option<f64>,
    hash_version: i64,
}

#[derive(Debug, Clone)]
struct CompiledParent {
    id: String,
    condition: Condition,
    gate: bool,
}

#[derive(Debug, Clone)]
struct CompiledFilter {
    hash_attribute: HashAttribute,
    seed: String,
    hash_version: i64,
    ranges: Vec<BucketRange>,
}

#[derive(Debug, Clone)]
struct CompiledExperiment {
    experiment: Arc<Experiment>,
    condition: Option<Condition>,
    parents: Vec<CompiledParent>,
    hash_attribute: HashAttribute,
    filters: Option<Vec<CompiledFilter>>,
    ranges: Vec<BucketRange>,
    seed: String,
    hash_version: i64,
}

/// The attribute users are bucketed by.
#[derive(Debug, Clone)]
struct HashAttribute {
    name: String,
    path: AttributePath,
}

/// How a rule's or experiment's prerequisites came out.
enum Prerequisites {
    Met,
    Cyclic,
    Failed { gate: bool },
}

impl CompiledFeatures {
    /// Compiles `features` (a `&HashMap<String, FeatureDefinition>` or any such pairs), with no
    /// saved groups. Never fails: see [`CompiledFeatures::diagnostics`] for conditions that need
    /// fixing.
    pub fn new<'a>(features: impl IntoIterator<Item = (&'a String, &'a FeatureDefinition)>) -> Self {
        Self::with_saved_groups(features, SavedGroups::default())
    }

    /// [`CompiledFeatures::new`] with the saved groups that `$inGroup` and `$notInGroup` read
    /// (GrowthBook's `savedGroups`). Every condition naming a group shares its hashed set.
    pub fn with_saved_groups<'a>(
        features: impl IntoIterator<Item = (&'a String, &'a FeatureDefinition)>,
        saved_groups: SavedGroups,
    ) -> Self {
        let mut diagnostics = Vec::new();
        let features = features
            .into_iter()
            .map(|(key, definition)| (key.clone(), compile_feature(key, definition, &saved_groups, &mut diagnostics)))
            .collect();
        Self { features, diagnostics, saved_groups }
    }

    /// Compiles only `roots` and the features their prerequisites reach.
    pub(crate) fn reachable_from<'k>(
        features: &HashMap<String, FeatureDefinition>,
        roots: impl IntoIterator<Item = &'k str>,
        saved_groups: SavedGroups,
    ) -> Self {
        let mut reached: HashSet<&str> = HashSet::new();
        let mut pending: Vec<&str> = roots.into_iter().collect();
        while let Some(key) = pending.pop() {
            let Some((key, definition)) = features.get_key_value(key) else {
                continue;
            };
            if reached.insert(key) {
                let parents = definition.rules.iter().flat_map(|rule| rule.parent_conditions.iter().flatten());
                pending.extend(parents.map(|parent| parent.id.as_str()));
            }
        }
        Self::with_saved_groups(features.iter().filter(|(key, _)| reached.contains(key.as_str())), saved_groups)
    }

    /// Conditions that [`Condition::compile`] would refuse, by feature and rule.
    pub fn diagnostics(&self) -> &[FeatureDiagnostic] {
        &self.diagnostics
    }

    /// The saved groups the conditions were compiled against.
    pub fn saved_groups(&self) -> &SavedGroups {
        &self.saved_groups
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.features.keys().map(String::as_str)
    }

    /// The value of feature `key` for `user` (GrowthBook's `evalFeature`).
    pub fn evaluate(&self, user: &UserContext, key: &str) -> FeatureResult {
        self.evaluate_in(user, key, &mut Vec::new())
    }

    /// Every feature's value for `user`, in no particular order.
    pub fn evaluate_all<'s>(&'s self, user: &'s UserContext) -> impl Iterator<Item = (&'s str, FeatureResult)> + 's {
        self.keys().map(move |key| (key, self.evaluate(user, key)))
    }

    /// Runs `experiment` for `user` (GrowthBook's `run`); prerequisites are read from these
    /// features. Compiles the experiment's condition on every call.
    pub fn run_experiment(&self, user: &UserContext, experiment: &Experiment) -> ExperimentResult {
        let compiled = compile_experiment(experiment.clone(), &mut Diagnostics::discard(&self.saved_groups));
        self.run(user, &compiled, None, &mut Vec::new())
    }

    /// `stack` holds the features being evaluated, outermost first, to detect cycles.
    fn evaluate_in<'s>(&'s self, user: &UserContext, key: &'s str, stack: &mut Vec<&'s str>) -> FeatureResult {
        if stack.contains(&key) || stack.len() >= MAX_PREREQUISITE_DEPTH {
            return FeatureResult::new(Value::Null, FeatureSource::CyclicPrerequisite, "");
        }
        stack.push(key);
        let result = self.evaluate_rules(user, key, stack);
        stack.pop();
        result
    }

    fn evaluate_rules<'s>(&'s self, user: &UserContext, key: &'s str, stack: &mut Vec<&'s str>) -> FeatureResult {
        if let Some(value) = user.forced_feature_values.get(key) {
            return FeatureResult::new(value.clone(), FeatureSource::Override, "");
        }
        let Some(feature) = self.features.get(key) else {
            return FeatureResult::new(Value::Null, FeatureSource::UnknownFeature, "");
        };
        for rule in &feature.rules {
            match self.prerequisites(user, &rule.parents, stack) {
                Prerequisites::Met => {}
                Prerequisites::Cyclic => {
                    return FeatureResult::new(Value::Null, FeatureSource::CyclicPrerequisite, "");
                }
                Prerequisites::Failed { gate: true } => {
                    return FeatureResult::new(Value::Null, FeatureSource::Prerequisite, "");
                }
                Prerequisites::Failed { gate: false } => continue,
            }
            if let Some(filters) = &rule.filters
                && is_filtered_out(filters, &user.attributes)
            {
                continue;
            }
            match &rule.action {
                RuleAction::Force(forced) => {
                    let excluded_by_condition =
                        forced.condition.as_ref().is_some_and(|condition| !condition.matches(&user.attributes));
                    if excluded_by_condition || !forced.rollout.includes(&user.attributes) {
                        continue;
                    }
                    return FeatureResult::new(forced.value.clone(), FeatureSource::Force, &rule.id);
                }
                RuleAction::Experiment(experiment) => {
                    let result = self.run(user, experiment, Some(key), stack);
                    if result.in_experiment && result.passthrough != Some(true) {
                        let mut found = FeatureResult::new(result.value.clone(), FeatureSource::Experiment, &rule.id);
                        found.experiment = Some(Arc::clone(&experiment.experiment));
                        found.experiment_result = Some(result);
                        return found;
                    }
                }
                RuleAction::Skip => {}
            }
        }
        FeatureResult::new(feature.default_value.clone(), FeatureSource::DefaultValue, "")
    }

    fn prerequisites<'s>(
        &'s self,
        user: &UserContext,
        parents: &'s [CompiledParent],
        stack: &mut Vec<&'s str>,
    ) -> Prerequisites {
        for parent in parents {
            let parent_result = self.evaluate_in(user, &parent.id, stack);
            if parent_result.source == FeatureSource::CyclicPrerequisite {
                return Prerequisites::Cyclic;
            }
            let mut tested = Map::new();
            tested.insert("value".to_owned(), parent_result.value);
            if !parent.condition.matches(&Value::Object(tested)) {
                return Prerequisites::Failed { gate: parent.gate };
            }
        }
        Prerequisites::Met
    }

    /// GrowthBook's `runExperiment`, step by step.
    fn run<'s>(
        &'s self,
        user: &UserContext,
        compiled: &'s CompiledExperiment,
        feature_id: Option<&str>,
        stack: &mut Vec<&'s str>,
    ) -> ExperimentResult {
        let experiment = &*compiled.experiment;
        let excluded = || result(user, compiled, None, false, feature_id, None);
        let variation_count = experiment.variations.len();
        if variation_count < 2 || !user.enabled {
            return excluded();
        }
        if let Some(forced) = get_query_string_override(&experiment.key, &user.url, variation_count) {
            return result(user, compiled, Some(forced), false, feature_id, None);
        }
        if let Some(&forced) = user.forced_variations.get(&experiment.key) {
            let forced = usize::try_from(forced).ok();
            return result(user, compiled, forced, false, feature_id, None);
        }
        if experiment.status == Some(ExperimentStatus::Draft) || experiment.active == Some(false) {
            return excluded();
        }
        let hash_value = compiled.hash_attribute.resolve(&user.attributes);
        if !js::truthy(&hash_value) {
            return excluded();
        }
        let hash_text = js::to_js_string(&hash_value);
        match &compiled.filters {
            Some(filters) => {
                if is_filtered_out(filters, &user.attributes) {
                    return excluded();
                }
            }
            None => {
                if let Some(namespace) = &experiment.namespace
                    && !in_namespace(&hash_text, namespace)
                {
                    return excluded();
                }
            }
        }
        if let Some(condition) = &compiled.condition
            && !condition.matches(&user.attributes)
        {
            return excluded();
        }
        if !matches!(self.prerequisites(user, &compiled.parents, stack), Prerequisites::Met) {
            return excluded();
        }
        let Some(bucket) = hash(&compiled.seed, &hash_text, compiled.hash_version) else {
            return excluded();
        };
        let Ok(assigned) = usize::try_from(choose_variation(bucket, &compiled.ranges)) else {
            return excluded();
        };
        if let Some(forced) = experiment.force {
            return result(user, compiled, usize::try_from(forced).ok(), false, feature_id, None);
        }
        if user.qa_mode || experiment.status == Some(ExperimentStatus::Stopped) {
            return excluded();
        }
        result(user, compiled, Some(assigned), true, feature_id, Some(bucket))
    }
}

/// GrowthBook's `getExperimentResult`: a variation outside the experiment means the baseline,
/// not in the experiment.
fn result(
    user: &UserContext,
    compiled: &CompiledExperiment,
    variation: Option<usize>,
    hash_used: bool,
    feature_id: Option<&str>,
    bucket: Option<f64>,
) -> ExperimentResult {
    let experiment = &*compiled.experiment;
    let variation = variation.filter(|&index| index < experiment.variations.len());
    let index = variation.unwrap_or(0);
    let meta = experiment.meta.as_ref().and_then(|meta| meta.get(index));
    ExperimentResult {
        in_experiment: variation.is_some(),
        variation_id: index,
        value: experiment.variations.get(index).cloned().unwrap_or(Value::Null),
        hash_used,
        hash_attribute: compiled.hash_attribute.name.clone(),
        hash_value: compiled.hash_attribute.resolve(&user.attributes).into_owned(),
        feature_id: feature_id.map(ToOwned::to_owned),
        key: meta.and_then(|meta| non_empty(meta.key.as_deref())).map_or_else(|| index.to_string(), ToOwned::to_owned),
        name: meta.and_then(|meta| non_empty(meta.name.as_deref())).map(ToOwned::to_owned),
        bucket,
        passthrough: meta.and_then(|meta| meta.passthrough).filter(|&passthrough| passthrough),
        sticky_bucket_used: false,
    }
}

/// GrowthBook's `isFilteredOut`: excluded unless every filter's ranges hold the user's hash.
fn is_filtered_out(filters: &[CompiledFilter], attributes: &Value) -> bool {
    filters.iter().any(|filter| {
        let value = filter.hash_attribute.resolve(attributes);
        if !js::truthy(&value) {
            return true;
        }
        match hash(&filter.seed, &js::to_js_string(&value), filter.hash_version) {
            Some(n) => !filter.ranges.iter().any(|range| in_range(n, range)),
            None => true,
        }
    })
}

impl Rollout {
    /// GrowthBook's `isIncludedInRollout`.
    fn includes(&self, attributes: &Value) -> bool {
        if self.range.is_none() && self.coverage.is_none() {
            return true;
        }
        if self.range.is_none() && self.coverage == Some(0.0) {
            return false;
        }
        let value = self.hash_attribute.resolve(attributes);
        if !js::truthy(&value) {
            return false;
        }
        let Some(n) = hash(&self.seed, &js::to_js_string(&value), self.hash_version) else {
            return false;
        };
        match (&self.range, self.coverage) {
            (Some(range), _) => in_range(n, range),
            (None, Some(coverage)) => n <= coverage,
            (None, None) => true,
        }
    }
}

impl HashAttribute {
    fn new(name: Option<&str>) -> Self {
        let name = non_empty(name).unwrap_or("id");
        Self { name: name.to_owned(), path: AttributePath::parse(name) }
    }

    /// The attribute by its literal name first (names may contain dots), then as a dotted path;
    /// an empty string when missing.
    fn resolve<'a>(&self, attributes: &'a Value) -> Cow<'a, Value> {
        if let Some(value) = attributes.get(&self.name) {
            return Cow::Borrowed(value);
        }
        let found = self.path.lookup(attributes);
        if found.is_null() { Cow::Owned(Value::String(String::new())) } else { found }
    }
}

/// Compiles one feature's conditions against the saved groups, collecting
/// [`FeatureDiagnostic`]s.
struct Diagnostics<'a> {
    feature: &'a str,
    saved_groups: &'a SavedGroups,
    found: Option<&'a mut Vec<FeatureDiagnostic>>,
}

impl<'a> Diagnostics<'a> {
    fn discard(saved_groups: &'a SavedGroups) -> Self {
        Self { feature: "", saved_groups, found: None }
    }

    fn compile(&mut self, condition: &Value, location: impl FnOnce() -> String) -> Condition {
        self.compile_against(condition, self.saved_groups, location)
    }

    fn compile_against(
        &mut self,
        condition: &Value,
        saved_groups: &SavedGroups,
        location: impl FnOnce() -> String,
    ) -> Condition {
        let (compiled, problems) = Condition::compile_lenient_with(condition, saved_groups);
        if let Some(found) = self.found.as_deref_mut()
            && !problems.is_empty()
        {
            let location = location();
            found.extend(problems.into_iter().map(|error| FeatureDiagnostic {
                feature: self.feature.to_owned(),
                location: location.clone(),
                error,
            }));
        }
        compiled
    }

    /// GrowthBook evaluates prerequisite conditions (on the parent's `value`) without the saved
    /// groups, so they are compiled without them.
    fn parents(&mut self, parents: Option<&[ParentCondition]>, location: &str) -> Vec<CompiledParent> {
        let no_groups = SavedGroups::default();
        parents
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(index, parent)| CompiledParent {
                id: parent.id.clone(),
                condition: match &parent.condition {
                    Some(condition) => self.compile_against(condition, &no_groups, || {
                        format!("{location}parentConditions[{index}].condition")
                    }),
                    None => Condition::compile_lenient(&Value::Object(Map::new())).0,
                },
                gate: parent.gate,
            })
            .collect()
    }
}

fn compile_feature(
    key: &str,
    definition: &FeatureDefinition,
    saved_groups: &SavedGroups,
    diagnostics: &mut Vec<FeatureDiagnostic>,
) -> CompiledFeature {
    let mut diagnostics = Diagnostics { feature: key, saved_groups, found: Some(diagnostics) };
    let rules = definition
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| compile_rule(key, index, rule, &mut diagnostics))
        .collect();
    CompiledFeature { default_value: definition.default_value.clone(), rules }
}

fn compile_rule(
    feature_key: &str,
    index: usize,
    rule: &FeatureRule,
    diagnostics: &mut Diagnostics<'_>,
) -> CompiledRule {
    let location = format!("rules[{index}].");
    let action = if let Some(value) = &rule.force {
        RuleAction::Force(ForcedValue {
            value: value.clone(),
            condition: truthy_condition(rule.condition.as_ref())
                .map(|condition| diagnostics.compile(condition, || format!("{location}condition"))),
            rollout: Rollout {
                seed: non_empty(rule.seed.as_deref()).unwrap_or(feature_key).to_owned(),
                hash_attribute: HashAttribute::new(rule.hash_attribute.as_deref()),
                range: rule.range,
                coverage: rule.coverage,
                hash_version: hash_version_or(rule.hash_version, 1),
            },
        })
    } else if rule.variations.is_some() {
        RuleAction::Experiment(compile_experiment_at(experiment_from_rule(feature_key, rule), diagnostics, &location))
    } else {
        RuleAction::Skip
    };
    CompiledRule {
        id: rule.id.clone().unwrap_or_default(),
        parents: diagnostics.parents(rule.parent_conditions.as_deref(), &location),
        filters: rule.filters.as_deref().map(compile_filters),
        action,
    }
}

/// The experiment GrowthBook builds from an experiment rule (only the fields it copies, so the
/// result's `experiment` serializes as GrowthBook's does).
fn experiment_from_rule(feature_key: &str, rule: &FeatureRule) -> Experiment {
    let owned = |text: &Option<String>| non_empty(text.as_deref()).map(ToOwned::to_owned);
    Experiment {
        key: owned(&rule.key).unwrap_or_else(|| feature_key.to_owned()),
        variations: rule.variations.clone().unwrap_or_default(),
        weights: rule.weights.clone(),
        coverage: rule.coverage,
        ranges: rule.ranges.clone(),
        condition: truthy_condition(rule.condition.as_ref()).cloned(),
        namespace: rule.namespace.clone(),
        hash_attribute: owned(&rule.hash_attribute),
        fallback_attribute: owned(&rule.fallback_attribute),
        hash_version: rule.hash_version.filter(|&version| version != 0),
        meta: rule.meta.clone(),
        filters: rule.filters.clone(),
        seed: owned(&rule.seed),
        name: owned(&rule.name),
        phase: owned(&rule.phase),
        ..Experiment::default()
    }
}

fn compile_experiment(experiment: Experiment, diagnostics: &mut Diagnostics<'_>) -> CompiledExperiment {
    compile_experiment_at(experiment, diagnostics, "")
}

fn compile_experiment_at(
    experiment: Experiment,
    diagnostics: &mut Diagnostics<'_>,
    location: &str,
) -> CompiledExperiment {
    let condition = truthy_condition(experiment.condition.as_ref())
        .map(|condition| diagnostics.compile(condition, || format!("{location}condition")));
    let parents = diagnostics.parents(experiment.parent_conditions.as_deref(), location);
    let ranges = experiment.ranges.clone().unwrap_or_else(|| {
        get_bucket_ranges(
            experiment.variations.len(),
            experiment.coverage.unwrap_or(1.0),
            experiment.weights.as_deref(),
        )
    });
    CompiledExperiment {
        condition,
        parents,
        hash_attribute: HashAttribute::new(experiment.hash_attribute.as_deref()),
        filters: experiment.filters.as_deref().map(compile_filters),
        ranges,
        seed: non_empty(experiment.seed.as_deref()).unwrap_or(&experiment.key).to_owned(),
        hash_version: hash_version_or(experiment.hash_version, 1),
        experiment: Arc::new(experiment),
    }
}

fn compile_filters(filters: &[Filter]) -> Vec<CompiledFilter> {
    filters
        .iter()
        .map(|filter| CompiledFilter {
            hash_attribute: HashAttribute::new(filter.attribute.as_deref()),
            seed: filter.seed.clone(),
            hash_version: hash_version_or(filter.hash_version, 2),
            ranges: filter.ranges.clone(),
        })
        .collect()
}

/// GrowthBook skips conditions that are falsy (`if (rule.condition)`).
fn truthy_condition(condition: Option<&Value>) -> Option<&Value> {
    condition.filter(|condition| js::truthy(condition))
}

/// `hashVersion || fallback`.
fn hash_version_or(version: Option<i64>, fallback: i64) -> i64 {
    version.filter(|&version| version != 0).unwrap_or(fallback)
}

/// JavaScript's `text || fallback` reads an empty string as missing.
fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn features(definitions: Value) -> HashMap<String, FeatureDefinition> {
        match serde_json::from_value(definitions) {
            Ok(features) => features,
            Err(error) => panic!("{error}"),
        }
    }

    fn user(attributes: Value) -> UserContext {
        UserContext { attributes, ..UserContext::default() }
    }

    #[test]
    fn compiled_features_are_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CompiledFeatures>();
    }

    #[test]
    fn rules_apply_in_order() {
        let compiled = CompiledFeatures::new(&features(json!({
            "checkout": {
                "defaultValue": "old",
                "rules": [
                    {"id": "r1", "condition": {"id": {"$in": ["u1", "u2"]}}, "force": "beta"},
                    {"id": "r2", "condition": {"appVersion": {"$vgte": "2.0.0"}}, "force": "new"},
                ],
            },
        })));
        let value_for = |attributes: Value| {
            let result = compiled.evaluate(&user(attributes), "checkout");
            (result.value, result.rule_id)
        };
        assert_eq!(value_for(json!({"id": "u2", "appVersion": "3.0"})), (json!("beta"), "r1".into()));
        assert_eq!(value_for(json!({"id": "u9", "appVersion": "2.1.0"})), (json!("new"), "r2".into()));
        assert_eq!(value_for(json!({"id": "u9", "appVersion": "1.9.9"})), (json!("old"), String::new()));
    }

    #[test]
    fn invalid_conditions_are_reported_and_still_evaluate() {
        let compiled = CompiledFeatures::new(&features(json!({
            "f": {"defaultValue": 0, "rules": [
                {"force": 1},
                {"force": 2, "condition": {"ua": {"$regex": "("}}},
                {"force": 3, "parentConditions": [{"id": "g", "condition": {"value": {"$bogus": 1}}}]},
            ]},
        })));
        let locations: Vec<String> = compiled.diagnostics().iter().map(ToString::to_string).collect();
        assert_eq!(locations.len(), 2, "{locations:?}");
        assert!(locations[0].starts_with("feature f rules[1].condition: $.ua.$regex: invalid regex"));
        assert!(locations[1].starts_with("feature f rules[2].parentConditions[0].condition: $.value.$bogus"));
        assert_eq!(compiled.evaluate(&user(json!({})), "f").value, json!(1));
    }

    #[test]
    fn forced_feature_values_override_rules() {
        let compiled = CompiledFeatures::new(&features(json!({"f": {"defaultValue": 1}})));
        let mut qa = user(json!({}));
        qa.forced_feature_values.insert("f".into(), json!(5));
        let result = compiled.evaluate(&qa, "f");
        assert_eq!((result.value, result.source), (json!(5), FeatureSource::Override));
    }

    #[test]
    fn long_prerequisite_chains_stop() {
        let chain: Map<String, Value> = (0..100)
            .map(|index| {
                let rules = json!([{"parentConditions": [{"id": format!("f{}", index + 1), "condition": {}}]}]);
                (format!("f{index}"), json!({"defaultValue": true, "rules": rules}))
            })
            .collect();
        let compiled = CompiledFeatures::new(&features(Value::Object(chain)));
        let result = compiled.evaluate(&user(json!({})), "f0");
        assert_eq!(result.source, FeatureSource::CyclicPrerequisite);
        assert_eq!(compiled.evaluate(&user(json!({})), "f90").source, FeatureSource::DefaultValue);
    }

    #[test]
    fn saved_groups_reach_rules_and_experiments() {
        let groups = SavedGroups::new([("staff".to_owned(), vec![json!("ann"), json!("bob")])]);
        let in_staff = json!({"id": {"$inGroup": "staff"}});
        let compiled = CompiledFeatures::with_saved_groups(
            &features(json!({
                "f": {"defaultValue": 0, "rules": [
                    {"force": 1, "condition": in_staff},
                    {"force": 2, "condition": {"id": {"$inGroup": "nobody"}}},
                ]},
                // GrowthBook tests prerequisites without the saved groups: "ann" is in no group.
                "g": {"defaultValue": 0, "rules": [{
                    "force": 1,
                    "parentConditions": [{"id": "name", "condition": {"value": {"$notInGroup": "staff"}}}],
                }]},
                "name": {"defaultValue": "ann"},
            })),
            groups.clone(),
        );
        assert_eq!(compiled.saved_groups(), &groups);
        assert_eq!(compiled.evaluate(&user(json!({"id": "bob"})), "f").value, json!(1));
        assert_eq!(compiled.evaluate(&user(json!({"id": "eve"})), "f").value, json!(0));
        assert_eq!(compiled.evaluate(&user(json!({})), "g").value, json!(1));
        let mut problems: Vec<String> = compiled.diagnostics().iter().map(ToString::to_string).collect();
        problems.sort();
        assert_eq!(
            problems,
            [
                "feature f rules[1].condition: $.id.$inGroup: unknown saved group `nobody`",
                "feature g rules[0].parentConditions[0].condition: $.value.$notInGroup: unknown saved group `staff`",
            ]
        );

        let experiment = Experiment {
            key: "e".into(),
            variations: vec![json!("a"), json!("b")],
            condition: Some(in_staff),
            ..Experiment::default()
        };
        assert!(compiled.run_experiment(&user(json!({"id": "ann"})), &experiment).in_experiment);
        assert!(!compiled.run_experiment(&user(json!({"id": "eve"})), &experiment).in_experiment);
    }

    #[test]
    fn nested_hash_attributes_resolve_by_path() {
        let compiled = CompiledFeatures::new(&features(json!({
            "f": {"defaultValue": 0, "rules": [{"force": 1, "coverage": 1.0, "hashAttribute": "user.id"}]},
        })));
        assert_eq!(compiled.evaluate(&user(json!({"user": {"id": "7"}})), "f").value, json!(1));
        assert_eq!(compiled.evaluate(&user(json!({"user": {}})), "f").value, json!(0));
    }
}
