//! Per-node state of the API policies: circuit breakers and the response cache.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::definition::CircuitBreaker;

/// One API's breaker: counts in the current window, and when it is open until.
#[derive(Debug, Default)]
struct BreakerState {
    window_started_ms: i64,
    calls: u32,
    failures: u32,
    slow: u32,
    open_until_ms: Option<i64>,
    /// After the open time, one trial call is let through; its outcome decides.
    trial_in_flight: bool,
}

/// What the breaker says about a call about to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerDecision {
    Call,
    /// Open: answer with the fallback (or 4002) without calling.
    Reject,
}

#[derive(Debug, Default)]
pub struct Breakers {
    states: Mutex<HashMap<String, BreakerState>>,
}

impl Breakers {
    pub fn before_call(&self, key: &str, now_ms: i64) -> BreakerDecision {
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = states.entry(key.to_owned()).or_default();
        match state.open_until_ms {
            Some(until) if now_ms < until => BreakerDecision::Reject,
            Some(_) if state.trial_in_flight => BreakerDecision::Reject,
            Some(_) => {
                state.trial_in_flight = true;
                BreakerDecision::Call
            }
            None => BreakerDecision::Call,
        }
    }

    /// Records a finished call; `failed` for 4001/4002/4003.
    pub fn after_call(&self, key: &str, settings: &CircuitBreaker, now_ms: i64, failed: bool, elapsed_ms: u64) {
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = states.entry(key.to_owned()).or_default();
        let slow = elapsed_ms >= settings.slow_call_ms;
        if state.trial_in_flight {
            state.trial_in_flight = false;
            if failed || slow {
                state.open_until_ms = Some(now_ms + i64::from(settings.open_seconds) * 1000);
            } else {
                *state = BreakerState { window_started_ms: now_ms, ..BreakerState::default() };
            }
            return;
        }
        if now_ms - state.window_started_ms >= i64::from(settings.window_seconds) * 1000 {
            *state = BreakerState {
                window_started_ms: now_ms,
                open_until_ms: state.open_until_ms,
                ..BreakerState::default()
            };
        }
        state.calls += 1;
        state.failures += u32::from(failed);
        state.slow += u32::from(slow);
        if state.calls >= settings.minimum_calls {
            // Strictly over the share; 100 means every call of the window.
            let over = |count: u32, percentage: u8| {
                if percentage >= 100 { count == state.calls } else { count * 100 > state.calls * u32::from(percentage) }
            };
            if over(state.failures, settings.error_percentage) || over(state.slow, settings.slow_percentage) {
                state.open_until_ms = Some(now_ms + i64::from(settings.open_seconds) * 1000);
            }
        }
    }
}

/// A cached answer.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub expires_ms: i64,
}

/// Successful answers by key, bounded by the bytes of their bodies: past the budget, expired
/// entries go first, then any (a cache may forget).
#[derive(Debug)]
pub struct AnswerCache {
    budget_bytes: usize,
    entries: Mutex<CacheEntries>,
}

#[derive(Debug, Default)]
struct CacheEntries {
    answers: HashMap<String, CachedAnswer>,
    bytes: usize,
}

impl AnswerCache {
    pub fn new(budget_bytes: usize) -> Self {
        Self { budget_bytes, entries: Mutex::default() }
    }

    pub fn get(&self, key: &str, now_ms: i64) -> Option<CachedAnswer> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.answers.get(key).filter(|answer| answer.expires_ms > now_ms).cloned()
    }

    pub fn put(&self, key: String, answer: CachedAnswer, now_ms: i64) {
        let size = key.len() + answer.body.len();
        if size > self.budget_bytes {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(old) = entries.answers.remove(&key) {
            entries.bytes -= key.len() + old.body.len();
        }
        if entries.bytes + size > self.budget_bytes {
            let CacheEntries { answers, bytes } = &mut *entries;
            answers.retain(|stored_key, cached| {
                let keep = cached.expires_ms > now_ms;
                if !keep {
                    *bytes -= stored_key.len() + cached.body.len();
                }
                keep
            });
        }
        while entries.bytes + size > self.budget_bytes {
            let Some(victim) = entries.answers.keys().next().cloned() else { break };
            if let Some(old) = entries.answers.remove(&victim) {
                entries.bytes -= victim.len() + old.body.len();
            }
        }
        entries.bytes += size;
        entries.answers.insert(key, answer);
    }
}

/// Whether a call falls in a `percentage` share, by a fresh random draw.
pub fn in_share(percentage: u8) -> bool {
    percentage > 0 && (percentage >= 100 || rand::random_range(0..100u8) < percentage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker {
            window_seconds: 10,
            minimum_calls: 4,
            error_percentage: 50,
            slow_call_ms: 1000,
            slow_percentage: 100,
            open_seconds: 5,
            fallback: None,
        }
    }

    #[test]
    fn opens_on_errors_then_tries_once_and_closes() {
        let breakers = Breakers::default();
        let settings = breaker();
        for failed in [true, false, true, true] {
            assert_eq!(breakers.before_call("api", 0), BreakerDecision::Call);
            breakers.after_call("api", &settings, 0, failed, 10);
        }
        assert_eq!(breakers.before_call("api", 100), BreakerDecision::Reject, "3 of 4 failed");
        assert_eq!(breakers.before_call("api", 5000), BreakerDecision::Call, "the trial call");
        assert_eq!(breakers.before_call("api", 5001), BreakerDecision::Reject, "one trial at a time");
        breakers.after_call("api", &settings, 5010, false, 10);
        assert_eq!(breakers.before_call("api", 5020), BreakerDecision::Call, "closed again");
    }

    #[test]
    fn stays_closed_below_the_minimum_and_the_ratio() {
        let breakers = Breakers::default();
        let settings = breaker();
        for failed in [true, true, false] {
            breakers.after_call("api", &settings, 0, failed, 10);
        }
        assert_eq!(breakers.before_call("api", 1), BreakerDecision::Call, "under minimum calls");
        breakers.after_call("api", &settings, 0, false, 10);
        assert_eq!(breakers.before_call("api", 1), BreakerDecision::Call, "2 of 4 is not over 50%");
    }

    #[test]
    fn all_slow_calls_open_it() {
        let breakers = Breakers::default();
        let settings = breaker();
        for _ in 0..4 {
            breakers.after_call("api", &settings, 0, false, 2000);
        }
        assert_eq!(breakers.before_call("api", 1), BreakerDecision::Reject);
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cache = AnswerCache::new(10);
        let answer =
            |expires_ms| CachedAnswer { status: 200, content_type: None, body: Bytes::from_static(b"{}"), expires_ms };
        cache.put("a".into(), answer(100), 0);
        assert!(cache.get("a", 50).is_some());
        assert!(cache.get("a", 100).is_none());
        cache.put("b".into(), answer(100), 0);
        cache.put("c".into(), answer(100), 0);
        let entries = cache.entries.lock().unwrap();
        assert!(entries.bytes <= 10 && entries.answers.len() <= 3, "{entries:?}");
        assert_eq!(
            entries.bytes,
            entries.answers.iter().map(|(key, answer)| key.len() + answer.body.len()).sum::<usize>()
        );
    }

    #[test]
    fn shares() {
        assert!(!in_share(0));
        assert!(in_share(100));
        let hits = (0..10_000).filter(|_| in_share(30)).count();
        assert!((2500..3500).contains(&hits), "{hits}");
    }
}
