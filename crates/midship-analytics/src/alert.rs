//! Alerts: rules on crash rate, ANR rate, startup p95 (from the per-minute rollups) and a gateway
//! API's error rate or latency p95 (from the gateway's counters, differenced over the window),
//! evaluated on a timer; a rule that starts or stops firing notifies its webhook, with retries.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use midship_api::AlertRuleDefinition;
pub use midship_core::api_calls::{ApiCalls, ApiTotals};
use serde_json::json;

use crate::histogram::Histogram;
use crate::rollup::{MINUTE_MS, WorkspaceRollup};
use crate::{AnalyticsError, invalid};

pub const METRICS: [&str; 5] = ["crash_rate", "anr_rate", "startup_p95_ms", "api_error_rate", "api_latency_p95_ms"];
/// Windows reach back at most as far as the per-minute rollups are kept.
const MAX_WINDOW_MINUTES: u32 = 24 * 60;

pub fn check(definition: &AlertRuleDefinition) -> Result<(), AnalyticsError> {
    if definition.name.trim().is_empty() || definition.name.chars().count() > 100 {
        return Err(invalid("name", "must be 1 to 100 characters"));
    }
    if !METRICS.contains(&definition.metric.as_str()) {
        return Err(invalid("metric", format!("must be one of {}", METRICS.join(", "))));
    }
    let on_api = definition.metric.starts_with("api_");
    match (&definition.operation_type, on_api) {
        (None, true) => return Err(invalid("operation_type", "API metrics name the API")),
        (Some(_), false) => return Err(invalid("operation_type", "only API metrics name an API")),
        _ => {}
    }
    if !definition.threshold.is_finite() || definition.threshold < 0.0 {
        return Err(invalid("threshold", "must be a number of at least 0"));
    }
    if !(1..=MAX_WINDOW_MINUTES).contains(&definition.window_minutes) {
        return Err(invalid("window_minutes", format!("must be 1 to {MAX_WINDOW_MINUTES}")));
    }
    let url = &definition.webhook_url;
    let parses = reqwest::Url::parse(url).is_ok_and(|parsed| parsed.host().is_some());
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 || !parses {
        return Err(invalid("webhook_url", "must be an http or https URL"));
    }
    Ok(())
}

/// One rule's state between evaluations.
#[derive(Debug, Default)]
pub struct RuleState {
    pub firing: bool,
    pub last_value: Option<f64>,
    /// API counters seen at each evaluation, oldest first, as far back as the window.
    snapshots: VecDeque<(i64, ApiTotals)>,
}

/// The rule's metric over the window ending at `now`; `None` without data (no launches, no calls).
pub fn measure(
    definition: &AlertRuleDefinition,
    workspace_id: &str,
    rollup: Option<&WorkspaceRollup>,
    api: &dyn ApiCalls,
    state: &mut RuleState,
    now: i64,
) -> Option<f64> {
    let window_ms = i64::from(definition.window_minutes) * MINUTE_MS;
    if let Some(operation_type) = &definition.operation_type {
        let current = api.totals(workspace_id, operation_type).unwrap_or_default();
        state.snapshots.push_back((now, current.clone()));
        // Keep the newest snapshot at or before the window's start, and everything after it.
        while state.snapshots.len() > 2 && state.snapshots[1].0 <= now - window_ms {
            state.snapshots.pop_front();
        }
        let (_, earliest) = state.snapshots.front()?;
        let window = current.since(earliest);
        return match definition.metric.as_str() {
            "api_error_rate" => (window.calls > 0).then(|| window.errors as f64 / window.calls as f64),
            _ => window.latency_percentile(0.95),
        };
    }
    let rollup = rollup?;
    let last_minute = now.div_euclid(MINUTE_MS);
    let first_minute = last_minute - i64::from(definition.window_minutes) + 1;
    let (mut launches, mut crashes, mut anrs, mut startup) = (0, 0, 0, Histogram::default());
    for (_, minute) in rollup.minutes.range(first_minute..=last_minute) {
        launches += minute.launches;
        crashes += minute.crashes;
        anrs += minute.anrs;
        startup.merge(&minute.startup);
    }
    match definition.metric.as_str() {
        "crash_rate" => (launches > 0).then(|| crashes as f64 / launches as f64),
        "anr_rate" => (launches > 0).then(|| anrs as f64 / launches as f64),
        _ => startup.percentile(0.95).map(|value| value as f64),
    }
}

/// How the webhook call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: bool,
    pub attempts: i64,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub attempts: u32,
    /// Doubled after each failed attempt.
    pub backoff: Duration,
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { attempts: 3, backoff: Duration::from_secs(1), timeout: Duration::from_secs(5) }
    }
}

/// Posts the notification, trying again on failure (connection errors and non-2xx answers).
pub async fn notify(
    http: &reqwest::Client,
    settings: &WebhookSettings,
    definition: &AlertRuleDefinition,
    notice: &serde_json::Value,
) -> Delivery {
    let mut detail = None;
    for attempt in 1..=settings.attempts.max(1) {
        let outcome = http.post(&definition.webhook_url).timeout(settings.timeout).json(notice).send().await;
        match outcome {
            Ok(response) if response.status().is_success() => {
                return Delivery { delivered: true, attempts: i64::from(attempt), detail: None };
            }
            Ok(response) => detail = Some(format!("HTTP {}", response.status().as_u16())),
            Err(error) => detail = Some(error.to_string()),
        }
        if attempt < settings.attempts {
            tokio::time::sleep(settings.backoff * 2u32.pow(attempt - 1)).await;
        }
    }
    Delivery { delivered: false, attempts: i64::from(settings.attempts.max(1)), detail }
}

/// The webhook's body.
pub fn notice(
    rule_id: &str,
    workspace_id: &str,
    definition: &AlertRuleDefinition,
    firing: bool,
    value: f64,
    at: i64,
) -> serde_json::Value {
    json!({
        "rule_id": rule_id,
        "workspace_id": workspace_id,
        "name": definition.name,
        "metric": definition.metric,
        "operation_type": definition.operation_type,
        "threshold": definition.threshold,
        "window_minutes": definition.window_minutes,
        "value": value,
        "state": if firing { "firing" } else { "resolved" },
        "at": at,
    })
}

/// Every rule's state, by rule id.
pub type RuleStates = HashMap<String, RuleState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(metric: &str, operation_type: Option<&str>) -> AlertRuleDefinition {
        AlertRuleDefinition {
            name: "too many".into(),
            metric: metric.into(),
            operation_type: operation_type.map(str::to_owned),
            threshold: 0.1,
            window_minutes: 5,
            webhook_url: "https://hooks.example.com/x".into(),
            enabled: true,
        }
    }

    #[derive(Debug, Default)]
    struct Calls(std::sync::Mutex<ApiTotals>);

    impl ApiCalls for Calls {
        fn totals(&self, _: &str, _: &str) -> Option<ApiTotals> {
            Some(self.0.lock().unwrap().clone())
        }
    }

    #[test]
    fn api_rates_are_measured_over_the_window_only() {
        let calls = Calls::default();
        let definition = rule("api_error_rate", Some("com.demo.pay"));
        let mut state = RuleState::default();
        *calls.0.lock().unwrap() = ApiTotals { calls: 100, errors: 50, latency: vec![(10.0, 100)] };
        assert_eq!(measure(&definition, "W", None, &calls, &mut state, 0), None, "no calls in the window yet");
        *calls.0.lock().unwrap() = ApiTotals { calls: 200, errors: 60, latency: vec![(10.0, 150), (100.0, 50)] };
        assert_eq!(measure(&definition, "W", None, &calls, &mut state, MINUTE_MS), Some(0.1));
        // Ten minutes on, the window starts after the first snapshots.
        *calls.0.lock().unwrap() = ApiTotals { calls: 210, errors: 70, latency: vec![(10.0, 150), (100.0, 60)] };
        assert_eq!(measure(&definition, "W", None, &calls, &mut state, 10 * MINUTE_MS), Some(10.0 / 10.0));
        let latency = rule("api_latency_p95_ms", Some("com.demo.pay"));
        let mut state = RuleState::default();
        measure(&latency, "W", None, &calls, &mut state, 0);
        *calls.0.lock().unwrap() = ApiTotals { calls: 310, errors: 70, latency: vec![(10.0, 160), (100.0, 150)] };
        assert_eq!(measure(&latency, "W", None, &calls, &mut state, MINUTE_MS), Some(100.0));
    }

    #[test]
    fn rules_are_checked() {
        assert!(check(&rule("crash_rate", None)).is_ok());
        for (bad, field) in [
            (rule("happiness", None), "metric"),
            (rule("api_error_rate", None), "operation_type"),
            (rule("crash_rate", Some("x")), "operation_type"),
            (AlertRuleDefinition { threshold: f64::NAN, ..rule("crash_rate", None) }, "threshold"),
            (AlertRuleDefinition { window_minutes: 0, ..rule("crash_rate", None) }, "window_minutes"),
            (AlertRuleDefinition { webhook_url: "ftp://x".into(), ..rule("crash_rate", None) }, "webhook_url"),
        ] {
            assert!(check(&bad).unwrap_err().to_string().contains(field), "{field}");
        }
    }
}
