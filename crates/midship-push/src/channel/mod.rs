//! Channels: how a message reaches a device. One trait for all of them: Midship's own channel
//! (the long connection), APNs, FCM, and vendor channels plugged in through [`ChannelFactory`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use midship_api::PushMessageBody;
use midship_core::Workspace;
use midship_core::clock::Clock;
use midship_storage::PushDeliveryRecord;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::PushError;

pub mod apns;
pub mod fcm;
mod jwt;
pub mod own;

/// The own channel's name; devices without a usable token are reached through it.
pub const OWN_CHANNEL: &str = "own";

/// One message for one device, rendered.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub delivery: PushDeliveryRecord,
    pub message: PushMessageBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelResult {
    Sent,
    Failed {
        error: String,
        /// The channel said the device token is no longer valid: it is retired.
        token_invalid: bool,
    },
}

#[async_trait]
pub trait PushChannel: Send + Sync + std::fmt::Debug {
    /// Sends a batch, answering one result per message, in order. A provider's failure is a
    /// result, never a panic, and takes at most the channel's timeouts and retries.
    async fn send(&self, workspace: &Workspace, batch: &[Outgoing]) -> Vec<ChannelResult>;

    /// Checks the credentials with the provider where it offers a way without a device (FCM's
    /// token exchange), so settings that cannot work are refused before anything is sent.
    async fn verify(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Builds a channel from its stored definition (`{"kind": ..., ...}`). A vendor channel
/// (Huawei, Xiaomi, OPPO, vivo, HarmonyOS) is added by registering a factory for its kind with
/// [`crate::PushService::register_channel_kind`]; devices name the channel in `midship.push.report`.
pub trait ChannelFactory: Send + Sync {
    fn build(&self, definition: &Value, context: &ChannelContext) -> Result<Arc<dyn PushChannel>, PushError>;
}

/// What every channel gets: the clock (token lifetimes) and its limits.
#[derive(Debug, Clone)]
pub struct ChannelContext {
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
}

/// Per-channel concurrency, rate and retry settings, part of every channel definition.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Limits {
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// Requests started per second.
    pub rate_per_second: u32,
    /// Tries per message on 429, 5xx and connection errors.
    pub max_attempts: u32,
    /// The first retry's wait; it doubles each time (a `Retry-After` answer wins).
    pub backoff_ms: u64,
    /// One request's deadline.
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_concurrency: 32, rate_per_second: 2000, max_attempts: 3, backoff_ms: 500, timeout_ms: 10_000 }
    }
}

impl Limits {
    pub fn from_definition(definition: &Value) -> Result<Self, PushError> {
        let limits = definition.get("limits").cloned().map_or_else(
            || Ok(Limits::default()),
            |value| {
                serde_json::from_value::<Limits>(value)
                    .map_err(|error| PushError::Invalid { field: "limits", message: error.to_string() })
            },
        )?;
        if limits.max_concurrency == 0 || limits.rate_per_second == 0 || limits.max_attempts == 0 {
            return Err(PushError::Invalid {
                field: "limits",
                message: "max_concurrency, rate_per_second and max_attempts must be at least 1".into(),
            });
        }
        Ok(limits)
    }
}

/// Spaces request starts evenly at the channel's rate.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32) -> Self {
        Self { interval: Duration::from_secs(1) / rate_per_second.max(1), next: Mutex::new(None) }
    }

    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |next| next.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// A provider credential (APNs' provider token, FCM's access token), kept until it is due for
/// renewal. Renewals happen under the lock, so a burst of sends makes one.
#[derive(Debug, Default)]
pub struct CachedToken {
    /// The token and until when it is used.
    current: Mutex<Option<(String, i64)>>,
}

impl CachedToken {
    /// The current token, or a new one from `renew` (the token and until when to use it).
    pub async fn get_or_renew<E, Fut>(&self, now: i64, renew: impl FnOnce() -> Fut) -> Result<String, E>
    where
        Fut: std::future::Future<Output = Result<(String, i64), E>>,
    {
        let mut current = self.current.lock().await;
        if let Some((value, until)) = current.as_ref()
            && now < *until
        {
            return Ok(value.clone());
        }
        let (value, until) = renew().await?;
        *current = Some((value.clone(), until));
        Ok(value)
    }

    /// The provider refused the token: the next send makes a new one.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }
}

/// One try's outcome, for [`send_each`].
#[derive(Debug)]
pub enum Attempt {
    Done(ChannelResult),
    /// A temporary failure (429, 5xx, connection): try again after `after` or the backoff.
    Retry {
        error: String,
        after: Option<Duration>,
    },
}

/// A channel that sends one request per message, for [`send_each`].
#[async_trait]
pub trait SendOne: Sync {
    async fn send_one(&self, outgoing: &Outgoing) -> Attempt;
}

async fn send_with_retries<S: SendOne>(
    outgoing: &Outgoing,
    limits: &Limits,
    limiter: &RateLimiter,
    sender: &S,
) -> ChannelResult {
    let mut backoff = Duration::from_millis(limits.backoff_ms);
    let mut attempt = 1;
    loop {
        limiter.acquire().await;
        match sender.send_one(outgoing).await {
            Attempt::Done(result) => return result,
            Attempt::Retry { error, after } => {
                if attempt >= limits.max_attempts {
                    return ChannelResult::Failed {
                        error: format!("{error} (after {attempt} attempts)"),
                        token_invalid: false,
                    };
                }
                tokio::time::sleep(after.unwrap_or(backoff)).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}

/// Sends every message with its own request: at most `max_concurrency` at once, started at the
/// channel's rate, each retried with exponential backoff. Results come back in order.
pub async fn send_each<S: SendOne>(
    batch: &[Outgoing],
    limits: &Limits,
    limiter: &RateLimiter,
    sender: &S,
) -> Vec<ChannelResult> {
    let tries: Vec<_> =
        batch.iter().map(|outgoing| Box::pin(send_with_retries(outgoing, limits, limiter, sender))).collect();
    futures_util::stream::iter(tries).buffered(limits.max_concurrency).collect().await
}

/// Reads a `Retry-After` header given in seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

/// An HTTP client for a provider: HTTP/2 when `http2_only`, the platform's roots plus an
/// optional extra CA (a private gateway, or a test server), the channel's timeout.
pub fn http_client(definition: &Value, limits: &Limits, http2_only: bool) -> Result<reqwest::Client, PushError> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_millis(limits.timeout_ms))
        .connect_timeout(Duration::from_millis(limits.timeout_ms.min(5000)))
        .pool_max_idle_per_host(limits.max_concurrency);
    if http2_only {
        builder = builder.http2_prior_knowledge();
    }
    if let Some(pem) = definition.get("ca_certificate").and_then(Value::as_str) {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|error| PushError::Invalid { field: "ca_certificate", message: error.to_string() })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|error| PushError::Invalid { field: "channel", message: error.to_string() })
}

/// The channel kinds this node can build, by name.
#[derive(Clone, Default)]
pub struct ChannelKinds {
    factories: HashMap<String, Arc<dyn ChannelFactory>>,
}

impl std::fmt::Debug for ChannelKinds {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_set().entries(self.factories.keys()).finish()
    }
}

impl ChannelKinds {
    /// APNs and FCM.
    pub fn standard() -> Self {
        let mut kinds = Self::default();
        kinds.register("apns", Arc::new(apns::ApnsFactory));
        kinds.register("fcm", Arc::new(fcm::FcmFactory));
        kinds
    }

    pub fn register(&mut self, kind: &str, factory: Arc<dyn ChannelFactory>) {
        self.factories.insert(kind.to_owned(), factory);
    }

    pub fn build(&self, definition: &Value, clock: &Arc<dyn Clock>) -> Result<Arc<dyn PushChannel>, PushError> {
        let kind = definition.get("kind").and_then(Value::as_str).unwrap_or_default();
        let factory = self.factories.get(kind).ok_or_else(|| {
            let mut known: Vec<&str> = self.factories.keys().map(String::as_str).collect();
            known.sort_unstable();
            PushError::Invalid { field: "kind", message: format!("must be one of {}", known.join(", ")) }
        })?;
        let context = ChannelContext { clock: clock.clone(), limits: Limits::from_definition(definition)? };
        factory.build(definition, &context)
    }
}

/// A required string field of a channel definition.
pub fn required<'a>(definition: &'a Value, field: &'static str) -> Result<&'a str, PushError> {
    definition
        .get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| PushError::Invalid { field, message: "is required".into() })
}
