//! Process-level behaviour of `midship serve`.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use midship_admin_client::AdminClient;
use midship_api::SyncSendRequest;
use midship_sdk::rpc::DeviceIdentity;
use midship_sdk::sync::{Credentials, SyncClient, SyncSettings};
use midship_signing::client::SignType;

use crate::{MIDSHIP, ServerProcess};

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    let _first = ServerProcess::start(data_dir.path(), &[]);
    let second = Command::new(MIDSHIP)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another midship server is already running"), "{stderr}");
}

#[test]
fn secrets_stay_in_files_only_their_owner_reads() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = ServerProcess::start(&data_dir, &[]);
    let token = server.admin_token();
    server.cli_json(&token, &["app", "create", "private"]);
    for name in ["midship.db", "midship.db-wal", "midship.db-shm", "admin-token", "admin-password"] {
        let mode = std::fs::metadata(data_dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o} in a 0755 directory");
    }
    let printed = server.printed.lock().unwrap().join("\n");
    assert!(!printed.contains(&token), "the admin token reached standard output: {printed}");
    assert!(printed.contains("admin-token"), "where to read it is said: {printed}");
    let password = std::fs::read_to_string(data_dir.join("admin-password")).unwrap();
    assert!(!printed.contains(password.trim()), "the console password reached standard output: {printed}");
    assert!(printed.contains("admin-password"), "where to read it is said: {printed}");
}

#[test]
fn sigterm_stops_gracefully_and_a_restart_keeps_everything() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "durable"]);
    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    let restarted = ServerProcess::start(data_dir.path(), &[]);
    assert_eq!(restarted.admin_token(), token, "no second bootstrap");
    let shown = restarted.cli_json(&token, &["app", "show", created["app_id"].as_str().unwrap()]);
    assert_eq!(shown["name"], "durable");
}

#[test]
fn config_default_prints_a_commented_file_the_server_accepts() {
    let printed = Command::new(MIDSHIP).args(["config", "default"]).output().unwrap();
    assert!(printed.status.success());
    let text = String::from_utf8(printed.stdout).unwrap();
    assert!(text.lines().any(|line| line.starts_with('#')), "commented");
    assert!(text.contains("[server]") && text.contains("[database]"));

    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("midship.toml");
    std::fs::write(&file, text.replace("key_grace_seconds = 86400", "key_grace_seconds = 60")).unwrap();
    let shown = Command::new(MIDSHIP)
        .args(["config", "show", "--config"])
        .arg(&file)
        .env("MIDSHIP_DATABASE__URL", "postgres://midship:hunter2@db.internal/midship")
        .env("MIDSHIP_BLOBS__SECRET_ACCESS_KEY", "s3-hunter3")
        .env("MIDSHIP_CLUSTER__NATS_URL", "nats://bus:hunter4@nats.internal:4222")
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let effective = String::from_utf8(shown.stdout).unwrap();
    assert!(effective.contains("key_grace_seconds = 60"), "{effective}");
    assert!(effective.contains("db.internal") && !effective.contains("hunter2"), "secrets never printed: {effective}");
    assert!(effective.contains("nats.internal") && !effective.contains("hunter3") && !effective.contains("hunter4"));

    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &["--config", file.to_str().unwrap()]);
    assert!(reqwest::blocking::get(format!("{}/healthz", server.base_url)).unwrap().status().is_success());
}

#[test]
fn a_bad_config_file_is_a_clear_error() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("typo.toml");
    std::fs::write(&file, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let output = Command::new(MIDSHIP).args(["serve", "--config"]).arg(&file).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid configuration") && stderr.contains("lisen"), "{stderr}");
}

#[test]
fn https_when_a_certificate_is_configured() {
    let directory = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = directory.path().join("cert.pem");
    let private_key = directory.path().join("key.pem");
    std::fs::write(&certificate, generated.cert.pem()).unwrap();
    std::fs::write(&private_key, generated.key_pair.serialize_pem()).unwrap();
    let config = directory.path().join("midship.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ntls_certificate = {:?}\ntls_private_key = {:?}\n",
            certificate.display().to_string(),
            private_key.display().to_string()
        ),
    )
    .unwrap();
    let data_dir = directory.path().join("data");
    let server = ServerProcess::start(&data_dir, &["--config", config.to_str().unwrap()]);
    assert!(server.base_url.starts_with("https://"), "{}", server.base_url);
    let url = server.base_url.replace("127.0.0.1", "localhost");
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(client.get(format!("{url}/healthz")).send().unwrap().status().is_success());

    let half = directory.path().join("half.toml");
    std::fs::write(&half, format!("[server]\ntls_certificate = {:?}\n", certificate.display().to_string())).unwrap();
    let output = Command::new(MIDSHIP)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&half)
        .arg("--data-dir")
        .arg(directory.path().join("other"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("tls_private_key"));
}

/// Sends from four concurrent senders until `stop_after` were acknowledged, then SIGKILLs the
/// server while more are in flight. Returns the ids of every send the server acknowledged.
fn send_then_kill(server: &mut ServerProcess, token: &str, workspace: &str, stop_after: usize) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let admin = AdminClient::new(&server.base_url, token).unwrap();
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let admin = admin.clone();
            let acknowledged = acknowledged.clone();
            let workspace = workspace.to_owned();
            runtime.spawn(async move {
                for index in 0.. {
                    let id = format!("s{sender}-{index}");
                    let request = SyncSendRequest {
                        biz_type: "CHAT-MSG".into(),
                        link_token: "alice".into(),
                        payload: format!("{{\"id\":\"{id}\"}}"),
                        third_msg_id: id.clone(),
                        ..SyncSendRequest::default()
                    };
                    match admin.sync_send(&workspace, &request).await {
                        Ok(sent) if sent.result == "SUCCESS" => acknowledged.lock().unwrap().push(id),
                        Ok(other) => panic!("unexpected answer {other:?}"),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < stop_after {
        std::thread::yield_now();
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for sender in senders {
        runtime.block_on(sender).unwrap();
    }
    acknowledged.lock().unwrap().clone()
}

#[test]
fn no_acknowledged_sync_message_is_lost_to_kill_9() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "chat"]);
    let app_id = created["app_id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    server.cli_json(&token, &["sync", "config", "set", "--workspace", &workspace, "CHAT-MSG"]);
    let acknowledged = send_then_kill(&mut server, &token, &workspace, 300);
    drop(server);

    let restarted = ServerProcess::start(data_dir.path(), &[]);
    let status =
        restarted.cli_json(&token, &["sync", "status", "--workspace", &workspace, "CHAT-MSG", "--to", "alice"]);
    let stored = status["last_seq"].as_i64().unwrap();
    assert!(stored as usize >= acknowledged.len(), "{stored} stored, {} acknowledged", acknowledged.len());
    let repeat = restarted.cli_json(
        &token,
        &[
            "sync",
            "send",
            "--workspace",
            &workspace,
            "CHAT-MSG",
            "--to",
            "alice",
            "--payload",
            "again",
            "--id",
            &acknowledged[0],
        ],
    );
    assert_eq!(repeat["result"], "DUPLICATED_BIZ_ID");

    // A device connecting to the restarted server receives every acknowledged message, in order.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let received = runtime.block_on(async {
        let credentials = Credentials::Secret { secret, sign_type: SignType::HmacSha256 };
        let mut settings = SyncSettings::new(&restarted.base_url, &app_id, &workspace, credentials, state_dir.path());
        settings.identity = DeviceIdentity { user_id: Some("alice".into()), ..DeviceIdentity::default() };
        let client = SyncClient::new(settings).unwrap();
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        client.register("CHAT-MSG", move |message| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(message);
            }
        });
        client.start();
        let mut received = Vec::new();
        while received.len() < stored as usize {
            let message = tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await.unwrap().unwrap();
            received.push(message);
        }
        client.stop();
        received
    });
    let sequences: Vec<i64> = received.iter().map(|message| message.seq).collect();
    assert_eq!(sequences, (1..=stored).collect::<Vec<_>>(), "gap-free and in order");
    let delivered: HashSet<&str> = received.iter().map(|message| message.msg_id.as_str()).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !delivered.contains(id.as_str())).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}
