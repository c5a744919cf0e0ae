//! What operators register: API groups (backends) and APIs (operation types routed to them).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Timeout of a backend call when neither the API nor its group names one (the mPaaS default).
pub const DEFAULT_TIMEOUT_MS: u64 = 3000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Operation types under this prefix are Midship's own services.
pub const BUILTIN_PREFIX: &str = "midship.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct DefinitionError {
    pub field: &'static str,
    pub message: String,
}

impl DefinitionError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// A backend system behind the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGroupDefinition {
    /// `http://accounts.internal:8080/api`; API paths are appended to it.
    pub base_url: String,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Signs `X-Midship-Proxy-Signature` so the backend can check a call came through the gateway.
    pub proxy_secret: String,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete]
            .into_iter()
            .find(|method| method.as_str().eq_ignore_ascii_case(text))
    }

    /// Whether the JSON body travels as the upstream body (otherwise as query parameters).
    pub fn has_body(self) -> bool {
        matches!(self, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiStatus {
    Open,
    /// Calls answer 3000 without reaching the backend.
    Closed,
}

/// A client-callable API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDefinition {
    pub method: HttpMethod,
    /// Appended to the group's base URL; `{name}` segments are filled from top-level body fields.
    pub path: String,
    /// Overrides the group's timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default = "default_charset")]
    pub charset: String,
    /// Refuse calls without a valid client signature.
    #[serde(default = "yes")]
    pub need_sign: bool,
    /// Require encrypted request bodies.
    #[serde(default)]
    pub need_encrypt: bool,
    #[serde(default = "open")]
    pub status: ApiStatus,
    /// Calls per second on this node; the gateway's default per API and the app's total also apply,
    /// and the lowest wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn default_content_type() -> String {
    "application/json".to_owned()
}

fn default_charset() -> String {
    "utf-8".to_owned()
}

fn yes() -> bool {
    true
}

fn open() -> ApiStatus {
    ApiStatus::Open
}

static OPERATION_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$").expect("valid regex"));
static PATH_PARAMETER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("valid regex"));

/// `com.bank.account.balance`: dotted words, at most 128 characters; `midship.*` is reserved.
pub fn validate_operation_type(operation_type: &str) -> Result<(), DefinitionError> {
    if operation_type.len() > 128 || !OPERATION_TYPE.is_match(operation_type) {
        return Err(DefinitionError::new(
            "operation_type",
            format!("`{operation_type}` must be dotted words such as com.bank.account.balance"),
        ));
    }
    if operation_type.starts_with(BUILTIN_PREFIX) {
        return Err(DefinitionError::new("operation_type", "the midship. prefix is reserved for built-in services"));
    }
    Ok(())
}

impl ApiGroupDefinition {
    pub fn validate(&self) -> Result<(), DefinitionError> {
        let url = url::Url::parse(&self.base_url)
            .map_err(|error| DefinitionError::new("base_url", format!("`{}` is not a URL: {error}", self.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(DefinitionError::new("base_url", "must be an http or https URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(DefinitionError::new("base_url", "must not have a query or fragment"));
        }
        check_timeout(self.timeout_ms)
    }
}

fn check_timeout(timeout_ms: u64) -> Result<(), DefinitionError> {
    if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
        return Err(DefinitionError::new("timeout_ms", format!("must be 1 to {MAX_TIMEOUT_MS}")));
    }
    Ok(())
}

impl ApiDefinition {
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if !self.path.starts_with('/') || self.path.contains("..") || self.path.contains('?') || self.path.contains('#')
        {
            return Err(DefinitionError::new("path", "must start with / and hold no `..`, query or fragment"));
        }
        let without_parameters = PATH_PARAMETER.replace_all(&self.path, "x");
        if without_parameters.contains('{') || without_parameters.contains('}') {
            return Err(DefinitionError::new("path", "`{` and `}` only around parameter names such as {accountId}"));
        }
        if let Some(timeout_ms) = self.timeout_ms {
            check_timeout(timeout_ms)?;
        }
        if self.rate_limit_per_second == Some(0) {
            return Err(DefinitionError::new("rate_limit_per_second", "must be positive (leave it out for no limit)"));
        }
        if self.content_type.trim().is_empty() || self.charset.trim().is_empty() {
            return Err(DefinitionError::new("content_type", "content type and charset must not be empty"));
        }
        Ok(())
    }

    /// Names of the `{parameters}` in the path.
    pub fn path_parameters(&self) -> Vec<String> {
        PATH_PARAMETER.captures_iter(&self.path).map(|capture| capture[1].to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(path: &str) -> ApiDefinition {
        serde_json::from_value(serde_json::json!({ "method": "POST", "path": path })).unwrap()
    }

    #[test]
    fn defaults_are_the_mpaas_ones() {
        let api = api("/accounts/{accountId}/balance");
        assert!(api.need_sign && !api.need_encrypt);
        assert_eq!(api.status, ApiStatus::Open);
        assert_eq!(api.content_type, "application/json");
        assert_eq!(api.path_parameters(), vec!["accountId"]);
        assert!(api.validate().is_ok());
    }

    #[test]
    fn bad_paths_and_operation_types_are_refused() {
        assert!(api("accounts").validate().is_err());
        assert!(api("/a/../b").validate().is_err());
        assert!(api("/a/{b").validate().is_err());
        assert!(validate_operation_type("com.bank.balance").is_ok());
        assert!(validate_operation_type("balance").is_err());
        assert!(validate_operation_type("midship.config.pull").is_err());
        assert!(validate_operation_type("com..x").is_err());
    }

    #[test]
    fn groups_need_an_http_url() {
        let group = |url: &str| ApiGroupDefinition { base_url: url.into(), timeout_ms: 3000, proxy_secret: "s".into() };
        assert!(group("http://accounts.internal:8080/api").validate().is_ok());
        assert!(group("ftp://x").validate().is_err());
        assert!(group("http://x?y=1").validate().is_err());
        assert!(group("not a url").validate().is_err());
    }
}
