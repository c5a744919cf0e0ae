//! What operators register: API groups (backends) and APIs (operation types routed to them).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Timeout of a backend call when neither the API nor its group names one (the mPaaS default).
pub const DEFAULT_TIMEOUT_MS: u64 = 3000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Operation types under this prefix are Midship's own services.
pub use midship_protocol::builtins::BUILTIN_PREFIX;

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
    /// `hmac` (with `proxy_secret`) or `rsa` (with `rsa_private_key`, for backends that prefer to
    /// hold only a public key).
    #[serde(default)]
    pub proxy_signature: ProxySignature,
    /// PKCS#8 PEM, for `rsa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_private_key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxySignature {
    #[default]
    Hmac,
    Rsa,
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
    /// The body's expected fields; a call missing a required one, or with one of the wrong kind,
    /// answers 3002 without reaching the backend. Fields not listed pass through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
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
    /// What a rate-limited caller gets (still with `Result-Status: 1002`); an empty body when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited_response: Option<CannedResponse>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Headers added to or removed from the backend request or the client response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_rules: Vec<HeaderRule>,
    /// A share of calls answered with stored data instead of the backend (while it is built).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<Mock>,
    /// A share of calls sent to another group (moving to a new backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<TrafficMigration>,
    /// Stop calling a failing or slow backend for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Keep successful answers for a time, keyed by chosen body fields and headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<ResponseCache>,
    /// Another API of the workspace asked first whether the caller may call this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<Authorizer>,
}

/// The authorizer protocol: the gateway POSTs `{"operation_type", "app_id", "workspace_id",
/// "device_id", "user_id", "credentials": {header: value}}` to the authorizer API's backend, which
/// answers 2xx `{"principal": "..."}` to allow, 401 for "login required" (2000) and anything else
/// for "not authorised" (1005).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorizer {
    /// The authorizer API's operation type (registered in the same workspace).
    pub operation_type: String,
    /// Client headers sent to the authorizer as credentials (`Authorization`, `Cookie`, ...).
    #[serde(default = "default_credential_headers")]
    pub credential_headers: Vec<String>,
    /// The backend receives the principal in this header.
    #[serde(default = "default_principal_header")]
    pub principal_header: String,
    /// Allowed principals are remembered this long per credentials; 0 asks every time.
    #[serde(default)]
    pub cache_seconds: u32,
}

fn default_credential_headers() -> Vec<String> {
    vec!["authorization".to_owned()]
}

fn default_principal_header() -> String {
    "X-Midship-Principal".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterKind {
    String,
    Number,
    Boolean,
    Object,
    Array,
}

impl ParameterKind {
    fn accepts(self, value: &serde_json::Value) -> bool {
        match self {
            ParameterKind::String => value.is_string(),
            ParameterKind::Number => value.is_number(),
            ParameterKind::Boolean => value.is_boolean(),
            ParameterKind::Object => value.is_object(),
            ParameterKind::Array => value.is_array(),
        }
    }
}

impl ApiDefinition {
    /// Checks a call's body against the declared parameters; the message names the field.
    pub fn check_parameters(&self, fields: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        for parameter in &self.parameters {
            match fields.get(&parameter.name) {
                None | Some(serde_json::Value::Null) if parameter.required => {
                    return Err(format!("parameter `{}` is required", parameter.name));
                }
                Some(value) if !value.is_null() && !parameter.kind.accepts(value) => {
                    return Err(format!("parameter `{}` must be a {:?}", parameter.name, parameter.kind).to_lowercase());
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderStage {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderAction {
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    pub stage: HeaderStage,
    pub action: HeaderAction,
    pub name: String,
    /// For `add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A canned answer; `body` is returned as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    #[serde(default = "ok_status")]
    pub status: u16,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    pub body: String,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mock {
    /// 0 to 100.
    pub percentage: u8,
    pub response: CannedResponse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficMigration {
    /// Group id or name of the new backend.
    pub group: String,
    /// 0 to 100.
    pub percentage: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Length of the counting window.
    #[serde(default = "ten")]
    pub window_seconds: u32,
    /// Calls needed in a window before the ratios count.
    #[serde(default = "ten")]
    pub minimum_calls: u32,
    /// Share of failed calls (4001, 4002, 4003), 0 to 100, that opens the circuit.
    #[serde(default = "fifty")]
    pub error_percentage: u8,
    /// A call slower than this counts as slow.
    #[serde(default = "default_slow_call_ms")]
    pub slow_call_ms: u64,
    /// Share of slow calls, 0 to 100, that opens the circuit.
    #[serde(default = "hundred")]
    pub slow_percentage: u8,
    /// How long the circuit stays open before one trial call.
    #[serde(default = "thirty")]
    pub open_seconds: u32,
    /// What callers get while the circuit is open; 4002 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<CannedResponse>,
}

fn ten() -> u32 {
    10
}

fn thirty() -> u32 {
    30
}

fn fifty() -> u8 {
    50
}

fn hundred() -> u8 {
    100
}

fn default_slow_call_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseCache {
    pub ttl_seconds: u32,
    /// Top-level body fields that make up the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_fields: Vec<String>,
    /// Request headers that make up the key (`User-Id`, `Platform`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_headers: Vec<String>,
    /// Cookies that make up the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_cookies: Vec<String>,
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
        if self.proxy_signature == ProxySignature::Rsa {
            let pem = self.rsa_private_key.as_deref().unwrap_or_default();
            midship_signing::proxy::RsaSigner::from_pkcs8_pem(pem)
                .map_err(|error| DefinitionError::new("rsa_private_key", error.to_string()))?;
        }
        check_timeout(self.timeout_ms)
    }
}

fn check_percentage(field: &'static str, percentage: u8) -> Result<(), DefinitionError> {
    if percentage > 100 {
        return Err(DefinitionError::new(field, "must be 0 to 100"));
    }
    Ok(())
}

fn check_canned(field: &'static str, response: &CannedResponse) -> Result<(), DefinitionError> {
    if !(200..600).contains(&response.status) {
        return Err(DefinitionError::new(field, "status must be 200 to 599"));
    }
    if response.body.len() > 256 * 1024 {
        return Err(DefinitionError::new(field, "body must be at most 256 KiB"));
    }
    Ok(())
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
        for rule in &self.header_rules {
            let valid_name = !rule.name.is_empty()
                && rule.name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
            if !valid_name {
                return Err(DefinitionError::new("header_rules", format!("`{}` is not a header name", rule.name)));
            }
            let value_fits = match (rule.action, &rule.value) {
                (HeaderAction::Add, Some(value)) => value.bytes().all(|byte| byte == b' ' || byte.is_ascii_graphic()),
                (HeaderAction::Add, None) => false,
                (HeaderAction::Remove, value) => value.is_none(),
            };
            if !value_fits {
                return Err(DefinitionError::new(
                    "header_rules",
                    format!("`{}`: add needs a printable ASCII value, remove takes none", rule.name),
                ));
            }
        }
        for (index, parameter) in self.parameters.iter().enumerate() {
            let valid = !parameter.name.is_empty() && parameter.name.len() <= 128;
            if !valid || self.parameters[..index].iter().any(|earlier| earlier.name == parameter.name) {
                return Err(DefinitionError::new(
                    "parameters",
                    format!("`{}` must be a unique, non-empty name", parameter.name),
                ));
            }
        }
        for name in self.path_parameters() {
            if let Some(parameter) = self.parameters.iter().find(|parameter| parameter.name == name)
                && matches!(parameter.kind, ParameterKind::Object | ParameterKind::Array)
            {
                return Err(DefinitionError::new(
                    "parameters",
                    format!("path parameter `{name}` must be a string, number or boolean"),
                ));
            }
        }
        if let Some(response) = &self.rate_limited_response {
            check_canned("rate_limited_response", response)?;
        }
        if let Some(mock) = &self.mock {
            check_percentage("mock.percentage", mock.percentage)?;
            check_canned("mock.response", &mock.response)?;
        }
        if let Some(migration) = &self.migration {
            check_percentage("migration.percentage", migration.percentage)?;
        }
        if let Some(breaker) = &self.circuit_breaker {
            if breaker.window_seconds == 0 || breaker.open_seconds == 0 || breaker.minimum_calls == 0 {
                return Err(DefinitionError::new(
                    "circuit_breaker",
                    "window, open time and minimum calls must be positive",
                ));
            }
            check_percentage("circuit_breaker.error_percentage", breaker.error_percentage)?;
            check_percentage("circuit_breaker.slow_percentage", breaker.slow_percentage)?;
            if let Some(fallback) = &breaker.fallback {
                check_canned("circuit_breaker.fallback", fallback)?;
            }
        }
        if let Some(cache) = &self.cache
            && (cache.ttl_seconds == 0 || cache.ttl_seconds > 86_400)
        {
            return Err(DefinitionError::new("cache.ttl_seconds", "must be 1 to 86400"));
        }
        if let Some(authorizer) = &self.authorizer {
            validate_operation_type(&authorizer.operation_type)
                .map_err(|error| DefinitionError::new("authorizer.operation_type", error.message))?;
            let header_name =
                |name: &str| !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
            if !header_name(&authorizer.principal_header)
                || !authorizer.credential_headers.iter().all(|name| header_name(name))
            {
                return Err(DefinitionError::new("authorizer", "header names must be letters, digits and -"));
            }
            if authorizer.cache_seconds > 86_400 {
                return Err(DefinitionError::new("authorizer.cache_seconds", "must be at most 86400"));
            }
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
        let group = |url: &str| ApiGroupDefinition {
            base_url: url.into(),
            timeout_ms: 3000,
            proxy_secret: "s".into(),
            proxy_signature: ProxySignature::Hmac,
            rsa_private_key: None,
        };
        assert!(group("http://accounts.internal:8080/api").validate().is_ok());
        assert!(group("ftp://x").validate().is_err());
        assert!(group("http://x?y=1").validate().is_err());
        assert!(group("not a url").validate().is_err());
    }
}
