//! The OpenID provider as a client sees it: its discovery document and keys (kept 10 minutes;
//! the keys fetched again at once when a token names a key not yet seen, as after a rotation),
//! and the token endpoint the authorization code is exchanged at.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use super::OidcSettings;
use super::id_token::KeySet;

/// How long the discovery document and the keys are kept.
const KEEP_MS: i64 = 10 * 60 * 1000;
/// The least time between two fetches of the keys, so tokens naming unknown keys cannot make
/// this node hammer the provider.
const REFETCH_KEYS_AFTER_MS: i64 = 30 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the identity provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the identity provider answered {0}")]
    Refused(String),
}

/// What discovery says (`/.well-known/openid-configuration`).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// The token endpoint's answer to an authorization code.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub id_token: Option<String>,
}

#[derive(Debug, Default)]
struct Cached {
    metadata: Option<(i64, Metadata)>,
    keys: Option<(i64, KeySet)>,
}

#[derive(Debug)]
pub struct Provider {
    pub settings: OidcSettings,
    http: reqwest::Client,
    cached: Mutex<Cached>,
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("midship/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        Self { settings, http, cached: Mutex::default() }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ProviderError> {
        let response =
            self.http.get(url).send().await.map_err(|error| ProviderError::Unreachable(error.to_string()))?;
        if !response.status().is_success() {
            return Err(ProviderError::Refused(format!("{} to GET {url}", response.status())));
        }
        response.json().await.map_err(|error| ProviderError::Refused(format!("an unreadable {url}: {error}")))
    }

    pub async fn metadata(&self, now: i64) -> Result<Metadata, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((fetched_at, metadata)) = &cached.metadata
            && now - fetched_at < KEEP_MS
        {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let metadata: Metadata = self.get_json(&url).await?;
        if metadata.issuer != self.settings.issuer {
            return Err(ProviderError::Refused(format!(
                "its issuer as {}, not the configured {}",
                metadata.issuer, self.settings.issuer
            )));
        }
        cached.metadata = Some((now, metadata.clone()));
        Ok(metadata)
    }

    /// The provider's keys; fetched again when `kid` is not among them (and the last fetch is
    /// not too recent).
    pub async fn keys(&self, metadata: &Metadata, kid: Option<&str>, now: i64) -> Result<KeySet, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((fetched_at, keys)) = &cached.keys {
            let fresh = now - fetched_at < KEEP_MS;
            let may_refetch = now - fetched_at >= REFETCH_KEYS_AFTER_MS;
            if fresh && (keys.has(kid) || !may_refetch) {
                return Ok(keys.clone());
            }
        }
        let keys: KeySet = self.get_json(&metadata.jwks_uri).await?;
        cached.keys = Some((now, keys.clone()));
        Ok(keys)
    }

    /// Exchanges the authorization code (with the PKCE verifier) for tokens.
    pub async fn exchange(
        &self,
        metadata: &Metadata,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenAnswer, ProviderError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", self.settings.client_id.as_str()),
        ];
        let mut request = self.http.post(&metadata.token_endpoint).form(&form);
        if let Some(secret) = &self.settings.client_secret {
            request = request.basic_auth(&self.settings.client_id, Some(secret));
        }
        let response = request.send().await.map_err(|error| ProviderError::Unreachable(error.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body: String = response.text().await.unwrap_or_default().chars().take(200).collect();
            return Err(ProviderError::Refused(format!("{status} to the code exchange: {body}")));
        }
        response.json().await.map_err(|error| ProviderError::Refused(format!("an unreadable token answer: {error}")))
    }
}
