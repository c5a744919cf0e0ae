//! What a device says about itself (signed headers and the body of its call), and the attributes
//! object the engine evaluates conditions and rules against.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a device says about itself when it pulls its configuration or checks for packages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceContext {
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    pub os_version: Option<String>,
    pub model: Option<String>,
    pub city: Option<String>,
    pub network: Option<String>,
    /// Further attributes for raw conditions; the standard ones above win on a clash.
    pub attributes: Map<String, Value>,
}

impl DeviceContext {
    /// The attributes object the targeting engine evaluates (`id` and `deviceId` are the utdid).
    pub fn attributes(&self) -> Value {
        let mut attributes = self.attributes.clone();
        let mut set = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                attributes.insert(name.to_owned(), Value::String(value.clone()));
            }
        };
        set("id", &self.device_id);
        set("deviceId", &self.device_id);
        set("userId", &self.user_id);
        set("platform", &self.platform);
        set("appVersion", &self.app_version);
        set("osVersion", &self.os_version);
        set("model", &self.model);
        set("city", &self.city);
        set("network", &self.network);
        Value::Object(attributes)
    }
}
