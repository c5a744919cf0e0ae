//! What an operator writes: a typed key, its default, and an ordered list of targeted values whose
//! rules use the mPaaS dimensions (whitelist, city, model, network, OS and app version, platform,
//! percentage). Rules compile into the targeting engine's condition language ([`crate::compile`]).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use midship_core::Platform;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A validation failure, with the JSON path of the bad part (`$.targets[2].rule.os_version.min`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DefinitionError {
    pub path: String,
    pub message: String,
}

impl DefinitionError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Bool,
    Number,
    String,
    Json,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::Number => "number",
            ValueType::String => "string",
            ValueType::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ValueType::Bool, ValueType::Number, ValueType::String, ValueType::Json]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            ValueType::Bool => value.is_boolean(),
            ValueType::Number => value.is_number(),
            ValueType::String => value.is_string(),
            ValueType::Json => !value.is_null(),
        }
    }

    /// Reads a value typed on a command line or in a form: `true`, `42`, `hello`, `{"a":1}`.
    pub fn parse_value(self, text: &str) -> Result<Value, String> {
        match self {
            ValueType::Bool => {
                text.parse::<bool>().map(Value::Bool).map_err(|_| format!("`{text}` is not true or false"))
            }
            ValueType::Number => {
                let number: serde_json::Number =
                    text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
                Ok(Value::Number(number))
            }
            ValueType::String => Ok(Value::String(text.to_owned())),
            ValueType::Json => serde_json::from_str(text).map_err(|error| format!("not JSON: {error}")),
        }
    }
}

/// One switch: a key every device gets a value for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchDefinition {
    pub key: String,
    #[serde(rename = "type")]
    pub value_type: ValueType,
    pub default_value: Value,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Platforms that receive the key at all; empty means every platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// Tried in order; the first whose rule matches gives the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetedValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetedValue {
    pub value: Value,
    #[serde(default)]
    pub rule: Rule,
}

/// Dimensions combined with AND; an absent dimension matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelist: Option<Whitelist>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cities: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Membership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<VersionRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<VersionRule>,
    /// Share of devices, 0 to 100, chosen by a stable hash of the device id and the switch key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    /// Any further condition in the targeting language (GrowthBook syntax) on device attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// Exact user ids and device ids (a set: hundreds of thousands stay fast) and up to 20 regular
/// expressions matched against both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whitelist {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Membership {
    Include(Vec<String>),
    Exclude(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VersionRule {
    Include(Vec<String>),
    Exclude(Vec<String>),
    /// Inclusive bounds; either may be absent.
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

pub const MAX_WHITELIST_ENTRIES: usize = 500_000;
pub const MAX_WHITELIST_PATTERNS: usize = 20;
pub const MAX_TARGETS: usize = 100;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

static KEY_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$").expect("valid regex"));
static VERSION_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.\-]+)?$").expect("valid regex"));

impl SwitchDefinition {
    /// Checks everything that can be checked before publishing, naming the path of the bad part.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if !KEY_SHAPE.is_match(&self.key) {
            return Err(DefinitionError::new(
                "$.key",
                format!("`{}` must be 1 to 128 of letters, digits, `_`, `.` and `-`, starting with a letter", self.key),
            ));
        }
        check_value(self.value_type, &self.default_value, "$.default_value")?;
        if self.description.chars().count() > 1000 {
            return Err(DefinitionError::new("$.description", "must be at most 1000 characters"));
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(DefinitionError::new("$.targets", format!("at most {MAX_TARGETS} targeted values")));
        }
        for (index, target) in self.targets.iter().enumerate() {
            let path = format!("$.targets[{index}]");
            check_value(self.value_type, &target.value, &format!("{path}.value"))?;
            target.rule.validate(&format!("{path}.rule"))?;
        }
        // The compiled form must be accepted by the engine too (it validates the raw conditions).
        crate::compile::compile_switch(self).map(|_| ())
    }
}

fn check_value(value_type: ValueType, value: &Value, path: &str) -> Result<(), DefinitionError> {
    if !value_type.accepts(value) {
        return Err(DefinitionError::new(path, format!("expected a {} value, got {value}", value_type.as_str())));
    }
    if value.to_string().len() > MAX_VALUE_BYTES {
        return Err(DefinitionError::new(path, format!("value is larger than {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

impl Rule {
    pub fn validate(&self, path: &str) -> Result<(), DefinitionError> {
        if let Some(whitelist) = &self.whitelist {
            let entries = whitelist.user_ids.len() + whitelist.device_ids.len();
            if entries > MAX_WHITELIST_ENTRIES {
                return Err(DefinitionError::new(
                    format!("{path}.whitelist"),
                    format!("at most {MAX_WHITELIST_ENTRIES} ids"),
                ));
            }
            if whitelist.patterns.len() > MAX_WHITELIST_PATTERNS {
                return Err(DefinitionError::new(
                    format!("{path}.whitelist.patterns"),
                    format!("at most {MAX_WHITELIST_PATTERNS} patterns"),
                ));
            }
            for (index, pattern) in whitelist.patterns.iter().enumerate() {
                if let Err(error) = Regex::new(pattern) {
                    return Err(DefinitionError::new(
                        format!("{path}.whitelist.patterns[{index}]"),
                        format!("invalid regular expression: {error}"),
                    ));
                }
            }
            if entries == 0 && whitelist.patterns.is_empty() {
                return Err(DefinitionError::new(format!("{path}.whitelist"), "names no user, device or pattern"));
            }
        }
        for (name, membership) in [("cities", &self.cities), ("models", &self.models), ("networks", &self.networks)] {
            if let Some(Membership::Include(values) | Membership::Exclude(values)) = membership
                && values.is_empty()
            {
                return Err(DefinitionError::new(format!("{path}.{name}"), "lists nothing"));
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
            return Err(DefinitionError::new(format!("{path}.percentage"), "must be between 0 and 100"));
        }
        if let Some(condition) = &self.condition {
            midship_targeting::condition::Condition::compile(condition).map_err(|error| {
                DefinitionError::new(format!("{path}.condition{}", error.path.trim_start_matches('$')), error.message)
            })?;
        }
        Ok(())
    }
}

fn validate_version_rule(rule: &VersionRule, path: &str) -> Result<(), DefinitionError> {
    let check = |version: &str, at: String| {
        if VERSION_SHAPE.is_match(version) {
            Ok(())
        } else {
            Err(DefinitionError::new(at, format!("`{version}` is not a version such as 10.2.3")))
        }
    };
    match rule {
        VersionRule::Include(versions) | VersionRule::Exclude(versions) => {
            if versions.is_empty() {
                return Err(DefinitionError::new(path, "lists no version"));
            }
            for (index, version) in versions.iter().enumerate() {
                check(version, format!("{path}[{index}]"))?;
            }
        }
        VersionRule::InRange { min, max } | VersionRule::OutOfRange { min, max } => {
            if min.is_none() && max.is_none() {
                return Err(DefinitionError::new(path, "needs min, max or both"));
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

/// Every key of a document is unique.
pub fn check_unique_keys(switches: &[SwitchDefinition]) -> Result<(), DefinitionError> {
    let mut seen = BTreeSet::new();
    for (index, switch) in switches.iter().enumerate() {
        if !seen.insert(switch.key.as_str()) {
            return Err(DefinitionError::new(
                format!("$.switches[{index}].key"),
                format!("`{}` appears twice", switch.key),
            ));
        }
    }
    Ok(())
}
