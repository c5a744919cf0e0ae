//! What an operator writes: a typed key, its default, and an ordered list of targeted values whose
//! rules use the mPaaS dimensions (whitelist, city, model, network, OS and app version, platform,
//! percentage). Rules compile into the targeting engine's condition language ([`crate::compile`]).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use midship_core::Platform;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use midship_targeting::rules::{Rule, RuleError};

/// A validation failure, with the JSON path of the bad part (`$.targets[2].rule.os_version.min`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DefinitionError {
    pub path: String,
    pub message: String,
}

impl From<RuleError> for DefinitionError {
    fn from(error: RuleError) -> Self {
        Self { path: error.path, message: error.message }
    }
}

impl DefinitionError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// Whether `value` is of this type.
    pub fn accepts(self, value: &Value) -> bool {
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SwitchDefinition {
    /// 1 to 128 of letters, digits, `_`, `.` and `-`, starting with a letter.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$"))]
    pub key: String,
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// A value of the switch's type, at most 64 KiB as JSON.
    pub default_value: Value,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub description: String,
    /// Platforms that receive the key at all; empty means every platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// Tried in order; the first whose rule matches gives the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub targets: Vec<TargetedValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TargetedValue {
    pub value: Value,
    #[serde(default)]
    pub rule: Rule,
}

pub const MAX_TARGETS: usize = 100;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

static KEY_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$").expect("valid regex"));

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
