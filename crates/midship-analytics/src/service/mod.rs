//! Uploads in, reports out. Every accepted batch is committed to storage before it is acknowledged
//! (one transaction per group of concurrent uploads); the in-memory rollups are then updated from it,
//! rebuilt from storage at start, and caught up from batches other nodes stored.
//!
//! This module is the shared core (the service, its rollups and symbol mappings); each job has
//! its own module: `ingest` (uploads, the writer task, the upload policy), `reports`, `alerts`,
//! `symbols`, `logs` (diagnosis) and `export` (Parquet).

mod alerts;
mod export;
mod ingest;
mod logs;
mod reports;
mod symbols;

pub use ingest::ServerExposure;
pub use logs::LogSearch;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use midship_api::AnalyticsPolicy;
use midship_control::ControlPlane;
use midship_core::Principal;
use midship_core::access::Action;
use midship_core::cache::TtlCache;
use midship_storage::{AnalyticsBatchRecord, Storage};
use midship_sync::SyncService;

use crate::AnalyticsError;
use crate::alert::{RuleStates, WebhookSettings};
use crate::event::{Event, Payload};
use crate::export::ParquetExporter;
use crate::proguard::ProguardMapping;
use crate::rollup::WorkspaceRollup;

use self::ingest::{BatchWriter, spawn_batch_writer};

/// Batches stored in one transaction at most.
const GROUP_LIMIT: usize = 256;

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
    writer: BatchWriter,
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
    clock: Arc<dyn midship_core::Clock>,
    rollups: RwLock<Rollups>,
    mappings: RwLock<Mappings>,
    /// When each loaded mapping was uploaded, to notice one replaced on another node.
    mapping_uploads: Mutex<HashMap<(String, String), i64>>,
    /// One catch-up at a time.
    catching_up: tokio::sync::Mutex<()>,
}

/// How long a missing sequence number below counted ones may still arrive. On PostgreSQL,
/// nodes take numbers before they commit, so a lower number can become visible after a higher
/// one; a number still missing after this belongs to a transaction that rolled back.
const SEQUENCE_GAP_GRACE_MS: i64 = 60_000;

#[derive(Debug, Default)]
struct Rollups {
    /// Every stored batch up to this sequence number is counted (or known never to exist).
    applied_seq: i64,
    /// Batches counted above `applied_seq`: stored while a lower number was not yet visible.
    counted_above: BTreeSet<i64>,
    /// Since when the gap right above `applied_seq` has been waited for.
    gap_seen_at: Option<(i64, i64)>,
    workspaces: HashMap<String, WorkspaceRollup>,
}

impl Rollups {
    fn apply(&mut self, seq: i64, batch: &AnalyticsBatchRecord, events: &[Event], mappings: &Mappings) {
        if seq <= self.applied_seq || self.counted_above.contains(&seq) {
            return;
        }
        let events = symbolicate(&batch.workspace_id, events, mappings);
        self.workspaces.entry(batch.workspace_id.clone()).or_default().apply(
            &batch.device_id,
            &events,
            batch.received_at,
        );
        self.counted_above.insert(seq);
        self.advance();
    }

    /// Moves `applied_seq` over the counted batches that now follow it without a gap.
    fn advance(&mut self) {
        while self.counted_above.remove(&(self.applied_seq + 1)) {
            self.applied_seq += 1;
        }
    }

    /// Gives up on a gap waited for longer than the grace: its transaction rolled back.
    fn settle_gaps(&mut self, now: i64) {
        loop {
            if self.counted_above.is_empty() {
                self.gap_seen_at = None;
                return;
            }
            let gap = self.applied_seq + 1;
            match self.gap_seen_at {
                Some((seen_gap, since)) if seen_gap == gap && now - since >= SEQUENCE_GAP_GRACE_MS => {
                    tracing::debug!(seq = gap, "an analytics sequence number never committed; skipped");
                    self.applied_seq = gap;
                    self.advance();
                    self.gap_seen_at = None;
                }
                Some((seen_gap, _)) if seen_gap == gap => return,
                _ => {
                    self.gap_seen_at = Some((gap, now));
                    return;
                }
            }
        }
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

impl AnalyticsService {
    /// Starts the batch writer on the current runtime; call [`AnalyticsService::catch_up`] before
    /// serving reports, so the rollups hold what was stored before.
    pub fn new(control: ControlPlane, sync: SyncService, settings: AnalyticsSettings) -> Self {
        let shared = Arc::new(Shared {
            storage: control.storage().clone(),
            clock: control.clock().clone(),
            rollups: RwLock::default(),
            mappings: RwLock::default(),
            mapping_uploads: Mutex::default(),
            catching_up: tokio::sync::Mutex::default(),
        });
        let writer = spawn_batch_writer(shared.clone(), 4 * GROUP_LIMIT);
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
        self.load_symbol_files().await?;
        self.catch_up().await
    }

    /// Counts every batch stored since the last call (all of them, the first time): those of
    /// other nodes, or everything at start. Returns how many batches it counted.
    pub async fn catch_up(&self) -> Result<usize, AnalyticsError> {
        ingest::catch_up(&self.inner.shared).await
    }

    /// Checks the caller may read the workspace; returns its app.
    async fn authorize(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<String, AnalyticsError> {
        let (app, _) = self.control().authorized_workspace(who, workspace_id, action).await?;
        Ok(app.app_id)
    }
}

#[cfg(test)]
mod rollup_order_tests {
    use super::*;

    fn batch(device_id: &str) -> AnalyticsBatchRecord {
        AnalyticsBatchRecord {
            workspace_id: "WS".into(),
            device_id: device_id.into(),
            batch_id: device_id.into(),
            received_at: 0,
            event_count: 0,
            payload: Vec::new(),
        }
    }

    #[test]
    fn a_batch_committed_out_of_sequence_order_is_counted_once_and_a_rolled_back_number_is_passed() {
        let mut rollups = Rollups::default();
        let mappings = Mappings::new();
        rollups.apply(1, &batch("A"), &[], &mappings);
        rollups.apply(3, &batch("C"), &[], &mappings);
        assert_eq!(rollups.applied_seq, 1, "2 is not visible yet");
        rollups.settle_gaps(1_000);
        rollups.apply(3, &batch("C"), &[], &mappings);
        assert_eq!(rollups.counted_above.len(), 1, "3 is counted once however often it is read");
        rollups.apply(2, &batch("B"), &[], &mappings);
        assert_eq!((rollups.applied_seq, rollups.counted_above.len()), (3, 0), "2 committed late and was counted");
        rollups.apply(5, &batch("E"), &[], &mappings);
        rollups.settle_gaps(10_000);
        rollups.settle_gaps(10_000 + SEQUENCE_GAP_GRACE_MS - 1);
        assert_eq!(rollups.applied_seq, 3, "4 may still commit");
        rollups.settle_gaps(10_000 + SEQUENCE_GAP_GRACE_MS);
        assert_eq!(rollups.applied_seq, 5, "4 never committed: passed over");
    }
}
