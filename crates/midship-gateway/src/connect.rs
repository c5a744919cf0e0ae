//! Authentication of the device long connection: a hello signed like an RPC (method `CONNECT`,
//! operation type `midship.connect`, empty body), or a connection token; and the issuing of
//! connection tokens. Keys come from the same cache the pipeline uses.

use bytes::Bytes;
use midship_core::Principal;
use midship_core::access::Action;
use midship_signing::connect_token::ConnectClaims;
use midship_storage::WorkspaceSecurityRecord;

use crate::definition::DefinitionError;
use crate::request::{RpcHeaders, RpcRequest};
use crate::result::ResultCode;
use crate::{Gateway, GatewayError};

/// The operation type and method a signed hello is signed as.
pub use midship_protocol::builtins::operation::CONNECT as CONNECT_OPERATION_TYPE;
pub const CONNECT_METHOD: &str = "CONNECT";
/// Connection tokens a device asks for itself (`midship.sync.token`) live this long.
pub const DEVICE_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;
/// The longest a backend may make a token live.
pub const MAX_TOKEN_TTL_SECONDS: u32 = 7 * 24 * 3600;

/// The hello's credentials: the protocol headers of an RPC (without a body), or a token.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    pub headers: RpcHeaders,
    pub token: Option<String>,
}

/// Who connected, as far as the gateway could establish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedDevice {
    pub app_id: String,
    pub workspace_id: String,
    pub device_id: String,
    /// The device came without an id and got this one now.
    pub issued_device_id: bool,
    pub user_id: Option<String>,
    /// The user came from a token a backend minted, not only from the device's say-so.
    pub user_verified: bool,
}

/// A token a backend asks for (admin API, CLI).
#[derive(Debug, Clone, Default)]
pub struct NewConnectToken {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub ttl_seconds: u32,
}

#[derive(Debug, Clone)]
pub struct IssuedConnectToken {
    pub token: String,
    pub expires_at: i64,
}

type Refusal = (ResultCode, String);

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|text| !text.is_empty())
}

impl Gateway {
    /// Checks a hello; the refusal carries the result code a failed RPC would have.
    pub async fn authenticate_connect(&self, request: ConnectRequest) -> Result<ConnectedDevice, Refusal> {
        let headers = &request.headers;
        let (Some(app_id), Some(workspace_id)) =
            (non_empty(headers.app_id.as_deref()), non_empty(headers.workspace_id.as_deref()))
        else {
            return Err((ResultCode::SigningFieldsMissing, "app_id and workspace_id are required".into()));
        };
        headers.check_identity().map_err(|detail| (ResultCode::MalformedRequest, detail))?;
        let table = match self.route_table(workspace_id).await {
            Ok(Some(table)) if table.app_id == app_id => table,
            Ok(_) => return Err((ResultCode::NoKey, format!("no app {app_id} with workspace {workspace_id}"))),
            Err(error) => {
                tracing::error!(%error, "cannot load the workspace");
                return Err((ResultCode::Unknown, "gateway storage unavailable".into()));
            }
        };
        let mut device_id = non_empty(headers.device_id.as_deref()).map(str::to_owned);
        let mut user_id = non_empty(headers.user_id.as_deref()).map(str::to_owned);
        let mut user_verified = false;
        match non_empty(request.token.as_deref()) {
            Some(token) => {
                let claims = self.verify_token(app_id, workspace_id, token, &table.security).await?;
                if let Some(bound) = claims.device_id {
                    if device_id.as_ref().is_some_and(|device_id| *device_id != bound) {
                        return Err((ResultCode::TokenInvalid, "the token is for another device".into()));
                    }
                    device_id = Some(bound);
                }
                if let Some(vouched) = claims.user_id {
                    if user_id.as_ref().is_some_and(|user_id| *user_id != vouched) {
                        return Err((ResultCode::TokenInvalid, "the token is for another user".into()));
                    }
                    user_verified = claims.user_verified;
                    user_id = Some(vouched);
                }
            }
            None => {
                let rpc = RpcRequest {
                    headers: headers.clone(),
                    method: CONNECT_METHOD.to_owned(),
                    body: Bytes::new(),
                    other_headers: Vec::new(),
                };
                self.verify_signature(&rpc, CONNECT_OPERATION_TYPE, app_id, workspace_id, &table.security).await?;
            }
        }
        let (device_id, issued_device_id) = match device_id {
            Some(device_id) => (device_id, false),
            None => (self.issue_device(app_id, workspace_id, headers).await, true),
        };
        Ok(ConnectedDevice {
            app_id: app_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            device_id,
            issued_device_id,
            user_id,
            user_verified,
        })
    }

    async fn verify_token(
        &self,
        app_id: &str,
        workspace_id: &str,
        token: &str,
        security: &WorkspaceSecurityRecord,
    ) -> Result<ConnectClaims, Refusal> {
        let claims = self
            .server_keys
            .verify_connect_token(workspace_id, token)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot load the workspace's token key");
                (ResultCode::Unknown, "gateway storage unavailable".to_owned())
            })?
            .map_err(|error| (ResultCode::TokenInvalid, error.to_string()))?;
        if claims.app_id != app_id || claims.workspace_id != workspace_id {
            return Err((ResultCode::TokenInvalid, "the token is for another app or workspace".into()));
        }
        if claims.issued_at < security.connect_tokens_valid_after {
            return Err((ResultCode::TokenInvalid, "the connection token was revoked".into()));
        }
        Ok(claims)
    }

    /// A token for a backend to hand to its app after sign-in; it vouches for `user_id`, so it
    /// is the backend's job (`Integrate`), not an operator's.
    pub async fn issue_connect_token(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: NewConnectToken,
    ) -> Result<IssuedConnectToken, GatewayError> {
        let (app, _) = self.control.authorized_workspace(who, workspace_id, Action::Integrate).await?;
        if !(1..=MAX_TOKEN_TTL_SECONDS).contains(&request.ttl_seconds) {
            let message = format!("must be 1 to {MAX_TOKEN_TTL_SECONDS}");
            return Err(GatewayError::Invalid(DefinitionError { field: "ttl_seconds", message }));
        }
        for (field, value) in [("user_id", &request.user_id), ("device_id", &request.device_id)] {
            if value
                .as_ref()
                .is_some_and(|value| value.is_empty() || value.len() > 128 || value.chars().any(char::is_control))
            {
                let message = "must be 1 to 128 printable characters".to_owned();
                return Err(GatewayError::Invalid(DefinitionError { field, message }));
            }
        }
        let now = self.control.now_ms();
        let expires_at = now + i64::from(request.ttl_seconds) * 1000;
        let claims = ConnectClaims {
            app_id: app.app_id.clone(),
            workspace_id: workspace_id.to_owned(),
            device_id: request.device_id,
            user_verified: request.user_id.is_some(),
            user_id: request.user_id,
            issued_at: now,
            expires_at,
        };
        let token = self.server_keys.issue_connect_token(&claims).await?;
        // A token is a credential: logged as issued, never shown.
        tracing::info!(app_id = %app.app_id, workspace_id, actor = %who.actor_id(), "connection token issued");
        Ok(IssuedConnectToken { token, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use midship_control::{ControlPlane, ControlSettings, NewApp};
    use midship_core::access::Role;
    use midship_core::{Classify, ErrorKind, ManualClock};

    use super::*;
    use crate::{BuiltinRegistry, GatewaySettings};

    /// A token vouching for a user lets its holder read that user's verified-only messages, so
    /// minting one is a backend's job: operators are refused.
    #[tokio::test]
    async fn only_developers_mint_connection_tokens() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", directory.path().join("gateway.db").display());
        let storage = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
        let control =
            ControlPlane::new(storage, Arc::new(ManualClock::new(1_795_313_234_000)), ControlSettings::default());
        let issued = control.bootstrap(|_| Ok(())).await.unwrap().unwrap();
        let admin = control.authenticate(&issued.token).await.unwrap();
        let created = control.create_app(&admin, NewApp { name: "bank".into(), ..NewApp::default() }).await.unwrap();
        let workspace_id = &created.workspaces[0].workspace_id;
        let server_keys = Arc::new(crate::ServerKeys::new(control.clone()));
        let gateway = Gateway::new(
            control,
            GatewaySettings::default(),
            BuiltinRegistry::default(),
            server_keys,
            crate::GatewayHooks::default(),
        );
        let request = || NewConnectToken { user_id: Some("alice".into()), device_id: None, ttl_seconds: 60 };

        let operator = Principal { role: Role::Operator, ..admin.clone() };
        let refused = gateway.issue_connect_token(&operator, workspace_id, request()).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Forbidden, "{refused}");
        let developer = Principal { role: Role::Developer, ..admin };
        assert!(gateway.issue_connect_token(&developer, workspace_id, request()).await.is_ok());
    }
}
