//! Conditions: GrowthBook's MongoDB-like query language over user attributes
//! (`{"country": {"$in": ["US", "CA"]}, "appVersion": {"$vgte": "2.3.0"}}`).
//!
//! A condition is compiled once ([`Condition::compile`]) and then matched against many users
//! ([`Condition::matches`]): regexes are built, `$in` lists hashed and versions padded ahead of
//! time. [`eval_condition`] is GrowthBook's `evalCondition`, exactly, for one-off checks.
//!
//! `$inGroup` and `$notInGroup` test membership of a [`SavedGroups`] list, hashed once when the
//! groups are built and shared by every condition compiled against them
//! ([`Condition::compile_with`], [`eval_condition_with`]).
//!
//! Where the `regex` crate differs from JavaScript's `RegExp` (no lookaround or backreferences;
//! `\d`/`\w` are made ASCII like JavaScript's; `$regexi` folds case by Unicode's rules, so the
//! Kelvin sign matches `k`) and where serde_json differs from JavaScript objects (key order is
//! not kept, so object equality ignores it), this module follows the former.

mod compile;
mod pattern;
mod saved_groups;
mod tree;
mod version;

use serde_json::Value;

use compile::Compiler;
use tree::Node;

pub use saved_groups::SavedGroups;
pub(crate) use tree::AttributePath;

/// Why a condition was refused. `path` points into the condition JSON (`$` is its root, `.key`
/// an object key, `[i]` an array element), e.g. `$.appVersion.$regex`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConditionError {
    pub path: String,
    pub message: String,
}

/// A compiled condition, cheap to match against any number of attribute sets.
#[derive(Debug, Clone)]
pub struct Condition {
    root: Node,
}

impl Condition {
    /// Compiles `condition`, refusing anything GrowthBook would not evaluate as its author
    /// probably meant: invalid regexes, unknown operators, operands of the wrong type, operators
    /// mixed with plain keys, non-object conditions and nesting over 64 levels. No saved groups
    /// are known, so `$inGroup` and `$notInGroup` are refused too (see [`Condition::compile_with`]).
    pub fn compile(condition: &Value) -> Result<Condition, ConditionError> {
        Self::compile_with(condition, &SavedGroups::default())
    }

    /// [`Condition::compile`] with `saved_groups` for `$inGroup` and `$notInGroup`, refusing ids
    /// that name no group. The condition shares the groups' hashed sets.
    pub fn compile_with(condition: &Value, saved_groups: &SavedGroups) -> Result<Condition, ConditionError> {
        let (compiled, mut problems) = Self::compile_lenient_with(condition, saved_groups);
        if problems.is_empty() { Ok(compiled) } else { Err(problems.swap_remove(0)) }
    }

    /// Compiles `condition` the way GrowthBook evaluates it, even where it is malformed (an
    /// invalid regex matches nothing, `$not` of it matches everything), and reports what
    /// [`Condition::compile`] would have refused. Feature rules use this: a stored rule keeps
    /// evaluating as every GrowthBook SDK would evaluate it.
    pub fn compile_lenient(condition: &Value) -> (Condition, Vec<ConditionError>) {
        Self::compile_lenient_with(condition, &SavedGroups::default())
    }

    /// [`Condition::compile_lenient`] with `saved_groups`; an unknown group is an empty one.
    pub fn compile_lenient_with(condition: &Value, saved_groups: &SavedGroups) -> (Condition, Vec<ConditionError>) {
        let mut compiler = Compiler::new(saved_groups);
        let root = compiler.condition(condition, "$", 0);
        (Condition { root }, compiler.problems)
    }

    /// Whether `attributes` (normally a JSON object) satisfy the condition. Never panics; where
    /// GrowthBook's evaluator would throw, the condition does not match.
    pub fn matches(&self, attributes: &Value) -> bool {
        self.root.evaluate(attributes).unwrap_or(false)
    }
}

/// Version order as the `$v…` operators see it (`10.10` after `10.9`, `1.0.0` after `1.0.0-beta`).
pub fn compare_versions(left: &str, right: &str) -> std::cmp::Ordering {
    version::padded_version(&Value::String(left.to_owned()))
        .cmp(&version::padded_version(&Value::String(right.to_owned())))
}

/// GrowthBook's `evalCondition(attributes, condition)`, with no saved groups. Compiles on every
/// call: hold a [`Condition`] to match many users.
pub fn eval_condition(attributes: &Value, condition: &Value) -> bool {
    eval_condition_with(attributes, condition, &SavedGroups::default())
}

/// GrowthBook's `evalCondition(attributes, condition, savedGroups)`. Compiles on every call (the
/// groups themselves are hashed already).
pub fn eval_condition_with(attributes: &Value, condition: &Value, saved_groups: &SavedGroups) -> bool {
    Condition::compile_lenient_with(condition, saved_groups).0.matches(attributes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn error_of(condition: Value) -> ConditionError {
        match Condition::compile(&condition) {
            Ok(compiled) => panic!("{condition} compiled to {compiled:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn compiled_conditions_match() {
        let condition = Condition::compile(&json!({
            "country": {"$in": ["US", "CA"]},
            "appVersion": {"$vgte": "2.3.0"},
            "$or": [{"plan": "pro"}, {"beta": true}],
        }));
        let Ok(condition) = condition else {
            panic!("{condition:?}");
        };
        assert!(condition.matches(&json!({"country": "US", "appVersion": "2.10.1", "plan": "pro"})));
        assert!(condition.matches(&json!({"country": "CA", "appVersion": "2.3.0", "beta": 1})));
        assert!(!condition.matches(&json!({"country": "US", "appVersion": "2.2.9", "plan": "pro"})));
        assert!(!condition.matches(&json!({"country": "FR", "appVersion": "3.0.0", "plan": "pro"})));
        assert!(!condition.matches(&json!("not an object")));
    }

    #[test]
    fn invalid_regex_is_refused_with_its_path() {
        let error = error_of(json!({"attributes.version": {"$regex": "[unclosed"}}));
        assert_eq!(error.path, "$.attributes.version.$regex");
        assert!(error.message.starts_with("invalid regex: "), "{error}");
        assert!(!error.message.ends_with('.'), "{error}");
    }

    #[test]
    fn operators_nested_in_plain_objects_are_refused() {
        // GrowthBook compares a plain object literally, so these operators would never run.
        let error = error_of(json!({"attributes": {"version": {"$vgte": "1.0.0"}}}));
        assert_eq!(error.path, "$.attributes.version.$vgte");
        assert!(error.message.contains("dotted attribute path"), "{error}");
        let error = error_of(json!({"tags": [{"$eq": 1}]}));
        assert_eq!(error.path, "$.tags[0].$eq");
    }

    #[test]
    fn unknown_operators_and_wrong_operands_are_refused() {
        let unknown = error_of(json!({"name": {"$regx": "hello"}}));
        assert_eq!(unknown.path, "$.name.$regx");
        assert_eq!(unknown.message, "unknown operator `$regx`");

        let cases = [
            (json!({"n": {"$in": 1}}), "$.n.$in", "expected an array"),
            (json!({"n": {"$exists": "yes"}}), "$.n.$exists", "expected a boolean"),
            (json!({"$or": {"a": 1}}), "$.$or", "expected an array of conditions"),
            (json!({"$and": [1]}), "$.$and[0]", "condition must be an object"),
            (json!([{"a": 1}]), "$", "condition must be an object"),
            (json!({"v": {"$vgt": [1]}}), "$.v.$vgt", "expected a version string"),
            (json!({"t": {"$type": "str"}}), "$.t.$type", "expected one of"),
            (json!({"g": {"$inGroup": "beta"}}), "$.g.$inGroup", "unknown saved group `beta`"),
            (json!({"g": {"$notInGroup": 1}}), "$.g.$notInGroup", "expected a saved group id"),
            (json!({"x": {"$eq": 1, "y": 2}}), "$.x", "operators cannot be mixed"),
            (json!({"x": {"$all": [{"$bad": 1}]}}), "$.x.$all[0].$bad", "unknown operator"),
        ];
        for (condition, path, message) in cases {
            let error = error_of(condition);
            assert_eq!(error.path, path, "{error}");
            assert!(error.message.starts_with(message), "{error}");
        }
    }

    #[test]
    fn lenient_compilation_keeps_growthbook_semantics() {
        let invalid = json!({"name": {"$not": {"$regex": "[unclosed"}}});
        let (condition, problems) = Condition::compile_lenient(&invalid);
        assert_eq!(problems.len(), 1);
        assert!(condition.matches(&json!({"name": "anything"})));
        assert!(!eval_condition(&json!({"name": "x"}), &json!({"name": {"$regex": "("}})));
        assert!(eval_condition(&json!({"g": 1}), &json!({"g": {"$notInGroup": "beta"}})));
    }

    #[test]
    fn thrown_errors_unwind_the_whole_condition() {
        // GrowthBook's evaluator throws on `$or: null`; `$not` does not turn that into a match.
        assert!(!eval_condition(&json!({}), &json!({"$not": {"$or": null}})));
        assert!(!eval_condition(&json!({"a": [1]}), &json!({"a": {"$elemMatch": null}})));
        assert!(!eval_condition(&json!({"a": [1]}), &json!({"a": {"$not": {"$elemMatch": null}}})));
        assert!(eval_condition(&json!({"a": 1}), &json!({"a": {"$not": {"$elemMatch": null}}})));
        assert!(eval_condition(&json!({"a": 1}), &json!({"$or": [{"a": 1}, {"$or": null}]})));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut condition = json!({"a": 1});
        for _ in 0..200 {
            condition = json!({"$not": condition});
        }
        let error = error_of(condition.clone());
        assert_eq!(error.message, "condition is nested too deeply");
        assert!(!eval_condition(&json!({"a": 1}), &condition));
    }

    #[test]
    fn javascript_coercions_are_kept() {
        assert!(eval_condition(&json!({}), &json!({"name": "null"})));
        assert!(eval_condition(&json!({}), &json!({"count": 0})));
        assert!(eval_condition(&json!({"n": "0x10"}), &json!({"n": 16})));
        assert!(eval_condition(&json!({"tags": ["a", "b"]}), &json!({"tags": "a,b"})));
        assert!(eval_condition(&json!({"id": 42}), &json!({"id": {"$regex": "^4"}})));
        assert!(eval_condition(&json!({"a": [0, "x"]}), &json!({"a": {"$elemMatch": {"$exists": true}}})));
        assert!(!eval_condition(&json!({"a": [0, ""]}), &json!({"a": {"$elemMatch": {"$exists": true}}})));
        assert!(eval_condition(&json!({"a": "b"}), &json!({"a": {"$lt": "c", "$gt": "B"}})));
    }

    #[test]
    fn case_insensitive_operators() {
        assert!(eval_condition(&json!({"c": "us"}), &json!({"c": {"$ini": ["US", "CA"]}})));
        assert!(!eval_condition(&json!({"c": "Us"}), &json!({"c": {"$nini": ["uS"]}})));
        assert!(eval_condition(&json!({"t": ["A", "b"]}), &json!({"t": {"$alli": ["a", "B"]}})));
        assert!(eval_condition(&json!({"u": "MOBILE"}), &json!({"u": {"$regexi": "mobile"}})));
        // Array attributes intersect; only strings fold, so `"1"` is still not `1`.
        assert!(eval_condition(&json!({"t": ["x", "B"]}), &json!({"t": {"$ini": ["a", "b"]}})));
        assert!(!eval_condition(&json!({"t": ["x", "B"]}), &json!({"t": {"$nini": ["a", "b"]}})));
        assert!(eval_condition(&json!({"t": []}), &json!({"t": {"$nini": ["a"]}})));
        assert!(!eval_condition(&json!({"n": 1}), &json!({"n": {"$ini": ["1"]}})));
        // `$alli` needs an array attribute and every listed value in it.
        assert!(!eval_condition(&json!({"t": "ONE"}), &json!({"t": {"$alli": ["one"]}})));
        assert!(!eval_condition(&json!({"t": ["ONE", "two"]}), &json!({"t": {"$alli": ["one", "three"]}})));
        assert!(!eval_condition(&json!({"u": "Tablet"}), &json!({"u": {"$regex": "tablet"}})));
        // Non-array operands match nothing, like `$in`'s, and strict compilation refuses them.
        assert!(!eval_condition(&json!({"n": 1}), &json!({"n": {"$ini": 1}})));
        assert!(!eval_condition(&json!({"n": 1}), &json!({"n": {"$nini": 1}})));
        assert_eq!(error_of(json!({"n": {"$alli": "a"}})).path, "$.n.$alli");
        assert!(error_of(json!({"u": {"$regexi": "("}})).message.starts_with("invalid regex: "));
    }

    fn saved_groups(groups: Value) -> SavedGroups {
        match serde_json::from_value(groups) {
            Ok(groups) => groups,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn saved_groups_hold_attribute_values() {
        let groups = saved_groups(json!({"beta": [1, "2", 3], "staff": ["ann", "bob"]}));
        let eval = |attributes: Value, condition: Value| eval_condition_with(&attributes, &condition, &groups);
        assert!(eval(json!({"id": 1}), json!({"id": {"$inGroup": "beta"}})));
        assert!(eval(json!({"id": "2"}), json!({"id": {"$inGroup": "beta"}})));
        assert!(!eval(json!({"id": "3"}), json!({"id": {"$inGroup": "beta"}})), "strictly typed");
        assert!(!eval(json!({"id": 5}), json!({"id": {"$inGroup": "beta"}})));
        assert!(eval(json!({"id": 5}), json!({"id": {"$notInGroup": "beta"}})));
        assert!(!eval(json!({"id": 3}), json!({"id": {"$notInGroup": "beta"}})));
        assert!(eval(json!({"id": ["x", "bob"]}), json!({"id": {"$inGroup": "staff"}})));
        assert!(!eval(json!({}), json!({"id": {"$inGroup": "staff"}})));
        // Unknown ids are empty groups.
        assert!(!eval(json!({"id": 1}), json!({"id": {"$inGroup": "gone"}})));
        assert!(eval(json!({"id": 1}), json!({"id": {"$notInGroup": "gone"}})));
        // Groups reach nested conditions.
        assert!(eval(json!({"id": 9}), json!({"id": {"$not": {"$inGroup": "beta"}}})));
        assert!(eval(json!({"people": ["ann"]}), json!({"people": {"$elemMatch": {"$inGroup": "staff"}}})));
        assert!(eval(json!({"a": "bob"}), json!({"$or": [{"b": 1}, {"a": {"$inGroup": "staff"}}]})));
        // Without the groups, every group is unknown.
        assert!(!eval_condition(&json!({"id": 1}), &json!({"id": {"$inGroup": "beta"}})));
    }

    #[test]
    fn unknown_saved_groups_are_refused_when_strict() {
        let groups = saved_groups(json!({"beta": ["u1"]}));
        assert!(Condition::compile_with(&json!({"id": {"$inGroup": "beta"}}), &groups).is_ok());
        let Err(error) = Condition::compile_with(&json!({"id": {"$notInGroup": "beat"}}), &groups) else {
            panic!("an unknown group compiled");
        };
        assert_eq!((error.path.as_str(), error.message.as_str()), ("$.id.$notInGroup", "unknown saved group `beat`"));
        // A number operand is read as its string form, as a JavaScript property key is.
        let numbered = saved_groups(json!({"7": ["u1"]}));
        let (condition, problems) = Condition::compile_lenient_with(&json!({"id": {"$inGroup": 7}}), &numbered);
        assert_eq!(problems.len(), 1);
        assert!(condition.matches(&json!({"id": "u1"})));
    }

    #[test]
    fn inherited_property_names_throw_like_javascript() {
        // `savedGroups["toString"]` is a function in JavaScript, and `includes` on it throws.
        let groups = SavedGroups::default();
        let eval = |attributes: Value, condition: Value| eval_condition_with(&attributes, &condition, &groups);
        assert!(!eval(json!({"id": 1}), json!({"id": {"$notInGroup": "toString"}})));
        assert!(!eval(json!({"id": 1}), json!({"$not": {"id": {"$inGroup": "constructor"}}})));
        assert!(eval(json!({"id": []}), json!({"id": {"$notInGroup": "__proto__"}})), "an empty array is not searched");
        // A group of that name is an ordinary group.
        let named = saved_groups(json!({"toString": [1]}));
        assert!(eval_condition_with(&json!({"id": 1}), &json!({"id": {"$inGroup": "toString"}}), &named));
    }

    #[test]
    fn large_saved_groups_are_hashed_once_and_shared() {
        const IDS: usize = 100_000;
        let ids: Vec<Value> = (0..IDS).map(|index| Value::String(format!("user-{index}"))).collect();
        let groups = SavedGroups::new([("whitelist".to_owned(), ids)]);
        let compile = |condition: Value| match Condition::compile_with(&condition, &groups) {
            Ok(condition) => condition,
            Err(error) => panic!("{error}"),
        };
        let included = compile(json!({"id": {"$inGroup": "whitelist"}}));
        let excluded = compile(json!({"id": {"$notInGroup": "whitelist"}}));
        let either =
            compile(json!({"$or": [{"userId": {"$inGroup": "whitelist"}}, {"id": {"$inGroup": "whitelist"}}]}));
        // The groups' set and one reference per operator: the list is not copied per condition.
        assert_eq!(groups.members("whitelist").map(Arc::strong_count), Some(5));

        let matched = (0..2 * IDS).filter(|index| included.matches(&json!({"id": format!("user-{index}")}))).count();
        assert_eq!(matched, IDS);
        assert!(excluded.matches(&json!({"id": format!("user-{IDS}")})));
        assert!(!excluded.matches(&json!({"id": "user-99999"})));
        assert!(either.matches(&json!({"userId": "user-0", "id": "someone"})));
        assert!(!included.matches(&json!({"id": 7})), "the number is not the string");
    }
}
