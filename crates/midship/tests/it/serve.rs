//! Process-level behaviour of `midship serve`.

use std::process::Command;

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
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let effective = String::from_utf8(shown.stdout).unwrap();
    assert!(effective.contains("key_grace_seconds = 60"), "{effective}");
    assert!(effective.contains("db.internal") && !effective.contains("hunter2"), "secrets never printed: {effective}");

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
