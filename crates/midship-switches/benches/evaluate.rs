//! Evaluation speed of a whole configuration for one device: 50 switches with whitelist (100,000
//! user ids), percentage and version rules, evaluated from a published snapshot as a config pull
//! does. `cargo bench -p midship-switches` reports switch evaluations per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midship_switches::{ConfigDocument, ConfigSnapshot, SwitchDefinition};
use midship_targeting::DeviceContext;
use serde_json::json;

const SWITCHES: usize = 50;
const WHITELIST: usize = 100_000;

fn configuration() -> ConfigDocument {
    let whitelist: Vec<String> = (0..WHITELIST).map(|index| format!("user-{index}")).collect();
    let switches = (0..SWITCHES)
        .map(|index| {
            let definition = match index % 3 {
                0 => json!({ "key": format!("flag.{index}"), "type": "bool", "default_value": false, "targets": [
                    { "value": true, "rule": { "whitelist": { "user_ids": whitelist } } },
                    { "value": true, "rule": { "percentage": 20 } }
                ] }),
                1 => json!({ "key": format!("limit.{index}"), "type": "number", "default_value": 10, "targets": [
                    { "value": 50, "rule": { "app_version": { "in_range": { "min": "3.1.0" } }, "platforms": ["ios", "android"] } },
                    { "value": 20, "rule": { "os_version": { "out_of_range": { "min": "10", "max": "12.9" } }, "percentage": 50 } }
                ] }),
                _ => json!({ "key": format!("copy.{index}"), "type": "string", "default_value": "hello", "targets": [
                    { "value": "hi Hangzhou", "rule": { "cities": { "include": ["Hangzhou", "Ningbo"] }, "networks": { "exclude": ["2g"] } } }
                ] }),
            };
            serde_json::from_value::<SwitchDefinition>(definition).expect("valid definition")
        })
        .collect();
    ConfigDocument::new(switches)
}

fn devices() -> Vec<DeviceContext> {
    (0..1024)
        .map(|index| DeviceContext {
            device_id: Some(format!("DEV{index:06}")),
            user_id: Some(format!("user-{}", index * 331)),
            platform: Some(["ios", "android", "harmony"][index % 3].to_owned()),
            app_version: Some(format!("3.{}.{}", index % 4, index % 7)),
            os_version: Some(format!("{}.{}", 9 + index % 8, index % 3)),
            city: Some(["Hangzhou", "Beijing"][index % 2].to_owned()),
            network: Some(["wifi", "4g", "2g"][index % 3].to_owned()),
            ..DeviceContext::default()
        })
        .collect()
}

fn evaluate(criterion: &mut Criterion) {
    let snapshot = ConfigSnapshot::build("W", "A", 1, None, &configuration()).expect("configuration compiles");
    let devices = devices();
    let mut group = criterion.benchmark_group("config");
    group.throughput(Throughput::Elements(SWITCHES as u64));
    group.measurement_time(Duration::from_secs(5));
    let mut next = 0;
    group.bench_function("evaluate_50_switches", |bencher| {
        bencher.iter(|| {
            next = (next + 1) % devices.len();
            black_box(snapshot.evaluate(black_box(&devices[next])))
        })
    });
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
