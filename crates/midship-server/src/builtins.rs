//! Built-in `midship.*` services, adapted to the gateway's pipeline.

use std::sync::Arc;

use async_trait::async_trait;
use midship_analytics::AnalyticsService;
use midship_analytics::event::Uploader;
use midship_api::{ConfigPullResponse, DeliveryCheckRequest, DeliveryReportRequest};
use midship_control::ControlPlane;
use midship_core::ErrorKind;
use midship_delivery::DeliveryService;
use midship_gateway::connect::{DEVICE_TOKEN_TTL_MS, issue_token};
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext};
use midship_push::{DeviceReport, PushService};
use midship_signing::connect_token::ConnectClaims;
use midship_storage::PushEventKind;
use midship_switches::{DeviceContext, PullOutcome, SwitchService};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// A call's JSON body; a wrong one is 3002 with the parser's reason.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, BuiltinError> {
    serde_json::from_slice(body).map_err(|error| BuiltinError::malformed(error.to_string()))
}

/// A call's JSON body, where an empty body means all defaults.
fn parse_body_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, BuiltinError> {
    if body.is_empty() { Ok(T::default()) } else { parse_body(body) }
}

/// The calling device's utdid (the `Device-Id` header), which device-state calls need.
fn calling_device(context: &CallContext) -> Result<&str, BuiltinError> {
    context
        .device_id
        .as_deref()
        .ok_or_else(|| BuiltinError::malformed("the call names no device (the utdid header)"))
}

/// What the device says about itself: the signed headers, and the body's further attributes.
fn device_context(
    context: &CallContext,
    os_version: Option<String>,
    model: Option<String>,
    city: Option<String>,
    network: Option<String>,
    attributes: Map<String, Value>,
) -> DeviceContext {
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
        let request: ConfigPullBody = parse_body(body)?;
        let device = device_context(
            context,
            request.os_version,
            request.model,
            request.city,
            request.network,
            request.attributes,
        );
        let outcome =
            self.switches.pull(&context.app_id, &context.workspace_id, &device, request.etag.as_deref()).await?;
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
        let _: SyncTokenBody = parse_body(body)?;
        let now = self.control.now_ms();
        let claims = ConnectClaims {
            app_id: context.app_id.clone(),
            workspace_id: context.workspace_id.clone(),
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            user_verified: false,
            expires_at: now + DEVICE_TOKEN_TTL_MS,
        };
        let keys = self.control.storage().list_app_keys(&context.app_id).await?;
        let token = issue_token(&keys, &claims, now).ok_or_else(|| BuiltinError {
            kind: ErrorKind::Internal,
            detail: format!("app {} has no valid key", context.app_id),
        })?;
        Ok(serde_json::to_vec(&json!({ "token": token, "expires_at": claims.expires_at })).expect("JSON serializes"))
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushDeviceBody {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    task_id: Option<String>,
    /// `delivered`, `opened` or `dismissed`.
    #[serde(default)]
    event: Option<String>,
}

#[async_trait]
impl BuiltinService for PushDevice {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let request: PushDeviceBody = parse_body_or_default(body)?;
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
        let device = device_context(
            context,
            request.os_version,
            request.model,
            request.city,
            request.network,
            request.attributes,
        );
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

/// `midship.analytics.upload`: a batch of the calling device's logs (JSON, optionally gzip or zstd
/// compressed), answered once it is durably stored.
#[derive(Debug)]
pub struct AnalyticsUpload {
    pub analytics: AnalyticsService,
}

#[async_trait]
impl BuiltinService for AnalyticsUpload {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let device_id = calling_device(context)?;
        let uploader = Uploader { user_id: context.user_id.as_deref(), app_version: context.app_version.as_deref() };
        let answer = self.analytics.upload(&context.workspace_id, device_id, &uploader, body).await?;
        Ok(serde_json::to_vec(&answer).expect("responses serialize"))
    }
}

/// `midship.analytics.policy`: what the calling device uploads (kinds, networks, batch size),
/// sampled per user, or per device without one.
#[derive(Debug)]
pub struct AnalyticsPolicyPull {
    pub analytics: AnalyticsService,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyticsPolicyBody {}

#[async_trait]
impl BuiltinService for AnalyticsPolicyPull {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let _: AnalyticsPolicyBody = parse_body_or_default(body)?;
        let subject = match context.user_id.as_deref() {
            Some(user_id) => user_id,
            None => calling_device(context)?,
        };
        let policy = self.analytics.device_policy(&context.workspace_id, subject).await?;
        Ok(serde_json::to_vec(&policy).expect("responses serialize"))
    }
}

/// `midship.analytics.log.upload`: the calling device's log file, for a request that named it
/// (or its user).
#[derive(Debug)]
pub struct AnalyticsLogUpload {
    pub analytics: AnalyticsService,
}

#[async_trait]
impl BuiltinService for AnalyticsLogUpload {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let upload: midship_api::LogUpload = parse_body(body)?;
        let device_id = calling_device(context)?;
        let file =
            self.analytics.receive_log(&context.workspace_id, device_id, context.user_id.as_deref(), upload).await?;
        Ok(serde_json::to_vec(&file).expect("responses serialize"))
    }
}

/// Every built-in service of this node.
pub fn registry(
    control: &ControlPlane,
    switches: &SwitchService,
    push: &PushService,
    delivery: &DeliveryService,
    analytics: &AnalyticsService,
) -> BuiltinRegistry {
    let mut registry = BuiltinRegistry::default();
    registry.register("midship.config.pull", Arc::new(ConfigPull { switches: switches.clone() }));
    registry.register("midship.sync.token", Arc::new(SyncToken { control: control.clone() }));
    registry.register("midship.delivery.check", Arc::new(DeliveryCheck { delivery: delivery.clone() }));
    registry.register("midship.delivery.report", Arc::new(DeliveryReport { delivery: delivery.clone() }));
    registry.register("midship.analytics.upload", Arc::new(AnalyticsUpload { analytics: analytics.clone() }));
    registry.register("midship.analytics.log.upload", Arc::new(AnalyticsLogUpload { analytics: analytics.clone() }));
    registry.register("midship.analytics.policy", Arc::new(AnalyticsPolicyPull { analytics: analytics.clone() }));
    for (operation_type, operation) in [
        ("midship.push.report", PushOperation::Report),
        ("midship.push.bind", PushOperation::Bind),
        ("midship.push.unbind", PushOperation::Unbind),
        ("midship.push.ack", PushOperation::Ack),
    ] {
        registry.register(operation_type, Arc::new(PushDevice { push: push.clone(), operation }));
    }
    registry
}
