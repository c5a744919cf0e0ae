//! Single sign-on to the console with OpenID Connect: the authorization code flow with PKCE
//! (S256), a state bound to the browser that began it, and a nonce bound into the ID token. The
//! provider (a bank's Keycloak, ADFS or Azure AD) checks the person, including their second
//! factor; the control plane finds their Midship account (`people::oidc`).
//!
//! `/console/oidc/start` sends the browser to the provider with a fresh state, nonce and PKCE
//! verifier kept in an HttpOnly cookie (SameSite=Lax: it must come back with the provider's
//! redirect); `/console/oidc/callback` checks the state, exchanges the code, verifies the ID
//! token and starts the session.

pub mod id_token;
mod provider;

use std::fmt;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::html;
use midship_control::people::oidc::VerifiedIdentity;
use rand::RngCore;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use provider::Provider;

use super::layout;
use super::session::{cookie, session_cookies};
use crate::AppState;
use crate::error::ApiError;

const FLOW_COOKIE: &str = "midship_oidc";
const FLOW_PATH: &str = "/console/oidc";
/// How long a person may take at the provider.
const FLOW_SECONDS: i64 = 10 * 60;

/// The `[console.oidc]` settings.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its ID tokens carry it.
    pub issuer: String,
    pub client_id: String,
    /// For a confidential client (sent with HTTP Basic); PKCE protects the code either way.
    pub client_secret: Option<String>,
    /// Where the provider sends people back (`https://HOST/console/oidc/callback`, registered
    /// at the provider); when absent, built from the request's `Host`.
    pub redirect_url: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim that holds the Midship login: `preferred_username`, or `email`
    /// (then `email_verified` must be true).
    pub login_claim: String,
    /// The sign-in button's words.
    pub label: String,
}

impl fmt::Debug for OidcSettings {
    /// Keeps the client secret out of logs.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("login_claim", &self.login_claim)
            .finish_non_exhaustive()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/oidc/start", get(start)).route("/console/oidc/callback", get(callback))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn redirect_uri(provider: &Provider, headers: &HeaderMap, secure: bool) -> String {
    if let Some(configured) = &provider.settings.redirect_url {
        return configured.clone();
    }
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("localhost");
    format!("{}://{host}/console/oidc/callback", if secure { "https" } else { "http" })
}

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{FLOW_COOKIE}={value}; Path={FLOW_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).expect("cookie values are ASCII")
}

/// The sign-in page's answer to a failed single sign-on: why, and the way back.
fn refused(status: StatusCode, message: &str) -> Response {
    layout::bare_page(
        status,
        "Single sign-on",
        html! {
            h1 { "Single sign-on did not work" }
            p.error role="alert" { (message) }
            p { a href="/console/login" { "Back to sign-in" } }
        },
    )
}

fn provider_of(state: &AppState) -> Option<&Provider> {
    state.oidc.as_deref()
}

async fn start(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(provider) = provider_of(&state) else {
        return refused(StatusCode::NOT_FOUND, "single sign-on is not configured on this server");
    };
    let metadata = match provider.metadata(state.control.now_ms()).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(%error, "single sign-on cannot start");
            return refused(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
        }
    };
    let (flow_state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut scopes = vec!["openid".to_owned()];
    scopes.extend(provider.settings.scopes.iter().filter(|scope| *scope != "openid").cloned());
    let secure = state.settings.secure_cookies;
    let Ok(mut url) = url::Url::parse(&metadata.authorization_endpoint) else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "the provider's authorization endpoint is not a URL");
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.settings.client_id)
        .append_pair("redirect_uri", &redirect_uri(provider, &headers, secure))
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &flow_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut response = Redirect::to(url.as_str()).into_response();
    let value = format!("{flow_state}.{nonce}.{verifier}");
    response.headers_mut().append(header::SET_COOKIE, flow_cookie(&value, FLOW_SECONDS, secure));
    response
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(provider) = provider_of(&state) else {
        return refused(StatusCode::NOT_FOUND, "single sign-on is not configured on this server");
    };
    let mut response = match finish(&state, provider, &headers, params, &peer.ip().to_string()).await {
        Ok(response) => response,
        Err(error) => refused(error.status, &error.message),
    };
    // The flow's values are used once, whatever happened.
    response.headers_mut().append(header::SET_COOKIE, flow_cookie("", 0, state.settings.secure_cookies));
    response
}

async fn finish(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
    params: CallbackParams,
    address: &str,
) -> Result<Response, ApiError> {
    let refuse = |message: &str| ApiError::of_kind(midship_core::ErrorKind::Unauthenticated, message);
    if let Some(error) = params.error {
        let description = params.error_description.unwrap_or_default();
        let shown: String = format!("the provider said {error}: {description}").chars().take(300).collect();
        return Err(refuse(&shown));
    }
    let flow = cookie(headers, FLOW_COOKIE).ok_or_else(|| {
        refuse("this sign-in was not started in this browser, or took longer than 10 minutes: start again")
    })?;
    let mut parts = flow.splitn(3, '.');
    let (Some(expected_state), Some(nonce), Some(verifier)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse("this sign-in was not started in this browser: start again"));
    };
    let state_matches = params
        .state
        .as_deref()
        .is_some_and(|returned| bool::from(returned.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_matches {
        return Err(refuse("the provider's answer does not belong to this sign-in: start again"));
    }
    let code = params.code.ok_or_else(|| refuse("the provider sent no authorization code"))?;
    let unavailable = |error: provider::ProviderError| {
        tracing::warn!(%error, "single sign-on failed at the provider");
        ApiError::of_kind(midship_core::ErrorKind::Unavailable, error.to_string())
    };
    let now = state.control.now_ms();
    let metadata = provider.metadata(now).await.map_err(unavailable)?;
    let redirect = redirect_uri(provider, headers, state.settings.secure_cookies);
    let answer = provider.exchange(&metadata, &code, verifier, &redirect).await.map_err(unavailable)?;
    let token = answer.id_token.ok_or_else(|| refuse("the provider sent no ID token"))?;
    let kid = id_token::key_id(&token).map_err(|error| refuse(&error.to_string()))?;
    let keys = provider.keys(&metadata, kid.as_deref(), now).await.map_err(unavailable)?;
    let expected = id_token::Expected {
        issuer: &metadata.issuer,
        client_id: &provider.settings.client_id,
        nonce,
        now_s: now / 1000,
    };
    let claims = id_token::verify(&token, &keys, &expected).map_err(|error| {
        tracing::warn!(%error, "an ID token was refused");
        refuse(&error.to_string())
    })?;
    let identity =
        identity_of(&claims, &metadata.issuer, &provider.settings.login_claim).map_err(|message| refuse(&message))?;
    let started = state.control.sign_in_with_identity(&identity, address).await?;
    // The provider's redirect is a navigation from another site, on which the browser withholds
    // the SameSite=Strict session cookie: a page of ours moves on to the console, as a
    // same-site navigation.
    let mut response = layout::bare_page(
        StatusCode::OK,
        "Signed in",
        html! {
            meta http-equiv="refresh" content="0; url=/console";
            h1 { "Signed in" }
            p { a href="/console" { "Continue to the console" } }
        },
    );
    for cookie in session_cookies(state, &started.secret, started.expires_at) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Who the claims name: the subject, and the login claim (an email only when verified).
fn identity_of(
    claims: &serde_json::Map<String, Value>,
    issuer: &str,
    login_claim: &str,
) -> Result<VerifiedIdentity, String> {
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let login = claims
        .get(login_claim)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the provider's ID token has no `{login_claim}` claim to find your account by"))?;
    if login_claim == "email" && claims.get("email_verified").and_then(Value::as_bool) != Some(true) {
        return Err("the provider has not verified this email address".into());
    }
    Ok(VerifiedIdentity { issuer: issuer.to_owned(), subject, login: login.to_owned() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_email_names_an_account_only_when_verified() {
        let claims = |verified: bool| {
            json!({ "sub": "s-1", "email": "carol@bank.example", "email_verified": verified })
                .as_object()
                .cloned()
                .unwrap()
        };
        let identity = identity_of(&claims(true), "https://sso", "email").unwrap();
        assert_eq!((identity.login.as_str(), identity.subject.as_str()), ("carol@bank.example", "s-1"));
        assert!(identity_of(&claims(false), "https://sso", "email").is_err());
        assert!(
            identity_of(&claims(true), "https://sso", "preferred_username")
                .unwrap_err()
                .contains("no `preferred_username`")
        );
    }

    #[test]
    fn the_client_secret_stays_out_of_debug_output() {
        let settings = OidcSettings {
            issuer: "https://sso".into(),
            client_id: "midship".into(),
            client_secret: Some("hunter2-secret".into()),
            redirect_url: None,
            scopes: vec![],
            login_claim: "preferred_username".into(),
            label: "Sign in with single sign-on".into(),
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
