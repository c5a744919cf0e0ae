//! Secrets at rest, from outside: the app secret is not in the database files, the
//! key-encryption key is a 0600 file apart from them, and a rotation (new key current, old key
//! opening only, then the old key gone) keeps every secret working.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};

use crate::{MIDSHIP, ServerProcess};

/// Whether a call signed with the app's secret is accepted, which needs the server to open it.
fn signed_call_succeeds(server: &ServerProcess, app: &serde_json::Value) -> bool {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let settings = RpcSettings::new(
            &server.base_url,
            app["app_id"].as_str().unwrap(),
            app["workspaces"][0]["workspace_id"].as_str().unwrap(),
            app["secret"].as_str().unwrap(),
        );
        let identity = DeviceIdentity { device_id: Some("device-1".into()), ..DeviceIdentity::default() };
        let client = RpcClient::new(settings, identity).unwrap();
        client.rpc("midship.time", &serde_json::json!({})).await.unwrap().is_success()
    })
}

fn database_bytes(data_dir: &Path) -> Vec<u8> {
    ["midship.db", "midship.db-wal"]
        .iter()
        .filter_map(|name| std::fs::read(data_dir.join(name)).ok())
        .flatten()
        .collect()
}

fn write_config(path: &Path, key_file: &Path, open_only: &[&Path]) {
    let open_only: Vec<String> = open_only.iter().map(|file| format!("{:?}", file.display().to_string())).collect();
    let text = format!(
        "[secrets]\nkey_file = {:?}\nopen_only_key_files = [{}]\n",
        key_file.display().to_string(),
        open_only.join(", ")
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn stored_secrets_are_sealed_and_survive_a_key_rotation() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    let server = ServerProcess::start(&data_dir, &[]);
    let token = server.admin_token();
    let app = server.cli_json(&token, &["app", "create", "sealed"]);
    let secret = app["secret"].as_str().unwrap().to_owned();
    assert!(signed_call_succeeds(&server, &app));
    assert!(server.terminate().success());

    let first_key = data_dir.join("secrets.key");
    assert_eq!(std::fs::metadata(&first_key).unwrap().permissions().mode() & 0o777, 0o600);
    let stored = database_bytes(&data_dir);
    assert!(!stored.is_empty());
    assert!(
        !stored.windows(secret.len()).any(|window| window == secret.as_bytes()),
        "the app secret is in the database files in plain"
    );

    // Rotation: a new key, the old one opening only; the start reseals every secret.
    let second_key = parent.path().join("second.key");
    let generated =
        Command::new(MIDSHIP).args(["secrets", "generate-key", "--output"]).arg(&second_key).output().unwrap();
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    assert_eq!(std::fs::metadata(&second_key).unwrap().permissions().mode() & 0o777, 0o600);
    let rotating = parent.path().join("rotating.toml");
    write_config(&rotating, &second_key, &[&first_key]);
    let server = ServerProcess::start(&data_dir, &["--config", rotating.to_str().unwrap()]);
    assert!(signed_call_succeeds(&server, &app));
    assert!(server.terminate().success());

    // The old key can go: `secrets reseal` finds nothing left under it.
    let rotated = parent.path().join("rotated.toml");
    write_config(&rotated, &second_key, &[]);
    let resealed = Command::new(MIDSHIP)
        .args(["secrets", "reseal", "--config", rotated.to_str().unwrap(), "--data-dir"])
        .arg(&data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&resealed.stdout);
    assert!(resealed.status.success(), "{}", String::from_utf8_lossy(&resealed.stderr));
    assert!(said.contains("0 resealed now"), "{said}");
    let server = ServerProcess::start(&data_dir, &["--config", rotated.to_str().unwrap()]);
    assert!(signed_call_succeeds(&server, &app));
    assert!(server.terminate().success());

    // A node without the key the secrets are sealed with refuses to start, and says why.
    let wrong = parent.path().join("wrong.toml");
    write_config(&wrong, &first_key, &[]);
    let refused = Command::new(MIDSHIP)
        .args(["serve", "--listen", "127.0.0.1:0", "--config", wrong.to_str().unwrap(), "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("key-encryption key"), "{stderr}");
}
