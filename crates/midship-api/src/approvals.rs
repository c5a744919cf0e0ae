//! Approvals ("four eyes"): a workspace's rule and its requests (docs/security.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Whether publishing switches, starting, widening or rolling back releases and broadcast
/// pushes in the workspace wait for a second person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub approvals_required: bool,
}

/// A request for a gated change, and its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApprovalView {
    pub approval_id: String,
    pub workspace_id: String,
    /// `config.publish`, `config.rollback`, `release.start`, `release.rollback` or
    /// `push.broadcast`.
    pub change: String,
    pub summary: String,
    /// What will be applied, exactly as asked (for a publication, the switches that change and
    /// the fingerprint of the reviewed draft).
    pub payload: Value,
    /// The token's name or the person's login.
    pub requested_by: String,
    pub requested_at: String,
    /// `pending`, `approved` (being applied), `applied`, `failed`, `refused`, `cancelled` or
    /// `expired` (pending for 7 days).
    pub status: String,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The approver's or refuser's words.
    pub comment: String,
    /// After approval: what applying did (`published version 7`), or why it failed.
    pub outcome: String,
}

/// An approval or a refusal, with optional words kept in the request and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::rules::comment))]
    pub comment: String,
}
