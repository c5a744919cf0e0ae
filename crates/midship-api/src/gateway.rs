//! The gateway: API groups, APIs and their policies, encryption keys and call statistics.

use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::rules;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiGroupRequest {
    /// Lower-case name, unique in the workspace (`accounts`).
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::slug))]
    pub name: String,
    /// The backend's base URL (http or https, with a host, without query or fragment); API paths
    /// are appended to it.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[\x00-\x20]*[Hh][Tt][Tt][Pp][Ss]?://"))]
    pub base_url: String,
    /// Default timeout of the group's APIs, 1 to 60000 ms (3000 ms when absent).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60000))]
    pub timeout_ms: Option<u64>,
    /// `hmac` (default) or `rsa`: how `X-Midship-Proxy-Signature` is made.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(hmac|rsa)$"))]
    pub proxy_signature: Option<String>,
    /// PKCS#8 PEM private key for `rsa`; one is generated when absent.
    #[serde(default)]
    pub rsa_private_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiGroupView {
    pub group_id: String,
    pub workspace_id: String,
    pub name: String,
    pub base_url: String,
    pub timeout_ms: u64,
    /// `hmac` or `rsa`.
    pub proxy_signature: String,
    /// The secret of `X-Midship-Proxy-Signature` (hmac), shown only when the group is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret: Option<String>,
    /// The PEM public key backends verify an `rsa` proxy signature with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiRequest {
    /// Unique in the workspace, dotted words (`com.bank.account.balance`), at most 128
    /// characters; `midship.` is reserved.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^(?!midship\.)[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
    )]
    pub operation_type: String,
    /// Group id or name.
    pub group: String,
    /// GET, POST, PUT, PATCH or DELETE, in any letter case.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee])$"
        )
    )]
    pub method: String,
    /// Appended to the group's base URL; `{name}` segments come from the body's fields.
    #[cfg_attr(feature = "openapi", schema(pattern = "^/"))]
    pub path: String,
    /// `[{"name", "type": "string"|"number"|"boolean"|"object"|"array", "required"}]`: checked
    /// before the backend is called (3002 on a mismatch).
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub charset: Option<String>,
    /// Require a client signature (default true).
    #[serde(default)]
    pub need_sign: Option<bool>,
    #[serde(default)]
    pub need_encrypt: Option<bool>,
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    #[serde(default)]
    pub description: Option<String>,
    /// See [`ApiPolicies::header_rules`].
    #[serde(default)]
    pub header_rules: Option<Value>,
    /// See [`ApiPolicies::mock`].
    #[serde(default)]
    pub mock: Option<Value>,
    /// See [`ApiPolicies::migration`].
    #[serde(default)]
    pub migration: Option<Value>,
    /// See [`ApiPolicies::circuit_breaker`].
    #[serde(default)]
    pub circuit_breaker: Option<Value>,
    /// See [`ApiPolicies::cache`].
    #[serde(default)]
    pub cache: Option<Value>,
    /// See [`ApiPolicies::authorizer`].
    #[serde(default)]
    pub authorizer: Option<Value>,
    /// See [`ApiPolicies::rate_limited_response`].
    #[serde(default)]
    pub rate_limited_response: Option<Value>,
}

/// The optional policies of an API (docs/protocol.md, "API policies"), as JSON objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiPolicies {
    /// `[{"stage": "request"|"response", "action": "add"|"remove", "name", "value"}]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_rules: Option<Value>,
    /// `{"percentage": 0-100, "response": {"status", "content_type", "body"}}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<Value>,
    /// `{"group": group id or name, "percentage": 0-100}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Value>,
    /// `{"window_seconds", "minimum_calls", "error_percentage", "slow_call_ms", "slow_percentage", "open_seconds", "fallback"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<Value>,
    /// `{"ttl_seconds", "key_fields", "key_headers", "key_cookies"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Value>,
    /// `{"operation_type", "credential_headers": ["authorization"], "principal_header": "X-Midship-Principal", "cache_seconds"}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<Value>,
    /// `{"status": 429, "content_type", "body"}`: what a rate-limited caller gets with 1002.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited_response: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiView {
    pub api_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub group_id: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    pub timeout_ms: Option<u64>,
    pub content_type: String,
    pub charset: String,
    pub need_sign: bool,
    pub need_encrypt: bool,
    /// `open` or `closed`.
    pub status: String,
    pub rate_limit_per_second: Option<u32>,
    pub description: String,
    #[serde(flatten)]
    pub policies: ApiPolicies,
    pub updated_at: String,
}

/// A public key of the gateway for body encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvelopeKeyView {
    /// `p256-aes256gcm` or `sm2-sm4gcm`.
    pub suite: String,
    /// Uncompressed SEC1 point, standard base64.
    pub public_key: String,
}

/// One API's calls on the answering node since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiStatsView {
    pub operation_type: String,
    pub calls: u64,
    /// Result code → calls.
    pub by_result: std::collections::BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// A workspace's device security policy (docs/security.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceSecurityRequest {
    /// From this day (00:00 UTC, `YYYY-MM-DD`), calls and hellos signed only with the app's
    /// secret are refused (7017), but for `midship.device.register`; absent or `null`: they are
    /// accepted (devices still migrating).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub device_credentials_required_from: Option<String>,
    /// Refuse every connection token issued until now (a leaked token, a backend key rotation).
    #[serde(default)]
    pub revoke_connect_tokens: bool,
    /// Let devices pull configuration unsigned (`POST /api/client/v1/config/pull`); off by
    /// default: devices pull with the signed `midship.config.pull`.
    #[serde(default)]
    pub unsigned_config_pull: bool,
    /// Require platform attestation at registration, judged by this verifier (an `http` or
    /// `https` URL of the team's backend; docs/security.md); absent or `null`: none.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048, pattern = "^https?://"))]
    pub attestation_verifier_url: Option<String>,
    /// Send the GrowthBook payload as `encryptedFeatures`, which GrowthBook's SDKs open with
    /// `sdk_decryption_key`.
    #[serde(default)]
    pub encrypt_features_payload: bool,
}

/// A device whose credential was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceCredentialRevoked {
    pub device_id: String,
    /// RFC 3339.
    pub revoked_at: String,
    /// Whether its long connection to the node that answered was open, and is now closed.
    pub connection_closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceSecurityView {
    /// RFC 3339; `null` while app-secret signatures are accepted.
    pub device_credentials_required_from: Option<String>,
    /// RFC 3339; connection tokens issued earlier are refused. `null`: none revoked.
    pub connect_tokens_valid_after: Option<String>,
    pub unsigned_config_pull: bool,
    /// Registration needs an attestation this verifier accepts; `null`: none.
    pub attestation_verifier_url: Option<String>,
    pub encrypt_features_payload: bool,
    /// The `decryptionKey` GrowthBook SDKs open the encrypted payload with (base64 of 16 bytes);
    /// `null` while the payload is not encrypted.
    pub sdk_decryption_key: Option<String>,
    /// The client key GrowthBook SDKs fetch `/api/features/{client_key}` with (add `-PLATFORM`
    /// after the workspace id for one platform's payload).
    pub sdk_client_key: String,
}
