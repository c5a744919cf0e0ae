//! Tenant → apps → workspaces, and the per-app signing keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::validation::ValidationError;

/// The tenant created on the very first start; its admins operate the installation itself
/// (they alone may create further tenants).
pub const DEFAULT_TENANT_ID: &str = "default";

/// Workspaces an app gets when its creator names none.
pub const DEFAULT_WORKSPACES: [&str; 3] = ["dev", "test", "prod"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub tenant_id: String,
    pub name: String,
    pub created_at: UnixMillis,
}

impl Tenant {
    pub fn is_installation_tenant(&self) -> bool {
        self.tenant_id == DEFAULT_TENANT_ID
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Harmony,
    H5,
    Miniprogram,
}

impl Platform {
    pub const ALL: [Platform; 5] =
        [Platform::Android, Platform::Ios, Platform::Harmony, Platform::H5, Platform::Miniprogram];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Harmony => "harmony",
            Platform::H5 => "h5",
            Platform::Miniprogram => "miniprogram",
        }
    }

    /// Parses a stored or typed list such as `android,ios`; duplicates collapse, order is canonical.
    pub fn parse_list(text: &str) -> Result<Vec<Platform>, ValidationError> {
        let mut platforms = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Platform::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        platforms.sort();
        platforms.dedup();
        Ok(platforms)
    }

    /// One platform per name, as an API body lists them; duplicates count once.
    pub fn parse_each(names: &[String]) -> Result<Vec<Platform>, ValidationError> {
        let mut platforms = names.iter().map(|name| Platform::from_str(name)).collect::<Result<Vec<_>, _>>()?;
        platforms.sort();
        platforms.dedup();
        Ok(platforms)
    }

    pub fn join(platforms: &[Platform]) -> String {
        platforms.iter().map(|platform| platform.as_str()).collect::<Vec<_>>().join(",")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Platform::ALL.into_iter().find(|platform| platform.as_str() == text).ok_or_else(|| {
            ValidationError::new(
                "platforms",
                format!("unknown platform `{text}` (expected android, ios, harmony, h5 or miniprogram)"),
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub app_id: String,
    pub tenant_id: String,
    pub name: String,
    pub platforms: Vec<Platform>,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub workspace_id: String,
    pub app_id: String,
    pub name: String,
    pub created_at: UnixMillis,
}

/// A secret an app's clients sign with. After a rotation the previous key keeps working until
/// `expires_at`, so devices in the field can move to the new key without failing calls.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppKey {
    pub key_id: String,
    pub app_id: String,
    pub secret: String,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
}

impl AppKey {
    pub fn is_valid_at(&self, now_ms: UnixMillis) -> bool {
        self.expires_at.is_none_or(|expires_at| now_ms < expires_at)
    }
}

impl fmt::Debug for AppKey {
    /// Keeps the secret out of logs and panic messages.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AppKey")
            .field("key_id", &self.key_id)
            .field("app_id", &self.app_id)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_lists_are_canonical() {
        let parsed = Platform::parse_list("ios, android,ios").unwrap();
        assert_eq!(parsed, vec![Platform::Android, Platform::Ios]);
        assert_eq!(Platform::join(&parsed), "android,ios");
        assert!(Platform::parse_list("symbian").is_err());
    }

    #[test]
    fn rotated_key_expires_after_grace() {
        let key =
            AppKey { key_id: "k".into(), app_id: "a".into(), secret: "s".into(), created_at: 0, expires_at: Some(100) };
        assert!(key.is_valid_at(99));
        assert!(!key.is_valid_at(100));
        assert!(!format!("{key:?}").contains("\"s\""));
    }
}
