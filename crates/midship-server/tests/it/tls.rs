//! HTTPS with a configured certificate: HTTP/2 by ALPN and HTTP/1.1, gateway and admin alike.

use std::sync::Arc;

use midship_control::{ControlPlane, ControlSettings};
use midship_core::SystemClock;
use midship_gateway::GatewaySettings;
use midship_server::tls::{TlsListener, load_tls_config};
use midship_server::{AppState, ConnectionLimits, ServerSettings, open_storage, router, run};
use reqwest::StatusCode;

#[tokio::test]
async fn https_serves_http2_and_http1_with_the_configured_certificate() {
    let directory = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate_pem = generated.cert.pem();
    let certificate_path = directory.path().join("cert.pem");
    let key_path = directory.path().join("key.pem");
    std::fs::write(&certificate_path, &certificate_pem).unwrap();
    std::fs::write(&key_path, generated.key_pair.serialize_pem()).unwrap();

    let url = format!("sqlite://{}", directory.path().join("midship.db").display());
    let control = ControlPlane::new(
        open_storage(&url, 2, midship_storage::sealing::SecretKeyring::ephemeral().into()).await.unwrap(),
        Arc::new(SystemClock),
        ControlSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = TlsListener::new(listener, load_tls_config(&certificate_path, &key_path).unwrap()).unwrap();
    let state = AppState::new(control, ServerSettings::default(), GatewaySettings::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(tls, router(state), ConnectionLimits::default(), async move {
        let _ = stopped.await;
    }));

    let trusted = reqwest::Certificate::from_pem(certificate_pem.as_bytes()).unwrap();
    let base = format!("https://localhost:{port}");
    let http2 = reqwest::Client::builder().add_root_certificate(trusted.clone()).build().unwrap();
    let response = http2.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "negotiated by ALPN");
    let gateway = http2.post(format!("{base}/mgw")).body("{}").send().await.unwrap();
    assert_eq!(gateway.headers()["result-status"], "3000", "the gateway answers over TLS");

    let http1 = reqwest::Client::builder().add_root_certificate(trusted).http1_only().build().unwrap();
    let response = http1.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), StatusCode::OK);

    let untrusting = reqwest::Client::new();
    assert!(
        untrusting.get(format!("{base}/healthz")).send().await.is_err(),
        "the self-signed certificate is not trusted by default"
    );
    let plain = reqwest::Client::new().get(format!("http://localhost:{port}/healthz")).send().await;
    assert!(plain.is_err(), "no cleartext on a TLS port");
    // A stalled handshake does not stop others from being served.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(http2.get(format!("{base}/healthz")).send().await.unwrap().status(), StatusCode::OK);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn bad_certificate_files_are_clear_errors() {
    let directory = tempfile::tempdir().unwrap();
    let missing = load_tls_config(&directory.path().join("nope.pem"), &directory.path().join("nope.key")).unwrap_err();
    assert!(missing.to_string().contains("nope.pem"), "{missing}");
    let empty = directory.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let error = load_tls_config(&empty, &empty).unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}
