//! An experiment's results over 1,000,000 exposed devices and 10,000,000 events (issue 20's
//! target: under 1 s): conversion within 24 hours, revenue per unit, revenue per order (a ratio),
//! page views, day-7 retention, crashes per launch and the 95th percentile of startup times,
//! summed per variation from the in-memory log and compared by midship-stats. The baseline, measured in the same run, is one plain pass
//! over the same 10,000,000 logged events summing a field of each: the least any computation over
//! them costs on this machine at this moment. Prints both and their ratio.
//!
//! Run: `cargo bench -p midship-analytics --bench experiments`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use midship_analytics::event::{Event, Payload};
use midship_analytics::rollup::{DAY_MS, WorkspaceRollup};
use midship_experiments::AssignmentUnit;
use midship_experiments::metric::{Measure, MetricDefinition, MetricKind, MetricPlan, default_metrics};
use midship_experiments::results::{AnalysisSettings, analyze};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const DEVICES: u32 = 1_000_000;
/// Ten events per device besides its exposure: 10,000,000 in all.
const EVENTS_PER_DEVICE: usize = 10;
const START: i64 = 20_000 * DAY_MS;

fn event(time: i64, payload: Payload) -> Event {
    Event { time, client_time: None, user_id: None, app_version: Some("3.0.0".into()), payload }
}

fn metrics() -> Vec<MetricDefinition> {
    let amount = Measure::Attribute { event: "buy".into(), attribute: "amount".into() };
    let metric = |key: &str, kind| MetricDefinition {
        key: key.into(),
        name: String::new(),
        kind,
        inverse: false,
        guardrail: false,
    };
    let mut metrics = vec![
        metric("bought", MetricKind::Conversion { event: "buy".into(), within_hours: Some(24) }),
        metric("revenue", MetricKind::Mean { measure: amount.clone(), within_hours: None, cuped_days: None }),
        metric(
            "per_order",
            MetricKind::Ratio {
                numerator: amount,
                denominator: Measure::Events { event: "buy".into() },
                within_hours: None,
            },
        ),
    ];
    metrics.extend(default_metrics());
    metrics
}

fn main() {
    let setup = Instant::now();
    let mut rng = StdRng::seed_from_u64(20);
    let mut rollup = WorkspaceRollup::default();
    let mut events = 0_usize;
    for device in 0..DEVICES {
        let variation = if device % 2 == 0 { "control" } else { "blue" };
        let exposed_at = START + rng.random_range(0..14 * DAY_MS);
        let mut batch = vec![event(
            exposed_at,
            Payload::Experiment {
                experiment: "button-color".into(),
                variation: variation.into(),
                unit: format!("DEVICE{device:010}"),
                unit_kind: AssignmentUnit::Device,
                proof: String::new(),
            },
        )];
        for index in 0..EVENTS_PER_DEVICE {
            let time = exposed_at + (index as i64 - 2) * rng.random_range(60_000..2 * DAY_MS);
            let payload = match rng.random_range(0..10) {
                0..=1 => Payload::Launch { session_id: None, cold: Some(true) },
                2 => Payload::Startup { duration_ms: rng.random_range(300..3_000), cold: Some(true) },
                3..=6 => Payload::Page { page: "home".into(), duration_ms: Some(3_000), referrer: None },
                7 if rng.random_bool(0.02) => Payload::Crash(
                    serde_json::from_value(json!({
                        "exception": { "type": "java.lang.IllegalStateException", "message": "boom" },
                        "frames": [{ "function": "com.bank.Pay.run" }]
                    }))
                    .unwrap(),
                ),
                _ => Payload::Event {
                    name: "buy".into(),
                    attributes: BTreeMap::from([("amount".to_owned(), json!(rng.random_range(5.0..80.0_f64)))]),
                },
            };
            batch.push(event(time, payload));
        }
        events += batch.len() - 1;
        rollup.apply(&format!("DEVICE{device:010}"), &batch, START + 30 * DAY_MS);
    }
    eprintln!("setup: {events} events and {DEVICES} exposures counted in {:.1} s", setup.elapsed().as_secs_f64());

    let metrics = metrics();
    let variations = vec!["control".to_owned(), "blue".to_owned()];
    let plan = MetricPlan::new(&metrics);
    let mut best_baseline = f64::MAX;
    let mut best_results = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        black_box(rollup.experiments.scan_baseline());
        best_baseline = best_baseline.min(started.elapsed().as_secs_f64());

        let started = Instant::now();
        let summary = rollup.experiments.summarize(
            "button-color",
            AssignmentUnit::Device,
            &variations,
            &plan,
            &rollup.event_names,
            &rollup.days,
        );
        let results = analyze(
            &variations,
            &[0.5, 0.5],
            &metrics,
            &summary.statistics,
            &summary.units,
            0.05,
            AnalysisSettings::default(),
        );
        best_results = best_results.min(started.elapsed().as_secs_f64());
        assert_eq!(results.units.iter().sum::<u64>(), u64::from(DEVICES));
        let startup = results.metrics.iter().find(|metric| metric.key == "startup_p95").expect("a default metric");
        assert!(startup.variations.iter().all(|variation| variation.statistic.n() > 100_000.0), "{startup:?}");
        black_box(results);
    }
    println!("baseline: one pass over the {events} logged events: {:.3} s", best_baseline);
    println!(
        "results: {} metrics × 2 variations over {DEVICES} exposed units: {:.3} s (target: under 1 s)",
        metrics.len(),
        best_results
    );
    println!("ratio results ÷ baseline: {:.1}", best_results / best_baseline);
}
