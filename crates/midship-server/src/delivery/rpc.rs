//! `midship.delivery.check` and `midship.delivery.report`, the device's face of delivery.

use std::sync::Arc;

use async_trait::async_trait;
use midship_delivery::DeliveryService;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::calls::{DeliveryCheckRequest, DeliveryReportRequest};
use serde_json::json;

use crate::builtins::{calling_device, device_context, parse_body, parse_body_or_default};
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, delivery: &DeliveryService) {
    registry.register(operation::DELIVERY_CHECK, Arc::new(DeliveryCheck { delivery: delivery.clone() }));
    registry.register(operation::DELIVERY_REPORT, Arc::new(DeliveryReport { delivery: delivery.clone() }));
}

/// `midship.delivery.check`: what the device should download (upgrade, H5 and mini program
/// packages with full or diff URLs, hotpatch), answered from the workspace's in-memory snapshot.
/// Device, user, platform and app version come from the signed headers.
#[derive(Debug)]
pub struct DeliveryCheck {
    pub delivery: DeliveryService,
}

#[async_trait]
impl BuiltinService for DeliveryCheck {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: DeliveryCheckRequest = parse_body_or_default(body)?;
        let device = device_context(context, request.facts());
        let response = self.delivery.check(&context.workspace_id, &device, &request.installed).await?;
        Ok(serde_json::to_vec(&response).expect("responses serialize"))
    }
}

/// `midship.delivery.report`: the device downloaded, installed or failed a release.
#[derive(Debug)]
pub struct DeliveryReport {
    pub delivery: DeliveryService,
}

#[async_trait]
impl BuiltinService for DeliveryReport {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let report: DeliveryReportRequest = parse_body(body)?;
        let device_id = calling_device(context)?;
        self.delivery.report(&context.workspace_id, device_id, &report).await?;
        Ok(serde_json::to_vec(&json!({ "recorded": true })).expect("JSON serializes"))
    }
}
