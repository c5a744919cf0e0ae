//! The `[console]` section: how people sign in to the web console.

use midship_core::people::SignInPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSection {
    /// People must set up an authenticator app before using the console.
    pub require_second_factor: bool,
    /// A session unused this long is over.
    pub idle_timeout_minutes: u32,
    /// A session is over this long after sign-in, however busy.
    pub session_hours: u32,
    /// Failed sign-ins in a row before an account locks (for a minute, doubling up to an hour).
    pub failures_before_lock: u32,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        let policy = SignInPolicy::default();
        Self {
            require_second_factor: true,
            idle_timeout_minutes: (policy.idle_timeout_ms / 60_000) as u32,
            session_hours: (policy.absolute_timeout_ms / 3_600_000) as u32,
            failures_before_lock: policy.failures_before_lock as u32,
        }
    }
}

impl ConsoleSection {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.idle_timeout_minutes == 0 || self.session_hours == 0 || self.failures_before_lock == 0 {
            anyhow::bail!(
                "console.idle_timeout_minutes, console.session_hours and console.failures_before_lock must be at least 1"
            );
        }
        if u64::from(self.idle_timeout_minutes) > u64::from(self.session_hours) * 60 {
            anyhow::bail!("console.idle_timeout_minutes must not be longer than console.session_hours");
        }
        Ok(())
    }

    pub fn sign_in_policy(&self) -> SignInPolicy {
        SignInPolicy {
            idle_timeout_ms: i64::from(self.idle_timeout_minutes) * 60_000,
            absolute_timeout_ms: i64::from(self.session_hours) * 3_600_000,
            failures_before_lock: i64::from(self.failures_before_lock),
            ..SignInPolicy::default()
        }
    }
}
