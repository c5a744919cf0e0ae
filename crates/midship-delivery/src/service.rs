//! The delivery service: uploads (checked, stored, signed, diffed against earlier versions),
//! release tasks and their statistics for people; the check and progress reports for devices.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use midship_control::ControlPlane;
use midship_core::access::Action;
use midship_core::ids::echo;
use midship_core::{NewAuditEntry, Principal, Workspace};
use midship_package::{ArchiveLimits, Files, PackageManifest, create_binary_patch, create_content_patch, read_zip};
use midship_protocol::calls::{DeliveryCheckResponse, DeliveryReportRequest, InstalledPackages};
use midship_storage::{
    DeliveryEventKind, DeliveryEventRecord, PackageKind, PackageRecord, PatchRecord, ReleaseRecord, ReleaseStatus,
    StorageError,
};
use midship_sync::{DELIVERY_BIZ_TYPE, SendRequest, SyncService};
use midship_targeting::DeviceContext;
use midship_targeting::condition::compare_versions;
use serde_json::{Value, json};

use crate::blob::BlobStore;
use crate::definition::{ReleaseDefinition, ReleaseTarget};
use crate::events::{EventWriter, spawn_event_writer};
use crate::snapshot::{DeliverySnapshot, Progress, SnapshotSource};
use crate::upload::{CheckedUpload, UploadRequest, check_upload};
use crate::{DeliveryError, invalid};

#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// Larger uploads are refused.
    pub max_package_bytes: u64,
    pub archive: ArchiveLimits,
    /// Diffs are made from this many earlier versions of a package.
    pub patch_from_versions: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { max_package_bytes: 256 * 1024 * 1024, archive: ArchiveLimits::default(), patch_from_versions: 5 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseAction {
    Pause,
    Resume,
    End,
    /// Hotpatches: devices remove the patch at their next check.
    Rollback,
}

impl ReleaseAction {
    pub const ALL: [ReleaseAction; 4] = [Self::Pause, Self::Resume, Self::End, Self::Rollback];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseAction::Pause => "pause",
            ReleaseAction::Resume => "resume",
            ReleaseAction::End => "end",
            ReleaseAction::Rollback => "rollback",
        }
    }
}

/// A release with its package and how far devices got.
#[derive(Debug, Clone)]
pub struct ReleaseSummary {
    pub release: ReleaseRecord,
    pub definition: ReleaseDefinition,
    pub package: PackageRecord,
    /// Devices per step, every step present.
    pub stats: BTreeMap<String, i64>,
}

/// A package with the diffs towards it (and the version each starts from).
#[derive(Debug, Clone)]
pub struct PackageSummary {
    pub package: PackageRecord,
    pub patches: Vec<(String, PatchRecord)>,
}

struct Inner {
    control: ControlPlane,
    sync: SyncService,
    blobs: Arc<dyn BlobStore>,
    settings: DeliverySettings,
    snapshots: RwLock<HashMap<String, Arc<DeliverySnapshot>>>,
    progress: Mutex<HashMap<String, Arc<Progress>>>,
    events: EventWriter,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("DeliveryService").field("blobs", &self.blobs).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct DeliveryService {
    inner: Arc<Inner>,
}

fn corrupt(table: &'static str) -> impl Fn(serde_json::Error) -> DeliveryError {
    move |error| StorageError::Corrupt { table, detail: error.to_string() }.into()
}

fn parse_definition(release: &ReleaseRecord) -> Result<ReleaseDefinition, DeliveryError> {
    serde_json::from_str(&release.definition).map_err(corrupt("delivery_releases"))
}

fn details(package: &PackageRecord) -> Value {
    serde_json::from_str(&package.details).unwrap_or(Value::Null)
}

/// Versions of one package line: the same kind and id and, for hotpatches, the same patched app
/// version. Diffs are made within a line; a hotpatch line has one live release at a time.
fn same_line(left: &PackageRecord, right: &PackageRecord) -> bool {
    left.kind == right.kind
        && left.app_id == right.app_id
        && details(left).get("app_version") == details(right).get("app_version")
}

impl DeliveryService {
    /// Starts the progress writer on the current runtime.
    pub fn new(
        control: ControlPlane,
        sync: SyncService,
        blobs: Arc<dyn BlobStore>,
        settings: DeliverySettings,
    ) -> Self {
        let events = spawn_event_writer(control.storage().clone(), 1024);
        let inner =
            Inner { control, sync, blobs, settings, snapshots: RwLock::default(), progress: Mutex::default(), events };
        Self { inner: Arc::new(inner) }
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.inner.blobs
    }

    pub(crate) fn control(&self) -> &ControlPlane {
        &self.inner.control
    }

    async fn workspace(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<Workspace, DeliveryError> {
        let (_, workspace) = self.control().authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    // ---- packages ------------------------------------------------------------------------

    /// Checks, stores and signs an upload, then diffs it against earlier versions.
    pub async fn upload(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: UploadRequest,
        bytes: Bytes,
    ) -> Result<PackageSummary, DeliveryError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let max = self.inner.settings.max_package_bytes;
        if bytes.len() as u64 > max {
            return Err(DeliveryError::TooLarge(format!("a package may have at most {max} bytes")));
        }
        let limits = self.inner.settings.archive;
        let checked: CheckedUpload = tokio::task::spawn_blocking(move || check_upload(&request, bytes, limits))
            .await
            .expect("upload checks do not panic")?;
        let (sha256, size) = match &checked.bytes {
            Some(bytes) => (Some(self.inner.blobs.put(bytes.clone()).await?), bytes.len() as u64),
            None => (None, 0),
        };
        let manifest = PackageManifest {
            workspace_id: workspace_id.to_owned(),
            kind: checked.kind.as_str().to_owned(),
            app_id: checked.app_id.clone(),
            version: checked.version.clone(),
            package_sha256: sha256.clone().unwrap_or_default(),
            package_size: size,
            files: checked.files.as_ref().map(PackageManifest::file_entries).unwrap_or_default(),
        };
        let signed = self.signing_keys(workspace_id).await?.newest().sign(&manifest);
        let now = self.control().now_ms();
        let record = PackageRecord {
            package_id: self.control().new_id(),
            workspace_id: workspace_id.to_owned(),
            kind: checked.kind,
            app_id: checked.app_id.clone(),
            version: checked.version.clone(),
            blob_sha256: sha256,
            size: size as i64,
            details: checked.details.to_string(),
            manifest: signed.manifest,
            signature: signed.signature,
            created_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "delivery.package.upload", "package", &record.package_id)
            .in_app(&workspace.app_id)
            .after(json!({
                "kind": record.kind.as_str(), "app_id": record.app_id, "version": record.version,
                "sha256": record.blob_sha256, "size": record.size,
            }));
        match self.control().storage().insert_delivery_package(&record, &audit).await {
            Err(StorageError::Conflict { .. }) => {
                return Err(DeliveryError::Conflict(format!(
                    "the workspace has {} {} version {} already",
                    record.kind.as_str(),
                    record.app_id,
                    record.version
                )));
            }
            other => other?,
        }
        let patches = self.make_patches(&record, checked.files, checked.bytes).await;
        Ok(PackageSummary { package: record, patches })
    }

    /// Diffs towards `target` from the latest earlier versions of the same package: content
    /// diffs for zips, plain binary diffs otherwise. The package is stored already, so a diff
    /// that cannot be made is logged and left out (devices then download the full package).
    async fn make_patches(
        &self,
        target: &PackageRecord,
        files: Option<Files>,
        bytes: Option<Bytes>,
    ) -> Vec<(String, PatchRecord)> {
        let Some(bytes) = bytes else { return Vec::new() };
        let packages = match self.control().storage().list_delivery_packages(&target.workspace_id).await {
            Ok(packages) => packages,
            Err(error) => {
                tracing::warn!(%error, package_id = %target.package_id, "cannot list earlier versions to diff from");
                return Vec::new();
            }
        };
        let mut earlier: Vec<PackageRecord> = packages
            .into_iter()
            .filter(|package| {
                package.blob_sha256.is_some()
                    && compare_versions(&package.version, &target.version) == Ordering::Less
                    && same_line(package, target)
            })
            .collect();
        earlier.sort_by(|left, right| compare_versions(&right.version, &left.version));
        earlier.truncate(self.inner.settings.patch_from_versions);
        let files = files.map(Arc::new);
        let mut made = Vec::new();
        for source in earlier {
            match self.make_patch(&source, target, files.clone(), bytes.clone()).await {
                Ok(Some(record)) => made.push((source.version, record)),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, from = %source.version, to = %target.version,
                    app_id = %target.app_id, "cannot diff from an earlier version"),
            }
        }
        made
    }

    /// One diff from `source` to `target`, stored; `None` when it would not be smaller.
    async fn make_patch(
        &self,
        source: &PackageRecord,
        target: &PackageRecord,
        files: Option<Arc<Files>>,
        bytes: Bytes,
    ) -> Result<Option<PatchRecord>, DeliveryError> {
        let old_bytes = self.inner.blobs.read_all(source.blob_sha256.as_deref().unwrap_or_default()).await?;
        let limits = self.inner.settings.archive;
        let full_size = bytes.len();
        let patch = tokio::task::spawn_blocking(move || match files {
            Some(new_files) => {
                read_zip(&old_bytes, limits).map(|old_files| create_content_patch(&old_files, &new_files))
            }
            None => Ok(create_binary_patch(&old_bytes, &bytes)),
        })
        .await
        .expect("diffing does not panic")?;
        if patch.len() >= full_size {
            return Ok(None);
        }
        let size = patch.len() as i64;
        let record = PatchRecord {
            from_package_id: source.package_id.clone(),
            to_package_id: target.package_id.clone(),
            blob_sha256: self.inner.blobs.put(Bytes::from(patch)).await?,
            size,
            created_at: self.control().now_ms(),
        };
        self.control().storage().put_delivery_patch(&record).await?;
        tracing::info!(from = %source.version, to = %target.version, app_id = %target.app_id, size,
            full = target.size, "made a diff package");
        Ok(Some(record))
    }

    pub async fn packages(&self, who: &Principal, workspace_id: &str) -> Result<Vec<PackageSummary>, DeliveryError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let storage = self.control().storage();
        let packages = storage.list_delivery_packages(workspace_id).await?;
        let versions: HashMap<&str, &str> =
            packages.iter().map(|package| (package.package_id.as_str(), package.version.as_str())).collect();
        let mut patches: HashMap<String, Vec<(String, PatchRecord)>> = HashMap::new();
        for patch in storage.list_delivery_patches(workspace_id).await? {
            let from = versions.get(patch.from_package_id.as_str()).copied().unwrap_or_default().to_owned();
            patches.entry(patch.to_package_id.clone()).or_default().push((from, patch));
        }
        Ok(packages
            .iter()
            .map(|package| PackageSummary {
                package: package.clone(),
                patches: patches.remove(&package.package_id).unwrap_or_default(),
            })
            .collect())
    }

    async fn package_in(&self, workspace_id: &str, package_id: &str) -> Result<PackageRecord, DeliveryError> {
        self.control()
            .storage()
            .get_delivery_package(package_id)
            .await?
            .filter(|package| package.workspace_id == workspace_id)
            .ok_or_else(|| DeliveryError::UnknownPackage(echo(package_id)))
    }

    // ---- releases ------------------------------------------------------------------------

    /// Starts releasing a package. Earlier releases of the same package end (moving a gray
    /// release to official is a new release); a second hotpatch for one app version is refused.
    pub async fn create_release(
        &self,
        who: &Principal,
        workspace_id: &str,
        package_id: &str,
        definition: ReleaseDefinition,
    ) -> Result<ReleaseSummary, DeliveryError> {
        let (workspace, package, superseded) = self.checked_release(who, workspace_id, package_id, &definition).await?;
        let now = self.control().now_ms();
        let storage = self.control().storage();
        for mut release in superseded {
            release.status = ReleaseStatus::Ended;
            release.updated_at = now;
            let audit = NewAuditEntry::by(who, now, "delivery.release.end", "release", &release.release_id)
                .in_app(&workspace.app_id)
                .after(json!({ "status": "ended", "reason": "superseded by a new release of the package" }));
            storage.update_delivery_release(&release, &audit).await?;
        }
        let record = ReleaseRecord {
            release_id: self.control().new_id(),
            workspace_id: workspace_id.to_owned(),
            package_id: package.package_id.clone(),
            definition: serde_json::to_string(&definition).expect("definitions serialize"),
            status: ReleaseStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "delivery.release.create", "release", &record.release_id)
            .in_app(&workspace.app_id)
            .after(json!({ "package_id": package.package_id, "version": package.version, "definition": definition }));
        storage.create_delivery_release(&record, &audit).await?;
        self.changed(&workspace, &record, &package).await;
        self.summary(record, package).await
    }

    /// Checks a release as [`Self::create_release`] would, without starting it; the package.
    pub async fn check_release(
        &self,
        who: &Principal,
        workspace_id: &str,
        package_id: &str,
        definition: &ReleaseDefinition,
    ) -> Result<PackageRecord, DeliveryError> {
        Ok(self.checked_release(who, workspace_id, package_id, definition).await?.1)
    }

    /// The workspace, the package and the releases of it that a new release ends.
    async fn checked_release(
        &self,
        who: &Principal,
        workspace_id: &str,
        package_id: &str,
        definition: &ReleaseDefinition,
    ) -> Result<(Workspace, PackageRecord, Vec<ReleaseRecord>), DeliveryError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let package = self.package_in(workspace_id, package_id).await?;
        let now = self.control().now_ms();
        let platform =
            matches!(package.kind, PackageKind::Upgrade | PackageKind::Hotpatch).then_some(package.app_id.as_str());
        definition.validate(ReleaseTarget { kind: package.kind, platform }, now)?;
        let storage = self.control().storage();
        let existing = storage.list_delivery_releases(workspace_id).await?;
        let packages: HashMap<String, PackageRecord> = if package.kind == PackageKind::Hotpatch {
            let packages = storage.list_delivery_packages(workspace_id).await?;
            packages.into_iter().map(|other| (other.package_id.clone(), other)).collect()
        } else {
            HashMap::new()
        };
        let mut superseded = Vec::new();
        for release in existing.into_iter().filter(|release| !release.status.is_final()) {
            if release.package_id == package.package_id {
                superseded.push(release);
                continue;
            }
            if let Some(other) = packages.get(&release.package_id)
                && same_line(other, &package)
            {
                return Err(DeliveryError::Conflict(format!(
                    "release {} already delivers hotpatch {} to this app version: end or roll it back first",
                    release.release_id, other.version
                )));
            }
        }
        Ok((workspace, package, superseded))
    }

    /// Checks a change of a release as [`Self::change_release`] would, without making it; the
    /// release's package.
    pub async fn check_release_change(
        &self,
        who: &Principal,
        workspace_id: &str,
        release_id: &str,
        action: ReleaseAction,
    ) -> Result<PackageRecord, DeliveryError> {
        self.workspace(who, workspace_id, Action::Operate).await?;
        let release = self.release_in(workspace_id, release_id).await?;
        let package = self.package_in(workspace_id, &release.package_id).await?;
        next_status(action, release.status, package.kind)?;
        Ok(package)
    }

    pub async fn change_release(
        &self,
        who: &Principal,
        workspace_id: &str,
        release_id: &str,
        action: ReleaseAction,
    ) -> Result<ReleaseSummary, DeliveryError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let mut release = self.release_in(workspace_id, release_id).await?;
        let package = self.package_in(workspace_id, &release.package_id).await?;
        let next = next_status(action, release.status, package.kind)?;
        let now = self.control().now_ms();
        let before = release.status;
        release.status = next;
        release.updated_at = now.max(release.updated_at + 1);
        let audit =
            NewAuditEntry::by(who, now, &format!("delivery.release.{}", action.as_str()), "release", release_id)
                .in_app(&workspace.app_id)
                .before(json!({ "status": before.as_str() }))
                .after(json!({ "status": next.as_str() }));
        match self.control().storage().update_delivery_release(&release, &audit).await {
            Err(StorageError::NotFound { .. }) => return Err(DeliveryError::UnknownRelease(echo(release_id))),
            other => other?,
        }
        self.changed(&workspace, &release, &package).await;
        self.summary(release, package).await
    }

    async fn release_in(&self, workspace_id: &str, release_id: &str) -> Result<ReleaseRecord, DeliveryError> {
        self.control()
            .storage()
            .get_delivery_release(release_id)
            .await?
            .filter(|release| release.workspace_id == workspace_id)
            .ok_or_else(|| DeliveryError::UnknownRelease(echo(release_id)))
    }

    async fn summary(&self, release: ReleaseRecord, package: PackageRecord) -> Result<ReleaseSummary, DeliveryError> {
        let mut stats: BTreeMap<String, i64> =
            DeliveryEventKind::ALL.iter().map(|kind| (kind.as_str().to_owned(), 0)).collect();
        for (kind, devices) in self.control().storage().delivery_stats(&release.release_id).await? {
            stats.insert(kind.as_str().to_owned(), devices);
        }
        let definition = parse_definition(&release)?;
        Ok(ReleaseSummary { release, definition, package, stats })
    }

    pub async fn release(
        &self,
        who: &Principal,
        workspace_id: &str,
        release_id: &str,
    ) -> Result<ReleaseSummary, DeliveryError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let release = self.release_in(workspace_id, release_id).await?;
        let package = self.package_in(workspace_id, &release.package_id).await?;
        self.summary(release, package).await
    }

    /// Newest first.
    pub async fn releases(&self, who: &Principal, workspace_id: &str) -> Result<Vec<ReleaseSummary>, DeliveryError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let storage = self.control().storage();
        let packages: HashMap<String, PackageRecord> = storage
            .list_delivery_packages(workspace_id)
            .await?
            .into_iter()
            .map(|package| (package.package_id.clone(), package))
            .collect();
        let mut summaries = Vec::new();
        for release in storage.list_delivery_releases(workspace_id).await? {
            let Some(package) = packages.get(&release.package_id).cloned() else { continue };
            summaries.push(self.summary(release, package).await?);
        }
        Ok(summaries)
    }

    /// Drops the workspace's snapshot: the next check rebuilds it.
    pub(crate) fn forget_snapshot(&self, workspace_id: &str) {
        self.inner.snapshots.write().expect("snapshot lock").remove(workspace_id);
    }

    /// After a release changed: drop the snapshot (the next check rebuilds it) and tell online
    /// devices to check now.
    async fn changed(&self, workspace: &Workspace, release: &ReleaseRecord, package: &PackageRecord) {
        self.forget_snapshot(&workspace.workspace_id);
        let announcement = SendRequest {
            biz_type: DELIVERY_BIZ_TYPE.to_owned(),
            link_token: String::new(),
            payload: json!({
                "release_id": release.release_id, "status": release.status.as_str(),
                "kind": package.kind.as_str(), "app_id": package.app_id, "version": package.version,
            })
            .to_string(),
            third_msg_id: format!("{}.{}", release.release_id, release.updated_at),
            ..SendRequest::default()
        };
        match self.inner.sync.send_batch_in(workspace, vec![announcement]).await {
            Ok(outcomes) => {
                if let Some(Err(error)) = outcomes.first() {
                    tracing::warn!(%error, release_id = %release.release_id, "cannot announce a release change");
                }
            }
            Err(error) => tracing::warn!(%error, release_id = %release.release_id, "cannot announce a release change"),
        }
    }

    // ---- devices -------------------------------------------------------------------------

    /// The workspace's snapshot, built on first use after a change.
    async fn snapshot(&self, workspace_id: &str) -> Result<Arc<DeliverySnapshot>, DeliveryError> {
        if let Some(snapshot) = self.inner.snapshots.read().expect("snapshot lock").get(workspace_id) {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(self.build_snapshot(workspace_id).await?);
        self.inner.snapshots.write().expect("snapshot lock").insert(workspace_id.to_owned(), snapshot.clone());
        Ok(snapshot)
    }

    async fn build_snapshot(&self, workspace_id: &str) -> Result<DeliverySnapshot, DeliveryError> {
        let storage = self.control().storage();
        let revision = storage.delivery_revision(workspace_id).await?;
        let releases = storage.list_delivery_releases(workspace_id).await?;
        if releases.is_empty() {
            // Keeps the revision (a signing key's time, say), or every refresh would rebuild it.
            let mut empty = DeliverySnapshot::empty();
            empty.revision = revision;
            return Ok(empty);
        }
        let mut parsed = Vec::with_capacity(releases.len());
        let mut restored = HashMap::new();
        for release in releases {
            let definition = parse_definition(&release)?;
            let known = self.inner.progress.lock().expect("progress lock").contains_key(&release.release_id);
            if release.status == ReleaseStatus::Active && !known {
                restored.insert(release.release_id.clone(), storage.offered_devices(&release.release_id).await?);
            }
            parsed.push((release, definition));
        }
        let source = SnapshotSource {
            revision,
            keys: self.signing_keys(workspace_id).await?,
            packages: storage.list_delivery_packages(workspace_id).await?,
            patches: storage.list_delivery_patches(workspace_id).await?,
            releases: parsed,
        };
        let mut progress = self.inner.progress.lock().expect("progress lock");
        // Progress of releases that stopped is no longer needed in memory (it is stored).
        let active: std::collections::HashSet<&str> = source
            .releases
            .iter()
            .filter(|(release, _)| release.status == ReleaseStatus::Active)
            .map(|(release, _)| release.release_id.as_str())
            .collect();
        let workspace_releases: std::collections::HashSet<&str> =
            source.releases.iter().map(|(release, _)| release.release_id.as_str()).collect();
        progress.retain(|release_id, _| {
            !workspace_releases.contains(release_id.as_str()) || active.contains(release_id.as_str())
        });
        DeliverySnapshot::build(source, |release| {
            progress
                .entry(release.release_id.clone())
                .or_insert_with(|| {
                    Arc::new(Progress::with_offered(restored.remove(&release.release_id).unwrap_or_default()))
                })
                .clone()
        })
    }

    /// Rebuilds snapshots whose workspace changed on another node; returns how many.
    pub async fn refresh_changed(&self) -> Result<usize, DeliveryError> {
        let cached: Vec<(String, i64)> = self
            .inner
            .snapshots
            .read()
            .expect("snapshot lock")
            .iter()
            .map(|(workspace_id, snapshot)| (workspace_id.clone(), snapshot.revision))
            .collect();
        let mut refreshed = 0;
        for (workspace_id, revision) in cached {
            if self.control().storage().delivery_revision(&workspace_id).await? != revision {
                self.inner.snapshots.write().expect("snapshot lock").remove(&workspace_id);
                refreshed += 1;
            }
        }
        Ok(refreshed)
    }

    /// `midship.delivery.check`: what the device should download, from the in-memory snapshot.
    pub async fn check(
        &self,
        workspace_id: &str,
        device: &DeviceContext,
        installed: &InstalledPackages,
    ) -> Result<DeliveryCheckResponse, DeliveryError> {
        let snapshot = self.snapshot(workspace_id).await?;
        let now = self.control().now_ms();
        let (response, progress) = snapshot.check(device, installed, now);
        if let Some(device_id) = &device.device_id {
            let events = progress
                .into_iter()
                .map(|event| DeliveryEventRecord {
                    release_id: event.release_id,
                    device_id: device_id.clone(),
                    kind: event.kind,
                    at: now,
                    detail: None,
                })
                .collect();
            self.inner.events.hand_over(events).await;
        }
        Ok(response)
    }

    /// `midship.delivery.report`: a device downloaded, installed or failed a release; answered
    /// once durable.
    pub async fn report(
        &self,
        workspace_id: &str,
        device_id: &str,
        report: &DeliveryReportRequest,
    ) -> Result<(), DeliveryError> {
        let kind = match report.event.as_str() {
            "downloaded" => DeliveryEventKind::Downloaded,
            "installed" => DeliveryEventKind::Installed,
            "failed" => DeliveryEventKind::Failed,
            _ => return Err(invalid("event", "must be downloaded, installed or failed")),
        };
        if let Some(detail) = &report.detail
            && detail.chars().count() > 500
        {
            return Err(invalid("detail", "at most 500 characters"));
        }
        self.release_in(workspace_id, &report.release_id).await?;
        let event = DeliveryEventRecord {
            release_id: report.release_id.clone(),
            device_id: device_id.to_owned(),
            kind,
            at: self.control().now_ms(),
            detail: report.detail.clone(),
        };
        self.inner.events.write(vec![event]).await?;
        Ok(())
    }

    /// Waits until every progress event queued so far is written (for statistics right after
    /// checks, in tests and benchmarks).
    pub async fn flush_progress(&self) -> Result<(), DeliveryError> {
        self.inner.events.write(Vec::new()).await?;
        Ok(())
    }
}

/// Where `action` takes a release that is `status`, or why it cannot.
fn next_status(
    action: ReleaseAction,
    status: ReleaseStatus,
    kind: PackageKind,
) -> Result<ReleaseStatus, DeliveryError> {
    match (action, status) {
        (ReleaseAction::Pause, ReleaseStatus::Active) => Ok(ReleaseStatus::Paused),
        (ReleaseAction::Resume, ReleaseStatus::Paused) => Ok(ReleaseStatus::Active),
        (ReleaseAction::End, ReleaseStatus::Active | ReleaseStatus::Paused) => Ok(ReleaseStatus::Ended),
        (ReleaseAction::Rollback, status) if kind == PackageKind::Hotpatch && status != ReleaseStatus::RolledBack => {
            Ok(ReleaseStatus::RolledBack)
        }
        (ReleaseAction::Rollback, _) if kind != PackageKind::Hotpatch => Err(DeliveryError::Conflict(
            "only hotpatch releases roll back; end this release and release the earlier version".into(),
        )),
        (action, status) => {
            Err(DeliveryError::Conflict(format!("cannot {} a release that is {}", action.as_str(), status.as_str())))
        }
    }
}
