//! Signed calls to the app's backend APIs through the gateway.

use std::sync::Arc;

use crate::MidshipError;
use crate::midship::Shared;

/// A successful call's answer (result 1000); refusals are [`MidshipError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RpcAnswer {
    /// The backend's HTTP status.
    pub http_status: u16,
    pub body: String,
    pub trace_id: String,
}

#[derive(Debug, uniffi::Object)]
pub struct MidshipRpc {
    pub(crate) shared: Arc<Shared>,
}

#[uniffi::export]
impl MidshipRpc {
    /// Calls `operation_type` with a JSON object body, signed with the device's credential,
    /// retrying what never reached the backend.
    pub async fn call(&self, operation_type: String, body_json: String) -> Result<RpcAnswer, MidshipError> {
        let body: serde_json::Value = serde_json::from_str(&body_json).map_err(MidshipError::invalid)?;
        let rpc = self.shared.rpc.clone();
        self.shared
            .run(async move {
                let reply = rpc.rpc(&operation_type, &body).await?;
                if !reply.is_success() {
                    return Err(MidshipError::refused(reply.result, reply.memo));
                }
                Ok(RpcAnswer {
                    http_status: reply.http_status,
                    body: String::from_utf8_lossy(&reply.body).into_owned(),
                    trace_id: reply.trace_id,
                })
            })
            .await
    }
}
