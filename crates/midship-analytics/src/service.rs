//! Uploads in, reports out. Every accepted batch is committed to storage before it is acknowledged
//! (one transaction per group of concurrent uploads); the in-memory rollups are then updated from it,
//! rebuilt from storage at start, and caught up from batches other nodes stored.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use midship_api::{
    AlertEventView, AlertRuleDefinition, AlertRuleView, AnalyticsPolicy, DevicePolicy, EventsReport,
    FailureGroupDetail, FailuresReport, FunnelReport, LogFileView, LogLineView, LogRequest, LogRequestView, LogUpload,
    OverviewReport, PagesReport, PathsReport, PerfReport, RealtimeReport, RejectedEvent, RetentionReport,
    SymbolFileView, UploadResponse,
};
use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::cache::TtlCache;
use midship_core::clock::format_rfc3339;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::{
    AlertEventRecord, AlertRuleRecord, AnalyticsBatchRecord, AnalyticsPolicyRecord, LogFileRecord, LogRequestRecord,
    Storage, StorageError, SymbolFileRecord,
};
use midship_sync::{DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER_BIZ_TYPE, SendRequest, SyncService};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::alert::{self, ApiCalls, RuleStates, WebhookSettings};
use crate::event::{Event, Payload, Uploader, decode_batch, decode_stored, encode_stored};
use crate::export::{ExportSummary, ParquetExporter};
use crate::proguard::ProguardMapping;
use crate::report::{self, DayRange, Period, Subject};
use crate::rollup::{DAY_MS, MINUTE_MS, WorkspaceRollup, day_of};
use crate::{AnalyticsError, invalid, policy};

/// Batches stored in one transaction at most.
const GROUP_LIMIT: usize = 256;
/// Batches read per query when catching up.
const CATCH_UP_PAGE: u32 = 1000;
/// Reports span at most this many days.
const MAX_RANGE_DAYS: i32 = 400;
/// Policies are served from memory this long before they are read again.
const POLICY_TTL_MS: i64 = 2_000;

#[derive(Debug, Clone)]
pub struct AnalyticsSettings {
    /// Events one device may upload per minute; past it uploads are refused until the minute ends.
    pub device_events_per_minute: u64,
    /// Where raw events are written as Parquet (`None`: not written).
    pub export_dir: Option<std::path::PathBuf>,
    pub webhooks: WebhookSettings,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self { device_events_per_minute: 20_000, export_dir: None, webhooks: WebhookSettings::default() }
    }
}

#[derive(Debug, Clone)]
pub struct AnalyticsService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    control: ControlPlane,
    /// Carries log requests to devices.
    sync: SyncService,
    settings: AnalyticsSettings,
    shared: Arc<Shared>,
    writer: mpsc::Sender<PendingBatch>,
    /// (workspace, device) → (minute, events uploaded in it).
    admitted: Mutex<HashMap<(String, String), (i64, u64)>>,
    policies: TtlCache<String, AnalyticsPolicy>,
    /// Held while an export runs, so periodic and asked-for runs do not overlap.
    exporter: Option<tokio::sync::Mutex<ParquetExporter>>,
    /// Held through an evaluation, so runs do not overlap.
    alert_states: tokio::sync::Mutex<RuleStates>,
    http: reqwest::Client,
}

/// What the writer task and the service share.
/// ProGuard mappings by (workspace, app version).
type Mappings = HashMap<(String, String), Arc<ProguardMapping>>;

#[derive(Debug)]
struct Shared {
    storage: Arc<dyn Storage>,
    rollups: RwLock<Rollups>,
    mappings: RwLock<Mappings>,
    /// One catch-up at a time.
    catching_up: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Rollups {
    /// Every stored batch up to this sequence number is counted.
    applied_seq: i64,
    workspaces: HashMap<String, WorkspaceRollup>,
}

impl Rollups {
    fn apply(&mut self, seq: i64, batch: &AnalyticsBatchRecord, events: &[Event], mappings: &Mappings) {
        if seq <= self.applied_seq {
            return;
        }
        let events = symbolicate(&batch.workspace_id, events, mappings);
        self.workspaces.entry(batch.workspace_id.clone()).or_default().apply(
            &batch.device_id,
            &events,
            batch.received_at,
        );
        self.applied_seq = seq;
    }
}

/// Failure stacks of versions with a mapping, retraced; everything else as it came.
fn symbolicate<'events>(workspace_id: &str, events: &'events [Event], mappings: &Mappings) -> Cow<'events, [Event]> {
    let mapping_of = |event: &Event| {
        event.payload.failure()?;
        mappings.get(&(workspace_id.to_owned(), event.app_version.clone()?))
    };
    if mappings.is_empty() || !events.iter().any(|event| mapping_of(event).is_some()) {
        return Cow::Borrowed(events);
    }
    Cow::Owned(
        events
            .iter()
            .map(|event| {
                let mut event = event.clone();
                if let Some(mapping) = mapping_of(&event)
                    && let Payload::Crash(failure) | Payload::Anr(failure) | Payload::Lag(failure) = &mut event.payload
                {
                    failure.frames = failure.frames.iter().flat_map(|frame| mapping.retrace(frame)).collect();
                }
                event
            })
            .collect(),
    )
}

#[derive(Debug)]
struct PendingBatch {
    record: AnalyticsBatchRecord,
    events: Vec<Event>,
    stored: oneshot::Sender<Result<Option<i64>, String>>,
}

impl AnalyticsService {
    /// Starts the batch writer on the current runtime; call [`AnalyticsService::catch_up`] before
    /// serving reports, so the rollups hold what was stored before.
    pub fn new(control: ControlPlane, sync: SyncService, settings: AnalyticsSettings) -> Self {
        let shared = Arc::new(Shared {
            storage: control.storage().clone(),
            rollups: RwLock::default(),
            mappings: RwLock::default(),
            catching_up: tokio::sync::Mutex::default(),
        });
        let (writer, pending) = mpsc::channel(4 * GROUP_LIMIT);
        tokio::spawn(write_batches(shared.clone(), pending));
        let exporter = settings
            .export_dir
            .as_ref()
            .map(|directory| tokio::sync::Mutex::new(ParquetExporter::new(directory, control.storage().clone())));
        let inner = Inner {
            sync,
            exporter,
            alert_states: tokio::sync::Mutex::default(),
            http: reqwest::Client::new(),
            control,
            settings,
            shared,
            writer,
            admitted: Mutex::default(),
            policies: TtlCache::new(POLICY_TTL_MS, 10_000),
        };
        Self { inner: Arc::new(inner) }
    }

    fn control(&self) -> &ControlPlane {
        &self.inner.control
    }

    /// Loads the symbol files, then counts every stored batch: call once before serving.
    pub async fn start(&self) -> Result<usize, AnalyticsError> {
        let files = self.control().storage().list_symbol_files(None).await?;
        let mut mappings = Mappings::new();
        for file in files {
            match parse_mapping(&file.content) {
                Ok(mapping) => {
                    mappings.insert((file.workspace_id, file.app_version), Arc::new(mapping));
                }
                Err(error) => {
                    tracing::error!(%error, app_version = %file.app_version, "a stored mapping cannot be read")
                }
            }
        }
        *self.inner.shared.mappings.write().expect("mapping lock") = mappings;
        self.catch_up().await
    }

    /// Counts every batch stored since the last call (all of them, the first time): those of
    /// other nodes, or everything at start. Returns how many batches it counted.
    pub async fn catch_up(&self) -> Result<usize, AnalyticsError> {
        catch_up(&self.inner.shared).await
    }

    /// Writes the batches stored since the last export as Parquet; `None` when exporting is off.
    pub async fn export_now(&self) -> Result<Option<ExportSummary>, AnalyticsError> {
        let Some(exporter) = &self.inner.exporter else { return Ok(None) };
        let exporter = exporter.lock().await;
        Ok(Some(exporter.export_new().await?))
    }

    /// Exports every `interval` until the returned task is aborted.
    pub fn spawn_exports(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match service.export_now().await {
                    Ok(Some(summary)) if summary.files > 0 => {
                        tracing::info!(
                            batches = summary.batches,
                            events = summary.events,
                            files = summary.files,
                            "analytics exported to parquet"
                        )
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot export analytics to parquet"),
                }
            }
        })
    }

    /// [`AnalyticsService::export_now`] for an installation admin, with the directory written to.
    pub async fn export(&self, who: &Principal) -> Result<Option<(ExportSummary, std::path::PathBuf)>, AnalyticsError> {
        who.authorize(Action::ManageTenants).map_err(ControlError::from)?;
        let summary = self.export_now().await?;
        Ok(summary.zip(self.inner.settings.export_dir.clone()))
    }

    // ---- ingestion -----------------------------------------------------------------------

    /// Decodes, checks and durably stores one batch of one device, then counts it.
    pub async fn upload(
        &self,
        workspace_id: &str,
        device_id: &str,
        uploader: &Uploader<'_>,
        body: &[u8],
    ) -> Result<UploadResponse, AnalyticsError> {
        let now = self.control().now_ms();
        let batch = decode_batch(body, uploader, now)?;
        self.admit(workspace_id, device_id, batch.events.len() as u64, now)?;
        let rejected = batch
            .rejected
            .into_iter()
            .map(|rejected| RejectedEvent { index: rejected.index, reason: rejected.reason })
            .collect();
        if batch.events.is_empty() {
            return Ok(UploadResponse { batch_id: batch.batch_id, accepted: 0, duplicate: false, rejected });
        }
        let record = AnalyticsBatchRecord {
            workspace_id: workspace_id.to_owned(),
            device_id: device_id.to_owned(),
            batch_id: batch.batch_id.clone(),
            received_at: now,
            event_count: batch.events.len() as i64,
            payload: encode_stored(&batch.events),
        };
        let accepted = batch.events.len() as u64;
        let (stored, answer) = oneshot::channel();
        self.inner
            .writer
            .send(PendingBatch { record, events: batch.events, stored })
            .await
            .map_err(|_| AnalyticsError::WriterStopped)?;
        let seq = answer
            .await
            .map_err(|_| AnalyticsError::WriterStopped)?
            .map_err(|error| AnalyticsError::Control(ControlError::Storage(StorageError::Database(error))))?;
        Ok(UploadResponse {
            batch_id: batch.batch_id,
            accepted: if seq.is_some() { accepted } else { 0 },
            duplicate: seq.is_none(),
            rejected,
        })
    }

    /// Counts `events` against the device's budget for this minute.
    fn admit(&self, workspace_id: &str, device_id: &str, events: u64, now: i64) -> Result<(), AnalyticsError> {
        let minute = now.div_euclid(MINUTE_MS);
        let mut admitted = self.inner.admitted.lock().expect("admission lock");
        if admitted.len() > 100_000 {
            admitted.retain(|_, (seen, _)| *seen == minute);
        }
        let entry = admitted.entry((workspace_id.to_owned(), device_id.to_owned())).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 + events > self.inner.settings.device_events_per_minute {
            return Err(AnalyticsError::RateLimited(format!(
                "device {device_id} uploaded over {} events this minute",
                self.inner.settings.device_events_per_minute
            )));
        }
        entry.1 += events;
        Ok(())
    }

    // ---- policy --------------------------------------------------------------------------

    async fn stored_policy(&self, workspace_id: &str) -> Result<AnalyticsPolicy, AnalyticsError> {
        let now = self.control().now_ms();
        if let Some(policy) = self.inner.policies.get(&workspace_id.to_owned(), now) {
            return Ok(policy);
        }
        let policy = match self.control().storage().get_analytics_policy(workspace_id).await? {
            Some(record) => serde_json::from_str(&record.policy).map_err(|error| {
                AnalyticsError::from(StorageError::Corrupt { table: "analytics_policies", detail: error.to_string() })
            })?,
            None => AnalyticsPolicy::default(),
        };
        self.inner.policies.insert(workspace_id.to_owned(), policy.clone(), now);
        Ok(policy)
    }

    /// What one device uploads; `subject` is its user id, or its device id without one.
    pub async fn device_policy(&self, workspace_id: &str, subject: &str) -> Result<DevicePolicy, AnalyticsError> {
        let policy = self.stored_policy(workspace_id).await?;
        Ok(policy::for_device(&policy, workspace_id, subject))
    }

    pub async fn policy(&self, who: &Principal, workspace_id: &str) -> Result<AnalyticsPolicy, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        self.stored_policy(workspace_id).await
    }

    pub async fn set_policy(
        &self,
        who: &Principal,
        workspace_id: &str,
        policy: AnalyticsPolicy,
    ) -> Result<AnalyticsPolicy, AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Operate).await?;
        policy::check(&policy)?;
        let now = self.control().now_ms();
        let text = serde_json::to_string(&policy).expect("policies serialize");
        let audit = NewAuditEntry::by(who, now, "analytics.policy.update", "workspace", workspace_id)
            .in_app(&app_id)
            .after(json!(policy));
        let record = AnalyticsPolicyRecord { workspace_id: workspace_id.to_owned(), policy: text, updated_at: now };
        self.control().storage().put_analytics_policy(&record, &audit).await?;
        self.inner.policies.insert(workspace_id.to_owned(), policy.clone(), now);
        Ok(policy)
    }

    // ---- reports -------------------------------------------------------------------------

    /// Checks the caller may read the workspace; returns its app.
    async fn authorize(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<String, AnalyticsError> {
        let (app, _) = self.control().authorized_workspace(who, workspace_id, action).await?;
        Ok(app.app_id)
    }

    async fn read<T>(
        &self,
        who: &Principal,
        workspace_id: &str,
        report: impl FnOnce(&WorkspaceRollup) -> T,
    ) -> Result<T, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let rollups = self.inner.shared.rollups.read().expect("rollup lock");
        match rollups.workspaces.get(workspace_id) {
            Some(rollup) => Ok(report(rollup)),
            None => Ok(report(&WorkspaceRollup::default())),
        }
    }

    /// The range asked for, or the 30 days up to today.
    pub fn range(&self, from: Option<&str>, to: Option<&str>) -> Result<DayRange, AnalyticsError> {
        let parse = |field: &str, text: &str| {
            crate::rollup::parse_day(text).ok_or_else(|| invalid(field, format!("{text} is not a YYYY-MM-DD date")))
        };
        let today = day_of(self.control().now_ms());
        let to = to.map(|text| parse("to", text)).transpose()?.unwrap_or(today);
        let from = from.map(|text| parse("from", text)).transpose()?.unwrap_or(to - 29);
        if from > to {
            return Err(invalid("from", "must not be after to"));
        }
        if to - from >= MAX_RANGE_DAYS {
            return Err(invalid("to", format!("a report spans at most {MAX_RANGE_DAYS} days")));
        }
        Ok(DayRange { from, to })
    }

    pub async fn overview(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        version: Option<&str>,
    ) -> Result<OverviewReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::overview(rollup, range, version)).await
    }

    pub async fn realtime(&self, who: &Principal, workspace_id: &str) -> Result<RealtimeReport, AnalyticsError> {
        let now = self.control().now_ms();
        self.read(who, workspace_id, |rollup| report::realtime(rollup, now)).await
    }

    pub async fn retention(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        subject: &str,
        period: &str,
        offsets: &[u32],
    ) -> Result<RetentionReport, AnalyticsError> {
        let subject = Subject::parse(subject).ok_or_else(|| invalid("subject", "must be device or user"))?;
        let period = Period::parse(period).ok_or_else(|| invalid("period", "must be day, week or month"))?;
        if offsets.is_empty() || offsets.len() > 60 || offsets.iter().any(|&offset| offset > 400) {
            return Err(invalid("offsets", "give 1 to 60 offsets, each at most 400"));
        }
        self.read(who, workspace_id, |rollup| report::retention(rollup, range, subject, period, offsets)).await
    }

    pub async fn funnel(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        steps: &[String],
        window_seconds: u64,
    ) -> Result<FunnelReport, AnalyticsError> {
        if !(2..=10).contains(&steps.len()) || steps.iter().any(String::is_empty) {
            return Err(invalid("steps", "give 2 to 10 event names"));
        }
        if window_seconds == 0 || window_seconds > 90 * 86_400 {
            return Err(invalid("window_seconds", "must be 1 second to 90 days"));
        }
        let window_ms = i64::try_from(window_seconds).unwrap_or(i64::MAX) * 1000;
        debug_assert!(window_ms <= 90 * DAY_MS);
        self.read(who, workspace_id, |rollup| report::funnel(rollup, steps, range, window_ms)).await
    }

    pub async fn events(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        breakdown: Option<(&str, &str)>,
    ) -> Result<EventsReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::events(rollup, range, breakdown)).await
    }

    pub async fn pages(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<PagesReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::pages(rollup, range)).await
    }

    pub async fn paths(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        limit: usize,
    ) -> Result<PathsReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::paths(rollup, range, limit.clamp(1, 500))).await
    }

    pub async fn perf(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<PerfReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::perf(rollup, range)).await
    }

    pub async fn failures(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: &str,
    ) -> Result<FailuresReport, AnalyticsError> {
        let kind =
            crate::event::FailureKind::parse(kind).ok_or_else(|| invalid("kind", "must be crash, anr or lag"))?;
        self.read(who, workspace_id, |rollup| report::failures(rollup, kind)).await
    }

    pub async fn failure(
        &self,
        who: &Principal,
        workspace_id: &str,
        fingerprint: &str,
    ) -> Result<FailureGroupDetail, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::failure(rollup, fingerprint))
            .await?
            .ok_or_else(|| AnalyticsError::UnknownGroup(fingerprint.to_owned()))
    }
}

impl AnalyticsService {
    // ---- alerts --------------------------------------------------------------------------

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

    /// Creates a rule, or replaces rule `rule_id` of the workspace.
    pub async fn put_alert(
        &self,
        who: &Principal,
        workspace_id: &str,
        rule_id: Option<&str>,
        definition: AlertRuleDefinition,
    ) -> Result<AlertRuleView, AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Operate).await?;
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

    pub async fn delete_alert(&self, who: &Principal, workspace_id: &str, rule_id: &str) -> Result<(), AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Operate).await?;
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

    /// Evaluates the rules every `interval` until the returned task is aborted.
    pub fn spawn_alerts(&self, interval: std::time::Duration, api: Arc<dyn ApiCalls>) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = service.evaluate_alerts(api.as_ref()).await {
                    tracing::warn!(%error, "cannot evaluate alert rules");
                }
            }
        })
    }
}

fn parse_mapping(content: &[u8]) -> Result<ProguardMapping, AnalyticsError> {
    let text = std::str::from_utf8(content).map_err(|_| invalid("mapping", "is not UTF-8 text"))?;
    ProguardMapping::parse(text).map_err(|error| invalid("mapping", error.to_string()))
}

impl AnalyticsService {
    // ---- symbol files --------------------------------------------------------------------

    /// Stores a ProGuard/R8 mapping for an app version and recounts the stored batches with it, so
    /// past crashes of that version are retraced and regrouped along with new ones.
    pub async fn upload_mapping(
        &self,
        who: &Principal,
        workspace_id: &str,
        app_version: &str,
        content: Vec<u8>,
    ) -> Result<SymbolFileView, AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Operate).await?;
        if app_version.is_empty() || app_version.len() > 64 {
            return Err(invalid("app_version", "must be 1 to 64 characters"));
        }
        let mapping = parse_mapping(&content)?;
        let now = self.control().now_ms();
        let view = SymbolFileView {
            app_version: app_version.to_owned(),
            kind: "proguard".into(),
            size: content.len() as u64,
            classes: mapping.classes() as u64,
            uploaded_at: format_rfc3339(now),
        };
        let record = SymbolFileRecord {
            workspace_id: workspace_id.to_owned(),
            app_version: app_version.to_owned(),
            kind: "proguard".into(),
            content,
            uploaded_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "analytics.symbols.upload", "symbols", app_version)
            .in_app(&app_id)
            .after(json!({ "kind": "proguard", "size": view.size, "classes": view.classes }));
        self.control().storage().put_symbol_file(&record, &audit).await?;
        self.inner
            .shared
            .mappings
            .write()
            .expect("mapping lock")
            .insert((workspace_id.to_owned(), app_version.to_owned()), Arc::new(mapping));
        self.recount().await?;
        Ok(view)
    }

    /// Drops the rollups and counts every stored batch again.
    async fn recount(&self) -> Result<usize, AnalyticsError> {
        {
            let _one_at_a_time = self.inner.shared.catching_up.lock().await;
            *self.inner.shared.rollups.write().expect("rollup lock") = Rollups::default();
        }
        self.catch_up().await
    }

    pub async fn symbol_files(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Vec<SymbolFileView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let files = self.control().storage().list_symbol_files(Some(workspace_id)).await?;
        let mappings = self.inner.shared.mappings.read().expect("mapping lock");
        Ok(files
            .into_iter()
            .map(|file| SymbolFileView {
                classes: mappings
                    .get(&(file.workspace_id.clone(), file.app_version.clone()))
                    .map_or(0, |mapping| mapping.classes() as u64),
                size: file.content.len() as u64,
                app_version: file.app_version,
                kind: file.kind,
                uploaded_at: format_rfc3339(file.uploaded_at),
            })
            .collect())
    }
}

/// A log file's text, at most this long.
const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;
/// Search answers hold at most this many lines.
const MAX_SEARCH_LINES: usize = 500;

/// What a log search looks for: lines containing `keyword`, in files uploaded in `range`,
/// optionally of one device or user.
#[derive(Debug, Clone)]
pub struct LogSearch {
    pub keyword: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub range: DayRange,
}

fn log_file_view(file: &LogFileRecord) -> LogFileView {
    LogFileView {
        file_id: file.file_id.clone(),
        request_id: file.request_id.clone(),
        device_id: file.device_id.clone(),
        user_id: file.user_id.clone(),
        file_name: file.file_name.clone(),
        size: u64::try_from(file.size).unwrap_or(0),
        uploaded_at: format_rfc3339(file.uploaded_at),
    }
}

fn log_text(file: &LogFileRecord) -> Result<String, AnalyticsError> {
    let corrupt = |detail: String| AnalyticsError::from(StorageError::Corrupt { table: "analytics_log_files", detail });
    let bytes = zstd::stream::decode_all(file.content.as_slice()).map_err(|error| corrupt(error.to_string()))?;
    String::from_utf8(bytes).map_err(|error| corrupt(error.to_string()))
}

impl AnalyticsService {
    // ---- diagnosis -----------------------------------------------------------------------

    /// Asks a device (or every device of a user) for its log file, through sync: online devices
    /// get the request at once, the others when they connect within 3 days.
    pub async fn request_logs(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: LogRequest,
    ) -> Result<LogRequestView, AnalyticsError> {
        let (app, workspace) = self.control().authorized_workspace(who, workspace_id, Action::Operate).await?;
        let (biz_type, link_token) = match (&request.device_id, &request.user_id) {
            (Some(device_id), None) => (DIAGNOSIS_DEVICE_BIZ_TYPE, device_id.clone()),
            (None, Some(user_id)) => (DIAGNOSIS_USER_BIZ_TYPE, user_id.clone()),
            _ => return Err(invalid("device_id", "name a device_id or a user_id, not both")),
        };
        let now = self.control().now_ms();
        let record = LogRequestRecord {
            request_id: self.control().new_id(),
            workspace_id: workspace_id.to_owned(),
            device_id: request.device_id.clone(),
            user_id: request.user_id.clone(),
            created_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "analytics.logs.request", "log_request", &record.request_id)
            .in_app(&app.app_id)
            .after(json!(request));
        self.control().storage().insert_log_request(&record, &audit).await?;
        let message = SendRequest {
            biz_type: biz_type.to_owned(),
            link_token,
            payload: json!({ "request_id": record.request_id }).to_string(),
            third_msg_id: record.request_id.clone(),
            ..SendRequest::default()
        };
        let sent = match self.inner.sync.send_batch_in(&workspace, vec![message]).await {
            Ok(mut outcomes) => outcomes.pop().map_or(Ok(()), |outcome| outcome.map(drop)),
            Err(error) => Err(error),
        };
        sent.map_err(|error| invalid("device_id", format!("cannot send the request: {error}")))?;
        Ok(LogRequestView {
            request_id: record.request_id,
            device_id: record.device_id,
            user_id: record.user_id,
            created_at: format_rfc3339(now),
        })
    }

    /// A device's answer to a request: its log file, kept compressed.
    pub async fn receive_log(
        &self,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
        upload: LogUpload,
    ) -> Result<LogFileView, AnalyticsError> {
        let request = self
            .control()
            .storage()
            .get_log_request(&upload.request_id)
            .await?
            .filter(|request| request.workspace_id == workspace_id)
            .ok_or_else(|| invalid("request_id", "no such log request in this workspace"))?;
        let asked = request.device_id.as_deref() == Some(device_id)
            || (request.user_id.is_some() && request.user_id.as_deref() == user_id);
        if !asked {
            return Err(AnalyticsError::NotAsked(upload.request_id));
        }
        if upload.content.len() > MAX_LOG_BYTES {
            return Err(invalid("content", format!("a log file is at most {MAX_LOG_BYTES} bytes")));
        }
        if upload.file_name.is_empty() || upload.file_name.len() > 200 {
            return Err(invalid("file_name", "must be 1 to 200 characters"));
        }
        let file = LogFileRecord {
            file_id: self.control().new_id(),
            request_id: request.request_id,
            workspace_id: workspace_id.to_owned(),
            device_id: device_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            file_name: upload.file_name,
            size: upload.content.len() as i64,
            content: zstd::bulk::compress(upload.content.as_bytes(), 3).expect("compressing into memory cannot fail"),
            uploaded_at: self.control().now_ms(),
        };
        self.control().storage().insert_log_file(&file).await?;
        Ok(log_file_view(&file))
    }

    /// Uploaded files, newest first.
    pub async fn log_files(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<Vec<LogFileView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let (from, to) = range.millis();
        let files = self.control().storage().list_log_files(workspace_id, from, to, false).await?;
        Ok(files.iter().map(log_file_view).collect())
    }

    /// One file and its text.
    pub async fn log_file(
        &self,
        who: &Principal,
        workspace_id: &str,
        file_id: &str,
    ) -> Result<(LogFileView, String), AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let file = self
            .control()
            .storage()
            .get_log_file(file_id)
            .await?
            .filter(|file| file.workspace_id == workspace_id)
            .ok_or_else(|| AnalyticsError::UnknownLogFile(file_id.to_owned()))?;
        Ok((log_file_view(&file), log_text(&file)?))
    }

    /// Lines of uploaded files containing the keyword (ignoring case), newest files first.
    pub async fn search_logs(
        &self,
        who: &Principal,
        workspace_id: &str,
        search: &LogSearch,
    ) -> Result<Vec<LogLineView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        if search.keyword.trim().is_empty() {
            return Err(invalid("q", "give a keyword"));
        }
        let keyword = search.keyword.to_lowercase();
        let (from, to) = search.range.millis();
        let files = self.control().storage().list_log_files(workspace_id, from, to, true).await?;
        let mut lines = Vec::new();
        for file in files.iter().filter(|file| {
            search.device_id.as_ref().is_none_or(|device_id| &file.device_id == device_id)
                && search.user_id.as_ref().is_none_or(|user_id| file.user_id.as_ref() == Some(user_id))
        }) {
            let text = log_text(file)?;
            for (index, line) in text.lines().enumerate() {
                if line.to_lowercase().contains(&keyword) {
                    lines.push(LogLineView {
                        file_id: file.file_id.clone(),
                        device_id: file.device_id.clone(),
                        user_id: file.user_id.clone(),
                        line_number: index as u64 + 1,
                        line: line.to_owned(),
                    });
                    if lines.len() == MAX_SEARCH_LINES {
                        return Ok(lines);
                    }
                }
            }
        }
        Ok(lines)
    }
}

/// The writer task: stores whatever uploads are waiting in one transaction, counts them, answers.
async fn write_batches(shared: Arc<Shared>, mut pending: mpsc::Receiver<PendingBatch>) {
    while let Some(first) = pending.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT
            && let Ok(next) = pending.try_recv()
        {
            group.push(next);
        }
        let records: Vec<AnalyticsBatchRecord> = group.iter().map(|batch| batch.record.clone()).collect();
        match shared.storage.append_analytics_batches(&records).await {
            Ok(sequences) => {
                if !apply_in_order(&shared, &group, &sequences)
                    && let Err(error) = catch_up(&shared).await
                {
                    tracing::warn!(%error, "cannot catch up with stored analytics batches");
                }
                for (batch, seq) in group.into_iter().zip(sequences) {
                    let _ = batch.stored.send(Ok(seq));
                }
            }
            Err(error) => {
                tracing::error!(%error, batches = group.len(), "cannot store analytics batches");
                for batch in group {
                    let _ = batch.stored.send(Err(error.to_string()));
                }
            }
        }
    }
}

/// Counts a stored group directly when its sequence numbers follow the last counted one without
/// a gap; otherwise another node stored batches in between and the caller catches up instead.
fn apply_in_order(shared: &Shared, group: &[PendingBatch], sequences: &[Option<i64>]) -> bool {
    let mut stored: Vec<(i64, &PendingBatch)> =
        sequences.iter().zip(group).filter_map(|(seq, batch)| seq.map(|seq| (seq, batch))).collect();
    stored.sort_by_key(|(seq, _)| *seq);
    let mappings = shared.mappings.read().expect("mapping lock");
    let mut rollups = shared.rollups.write().expect("rollup lock");
    let follows = stored.iter().enumerate().all(|(offset, (seq, _))| *seq == rollups.applied_seq + 1 + offset as i64);
    if follows {
        for (seq, batch) in stored {
            rollups.apply(seq, &batch.record, &batch.events, &mappings);
        }
    }
    follows
}

async fn catch_up(shared: &Shared) -> Result<usize, AnalyticsError> {
    let _one_at_a_time = shared.catching_up.lock().await;
    let mut counted = 0;
    loop {
        let after = shared.rollups.read().expect("rollup lock").applied_seq;
        let page = shared.storage.analytics_batches_after(after, CATCH_UP_PAGE).await?;
        let decoded: Vec<_> = page
            .iter()
            .map(|stored| {
                let events = decode_stored(&stored.batch.payload).unwrap_or_else(|error| {
                    tracing::error!(seq = stored.seq, %error, "an analytics batch cannot be decoded; skipped");
                    Vec::new()
                });
                (stored, events)
            })
            .collect();
        let mappings = shared.mappings.read().expect("mapping lock");
        let mut rollups = shared.rollups.write().expect("rollup lock");
        for (stored, events) in &decoded {
            rollups.apply(stored.seq, &stored.batch, events, &mappings);
        }
        counted += page.len();
        if page.len() < CATCH_UP_PAGE as usize {
            return Ok(counted);
        }
    }
}
