//! `midship.sync.token`: connection tokens for devices that cannot sign their hello.

use std::sync::Arc;

use async_trait::async_trait;
use midship_control::ControlPlane;
use midship_gateway::connect::DEVICE_TOKEN_TTL_MS;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext, ServerKeys};
use midship_signing::connect_token::ConnectClaims;
use serde::Deserialize;
use serde_json::json;

use crate::builtins::parse_body;
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, control: &ControlPlane, server_keys: &Arc<ServerKeys>) {
    let service = SyncToken { control: control.clone(), server_keys: server_keys.clone() };
    registry.register(operation::SYNC_TOKEN, Arc::new(service));
}

/// `midship.sync.token`: a short-lived connection token for the calling device, so the long
/// connection can open without signing its hello (H5 containers, for example). The user is the
/// one the call names, not vouched for; backends vouch through the admin API instead.
#[derive(Debug)]
pub struct SyncToken {
    pub control: ControlPlane,
    pub server_keys: Arc<ServerKeys>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncTokenBody {}

#[async_trait]
impl BuiltinService for SyncToken {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let _: SyncTokenBody = parse_body(body)?;
        let now = self.control.now_ms();
        let claims = ConnectClaims {
            app_id: context.app_id.clone(),
            workspace_id: context.workspace_id.clone(),
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            user_verified: false,
            issued_at: now,
            expires_at: now + DEVICE_TOKEN_TTL_MS,
        };
        let token = self.server_keys.issue_connect_token(&claims).await?;
        Ok(serde_json::to_vec(&json!({ "token": token, "expires_at": claims.expires_at })).expect("JSON serializes"))
    }
}
