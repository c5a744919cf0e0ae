//! In-memory protections of one node: token-bucket rate limits and the nonce replay window; and
//! the seam to the cluster ([`ClusterGuards`]): the nonce record every node shares, and how many
//! nodes share the rate limits.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A token bucket refilled continuously at `per_second`, holding at most one second's worth.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// Rate limits keyed by name (`api:W:op`, `app:A`); each key has its own bucket.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token from every `(key, per_second)` limit, or none if any is empty, so a refused
    /// call does not use up the other limits. This node is one of `nodes` sharing each limit: its
    /// bucket holds and refills `per_second / nodes` (at least one call a second).
    pub fn try_acquire(&self, limits: &[(String, u32)], nodes: usize, now_ms: i64) -> bool {
        if limits.is_empty() {
            return true;
        }
        let nodes = nodes.max(1) as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, per_second) in limits {
            let capacity = (f64::from(*per_second) / nodes).max(1.0);
            let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: capacity, updated_ms: now_ms });
            let elapsed_seconds = (now_ms - bucket.updated_ms).max(0) as f64 / 1000.0;
            bucket.tokens = (bucket.tokens + elapsed_seconds * capacity).min(capacity);
            bucket.updated_ms = now_ms;
        }
        let all_have_a_token =
            limits.iter().all(|(key, _)| buckets.get(key).is_some_and(|bucket| bucket.tokens >= 1.0));
        if all_have_a_token {
            for (key, _) in limits {
                if let Some(bucket) = buckets.get_mut(key) {
                    bucket.tokens -= 1.0;
                }
            }
        }
        all_have_a_token
    }
}

/// What the gateway asks of the cluster it is part of.
#[async_trait::async_trait]
pub trait ClusterGuards: Send + Sync + std::fmt::Debug {
    /// Nodes serving now (this one included). Each node enforces `limit / nodes` of a rate limit,
    /// so the cluster as a whole allows about the limit when the load balancer spreads calls evenly.
    fn live_nodes(&self) -> usize;
    /// Nonces are recorded for every node (the bus's key-value store), checked after this node's
    /// own [`NonceCache`], so a request replayed through another node is refused too.
    /// Records `nonce`, kept longer than any timestamp window it serves; `Ok(false)` when any
    /// node recorded it already. An error means the record cannot be reached: the caller refuses
    /// the request (fails closed).
    async fn first_use(&self, nonce: &str) -> Result<bool, String>;
}

/// Nonces seen within the timestamp window. A signed request whose timestamp is inside the window
/// and whose nonce is here is a replay. Bounded: beyond `capacity` the oldest entries go first
/// (a request that old is refused by its timestamp anyway once the window is small enough).
#[derive(Debug)]
pub struct NonceCache {
    capacity: usize,
    inner: Mutex<NonceEntries>,
}

#[derive(Debug, Default)]
struct NonceEntries {
    expiry_by_nonce: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl NonceCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(NonceEntries::default()) }
    }

    /// Records `nonce` (scoped by the caller, e.g. with the app id) until `expires_at_ms`; false
    /// when it was already there.
    pub fn first_use(&self, nonce: &str, now_ms: i64, expires_at_ms: i64) -> bool {
        let mut entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Entries arrive in time order, so expired ones (and the oldest, past capacity) are in front.
        while let Some((expiry, _)) = entries.order.front() {
            if *expiry > now_ms && entries.order.len() < self.capacity {
                break;
            }
            let Some((expiry, old)) = entries.order.pop_front() else { break };
            if entries.expiry_by_nonce.get(&old) == Some(&expiry) {
                entries.expiry_by_nonce.remove(&old);
            }
        }
        if entries.expiry_by_nonce.get(nonce).is_some_and(|expiry| *expiry > now_ms) {
            return false;
        }
        entries.expiry_by_nonce.insert(nonce.to_owned(), expires_at_ms);
        entries.order.push_back((expires_at_ms, nonce.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_the_lowest_limit_wins() {
        let limiter = RateLimiter::default();
        let limits = vec![("api".to_owned(), 10), ("app".to_owned(), 2)];
        assert!(limiter.try_acquire(&limits, 1, 0));
        assert!(limiter.try_acquire(&limits, 1, 0));
        assert!(!limiter.try_acquire(&limits, 1, 0), "the app's 2/s is the lowest");
        assert!(limiter.try_acquire(&limits, 1, 500), "half a second refills one token");
        let shared = RateLimiter::default();
        let api = [("api".to_owned(), 10)];
        let allowed = (0..10).filter(|_| shared.try_acquire(&api, 2, 0)).count();
        assert_eq!(allowed, 5, "one of two nodes allows half of 10/s");
        assert!(limiter.try_acquire(&[("other".to_owned(), 1)], 1, 0));
    }

    #[test]
    fn a_refused_call_spends_nothing() {
        let limiter = RateLimiter::default();
        assert!(limiter.try_acquire(&[("app".to_owned(), 1)], 1, 0));
        assert!(!limiter.try_acquire(&[("api".to_owned(), 5), ("app".to_owned(), 1)], 1, 0));
        for _ in 0..5 {
            assert!(limiter.try_acquire(&[("api".to_owned(), 5)], 1, 0), "the api bucket kept its tokens");
        }
    }

    #[test]
    fn nonces_are_single_use_within_their_window() {
        let cache = NonceCache::new(100);
        assert!(cache.first_use("a:n1", 0, 1000));
        assert!(!cache.first_use("a:n1", 10, 1010));
        assert!(cache.first_use("a:n2", 10, 1010));
        assert!(
            cache.first_use("a:n1", 1001, 2001),
            "expired nonces may come back (the timestamp check refuses old requests)"
        );
    }

    #[test]
    fn capacity_bounds_memory() {
        let cache = NonceCache::new(3);
        for index in 0..10 {
            assert!(cache.first_use(&format!("n{index}"), 0, 1000));
        }
        let entries = cache.inner.lock().unwrap();
        assert!(entries.order.len() <= 3 && entries.expiry_by_nonce.len() <= 3);
    }
}
