//! The TypeScript client for H5 pages and mini programs (`clients/js`, written from the protocol
//! documents alone) against a real `midship serve`: its `node --test` suite (signed RPCs, config
//! pulls, sync delivered exactly once across restarts, push, analytics, bad input), and one page
//! in headless Chromium that imports the built module from another origin (CORS).
//!
//! Both need the built client: `npm ci && npm run build` in `clients/js` (scripts/test does it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::ServerProcess;

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js")
}

/// Fails with what to run when the client was not built.
fn require_built_client() -> PathBuf {
    let dir = client_dir();
    assert!(
        dir.join("dist/index.js").is_file() && dir.join("node_modules").is_dir(),
        "clients/js is not built: run `npm ci && npm run build` in {} (scripts/test does it)",
        dir.display()
    );
    dir
}

/// The environment the node tests read the server and its credentials from.
fn client_env(server: &ServerProcess) -> Vec<(String, String)> {
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "js-client"]);
    vec![
        ("MIDSHIP_URL".into(), server.base_url.clone()),
        ("MIDSHIP_ADMIN_TOKEN".into(), token.clone()),
        ("MIDSHIP_APP_ID".into(), created["app_id"].as_str().unwrap().to_owned()),
        ("MIDSHIP_WORKSPACE_ID".into(), created["workspaces"][0]["workspace_id"].as_str().unwrap().to_owned()),
        ("MIDSHIP_APP_SECRET".into(), created["secret"].as_str().unwrap().to_owned()),
    ]
}

fn assert_node_succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn js_client_test_suite_passes_against_a_real_server() {
    let dir = require_built_client();
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let env = client_env(&server);

    let mut tests: Vec<PathBuf> = std::fs::read_dir(dir.join("test"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 5, "the client's test files: {tests:?}");
    // Node 20 exposes WebSocket only behind this flag (Node 22 and later by default).
    let output = Command::new("node")
        // A test that hangs fails after two minutes instead of holding the run.
        .args(["--experimental-websocket", "--test", "--test-timeout=120000"])
        .args(&tests)
        .current_dir(&dir)
        .envs(env)
        .output()
        .expect("node runs (Node 20 or later)");
    assert_node_succeeded("node --test", &output);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("# fail 0"), "{report}");
    assert!(report.contains("# skipped 0"), "tests were skipped: {report}");
}

#[test]
fn js_client_runs_in_headless_chromium_from_another_origin() {
    let dir = require_built_client();
    let chromium = std::env::var("MIDSHIP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "{chromium} is missing: apt-get install -y chromium (.ci/run does it)");
    let page_port = midship_testkit::free_port();
    let origins = format!(r#"["http://127.0.0.1:{page_port}"]"#);
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with_env(data_dir.path(), &[], &[("MIDSHIP_GATEWAY__CORS_ORIGINS", &origins)]);
    let env = client_env(&server);

    let output = Command::new("node")
        .arg("test/browser/run.mjs")
        .current_dir(&dir)
        .envs(env)
        .env("MIDSHIP_BROWSER_PORT", page_port.to_string())
        .env("MIDSHIP_CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    assert_node_succeeded("the browser test", &output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("the browser test printed no summary ({error}): {}", String::from_utf8_lossy(&output.stdout))
    });
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["flag"], true);
    assert_eq!(summary["messages"], 1);
}
