//! `midship.config.pull`, the device's face of remote configuration.

use std::sync::Arc;

use async_trait::async_trait;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::calls::ConfigPullResponse;
use midship_switches::{PullOutcome, SwitchService};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::builtins::{device_context, parse_body};
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, switches: &SwitchService) {
    registry.register(operation::CONFIG_PULL, Arc::new(ConfigPull { switches: switches.clone() }));
}

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
        let request: ConfigPullBody = parse_body(body)?;
        let device = device_context(
            context,
            request.os_version,
            request.model,
            request.city,
            request.network,
            request.attributes,
        );
        let outcome =
            self.switches.pull(&context.app_id, &context.workspace_id, &device, request.etag.as_deref()).await?;
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
