//! Waiting for work the test does not drive itself.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long background work may take before a test gives up.
const DEADLINE: Duration = Duration::from_secs(10);
/// How often the condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Calls `read` until `done` holds for what it returns, and returns that; panics with the last
/// value read after ten seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut read: F, done: impl Fn(&T) -> bool) -> T
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened; last seen: {value:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for tests without a runtime (ones that drive a child process).
pub fn eventually_blocking<T: Debug>(what: &str, read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    eventually_within_blocking(what, DEADLINE, read, done)
}

/// [`eventually_blocking`] for work that is allowed longer (a lease lapsing, say).
pub fn eventually_within_blocking<T: Debug>(
    what: &str,
    within: Duration,
    mut read: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened; last seen: {value:?}");
        std::thread::sleep(POLL);
    }
}
