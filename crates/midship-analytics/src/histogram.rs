//! Durations as a log-scale histogram: percentiles within 2 % from a few hundred counters, so a
//! day's startup times cost the same memory however many devices report them.

/// Values below this are counted exactly (milliseconds).
const LINEAR: u64 = 100;
/// Each bucket past [`LINEAR`] is this much wider than the one before.
const GROWTH: f64 = 1.02;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    /// Exact extremes, which bound every estimate (so one value reads back as itself).
    smallest: u64,
    largest: u64,
}

fn bucket(value: u64) -> usize {
    if value < LINEAR {
        value as usize
    } else {
        LINEAR as usize + ((value as f64 / LINEAR as f64).ln() / GROWTH.ln()) as usize
    }
}

/// The smallest value of a bucket.
fn lower_bound(bucket: usize) -> u64 {
    if bucket < LINEAR as usize {
        bucket as u64
    } else {
        (LINEAR as f64 * GROWTH.powi((bucket - LINEAR as usize) as i32)).ceil() as u64
    }
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        let index = bucket(value);
        if self.counts.len() <= index {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.smallest = if self.total == 0 { value } else { self.smallest.min(value) };
        self.largest = self.largest.max(value);
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        if other.total > 0 {
            self.smallest = if self.total == 0 { other.smallest } else { self.smallest.min(other.smallest) };
            self.largest = self.largest.max(other.largest);
        }
        self.total += other.total;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at `quantile` (0.0–1.0): the lower bound of the bucket holding it, within the
    /// smallest and largest values recorded.
    pub fn percentile(&self, quantile: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((quantile * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(lower_bound(index).clamp(self.smallest, self.largest));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_two_percent() {
        let mut histogram = Histogram::default();
        for value in 1..=10_000 {
            histogram.record(value);
        }
        for (quantile, exact) in [(0.5, 5_000.0), (0.95, 9_500.0), (0.99, 9_900.0)] {
            let estimate = histogram.percentile(quantile).unwrap() as f64;
            assert!((estimate - exact).abs() / exact < 0.02, "p{quantile}: {estimate} vs {exact}");
        }
        assert_eq!(histogram.percentile(0.01), Some(100));
        let mut merged = Histogram::default();
        merged.merge(&histogram);
        merged.merge(&histogram);
        assert_eq!(merged.count(), 20_000);
        assert_eq!(merged.percentile(0.5), histogram.percentile(0.5));
        assert_eq!(Histogram::default().percentile(0.5), None);
        let mut one = Histogram::default();
        one.record(840);
        assert_eq!((one.percentile(0.5), one.percentile(0.99)), (Some(840), Some(840)));
    }
}
