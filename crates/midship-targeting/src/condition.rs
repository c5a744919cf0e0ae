//! Conditions: GrowthBook's MongoDB-like query language over user attributes
//! (`{"country": {"$in": ["US", "CA"]}, "appVersion": {"$vgte": "2.3.0"}}`).
//!
//! A condition is compiled once ([`Condition::compile`]) and then matched against many users
//! ([`Condition::matches`]): regexes are built, `$in` lists hashed and versions padded ahead of
//! time. [`eval_condition`] is GrowthBook's `evalCondition`, exactly, for one-off checks.
//!
//! Where the `regex` crate differs from JavaScript's `RegExp` (no lookaround or backreferences;
//! `\d`/`\w` are made ASCII like JavaScript's) and where serde_json differs from JavaScript
//! objects (key order is not kept, so object equality ignores it), this module follows the former.

mod compile;
mod pattern;
mod tree;
mod version;

use serde_json::Value;

use compile::Compiler;
use tree::Node;

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
    /// mixed with plain keys, non-object conditions and nesting over 64 levels.
    pub fn compile(condition: &Value) -> Result<Condition, ConditionError> {
        let (compiled, mut problems) = Self::compile_lenient(condition);
        if problems.is_empty() { Ok(compiled) } else { Err(problems.swap_remove(0)) }
    }

    /// Compiles `condition` the way GrowthBook evaluates it, even where it is malformed (an
    /// invalid regex matches nothing, `$not` of it matches everything), and reports what
    /// [`Condition::compile`] would have refused. Feature rules use this: a stored rule keeps
    /// evaluating as every GrowthBook SDK would evaluate it.
    pub fn compile_lenient(condition: &Value) -> (Condition, Vec<ConditionError>) {
        let mut compiler = Compiler::default();
        let root = compiler.condition(condition, "$", 0);
        (Condition { root }, compiler.problems)
    }

    /// Whether `attributes` (normally a JSON object) satisfy the condition. Never panics; where
    /// GrowthBook's evaluator would throw, the condition does not match.
    pub fn matches(&self, attributes: &Value) -> bool {
        self.root.evaluate(attributes).unwrap_or(false)
    }
}

/// GrowthBook's `evalCondition(attributes, condition)`. Compiles on every call: hold a
/// [`Condition`] to match many users.
/// Version order as the `$v…` operators see it (`10.10` after `10.9`, `1.0.0` after `1.0.0-beta`).
pub fn compare_versions(left: &str, right: &str) -> std::cmp::Ordering {
    version::padded_version(&Value::String(left.to_owned()))
        .cmp(&version::padded_version(&Value::String(right.to_owned())))
}

pub fn eval_condition(attributes: &Value, condition: &Value) -> bool {
    Condition::compile_lenient(condition).0.matches(attributes)
}

#[cfg(test)]
mod tests {
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
            (json!({"g": {"$inGroup": "beta"}}), "$.g.$inGroup", "saved groups"),
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
    }
}
