//! Uploads in: checked, rate-limited per device, group-committed by the writer task and counted
//! once stored; the upload policy devices obey.

use std::sync::Arc;

use midship_api::AnalyticsPolicy;
use midship_control::ControlError;
use midship_core::access::Action;
use midship_core::{NewAuditEntry, Principal};
use midship_experiments::AssignmentUnit;
use midship_protocol::calls::{DevicePolicy, RejectedEvent, UploadResponse};
use midship_storage::group_commit::GroupCommit;
use midship_storage::{AnalyticsBatchRecord, AnalyticsPolicyRecord, StorageError};
use serde_json::json;

use super::{AnalyticsService, GROUP_LIMIT, Shared};
use crate::event::{Event, Payload, Uploader, decode_batch, decode_stored, encode_stored, same_events};
use crate::rollup::MINUTE_MS;
use crate::{AnalyticsError, policy};

/// Batches read per query when catching up.
const CATCH_UP_PAGE: u32 = 1000;

/// An exposure the server saw itself: the device (and user) that called, and what it was
/// assigned.
#[derive(Debug, Clone, Copy)]
pub struct ServerExposure<'a> {
    pub device_id: &'a str,
    pub user_id: Option<&'a str>,
    pub app_version: Option<&'a str>,
    pub experiment: &'a str,
    pub variation: &'a str,
    pub unit_kind: AssignmentUnit,
}

/// A batch on its way to storage: the row, and its decoded events to count once stored.
pub(super) type PendingBatch = (AnalyticsBatchRecord, Vec<Event>);

/// Answers, per batch, its sequence number, or `None` for a repeat of a stored batch.
pub(super) type BatchWriter = GroupCommit<PendingBatch, Option<i64>>;

impl AnalyticsService {
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
            return Ok(UploadResponse {
                batch_id: batch.batch_id,
                accepted: 0,
                duplicate: false,
                content_differs: false,
                rejected,
            });
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
        let payload = record.payload.clone();
        let seq = self
            .inner
            .writer
            .write(vec![(record, batch.events)])
            .await
            .map_err(|error| AnalyticsError::Control(ControlError::Storage(error)))?
            .into_iter()
            .next()
            .flatten();
        let content_differs = match seq {
            Some(_) => false,
            None => self.stored_content_differs(workspace_id, device_id, &batch.batch_id, &payload).await?,
        };
        Ok(UploadResponse {
            batch_id: batch.batch_id,
            accepted: if seq.is_some() { accepted } else { 0 },
            duplicate: seq.is_none(),
            content_differs,
            rejected,
        })
    }

    /// Records an exposure the server saw itself (a call a gateway experiment routed), once per
    /// unit: stored as the device's batch `exposure.{experiment}` (so a repeat is a duplicate
    /// batch) and counted like an uploaded one. Units already exposed on this node's rollup are
    /// answered from memory.
    pub async fn record_exposure(
        &self,
        workspace_id: &str,
        exposure: ServerExposure<'_>,
    ) -> Result<(), AnalyticsError> {
        let unit_id = match exposure.unit_kind {
            AssignmentUnit::Device => Some(exposure.device_id),
            AssignmentUnit::User => exposure.user_id,
        };
        let Some(unit_id) = unit_id else { return Ok(()) };
        {
            let rollups = self.inner.shared.rollups.read().expect("rollup lock");
            if let Some(rollup) = rollups.workspaces.get(workspace_id) {
                let population = match exposure.unit_kind {
                    AssignmentUnit::Device => &rollup.devices,
                    AssignmentUnit::User => &rollup.users,
                };
                if population
                    .ids
                    .get(unit_id)
                    .is_some_and(|unit| rollup.experiments.is_exposed(exposure.experiment, exposure.unit_kind, unit))
                {
                    return Ok(());
                }
            }
        }
        let now = self.control().now_ms();
        let event = Event {
            time: now,
            client_time: None,
            user_id: exposure.user_id.map(str::to_owned),
            app_version: exposure.app_version.map(str::to_owned),
            payload: Payload::Experiment {
                experiment: exposure.experiment.to_owned(),
                variation: exposure.variation.to_owned(),
                unit: unit_id.to_owned(),
                unit_kind: exposure.unit_kind,
                // The server saw the assignment itself.
                proof: String::new(),
            },
        };
        let events = vec![event];
        let record = AnalyticsBatchRecord {
            workspace_id: workspace_id.to_owned(),
            device_id: exposure.device_id.to_owned(),
            batch_id: format!("exposure.{}", exposure.experiment),
            received_at: now,
            event_count: 1,
            payload: encode_stored(&events),
        };
        self.inner
            .writer
            .write(vec![(record, events)])
            .await
            .map_err(|error| AnalyticsError::Control(ControlError::Storage(error)))?;
        Ok(())
    }

    /// Whether the batch the device stored under `batch_id` holds other events than `payload` (this
    /// upload's, encoded for storage): a different batch reusing the id rather than a retry. Events
    /// placed at the receive time compare at their client time, so a later retry is still the same.
    async fn stored_content_differs(
        &self,
        workspace_id: &str,
        device_id: &str,
        batch_id: &str,
        payload: &[u8],
    ) -> Result<bool, AnalyticsError> {
        let storage = self.control().storage();
        let Some(stored) = storage.get_analytics_batch(workspace_id, device_id, batch_id).await? else {
            return Ok(false);
        };
        if stored.batch.payload == payload {
            return Ok(false);
        }
        let same = match (decode_stored(&stored.batch.payload), decode_stored(payload)) {
            (Ok(stored), Ok(uploaded)) => same_events(&stored, &uploaded),
            _ => false,
        };
        if !same {
            tracing::warn!(workspace_id, device_id, batch_id, "a batch id was sent again with other events; dropped");
        }
        Ok(!same)
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
}

/// The writer: stores whatever uploads are waiting in one transaction, then counts them.
pub(super) fn spawn_batch_writer(shared: Arc<Shared>, queue: usize) -> BatchWriter {
    GroupCommit::spawn("analytics batch", queue, GROUP_LIMIT, move |group: Vec<PendingBatch>| {
        let shared = shared.clone();
        async move {
            let records: Vec<AnalyticsBatchRecord> = group.iter().map(|(record, _)| record.clone()).collect();
            let sequences = shared.storage.append_analytics_batches(&records).await?;
            if !apply_in_order(&shared, &group, &sequences)
                && let Err(error) = catch_up(&shared).await
            {
                tracing::warn!(%error, "cannot catch up with stored analytics batches");
            }
            Ok(sequences)
        }
    })
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
        for (seq, (record, events)) in stored {
            rollups.apply(seq, record, events, &mappings);
        }
    }
    follows
}

pub(super) async fn catch_up(shared: &Shared) -> Result<usize, AnalyticsError> {
    let _one_at_a_time = shared.catching_up.lock().await;
    let mut counted = 0;
    // From the last number below which everything is counted; batches counted above it (seen
    // before a lower number committed) come again and are skipped.
    let mut after = shared.rollups.read().expect("rollup lock").applied_seq;
    loop {
        let page = shared.storage.analytics_batches_after(after, CATCH_UP_PAGE).await?;
        after = page.last().map_or(after, |stored| stored.seq);
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
            rollups.settle_gaps(shared.clock.now_ms());
            return Ok(counted);
        }
    }
}
