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

pub use logs::LogSearch;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use midship_api::AnalyticsPolicy;
use midship_control::ControlPlane;
use midship_core::Principal;
use midship_core::access::Action;
use midship_core::cache::TtlCache;
use midship_storage::{AnalyticsBatchRecord, Storage};
use midship_sync::SyncService;
use tokio::sync::mpsc;

use crate::AnalyticsError;
use crate::alert::{RuleStates, WebhookSettings};
use crate::event::{Event, Payload};
use crate::export::ParquetExporter;
use crate::proguard::ProguardMapping;
use crate::rollup::WorkspaceRollup;

use self::ingest::{PendingBatch, write_batches};
use self::symbols::parse_mapping;

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
        ingest::catch_up(&self.inner.shared).await
    }

    /// Checks the caller may read the workspace; returns its app.
    async fn authorize(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<String, AnalyticsError> {
        let (app, _) = self.control().authorized_workspace(who, workspace_id, action).await?;
        Ok(app.app_id)
    }
}
