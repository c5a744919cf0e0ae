//! Switches compiled into GrowthBook feature definitions, the form the targeting engine evaluates
//! and GrowthBook's own SDKs read from `/api/features/{client_key}`.
//!
//! Device attributes (what a config pull sends): `id` and `deviceId` (the utdid), `userId`,
//! `platform`, `appVersion`, `osVersion`, `model`, `city`, `network`, plus any custom attributes.

use midship_targeting::condition::Condition;
use serde_json::{Map, Value, json};

use midship_targeting::rules::rule_condition;

use crate::definition::{DefinitionError, SwitchDefinition};

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

#[cfg(test)]
mod tests {
    use midship_core::Platform;
    use midship_targeting::rules::Rule;

    use super::*;
    use crate::definition::{TargetedValue, ValueType};

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
