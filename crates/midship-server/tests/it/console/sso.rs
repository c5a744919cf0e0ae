//! Single sign-on refusals that need no provider: a callback this browser did not start, one
//! whose state is not this sign-in's, the provider's own error, an unreachable provider. (The
//! whole flow against a real OpenID provider is in the browser suite, crates/midship/tests/it/
//! console_browser.rs.)

use midship_server::ServerSettings;
use midship_server::console::oidc::OidcSettings;
use reqwest::StatusCode;

use super::browser::Browser;
use crate::TestServer;

async fn server_with_sso() -> TestServer {
    let oidc = OidcSettings {
        // Nothing listens on the discard port.
        issuer: "http://127.0.0.1:9".into(),
        client_id: "midship".into(),
        client_secret: None,
        redirect_url: None,
        scopes: vec!["profile".into()],
        login_claim: "preferred_username".into(),
        label: "Sign in with the bank's account".into(),
    };
    TestServer::start_with(ServerSettings { oidc: Some(oidc), ..ServerSettings::default() }).await
}

#[tokio::test]
async fn callbacks_not_begun_here_or_refused_by_the_provider_sign_nobody_in() {
    let server = server_with_sso().await;
    let mut browser = Browser::new(&server);
    let login = browser.page("/console/login").await;
    assert!(login.contains(r#"href="/console/oidc/start""#) && login.contains("Sign in with the bank"), "{login}");

    let unreachable = browser.get("/console/oidc/start").await;
    assert_eq!(unreachable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(unreachable.text().await.unwrap().contains("cannot be reached"));

    let not_started = browser.get("/console/oidc/callback?code=abc&state=xyz").await;
    assert_eq!(not_started.status(), StatusCode::UNAUTHORIZED);
    assert!(not_started.text().await.unwrap().contains("not started in this browser"));

    browser.set_cookie("midship_oidc", "expected-state.nonce.verifier");
    let other_state = browser.get("/console/oidc/callback?code=abc&state=attacker-state").await;
    assert_eq!(other_state.status(), StatusCode::UNAUTHORIZED);
    assert!(other_state.text().await.unwrap().contains("does not belong to this sign-in"));
    let cleared = other_state_cookie_cleared(&server).await;
    assert!(cleared, "the flow cookie is cleared after any answer");

    browser.set_cookie("midship_oidc", "expected-state.nonce.verifier");
    let denied = browser.get("/console/oidc/callback?error=access_denied&error_description=End-User+aborted").await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(denied.text().await.unwrap().contains("access_denied: End-User aborted"));
    assert_eq!(browser.get("/console/apps").await.headers()["location"], "/console/login", "nobody signed in");
}

/// A callback's answer clears the flow cookie.
async fn other_state_cookie_cleared(server: &TestServer) -> bool {
    let response = server
        .http
        .get(server.url("/console/oidc/callback?code=abc&state=x"))
        .header("cookie", "midship_oidc=s.n.v")
        .send()
        .await
        .unwrap();
    response.headers().get_all("set-cookie").iter().any(|value| {
        let value = value.to_str().unwrap_or_default();
        value.starts_with("midship_oidc=;") && value.contains("Max-Age=0")
    })
}

#[tokio::test]
async fn a_server_without_single_sign_on_offers_none() {
    let server = TestServer::start().await;
    let mut browser = Browser::new(&server);
    assert!(!browser.page("/console/login").await.contains("/console/oidc/start"));
    assert_eq!(browser.get("/console/oidc/start").await.status(), StatusCode::NOT_FOUND);
}
