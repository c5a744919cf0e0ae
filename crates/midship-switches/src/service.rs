//! The switch service: editing (draft), publishing, history, rollback, import and export for
//! people, and evaluation for devices from cached snapshots.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use midship_control::{ControlError, ControlPlane};
use midship_core::access::Action;
use midship_core::page::{Page, PageRequest};
use midship_core::{Classify, ErrorKind, NewAuditEntry, Principal, Workspace};
use midship_storage::{DraftAfterPublish, DraftSwitchRecord, StorageError, SwitchVersionRecord};
use midship_sync::{DELIVERY_BIZ_TYPE, SendRequest, SyncService};
use midship_targeting::DeviceContext;
use serde_json::{Value, json};

use crate::definition::{DefinitionError, SwitchDefinition};
use crate::document::ConfigDocument;
use crate::snapshot::ConfigSnapshot;

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("invalid switch at {0}")]
    Invalid(#[from] DefinitionError),
    #[error("switch `{0}` not found")]
    UnknownSwitch(String),
    #[error("version {0} not found")]
    UnknownVersion(i64),
    #[error("another publication happened at the same time; try again")]
    ConcurrentPublish,
    #[error("nothing to publish: the draft is the same as version {0}")]
    NothingToPublish(i64),
    /// An approved publication whose draft was edited after the request: what was reviewed is
    /// no longer what would be published.
    #[error("the draft changed after it was reviewed; ask for approval again")]
    DraftChanged,
}

impl Classify for SwitchError {
    fn kind(&self) -> ErrorKind {
        match self {
            SwitchError::Control(control) => control.kind(),
            SwitchError::Invalid(_) => ErrorKind::Invalid,
            SwitchError::UnknownSwitch(_) | SwitchError::UnknownVersion(_) => ErrorKind::NotFound,
            SwitchError::ConcurrentPublish | SwitchError::NothingToPublish(_) | SwitchError::DraftChanged => {
                ErrorKind::Conflict
            }
        }
    }
}

impl From<StorageError> for SwitchError {
    fn from(error: StorageError) -> Self {
        Self::Control(error.into())
    }
}

/// Where a switch stands relative to the latest published version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchState {
    /// In the draft only: devices do not get it yet.
    New,
    /// The draft differs from what devices get.
    Changed,
    /// Devices get exactly the draft.
    Published,
    /// Deleted from the draft, still served until the next publication.
    Deleted,
}

impl SwitchState {
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchState::New => "new",
            SwitchState::Changed => "changed",
            SwitchState::Published => "published",
            SwitchState::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SwitchStatus {
    pub key: String,
    pub draft: Option<SwitchDefinition>,
    pub published: Option<SwitchDefinition>,
    pub state: SwitchState,
}

/// What a publication would change: each switch not yet as devices get it, and the draft's
/// fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationReview {
    pub fingerprint: String,
    pub changes: Vec<(String, SwitchState)>,
}

/// SHA-256 of the draft's definitions as JSON, in key order.
fn draft_fingerprint(document: &ConfigDocument) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(&document.switches).expect("definitions serialize");
    hex::encode(Sha256::digest(json))
}

#[derive(Debug, Clone)]
pub struct PublishedVersion {
    pub version: i64,
    pub published_at: i64,
    pub switch_count: usize,
}

#[derive(Debug, Clone)]
pub struct VersionSummary {
    pub version: i64,
    pub published_at: i64,
    pub published_by: String,
    pub note: String,
    pub switch_count: usize,
}

#[derive(Debug, Clone, Copy)]
pub enum ExportSource {
    Draft,
    /// A published version; the latest when `None`.
    Published(Option<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// The draft becomes exactly the document.
    Replace,
    /// Switches of the document are added or overwritten; others stay.
    Merge,
}

#[derive(Debug, Clone)]
pub enum PullOutcome {
    Values { version: i64, etag: String, values: BTreeMap<String, Value> },
    NotModified { version: i64, etag: String },
}

#[derive(Debug, Clone)]
pub struct SwitchService {
    control: ControlPlane,
    snapshots: Arc<RwLock<HashMap<String, Arc<ConfigSnapshot>>>>,
    /// Where each new version is announced to online devices; none in unit tests of the engine.
    announcements: Option<SyncService>,
}

fn parse_definition(record: &DraftSwitchRecord) -> Result<SwitchDefinition, SwitchError> {
    serde_json::from_str(&record.definition).map_err(|error| {
        SwitchError::Control(ControlError::Storage(StorageError::Corrupt {
            table: "switch_drafts",
            detail: error.to_string(),
        }))
    })
}

fn parse_document(record: &SwitchVersionRecord) -> Result<ConfigDocument, SwitchError> {
    serde_json::from_str(&record.document).map_err(|error| {
        SwitchError::Control(ControlError::Storage(StorageError::Corrupt {
            table: "switch_versions",
            detail: error.to_string(),
        }))
    })
}

fn draft_record(definition: &SwitchDefinition, now: i64) -> DraftSwitchRecord {
    DraftSwitchRecord {
        key: definition.key.clone(),
        definition: serde_json::to_string(definition).expect("definitions serialize"),
        updated_at: now,
    }
}

fn summary(record: &SwitchVersionRecord, document: &ConfigDocument) -> VersionSummary {
    VersionSummary {
        version: record.version,
        published_at: record.published_at,
        published_by: record.published_by.clone(),
        note: record.note.clone(),
        switch_count: document.switches.len(),
    }
}

impl SwitchService {
    /// Without announcements: devices learn of new versions at their next pull.
    pub fn new(control: ControlPlane) -> Self {
        Self { control, snapshots: Arc::default(), announcements: None }
    }

    /// Each published version (publish, rollback, an import that publishes) is also announced
    /// over the long connection (push and pull together), so online devices pull at once.
    pub fn announcing(control: ControlPlane, sync: SyncService) -> Self {
        Self { control, snapshots: Arc::default(), announcements: Some(sync) }
    }

    async fn workspace(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<Workspace, SwitchError> {
        let (_, workspace) = self.control.authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    fn audit(&self, who: &Principal, workspace: &Workspace, action: &str, target_id: &str) -> NewAuditEntry {
        NewAuditEntry::by(who, self.control.now_ms(), action, "switch", target_id).in_app(&workspace.app_id)
    }

    async fn draft(&self, workspace_id: &str) -> Result<Vec<SwitchDefinition>, SwitchError> {
        let records = self.control.storage().list_draft_switches(workspace_id).await?;
        records.iter().map(parse_definition).collect()
    }

    async fn published(
        &self,
        workspace_id: &str,
        version: Option<i64>,
    ) -> Result<Option<(SwitchVersionRecord, ConfigDocument)>, SwitchError> {
        match self.control.storage().get_switch_version(workspace_id, version).await? {
            Some(record) => {
                let document = parse_document(&record)?;
                Ok(Some((record, document)))
            }
            None => Ok(None),
        }
    }

    /// Creates or replaces a switch in the draft.
    pub async fn set_switch(
        &self,
        who: &Principal,
        workspace_id: &str,
        definition: SwitchDefinition,
    ) -> Result<SwitchDefinition, SwitchError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        definition.validate()?;
        let storage = self.control.storage();
        let before =
            storage.list_draft_switches(workspace_id).await?.into_iter().find(|record| record.key == definition.key);
        let before = before.as_ref().map(parse_definition).transpose()?;
        let mut audit = self.audit(who, &workspace, "switch.set", &definition.key).after(summarize(&definition));
        if let Some(before) = &before {
            audit = audit.before(summarize(before));
        }
        storage.put_draft_switch(workspace_id, &draft_record(&definition, self.control.now_ms()), &audit).await?;
        Ok(definition)
    }

    pub async fn delete_switch(&self, who: &Principal, workspace_id: &str, key: &str) -> Result<(), SwitchError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let audit = self.audit(who, &workspace, "switch.delete", key);
        match self.control.storage().delete_draft_switch(workspace_id, key, &audit).await {
            Err(StorageError::NotFound { .. }) => Err(SwitchError::UnknownSwitch(key.to_owned())),
            other => Ok(other?),
        }
    }

    /// Every switch of the draft or of the latest version, with its state.
    pub async fn list_switches(&self, who: &Principal, workspace_id: &str) -> Result<Vec<SwitchStatus>, SwitchError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let mut draft: BTreeMap<String, SwitchDefinition> =
            self.draft(workspace_id).await?.into_iter().map(|switch| (switch.key.clone(), switch)).collect();
        let mut published: BTreeMap<String, SwitchDefinition> = match self.published(workspace_id, None).await? {
            Some((_, document)) => document.switches.into_iter().map(|switch| (switch.key.clone(), switch)).collect(),
            None => BTreeMap::new(),
        };
        let keys: std::collections::BTreeSet<String> = draft.keys().chain(published.keys()).cloned().collect();
        Ok(keys
            .into_iter()
            .map(|key| {
                let draft = draft.remove(&key);
                let published = published.remove(&key);
                let state = match (&draft, &published) {
                    (Some(_), None) => SwitchState::New,
                    (None, _) => SwitchState::Deleted,
                    (Some(draft), Some(published)) if draft == published => SwitchState::Published,
                    (Some(_), Some(_)) => SwitchState::Changed,
                };
                SwitchStatus { key, draft, published, state }
            })
            .collect())
    }

    pub async fn get_switch(
        &self,
        who: &Principal,
        workspace_id: &str,
        key: &str,
    ) -> Result<SwitchStatus, SwitchError> {
        self.list_switches(who, workspace_id)
            .await?
            .into_iter()
            .find(|status| status.key == key)
            .ok_or_else(|| SwitchError::UnknownSwitch(key.to_owned()))
    }

    /// Publishes the draft as the next version; devices get it on their next pull.
    pub async fn publish(
        &self,
        who: &Principal,
        workspace_id: &str,
        note: &str,
    ) -> Result<PublishedVersion, SwitchError> {
        self.publish_draft(who, workspace_id, note, None).await
    }

    /// What publishing now would change, checked as [`Self::publish`] checks it, with the
    /// draft's fingerprint, so an approved request publishes exactly what was reviewed.
    pub async fn review_publication(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<PublicationReview, SwitchError> {
        self.workspace(who, workspace_id, Action::Operate).await?;
        let document = ConfigDocument::new(self.draft(workspace_id).await?);
        document.validate()?;
        let latest = self.published(workspace_id, None).await?;
        if let Some((record, published)) = &latest
            && published.switches == document.switches
        {
            return Err(SwitchError::NothingToPublish(record.version));
        }
        let changes = self
            .list_switches(who, workspace_id)
            .await?
            .into_iter()
            .filter(|status| status.state != SwitchState::Published)
            .map(|status| (status.key, status.state))
            .collect();
        Ok(PublicationReview { fingerprint: draft_fingerprint(&document), changes })
    }

    /// [`Self::publish`] of a reviewed draft: refused when the draft's fingerprint moved since.
    pub async fn publish_reviewed(
        &self,
        who: &Principal,
        workspace_id: &str,
        note: &str,
        fingerprint: &str,
    ) -> Result<PublishedVersion, SwitchError> {
        self.publish_draft(who, workspace_id, note, Some(fingerprint)).await
    }

    async fn publish_draft(
        &self,
        who: &Principal,
        workspace_id: &str,
        note: &str,
        reviewed_fingerprint: Option<&str>,
    ) -> Result<PublishedVersion, SwitchError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let document = ConfigDocument::new(self.draft(workspace_id).await?);
        if reviewed_fingerprint.is_some_and(|reviewed| reviewed != draft_fingerprint(&document)) {
            return Err(SwitchError::DraftChanged);
        }
        document.validate()?;
        let latest = self.published(workspace_id, None).await?;
        if let Some((record, published)) = &latest
            && published.switches == document.switches
        {
            return Err(SwitchError::NothingToPublish(record.version));
        }
        let version = latest.map_or(1, |(record, _)| record.version + 1);
        let audit = self
            .audit(who, &workspace, "switch.publish", &workspace.workspace_id)
            .after(json!({ "version": version, "switches": document.switches.len(), "note": note }));
        self.store_version(who, &workspace, version, &document, note, DraftAfterPublish::Keep, &audit).await
    }

    /// Whether `version` was published in the workspace (a rollback's target).
    pub async fn has_version(&self, who: &Principal, workspace_id: &str, version: i64) -> Result<(), SwitchError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        match self.published(workspace_id, Some(version)).await? {
            Some((record, _)) if record.version == version => Ok(()),
            _ => Err(SwitchError::UnknownVersion(version)),
        }
    }

    /// Publishes an earlier version's content again as a new version and makes it the draft.
    /// Operators keep it on purpose: it is incident response, and it only restores what was
    /// published before.
    pub async fn rollback(
        &self,
        who: &Principal,
        workspace_id: &str,
        to_version: i64,
    ) -> Result<PublishedVersion, SwitchError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let (_, document) = self
            .published(workspace_id, Some(to_version))
            .await?
            .filter(|(record, _)| record.version == to_version)
            .ok_or(SwitchError::UnknownVersion(to_version))?;
        let latest = self.published(workspace_id, None).await?.map_or(0, |(record, _)| record.version);
        let version = latest + 1;
        let now = self.control.now_ms();
        let draft: Vec<DraftSwitchRecord> = document.switches.iter().map(|switch| draft_record(switch, now)).collect();
        let audit = self
            .audit(who, &workspace, "switch.rollback", &workspace.workspace_id)
            .before(json!({ "version": latest }))
            .after(json!({ "version": version, "restored": to_version }));
        let note = format!("rollback to version {to_version}");
        self.store_version(who, &workspace, version, &document, &note, DraftAfterPublish::Replace(&draft), &audit).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_version(
        &self,
        who: &Principal,
        workspace: &Workspace,
        version: i64,
        document: &ConfigDocument,
        note: &str,
        draft: DraftAfterPublish<'_>,
        audit: &NewAuditEntry,
    ) -> Result<PublishedVersion, SwitchError> {
        let published_at = self.control.now_ms();
        let record = SwitchVersionRecord {
            workspace_id: workspace.workspace_id.clone(),
            version,
            document: serde_json::to_string(document).expect("documents serialize"),
            published_at,
            published_by: who.actor_name().to_owned(),
            note: note.chars().take(500).collect(),
        };
        // Compile before storing, so a version that cannot be served is never published.
        let snapshot =
            ConfigSnapshot::build(&workspace.workspace_id, &workspace.app_id, version, Some(published_at), document)?;
        match self.control.storage().publish_switch_version(&record, draft, audit).await {
            Err(StorageError::Conflict { .. }) => return Err(SwitchError::ConcurrentPublish),
            other => other?,
        }
        self.install(Arc::new(snapshot));
        self.announce(workspace, version).await;
        Ok(PublishedVersion { version, published_at, switch_count: document.switches.len() })
    }

    /// Tells online devices of the workspace that version `version` is out, in Midship's own
    /// bizType `midship.delivery` (docs/switches.md); a failure is logged, as devices pull anyway.
    async fn announce(&self, workspace: &Workspace, version: i64) {
        let Some(sync) = &self.announcements else { return };
        let announcement = SendRequest {
            biz_type: DELIVERY_BIZ_TYPE.to_owned(),
            link_token: String::new(),
            payload: json!({ "kind": "config", "version": version }).to_string(),
            third_msg_id: format!("config.{version}"),
            ..SendRequest::default()
        };
        let failed = match sync.send_batch_in(workspace, vec![announcement]).await {
            Ok(outcomes) => outcomes.into_iter().find_map(Result::err).map(|error| error.to_string()),
            Err(error) => Some(error.to_string()),
        };
        if let Some(error) = failed {
            tracing::warn!(%error, version, workspace_id = %workspace.workspace_id, "cannot announce a new configuration");
        }
    }

    pub async fn history(
        &self,
        who: &Principal,
        workspace_id: &str,
        page: &PageRequest,
    ) -> Result<Page<VersionSummary>, SwitchError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        if page.after.as_deref().is_some_and(|cursor| midship_core::page::number_cursor(cursor).is_none()) {
            return Err(ControlError::Invalid(midship_core::ValidationError::new(
                "cursor",
                "is not a cursor this list returned",
            ))
            .into());
        }
        let records = self.control.storage().list_switch_versions(workspace_id, page).await?;
        let mut items = Vec::with_capacity(records.items.len());
        for record in &records.items {
            items.push(summary(record, &parse_document(record)?));
        }
        Ok(Page { items, next_cursor: records.next_cursor })
    }

    pub async fn export(
        &self,
        who: &Principal,
        workspace_id: &str,
        source: ExportSource,
    ) -> Result<ConfigDocument, SwitchError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        match source {
            ExportSource::Draft => Ok(ConfigDocument::new(self.draft(workspace_id).await?)),
            ExportSource::Published(version) => match self.published(workspace_id, version).await? {
                Some((_, document)) => Ok(document),
                None => match version {
                    Some(version) => Err(SwitchError::UnknownVersion(version)),
                    None => Ok(ConfigDocument::new(Vec::new())),
                },
            },
        }
    }

    /// Loads a document into the draft; nothing changes unless every switch is valid. It can
    /// replace every switch at once (a pipeline promoting a tested configuration), so it needs
    /// `Integrate` where editing one switch needs `Operate`.
    pub async fn import(
        &self,
        who: &Principal,
        workspace_id: &str,
        document: ConfigDocument,
        mode: ImportMode,
    ) -> Result<usize, SwitchError> {
        let workspace = self.workspace(who, workspace_id, Action::Integrate).await?;
        document.validate()?;
        let mut merged: BTreeMap<String, SwitchDefinition> = match mode {
            ImportMode::Replace => BTreeMap::new(),
            ImportMode::Merge => {
                self.draft(workspace_id).await?.into_iter().map(|switch| (switch.key.clone(), switch)).collect()
            }
        };
        let imported = document.switches.len();
        merged.extend(document.switches.into_iter().map(|switch| (switch.key.clone(), switch)));
        let now = self.control.now_ms();
        let records: Vec<DraftSwitchRecord> = merged.values().map(|switch| draft_record(switch, now)).collect();
        let mode_name = if mode == ImportMode::Replace { "replace" } else { "merge" };
        let audit = self
            .audit(who, &workspace, "switch.import", &workspace.workspace_id)
            .after(json!({ "mode": mode_name, "imported": imported, "draft_switches": records.len() }));
        self.control.storage().replace_draft(workspace_id, &records, &audit).await?;
        Ok(imported)
    }

    fn install(&self, snapshot: Arc<ConfigSnapshot>) {
        let mut snapshots = self.snapshots.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = snapshots.get(&snapshot.workspace_id).is_none_or(|current| current.version <= snapshot.version);
        if newer {
            snapshots.insert(snapshot.workspace_id.clone(), snapshot);
        }
    }

    fn cached(&self, workspace_id: &str) -> Option<Arc<ConfigSnapshot>> {
        self.snapshots.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(workspace_id).cloned()
    }

    async fn load(&self, workspace: &Workspace) -> Result<Arc<ConfigSnapshot>, SwitchError> {
        let snapshot = match self.published(&workspace.workspace_id, None).await? {
            Some((record, document)) => ConfigSnapshot::build(
                &workspace.workspace_id,
                &workspace.app_id,
                record.version,
                Some(record.published_at),
                &document,
            )?,
            None => ConfigSnapshot::empty(&workspace.workspace_id, &workspace.app_id),
        };
        let snapshot = Arc::new(snapshot);
        self.install(snapshot.clone());
        Ok(snapshot)
    }

    /// The snapshot devices of this workspace are served from; the database is read once per
    /// workspace and again only after a publication.
    pub async fn snapshot(&self, workspace_id: &str) -> Result<Arc<ConfigSnapshot>, SwitchError> {
        if let Some(snapshot) = self.cached(workspace_id) {
            return Ok(snapshot);
        }
        // Garbage ids are answered without a database round trip.
        if !midship_core::ids::looks_like_id(workspace_id) {
            return Err(ControlError::not_found("workspace", workspace_id).into());
        }
        let workspace = self
            .control
            .storage()
            .get_workspace(workspace_id)
            .await?
            .ok_or_else(|| ControlError::not_found("workspace", workspace_id))?;
        self.load(&workspace).await
    }

    /// Reloads snapshots that another node of the cluster published; returns how many changed.
    pub async fn refresh_changed(&self) -> Result<usize, SwitchError> {
        let latest = self.control.storage().latest_switch_versions().await?;
        let mut refreshed = 0;
        for (workspace_id, version) in latest {
            let stale = self.cached(&workspace_id).is_some_and(|snapshot| snapshot.version < version);
            if stale && let Some(workspace) = self.control.storage().get_workspace(&workspace_id).await? {
                self.load(&workspace).await?;
                refreshed += 1;
            }
        }
        Ok(refreshed)
    }

    /// Every switch's value for the device, and the snapshot they come from.
    pub async fn evaluate(
        &self,
        app_id: &str,
        workspace_id: &str,
        context: &DeviceContext,
    ) -> Result<(Arc<ConfigSnapshot>, BTreeMap<String, Value>), SwitchError> {
        let snapshot = self.snapshot(workspace_id).await?;
        if snapshot.app_id != app_id {
            return Err(ControlError::not_found("workspace", workspace_id).into());
        }
        let values = snapshot.evaluate(context);
        Ok((snapshot, values))
    }

    /// A device's configuration. `known_etag` is what it got last time.
    pub async fn pull(
        &self,
        app_id: &str,
        workspace_id: &str,
        context: &DeviceContext,
        known_etag: Option<&str>,
    ) -> Result<PullOutcome, SwitchError> {
        let (snapshot, values) = self.evaluate(app_id, workspace_id, context).await?;
        let etag = snapshot.etag(&values);
        if known_etag == Some(etag.as_str()) {
            return Ok(PullOutcome::NotModified { version: snapshot.version, etag });
        }
        Ok(PullOutcome::Values { version: snapshot.version, etag, values })
    }
}

/// What the audit log keeps of a switch: enough to see what changed, not whole whitelists.
fn summarize(definition: &SwitchDefinition) -> Value {
    json!({
        "type": definition.value_type.as_str(),
        "default_value": definition.default_value,
        "targets": definition.targets.len(),
        "platforms": definition.platforms,
    })
}
