//! Built-in services: operation types `midship.*`, served in-process through the same pipeline as
//! backend APIs (signature, rate limits, metrics).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

/// Who is calling, as the pipeline established it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub app_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    pub trace_id: String,
    /// Set by an authorizer API: the header name the backend gets it in, and the principal.
    pub principal: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// The body does not fit the service (answers 3002).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The caller may not do this (answers 1001).
    #[error("access denied: {0}")]
    Denied(String),
    /// The caller sent more than its share (answers 1002).
    #[error("rate limited: {0}")]
    Limited(String),
    /// The service failed (answers 5000).
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait BuiltinService: Send + Sync + std::fmt::Debug {
    /// Handles a JSON body and answers a JSON body.
    async fn call(&self, context: &CallContext, body: &[u8]) -> Result<Vec<u8>, BuiltinError>;
}

/// The built-in services by operation type; later issues register theirs.
#[derive(Debug, Clone, Default)]
pub struct BuiltinRegistry {
    services: HashMap<String, Arc<dyn BuiltinService>>,
}

impl BuiltinRegistry {
    pub fn register(&mut self, operation_type: &str, service: Arc<dyn BuiltinService>) {
        self.services.insert(operation_type.to_owned(), service);
    }

    pub fn get(&self, operation_type: &str) -> Option<&Arc<dyn BuiltinService>> {
        self.services.get(operation_type)
    }

    pub fn operation_types(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}
