//! Built-in `midship.*` services, adapted to the gateway's pipeline.

use std::sync::Arc;

use async_trait::async_trait;
use midship_api::ConfigPullResponse;
use midship_control::ControlPlane;
use midship_gateway::connect::{DEVICE_TOKEN_TTL_MS, issue_token};
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_signing::connect_token::ConnectClaims;
use midship_switches::{DeviceContext, PullOutcome, SwitchError, SwitchService};
use serde::Deserialize;
use serde_json::{Map, Value, json};

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
        let request: ConfigPullBody =
            serde_json::from_slice(body).map_err(|error| BuiltinError::Malformed(error.to_string()))?;
        let device = DeviceContext {
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            platform: context.platform.clone(),
            app_version: context.app_version.clone(),
            os_version: request.os_version,
            model: request.model,
            city: request.city,
            network: request.network,
            attributes: request.attributes,
        };
        let outcome = self
            .switches
            .pull(&context.app_id, &context.workspace_id, &device, request.etag.as_deref())
            .await
            .map_err(|error| match error {
                SwitchError::Control(midship_control::ControlError::NotFound { .. }) => {
                    BuiltinError::Malformed(error.to_string())
                }
                other => BuiltinError::Failed(other.to_string()),
            })?;
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

/// `midship.sync.token`: a short-lived connection token for the calling device, so the long
/// connection can open without signing its hello (H5 containers, for example). The user is the
/// one the call names, not vouched for; backends vouch through the admin API instead.
#[derive(Debug)]
pub struct SyncToken {
    pub control: ControlPlane,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncTokenBody {}

#[async_trait]
impl BuiltinService for SyncToken {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let _: SyncTokenBody =
            serde_json::from_slice(body).map_err(|error| BuiltinError::Malformed(error.to_string()))?;
        let now = self.control.now_ms();
        let claims = ConnectClaims {
            app_id: context.app_id.clone(),
            workspace_id: context.workspace_id.clone(),
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            user_verified: false,
            expires_at: now + DEVICE_TOKEN_TTL_MS,
        };
        let keys = self
            .control
            .storage()
            .list_app_keys(&context.app_id)
            .await
            .map_err(|error| BuiltinError::Failed(format!("cannot load app keys: {error}")))?;
        let token = issue_token(&keys, &claims, now)
            .ok_or_else(|| BuiltinError::Failed(format!("app {} has no valid key", context.app_id)))?;
        Ok(serde_json::to_vec(&json!({ "token": token, "expires_at": claims.expires_at })).expect("JSON serializes"))
    }
}

/// Every built-in service of this node.
pub fn registry(control: &ControlPlane, switches: &SwitchService) -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::default();
    registry.register("midship.config.pull", Arc::new(ConfigPull { switches: switches.clone() }));
    registry.register("midship.sync.token", Arc::new(SyncToken { control: control.clone() }));
    registry
}
