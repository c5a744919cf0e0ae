//! The suite's test of leases: one holder at a time, renewed by its holder, taken over once lapsed.

use std::sync::Arc;

use super::T0;
use crate::{LeaseClaim, Storage};

fn claim<'a>(holder: &'a str, now: i64) -> LeaseClaim<'a> {
    LeaseClaim { name: "push-task:T1", holder, now, until: now + 10_000 }
}

pub async fn a_lease_has_one_holder_until_it_lapses_or_is_released(storage: Arc<dyn Storage>) {
    assert!(storage.acquire_lease(&claim("node-a", T0)).await.unwrap());
    assert!(!storage.acquire_lease(&claim("node-b", T0 + 1)).await.unwrap(), "node a holds it");
    assert!(storage.acquire_lease(&claim("node-a", T0 + 9_000)).await.unwrap(), "its holder renews it");
    assert!(!storage.acquire_lease(&claim("node-b", T0 + 10_000)).await.unwrap(), "renewed until T0 + 19 s");
    assert!(storage.acquire_lease(&claim("node-b", T0 + 19_000)).await.unwrap(), "lapsed: another node takes it");
    assert!(!storage.acquire_lease(&claim("node-a", T0 + 19_001)).await.unwrap(), "the old holder lost it");
    storage.release_lease("push-task:T1", "node-a").await.unwrap();
    assert!(!storage.acquire_lease(&claim("node-c", T0 + 19_002)).await.unwrap(), "only the holder releases it");
    storage.release_lease("push-task:T1", "node-b").await.unwrap();
    assert!(storage.acquire_lease(&claim("node-c", T0 + 19_003)).await.unwrap(), "released: free at once");
    let other = LeaseClaim { name: "job:alerts", holder: "node-a", now: T0 + 19_004, until: T0 + 29_004 };
    assert!(storage.acquire_lease(&other).await.unwrap(), "leases are independent");
}
