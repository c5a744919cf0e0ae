//! The live experiments of one workspace, compiled for devices: assignment by the targeting
//! engine's hashing (the same bucket ranges, namespaces and seeds as the GrowthBook rules it
//! also emits, so GrowthBook's own SDKs assign alike), sticky assignments honoured, and the
//! debug whitelist forced.

use std::collections::BTreeMap;

pub use midship_protocol::calls::{Assignment, StickyAssignment};
use midship_targeting::DeviceContext;
use midship_targeting::condition::Condition;
use midship_targeting::hash::{choose_variation, get_bucket_ranges, hash, in_namespace};
use serde_json::{Map, Value, json};

use crate::definition::{AssignmentUnit, ExperimentDefinition, Phase};

/// The hash version experiments use (GrowthBook's unbiased one).
const HASH_VERSION: i64 = 2;

/// One live (debug or running) experiment, compiled.
#[derive(Debug, Clone)]
pub struct LiveExperiment {
    pub key: String,
    pub laboratory: String,
    pub phase: Phase,
    pub definition: ExperimentDefinition,
    condition: Option<Condition>,
    ranges: Vec<(f64, f64)>,
    end_ms: Option<i64>,
}

impl LiveExperiment {
    pub fn new(key: &str, laboratory: &str, phase: Phase, definition: ExperimentDefinition) -> Self {
        // Definitions are validated before they are stored; a condition that no longer compiles
        // (a stored row edited by hand) matches nobody rather than everybody.
        let condition = definition.audience_condition().map(|condition| {
            Condition::compile(&condition).unwrap_or_else(|_| Condition::compile_lenient(&json!({"$not": {}})).0)
        });
        let ranges =
            get_bucket_ranges(definition.variations.len(), definition.coverage, Some(&definition.effective_weights()));
        let end_ms = definition.end_ms();
        Self { key: key.to_owned(), laboratory: laboratory.to_owned(), phase, definition, condition, ranges, end_ms }
    }

    /// Whether devices are served it at `now_ms` (its `ends_at` not reached).
    fn serves_at(&self, now_ms: i64) -> bool {
        self.end_ms.is_none_or(|end| now_ms < end)
    }

    fn unit_of<'c>(&self, context: &'c DeviceContext) -> Option<&'c str> {
        let unit = match self.definition.unit {
            AssignmentUnit::Device => context.device_id.as_deref(),
            AssignmentUnit::User => context.user_id.as_deref(),
        };
        unit.filter(|unit| !unit.is_empty())
    }

    /// The variation index the unit gets by hashing, or `None` when it takes no part.
    fn hashed_variation(&self, unit: &str, attributes: &Value) -> Option<usize> {
        let (start, end) = self.definition.layer_range;
        if !in_namespace(unit, &(self.laboratory.clone(), start, end)) {
            return None;
        }
        if let Some(condition) = &self.condition
            && !condition.matches(attributes)
        {
            return None;
        }
        let bucket = hash(&self.key, unit, HASH_VERSION)?;
        usize::try_from(choose_variation(bucket, &self.ranges)).ok()
    }

    /// The GrowthBook feature rule this experiment adds to `switch`.
    fn growthbook_rules(&self, switch: &str) -> Vec<Value> {
        let values: Vec<Value> =
            self.definition.variations.iter().map(|variation| variation.values[switch].clone()).collect();
        let unit_attribute = self.definition.unit.hash_attribute();
        // Whitelists name `deviceId` (the same id as `id`) so the payload sends them hashed.
        let listed_attribute = match self.definition.unit {
            AssignmentUnit::Device => "deviceId",
            AssignmentUnit::User => "userId",
        };
        match self.phase {
            Phase::Debug => self
                .definition
                .variations
                .iter()
                .enumerate()
                .filter_map(|(index, variation)| {
                    let units: Vec<&String> = self
                        .definition
                        .debug_whitelist
                        .iter()
                        .filter(|(_, key)| **key == variation.key)
                        .map(|(unit, _)| unit)
                        .collect();
                    (!units.is_empty()).then(|| {
                        json!({ "id": format!("experiment:{}:debug", self.key),
                                "condition": { listed_attribute: { "$in": units } },
                                "force": values[index] })
                    })
                })
                .collect(),
            _ => {
                let mut rule = Map::new();
                rule.insert("id".into(), json!(format!("experiment:{}", self.key)));
                rule.insert("key".into(), json!(self.key));
                rule.insert("variations".into(), Value::Array(values));
                rule.insert("weights".into(), json!(self.definition.effective_weights()));
                rule.insert("coverage".into(), json!(self.definition.coverage));
                rule.insert("hashAttribute".into(), json!(unit_attribute));
                rule.insert("hashVersion".into(), json!(HASH_VERSION));
                rule.insert("seed".into(), json!(self.key));
                let (start, end) = self.definition.layer_range;
                rule.insert("namespace".into(), json!([self.laboratory, start, end]));
                if let Some(condition) = self.definition.audience_condition() {
                    rule.insert("condition".into(), condition);
                }
                let meta: Vec<Value> = self
                    .definition
                    .variations
                    .iter()
                    .map(|variation| json!({ "key": variation.key, "name": variation.name }))
                    .collect();
                rule.insert("meta".into(), Value::Array(meta));
                if !self.definition.name.is_empty() {
                    rule.insert("name".into(), json!(self.definition.name));
                }
                vec![Value::Object(rule)]
            }
        }
    }
}

/// A workspace's live experiments at one revision of its experiments.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSnapshot {
    pub revision: i64,
    pub live: Vec<LiveExperiment>,
}

impl ExperimentSnapshot {
    /// Puts the device's experiment values over `values` (its switch values) and says which
    /// experiments it is in.
    pub fn assign(
        &self,
        context: &DeviceContext,
        sticky: &[StickyAssignment],
        values: &mut BTreeMap<String, Value>,
        now_ms: i64,
    ) -> Vec<Assignment> {
        if self.live.is_empty() {
            return Vec::new();
        }
        let attributes = context.attributes();
        let mut assignments = Vec::new();
        let served = self
            .live
            .iter()
            .filter(|experiment| experiment.definition.operation_type.is_none() && experiment.serves_at(now_ms));
        for experiment in served {
            let Some(unit) = experiment.unit_of(context) else { continue };
            let definition = &experiment.definition;
            let (index, debug) = match experiment.phase {
                Phase::Debug => {
                    match definition.debug_whitelist.get(unit).and_then(|key| definition.variation_index(key)) {
                        Some(index) => (index, true),
                        None => continue,
                    }
                }
                _ => {
                    let held = sticky
                        .iter()
                        .find(|held| held.experiment == experiment.key && held.unit == unit)
                        .and_then(|held| definition.variation_index(&held.variation));
                    match held.or_else(|| experiment.hashed_variation(unit, &attributes)) {
                        Some(index) => (index, false),
                        None => continue,
                    }
                }
            };
            let variation = &definition.variations[index];
            // A switch the device does not get (not for its platform) keeps it out.
            if !variation.values.keys().all(|switch| values.contains_key(switch)) {
                continue;
            }
            for (switch, value) in &variation.values {
                values.insert(switch.clone(), value.clone());
            }
            assignments.push(Assignment {
                experiment: experiment.key.clone(),
                variation: variation.key.clone(),
                unit: unit.to_owned(),
                unit_kind: definition.unit,
                switches: variation.values.keys().cloned().collect(),
                debug,
                // The server signs it where it holds the keys.
                proof: String::new(),
            });
        }
        assignments
    }

    /// The live gateway experiment on `operation_type` and the variation this caller takes (the
    /// debug whitelist while in debug), if the caller is in it.
    pub fn assign_call(
        &self,
        operation_type: &str,
        context: &DeviceContext,
        now_ms: i64,
    ) -> Option<(&LiveExperiment, usize)> {
        let experiment = self.live.iter().find(|experiment| {
            experiment.definition.operation_type.as_deref() == Some(operation_type) && experiment.serves_at(now_ms)
        })?;
        let unit = experiment.unit_of(context)?;
        let definition = &experiment.definition;
        let index = match experiment.phase {
            Phase::Debug => definition.variation_index(definition.debug_whitelist.get(unit)?)?,
            _ => experiment.hashed_variation(unit, &context.attributes())?,
        };
        Some((experiment, index))
    }

    /// Puts the experiments' rules in front of the switches' own in a GrowthBook features map,
    /// so GrowthBook's SDKs run the experiments too: after leading rules that force `null` (a
    /// switch hidden from some platforms), before the rest. A switch missing from the map (not for
    /// this platform) stays missing.
    pub fn prepend_rules(&self, features: &mut Map<String, Value>, now_ms: i64) {
        for experiment in self.live.iter().filter(|experiment| experiment.serves_at(now_ms)) {
            for switch in experiment.definition.switch_keys() {
                let Some(Value::Object(feature)) = features.get_mut(switch) else { continue };
                let rules = feature.entry("rules").or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(rules) = rules {
                    let hiding = rules.iter().take_while(|rule| rule.get("force") == Some(&Value::Null)).count();
                    let tail = rules.split_off(hiding);
                    rules.extend(experiment.growthbook_rules(switch));
                    rules.extend(tail);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use midship_targeting::feature::{CompiledFeatures, FeatureDefinition, UserContext};

    use super::*;

    fn running(weights: Vec<f64>, coverage: f64) -> LiveExperiment {
        let definition: ExperimentDefinition = serde_json::from_value(json!({
            "unit": "device",
            "variations": [
                { "key": "control", "values": { "pay.button": "grey" } },
                { "key": "blue", "values": { "pay.button": "blue" } },
                { "key": "green", "values": { "pay.button": "green" } }
            ],
            "weights": weights,
            "coverage": coverage,
            "layer_range": [0.2, 0.9],
            "audience": { "platforms": ["android"] }
        }))
        .unwrap();
        definition.validate().unwrap();
        LiveExperiment::new("button-color", "checkout", Phase::Running, definition)
    }

    fn device(id: String) -> DeviceContext {
        DeviceContext { device_id: Some(id), platform: Some("android".into()), ..DeviceContext::default() }
    }

    #[test]
    fn the_server_assigns_as_growthbook_rules_evaluate() {
        let snapshot = ExperimentSnapshot { revision: 1, live: vec![running(vec![0.5, 0.25, 0.25], 0.8)] };
        let mut features = Map::new();
        features.insert("pay.button".into(), json!({ "defaultValue": "grey" }));
        snapshot.prepend_rules(&mut features, 0);
        let definitions: HashMap<String, FeatureDefinition> =
            features.iter().map(|(key, value)| (key.clone(), serde_json::from_value(value.clone()).unwrap())).collect();
        let compiled = CompiledFeatures::new(&definitions);
        let mut counts = HashMap::new();
        for index in 0..10_000 {
            let context = device(format!("device-{index}"));
            let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
            let assignments = snapshot.assign(&context, &[], &mut values, 0);
            let user = UserContext { attributes: context.attributes(), ..UserContext::default() };
            let growthbook = compiled.evaluate(&user, "pay.button");
            assert_eq!(values["pay.button"], growthbook.value, "{index}");
            let in_experiment = growthbook.experiment_result.as_ref().is_some_and(|result| result.in_experiment);
            assert_eq!(assignments.len() == 1, in_experiment, "{index}");
            if let Some(assignment) = assignments.first() {
                *counts.entry(assignment.variation.clone()).or_insert(0) += 1;
            }
        }
        // 70 % of the layer × 80 % coverage: about 5,600 units, split 2:1:1.
        let total: i32 = counts.values().sum();
        assert!((5_300..5_900).contains(&total), "{counts:?}");
        assert!((counts["control"] as f64 / total as f64 - 0.5).abs() < 0.03, "{counts:?}");
    }

    #[test]
    fn held_assignments_stick_when_weights_change_and_other_platforms_stay_out() {
        let before = ExperimentSnapshot { revision: 1, live: vec![running(vec![0.34, 0.33, 0.33], 1.0)] };
        let after = ExperimentSnapshot { revision: 2, live: vec![running(vec![0.8, 0.1, 0.1], 1.0)] };
        let mut moved = 0;
        for index in 0..2_000 {
            let context = device(format!("device-{index}"));
            let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
            let first = before.assign(&context, &[], &mut values, 0);
            let Some(first) = first.into_iter().next() else { continue };
            let held = [StickyAssignment {
                experiment: first.experiment.clone(),
                variation: first.variation.clone(),
                unit: first.unit.clone(),
                proof: String::new(),
            }];
            let again = after.assign(&context, &held, &mut values, 0);
            assert_eq!(again[0].variation, first.variation, "sticky");
            let fresh = after.assign(&context, &[], &mut values, 0);
            moved += usize::from(fresh[0].variation != first.variation);
        }
        assert!(moved > 100, "without the held assignment many would move ({moved})");
        let ios = DeviceContext { platform: Some("ios".into()), ..device("device-1".into()) };
        let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
        assert!(before.assign(&ios, &[], &mut values, 0).is_empty(), "outside the audience");
    }

    #[test]
    fn an_ended_experiment_is_served_to_nobody() {
        let mut experiment = running(vec![0.5, 0.25, 0.25], 1.0);
        experiment.definition.ends_at = Some("2026-12-31T00:00".into());
        let experiment = LiveExperiment::new("button-color", "checkout", Phase::Running, experiment.definition);
        let end = midship_core::clock::parse_utc_minute("2026-12-31T00:00").unwrap();
        let snapshot = ExperimentSnapshot { revision: 1, live: vec![experiment] };
        let served = (0..200)
            .filter(|index| {
                let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
                !snapshot.assign(&device(format!("device-{index}")), &[], &mut values, end - 1).is_empty()
            })
            .count();
        assert!(served > 50, "before the end: {served}");
        let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
        assert!(snapshot.assign(&device("device-1".into()), &[], &mut values, end).is_empty());
        let mut features = Map::new();
        features.insert("pay.button".into(), json!({ "defaultValue": "grey" }));
        snapshot.prepend_rules(&mut features, end);
        assert!(features["pay.button"].get("rules").is_none(), "out of the GrowthBook payload too");
    }

    #[test]
    fn debug_serves_the_whitelist_only_and_marks_it() {
        let mut experiment = running(vec![0.34, 0.33, 0.33], 1.0);
        experiment.phase = Phase::Debug;
        experiment.definition.debug_whitelist.insert("tester".into(), "green".into());
        let snapshot = ExperimentSnapshot { revision: 1, live: vec![experiment] };
        let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
        let assignments = snapshot.assign(&device("tester".into()), &[], &mut values, 0);
        assert_eq!(values["pay.button"], json!("green"));
        assert!(assignments[0].debug);
        let mut values = BTreeMap::from([("pay.button".to_owned(), json!("grey"))]);
        assert!(snapshot.assign(&device("someone".into()), &[], &mut values, 0).is_empty());
        let mut features = Map::new();
        features.insert("pay.button".into(), json!({ "defaultValue": "grey" }));
        snapshot.prepend_rules(&mut features, 0);
        assert_eq!(features["pay.button"]["rules"][0]["condition"], json!({ "deviceId": { "$in": ["tester"] } }));
    }
}
