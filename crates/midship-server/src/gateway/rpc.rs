//! `midship.time`: the server's clock, so a device whose clock drifted can sign within the
//! timestamp window (7003 otherwise), and the cheapest call through the whole pipeline, which the
//! benchmarks measure other built-ins against.

use std::sync::Arc;

use async_trait::async_trait;
use midship_control::ControlPlane;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::builtins::operation;
use serde_json::json;

pub fn register(registry: &mut BuiltinRegistry, control: &ControlPlane) {
    registry.register(operation::TIME, Arc::new(ServerTime { control: control.clone() }));
}

/// Answers `{"now_ms"}` whatever the body.
#[derive(Debug)]
pub struct ServerTime {
    control: ControlPlane,
}

#[async_trait]
impl BuiltinService for ServerTime {
    async fn call(&self, _context: &CallContext, _body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        Ok(serde_json::to_vec(&json!({ "now_ms": self.control.now_ms() })).expect("JSON serializes"))
    }
}
