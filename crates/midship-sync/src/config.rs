//! A bizType's sync configuration.

use std::sync::LazyLock;

use midship_storage::SyncTargetKind;
use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct SyncConfigError {
    pub field: &'static str,
    pub message: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// To one user or device per message.
    Targeted,
    /// To every device of the workspace.
    Global,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Every device of the target user.
    AllDevices,
    /// Only the device the user used last.
    LatestDevice,
}

/// What a device gets of a backlog when it comes online.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repush {
    All,
    /// Only the newest messages; older ones are dropped.
    Newest(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// 1 to 64 of letters, digits, `-` and `_`, starting with a letter.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z][A-Za-z0-9_-]{0,63}$"))]
    pub biz_type: String,
    #[serde(default = "targeted")]
    pub scope: Scope,
    /// `user` or `device`, for targeted scope.
    #[serde(default = "user_target")]
    pub target: TargetKindName,
    #[serde(default = "all_devices")]
    pub delivery: Delivery,
    /// Kept for offline targets and delivered when they connect; otherwise only online devices get it.
    #[serde(default = "yes")]
    pub persistent: bool,
    /// 1 to 365 days (default 30).
    #[serde(default = "thirty")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub retention_days: u32,
    #[serde(default = "repush_all")]
    pub repush: Repush,
    /// For user targets: deliver only to connections whose userId was vouched for by a
    /// connection token the backend minted (docs/sync.md), not merely claimed by the device.
    #[serde(default)]
    pub verified_users_only: bool,
}

/// `user` or `device` on the wire.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKindName {
    User,
    Device,
}

fn targeted() -> Scope {
    Scope::Targeted
}
fn user_target() -> TargetKindName {
    TargetKindName::User
}
fn all_devices() -> Delivery {
    Delivery::AllDevices
}
fn yes() -> bool {
    true
}
fn thirty() -> u32 {
    30
}
fn repush_all() -> Repush {
    Repush::All
}

static BIZ_TYPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$").expect("valid regex"));

impl SyncConfig {
    pub fn validate(&self) -> Result<(), SyncConfigError> {
        if !BIZ_TYPE.is_match(&self.biz_type) {
            return Err(SyncConfigError {
                field: "biz_type",
                message: format!(
                    "`{}` must be 1 to 64 of letters, digits, _ and -, starting with a letter",
                    self.biz_type
                ),
            });
        }
        if !(1..=365).contains(&self.retention_days) {
            return Err(SyncConfigError { field: "retention_days", message: "must be 1 to 365".into() });
        }
        if self.delivery == Delivery::LatestDevice && self.target_kind() != SyncTargetKind::User {
            return Err(SyncConfigError {
                field: "delivery",
                message: "latest_device applies only to targeted bizTypes with target user".into(),
            });
        }
        if self.verified_users_only && self.target_kind() != SyncTargetKind::User {
            return Err(SyncConfigError {
                field: "verified_users_only",
                message: "applies only to targeted bizTypes with target user".into(),
            });
        }
        if let Repush::Newest(count) = self.repush
            && !(1..=10_000).contains(&count)
        {
            return Err(SyncConfigError { field: "repush", message: "newest must keep 1 to 10000 messages".into() });
        }
        Ok(())
    }

    /// The stream kind messages of this bizType go to.
    pub fn target_kind(&self) -> SyncTargetKind {
        match (self.scope, self.target) {
            (Scope::Global, _) => SyncTargetKind::Global,
            (Scope::Targeted, TargetKindName::User) => SyncTargetKind::User,
            (Scope::Targeted, TargetKindName::Device) => SyncTargetKind::Device,
        }
    }

    pub fn retention_ms(&self) -> i64 {
        i64::from(self.retention_days) * 24 * 60 * 60 * 1000
    }

    /// How many messages a stream keeps, when the re-push mode limits it.
    pub fn keep_newest(&self) -> Option<u32> {
        match self.repush {
            Repush::All => None,
            Repush::Newest(count) => Some(count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_targeted_persistent_30_days() {
        let config: SyncConfig = serde_json::from_value(serde_json::json!({ "biz_type": "CHAT-MSG" })).unwrap();
        assert_eq!(config.target_kind(), SyncTargetKind::User);
        assert!(config.persistent);
        assert_eq!(config.retention_days, 30);
        assert_eq!(config.keep_newest(), None);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_field() {
        let base: SyncConfig = serde_json::from_value(serde_json::json!({ "biz_type": "ORDER" })).unwrap();
        let bad = SyncConfig { biz_type: "9lives".into(), ..base.clone() };
        assert_eq!(bad.validate().unwrap_err().field, "biz_type");
        let bad = SyncConfig { retention_days: 0, ..base.clone() };
        assert_eq!(bad.validate().unwrap_err().field, "retention_days");
        let bad = SyncConfig { repush: Repush::Newest(0), ..base };
        assert_eq!(bad.validate().unwrap_err().field, "repush");
        let global: SyncConfig = serde_json::from_value(
            serde_json::json!({ "biz_type": "NOTICE", "scope": "global", "repush": { "newest": 5 } }),
        )
        .unwrap();
        assert_eq!(global.target_kind(), SyncTargetKind::Global);
        assert_eq!(global.keep_newest(), Some(5));
    }
}
