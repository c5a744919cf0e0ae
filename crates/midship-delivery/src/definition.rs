//! Release tasks: which stage a package is released at (a whitelist, a time window, a capped
//! number of devices, or official), the rules devices must match (city, model, network, OS and
//! app version ranges, platforms — combined with AND), and for upgrades how insistently to ask.
//! Audiences compile into the targeting engine's conditions, so a whitelist of 100,000 ids is one
//! hash lookup.

use midship_storage::PackageKind;
use midship_targeting::Condition;
use midship_targeting::rules::{Rule, RuleError, Whitelist, rule_condition};
use serde::{Deserialize, Serialize};

use crate::{DeliveryError, invalid};

/// A time window may last at most this long.
pub const MAX_WINDOW_MS: i64 = 7 * 24 * 3_600_000;
pub const DEFAULT_REMIND_INTERVAL_HOURS: u32 = 72;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDefinition {
    pub stage: Stage,
    #[serde(default)]
    pub rules: Rule,
    /// Upgrades only (and required for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<UpgradeMode>,
    /// Upgrades reminded once: hours before asking again (default 72).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_interval_hours: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stage {
    /// Gray release to listed users and devices (exact ids or regular expressions).
    Whitelist { whitelist: Whitelist },
    /// Gray release to every matching device between two instants (milliseconds since the epoch).
    TimeWindow {
        #[serde(default)]
        start_at: Option<i64>,
        end_at: i64,
    },
    /// Gray release to the first `max_devices` matching devices that check.
    Capped { max_devices: u64 },
    /// Everyone matching the rules.
    Official,
}

impl Stage {
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Whitelist { .. } => "whitelist",
            Stage::TimeWindow { .. } => "time_window",
            Stage::Capped { .. } => "capped",
            Stage::Official => "official",
        }
    }
}

/// The mPaaS upgrade answers ("no update" is the absence of an offer).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeMode {
    RemindOnce,
    RemindAlways,
    Force,
}

impl UpgradeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeMode::RemindOnce => "remind_once",
            UpgradeMode::RemindAlways => "remind_always",
            UpgradeMode::Force => "force",
        }
    }
}

/// What a package's releases can target, for the checks below.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseTarget<'a> {
    pub kind: PackageKind,
    /// The platform of upgrades and hotpatches.
    pub platform: Option<&'a str>,
}

impl ReleaseDefinition {
    /// Checks the definition for a package at `now`, naming the first problem; conflicting rules
    /// (a rule that can match no device, say) are refused.
    pub fn validate(&self, target: ReleaseTarget<'_>, now: i64) -> Result<(), DeliveryError> {
        let rule_error = |error: RuleError| invalid(error.path, error.message);
        if self.rules.whitelist.is_some() {
            return Err(invalid("rules.whitelist", "a whitelist is a stage: use stage {\"kind\": \"whitelist\"}"));
        }
        if self.rules.percentage.is_some() {
            return Err(invalid("rules.percentage", "releases cap devices by count: use stage {\"kind\": \"capped\"}"));
        }
        self.rules.validate("rules").map_err(rule_error)?;
        match &self.stage {
            Stage::Whitelist { whitelist } => {
                let staged = Rule { whitelist: Some(whitelist.clone()), ..Rule::default() };
                staged.validate("stage").map_err(rule_error)?;
            }
            Stage::TimeWindow { start_at, end_at } => {
                let start = start_at.unwrap_or(now);
                if *end_at <= start || *end_at <= now {
                    return Err(invalid("stage.end_at", "must be after the start and in the future"));
                }
                if *end_at - start.max(now) > MAX_WINDOW_MS {
                    return Err(invalid("stage.end_at", "a time window ends within 7 days"));
                }
            }
            Stage::Capped { max_devices } => {
                if *max_devices == 0 {
                    return Err(invalid("stage.max_devices", "must be at least 1"));
                }
            }
            Stage::Official => {}
        }
        if let Some(platform) = target.platform
            && !self.rules.platforms.is_empty()
            && !self.rules.platforms.iter().any(|allowed| allowed.as_str() == platform)
        {
            return Err(invalid(
                "rules.platforms",
                format!("the package is for {platform}, which the rule leaves out"),
            ));
        }
        match (target.kind, self.mode) {
            (PackageKind::Upgrade, None) => {
                return Err(invalid("mode", "an upgrade release says remind_once, remind_always or force"));
            }
            (PackageKind::Upgrade, Some(_)) => {}
            (_, Some(_)) => return Err(invalid("mode", "applies to upgrades only")),
            (_, None) => {}
        }
        if let Some(hours) = self.remind_interval_hours {
            if self.mode != Some(UpgradeMode::RemindOnce) {
                return Err(invalid("remind_interval_hours", "applies to remind_once upgrades only"));
            }
            if !(1..=8760).contains(&hours) {
                return Err(invalid("remind_interval_hours", "must be between 1 and 8760"));
            }
        }
        if self.note.chars().count() > 1000 {
            return Err(invalid("note", "at most 1000 characters"));
        }
        self.condition().map(|_| ())
    }

    /// The audience (stage whitelist AND rules) in the targeting language; `None` matches all.
    pub fn audience(&self) -> Option<serde_json::Value> {
        let mut rule = self.rules.clone();
        if let Stage::Whitelist { whitelist } = &self.stage {
            rule.whitelist = Some(whitelist.clone());
        }
        rule_condition(&rule)
    }

    /// The audience compiled; `None` matches all.
    pub fn condition(&self) -> Result<Option<Condition>, DeliveryError> {
        self.audience().as_ref().map(compile_audience).transpose()
    }

    pub fn remind_interval(&self) -> Option<u32> {
        (self.mode == Some(UpgradeMode::RemindOnce))
            .then(|| self.remind_interval_hours.unwrap_or(DEFAULT_REMIND_INTERVAL_HOURS))
    }
}

pub fn compile_audience(audience: &serde_json::Value) -> Result<Condition, DeliveryError> {
    Condition::compile(audience)
        .map_err(|error| invalid(format!("rules{}", error.path.trim_start_matches('$')), error.message))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_795_313_234_000;
    const H5: ReleaseTarget<'static> = ReleaseTarget { kind: PackageKind::H5, platform: None };

    fn definition(value: serde_json::Value) -> ReleaseDefinition {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn whitelists_and_rules_combine_with_and() {
        let release = definition(json!({
            "stage": { "kind": "whitelist", "whitelist": { "user_ids": ["alice"], "patterns": ["^qa-"] } },
            "rules": { "cities": { "include": ["Shanghai"] }, "app_version": { "in_range": { "min": "2.0.0" } } }
        }));
        release.validate(H5, NOW).unwrap();
        let condition = release.condition().unwrap().unwrap();
        let device = |user: &str, city: &str, version: &str| json!({ "userId": user, "deviceId": "d", "city": city, "appVersion": version });
        assert!(condition.matches(&device("alice", "Shanghai", "2.1.0")));
        assert!(condition.matches(&device("qa-7", "Shanghai", "2.0.0")));
        assert!(!condition.matches(&device("bob", "Shanghai", "2.1.0")));
        assert!(!condition.matches(&device("alice", "Beijing", "2.1.0")));
        assert!(!condition.matches(&device("alice", "Shanghai", "1.9.9")));
    }

    #[test]
    fn conflicting_or_impossible_releases_are_refused() {
        let refuse = |value: serde_json::Value, target: ReleaseTarget<'_>| {
            definition(value).validate(target, NOW).unwrap_err().to_string()
        };
        let upgrade = ReleaseTarget { kind: PackageKind::Upgrade, platform: Some("android") };
        assert!(refuse(json!({ "stage": { "kind": "official" } }), upgrade).contains("mode"));
        assert!(refuse(json!({ "stage": { "kind": "official" }, "mode": "force" }), H5).contains("upgrades only"));
        assert!(
            refuse(
                json!({ "stage": { "kind": "official" }, "mode": "force", "rules": { "platforms": ["ios"] } }),
                upgrade
            )
            .contains("leaves out")
        );
        assert!(
            refuse(json!({ "stage": { "kind": "time_window", "end_at": NOW + 8 * 86_400_000 } }), H5)
                .contains("7 days")
        );
        assert!(refuse(json!({ "stage": { "kind": "time_window", "end_at": NOW - 1 } }), H5).contains("future"));
        assert!(refuse(json!({ "stage": { "kind": "capped", "max_devices": 0 } }), H5).contains("at least 1"));
        assert!(refuse(json!({ "stage": { "kind": "whitelist", "whitelist": {} } }), H5).contains("names no"));
        assert!(
            refuse(json!({ "stage": { "kind": "official" }, "rules": { "percentage": 10 } }), H5).contains("capped")
        );
        assert!(
            refuse(json!({ "stage": { "kind": "official" }, "mode": "force", "remind_interval_hours": 5 }), upgrade)
                .contains("remind_once")
        );
        assert!(
            refuse(json!({ "stage": { "kind": "official" }, "rules": { "cities": { "include": [] } } }), H5)
                .contains("lists nothing")
        );
        let remind = definition(json!({ "stage": { "kind": "official" }, "mode": "remind_once" }));
        remind.validate(upgrade, NOW).unwrap();
        assert_eq!(remind.remind_interval(), Some(72));
    }
}
