//! `midship.config.pull` (docs/switches.md): the signed RPC's body ([`ConfigPullCall`]), the
//! unsigned REST form's ([`ConfigPullRequest`], which names its app and device itself) and the
//! answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a device sends to `midship.config.pull` (`POST /api/client/v1/config/pull`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigPullRequest {
    pub app_id: String,
    pub workspace_id: String,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    pub os_version: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
    /// Custom attributes for conditions.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// The `etag` of the device's last pull; an unchanged configuration answers `not_modified`.
    #[serde(default)]
    pub etag: Option<String>,
    /// The experiment assignments the device holds from earlier pulls, so they stick.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<StickyAssignment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConfigPullResponse {
    /// Published version the values come from; 0 before the first publication.
    pub version: i64,
    pub etag: String,
    /// `true`: the device's values are unchanged and `values` is absent.
    pub not_modified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, Value>>,
    /// The experiments the device is in (with `values`): report an exposure the first time the
    /// app reads one of an experiment's `switches`, and send them back on later pulls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Assignment>,
}

/// The body of the signed RPC `midship.config.pull`: device, user, platform and app version come
/// from its headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPullCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, Value>,
    /// The `etag` of the device's last pull; an unchanged configuration answers `not_modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The experiment assignments the device holds from earlier pulls, so they stick.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<StickyAssignment>,
}

impl ConfigPullCall {
    pub fn new(facts: crate::calls::DeviceFacts, etag: Option<String>, experiments: Vec<StickyAssignment>) -> Self {
        let crate::calls::DeviceFacts { os_version, model, city, network, attributes } = facts;
        Self { os_version, model, city, network, attributes, etag, experiments }
    }

    /// What the device said about itself, the etag and the assignments it holds.
    pub fn into_parts(self) -> (crate::calls::DeviceFacts, Option<String>, Vec<StickyAssignment>) {
        let Self { os_version, model, city, network, attributes, etag, experiments } = self;
        (crate::calls::DeviceFacts { os_version, model, city, network, attributes }, etag, experiments)
    }
}

/// Who is assigned: a device (its utdid, `id`) or a signed-in user (`userId`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentUnit {
    #[default]
    Device,
    User,
}

impl AssignmentUnit {
    /// The device attribute the unit is hashed by, as GrowthBook's `hashAttribute`.
    pub fn hash_attribute(self) -> &'static str {
        match self {
            AssignmentUnit::Device => "id",
            AssignmentUnit::User => "userId",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentUnit::Device => "device",
            AssignmentUnit::User => "user",
        }
    }
}

/// One experiment a device is in, as a config pull reports it. The SDK reports an exposure the
/// first time the app reads one of `switches`, and sends the assignment back on later pulls so
/// it sticks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Assignment {
    pub experiment: String,
    pub variation: String,
    /// The device or user id the experiment is assigned by.
    pub unit: String,
    pub unit_kind: AssignmentUnit,
    /// The switches whose values come from the experiment.
    pub switches: Vec<String>,
    /// Forced by the debug whitelist: the SDK reports no exposure for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub debug: bool,
    /// The server's proof that it gave this unit this variation; sent back with the assignment,
    /// which counts only with it (none for debug assignments).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proof: String,
}

/// An assignment a device holds from an earlier pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StickyAssignment {
    pub experiment: String,
    pub variation: String,
    pub unit: String,
    /// The `proof` the assignment came with; without the right one it is ignored.
    #[serde(default)]
    pub proof: String,
}
