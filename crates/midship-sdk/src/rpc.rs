//! Signed RPCs through the gateway (`POST /mgw`, docs/protocol.md): the device SDK's one way to
//! call backend APIs and Midship's built-in services.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use midship_protocol::builtins::operation;
use midship_protocol::{ResultCode, headers};
use midship_signing::client::{SignType, SigningInput, sign};
use midship_signing::envelope::{EnvelopeError, Suite, open_response, seal_request};
use midship_signing::rand_core::OsRng;
use serde_json::Value;

/// How the app reaches its gateway.
#[derive(Clone)]
pub struct RpcSettings {
    pub server_url: String,
    pub app_id: String,
    pub workspace_id: String,
    /// The app's signing secret (`midship app create` printed it).
    pub secret: String,
    pub sign_type: SignType,
    /// Per attempt.
    pub timeout: Duration,
    /// Extra attempts for failures that certainly did not reach the backend.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// Seal request and response bodies to the gateway's public key (`midship api keys`).
    pub encryption: Option<Encryption>,
}

/// Body encryption: the suite and the workspace's public key for it.
#[derive(Debug, Clone)]
pub struct Encryption {
    pub suite: Suite,
    pub gateway_public_key: String,
}

impl std::fmt::Debug for RpcSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RpcSettings")
            .field("server_url", &self.server_url)
            .field("app_id", &self.app_id)
            .field("workspace_id", &self.workspace_id)
            .field("secret", &"<redacted>")
            .field("sign_type", &self.sign_type)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl RpcSettings {
    pub fn new(server_url: &str, app_id: &str, workspace_id: &str, secret: &str) -> Self {
        Self {
            server_url: server_url.trim_end_matches('/').to_owned(),
            app_id: app_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            secret: secret.to_owned(),
            sign_type: SignType::HmacSha256,
            timeout: Duration::from_secs(10),
            max_retries: 2,
            retry_backoff: Duration::from_millis(200),
            encryption: None,
        }
    }
}

/// Who is calling; the device id is filled in by the gateway at first contact.
#[derive(Clone, Default)]
pub struct DeviceIdentity {
    pub device_id: Option<String>,
    /// The device's own credential from [`RpcClient::register`]: calls are then signed with it
    /// (`device-hmac-*`), so the app's secret, which any copy of the app reveals, cannot act as
    /// this device. Keep it in the platform's secure storage (Keychain, Android Keystore).
    pub device_secret: Option<String>,
    pub user_id: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    pub os_version: Option<String>,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id)
            .field("device_secret", &self.device_secret.as_ref().map(|_| "<redacted>"))
            .field("user_id", &self.user_id)
            .field("platform", &self.platform)
            .field("app_version", &self.app_version)
            .field("os_version", &self.os_version)
            .finish()
    }
}

/// A registered device's identity, to keep in secure storage and pass back in
/// [`DeviceIdentity`] on the next start.
#[derive(Clone, serde::Deserialize)]
pub struct DeviceCredential {
    pub device_id: String,
    pub device_secret: String,
}

impl std::fmt::Debug for DeviceCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("DeviceCredential").field("device_id", &self.device_id).finish_non_exhaustive()
    }
}

/// What a call is signed with and for whom: the app's secret (`hmac-*`), or a registered
/// device's credential (`device-hmac-*`, which also covers the device and user).
#[derive(Debug, Clone, Copy)]
pub struct CallSigner<'a> {
    /// As sent in `Sign-Type`.
    pub sign_type: SignType,
    pub secret: &'a str,
    pub app_id: &'a str,
    pub workspace_id: &'a str,
    /// `""` when the call names no device (only app-secret calls may).
    pub device_id: &'a str,
    pub user_id: &'a str,
}

impl CallSigner<'_> {
    /// Signs a call now, with a fresh nonce. The long connection's hello is signed the same way
    /// as method `CONNECT`, operation type `midship.connect` and an empty body.
    pub(crate) fn sign(&self, method: &str, operation_type: &str, body: &[u8]) -> CallSignature {
        let timestamp =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis()).unwrap_or(0).to_string();
        let nonce = format!("{:032x}", rand::random::<u128>());
        let input = SigningInput {
            method,
            operation_type,
            app_id: self.app_id,
            workspace_id: self.workspace_id,
            device_id: self.device_id,
            user_id: self.user_id,
            timestamp: &timestamp,
            nonce: &nonce,
            body,
        };
        let sign = sign(self.sign_type, self.secret.as_bytes(), &input);
        CallSignature { timestamp, nonce, sign }
    }
}

/// `Ts`, `Nonce` and `Sign` of one call (docs/protocol-signing.md).
#[derive(Debug, Clone)]
pub(crate) struct CallSignature {
    pub timestamp: String,
    pub nonce: String,
    pub sign: String,
}

/// The gateway's answer to a call that went through the pipeline.
#[derive(Debug, Clone)]
pub struct RpcReply {
    /// `Result-Status`: 1000 on success (docs/protocol.md lists the others).
    pub result: u16,
    pub memo: String,
    pub tips: String,
    /// Quote it when reporting a problem: the server's digest log has the call under it.
    pub trace_id: String,
    pub http_status: u16,
    pub body: Vec<u8>,
}

impl RpcReply {
    pub fn is_success(&self) -> bool {
        self.result == ResultCode::Success.code()
    }

    /// The body as JSON (built-in services and most backends answer JSON).
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot reach the gateway: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the gateway answered without a Result-Status header (HTTP {0})")]
    NotAGateway(u16),
    #[error("body encryption failed: {0}")]
    Envelope(#[from] EnvelopeError),
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("registration refused ({result}): {memo}")]
    Refused { result: u16, memo: String },
    #[error("the registration answer is not what the protocol says: {0}")]
    Answer(serde_json::Error),
}

/// A platform attestation (Play Integrity, App Attest, …) for workspaces that register attested
/// devices only: `token` is what the platform returned for `challenge`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attestation {
    pub kind: String,
    pub token: String,
    pub challenge: String,
}

/// Results after which the call certainly did not run, so trying again is safe.
fn retryable(result: u16) -> bool {
    ResultCode::from_code(result).is_some_and(ResultCode::is_safe_to_retry)
}

#[derive(Debug)]
pub struct RpcClient {
    settings: RpcSettings,
    identity: Mutex<DeviceIdentity>,
    http: reqwest::Client,
}

impl RpcClient {
    pub fn new(settings: RpcSettings, identity: DeviceIdentity) -> Result<Arc<Self>, RpcError> {
        let http = reqwest::Client::builder().timeout(settings.timeout).build()?;
        Ok(Self::with_http(settings, identity, http))
    }

    /// A client on an HTTP client made elsewhere, so several clients (workspaces of one app, or
    /// simulated devices) share its connection pool. Its timeout, not `settings.timeout`, applies.
    pub fn with_http(settings: RpcSettings, identity: DeviceIdentity, http: reqwest::Client) -> Arc<Self> {
        Arc::new(Self { settings, identity: Mutex::new(identity), http })
    }

    /// The device id in use: the one given, or the one the gateway issued at first contact.
    /// Store it with the app's data and pass it in [`DeviceIdentity`] on the next start.
    pub fn device_id(&self) -> Option<String> {
        self.identity.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).device_id.clone()
    }

    /// The workspace the calls go to.
    pub fn workspace_id(&self) -> &str {
        &self.settings.workspace_id
    }

    /// The server the calls go to (no trailing slash).
    pub fn server_url(&self) -> &str {
        &self.settings.server_url
    }

    /// Registers this device (`midship.device.register`, signed with the app's secret) and signs
    /// every later call with the credential it gets. The first registration of an id wins: keep
    /// the answer in secure storage, since the server never shows the secret again.
    pub async fn register(&self) -> Result<DeviceCredential, RegisterError> {
        self.register_with(&serde_json::json!({})).await
    }

    /// A challenge to have the platform attest (single use, 5 minutes), before
    /// [`RpcClient::register_attested`].
    pub async fn attestation_challenge(&self) -> Result<String, RegisterError> {
        let reply = self.rpc(operation::DEVICE_CHALLENGE, &serde_json::json!({})).await?;
        if !reply.is_success() {
            return Err(RegisterError::Refused { result: reply.result, memo: reply.memo });
        }
        #[derive(serde::Deserialize)]
        struct Challenge {
            challenge: String,
        }
        let answer: Challenge = serde_json::from_slice(&reply.body).map_err(RegisterError::Answer)?;
        Ok(answer.challenge)
    }

    /// [`RpcClient::register`] with a platform attestation, where the workspace requires one.
    pub async fn register_attested(&self, attestation: &Attestation) -> Result<DeviceCredential, RegisterError> {
        self.register_with(&serde_json::json!({ "attestation": attestation })).await
    }

    async fn register_with(&self, body: &Value) -> Result<DeviceCredential, RegisterError> {
        let reply = self.rpc(operation::DEVICE_REGISTER, body).await?;
        if !reply.is_success() {
            return Err(RegisterError::Refused { result: reply.result, memo: reply.memo });
        }
        let credential: DeviceCredential = serde_json::from_slice(&reply.body).map_err(RegisterError::Answer)?;
        let mut identity = self.identity.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        identity.device_id = Some(credential.device_id.clone());
        identity.device_secret = Some(credential.device_secret.clone());
        Ok(credential)
    }

    pub fn set_user(&self, user_id: Option<String>) {
        self.identity.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).user_id = user_id;
    }

    /// Calls `operation_type` with `body`, signed, retrying failures that did not reach the
    /// backend (connection refused, 1002, 4003) with exponential backoff. A first call without a
    /// device id that is refused (3002, as calls needing `Device-Id` are) is sent again at once
    /// with the id the gateway issued.
    pub async fn rpc(&self, operation_type: &str, body: &Value) -> Result<RpcReply, RpcError> {
        self.rpc_bytes(operation_type, &serde_json::to_vec(body).expect("JSON values serialize")).await
    }

    /// [`RpcClient::rpc`] with a body already encoded (compressed uploads, say).
    pub async fn rpc_bytes(&self, operation_type: &str, body: &[u8]) -> Result<RpcReply, RpcError> {
        let mut attempt = 0;
        let mut first_contact = self.device_id().is_none();
        loop {
            let outcome = self.attempt(operation_type, body).await;
            // A call that needs the device's id is refused at first contact (3002, which never
            // runs the call) with the id the gateway issued; sent again with it, it runs.
            let refused = matches!(&outcome, Ok(reply) if reply.result == ResultCode::MalformedRequest.code());
            if std::mem::take(&mut first_contact) && refused && self.device_id().is_some() {
                continue;
            }
            let retry = match &outcome {
                Ok(reply) => retryable(reply.result),
                Err(RpcError::Transport(error)) => error.is_connect(),
                Err(RpcError::NotAGateway(_) | RpcError::Envelope(_)) => false,
            };
            if !retry || attempt >= self.settings.max_retries {
                return outcome;
            }
            tokio::time::sleep(self.settings.retry_backoff * 2u32.pow(attempt)).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, operation_type: &str, body: &[u8]) -> Result<RpcReply, RpcError> {
        let identity = self.identity.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        // Sealed bodies are signed as sent, so the gateway checks the signature before opening them.
        let sealed = match &self.settings.encryption {
            Some(encryption) => {
                let (client_key, sealed, session) =
                    seal_request(encryption.suite, &encryption.gateway_public_key, body, &mut OsRng)?;
                Some((encryption.suite, client_key, sealed, session))
            }
            None => None,
        };
        let body = sealed.as_ref().map_or(body, |(_, _, sealed, _)| sealed.as_slice());
        let settings = &self.settings;
        // Registering is what the app's secret is still for; everything else, once registered,
        // goes with the device's credential.
        let device_credential = match (&identity.device_secret, &identity.device_id) {
            (Some(secret), Some(device_id)) if operation_type != operation::DEVICE_REGISTER => {
                Some((secret, device_id))
            }
            _ => None,
        };
        let signer = CallSigner {
            sign_type: match device_credential {
                Some(_) => settings.sign_type.for_device(),
                None => settings.sign_type,
            },
            secret: device_credential.map_or(settings.secret.as_str(), |(secret, _)| secret.as_str()),
            app_id: &settings.app_id,
            workspace_id: &settings.workspace_id,
            device_id: identity.device_id.as_deref().unwrap_or(""),
            user_id: identity.user_id.as_deref().unwrap_or(""),
        };
        let signature = signer.sign(operation::RPC_METHOD, operation_type, body);
        let mut request = self
            .http
            .post(format!("{}/mgw", self.settings.server_url))
            .header("Content-Type", "application/json")
            .header(headers::OPERATION_TYPE, operation_type)
            .header(headers::APP_ID, &self.settings.app_id)
            .header(headers::WORKSPACE_ID, &self.settings.workspace_id)
            .header(headers::TS, &signature.timestamp)
            .header(headers::NONCE, &signature.nonce)
            .header(headers::SIGN, &signature.sign)
            .header(headers::SIGN_TYPE, signer.sign_type.as_str())
            .body(body.to_vec());
        if let Some((suite, client_key, _, _)) = &sealed {
            request = request.header(headers::ENCRYPT_SUITE, suite.as_str()).header(headers::ENCRYPT_KEY, client_key);
        }
        for (name, value) in [
            (headers::DEVICE_ID, &identity.device_id),
            (headers::USER_ID, &identity.user_id),
            (headers::PLATFORM, &identity.platform),
            (headers::APP_VERSION, &identity.app_version),
        ] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        let response = request.send().await?;
        let http_status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let result = header(headers::RESULT_STATUS)
            .and_then(|value| value.parse().ok())
            .ok_or(RpcError::NotAGateway(http_status))?;
        let memo = header(headers::MEMO).unwrap_or_default();
        let tips = header(headers::TIPS).unwrap_or_default();
        let trace_id = header(headers::TRACE_ID).unwrap_or_default();
        if let Some(issued) = header(headers::DEVICE_ID) {
            self.identity.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).device_id.get_or_insert(issued);
        }
        let sealed_reply = header(headers::ENCRYPT_SUITE).is_some();
        let mut body = response.bytes().await?.to_vec();
        if let (true, Some((_, _, _, session))) = (sealed_reply, &sealed) {
            body = open_response(session, &body)?;
        }
        Ok(RpcReply { result, memo, tips, trace_id, http_status, body })
    }
}
