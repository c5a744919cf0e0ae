//! A/B experiments: laboratories (traffic layers), experiments, their phases, results and
//! promotion (docs/experiments.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLaboratory {
    /// Lower-case letters, digits, `-` and `_`; also the GrowthBook namespace of its layer.
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LaboratoryView {
    pub key: String,
    pub name: String,
    pub description: String,
    pub created_at: String,
}

/// A new experiment: its key, its laboratory and its definition (`variations`, `weights`,
/// `coverage`, `layer_range`, `audience`, `unit`, `debug_whitelist`, `metrics`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    pub key: String,
    pub laboratory: String,
    /// The experiment definition (docs/experiments.md).
    pub definition: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExperimentView {
    pub key: String,
    pub laboratory: String,
    /// `draft`, `debug`, `running` or `stopped`.
    pub phase: String,
    pub definition: Value,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    /// The promoted variation, its values, who decided and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PhaseChange {
    /// `draft` (from debug), `debug`, `running` or `stopped`.
    pub phase: PhaseName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    Draft,
    Debug,
    Running,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub variation: String,
    #[serde(default)]
    pub note: String,
}

/// What promoting did: the experiment (stopped, with its decision) and the publication of the
/// winner's values — a new version, `null` when they were already published, or the approval
/// request it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PromotionView {
    pub experiment: ExperimentView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::ApprovalView>,
}

/// An experiment's results: exposed units per variation, the sample ratio mismatch check, per
/// metric each variation against control (frequentist and Bayesian; "not enough data" with its
/// reason where nothing can be computed), and the power estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExperimentResultsView {
    pub experiment: String,
    pub phase: String,
    pub variations: Vec<String>,
    /// Days since it started running (0 before).
    pub days_running: f64,
    /// `units`, `srm`, `metrics` and `power` (docs/experiments.md).
    pub results: Value,
}
