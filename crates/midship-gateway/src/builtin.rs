//! Built-in services: operation types `midship.*`, served in-process through the same pipeline as
//! backend APIs (signature, rate limits, metrics).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use midship_core::{Classify, ErrorKind};

/// Who is calling, as the pipeline established it.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub app_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub device_id: Option<String>,
    /// The call came without `Device-Id` and `device_id` was issued for it just now, so it names
    /// no device the client already knew: a retry would get another one.
    pub device_id_issued: bool,
    pub user_id: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
    pub trace_id: String,
    /// Set by an authorizer API: the header name the backend gets it in, and the principal.
    pub principal: Option<(String, String)>,
}

/// Why a built-in service refused or failed a call: the kind of failure, which the pipeline
/// answers with its result code (`result_for_kind`), and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct BuiltinError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl BuiltinError {
    /// The body does not fit the service (answers 3002).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Invalid, detail: detail.into() }
    }
}

/// A domain error, by its kind. Failures of Midship itself keep their text for the log; the
/// pipeline does not send it to the device.
impl<E: Classify> From<E> for BuiltinError {
    fn from(error: E) -> Self {
        Self { kind: error.kind(), detail: error.to_string() }
    }
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
