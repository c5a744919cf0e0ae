//! The GrowthBook SDK specification's cases (`tests/data/growthbook/cases.json`, spec 0.7.1),
//! run against this crate. Every case of the in-scope sections must pass (sticky bucketing,
//! payload decryption and URL redirects belong to the device SDKs and are out of scope).

use midship_targeting::condition::{SavedGroups, eval_condition_with};
use midship_targeting::feature::{Context, Experiment, evaluate_feature, run_experiment};
use midship_targeting::hash::{choose_variation, get_bucket_ranges, get_equal_weights, hash, in_namespace};
use midship_targeting::query_string::get_query_string_override;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const CASES: &str = include_str!("../data/growthbook/cases.json");

/// GrowthBook's own test suite rounds floats to 8 decimals.
const TOLERANCE: f64 = 1e-8;

type Check = fn(&[Value]) -> Result<(), String>;

const SECTIONS: [(&str, Check); 9] = [
    ("evalCondition", check_eval_condition),
    ("hash", check_hash),
    ("getBucketRange", check_bucket_range),
    ("chooseVariation", check_choose_variation),
    ("inNamespace", check_in_namespace),
    ("getEqualWeights", check_equal_weights),
    ("feature", check_feature),
    ("run", check_run),
    ("getQueryStringOverride", check_query_string_override),
];

#[test]
fn growthbook_spec_cases_pass() {
    let cases: Value = parse(CASES);
    assert_eq!(cases["specVersion"], json!("0.7.1"));
    let mut failures = Vec::new();
    for (section, check) in SECTIONS {
        let Some(section_cases) = cases[section].as_array() else {
            failures.push(format!("{section}: section missing"));
            continue;
        };
        let mut passed = 0;
        for (index, case) in section_cases.iter().enumerate() {
            let outcome = match case.as_array() {
                Some(fields) => check(fields),
                None => Err("case is not an array".to_owned()),
            };
            match outcome {
                Ok(()) => passed += 1,
                Err(reason) => failures.push(format!("{section}[{index}] {}: {reason}", case_name(case))),
            }
        }
        println!("{section}: {passed}/{} passed", section_cases.len());
    }
    assert!(failures.is_empty(), "{} failing case(s):\n{}", failures.len(), failures.join("\n"));
}

fn case_name(case: &Value) -> String {
    match &case[0] {
        Value::String(name) => name.clone(),
        other => other.to_string(),
    }
}

fn check_eval_condition(fields: &[Value]) -> Result<(), String> {
    let (condition, attributes, expected, saved_groups) = match fields {
        [_, condition, attributes, expected] => (condition, attributes, expected, SavedGroups::default()),
        [_, condition, attributes, expected, saved_groups] => (condition, attributes, expected, decode(saved_groups)?),
        _ => return Err("expected [name, condition, attributes, result, savedGroups?]".to_owned()),
    };
    same(&json!(eval_condition_with(attributes, condition, &saved_groups)), expected)
}

fn check_hash(fields: &[Value]) -> Result<(), String> {
    let [seed, value, version, expected] = fields else {
        return Err("expected [seed, value, version, result]".to_owned());
    };
    let actual = hash(text(seed)?, text(value)?, integer(version)?);
    same(&json!(actual), expected)
}

fn check_bucket_range(fields: &[Value]) -> Result<(), String> {
    let [_, arguments, expected] = fields else {
        return Err("expected [name, arguments, result]".to_owned());
    };
    let (variations, coverage, weights): (usize, f64, Option<Vec<f64>>) = decode(arguments)?;
    let actual = get_bucket_ranges(variations, coverage, weights.as_deref());
    same(&json!(actual), expected)
}

fn check_choose_variation(fields: &[Value]) -> Result<(), String> {
    let [_, n, ranges, expected] = fields else {
        return Err("expected [name, n, ranges, result]".to_owned());
    };
    let ranges: Vec<(f64, f64)> = decode(ranges)?;
    same(&json!(choose_variation(decode(n)?, &ranges)), expected)
}

fn check_in_namespace(fields: &[Value]) -> Result<(), String> {
    let [_, id, namespace, expected] = fields else {
        return Err("expected [name, id, namespace, result]".to_owned());
    };
    let namespace: (String, f64, f64) = decode(namespace)?;
    same(&json!(in_namespace(text(id)?, &namespace)), expected)
}

fn check_equal_weights(fields: &[Value]) -> Result<(), String> {
    let [count, expected] = fields else {
        return Err("expected [n, result]".to_owned());
    };
    same(&json!(get_equal_weights(integer(count)?)), expected)
}

fn check_feature(fields: &[Value]) -> Result<(), String> {
    let [_, context, key, expected] = fields else {
        return Err("expected [name, context, key, result]".to_owned());
    };
    let context: Context = decode(context)?;
    let actual = evaluate_feature(&context, text(key)?);
    let actual = serde_json::to_value(&actual).map_err(|error| error.to_string())?;
    // GrowthBook's suite adds an empty `ruleId` to every expected result.
    let mut expected = expected.clone();
    if let Some(expected) = expected.as_object_mut() {
        expected.entry("ruleId").or_insert(json!(""));
    }
    same(&actual, &expected)
}

fn check_run(fields: &[Value]) -> Result<(), String> {
    let [_, context, experiment, value, in_experiment, hash_used] = fields else {
        return Err("expected [name, context, experiment, value, inExperiment, hashUsed]".to_owned());
    };
    let context: Context = decode(context)?;
    let experiment: Experiment = decode(experiment)?;
    let result = run_experiment(&context, &experiment);
    same(&json!([result.value, result.in_experiment, result.hash_used]), &json!([value, in_experiment, hash_used]))
}

fn check_query_string_override(fields: &[Value]) -> Result<(), String> {
    let [_, key, url, variations, expected] = fields else {
        return Err("expected [name, key, url, numVariations, result]".to_owned());
    };
    let actual = get_query_string_override(text(key)?, text(url)?, decode(variations)?);
    same(&json!(actual), expected)
}

fn same(actual: &Value, expected: &Value) -> Result<(), String> {
    if approximately_equal(actual, expected) { Ok(()) } else { Err(format!("expected {expected}, got {actual}")) }
}

/// JSON equality with numbers compared as floats, within [`TOLERANCE`].
fn approximately_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < TOLERANCE,
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| approximately_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| approximately_equal(a, b)))
        }
        _ => a == b,
    }
}

fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|error| format!("cannot decode {value}: {error}"))
}

fn text(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| format!("expected a string, got {value}"))
}

fn integer(value: &Value) -> Result<i64, String> {
    value.as_i64().ok_or_else(|| format!("expected an integer, got {value}"))
}

fn parse(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("cases.json does not parse: {error}"),
    }
}
