//! Platform attestation at registration, with a team's verifier as a real HTTP server: the
//! verifier accepts a token only when it binds the challenge Midship issued (as Play Integrity's
//! nonce or App Attest's client data hash would).

use std::sync::{Arc, Mutex};

use midship_api::DeviceSecurityRequest;
use midship_sdk::rpc::{Attestation, DeviceIdentity, RegisterError, RpcClient, RpcSettings};
use serde_json::{Value, json};

/// A verifier answering `accept` for tokens `genuine:{challenge}`; keeps what it was asked.
async fn verifier() -> (String, Arc<Mutex<Vec<Value>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let kept = asked.clone();
    let app = axum::Router::new().route(
        "/verify",
        axum::routing::post(move |axum::Json(request): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                let genuine = request["token"] == format!("genuine:{}", request["challenge"].as_str().unwrap_or(""));
                kept.lock().unwrap().push(request);
                axum::Json(json!({ "verdict": if genuine { "accept" } else { "reject" } }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/verify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, asked)
}

fn refused_with(outcome: Result<impl std::fmt::Debug, RegisterError>, code: u16, words: &str) {
    match outcome {
        Err(RegisterError::Refused { result, memo }) => {
            assert_eq!(result, code, "{memo}");
            assert!(memo.contains(words), "{memo}");
        }
        other => panic!("expected a refusal {code}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_workspace_with_a_verifier_registers_only_attested_devices() {
    let fixture = crate::sync::fixture().await;
    let (url, asked) = verifier().await;
    let request =
        DeviceSecurityRequest { attestation_verifier_url: Some(url.clone()), ..DeviceSecurityRequest::default() };
    let view = fixture.server.admin().set_device_security(&fixture.workspace, &request).await.unwrap();
    assert_eq!(view.attestation_verifier_url.as_deref(), Some(url.as_str()));
    let bad =
        DeviceSecurityRequest { attestation_verifier_url: Some("ftp://x".into()), ..DeviceSecurityRequest::default() };
    assert!(fixture.server.admin().set_device_security(&fixture.workspace, &bad).await.is_err());

    let settings = RpcSettings::new(&fixture.server.base_url, &fixture.app_id, &fixture.workspace, &fixture.secret);
    let identity = DeviceIdentity { platform: Some("android".into()), ..DeviceIdentity::default() };
    let phone = RpcClient::new(settings, identity).unwrap();
    refused_with(phone.register().await, 1001, "attested devices only");

    // A token the verifier rejects; then the same challenge again, even with a good token: spent.
    let challenge = phone.attestation_challenge().await.unwrap();
    let forged = Attestation { kind: "play_integrity".into(), token: "rooted".into(), challenge: challenge.clone() };
    refused_with(phone.register_attested(&forged).await, 1001, "refused");
    let replayed = Attestation {
        kind: "play_integrity".into(),
        token: format!("genuine:{challenge}"),
        challenge: challenge.clone(),
    };
    refused_with(phone.register_attested(&replayed).await, 1001, "challenge");
    let made_up =
        Attestation { kind: "play_integrity".into(), token: "genuine:x.1.y".into(), challenge: "x.1.y".into() };
    refused_with(phone.register_attested(&made_up).await, 1001, "challenge");

    let challenge = phone.attestation_challenge().await.unwrap();
    let genuine = Attestation { kind: "play_integrity".into(), token: format!("genuine:{challenge}"), challenge };
    let credential = phone.register_attested(&genuine).await.unwrap();
    assert_eq!(credential.device_secret.len(), 64);
    assert!(phone.rpc("midship.time", &json!({})).await.unwrap().is_success(), "the attested device's calls work");

    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2, "spent and made-up challenges never reach the verifier: {asked:?}");
    assert_eq!(asked[1]["workspace_id"], fixture.workspace.as_str());
    assert_eq!((asked[1]["platform"].as_str(), asked[1]["kind"].as_str()), (Some("android"), Some("play_integrity")));
}
