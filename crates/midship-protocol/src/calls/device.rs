//! What a device says about itself in the body of `midship.config.pull` and
//! `midship.delivery.check`, beyond the identity its signed headers carry (device, user,
//! platform, app version). Targeting rules read both (docs/switches.md, "Device attributes").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// `wifi`, `4g`, `5g`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Further attributes for raw conditions; the standard ones win on a clash.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}
