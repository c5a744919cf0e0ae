//! Built-in `midship.*` services, adapted to the gateway's pipeline. Each area's services live in
//! its folder (`switches/rpc.rs`, …); this module holds what they share — reading the call's body,
//! the calling device and its context — and assembles the registry.

use std::sync::Arc;

use midship_analytics::AnalyticsService;
use midship_control::ControlPlane;
use midship_delivery::DeliveryService;
use midship_experiments::ExperimentService;
use midship_gateway::{BuiltinError, BuiltinRegistry, CallContext, ServerKeys};
use midship_protocol::calls::DeviceFacts;
use midship_push::PushService;
use midship_targeting::DeviceContext;
use serde::de::DeserializeOwned;

/// A call's JSON body; a wrong one is 3002 with the parser's reason.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, BuiltinError> {
    serde_json::from_slice(body).map_err(|error| BuiltinError::malformed(error.to_string()))
}

/// A call's JSON body, where an empty body means all defaults.
pub(crate) fn parse_body_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, BuiltinError> {
    if body.is_empty() { Ok(T::default()) } else { parse_body(body) }
}

/// The calling device's utdid (the `Device-Id` header), which device-state calls need. An id the
/// gateway issued for this very call is refused: a retry without the header would be issued
/// another, so the same batch, report or binding would land on two devices. The refusal still
/// carries the issued id, which the client sends the call again with.
pub(crate) fn calling_device(context: &CallContext) -> Result<&str, BuiltinError> {
    match context.device_id.as_deref() {
        Some(device_id) if !context.device_id_issued => Ok(device_id),
        _ => Err(BuiltinError::malformed(
            "this call needs the Device-Id header: send it again with the Device-Id this answer issued",
        )),
    }
}

/// What the device says about itself: the signed headers, and the body's further attributes.
pub(crate) fn device_context(context: &CallContext, facts: DeviceFacts) -> DeviceContext {
    let DeviceFacts { os_version, model, city, network, attributes } = facts;
    DeviceContext {
        device_id: context.device_id.clone(),
        user_id: context.user_id.clone(),
        platform: context.platform.clone(),
        app_version: context.app_version.clone(),
        os_version,
        model,
        city,
        network,
        attributes,
    }
}

/// Every built-in service of this node.
pub fn registry(
    control: &ControlPlane,
    server_keys: &Arc<ServerKeys>,
    experiments: &ExperimentService,
    push: &PushService,
    delivery: &DeliveryService,
    analytics: &AnalyticsService,
) -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::default();
    crate::gateway::rpc::register(&mut registry, control);
    crate::switches::rpc::register(&mut registry, experiments, server_keys);
    crate::sync::rpc::register(&mut registry, control, server_keys);
    crate::push::rpc::register(&mut registry, push);
    crate::delivery::rpc::register(&mut registry, delivery);
    crate::analytics::rpc::register(&mut registry, analytics, server_keys);
    registry
}
