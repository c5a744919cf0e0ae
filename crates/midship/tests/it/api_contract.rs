//! The admin API's OpenAPI document as a contract: schemathesis, an outside OpenAPI fuzzer, drives
//! a real `midship serve` from the document alone with every check on, and any finding fails the
//! test — an undocumented status, a schema-valid request refused, a schema-violating one accepted,
//! a response that does not match its schema, a server error.
//!
//! `MIDSHIP_CONTRACT_SECONDS` bounds the run (default 150 s); the settings that shape it, and the
//! rules JSON Schema cannot state, are in `schemathesis.toml` beside this file. One worker: the
//! server shares the machine, and hypothesis's caches are not safe across worker threads.

use std::process::Command;

use crate::ServerProcess;

#[test]
fn schemathesis_finds_nothing_the_openapi_document_does_not_promise() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "contract"]);
    let app_id = created["app_id"].as_str().unwrap().to_owned();
    let workspace_id = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    let seconds = std::env::var("MIDSHIP_CONTRACT_SECONDS").unwrap_or_else(|_| "150".to_owned());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/schemathesis.toml");
    let output = Command::new("schemathesis")
        .args(["--config-file", config, "run"])
        .arg(format!("{}/api/v1/openapi.json", server.base_url))
        .args(["--url", &server.base_url, "--checks", "all", "--max-time", &seconds, "--workers", "1"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .env("MIDSHIP_APP_ID", &app_id)
        .env("MIDSHIP_WORKSPACE_ID", &workspace_id)
        .env("NO_COLOR", "1")
        .current_dir(data_dir.path())
        .output()
        .expect("run schemathesis (pip install schemathesis)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "schemathesis found what the document does not promise:\n{report}");
    let summary = report.rsplit_once("SUMMARY").map_or(report.as_ref(), |(_, summary)| summary);
    println!("schemathesis:{summary}");
}
