//! Switches compiled into GrowthBook feature definitions, the form the targeting engine evaluates
//! and GrowthBook's own SDKs read from `/api/features/{client_key}`.
//!
//! Device attributes (what a config pull sends): `id` and `deviceId` (the utdid), `userId`,
//! `platform`, `appVersion`, `osVersion`, `model`, `city`, `network`, plus any custom attributes.

use midship_targeting::condition::Condition;
use serde_json::{Map, Value, json};

use crate::definition::{DefinitionError, Membership, Rule, SwitchDefinition, VersionRule};

/// The attribute a percentage hashes: the device, so a device keeps its bucket across users.
pub const PERCENTAGE_HASH_ATTRIBUTE: &str = "id";

/// One switch as a GrowthBook feature: `{"defaultValue": …, "rules": [...]}`. Platforms outside the
/// switch's list get `null`, which config pulls leave out.
pub fn compile_switch(switch: &SwitchDefinition) -> Result<Value, DefinitionError> {
    let mut rules = Vec::new();
    if !switch.platforms.is_empty() {
        let platforms: Vec<&str> = switch.platforms.iter().map(|platform| platform.as_str()).collect();
        rules.push(json!({ "condition": { "platform": { "$nin": platforms } }, "force": null }));
    }
    for (index, target) in switch.targets.iter().enumerate() {
        let mut rule = Map::new();
        if let Some(condition) = rule_condition(&target.rule) {
            Condition::compile(&condition).map_err(|error| DefinitionError {
                path: format!("$.targets[{index}].rule{}", error.path.trim_start_matches('$')),
                message: error.message,
            })?;
            rule.insert("condition".into(), condition);
        }
        rule.insert("force".into(), target.value.clone());
        if let Some(percentage) = target.rule.percentage {
            rule.insert("coverage".into(), json!(percentage / 100.0));
            rule.insert("hashAttribute".into(), json!(PERCENTAGE_HASH_ATTRIBUTE));
            rule.insert("seed".into(), json!(switch.key));
            rule.insert("hashVersion".into(), json!(2));
        }
        rules.push(Value::Object(rule));
    }
    let mut feature = Map::new();
    feature.insert("defaultValue".into(), switch.default_value.clone());
    if !rules.is_empty() {
        feature.insert("rules".into(), Value::Array(rules));
    }
    Ok(Value::Object(feature))
}

/// The features map of a whole configuration, keyed by switch key.
pub fn compile_document(switches: &[SwitchDefinition]) -> Result<Map<String, Value>, DefinitionError> {
    switches.iter().map(|switch| Ok((switch.key.clone(), compile_switch(switch)?))).collect()
}

/// The rule's dimensions as one condition, or `None` when it matches everyone.
pub fn rule_condition(rule: &Rule) -> Option<Value> {
    let mut parts = Vec::new();
    if let Some(whitelist) = &rule.whitelist {
        let mut alternatives = Vec::new();
        if !whitelist.user_ids.is_empty() {
            alternatives.push(json!({ "userId": { "$in": whitelist.user_ids } }));
        }
        if !whitelist.device_ids.is_empty() {
            alternatives.push(json!({ "deviceId": { "$in": whitelist.device_ids } }));
        }
        for pattern in &whitelist.patterns {
            alternatives.push(json!({ "userId": { "$regex": pattern } }));
            alternatives.push(json!({ "deviceId": { "$regex": pattern } }));
        }
        parts.push(json!({ "$or": alternatives }));
    }
    if !rule.platforms.is_empty() {
        let platforms: Vec<&str> = rule.platforms.iter().map(|platform| platform.as_str()).collect();
        parts.push(json!({ "platform": { "$in": platforms } }));
    }
    for (attribute, membership) in [("city", &rule.cities), ("model", &rule.models), ("network", &rule.networks)] {
        match membership {
            Some(Membership::Include(values)) => parts.push(json!({ attribute: { "$in": values } })),
            Some(Membership::Exclude(values)) => parts.push(json!({ attribute: { "$nin": values } })),
            None => {}
        }
    }
    for (attribute, version_rule) in [("osVersion", &rule.os_version), ("appVersion", &rule.app_version)] {
        if let Some(version_rule) = version_rule {
            parts.push(version_condition(attribute, version_rule));
        }
    }
    if let Some(condition) = &rule.condition {
        parts.push(condition.clone());
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(json!({ "$and": parts })),
    }
}

/// Version rules compare as versions (`10.10` after `10.9`) and never match a device that did not
/// say its version.
fn version_condition(attribute: &str, rule: &VersionRule) -> Value {
    let present = json!({ attribute: { "$exists": true } });
    let equal_to_any = |versions: &[String]| {
        Value::Array(versions.iter().map(|version| json!({ attribute: { "$veq": version } })).collect())
    };
    match rule {
        VersionRule::Include(versions) => {
            json!({ "$and": [present, { "$or": equal_to_any(versions) }] })
        }
        VersionRule::Exclude(versions) => {
            json!({ "$and": [present, { "$nor": equal_to_any(versions) }] })
        }
        VersionRule::InRange { min, max } => {
            let mut bounds = Map::new();
            bounds.insert("$exists".into(), json!(true));
            if let Some(min) = min {
                bounds.insert("$vgte".into(), json!(min));
            }
            if let Some(max) = max {
                bounds.insert("$vlte".into(), json!(max));
            }
            json!({ attribute: bounds })
        }
        VersionRule::OutOfRange { min, max } => {
            let mut outside = Vec::new();
            if let Some(min) = min {
                outside.push(json!({ attribute: { "$vlt": min } }));
            }
            if let Some(max) = max {
                outside.push(json!({ attribute: { "$vgt": max } }));
            }
            json!({ "$and": [present, { "$or": outside }] })
        }
    }
}

#[cfg(test)]
mod tests {
    use midship_core::Platform;
    use midship_targeting::condition::eval_condition;

    use super::*;
    use crate::definition::{TargetedValue, ValueType, Whitelist};

    fn attributes(pairs: &[(&str, &str)]) -> Value {
        Value::Object(pairs.iter().map(|(key, value)| ((*key).to_owned(), json!(value))).collect())
    }

    fn matches(rule: &Rule, pairs: &[(&str, &str)]) -> bool {
        rule_condition(rule).is_none_or(|condition| eval_condition(&attributes(pairs), &condition))
    }

    #[test]
    fn whitelist_matches_ids_and_patterns() {
        let rule = Rule {
            whitelist: Some(Whitelist {
                user_ids: vec!["alice".into()],
                device_ids: vec!["DEV1".into()],
                patterns: vec!["^qa-".into()],
            }),
            ..Rule::default()
        };
        assert!(matches(&rule, &[("userId", "alice")]));
        assert!(matches(&rule, &[("deviceId", "DEV1")]));
        assert!(matches(&rule, &[("userId", "qa-7")]));
        assert!(!matches(&rule, &[("userId", "bob"), ("deviceId", "DEV2")]));
    }

    #[test]
    fn dimensions_combine_with_and() {
        let rule = Rule {
            platforms: vec![Platform::Android],
            cities: Some(Membership::Include(vec!["Hangzhou".into()])),
            networks: Some(Membership::Exclude(vec!["2g".into()])),
            os_version: Some(VersionRule::InRange { min: Some("10".into()), max: Some("14.1".into()) }),
            app_version: Some(VersionRule::OutOfRange { min: Some("2.0.0".into()), max: Some("2.9.9".into()) }),
            ..Rule::default()
        };
        let device = [
            ("platform", "android"),
            ("city", "Hangzhou"),
            ("network", "wifi"),
            ("osVersion", "13"),
            ("appVersion", "3.0.0"),
        ];
        assert!(matches(&rule, &device));
        let mut ios = device;
        ios[0] = ("platform", "ios");
        assert!(!matches(&rule, &ios));
        let mut slow = device;
        slow[2] = ("network", "2g");
        assert!(!matches(&rule, &slow));
        let mut old_os = device;
        old_os[3] = ("osVersion", "9.1");
        assert!(!matches(&rule, &old_os), "9.1 is below 10 as a version");
        let mut in_excluded_range = device;
        in_excluded_range[4] = ("appVersion", "2.5.0");
        assert!(!matches(&rule, &in_excluded_range), "2.5.0 lies inside the excluded range");
        let mut above_excluded_range = device;
        above_excluded_range[4] = ("appVersion", "2.10.0");
        assert!(matches(&rule, &above_excluded_range), "2.10.0 is above 2.9.9 as a version");
    }

    #[test]
    fn version_lists_compare_as_versions_and_need_a_version() {
        let include = Rule { os_version: Some(VersionRule::Include(vec!["10.0".into()])), ..Rule::default() };
        assert!(matches(&include, &[("osVersion", "10.0")]));
        assert!(!matches(&include, &[]), "no version, no match");
        let exclude = Rule { os_version: Some(VersionRule::Exclude(vec!["10.0".into()])), ..Rule::default() };
        assert!(!matches(&exclude, &[("osVersion", "10.0")]));
        assert!(matches(&exclude, &[("osVersion", "11")]));
    }

    #[test]
    fn platform_list_hides_the_key_elsewhere() {
        let switch = SwitchDefinition {
            key: "pay.new_flow".into(),
            value_type: ValueType::Bool,
            default_value: json!(false),
            description: String::new(),
            platforms: vec![Platform::Ios],
            targets: vec![TargetedValue {
                value: json!(true),
                rule: Rule { percentage: Some(50.0), ..Rule::default() },
            }],
        };
        let feature = compile_switch(&switch).unwrap();
        assert_eq!(feature["rules"][0]["force"], Value::Null);
        assert_eq!(feature["rules"][1]["coverage"], json!(0.5));
        assert_eq!(feature["rules"][1]["seed"], json!("pay.new_flow"));
    }
}
