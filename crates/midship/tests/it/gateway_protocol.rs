//! A client written from docs/protocol.md alone (Python's standard library) calls the gateway of a
//! real `midship serve`, routed to a real HTTP upstream, and sees the documented result codes.

use std::process::Command;

use crate::ServerProcess;

#[test]
fn a_client_written_from_the_protocol_document_gets_the_documented_codes() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "demo"]);
    let app_id = created["app_id"].as_str().unwrap();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    // The upstream is a real HTTP server: Midship's own health endpoint.
    let group = server.cli_json(
        &token,
        &["api", "group", "create", "--workspace", workspace, "core", "--base-url", &server.base_url],
    );
    assert!(group["proxy_secret"].as_str().is_some_and(|secret| secret.len() == 64));
    let api = server.cli_json(
        &token,
        &[
            "api",
            "create",
            "--workspace",
            workspace,
            "com.demo.health",
            "--group",
            "core",
            "--method",
            "GET",
            "--path",
            "/healthz",
        ],
    );
    assert_eq!(api["status"], "open");
    let listed = server.cli_json(&token, &["api", "list", "--workspace", workspace]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/gateway_client.py");
    let output = Command::new("python3")
        .args([script, &server.base_url, app_id, workspace, secret, "com.demo.health"])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results["signed"], 1000, "{results}");
    assert!(results["signed_body"].as_str().unwrap().contains("\"ok\""), "the upstream's answer comes back: {results}");
    assert_eq!(results["wrong_secret"], 7002);
    assert_eq!(results["no_ts"], 7007);
    assert_eq!(results["no_sign"], 7014);
    assert_eq!(results["stale"], 7003);
    assert_eq!(results["first_use"], 1000);
    assert_eq!(results["replayed"], 7015);
    assert_eq!(results["unknown_operation"], 3000);

    let stats = server.cli_json(&token, &["api", "stats", "--workspace", workspace]);
    let health = &stats["items"][0];
    assert_eq!(health["operation_type"], "com.demo.health");
    assert_eq!(health["by_result"]["1000"], 2, "{stats}");
    assert_eq!(health["by_result"]["7002"], 1, "{stats}");
    assert!(health["p99_ms"].as_f64().unwrap() >= health["p50_ms"].as_f64().unwrap());
    let table = server.cli(&token, &["api", "stats", "--workspace", workspace]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("com.demo.health"));

    let closed = server.cli_json(&token, &["api", "close", "--workspace", workspace, "com.demo.health"]);
    assert_eq!(closed["status"], "closed");
    let audit = server.cli_json(&token, &["audit", "list", "--action", "api.close"]);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
