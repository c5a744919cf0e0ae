//! mPaaS-style targeting rules — whitelists of users and devices, platforms, cities, models,
//! networks, OS and app version ranges, a percentage and a raw condition — expressed in the
//! engine's condition language. Switches, delivery releases and later experiments and campaign
//! audiences write their audiences as a [`Rule`]; [`rule_condition`] turns it into one condition.
//!
//! Device attribute names are those of [`crate::DeviceContext::attributes`].

use std::sync::LazyLock;

use midship_core::Platform;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::condition::Condition;

/// A rule that does not hold together, with the JSON path of the bad part
/// (`$.targets[2].rule.os_version.min`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

impl RuleError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Dimensions combined with AND; an absent dimension matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist: Option<Whitelist>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::membership))]
    pub cities: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::membership))]
    pub models: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::membership))]
    pub networks: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::version_rule))]
    pub os_version: Option<VersionRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::version_rule))]
    pub app_version: Option<VersionRule>,
    /// Share of devices, 0 to 100, chosen by a stable hash of the device id and the switch key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub percentage: Option<f64>,
    /// Any further condition in the targeting language (GrowthBook syntax) on device attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub condition: Option<Value>,
}

/// Exact user ids and device ids (a set: hundreds of thousands stay fast) and up to 20 regular
/// expressions matched against both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Whitelist {
    /// With `device_ids`, at most 500,000 ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    /// Regular expressions (Rust `regex` syntax) matched against user and device ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub patterns: Vec<String>,
}

/// Values a device attribute must (`include`) or must not (`exclude`) be one of; never empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Membership {
    Include(Vec<String>),
    Exclude(Vec<String>),
}

/// Versions such as `10.2.3`, compared as versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VersionRule {
    Include(Vec<String>),
    Exclude(Vec<String>),
    /// Inclusive bounds; at least one of them.
    InRange {
        #[serde(default)]
        min: Option<String>,
        #[serde(default)]
        max: Option<String>,
    },
    OutOfRange {
        #[serde(default)]
        min: Option<String>,
        #[serde(default)]
        max: Option<String>,
    },
}

/// [`Membership`] and [`VersionRule`] as OpenAPI schemas (serde's externally tagged form, with
/// their rules).
#[cfg(feature = "openapi")]
mod schema {
    use utoipa::openapi::schema::{
        AdditionalProperties, Array, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
    };

    fn tagged(tag: &str, value: impl Into<utoipa::openapi::RefOr<Schema>>) -> Object {
        ObjectBuilder::new()
            .property(tag, value)
            .required(tag)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    }

    fn strings() -> Array {
        ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)).min_items(Some(1)).build()
    }

    fn version() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("a version such as 10.2.3"))
            .pattern(Some(super::VERSION_PATTERN))
            .build()
    }

    fn versions() -> Array {
        ArrayBuilder::new().items(version()).min_items(Some(1)).build()
    }

    fn bound() -> Schema {
        Schema::OneOf(OneOfBuilder::new().item(version()).item(null()).build())
    }

    fn bounds() -> Object {
        ObjectBuilder::new()
            .description(Some("inclusive bounds: min, max or both"))
            .property("min", bound())
            .property("max", bound())
            .min_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    }

    fn null() -> Object {
        ObjectBuilder::new().schema_type(Type::Null).build()
    }

    /// `{"include": [...]}` or `{"exclude": [...]}`, never empty; or null, the same as absent.
    pub fn membership() -> Schema {
        Schema::OneOf(
            OneOfBuilder::new()
                .item(tagged("include", strings()))
                .item(tagged("exclude", strings()))
                .item(null())
                .build(),
        )
    }

    /// `{"include"|"exclude": [versions]}` or `{"in_range"|"out_of_range": {"min", "max"}}`; or
    /// null, the same as absent.
    pub fn version_rule() -> Schema {
        Schema::OneOf(
            OneOfBuilder::new()
                .item(tagged("include", versions()))
                .item(tagged("exclude", versions()))
                .item(tagged("in_range", bounds()))
                .item(tagged("out_of_range", bounds()))
                .item(null())
                .build(),
        )
    }
}

pub const MAX_WHITELIST_ENTRIES: usize = 500_000;
pub const MAX_WHITELIST_PATTERNS: usize = 20;

const VERSION_PATTERN: &str = r"^[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.\-]+)?$";
static VERSION_SHAPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(VERSION_PATTERN).expect("valid regex"));

impl Rule {
    pub fn validate(&self, path: &str) -> Result<(), RuleError> {
        if let Some(whitelist) = &self.whitelist {
            let entries = whitelist.user_ids.len() + whitelist.device_ids.len();
            if entries > MAX_WHITELIST_ENTRIES {
                return Err(RuleError::new(
                    format!("{path}.whitelist"),
                    format!("at most {MAX_WHITELIST_ENTRIES} ids"),
                ));
            }
            if whitelist.patterns.len() > MAX_WHITELIST_PATTERNS {
                return Err(RuleError::new(
                    format!("{path}.whitelist.patterns"),
                    format!("at most {MAX_WHITELIST_PATTERNS} patterns"),
                ));
            }
            for (index, pattern) in whitelist.patterns.iter().enumerate() {
                if let Err(error) = Regex::new(pattern) {
                    return Err(RuleError::new(
                        format!("{path}.whitelist.patterns[{index}]"),
                        format!("invalid regular expression: {error}"),
                    ));
                }
            }
            if entries == 0 && whitelist.patterns.is_empty() {
                return Err(RuleError::new(format!("{path}.whitelist"), "names no user, device or pattern"));
            }
        }
        for (name, membership) in [("cities", &self.cities), ("models", &self.models), ("networks", &self.networks)] {
            if let Some(Membership::Include(values) | Membership::Exclude(values)) = membership
                && values.is_empty()
            {
                return Err(RuleError::new(format!("{path}.{name}"), "lists nothing"));
            }
        }
        for (name, rule) in [("os_version", &self.os_version), ("app_version", &self.app_version)] {
            if let Some(rule) = rule {
                validate_version_rule(rule, &format!("{path}.{name}"))?;
            }
        }
        if let Some(percentage) = self.percentage
            && !(0.0..=100.0).contains(&percentage)
        {
            return Err(RuleError::new(format!("{path}.percentage"), "must be between 0 and 100"));
        }
        if let Some(condition) = &self.condition {
            Condition::compile(condition).map_err(|error| {
                RuleError::new(format!("{path}.condition{}", error.path.trim_start_matches('$')), error.message)
            })?;
        }
        Ok(())
    }
}

fn validate_version_rule(rule: &VersionRule, path: &str) -> Result<(), RuleError> {
    let check = |version: &str, at: String| {
        if VERSION_SHAPE.is_match(version) {
            Ok(())
        } else {
            Err(RuleError::new(at, format!("`{version}` is not a version such as 10.2.3")))
        }
    };
    match rule {
        VersionRule::Include(versions) | VersionRule::Exclude(versions) => {
            if versions.is_empty() {
                return Err(RuleError::new(path, "lists no version"));
            }
            for (index, version) in versions.iter().enumerate() {
                check(version, format!("{path}[{index}]"))?;
            }
        }
        VersionRule::InRange { min, max } | VersionRule::OutOfRange { min, max } => {
            if min.is_none() && max.is_none() {
                return Err(RuleError::new(path, "needs min, max or both"));
            }
            if let Some(min) = min {
                check(min, format!("{path}.min"))?;
            }
            if let Some(max) = max {
                check(max, format!("{path}.max"))?;
            }
        }
    }
    Ok(())
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

    use super::*;
    use crate::condition::eval_condition;

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
}
