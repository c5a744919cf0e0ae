//! The structured rule editor that switch targets and releases share: whitelists, platforms,
//! cities, models, networks, OS and app version ranges, a percentage — the targeting engine's
//! `Rule`, filled in as form fields instead of JSON. The fields are named `rule_*` so a form
//! flattens them beside its own.

use maud::{Markup, html};
use midship_core::Platform;
use midship_targeting::rules::{Membership, Rule, VersionRule, Whitelist};
use serde::Deserialize;

/// Which parts a form offers: a release's whitelist and share are its stage, not its rules.
#[derive(Debug, Clone, Copy)]
pub struct EditorParts {
    pub whitelist: bool,
    pub percentage: bool,
}

/// The editor's fields as submitted (all text: a refused form is shown again as typed).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuleFields {
    #[serde(default)]
    pub rule_user_ids: String,
    #[serde(default)]
    pub rule_device_ids: String,
    #[serde(default)]
    pub rule_platforms: String,
    #[serde(default)]
    pub rule_cities_mode: String,
    #[serde(default)]
    pub rule_cities: String,
    #[serde(default)]
    pub rule_models_mode: String,
    #[serde(default)]
    pub rule_models: String,
    #[serde(default)]
    pub rule_networks_mode: String,
    #[serde(default)]
    pub rule_networks: String,
    #[serde(default)]
    pub rule_os_mode: String,
    #[serde(default)]
    pub rule_os_min: String,
    #[serde(default)]
    pub rule_os_max: String,
    #[serde(default)]
    pub rule_app_mode: String,
    #[serde(default)]
    pub rule_app_min: String,
    #[serde(default)]
    pub rule_app_max: String,
    #[serde(default)]
    pub rule_percentage: String,
}

/// A field the person must correct, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn list(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

fn membership(mode: &str, values: &str, field: &'static str) -> Result<Option<Membership>, FieldError> {
    let values = list(values);
    match (mode, values.is_empty()) {
        ("" | "any", _) => Ok(None),
        (_, true) => Err(FieldError { field, message: "name at least one value".into() }),
        ("include", false) => Ok(Some(Membership::Include(values))),
        ("exclude", false) => Ok(Some(Membership::Exclude(values))),
        _ => Err(FieldError { field, message: format!("unknown choice `{mode}`") }),
    }
}

fn version(mode: &str, min: &str, max: &str, field: &'static str) -> Result<Option<VersionRule>, FieldError> {
    let bound = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let (min, max) = (bound(min), bound(max));
    if !matches!(mode, "" | "any") && min.is_none() && max.is_none() {
        return Err(FieldError { field, message: "give a lowest or a highest version".into() });
    }
    match mode {
        "" | "any" => Ok(None),
        "in_range" => Ok(Some(VersionRule::InRange { min, max })),
        "out_of_range" => Ok(Some(VersionRule::OutOfRange { min, max })),
        _ => Err(FieldError { field, message: format!("unknown choice `{mode}`") }),
    }
}

impl RuleFields {
    /// The rule the fields describe (the empty rule, matching everyone, when none is filled in),
    /// checked by the targeting engine as the API checks it.
    pub fn to_rule(&self, parts: EditorParts) -> Result<Rule, FieldError> {
        let mut rule = Rule::default();
        if parts.whitelist {
            let (user_ids, device_ids) = (list(&self.rule_user_ids), list(&self.rule_device_ids));
            if !user_ids.is_empty() || !device_ids.is_empty() {
                rule.whitelist = Some(Whitelist { user_ids, device_ids, patterns: Vec::new() });
            }
        }
        rule.platforms = Platform::parse_each(&list(&self.rule_platforms))
            .map_err(|error| FieldError { field: "rule_platforms", message: error.message })?;
        rule.cities = membership(&self.rule_cities_mode, &self.rule_cities, "rule_cities")?;
        rule.models = membership(&self.rule_models_mode, &self.rule_models, "rule_models")?;
        rule.networks = membership(&self.rule_networks_mode, &self.rule_networks, "rule_networks")?;
        rule.os_version = version(&self.rule_os_mode, &self.rule_os_min, &self.rule_os_max, "rule_os_min")?;
        rule.app_version = version(&self.rule_app_mode, &self.rule_app_min, &self.rule_app_max, "rule_app_min")?;
        if parts.percentage && !self.rule_percentage.trim().is_empty() {
            let share = self.rule_percentage.trim().parse::<f64>().map_err(|_| FieldError {
                field: "rule_percentage",
                message: "a share of devices from 0 to 100".into(),
            })?;
            rule.percentage = Some(share);
        }
        rule.validate("rule")
            .map_err(|error| FieldError { field: field_of(&error.path), message: error.to_string() })?;
        Ok(rule)
    }
}

/// The form field behind a path the targeting engine names (`rule.cities`, `rule.percentage`…).
fn field_of(path: &str) -> &'static str {
    const FIELDS: [(&str, &str); 8] = [
        ("whitelist", "rule_user_ids"),
        ("platforms", "rule_platforms"),
        ("cities", "rule_cities"),
        ("models", "rule_models"),
        ("networks", "rule_networks"),
        ("os_version", "rule_os_min"),
        ("app_version", "rule_app_min"),
        ("percentage", "rule_percentage"),
    ];
    FIELDS.into_iter().find(|(part, _)| path.contains(part)).map_or("rule_platforms", |(_, field)| field)
}

/// The editor's fields, filled with what was typed, the field at fault marked.
pub fn editor(typed: Option<&RuleFields>, invalid: Option<&str>, parts: EditorParts) -> Markup {
    let empty = RuleFields::default();
    let typed = typed.unwrap_or(&empty);
    let marked = |field: &str| (invalid == Some(field)).then_some("true");
    let membership_row = |label: &str, mode_name: &str, mode: &str, name: &'static str, value: &str, hint: &str| {
        html! {
            label { (label) " "
                select name=(mode_name) {
                    option value="" { "anyone" }
                    option value="include" selected[mode == "include"] { "only" }
                    option value="exclude" selected[mode == "exclude"] { "all but" }
                }
                " " input name=(name) size="40" value=(value) placeholder=(hint) aria-invalid=[marked(name)];
            }
        }
    };
    let version_row =
        |label: &str, mode_name: &str, mode: &str, min_name: &'static str, min: &str, max_name: &str, max: &str| {
            html! {
                label { (label) " "
                    select name=(mode_name) {
                        option value="" { "any" }
                        option value="in_range" selected[mode == "in_range"] { "from … to" }
                        option value="out_of_range" selected[mode == "out_of_range"] { "outside" }
                    }
                    " " input name=(min_name) size="8" value=(min) placeholder="lowest" aria-invalid=[marked(min_name)];
                    " – " input name=(max_name) size="8" value=(max) placeholder="highest";
                }
            }
        };
    html! {
        fieldset.rule {
            legend { "Who (all conditions together; empty ones match everyone)" }
            @if parts.whitelist {
                label { "Whitelist: user ids " input name="rule_user_ids" size="40" value=(typed.rule_user_ids)
                    placeholder="alice, bob" aria-invalid=[marked("rule_user_ids")]; }
                label { "and device ids (utdid) " input name="rule_device_ids" size="40" value=(typed.rule_device_ids); }
            }
            label { "Platforms " input name="rule_platforms" size="30" value=(typed.rule_platforms)
                placeholder="android, ios, harmony, h5, miniprogram" aria-invalid=[marked("rule_platforms")]; }
            (membership_row("Cities", "rule_cities_mode", &typed.rule_cities_mode, "rule_cities", &typed.rule_cities, "Hangzhou, Ningbo"))
            (membership_row("Models", "rule_models_mode", &typed.rule_models_mode, "rule_models", &typed.rule_models, "Pixel 8, iPhone15,2"))
            (membership_row("Networks", "rule_networks_mode", &typed.rule_networks_mode, "rule_networks", &typed.rule_networks, "wifi, 5g"))
            (version_row("OS version", "rule_os_mode", &typed.rule_os_mode, "rule_os_min", &typed.rule_os_min, "rule_os_max", &typed.rule_os_max))
            (version_row("App version", "rule_app_mode", &typed.rule_app_mode, "rule_app_min", &typed.rule_app_min, "rule_app_max", &typed.rule_app_max))
            @if parts.percentage {
                label { "Share of devices (%) " input name="rule_percentage" size="5" inputmode="decimal" value=(typed.rule_percentage)
                    placeholder="100" aria-invalid=[marked("rule_percentage")]; }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERYTHING: EditorParts = EditorParts { whitelist: true, percentage: true };

    #[test]
    fn filled_fields_make_the_rule_the_api_takes() {
        let fields = RuleFields {
            rule_user_ids: "alice, bob".into(),
            rule_platforms: "android,ios".into(),
            rule_cities_mode: "include".into(),
            rule_cities: "Hangzhou, Ningbo".into(),
            rule_networks_mode: "exclude".into(),
            rule_networks: "2g".into(),
            rule_app_mode: "in_range".into(),
            rule_app_min: "2.1.0".into(),
            rule_percentage: "25".into(),
            ..RuleFields::default()
        };
        let rule = fields.to_rule(EVERYTHING).unwrap();
        let expected: Rule = serde_json::from_value(serde_json::json!({
            "whitelist": { "user_ids": ["alice", "bob"] }, "platforms": ["android", "ios"],
            "cities": { "include": ["Hangzhou", "Ningbo"] }, "networks": { "exclude": ["2g"] },
            "app_version": { "in_range": { "min": "2.1.0", "max": null } }, "percentage": 25.0
        }))
        .unwrap();
        assert_eq!(rule, expected);
        assert_eq!(RuleFields::default().to_rule(EVERYTHING).unwrap(), Rule::default(), "empty matches everyone");
    }

    #[test]
    fn a_wrong_field_is_named() {
        let wrong = |fields: RuleFields| fields.to_rule(EVERYTHING).unwrap_err().field;
        assert_eq!(wrong(RuleFields { rule_platforms: "symbian".into(), ..RuleFields::default() }), "rule_platforms");
        assert_eq!(wrong(RuleFields { rule_cities_mode: "include".into(), ..RuleFields::default() }), "rule_cities");
        assert_eq!(wrong(RuleFields { rule_os_mode: "in_range".into(), ..RuleFields::default() }), "rule_os_min");
        assert_eq!(wrong(RuleFields { rule_percentage: "150".into(), ..RuleFields::default() }), "rule_percentage");
        let release = EditorParts { whitelist: false, percentage: false };
        let ignored =
            RuleFields { rule_user_ids: "alice".into(), rule_percentage: "5".into(), ..RuleFields::default() };
        assert_eq!(ignored.to_rule(release).unwrap(), Rule::default(), "a release's whitelist and share are its stage");
    }
}
