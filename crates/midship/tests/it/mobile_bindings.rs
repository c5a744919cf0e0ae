//! The device SDK's UniFFI bindings (crates/midship-mobile) as apps use them, against a real
//! `midship serve`: Python (`clients/python/device_test.py`) and Kotlin on the JVM
//! (`clients/kotlin/DeviceTest.kt`, compiled here with npm's kotlinc, loaded with Debian's JNA)
//! run the same steps; the Swift package's generated sources are checked, not compiled (no Swift
//! toolchain here). `scripts/bindings` (run by scripts/test) builds the library and generates the
//! bindings into target/bindings.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::ServerProcess;

fn bindings_dir(language: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bindings").join(language);
    assert!(directory.is_dir(), "{} is missing: run scripts/bindings (scripts/test does)", directory.display());
    directory
}

/// A workspace with a switch targeted at alice, an H5 release and the package key devices trust.
struct Fixture {
    server: ServerProcess,
    admin: String,
    workspace: String,
    settings: Value,
    _data_dir: tempfile::TempDir,
    _files: tempfile::TempDir,
}

impl Fixture {
    fn new(state_dir: &Path) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(data_dir.path(), &[]);
        let admin = server.admin_token();
        let created = server.cli_json(&admin, &["app", "create", "wallet"]);
        let app_id = created["app_id"].as_str().unwrap().to_owned();
        let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
        let secret = created["secret"].as_str().unwrap().to_owned();
        let target = r#"{"value": true, "rule": {"whitelist": {"user_ids": ["alice"]}}}"#;
        let ws = workspace.as_str();
        server.cli_json(
            &admin,
            &[
                "switch",
                "set",
                "--workspace",
                ws,
                "wallet.nfc",
                "--type",
                "bool",
                "--default",
                "false",
                "--target",
                target,
            ],
        );
        server.cli_json(
            &admin,
            &["switch", "set", "--workspace", ws, "wallet.limit", "--type", "number", "--default", "500"],
        );
        server.cli_json(&admin, &["switch", "publish", "--workspace", ws]);
        server.cli_json(&admin, &["sync", "config", "set", "--workspace", ws, "CHAT-MSG"]);
        let files = tempfile::tempdir().unwrap();
        let zip = crate::cli_flow::h5_zip(files.path(), "1.0.0");
        let package =
            server.cli_json(&admin, &["package", "upload", "--workspace", ws, "--kind", "h5", zip.to_str().unwrap()]);
        let package_id = package["package_id"].as_str().unwrap();
        server.cli_json(
            &admin,
            &["release", "create", "--workspace", ws, "--package", package_id, "--stage", "official"],
        );
        let key = server.cli_json(&admin, &["package", "key", "--workspace", ws]);
        let settings = json!({
            "server_url": server.base_url,
            "app_id": app_id,
            "workspace_id": workspace,
            "app_secret": secret,
            "state_dir": state_dir.display().to_string(),
            "platform": "android",
            "app_version": "3.2.0",
            "user_id": "alice",
            "os_version": "14",
            "model": "Pixel 8",
            "config_defaults_json": "{}",
            "package_public_keys": [key["public_key"]],
        });
        Self { server, admin, workspace, settings, _data_dir: data_dir, _files: files }
    }

    fn send_sync(&self, msg_id: &str) {
        let sent = self.server.cli_json(
            &self.admin,
            &[
                "sync",
                "send",
                "--workspace",
                &self.workspace,
                "CHAT-MSG",
                "--to",
                "alice",
                "--id",
                msg_id,
                "--payload",
                msg_id,
            ],
        );
        assert_eq!(sent["result"], "SUCCESS", "{sent}");
    }
}

/// The script's JSON lines, read one at a time while it runs.
struct Script {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Script {
    fn start(program: &str, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("{program} runs: {error}"));
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next step the script reports; a script that ended first fails the test with its status.
    fn step(&mut self, name: &str) -> Value {
        match self.lines.next() {
            Some(Ok(line)) => {
                let step: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a step: {line}"));
                assert_eq!(step["step"], name, "{step}");
                step
            }
            _ => panic!("the script ended before step {name}: {:?}", self.child.wait()),
        }
    }

    fn tell(&mut self, line: &str) {
        writeln!(self.child.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    fn finish(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the script failed: {status}");
    }
}

#[test]
fn the_python_binding_registers_pulls_installs_counts_and_syncs_exactly_once_across_a_restart() {
    let bindings = bindings_dir("python");
    let state = tempfile::tempdir().unwrap();
    let fixture = Fixture::new(state.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../clients/python/device_test.py");
    let settings = fixture.settings.to_string();
    scenario(&fixture, &|phase| Script::start("python3", &[script, bindings.to_str().unwrap(), phase, &settings]));
    let vectors = json!({ "vectors": VECTORS }).to_string();
    let mut checked = Script::start("python3", &[script, bindings.to_str().unwrap(), "vectors", &vectors]);
    assert!(checked.step("vectors")["cases"].as_u64().unwrap() >= 8);
    checked.finish();
}

/// The shared signing examples every client's tests read.
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance/signing-vectors.json");

#[test]
fn the_kotlin_binding_on_the_jvm_does_the_same() {
    let bindings = bindings_dir("kotlin");
    let kotlin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/kotlin");
    let kotlinc = kotlin.join("node_modules/kotlin-compiler/bin/kotlinc");
    assert!(kotlinc.is_file(), "{} is missing: run npm ci in clients/kotlin (scripts/test does)", kotlinc.display());
    let compiler_lib = kotlin.join("node_modules/kotlin-compiler/lib");
    let jna = Path::new(JNA_JAR);
    assert!(jna.is_file(), "{JNA_JAR} is missing: install Debian's libjna-java");
    let build = tempfile::tempdir().unwrap();
    let jar = build.path().join("device-test.jar");
    let coroutines = compiler_lib.join("kotlinx-coroutines-core-jvm.jar");
    let compiled = Command::new(&kotlinc)
        .arg(bindings.join("uniffi/midship_mobile/midship_mobile.kt"))
        .arg(kotlin.join("DeviceTest.kt"))
        .arg("-cp")
        .arg(format!("{JNA_JAR}:{}", coroutines.display()))
        .args(["-nowarn", "-d"])
        .arg(&jar)
        .output()
        .expect("kotlinc runs");
    assert!(compiled.status.success(), "kotlinc: {}", String::from_utf8_lossy(&compiled.stderr));

    let state = tempfile::tempdir().unwrap();
    let fixture = Fixture::new(state.path());
    let classpath = [jar.clone(), jna.to_owned(), coroutines, compiler_lib.join("kotlin-stdlib.jar")]
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let library_path = format!("-Djna.library.path={}", bindings.display());
    let text = |field: &str| fixture.settings[field].as_str().unwrap().to_owned();
    let (server, app, workspace, secret, state_dir) =
        (text("server_url"), text("app_id"), text("workspace_id"), text("app_secret"), text("state_dir"));
    let package_key = fixture.settings["package_public_keys"][0].as_str().unwrap().to_owned();
    let mut checked = Script::start("java", &[&library_path, "-cp", &classpath, "DeviceTestKt", "vectors", VECTORS]);
    assert!(checked.step("vectors")["cases"].as_u64().unwrap() >= 8);
    checked.finish();
    scenario(&fixture, &|phase| {
        Script::start(
            "java",
            &[
                &library_path,
                "-cp",
                &classpath,
                "DeviceTestKt",
                phase,
                &server,
                &app,
                &workspace,
                &secret,
                &state_dir,
                &package_key,
            ],
        )
    });
}

/// Debian's libjna-java.
const JNA_JAR: &str = "/usr/share/java/jna.jar";

/// The same steps in every language: first run, a restart, and bad input.
fn scenario(fixture: &Fixture, run: &dyn Fn(&str) -> Script) {
    let mut first = run("first");
    assert_eq!(first.step("config")["version"], 1);
    first.step("rpc");
    assert_eq!(first.step("delivery")["version"], "1.0.0");
    assert!(first.step("analytics")["events"].as_u64().unwrap() >= 2);
    let device_id = first.step("ready")["device_id"].as_str().unwrap().to_owned();
    fixture.send_sync("m-1");
    fixture.send_sync("m-2");
    let task = fixture.server.cli_json(
        &fixture.admin,
        &[
            "push",
            "simple",
            "--workspace",
            &fixture.workspace,
            "--to",
            &format!("device:{device_id}:p-1"),
            "--title",
            "Card ready",
            "--content",
            "Your card has shipped",
        ],
    );
    first.tell("sent");
    let received = first.step("received");
    assert_eq!(received["handled"], json!(["m-1", "m-2"]));
    assert_eq!(received["push_title"], "Card ready");
    assert_eq!(received["task_id"], task["task_id"]);
    let ws = fixture.workspace.as_str();
    let admin = fixture.admin.as_str();
    fixture
        .server
        .cli_json(admin, &["switch", "set", "--workspace", ws, "wallet.limit", "--type", "number", "--default", "900"]);
    fixture.server.cli_json(admin, &["switch", "publish", "--workspace", ws]);
    first.tell("published");
    assert_eq!(first.step("announced")["version"], 2, "the new version reached the online device by itself");
    first.finish();
    let task_id = task["task_id"].as_str().unwrap();
    midship_testkit::eventually_blocking(
        "the open is counted",
        || {
            fixture
                .server
                .cli_json(&fixture.admin, &["push", "stats", "--workspace", &fixture.workspace, "--task", task_id])
        },
        |stats| stats["total"]["opened"] == 1,
    );

    fixture.send_sync("m-3");
    let mut again = run("again");
    let resumed = again.step("again");
    assert_eq!(resumed["handled"], json!(["m-1", "m-2", "m-3"]), "each message handed over once");
    assert_eq!(resumed["position"], 3);
    again.finish();

    let mut bad = run("bad");
    let errors = bad.step("bad");
    assert!(errors["not_json"].as_str().unwrap().contains("line 1 column 2"), "{errors}");
    assert!(errors["defaults"].as_str().unwrap().contains("JSON object"), "{errors}");
    assert_eq!(errors["wrong_secret"], 7002, "{errors}");
    assert!(errors["corrupt_positions"].as_str().unwrap().contains("sync-positions.json"), "{errors}");
    assert!(errors["unreachable"].as_str().unwrap().contains("cannot reach the gateway"), "{errors}");
    assert!(errors["garbage"].as_str().unwrap().contains("without a Result-Status"), "{errors}");
    assert!(errors["dropped"].is_string(), "a connection dropped mid-answer is an error value: {errors}");
    assert!(errors["untrusted_package"].is_string(), "a package the app does not trust is refused: {errors}");
    bad.finish();
}

/// The Swift package keeps generated sources (no Swift toolchain builds them here): they must be
/// what the current library generates.
#[test]
fn swift_sources_are_current() {
    let generated = bindings_dir("swift");
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/swift");
    for (fresh, committed) in [
        ("midship_mobile.swift", "Sources/Midship/Midship.swift"),
        ("midship_mobileFFI.h", "ffi/include/midship_mobileFFI.h"),
        ("midship_mobileFFI.modulemap", "ffi/include/module.modulemap"),
    ] {
        let fresh_text = std::fs::read_to_string(generated.join(fresh)).unwrap();
        let committed_text = std::fs::read_to_string(kept.join(committed)).unwrap();
        assert!(
            fresh_text == committed_text,
            "clients/swift/{committed} differs from a fresh generation: run scripts/bindings --update-swift"
        );
    }
}
