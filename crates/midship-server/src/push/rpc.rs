//! The push RPCs a device calls: `midship.push.report`, `.bind`, `.unbind` and `.ack`.

use std::sync::Arc;

use async_trait::async_trait;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_protocol::calls::PushCall;
use midship_push::{DeviceReport, PushService};
use midship_storage::PushEventKind;
use serde_json::json;

use crate::builtins::{calling_device, parse_body_or_default};
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, push: &PushService) {
    for (operation_type, operation) in [
        (operation::PUSH_REPORT, PushOperation::Report),
        (operation::PUSH_BIND, PushOperation::Bind),
        (operation::PUSH_UNBIND, PushOperation::Unbind),
        (operation::PUSH_ACK, PushOperation::Ack),
    ] {
        registry.register(operation_type, Arc::new(PushDevice { push: push.clone(), operation }));
    }
}

/// The push RPCs a device calls: `midship.push.report` (its channel token), `.bind` and
/// `.unbind` (its user), `.ack` (a message arrived, was opened or dismissed). The device and
/// platform are the call's signed headers.
#[derive(Debug)]
pub struct PushDevice {
    pub push: PushService,
    pub operation: PushOperation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOperation {
    Report,
    Bind,
    Unbind,
    Ack,
}

#[async_trait]
impl BuiltinService for PushDevice {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: PushCall = parse_body_or_default(body)?;
        let device_id = calling_device(context)?.to_owned();
        let platform = context.platform.clone().unwrap_or_default();
        let workspace_id = context.workspace_id.as_str();
        let answer = match self.operation {
            PushOperation::Report => {
                let report = DeviceReport {
                    workspace_id: workspace_id.to_owned(),
                    device_id,
                    platform,
                    channel: request.channel,
                    token: request.token,
                };
                self.push.report(report).await?;
                json!({ "reported": true })
            }
            PushOperation::Bind => {
                let user_id = request
                    .user_id
                    .or_else(|| context.user_id.clone())
                    .ok_or_else(|| BuiltinError::malformed("give user_id, or call with the user header"))?;
                self.push.bind(workspace_id, &device_id, &platform, Some(&user_id)).await?;
                json!({ "bound": user_id })
            }
            PushOperation::Unbind => {
                self.push.bind(workspace_id, &device_id, &platform, None).await?;
                json!({ "bound": null })
            }
            PushOperation::Ack => {
                let task_id = request.task_id.ok_or_else(|| BuiltinError::malformed("task_id is required"))?;
                let kind = match request.event.as_deref() {
                    Some("delivered") => PushEventKind::Delivered,
                    Some("opened") => PushEventKind::Opened,
                    Some("dismissed") => PushEventKind::Ignored,
                    _ => return Err(BuiltinError::malformed("event must be delivered, opened or dismissed")),
                };
                let recorded = self.push.record_event(workspace_id, &device_id, &task_id, kind).await?;
                json!({ "recorded": recorded })
            }
        };
        Ok(serde_json::to_vec(&answer).expect("JSON serializes"))
    }
}
