//! `midship.delivery.check` and `.report` (docs/delivery.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a device sends to `midship.delivery.check`. Device, user, platform and app version come
/// from the call's signed headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryCheckRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// `wifi`, `4g`, `5g`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub installed: InstalledPackages,
}

impl DeliveryCheckRequest {
    /// What the device said about itself.
    pub fn facts(&self) -> crate::calls::DeviceFacts {
        crate::calls::DeviceFacts {
            os_version: self.os_version.clone(),
            model: self.model.clone(),
            city: self.city.clone(),
            network: self.network.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

/// The versions a device has, so it is offered only newer ones (and diffs from what it has).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledPackages {
    /// H5 app id → version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub h5: BTreeMap<String, String>,
    /// Mini program id → version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mini_programs: BTreeMap<String, String>,
    /// The hotpatch version applied to this app version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotpatch: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryCheckResponse {
    /// `None` is the mPaaS "no update".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<PackageOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub h5: Vec<PackageOffer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mini_programs: Vec<PackageOffer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotpatch: Option<PackageOffer>,
    /// A hotpatch version the device has and must remove (its release was rolled back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotpatch_rollback: Option<String>,
}

/// One package a device should get. `manifest` is the signed manifest's exact JSON text: verify
/// `signature` over it with the workspace's public key before trusting anything else here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageOffer {
    pub release_id: String,
    /// `upgrade`, `h5`, `mini_program` or `hotpatch`.
    pub kind: String,
    pub app_id: String,
    pub version: String,
    /// The full package; absent for an upgrade that is only a store URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub size: i64,
    pub manifest: String,
    pub algorithm: String,
    /// The signature by the oldest key the workspace still publishes (what apps built before a
    /// rotation verify).
    pub signature: String,
    /// One signature per published key (after a rotation, old and new), each with its key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<ManifestSignature>,
    /// A diff from the version the device has, when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<PatchOffer>,
    /// Upgrades: `remind_once`, `remind_always` or `force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Upgrades reminded once: ask again after this many hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_interval_hours: Option<u32>,
    /// Kind-specific details: notes, build, store URL; H5 virtual host, main URL, install mode,
    /// fallback URL; the app version a hotpatch is for.
    #[serde(default)]
    pub details: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchOffer {
    pub from_version: String,
    pub url: String,
    pub size: i64,
    pub sha256: String,
}

/// What a device sends to `midship.delivery.report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryReportRequest {
    pub release_id: String,
    /// `downloaded`, `installed` or `failed`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A manifest's signature by one generation of the workspace's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ManifestSignature {
    /// The key's generation (1, then one more per rotation).
    pub key: i64,
    /// Base64 of the key's Ed25519 public key.
    pub public_key: String,
    /// Base64 of the signature over the manifest's exact text.
    pub signature: String,
}
