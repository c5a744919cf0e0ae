//! A device and a backend written in Python from docs/protocol.md alone (`sync_client.py`, with
//! the `websockets` package and protobuf frames compiled from the repository's `.proto` by
//! grpc_tools' protoc) against a real `midship serve`: targeted data, acks, a reconnect that gets
//! exactly the unacknowledged rest in order, RPCs over the connection, duplicate thirdMsgIds,
//! zstd frames and the documented close codes.

use std::process::Command;

use serde_json::Value;

use crate::ServerProcess;

#[test]
fn a_client_written_from_the_protocol_document_syncs_over_json_and_protobuf() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "chat"]);
    let app_id = created["app_id"].as_str().unwrap();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/sync_client.py");
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../midship-protocol/proto");
    let output = Command::new("python3")
        .args([script, &server.base_url, &token, app_id, workspace, secret, proto_dir])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["duplicate"], "DUPLICATED_BIZ_ID");
    assert_eq!(summary["json"]["backlog"], serde_json::json!([1, 2, 3, 4, 5]));
    assert_eq!(summary["json"]["rest"], serde_json::json!([4, 5, 6]));

    let status = server.cli_json(&token, &["sync", "status", "--workspace", workspace, "CHAT-MSG", "--to", "alice"]);
    assert_eq!(status["last_seq"], 6);
}
