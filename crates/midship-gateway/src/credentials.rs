//! Device identity beyond the app's secret. The secret is in every copy of the app, so it only
//! proves "some copy of this app": it may register a new device, which receives its own
//! credential (`midship.device.register`), and from then on that device's calls and hellos are
//! signed with the credential over a string that names the device and user. A device that has a
//! credential can no longer be spoken for with the app's secret, and a workspace can stop
//! accepting app-secret signatures altogether from a date (its migration deadline).
//!
//! Credentials and connection tokens are keyed with the workspace's server-only keys, created on
//! first use and shared by every node through storage; they never leave the server.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use midship_control::ControlError;
use midship_control::ControlPlane;
use midship_core::access::Action;
use midship_core::{ErrorKind, NewAuditEntry, Principal};
use midship_signing::connect_token::{self, ConnectClaims, TokenError};
use midship_signing::device_credential;
use midship_storage::{CredentialStatus, DeviceRecord, StorageError, WorkspaceSecurityRecord};
use serde::Serialize;
use serde_json::json;

use crate::builtin::{BuiltinError, CallContext};
use crate::connect::MAX_TOKEN_TTL_SECONDS;
use crate::result::ResultCode;
use crate::{Gateway, GatewayError};

/// The built-in a device registers with, signed with the app's secret.
pub use midship_protocol::builtins::operation::DEVICE_REGISTER as REGISTER_OPERATION_TYPE;

/// What a server-only key is for; each purpose has its own key per workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ServerKeyPurpose {
    DeviceCredential,
    ConnectToken,
    SdkClientKey,
    AttestationChallenge,
    ExperimentAssignment,
}

impl ServerKeyPurpose {
    /// The name it is stored under, beside the workspace's envelope keys.
    fn stored_name(self) -> &'static str {
        match self {
            ServerKeyPurpose::DeviceCredential => "server:device-credential",
            ServerKeyPurpose::ConnectToken => "server:connect-token",
            ServerKeyPurpose::SdkClientKey => "server:sdk-client-key",
            ServerKeyPurpose::AttestationChallenge => "server:attestation-challenge",
            ServerKeyPurpose::ExperimentAssignment => "server:experiment-assignment",
        }
    }
}

/// How long a device's registration state is believed. App-secret calls name a device on every
/// call, so this bounds their database reads to one per device per period; the price is that a
/// device registering on another node of a cluster is refused app-secret calls here up to this
/// much later (this node learns at once of registrations it answers).
pub(crate) const CREDENTIAL_LOOKUP_TTL_MS: i64 = 30_000;
/// Devices whose state is kept (about 100 bytes each).
pub(crate) const CREDENTIAL_LOOKUP_CAPACITY: usize = 200_000;

/// Proves and checks a workspace's experiment assignments without waiting (its key is loaded).
#[derive(Debug, Clone)]
pub struct AssignmentProver {
    key: Arc<String>,
    workspace_id: String,
}

impl AssignmentProver {
    /// 32 hex digits binding the unit, the experiment and the variation.
    pub fn proof(&self, experiment: &str, unit: &str, variation: &str) -> String {
        let message = format!("experiment-assignment\u{0}{experiment}\u{0}{unit}\u{0}{variation}");
        device_credential::derive(self.key.as_bytes(), &self.workspace_id, &message)[..32].to_owned()
    }

    /// Whether `proof` is this assignment's (constant time).
    pub fn matches(&self, experiment: &str, unit: &str, variation: &str, proof: &str) -> bool {
        tags_match(&self.proof(experiment, unit, variation), proof)
    }
}

/// The answer to `midship.device.register`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRegistration {
    pub device_id: String,
    /// 64 hex characters, used as ASCII key bytes like the app's secret. Shown once.
    pub device_secret: String,
    pub sign_types: [&'static str; 2],
}

type Refusal = (ResultCode, String);

/// Whether two tags are equal, in time that does not depend on where they differ.
pub(crate) fn tags_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected.bytes().zip(given.bytes()).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

fn revoked() -> Refusal {
    (
        ResultCode::DeviceCredentialRevoked,
        format!(
            "this device's credential was revoked: register again with {REGISTER_OPERATION_TYPE} without Device-Id"
        ),
    )
}

/// The workspaces' server-only keys, shared by the gateway and the built-in services that issue
/// what the gateway later checks (connection tokens).
#[derive(Debug)]
pub struct ServerKeys {
    control: ControlPlane,
    keys: RwLock<HashMap<(String, ServerKeyPurpose), Arc<String>>>,
}

impl ServerKeys {
    pub fn new(control: ControlPlane) -> Self {
        Self { control, keys: RwLock::default() }
    }

    /// The workspace's key for `purpose`, made (and stored for every node) on first use.
    async fn key(&self, workspace_id: &str, purpose: ServerKeyPurpose) -> Result<Arc<String>, GatewayError> {
        let cache_key = (workspace_id.to_owned(), purpose);
        if let Some(key) = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&cache_key) {
            return Ok(key.clone());
        }
        let candidate = hex::encode(rand::random::<[u8; 32]>());
        let now = self.control.now_ms();
        let stored = self.control.storage().envelope_key(workspace_id, purpose.stored_name(), &candidate, now).await?;
        let key = Arc::new(stored);
        self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(cache_key, key.clone());
        Ok(key)
    }

    /// The credential a registered device signs with.
    pub async fn device_credential(&self, workspace_id: &str, device_id: &str) -> Result<String, GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::DeviceCredential).await?;
        Ok(device_credential::derive(key.as_bytes(), workspace_id, device_id))
    }

    /// The key outside SDKs (GrowthBook's) fetch the workspace's features payload with:
    /// `{workspace_id}.{tag}`, where the tag proves the server made it, so the payload cannot be
    /// read by knowing the workspace id alone.
    pub async fn sdk_client_key(&self, workspace_id: &str) -> Result<String, GatewayError> {
        Ok(format!("{workspace_id}.{}", self.sdk_client_key_tag(workspace_id).await?))
    }

    /// Whether `tag` is the one [`Self::sdk_client_key`] gives the workspace (constant time).
    pub async fn sdk_client_key_matches(&self, workspace_id: &str, tag: &str) -> Result<bool, GatewayError> {
        let expected = self.sdk_client_key_tag(workspace_id).await?;
        Ok(tags_match(&expected, tag))
    }

    async fn sdk_client_key_tag(&self, workspace_id: &str) -> Result<String, GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::SdkClientKey).await?;
        let derived = device_credential::derive(key.as_bytes(), workspace_id, "growthbook-client-key");
        Ok(derived[..32].to_owned())
    }

    /// The key GrowthBook SDKs decrypt the workspace's `encryptedFeatures` with (16 bytes).
    pub async fn sdk_decryption_key(&self, workspace_id: &str) -> Result<[u8; 16], GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::SdkClientKey).await?;
        let derived = device_credential::derive(key.as_bytes(), workspace_id, "growthbook-decryption-key");
        let bytes = hex::decode(&derived[..32]).expect("a derived credential is hex");
        Ok(bytes.try_into().expect("32 hex digits are 16 bytes"))
    }

    /// The proof that the server gave `unit` the `variation` of `experiment` (32 hex digits). A
    /// device sends it back with the assignment, which counts only with it, so a device holding
    /// the app's secret still cannot pick its own variation.
    pub async fn assignment_prover(&self, workspace_id: &str) -> Result<AssignmentProver, GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::ExperimentAssignment).await?;
        Ok(AssignmentProver { key, workspace_id: workspace_id.to_owned() })
    }

    /// The tag proving the server made an attestation challenge (`crate::attestation`).
    pub(crate) async fn attestation_challenge_tag(
        &self,
        workspace_id: &str,
        challenge: &str,
    ) -> Result<String, GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::AttestationChallenge).await?;
        Ok(device_credential::derive(key.as_bytes(), workspace_id, challenge))
    }

    /// A connection token carrying `claims`, keyed with the workspace's token key.
    pub async fn issue_connect_token(&self, claims: &ConnectClaims) -> Result<String, GatewayError> {
        let key = self.key(&claims.workspace_id, ServerKeyPurpose::ConnectToken).await?;
        Ok(connect_token::issue(key.as_bytes(), claims))
    }

    /// The claims of a token of `workspace_id` that is genuine, unexpired and within the
    /// lifetime cap; the outer error is storage failing.
    pub async fn verify_connect_token(
        &self,
        workspace_id: &str,
        token: &str,
    ) -> Result<Result<ConnectClaims, TokenError>, GatewayError> {
        let key = self.key(workspace_id, ServerKeyPurpose::ConnectToken).await?;
        let max_lifetime_ms = i64::from(MAX_TOKEN_TTL_SECONDS) * 1000;
        Ok(connect_token::verify(&[key.as_bytes()], token, self.control.now_ms(), max_lifetime_ms))
    }
}

impl Gateway {
    /// Whether the device registered or was revoked, kept briefly: at most one read per device
    /// per period, whatever it signs with.
    async fn credential_status(&self, workspace_id: &str, device_id: &str) -> Result<CredentialStatus, GatewayError> {
        let now = self.control.now_ms();
        let cache_key = (workspace_id.to_owned(), device_id.to_owned());
        if let Some(known) = self.credentialed.get(&cache_key, now) {
            return Ok(known);
        }
        let status = self.control.storage().device_credential_status(workspace_id, device_id).await?;
        self.credentialed.insert(cache_key, status, now);
        Ok(status)
    }

    /// Refuses a device signature whose credential was revoked.
    pub(crate) async fn check_device_not_revoked(&self, workspace_id: &str, device_id: &str) -> Result<(), Refusal> {
        match self.credential_status(workspace_id, device_id).await {
            Ok(CredentialStatus::Revoked { .. }) => Err(revoked()),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::error!(%error, "cannot look up the device's credential");
                Err((ResultCode::Unknown, "gateway storage unavailable".to_owned()))
            }
        }
    }

    /// Refuses an app-secret signature where only a device credential will do: after the
    /// workspace's deadline, or for a device that registered. Registration itself is exempt.
    pub(crate) async fn check_app_secret_allowed(
        &self,
        operation_type: &str,
        workspace_id: &str,
        device_id: &str,
        security: &WorkspaceSecurityRecord,
    ) -> Result<(), Refusal> {
        if operation_type == REGISTER_OPERATION_TYPE || operation_type == crate::attestation::CHALLENGE_OPERATION_TYPE {
            return Ok(());
        }
        let now = self.control.now_ms();
        if security.device_credentials_required_from.is_some_and(|from| now >= from) {
            return Err((
                ResultCode::DeviceCredentialRequired,
                format!("this workspace accepts only device signatures: register with {REGISTER_OPERATION_TYPE}"),
            ));
        }
        if device_id.is_empty() {
            return Ok(());
        }
        let status = self.credential_status(workspace_id, device_id).await.map_err(|error| {
            tracing::error!(%error, "cannot look up the device's credential");
            (ResultCode::Unknown, "gateway storage unavailable".to_owned())
        })?;
        match status {
            CredentialStatus::None => Ok(()),
            CredentialStatus::Issued { .. } => Err((
                ResultCode::DeviceCredentialRequired,
                "this device registered: sign with its credential (Sign-Type device-hmac-sha256)".to_owned(),
            )),
            CredentialStatus::Revoked { .. } => Err(revoked()),
        }
    }

    /// `midship.device.register`: claims the calling device's id and hands it its credential.
    /// An id the gateway issued for this very call is always claimable; an id the device already
    /// had only until the workspace's deadline (before it, devices in the field migrate; after
    /// it, the id could be anyone's, so a new one is issued). An id claimed before is refused.
    pub(crate) async fn register_device_credential(
        &self,
        context: &CallContext,
        security: &WorkspaceSecurityRecord,
        body: &[u8],
    ) -> Result<(DeviceRegistration, Option<String>), BuiltinError> {
        if let Some(verifier_url) = &security.attestation_verifier_url {
            self.check_attestation(context, verifier_url, body).await?;
        }
        let unavailable = |error: GatewayError| {
            tracing::error!(%error, "cannot register a device credential");
            BuiltinError { kind: ErrorKind::Unavailable, detail: "gateway storage unavailable".to_owned() }
        };
        let now = self.control.now_ms();
        let past_deadline = security.device_credentials_required_from.is_some_and(|from| now >= from);
        let mut newly_issued = None;
        let device_id = match context.device_id.as_deref() {
            Some(device_id) if context.device_id_issued || !past_deadline => device_id.to_owned(),
            _ => {
                let headers = crate::request::RpcHeaders {
                    platform: context.platform.clone(),
                    app_version: context.app_version.clone(),
                    ..Default::default()
                };
                let issued = self.issue_device(&context.app_id, &context.workspace_id, &headers).await;
                newly_issued = Some(issued.clone());
                issued
            }
        };
        let record = DeviceRecord {
            utdid: device_id.clone(),
            app_id: context.app_id.clone(),
            workspace_id: context.workspace_id.clone(),
            platform: context.platform.clone().unwrap_or_else(|| "unknown".to_owned()),
            model: None,
            os_version: None,
            app_version: context.app_version.clone(),
            first_seen_at: now,
        };
        let claimed = self
            .control
            .storage()
            .claim_device_credential(&record, now)
            .await
            .map_err(|error| unavailable(error.into()))?;
        if !claimed {
            return Err(BuiltinError {
                kind: ErrorKind::Conflict,
                detail: format!(
                    "device {device_id} already registered; a device that lost its credential registers without Device-Id"
                ),
            });
        }
        let status = CredentialStatus::Issued { at: now };
        self.credentialed.insert((context.workspace_id.clone(), device_id.clone()), status, now);
        let device_secret =
            self.server_keys.device_credential(&context.workspace_id, &device_id).await.map_err(unavailable)?;
        tracing::info!(workspace_id = %context.workspace_id, device_id, "device registered");
        let registration =
            DeviceRegistration { device_id, device_secret, sign_types: ["device-hmac-sha256", "device-hmac-sm3"] };
        Ok((registration, newly_issued))
    }
}

/// A change to a workspace's device security policy.
#[derive(Debug, Clone, Default)]
pub struct DeviceSecurityChange {
    /// From when only device signatures are accepted; `None` keeps accepting the app's secret.
    pub device_credentials_required_from: Option<i64>,
    /// Refuse every connection token issued until now.
    pub revoke_connect_tokens: bool,
    /// Let `POST /api/client/v1/config/pull` answer without a signature.
    pub unsigned_config_pull: bool,
    /// Registration needs a platform attestation this verifier accepts (`crate::attestation`).
    pub attestation_verifier_url: Option<String>,
    /// Send the GrowthBook payload as `encryptedFeatures`.
    pub encrypt_features_payload: bool,
}

impl Gateway {
    /// Whether the workspace sends its GrowthBook payload encrypted (from the in-memory route
    /// table).
    pub async fn features_payload_encrypted(&self, workspace_id: &str) -> Result<bool, GatewayError> {
        Ok(self.route_table(workspace_id).await?.is_some_and(|table| table.security.encrypt_features_payload))
    }

    /// Whether the workspace opted in to config pulls without a signature (from the in-memory
    /// route table); `None` when `app_id` has no such workspace.
    pub async fn unsigned_config_pull_allowed(
        &self,
        app_id: &str,
        workspace_id: &str,
    ) -> Result<Option<bool>, GatewayError> {
        Ok(self
            .route_table(workspace_id)
            .await?
            .filter(|table| table.app_id == app_id)
            .map(|table| table.security.unsigned_config_pull))
    }

    pub async fn device_security(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<WorkspaceSecurityRecord, GatewayError> {
        let (_, workspace) = self.control.authorized_workspace(who, workspace_id, Action::Read).await?;
        Ok(self.control.storage().workspace_security(&workspace.workspace_id).await?)
    }

    /// Sets the migration deadline and revokes tokens; every node applies it with its next
    /// route reload (at once here, within the refresh interval elsewhere).
    pub async fn set_device_security(
        &self,
        who: &Principal,
        workspace_id: &str,
        change: DeviceSecurityChange,
    ) -> Result<WorkspaceSecurityRecord, GatewayError> {
        let (app, workspace) = self.control.authorized_workspace(who, workspace_id, Action::Integrate).await?;
        let storage = self.control.storage();
        let before = storage.workspace_security(&workspace.workspace_id).await?;
        let now = self.control.now_ms();
        let record = WorkspaceSecurityRecord {
            workspace_id: workspace.workspace_id.clone(),
            device_credentials_required_from: change.device_credentials_required_from,
            connect_tokens_valid_after: if change.revoke_connect_tokens {
                now
            } else {
                before.connect_tokens_valid_after
            },
            unsigned_config_pull: change.unsigned_config_pull,
            attestation_verifier_url: change.attestation_verifier_url,
            encrypt_features_payload: change.encrypt_features_payload,
            updated_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "workspace.device_security", "workspace", &workspace.workspace_id)
            .in_app(&app.app_id)
            .after(json!({
                "device_credentials_required_from": record.device_credentials_required_from,
                "connect_tokens_valid_after": record.connect_tokens_valid_after,
                "unsigned_config_pull": record.unsigned_config_pull,
                "attestation_verifier_url": record.attestation_verifier_url,
                "encrypt_features_payload": record.encrypt_features_payload,
            }));
        storage.set_workspace_security(&record, &audit).await?;
        self.routes.invalidate(&workspace.workspace_id);
        Ok(record)
    }

    /// Revokes a device's credential (a lost or stolen phone): its signatures are refused at once
    /// on this node and within the lookup period (30 s) on others; its id is never claimed again.
    /// Answers when it was revoked.
    pub async fn revoke_device_credential(
        &self,
        who: &Principal,
        workspace_id: &str,
        device_id: &str,
    ) -> Result<i64, GatewayError> {
        let (app, workspace) = self.control.authorized_workspace(who, workspace_id, Action::Operate).await?;
        let now = self.control.now_ms();
        let audit = NewAuditEntry::by(who, now, "device.credential.revoke", "device", device_id).in_app(&app.app_id);
        match self.control.storage().revoke_device_credential(&workspace.workspace_id, device_id, now, &audit).await {
            Err(StorageError::NotFound { .. }) => {
                return Err(ControlError::not_found("device credential", device_id).into());
            }
            other => other?,
        }
        let status = CredentialStatus::Revoked { at: now };
        self.credentialed.insert((workspace.workspace_id.clone(), device_id.to_owned()), status, now);
        Ok(now)
    }
}
