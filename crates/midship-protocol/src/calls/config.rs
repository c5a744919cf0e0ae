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
}

impl ConfigPullCall {
    pub fn new(facts: crate::calls::DeviceFacts, etag: Option<String>) -> Self {
        let crate::calls::DeviceFacts { os_version, model, city, network, attributes } = facts;
        Self { os_version, model, city, network, attributes, etag }
    }

    /// What the device said about itself, and the etag it holds.
    pub fn into_parts(self) -> (crate::calls::DeviceFacts, Option<String>) {
        let Self { os_version, model, city, network, attributes, etag } = self;
        (crate::calls::DeviceFacts { os_version, model, city, network, attributes }, etag)
    }
}
