//! Delivery (MDS) admin wire types: packages, releases and signing keys (what devices send and get
//! is `midship_protocol::calls`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The manifest signatures admin views show are the ones devices verify.
pub use midship_protocol::calls::ManifestSignature;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PackageView {
    pub package_id: String,
    pub kind: String,
    pub app_id: String,
    pub version: String,
    pub sha256: Option<String>,
    pub size: i64,
    pub files: usize,
    pub details: Value,
    pub created_at: String,
    /// Diffs towards this package: from version, size, ratio to the full package.
    pub patches: Vec<PatchView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PatchView {
    pub from_version: String,
    pub size: i64,
    /// Patch size over full package size.
    pub ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReleaseView {
    pub release_id: String,
    pub package_id: String,
    pub kind: String,
    pub app_id: String,
    pub version: String,
    /// `active`, `paused`, `ended` or `rolled_back`.
    pub status: String,
    /// The release definition: stage, rules, upgrade mode.
    pub definition: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Devices per step: checked, offered, downloaded, installed, failed.
    pub stats: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SigningKeyView {
    pub algorithm: String,
    /// Base64 of the public key devices verify manifests with.
    pub public_key: String,
    /// 1 for the workspace's first key, one more per rotation.
    #[serde(default)]
    pub generation: i64,
    /// Whether it signs uploads (the newest generation).
    #[serde(default)]
    pub signs_uploads: bool,
    #[serde(default)]
    pub created_at: String,
    /// When it stopped signing offers; absent while devices are still given its signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
}
