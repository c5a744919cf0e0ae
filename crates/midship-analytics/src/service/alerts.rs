//! Alert rules, their evaluation and webhook notifications.

use std::sync::Arc;

use midship_api::{AlertEventView, AlertRuleDefinition, AlertRuleView};
use midship_control::jobs::{BackgroundJob, JobError, Placement};
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::{AlertEventRecord, AlertRuleRecord, StorageError};
use serde_json::json;

use super::AnalyticsService;
use crate::AnalyticsError;
use crate::alert::{self, ApiCalls};

impl AnalyticsService {
    async fn rule_view(&self, record: AlertRuleRecord) -> Result<AlertRuleView, AnalyticsError> {
        let definition: AlertRuleDefinition = serde_json::from_str(&record.definition).map_err(|error| {
            AnalyticsError::from(StorageError::Corrupt { table: "analytics_alert_rules", detail: error.to_string() })
        })?;
        let states = self.inner.alert_states.lock().await;
        let state = states.get(&record.rule_id);
        Ok(AlertRuleView {
            state: match state {
                Some(state) if state.firing => "firing",
                Some(state) if state.last_value.is_some() => "ok",
                _ => "unknown",
            }
            .to_owned(),
            last_value: state.and_then(|state| state.last_value),
            rule_id: record.rule_id,
            workspace_id: record.workspace_id,
            definition,
            created_at: format_rfc3339(record.created_at),
            updated_at: format_rfc3339(record.updated_at),
        })
    }

    /// Creates a rule, or replaces rule `rule_id` of the workspace. Every rule posts to its
    /// webhook, an outside URL, so rules need `Integrate`.
    pub async fn put_alert(
        &self,
        who: &Principal,
        workspace_id: &str,
        rule_id: Option<&str>,
        definition: AlertRuleDefinition,
    ) -> Result<AlertRuleView, AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Integrate).await?;
        alert::check(&definition)?;
        let now = self.control().now_ms();
        let existing = match rule_id {
            Some(rule_id) => Some(self.alert_record(workspace_id, rule_id).await?),
            None => None,
        };
        let record = AlertRuleRecord {
            rule_id: existing.as_ref().map_or_else(|| self.control().new_id(), |rule| rule.rule_id.clone()),
            workspace_id: workspace_id.to_owned(),
            definition: serde_json::to_string(&definition).expect("definitions serialize"),
            created_at: existing.as_ref().map_or(now, |rule| rule.created_at),
            updated_at: now,
        };
        let action = if existing.is_some() { "analytics.alert.update" } else { "analytics.alert.create" };
        let audit =
            NewAuditEntry::by(who, now, action, "alert", &record.rule_id).in_app(&app_id).after(json!(definition));
        self.control().storage().put_alert_rule(&record, &audit).await?;
        self.inner.alert_states.lock().await.remove(&record.rule_id);
        self.rule_view(record).await
    }

    async fn alert_record(&self, workspace_id: &str, rule_id: &str) -> Result<AlertRuleRecord, AnalyticsError> {
        let rules = self.control().storage().list_alert_rules(Some(workspace_id)).await?;
        rules
            .into_iter()
            .find(|rule| rule.rule_id == rule_id)
            .ok_or_else(|| AnalyticsError::UnknownAlert(rule_id.to_owned()))
    }

    /// Removing a rule silences whoever its webhook told, so it needs what creating one does.
    pub async fn delete_alert(&self, who: &Principal, workspace_id: &str, rule_id: &str) -> Result<(), AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Integrate).await?;
        self.alert_record(workspace_id, rule_id).await?;
        let now = self.control().now_ms();
        let audit = NewAuditEntry::by(who, now, "analytics.alert.delete", "alert", rule_id).in_app(&app_id);
        self.control().storage().delete_alert_rule(rule_id, &audit).await?;
        self.inner.alert_states.lock().await.remove(rule_id);
        Ok(())
    }

    pub async fn alerts(&self, who: &Principal, workspace_id: &str) -> Result<Vec<AlertRuleView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let mut views = Vec::new();
        for record in self.control().storage().list_alert_rules(Some(workspace_id)).await? {
            views.push(self.rule_view(record).await?);
        }
        Ok(views)
    }

    /// The workspace's notifications, newest first.
    pub async fn alert_history(
        &self,
        who: &Principal,
        workspace_id: &str,
        limit: u32,
    ) -> Result<Vec<AlertEventView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let events = self.control().storage().list_alert_events(workspace_id, limit.clamp(1, 1000)).await?;
        Ok(events
            .into_iter()
            .map(|event| AlertEventView {
                seq: event.seq,
                rule_id: event.rule_id,
                state: event.state,
                value: event.value,
                at: format_rfc3339(event.at),
                delivered: event.delivered,
                attempts: event.attempts,
                detail: event.detail,
            })
            .collect())
    }

    /// Evaluates every enabled rule; a rule that starts or stops firing notifies its webhook and
    /// is recorded. Returns those changes.
    pub async fn evaluate_alerts(&self, api: &dyn ApiCalls) -> Result<Vec<AlertEventRecord>, AnalyticsError> {
        let mut states = self.inner.alert_states.lock().await;
        let rules = self.control().storage().list_alert_rules(None).await?;
        states.retain(|rule_id, _| rules.iter().any(|rule| &rule.rule_id == rule_id));
        let now = self.control().now_ms();
        let mut changes = Vec::new();
        for rule in rules {
            let Ok(definition) = serde_json::from_str::<AlertRuleDefinition>(&rule.definition) else {
                tracing::error!(rule_id = %rule.rule_id, "an alert rule cannot be read; skipped");
                continue;
            };
            if !definition.enabled {
                states.remove(&rule.rule_id);
                continue;
            }
            let state = states.entry(rule.rule_id.clone()).or_default();
            let value = {
                let rollups = self.inner.shared.rollups.read().expect("rollup lock");
                alert::measure(
                    &definition,
                    &rule.workspace_id,
                    rollups.workspaces.get(&rule.workspace_id),
                    api,
                    state,
                    now,
                )
            };
            let Some(value) = value else { continue };
            state.last_value = Some(value);
            let firing = value > definition.threshold;
            if firing == state.firing {
                continue;
            }
            state.firing = firing;
            let notice = alert::notice(&rule.rule_id, &rule.workspace_id, &definition, firing, value, now);
            let delivery = alert::notify(&self.inner.http, &self.inner.settings.webhooks, &definition, &notice).await;
            if !delivery.delivered {
                tracing::warn!(rule_id = %rule.rule_id, detail = ?delivery.detail, "an alert webhook failed");
            }
            let mut event = AlertEventRecord {
                seq: 0,
                rule_id: rule.rule_id.clone(),
                workspace_id: rule.workspace_id.clone(),
                state: if firing { "firing" } else { "resolved" }.to_owned(),
                value,
                at: now,
                delivered: delivery.delivered,
                attempts: delivery.attempts,
                detail: delivery.detail,
            };
            event.seq = self.control().storage().insert_alert_event(&event).await?;
            changes.push(event);
        }
        Ok(changes)
    }

    /// Alert evaluation every `interval`, by one node of the cluster.
    pub fn alerts_job(&self, interval: std::time::Duration, api: Arc<dyn ApiCalls>) -> Arc<dyn BackgroundJob> {
        Arc::new(AlertsJob { service: self.clone(), interval, api })
    }
}

struct AlertsJob {
    service: AnalyticsService,
    interval: std::time::Duration,
    api: Arc<dyn ApiCalls>,
}

#[async_trait::async_trait]
impl BackgroundJob for AlertsJob {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn placement(&self) -> Placement {
        Placement::OneNode
    }

    fn interval(&self) -> std::time::Duration {
        self.interval
    }

    async fn run_once(&self) -> Result<(), JobError> {
        self.service.evaluate_alerts(self.api.as_ref()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use midship_control::{ControlPlane, ControlSettings, NewApp};
    use midship_core::access::Role;
    use midship_core::{Classify, ErrorKind, ManualClock};
    use midship_sync::{SyncService, SyncSettings};

    use super::*;
    use crate::AnalyticsSettings;

    fn rule(webhook_url: &str) -> AlertRuleDefinition {
        AlertRuleDefinition {
            name: "crashes".into(),
            metric: "crash_rate".into(),
            operation_type: None,
            threshold: 0.1,
            window_minutes: 5,
            webhook_url: webhook_url.into(),
            enabled: true,
        }
    }

    /// A rule posts the workspace's figures to its webhook, an outside URL: operators may not
    /// point one anywhere, nor remove one.
    #[tokio::test]
    async fn only_developers_change_alert_rules() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", directory.path().join("analytics.db").display());
        let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
        let control =
            ControlPlane::new(storage, Arc::new(ManualClock::new(1_795_313_234_000)), ControlSettings::default());
        let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
        let admin = control.authenticate(&issued.token).await.unwrap();
        let created = control.create_app(&admin, NewApp { name: "bank".into(), ..NewApp::default() }).await.unwrap();
        let workspace_id = &created.workspaces[0].workspace_id;
        let sync = SyncService::new(control.clone(), SyncSettings::default());
        let analytics = AnalyticsService::new(control, sync, AnalyticsSettings::default());
        let operator = Principal { role: Role::Operator, ..admin.clone() };
        let developer = Principal { role: Role::Developer, ..admin };

        let refused = analytics.put_alert(&operator, workspace_id, None, rule("https://evil.example")).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Forbidden);
        assert!(analytics.alerts(&operator, workspace_id).await.unwrap().is_empty(), "nothing was stored");

        let created = analytics.put_alert(&developer, workspace_id, None, rule("https://hooks.example")).await.unwrap();
        let rule_id = created.rule_id.as_str();
        let refused = analytics.put_alert(&operator, workspace_id, Some(rule_id), rule("https://evil.example")).await;
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Forbidden);
        assert_eq!(
            analytics.delete_alert(&operator, workspace_id, rule_id).await.unwrap_err().kind(),
            ErrorKind::Forbidden
        );
        let rules = analytics.alerts(&operator, workspace_id).await.unwrap();
        assert_eq!(
            rules.iter().map(|rule| rule.definition.webhook_url.as_str()).collect::<Vec<_>>(),
            ["https://hooks.example"]
        );
        analytics.delete_alert(&developer, workspace_id, rule_id).await.unwrap();
    }
}
