//! `midship.config.pull`, the device's face of remote configuration (with its experiments).

use std::sync::Arc;

use async_trait::async_trait;
use midship_experiments::ExperimentService;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext, ServerKeys};
use midship_protocol::calls::ConfigPullCall;

use crate::builtins::{device_context, parse_body};
use crate::experiments::{proven_holdings, with_proofs};
use crate::switches::client::pull_response;
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, experiments: &ExperimentService, server_keys: &Arc<ServerKeys>) {
    let service = ConfigPull { experiments: experiments.clone(), server_keys: server_keys.clone() };
    registry.register(operation::CONFIG_PULL, Arc::new(service));
}

/// `midship.config.pull`: the device's switch values and experiments. Device, user, platform and
/// app version come from the signed headers; the body adds the rest.
#[derive(Debug)]
pub struct ConfigPull {
    pub experiments: ExperimentService,
    /// Signs the assignments it answers and checks the ones devices send back.
    pub server_keys: Arc<ServerKeys>,
}

#[async_trait]
impl BuiltinService for ConfigPull {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: ConfigPullCall = parse_body(body)?;
        let (facts, etag, held) = request.into_parts();
        let device = device_context(context, facts);
        let workspace_id = &context.workspace_id;
        let held = proven_holdings(&self.server_keys, workspace_id, held).await?;
        let outcome = self.experiments.pull(&context.app_id, workspace_id, &device, &held, etag.as_deref()).await?;
        let outcome = with_proofs(&self.server_keys, workspace_id, outcome).await?;
        Ok(serde_json::to_vec(&pull_response(outcome)).expect("responses serialize"))
    }
}
