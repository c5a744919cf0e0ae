//! End-to-end tests of the `midship` binary: `midship serve` runs as a child process on port 0,
//! and the CLI and plain HTTP drive it, on SQLite and on a real PostgreSQL.

mod analytics;
mod api_contract;
mod cli_flow;
mod cluster;
mod console_browser;
mod gateway_protocol;
mod growthbook;
mod js_client;
mod mobile_bindings;
mod secrets;
mod serve;
mod sync_protocol;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MIDSHIP: &str = env!("CARGO_BIN_EXE_midship");

/// A `midship serve` child process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    /// Every line the server printed to standard output so far.
    pub printed: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `midship serve --data-dir DIR --listen 127.0.0.1:0 EXTRA…` and waits for its
    /// "listening on" line.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra_args, &[])
    }

    /// [`Self::start`] with extra environment variables (`MIDSHIP_SECTION__KEY` settings).
    pub fn start_with_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(MIDSHIP)
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn midship serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        let printed = Arc::new(Mutex::new(Vec::new()));
        let lines = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("midship listening on ") {
                    let _ = sender.send(address.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base_url = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(base_url) => base_url,
            Err(_) => {
                let _ = child.kill();
                panic!("midship serve did not report its address: {:?}", child.wait());
            }
        };
        Self { child, base_url, data_dir: data_dir.to_owned(), printed }
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token")).expect("admin-token file").trim().to_owned()
    }

    /// Runs the CLI against this server with `token`.
    pub fn cli(&self, token: &str, args: &[&str]) -> Output {
        Command::new(MIDSHIP)
            .args(["--server", &self.base_url, "--token", token])
            .args(args)
            .env_remove("MIDSHIP_SERVER")
            .env_remove("MIDSHIP_TOKEN")
            .output()
            .expect("run midship cli")
    }

    /// Runs the CLI with `--json` and parses its output, failing on a non-zero exit.
    pub fn cli_json(&self, token: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.cli(token, &all);
        assert!(output.status.success(), "midship {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!("midship {args:?} printed no JSON ({error}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    /// Opts `workspace` in to unsigned config pulls (`POST /api/client/v1/config/pull`), which
    /// tests that compare values read; answers the workspace's device security policy, with its
    /// SDK client key.
    pub fn allow_unsigned_config_pull(&self, token: &str, workspace: &str) -> serde_json::Value {
        let response = reqwest::blocking::Client::new()
            .put(format!("{}/api/v1/workspaces/{workspace}/device-security", self.base_url))
            .bearer_auth(token)
            .json(&serde_json::json!({ "unsigned_config_pull": true }))
            .send()
            .expect("device-security answers");
        assert!(response.status().is_success(), "device-security: {}", response.status());
        response.json().expect("a JSON policy")
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait for midship")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
