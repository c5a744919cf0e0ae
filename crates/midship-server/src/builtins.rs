//! Built-in `midship.*` services, adapted to the gateway's pipeline.

use std::sync::Arc;

use async_trait::async_trait;
use midship_api::ConfigPullResponse;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_switches::{DeviceContext, PullOutcome, SwitchError, SwitchService};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `midship.config.pull`: the device's switch values. Device, user, platform and app version come
/// from the signed headers; the body adds the rest.
#[derive(Debug)]
pub struct ConfigPull {
    pub switches: SwitchService,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPullBody {
    #[serde(default)]
    os_version: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    etag: Option<String>,
}

#[async_trait]
impl BuiltinService for ConfigPull {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: ConfigPullBody =
            serde_json::from_slice(body).map_err(|error| BuiltinError::Malformed(error.to_string()))?;
        let device = DeviceContext {
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            platform: context.platform.clone(),
            app_version: context.app_version.clone(),
            os_version: request.os_version,
            model: request.model,
            city: request.city,
            network: request.network,
            attributes: request.attributes,
        };
        let outcome = self
            .switches
            .pull(&context.app_id, &context.workspace_id, &device, request.etag.as_deref())
            .await
            .map_err(|error| match error {
                SwitchError::Control(midship_control::ControlError::NotFound { .. }) => {
                    BuiltinError::Malformed(error.to_string())
                }
                other => BuiltinError::Failed(other.to_string()),
            })?;
        let response = match outcome {
            PullOutcome::NotModified { version, etag } => {
                ConfigPullResponse { version, etag, not_modified: true, values: None }
            }
            PullOutcome::Values { version, etag, values } => {
                ConfigPullResponse { version, etag, not_modified: false, values: Some(values.into_iter().collect()) }
            }
        };
        Ok(serde_json::to_vec(&response).expect("responses serialize"))
    }
}

/// Every built-in service of this node.
pub fn registry(switches: &SwitchService) -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::default();
    registry.register("midship.config.pull", Arc::new(ConfigPull { switches: switches.clone() }));
    registry
}
