//! People: console accounts, managed by admins through `/api/v1/people`.

use serde::{Deserialize, Deserializer, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(feature = "openapi")]
use crate::rules;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreatePersonRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::login))]
    pub login: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::display_name))]
    pub display_name: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::role))]
    pub role: String,
    /// Limit the person to these apps (at least one); every app of the tenant when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub app_ids: Option<Vec<String>>,
}

/// An admin's change; a field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdatePersonRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::optional_display_name))]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = rules::optional_role))]
    pub role: Option<String>,
    /// `null`: every app of the tenant; a list (at least one): only these apps.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>, min_items = 1, nullable))]
    pub app_ids: Option<Option<Vec<String>>>,
    /// `true` stops the person signing in and ends their sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PersonView {
    pub person_id: String,
    pub tenant_id: String,
    pub login: String,
    pub display_name: String,
    pub role: String,
    pub app_ids: Option<Vec<String>>,
    /// `authenticator` (TOTP), `single_sign_on`, or `none`.
    pub second_factor: String,
    /// The temporary password given by an admin has not been changed yet.
    pub password_must_change: bool,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub created_by: Option<String>,
    pub disabled_at: Option<String>,
}

/// A new account, or one whose credentials were reset: the temporary password is shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PersonWithPassword {
    pub person: PersonView,
    pub temporary_password: String,
}

/// `POST /api/login/device`: a command-line client asks to sign in as a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceLoginRequest {
    /// What the person confirming is shown ("midship CLI on build-7").
    pub client_name: String,
}

/// The answer: keep `device_code` secret (it becomes the bearer token once confirmed), show
/// `user_code` and `verification_uri`, and poll every `interval` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLoginStarted {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// `POST /api/login/device/token` with the device code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceLoginPoll {
    pub device_code: String,
}

/// `pending`, `approved` (the device code is now a bearer token), `denied` or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLoginState {
    pub status: String,
}
