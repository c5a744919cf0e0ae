//! Delivery: packages (their blobs live in the package store, not here), the patches between
//! them, release tasks, per-device progress and each workspace's signing key.

use async_trait::async_trait;
use midship_core::NewAuditEntry;
use midship_core::clock::UnixMillis;

use crate::StorageResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageKind {
    /// An app installer (apk, ipa, hap) or a store URL.
    Upgrade,
    /// An H5 offline package (zip).
    H5,
    /// A mini program package (zip).
    MiniProgram,
    /// A hotpatch for one app version.
    Hotpatch,
}

impl PackageKind {
    pub const ALL: [PackageKind; 4] = [Self::Upgrade, Self::H5, Self::MiniProgram, Self::Hotpatch];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::H5 => "h5",
            Self::MiniProgram => "mini_program",
            Self::Hotpatch => "hotpatch",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub package_id: String,
    pub workspace_id: String,
    pub kind: PackageKind,
    /// The H5 (8 digits) or mini program (16 digits) id; the platform for upgrades and hotpatches.
    pub app_id: String,
    pub version: String,
    /// The full package in the package store; `None` for an upgrade that is only a store URL.
    pub blob_sha256: Option<String>,
    pub size: i64,
    /// Kind-specific details (notes, build, install mode, …) as JSON.
    pub details: String,
    /// The signed manifest's JSON text and its signature.
    pub manifest: String,
    pub signature: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRecord {
    pub from_package_id: String,
    pub to_package_id: String,
    pub blob_sha256: String,
    pub size: i64,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseStatus {
    Active,
    Paused,
    Ended,
    /// Ended and taken back: devices are told to drop it (hotpatches).
    RolledBack,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Active, Self::Paused, Self::Ended, Self::RolledBack].into_iter().find(|status| status.as_str() == text)
    }

    /// Ended and rolled-back releases never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ended | Self::RolledBack)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub release_id: String,
    pub workspace_id: String,
    pub package_id: String,
    /// Stage, rules and upgrade mode as JSON (the delivery crate's `ReleaseDefinition`).
    pub definition: String,
    pub status: ReleaseStatus,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryEventKind {
    Checked,
    Offered,
    Downloaded,
    Installed,
    Failed,
}

impl DeliveryEventKind {
    pub const ALL: [DeliveryEventKind; 5] =
        [Self::Checked, Self::Offered, Self::Downloaded, Self::Installed, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checked => "checked",
            Self::Offered => "offered",
            Self::Downloaded => "downloaded",
            Self::Installed => "installed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One device reached one step of one release; recorded once per (release, device, kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEventRecord {
    pub release_id: String,
    pub device_id: String,
    pub kind: DeliveryEventKind,
    pub at: UnixMillis,
    /// Why a device failed, as it said.
    pub detail: Option<String>,
}

/// One generation of a workspace's package signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub workspace_id: String,
    /// 1 for the first key, one more for each rotation; the newest signs uploads.
    pub generation: i64,
    pub algorithm: String,
    pub secret: String,
    pub public_key: String,
    pub created_at: UnixMillis,
    /// When it stopped signing what devices are offered.
    pub retired_at: Option<UnixMillis>,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// `Conflict` when the workspace has this kind, id and version already.
    async fn insert_delivery_package(&self, package: &PackageRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_delivery_package(&self, package_id: &str) -> StorageResult<Option<PackageRecord>>;
    /// Oldest first.
    async fn list_delivery_packages(&self, workspace_id: &str) -> StorageResult<Vec<PackageRecord>>;
    /// Replaces a patch between the same two packages.
    async fn put_delivery_patch(&self, patch: &PatchRecord) -> StorageResult<()>;
    /// Every patch towards a package of the workspace.
    async fn list_delivery_patches(&self, workspace_id: &str) -> StorageResult<Vec<PatchRecord>>;
    async fn create_delivery_release(&self, release: &ReleaseRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// Stores a new definition and status; `NotFound` for an unknown release.
    async fn update_delivery_release(&self, release: &ReleaseRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    async fn get_delivery_release(&self, release_id: &str) -> StorageResult<Option<ReleaseRecord>>;
    /// Newest first.
    async fn list_delivery_releases(&self, workspace_id: &str) -> StorageResult<Vec<ReleaseRecord>>;
    /// The latest release change of the workspace, so other nodes notice they must rebuild.
    async fn delivery_revision(&self, workspace_id: &str) -> StorageResult<UnixMillis>;
    /// Keeps the first event of each (release, device, kind).
    async fn record_delivery_events(&self, events: &[DeliveryEventRecord]) -> StorageResult<()>;
    /// Devices per event kind.
    async fn delivery_stats(&self, release_id: &str) -> StorageResult<Vec<(DeliveryEventKind, i64)>>;
    /// Devices that were offered the release (a capped release keeps offering to them).
    async fn offered_devices(&self, release_id: &str) -> StorageResult<Vec<String>>;
    /// The workspace's keys, oldest first; `first` is stored as generation 1 if it has none yet.
    async fn delivery_signing_keys(&self, first: &SigningKeyRecord) -> StorageResult<Vec<SigningKeyRecord>>;
    /// Adds a rotation's key; `Conflict` when its generation is taken (a concurrent rotation).
    async fn add_delivery_signing_key(&self, key: &SigningKeyRecord, audit: &NewAuditEntry) -> StorageResult<()>;
    /// `NotFound` unless the generation exists and is not retired yet.
    async fn retire_delivery_signing_key(
        &self,
        workspace_id: &str,
        generation: i64,
        at: UnixMillis,
        audit: &NewAuditEntry,
    ) -> StorageResult<()>;
}
