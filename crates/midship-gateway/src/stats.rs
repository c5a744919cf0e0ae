//! Per-API call statistics of this node since it started: calls by result code and latency
//! percentiles, for `midship api stats` (Prometheus has the same counts across nodes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use midship_core::api_calls::ApiTotals;

/// Latency buckets grow by 10% from 10 µs, reaching past 100 s: percentiles are within 10%.
const FIRST_BUCKET_MICROS: f64 = 10.0;
const GROWTH: f64 = 1.1;
const BUCKETS: usize = 170;

#[derive(Debug, Clone)]
struct ApiCounters {
    by_result: BTreeMap<u16, u64>,
    latency: Vec<u64>,
}

impl Default for ApiCounters {
    fn default() -> Self {
        Self { by_result: BTreeMap::new(), latency: vec![0; BUCKETS] }
    }
}

fn bucket_of(micros: u64) -> usize {
    if (micros as f64) <= FIRST_BUCKET_MICROS {
        return 0;
    }
    let index = ((micros as f64) / FIRST_BUCKET_MICROS).ln() / GROWTH.ln();
    (index.ceil() as usize).min(BUCKETS - 1)
}

fn bucket_upper_micros(index: usize) -> f64 {
    FIRST_BUCKET_MICROS * GROWTH.powi(index as i32)
}

/// One API's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiStats {
    pub operation_type: String,
    pub calls: u64,
    pub by_result: BTreeMap<u16, u64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

impl ApiCounters {
    fn totals(&self) -> ApiTotals {
        let calls: u64 = self.by_result.values().sum();
        let errors = calls - self.by_result.get(&1000).copied().unwrap_or(0);
        let latency = self
            .latency
            .iter()
            .enumerate()
            .map(|(index, count)| (bucket_upper_micros(index) / 1000.0, *count))
            .collect();
        ApiTotals { calls, errors, latency }
    }
}

#[derive(Debug, Default)]
pub struct CallStats {
    counters: Mutex<HashMap<(String, String), ApiCounters>>,
}

impl CallStats {
    pub fn record(&self, workspace_id: &str, operation_type: &str, result: u16, micros: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let api = counters.entry((workspace_id.to_owned(), operation_type.to_owned())).or_default();
        *api.by_result.entry(result).or_default() += 1;
        api.latency[bucket_of(micros)] += 1;
    }

    /// One API's counters since the node started; `None` if it was never called.
    pub fn totals(&self, workspace_id: &str, operation_type: &str) -> Option<ApiTotals> {
        let counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counters.get(&(workspace_id.to_owned(), operation_type.to_owned())).map(ApiCounters::totals)
    }

    /// Every API of the workspace that was called, by operation type.
    pub fn for_workspace(&self, workspace_id: &str) -> Vec<ApiStats> {
        let counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stats: Vec<ApiStats> = counters
            .iter()
            .filter(|((workspace, _), _)| workspace == workspace_id)
            .map(|((_, operation_type), api)| {
                let totals = api.totals();
                let percentile = |share: f64| totals.latency_percentile(share).unwrap_or(0.0);
                ApiStats {
                    operation_type: operation_type.clone(),
                    calls: totals.calls,
                    by_result: api.by_result.clone(),
                    p50_ms: percentile(0.50),
                    p95_ms: percentile(0.95),
                    p99_ms: percentile(0.99),
                }
            })
            .collect();
        stats.sort_by(|left, right| left.operation_type.cmp(&right.operation_type));
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_ten_percent() {
        let stats = CallStats::default();
        for micros in 1..=1000u64 {
            stats.record("W", "com.x", if micros % 10 == 0 { 4002 } else { 1000 }, micros * 100);
        }
        stats.record("OTHER", "com.y", 1000, 5);
        let figures = stats.for_workspace("W");
        assert_eq!(figures.len(), 1);
        let api = &figures[0];
        assert_eq!(api.calls, 1000);
        assert_eq!(api.by_result[&1000], 900);
        assert_eq!(api.by_result[&4002], 100);
        for (measured, exact) in [(api.p50_ms, 50.0), (api.p95_ms, 95.0), (api.p99_ms, 99.0)] {
            assert!(measured >= exact && measured <= exact * 1.1, "{measured} vs {exact}");
        }
    }
}
