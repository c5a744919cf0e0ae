//! `midship.config.pull`, the device's face of remote configuration (with its experiments).

use std::sync::Arc;

use async_trait::async_trait;
use midship_experiments::ExperimentService;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::calls::ConfigPullCall;

use crate::builtins::{device_context, parse_body};
use crate::switches::client::pull_response;
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, experiments: &ExperimentService) {
    registry.register(operation::CONFIG_PULL, Arc::new(ConfigPull { experiments: experiments.clone() }));
}

/// `midship.config.pull`: the device's switch values and experiments. Device, user, platform and
/// app version come from the signed headers; the body adds the rest.
#[derive(Debug)]
pub struct ConfigPull {
    pub experiments: ExperimentService,
}

#[async_trait]
impl BuiltinService for ConfigPull {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: ConfigPullCall = parse_body(body)?;
        let (facts, etag, sticky) = request.into_parts();
        let device = device_context(context, facts);
        let outcome =
            self.experiments.pull(&context.app_id, &context.workspace_id, &device, &sticky, etag.as_deref()).await?;
        Ok(serde_json::to_vec(&pull_response(outcome)).expect("responses serialize"))
    }
}
