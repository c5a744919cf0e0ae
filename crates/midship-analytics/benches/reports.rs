//! Report query times over in-memory rollups the size the targets name: a 30-day overview and
//! day-1..30 retention over 1,000,000 devices, and a 3-step funnel over 10,000,000 custom events.
//! Setup (counting the events) takes a minute; each report is then timed alone.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use midship_analytics::event::{Event, Payload};
use midship_analytics::report::{self, DayRange, Period, Subject};
use midship_analytics::rollup::{DAY_MS, WorkspaceRollup};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DEVICES: u32 = 1_000_000;
const DAYS: i32 = 30;
const FIRST_DAY: i32 = 20_000;
const FUNNEL_EVENTS: usize = 10_000_000;
const NAMES: [&str; 5] = ["view_item", "add_to_cart", "checkout", "search", "share"];

fn event(time: i64, payload: Payload) -> Event {
    Event { time, client_time: None, user_id: None, app_version: Some("3.0.0".into()), payload }
}

/// 1,000,000 devices arriving evenly over 30 days, each coming back on a later day with
/// probability 0.3, one launch per active day.
fn devices_rollup() -> (WorkspaceRollup, usize) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut rollup = WorkspaceRollup::default();
    let mut launches = 0;
    for device in 0..DEVICES {
        let first = FIRST_DAY + (device % DAYS as u32) as i32;
        let mut events = Vec::new();
        for day in first..FIRST_DAY + DAYS {
            if day == first || rng.random_bool(0.3) {
                let time = i64::from(day) * DAY_MS + rng.random_range(0..DAY_MS);
                events.push(event(time, Payload::Launch { session_id: None, cold: Some(true) }));
            }
        }
        launches += events.len();
        rollup.apply(&format!("DEVICE{device:010}"), &events, i64::from(FIRST_DAY + DAYS) * DAY_MS);
    }
    (rollup, launches)
}

/// 10,000,000 custom events of 5 names from 1,000,000 devices over 30 days.
fn events_rollup() -> WorkspaceRollup {
    let mut rng = StdRng::seed_from_u64(2);
    let mut rollup = WorkspaceRollup::default();
    let per_device = FUNNEL_EVENTS / DEVICES as usize;
    for device in 0..DEVICES {
        let start = i64::from(FIRST_DAY) * DAY_MS + rng.random_range(0..i64::from(DAYS - 1) * DAY_MS);
        let events: Vec<Event> = (0..per_device)
            .map(|index| {
                let name = NAMES[rng.random_range(0..NAMES.len())].to_owned();
                let time = start + index as i64 * rng.random_range(1_000..3_600_000);
                event(time, Payload::Event { name, attributes: Default::default() })
            })
            .collect();
        rollup.apply(&format!("DEVICE{device:010}"), &events, i64::from(FIRST_DAY + DAYS) * DAY_MS);
    }
    rollup
}

fn reports(criterion: &mut Criterion) {
    let range = DayRange { from: FIRST_DAY, to: FIRST_DAY + DAYS - 1 };
    // Late enough that every period asked for has begun, so every figure is computed.
    let today = range.to + 60;
    let started = Instant::now();
    let (devices, launches) = devices_rollup();
    eprintln!("counted {launches} launches of {DEVICES} devices in {:.1?}", started.elapsed());
    let mut group = criterion.benchmark_group("reports");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("overview_30_days_1m_devices", |bench| {
        bench.iter(|| black_box(report::overview(&devices, range, None)))
    });
    group.bench_function("retention_day_1_and_7_30_cohorts_1m_devices", |bench| {
        bench.iter(|| black_box(report::retention(&devices, range, Subject::Device, Period::Day, &[1, 7], today)))
    });
    let every_day: Vec<u32> = (1..=30).collect();
    group.bench_function("retention_day_1_to_30_30_cohorts_1m_devices", |bench| {
        bench.iter(|| black_box(report::retention(&devices, range, Subject::Device, Period::Day, &every_day, today)))
    });
    group.bench_function("retention_weekly_1m_devices", |bench| {
        bench.iter(|| black_box(report::retention(&devices, range, Subject::Device, Period::Week, &[1, 2, 3], today)))
    });
    drop(devices);

    let started = Instant::now();
    let events = events_rollup();
    eprintln!("counted {} custom events in {:.1?}", events.custom_events.len(), started.elapsed());
    let steps: Vec<String> = NAMES[..3].iter().map(|name| (*name).to_owned()).collect();
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("funnel_3_steps_10m_events", |bench| {
        bench.iter(|| black_box(report::funnel(&events, &steps, range, DAY_MS)))
    });
    group.bench_function("events_30_days_10m_events", |bench| {
        bench.iter(|| black_box(report::events(&events, range, None)))
    });
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
