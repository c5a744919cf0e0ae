//! Evaluating every feature for one user, as a device's config fetch does: 50 features mixing
//! whitelists (`$in` over 100,000 ids), percentage rollouts and app-version rules.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midship_targeting::feature::{CompiledFeatures, FeatureDefinition, FeatureRule, UserContext};
use serde_json::{Value, json};

const FEATURES: usize = 50;
const WHITELIST_SIZE: usize = 100_000;
const USERS: usize = 1_000;

fn features() -> HashMap<String, FeatureDefinition> {
    let whitelist: Vec<Value> = (0..WHITELIST_SIZE).map(|index| Value::String(format!("user-{}", index * 7))).collect();
    (0..FEATURES)
        .map(|index| {
            let rule = match index % 3 {
                0 => FeatureRule {
                    condition: Some(json!({"id": {"$in": whitelist}})),
                    force: Some(json!(true)),
                    ..FeatureRule::default()
                },
                1 => FeatureRule {
                    force: Some(json!(true)),
                    coverage: Some(0.3),
                    hash_attribute: Some("id".to_owned()),
                    hash_version: Some(2),
                    ..FeatureRule::default()
                },
                _ => FeatureRule {
                    condition: Some(json!({"appVersion": {"$vgte": format!("2.{}.0", index % 10)}})),
                    force: Some(json!({"layout": "new", "columns": 3})),
                    ..FeatureRule::default()
                },
            };
            let definition = FeatureDefinition { default_value: json!(false), rules: vec![rule] };
            (format!("feature-{index}"), definition)
        })
        .collect()
}

fn users() -> Vec<UserContext> {
    (0..USERS)
        .map(|index| UserContext {
            attributes: json!({
                "id": format!("user-{}", index * 3),
                "appVersion": format!("{}.{}.{}", 1 + index % 3, index % 12, index % 5),
                "country": "US",
            }),
            ..UserContext::default()
        })
        .collect()
}

fn evaluate_all_features(c: &mut Criterion) {
    let features = features();
    let compiled = CompiledFeatures::new(&features);
    let keys: Vec<&str> = compiled.keys().collect();
    let users = users();

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(FEATURES as u64));
    let mut next_user = users.iter().cycle();
    group.bench_function("50 features for one user", |b| {
        b.iter(|| {
            let user = next_user.next().unwrap_or(&users[0]);
            let mut on = 0;
            for key in &keys {
                on += usize::from(compiled.evaluate(user, key).on);
            }
            black_box(on)
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = evaluate_all_features
}
criterion_main!(benches);
