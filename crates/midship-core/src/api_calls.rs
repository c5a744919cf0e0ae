//! An API's call counters as the gateway keeps them, and the trait through which others (alert
//! rules) read them without depending on the gateway.

/// One API's raw counters since the node started: calls, calls not answered 1000, and latency
/// buckets as (upper bound in ms, calls), so others can difference them over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiTotals {
    pub calls: u64,
    pub errors: u64,
    pub latency: Vec<(f64, u64)>,
}

impl ApiTotals {
    /// What happened between `earlier` and these counters.
    pub fn since(&self, earlier: &ApiTotals) -> ApiTotals {
        ApiTotals {
            calls: self.calls.saturating_sub(earlier.calls),
            errors: self.errors.saturating_sub(earlier.errors),
            latency: self
                .latency
                .iter()
                .enumerate()
                .map(|(index, (upper, count))| {
                    (*upper, count.saturating_sub(earlier.latency.get(index).map_or(0, |(_, count)| *count)))
                })
                .collect(),
        }
    }

    /// The upper bound (ms) of the bucket holding the `share` percentile; `None` without calls.
    pub fn latency_percentile(&self, share: f64) -> Option<f64> {
        let calls: u64 = self.latency.iter().map(|(_, count)| count).sum();
        let rank = ((calls as f64) * share).ceil().max(1.0) as u64;
        let mut seen = 0;
        self.latency.iter().find_map(|(upper, count)| {
            seen += count;
            (seen >= rank).then_some(*upper)
        })
    }
}

/// Where an API's counters come from: the gateway of this node.
pub trait ApiCalls: Send + Sync + std::fmt::Debug {
    fn totals(&self, workspace_id: &str, operation_type: &str) -> Option<ApiTotals>;
}
