//! Remote configuration: switch status, publications and versions, and the device's config pull.

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /api/client/v1/config/pull` takes and gives what `midship.config.pull` does.
pub use midship_protocol::calls::{ConfigPullRequest, ConfigPullResponse};

/// A switch as the admin API shows it: the draft and the latest published definition (documented
/// in `docs/switches.md`), and where the draft stands: `new`, `changed`, `published` or `deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SwitchStatusView {
    pub key: String,
    pub state: String,
    pub draft: Option<Value>,
    pub published: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The published version whose content becomes current again (as a new version).
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConfigVersionView {
    pub version: i64,
    pub published_at: String,
    pub published_by: String,
    pub note: String,
    pub switch_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportResult {
    pub imported: usize,
}
