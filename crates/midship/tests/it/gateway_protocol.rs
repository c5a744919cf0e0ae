//! A client written from docs/protocol.md alone (Python's standard library) calls the gateway of a
//! real `midship serve`, routed to a real HTTP upstream, and sees every documented result code.

use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

use crate::ServerProcess;

/// A backend on its own runtime thread: fast, slow, broken, and an authorizer.
fn start_upstream() -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route("/ok", post(|| async { axum::Json(json!({ "ok": true })) }))
                .route(
                    "/slow",
                    post(|| async {
                        tokio::time::sleep(Duration::from_millis(800)).await;
                        "late"
                    }),
                )
                .route("/broken", post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
                .route(
                    "/authorize",
                    post(|axum::Json(question): axum::Json<Value>| async move {
                        match question["credentials"]["authorization"].as_str() {
                            Some("Bearer good") => (axum::http::StatusCode::OK, r#"{"principal":"alice"}"#),
                            Some("Bearer login") => (axum::http::StatusCode::UNAUTHORIZED, "{}"),
                            _ => (axum::http::StatusCode::FORBIDDEN, "{}"),
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(format!("http://{}", listener.local_addr().unwrap())).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    receiver.recv().unwrap()
}

#[test]
fn a_client_written_from_the_protocol_document_gets_every_documented_code() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "demo"]);
    let app_id = created["app_id"].as_str().unwrap();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();

    let upstream = start_upstream();
    let group =
        server.cli_json(&token, &["api", "group", "create", "--workspace", workspace, "core", "--base-url", &upstream]);
    assert!(group["proxy_secret"].as_str().is_some_and(|secret| secret.len() == 64));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    server.cli_json(&token, &["api", "group", "create", "--workspace", workspace, "dead", "--base-url", &closed]);
    let register = |operation_type: &str, group: &str, path: &str, extra: &[&str]| {
        let mut args =
            vec!["api", "create", "--workspace", workspace, operation_type, "--group", group, "--path", path];
        args.extend_from_slice(extra);
        server.cli_json(&token, &args)
    };
    assert_eq!(register("com.demo.ok", "core", "/ok", &[])["status"], "open");
    register("com.demo.slow", "core", "/slow", &["--timeout-ms", "200"]);
    register("com.demo.broken", "core", "/broken", &[]);
    register("com.demo.gone", "dead", "/anything", &[]);
    register("com.demo.limited", "core", "/ok", &["--rate-limit", "1"]);
    register("com.demo.auth", "core", "/authorize", &[]);
    // Policies that the CLI does not have flags for go through the admin API.
    let http = reqwest::blocking::Client::new();
    for body in [
        json!({ "operation_type": "com.demo.sealed", "group": "core", "method": "POST", "path": "/ok", "need_encrypt": true }),
        json!({ "operation_type": "com.demo.guarded", "group": "core", "method": "POST", "path": "/ok",
                "authorizer": { "operation_type": "com.demo.auth" } }),
    ] {
        let response = http
            .post(format!("{}/api/v1/workspaces/{workspace}/apis", server.base_url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.text().unwrap());
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/gateway_client.py");
    let output = Command::new("python3")
        .args([script, &server.base_url, app_id, workspace, secret])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    for code in [
        "1000", "1002", "1005", "2000", "3000", "3001", "3002", "3003", "3004", "4001", "4002", "4003", "7000", "7001",
        "7002", "7003", "7007", "7014", "7015", "7017", "3005",
    ] {
        assert_eq!(results[code].to_string(), code, "scenario {code}: {results}");
    }
    // Device registration and device signatures, from docs/protocol-signing.md alone.
    assert_eq!(results["7001_no_nonce"], 7001, "{results}");
    assert_eq!(results["1000_register"], 1000, "{results}");
    assert_eq!(results["register_device_id"], "PYTHONDEVICE0002", "before a deadline, a device keeps its id");
    assert_eq!(results["1000_device"], 1000, "{results}");
    assert_eq!(results["7002_retargeted"], 7002, "{results}");
    assert_eq!(results["1002_first"], 1000);
    assert_eq!(results["1000_authorized"], 1000);
    assert!(results["1000_body"].as_str().unwrap().contains("\"ok\""), "the upstream's answer comes back: {results}");

    let stats = server.cli_json(&token, &["api", "stats", "--workspace", workspace]);
    let ok = stats["items"].as_array().unwrap().iter().find(|api| api["operation_type"] == "com.demo.ok").unwrap();
    assert!(ok["by_result"]["1000"].as_u64().unwrap() >= 2, "{stats}");
    assert_eq!(ok["by_result"]["7002"], 2, "a wrong key and a re-targeted device signature: {stats}");
    assert!(ok["p99_ms"].as_f64().unwrap() >= ok["p50_ms"].as_f64().unwrap());
    let table = server.cli(&token, &["api", "stats", "--workspace", workspace]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("com.demo.ok"));

    // A policy set after registration, from a file: the limit reaches the route tables at once.
    let file = std::env::temp_dir().join(format!("midship-api-{}.json", std::process::id()));
    std::fs::write(
        &file,
        json!({ "group": "core", "method": "POST", "path": "/ok", "rate_limit_per_second": 7 }).to_string(),
    )
    .unwrap();
    let updated = server.cli_json(
        &token,
        &["api", "update", "--workspace", workspace, "com.demo.broken", "--file", file.to_str().unwrap()],
    );
    assert_eq!(
        (updated["path"].as_str(), updated["rate_limit_per_second"].as_u64()),
        (Some("/ok"), Some(7)),
        "{updated}"
    );
    std::fs::remove_file(&file).unwrap();

    let closed = server.cli_json(&token, &["api", "close", "--workspace", workspace, "com.demo.ok"]);
    assert_eq!(closed["status"], "closed");
    let audit = server.cli_json(&token, &["audit", "list", "--action", "api.close"]);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
