//! The statistics engine against GrowthBook's gbstats 0.8.0 (PyPI; with numpy < 2 and pandas < 2):
//! several hundred generated cases — proportions, means with sums of squares, ratios, CUPED, and
//! unit and event quantiles, tiny samples and zero variance included — computed by both, compared
//! to 1e-6 relative.

use std::process::Command;

use midship_stats::bayesian::{self, BayesianSettings};
use midship_stats::frequentist::{self, FrequentistSettings};
use midship_stats::srm::srm_p_value;
use midship_stats::{NotEnoughData, Statistic};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

fn close(actual: f64, expected: f64) -> bool {
    let scale = expected.abs().max(actual.abs());
    (actual - expected).abs() <= TOLERANCE * scale.max(1e-9)
}

fn numbers(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Number(number) => vec![number.as_f64().unwrap()],
        _ => Vec::new(),
    }
}

#[test]
fn results_agree_with_gbstats_on_generated_cases() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/gbstats_cases.py");
    let output = Command::new("python3").args([script, "20261204", "900"]).output().expect("python3 runs");
    assert!(output.status.success(), "gbstats: {}", String::from_utf8_lossy(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let cases = document["cases"].as_array().unwrap();
    assert!(cases.len() >= 800, "{} cases", cases.len());
    let mut compared = 0;
    let mut not_enough = 0;
    let mut wrong = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let a: Statistic = serde_json::from_value(case["a"].clone()).unwrap();
        let b: Statistic = serde_json::from_value(case["b"].clone()).unwrap();
        let outputs = &case["outputs"];
        let mut check =
            |what: &str, ours: Result<Vec<f64>, NotEnoughData>, theirs: &Value| match (ours, theirs["error"].is_null())
            {
                (Ok(ours), true) => {
                    let expected: Vec<f64> = numbers(&theirs["expected"])
                        .into_iter()
                        .chain(numbers(&theirs["ci"]))
                        .chain(numbers(&theirs["p_value"]))
                        .chain(numbers(&theirs["chance_to_win"]))
                        .chain(numbers(&theirs["risk"]))
                        .collect();
                    compared += 1;
                    if ours.len() != expected.len() || !ours.iter().zip(&expected).all(|(x, y)| close(*x, *y)) {
                        wrong.push(format!("case {index} {what}: ours {ours:?}, gbstats {expected:?}; {case}"));
                    }
                }
                (Err(_), false) => not_enough += 1,
                (ours, _) => wrong.push(format!("case {index} {what}: ours {ours:?}, gbstats {theirs}")),
            };
        let frequentist_result = frequentist::compare(&a, &b, FrequentistSettings::default())
            .map(|result| vec![result.expected, result.ci[0], result.ci[1], result.p_value]);
        check("frequentist", frequentist_result, &outputs["frequentist"]);
        let sequential = FrequentistSettings { sequential: Some(5000.0), ..FrequentistSettings::default() };
        let sequential_result = frequentist::compare(&a, &b, sequential)
            .map(|result| vec![result.expected, result.ci[0], result.ci[1], result.p_value]);
        check("sequential", sequential_result, &outputs["sequential"]);
        let bayesian_result = bayesian::compare(&a, &b, BayesianSettings::default()).map(|result| {
            vec![result.expected, result.ci[0], result.ci[1], result.chance_to_win, result.risk[0], result.risk[1]]
        });
        check("bayesian", bayesian_result, &outputs["bayesian"]);
        let srm = &case["srm"];
        let units: Vec<f64> = numbers(&srm["units"]);
        let weights: Vec<f64> = numbers(&srm["weights"]);
        let expected = srm["p_value"].as_f64().unwrap();
        if !close(srm_p_value(&units, &weights), expected) {
            wrong.push(format!("case {index} srm: ours {}, gbstats {expected}", srm_p_value(&units, &weights)));
        }
    }
    assert!(wrong.is_empty(), "{} of {compared} comparisons differ:\n{}", wrong.len(), wrong.join("\n"));
    assert!(
        compared > 1000 && not_enough > 10,
        "both kinds of case occur: {compared} compared, {not_enough} not enough data"
    );
    let quantiles_compared = cases
        .iter()
        .filter(|case| case["a"]["kind"] == "quantile" && case["outputs"]["frequentist"]["error"].is_null())
        .map(|case| case["a"].get("clusters").is_some())
        .fold([0, 0], |[units, events], clustered| if clustered { [units, events + 1] } else { [units + 1, events] });
    assert!(quantiles_compared.iter().all(|count| *count > 30), "unit and event quantiles: {quantiles_compared:?}");
}
