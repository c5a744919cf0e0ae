//! `midship.analytics.upload`, `.policy` and `.log.upload`, the device's face of analytics.

use std::sync::Arc;

use async_trait::async_trait;
use midship_analytics::AnalyticsService;
use midship_analytics::event::Uploader;
use midship_gateway::{BuiltinError, BuiltinRegistry, BuiltinService, CallContext, ServerKeys};
use serde::Deserialize;

use crate::builtins::{calling_device, parse_body, parse_body_or_default};
use midship_protocol::builtins::operation;

pub fn register(registry: &mut BuiltinRegistry, analytics: &AnalyticsService, server_keys: &Arc<ServerKeys>) {
    let upload = AnalyticsUpload { analytics: analytics.clone(), server_keys: server_keys.clone() };
    registry.register(operation::ANALYTICS_UPLOAD, Arc::new(upload));
    registry.register(operation::ANALYTICS_LOG_UPLOAD, Arc::new(AnalyticsLogUpload { analytics: analytics.clone() }));
    registry.register(operation::ANALYTICS_POLICY, Arc::new(AnalyticsPolicyPull { analytics: analytics.clone() }));
}

/// `midship.analytics.upload`: a batch of the calling device's logs (JSON, optionally gzip or zstd
/// compressed), answered once it is durably stored.
#[derive(Debug)]
pub struct AnalyticsUpload {
    pub analytics: AnalyticsService,
    /// Checks the proof of each exposure against the assignments config pulls gave.
    pub server_keys: Arc<ServerKeys>,
}

#[async_trait]
impl BuiltinService for AnalyticsUpload {
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError> {
        let device_id = calling_device(context)?;
        let prover = self.server_keys.assignment_prover(&context.workspace_id).await?;
        let check = move |experiment: &str, unit: &str, variation: &str, proof: &str| {
            prover.matches(experiment, unit, variation, proof)
        };
        let uploader = Uploader {
            device_id,
            user_id: context.user_id.as_deref(),
            app_version: context.app_version.as_deref(),
            exposure_proof: Some(&check),
        };
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
        let upload: midship_protocol::calls::LogUpload = parse_body(body)?;
        let device_id = calling_device(context)?;
        let file =
            self.analytics.receive_log(&context.workspace_id, device_id, context.user_id.as_deref(), upload).await?;
        Ok(serde_json::to_vec(&file).expect("responses serialize"))
    }
}
