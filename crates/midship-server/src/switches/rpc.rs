//! `midship.config.pull`, the device's face of remote configuration.

use std::sync::Arc;

use async_trait::async_trait;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::calls::{ConfigPullCall, ConfigPullResponse};
use midship_switches::{PullOutcome, SwitchService};

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

#[async_trait]
impl BuiltinService for ConfigPull {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: ConfigPullCall = parse_body(body)?;
        let (facts, etag) = request.into_parts();
        let device = device_context(context, facts);
        let outcome = self.switches.pull(&context.app_id, &context.workspace_id, &device, etag.as_deref()).await?;
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
