//! The `[console]` section: how people sign in to the web console.

use midship_core::people::SignInPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSection {
    /// People must set up an authenticator app before using the console.
    pub require_second_factor: bool,
    /// A session unused this long is over.
    pub idle_timeout_minutes: u32,
    /// A session is over this long after sign-in, however busy.
    pub session_hours: u32,
    /// Failed sign-ins in a row before an account locks (for a minute, doubling up to an hour).
    pub failures_before_lock: u32,
    /// Single sign-on with OpenID Connect; absent: passwords and authenticator codes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSection>,
}

/// `[console.oidc]`: the organisation's OpenID provider.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// The provider's issuer URL, exactly as its ID tokens carry it.
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client; better given as `MIDSHIP_CONSOLE__OIDC__CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The callback registered at the provider; default: from the request's host.
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim holding the Midship login.
    #[serde(default = "default_login_claim")]
    pub login_claim: String,
    /// The sign-in button's words.
    #[serde(default = "default_label")]
    pub label: String,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

fn default_login_claim() -> String {
    "preferred_username".into()
}

fn default_label() -> String {
    "Sign in with single sign-on".into()
}

impl std::fmt::Debug for OidcSection {
    /// Keeps the client secret out of logs.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OidcSection")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_url", &self.redirect_url)
            .field("login_claim", &self.login_claim)
            .finish_non_exhaustive()
    }
}

impl OidcSection {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, value) in [("issuer", Some(&self.issuer)), ("redirect_url", self.redirect_url.as_ref())] {
            let Some(value) = value else { continue };
            let url =
                url::Url::parse(value).map_err(|error| anyhow::anyhow!("console.oidc.{name} `{value}`: {error}"))?;
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                anyhow::bail!("console.oidc.{name} must be an https URL (plain http only on this machine's loopback)");
            }
        }
        if self.client_id.trim().is_empty() || self.login_claim.trim().is_empty() {
            anyhow::bail!("console.oidc.client_id and console.oidc.login_claim must not be empty");
        }
        Ok(())
    }

    pub fn settings(&self) -> midship_server::console::oidc::OidcSettings {
        midship_server::console::oidc::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone().filter(|secret| !secret.is_empty()),
            redirect_url: self.redirect_url.clone(),
            scopes: self.scopes.clone(),
            login_claim: self.login_claim.clone(),
            label: self.label.clone(),
        }
    }
}

impl Default for ConsoleSection {
    fn default() -> Self {
        let policy = SignInPolicy::default();
        Self {
            require_second_factor: true,
            idle_timeout_minutes: (policy.idle_timeout_ms / 60_000) as u32,
            session_hours: (policy.absolute_timeout_ms / 3_600_000) as u32,
            failures_before_lock: policy.failures_before_lock as u32,
            oidc: None,
        }
    }
}

impl ConsoleSection {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.idle_timeout_minutes == 0 || self.session_hours == 0 || self.failures_before_lock == 0 {
            anyhow::bail!(
                "console.idle_timeout_minutes, console.session_hours and console.failures_before_lock must be at least 1"
            );
        }
        if u64::from(self.idle_timeout_minutes) > u64::from(self.session_hours) * 60 {
            anyhow::bail!("console.idle_timeout_minutes must not be longer than console.session_hours");
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate()?;
        }
        Ok(())
    }

    pub fn sign_in_policy(&self) -> SignInPolicy {
        SignInPolicy {
            idle_timeout_ms: i64::from(self.idle_timeout_minutes) * 60_000,
            absolute_timeout_ms: i64::from(self.session_hours) * 3_600_000,
            failures_before_lock: i64::from(self.failures_before_lock),
            ..SignInPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(issuer: &str) -> OidcSection {
        OidcSection {
            issuer: issuer.into(),
            client_id: "midship".into(),
            client_secret: Some("s3cret-value".into()),
            redirect_url: None,
            scopes: default_scopes(),
            login_claim: default_login_claim(),
            label: default_label(),
        }
    }

    #[test]
    fn a_provider_is_reached_over_https_except_on_loopback() {
        assert!(oidc("https://sso.bank.example/realms/staff").validate().is_ok());
        assert!(oidc("http://localhost:8080").validate().is_ok());
        let plain = oidc("http://sso.bank.example").validate().unwrap_err().to_string();
        assert!(plain.contains("https"), "{plain}");
        assert!(oidc("not a url").validate().is_err());
        assert!(!format!("{:?}", oidc("https://sso")).contains("s3cret"), "the secret stays out of logs");
    }
}
