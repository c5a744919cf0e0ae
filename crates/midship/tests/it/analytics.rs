//! The analytics acceptance check: a generated data set is uploaded through the public RPC by a
//! client written from the documents (`scripts/analytics-dataset`, Python), and every day's DAU,
//! new devices, day-1 and day-7 retention, a 3-step funnel and the crash groups from the API equal
//! the script's own plain-SQL computation, and DuckDB over the Parquet export agrees. Then the server is killed (`kill -9`) and restarted: the
//! reports, rebuilt from storage, are the same.

use std::process::Command;

use serde_json::Value;

use crate::ServerProcess;

#[test]
fn reports_equal_an_independent_computation_and_survive_kill_9() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "analytics"]);
    let app_id = created["app_id"].as_str().unwrap();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/analytics-dataset");
    let output = Command::new("python3")
        .arg(script)
        .args(["--server", &server.base_url, "--app-id", app_id, "--workspace", &workspace])
        .args(["--secret", secret, "--token", &token, "--devices", "250", "--days", "12"])
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the data set check failed:\n{stderr}");
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["mismatches"], serde_json::json!([]), "{stderr}");
    assert!(result["events"].as_u64().unwrap() > 5_000, "{}", result["events"]);
    let parquet =
        result["actual"]["parquet"]["days"].as_array().expect("DuckDB read the Parquet export (pip install duckdb)");
    assert_eq!(parquet.len(), 12, "{parquet:?}");
    let funnel = &result["actual"]["funnel"];
    assert!(funnel.to_string().contains("checkout"), "{funnel}");

    let days = result["expected"]["overview"]["days"].as_array().expect("overview days");
    let (from, to) = (days[0]["day"].as_str().unwrap(), days[days.len() - 1]["day"].as_str().unwrap());
    let reports = |server: &ServerProcess| {
        let range = ["--workspace", &workspace, "--from", from, "--to", to];
        let overview = server.cli_json(&token, &[&["stats", "overview"][..], &range].concat());
        let retention = server.cli_json(&token, &[&["stats", "retention"][..], &range].concat());
        let crashes = server.cli_json(&token, &["stats", "crashes", "--workspace", &workspace]);
        (overview, retention, crashes)
    };
    let before = reports(&server);
    assert_eq!(before.2["groups"].as_array().unwrap().len(), 3, "{}", before.2);

    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    let restarted = ServerProcess::start(data_dir.path(), &[]);
    assert_eq!(reports(&restarted), before, "reports after kill -9 and restart");
}
