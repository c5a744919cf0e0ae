//! Gateway experiments: an API in a live experiment sends each variation's calls to its backend
//! group and tells the backend which variation it serves (`X-Midship-Experiment: key=variation`).
//! The experiments themselves live elsewhere; the gateway asks through this seam, once per routed
//! call, and the call is the exposure.

use crate::builtin::CallContext;

/// The variation a routed call takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficAssignment {
    pub experiment: String,
    pub variation: String,
    /// The API group (by name) the variation's calls go to; `None`: the API's own.
    pub group: Option<String>,
}

#[async_trait::async_trait]
pub trait TrafficExperiments: Send + Sync + std::fmt::Debug {
    /// The variation of the live experiment on `context.operation_type` this caller takes, if
    /// there is one and the caller is in it; records the exposure.
    async fn assign(&self, context: &CallContext) -> Option<TrafficAssignment>;
}

/// What the gateway is built on beyond storage: the cluster's guards (none on a node alone) and
/// the experiments that split APIs' traffic (none: no API is split).
#[derive(Debug, Default, Clone)]
pub struct GatewayHooks {
    pub cluster: Option<std::sync::Arc<dyn crate::ClusterGuards>>,
    pub experiments: Option<std::sync::Arc<dyn TrafficExperiments>>,
}
