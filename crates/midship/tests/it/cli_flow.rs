//! The foundation's acceptance flow, the same on both storage backends.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::ServerProcess;

fn end_to_end_flow(server: &ServerProcess) {
    let token_file = server.data_dir.join("admin-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "admin-token must be readable by its owner only");
    let admin = server.admin_token();

    let created = server.cli_json(&admin, &["app", "create", "demo", "--platform", "android,ios"]);
    let app_id = created["app_id"].as_str().expect("app_id").to_owned();
    let workspaces = created["workspaces"].as_array().expect("workspaces");
    assert_eq!(workspaces.len(), 3);
    let names: Vec<_> = workspaces.iter().map(|ws| ws["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["dev", "test", "prod"]);
    assert!(workspaces.iter().all(|ws| ws["workspace_id"].as_str().is_some_and(|id| !id.is_empty())));
    assert_eq!(created["secret"].as_str().map(str::len), Some(64));

    let listed = server.cli_json(&admin, &["app", "list"]);
    let ids: Vec<_> = listed["items"].as_array().unwrap().iter().map(|app| app["app_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![app_id.as_str()]);
    let shown = server.cli_json(&admin, &["app", "show", &app_id]);
    assert_eq!(shown["platforms"], serde_json::json!(["android", "ios"]));

    let openapi = reqwest::blocking::get(format!("{}/api/v1/openapi.json", server.base_url)).unwrap().text().unwrap();
    let spec = oas3::from_json(&openapi).expect("a valid OpenAPI 3 document");
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    assert!(spec.paths.as_ref().is_some_and(|paths| paths.contains_key("/api/v1/apps")));

    let viewer = server.cli_json(&admin, &["token", "create", "--role", "viewer", "--name", "auditor"]);
    let viewer_token = viewer["token"].as_str().unwrap();
    let refused = server.cli(viewer_token, &["app", "create", "sneaky"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("403") && stderr.contains("forbidden"), "{stderr}");
    let direct = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/apps", server.base_url))
        .bearer_auth(viewer_token)
        .json(&serde_json::json!({ "name": "sneaky" }))
        .send()
        .unwrap();
    assert_eq!(direct.status(), reqwest::StatusCode::FORBIDDEN);

    let workspace = server.cli_json(&admin, &["workspace", "create", "--app", &app_id, "staging"]);
    assert_eq!(workspace["name"], "staging");
    let rotated = server.cli_json(&admin, &["key", "rotate", "--app", &app_id]);
    assert_ne!(rotated["secret"], created["secret"]);

    let audit = server.cli_json(&admin, &["audit", "list"]);
    let actions: Vec<_> =
        audit["items"].as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec!["app.key.rotate", "workspace.create", "token.create", "app.create", "person.create", "tenant.bootstrap"]
    );
    let creation = audit["items"].as_array().unwrap().iter().find(|entry| entry["action"] == "app.create").unwrap();
    assert_eq!(creation["target_id"], Value::from(app_id.clone()));
    assert_eq!(creation["actor_name"], "bootstrap admin");

    let tokens = server.cli_json(&admin, &["token", "list"]);
    let viewer_id = viewer["token_id"].as_str().unwrap();
    assert!(tokens["items"].as_array().unwrap().iter().any(|token| token["token_id"] == viewer_id));
    server.cli_json(&admin, &["token", "revoke", viewer_id]);
    let after_revoke = server.cli(viewer_token, &["app", "list"]);
    assert!(String::from_utf8_lossy(&after_revoke.stderr).contains("401"));

    // People: the first start's admin account, and one added, changed and reset by login.
    let password_file = server.data_dir.join("admin-password");
    let mode = std::fs::metadata(&password_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "admin-password must be readable by its owner only");
    let added = server.cli_json(&admin, &["person", "create", "--login", "Bo@Bank.example", "--role", "operator"]);
    assert_eq!(added["person"]["login"], "bo@bank.example");
    assert!(added["temporary_password"].as_str().is_some_and(|password| password.len() >= 20));
    let people = server.cli_json(&admin, &["person", "list"]);
    let logins: Vec<_> = people["items"].as_array().unwrap().iter().map(|p| p["login"].as_str().unwrap()).collect();
    assert_eq!(logins, ["admin", "bo@bank.example"]);
    let scoped = server.cli_json(&admin, &["person", "update", "bo@bank.example", "--app", &app_id, "--disable"]);
    assert_eq!((scoped["app_ids"].clone(), scoped["disabled_at"].is_string()), (serde_json::json!([app_id]), true));
    let reset = server.cli_json(&admin, &["person", "reset", "BO@bank.example"]);
    assert_ne!(reset["temporary_password"], added["temporary_password"]);
    let unknown = server.cli(&admin, &["person", "show", "nobody"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no person with login nobody"));

    let table = server.cli(&admin, &["app", "list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("demo"), "people get a table too");

    // Device security: flags left out keep their value; `never` lifts the deadline.
    let staging = workspace["workspace_id"].as_str().unwrap();
    let set = ["device", "security", "--workspace", staging, "--require-credentials-from", "2030-01-01"];
    assert_eq!(server.cli_json(&admin, &set)["device_credentials_required_from"], "2030-01-01T00:00:00.000Z");
    let pull = ["device", "security", "--workspace", staging, "--unsigned-config-pull", "true"];
    let both = server.cli_json(&admin, &pull);
    assert_eq!(
        (both["unsigned_config_pull"].as_bool(), both["device_credentials_required_from"].as_str()),
        (Some(true), Some("2030-01-01T00:00:00.000Z"))
    );
    let lifted =
        server.cli_json(&admin, &["device", "security", "--workspace", staging, "--require-credentials-from", "never"]);
    assert!(lifted["device_credentials_required_from"].is_null() && lifted["unsigned_config_pull"] == true, "{lifted}");
    let unknown = server.cli(&admin, &["device", "revoke", "--workspace", staging, "NO-SUCH-DEVICE"]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    // Names wherever ids are: an app by name, a workspace by name or as APP/NAME.
    let qa = server.cli_json(&admin, &["workspace", "create", "--app", "DEMO", "qa"]);
    assert_eq!(qa["app_id"], Value::from(app_id.clone()));
    server.cli_json(&admin, &["switch", "list", "--workspace", "qa"]);
    server.cli_json(&admin, &["app", "create", "second"]);
    let ambiguous = server.cli(&admin, &["switch", "list", "--workspace", "prod"]);
    let stderr = String::from_utf8_lossy(&ambiguous.stderr);
    assert!(
        stderr.contains(r#"several apps have a workspace named "prod": write one of demo/prod, second/prod"#),
        "{stderr}"
    );
    let qualified = server.cli_json(&admin, &["device", "security", "--workspace", "second/prod"]);
    assert!(qualified.is_object(), "{qualified}");
    let overview = server.cli_json(&admin, &["stats", "overview", "--workspace", "Demo/prod"]);
    assert!(overview.is_object(), "report ranges take names too: {overview}");
    let keys = server.cli_json(&admin, &["package", "key", "list", "--workspace", "demo/qa"]);
    assert!(keys["items"].is_array(), "{keys}");
    let nowhere = server.cli(&admin, &["app", "show", "third"]);
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains(r#"no app named "third""#));
    let scoped = server.cli_json(&admin, &["token", "create", "--role", "viewer", "--app", "second"]);
    assert_eq!(scoped["app_ids"].as_array().map(Vec::len), Some(1));
}

#[test]
fn end_to_end_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    end_to_end_flow(&server);
}

#[test]
fn end_to_end_on_postgres() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let database_url = runtime.block_on(midship_testkit::fresh_postgres_database("e2e"));
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &["--database-url", &database_url, "--single-node"]);
    let ready: Value = reqwest::blocking::get(format!("{}/readyz", server.base_url)).unwrap().json().unwrap();
    assert_eq!(ready["storage"], "postgres");
    end_to_end_flow(&server);
}

fn pull(server: &ServerProcess, app_id: &str, workspace: &str, user_id: &str) -> Value {
    reqwest::blocking::Client::new()
        .post(format!("{}/api/client/v1/config/pull", server.base_url))
        .json(&serde_json::json!({ "app_id": app_id, "workspace_id": workspace, "user_id": user_id, "device_id": format!("D-{user_id}") }))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn switches_through_the_cli() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let admin = server.admin_token();
    let created = server.cli_json(&admin, &["app", "create", "wallet"]);
    let app_id = created["app_id"].as_str().unwrap();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap();
    server.allow_unsigned_config_pull(&admin, workspace);

    let whitelist = r#"{"value": true, "rule": {"whitelist": {"user_ids": ["alice"]}}}"#;
    server.cli_json(
        &admin,
        &[
            "switch",
            "set",
            "--workspace",
            workspace,
            "wallet.nfc",
            "--type",
            "bool",
            "--default",
            "false",
            "--target",
            whitelist,
        ],
    );
    server.cli_json(
        &admin,
        &["switch", "set", "--workspace", workspace, "wallet.limit", "--type", "number", "--default", "500"],
    );
    let listed = server.cli_json(&admin, &["switch", "list", "--workspace", workspace]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let published = server.cli_json(&admin, &["switch", "publish", "--workspace", workspace, "--note", "first"]);
    assert_eq!(published["version"], 1);

    assert_eq!(
        pull(&server, app_id, workspace, "alice")["values"],
        serde_json::json!({ "wallet.nfc": true, "wallet.limit": 500 })
    );
    assert_eq!(
        pull(&server, app_id, workspace, "bob")["values"],
        serde_json::json!({ "wallet.nfc": false, "wallet.limit": 500 })
    );

    server.cli_json(
        &admin,
        &["switch", "set", "--workspace", workspace, "wallet.limit", "--type", "number", "--default", "1000"],
    );
    server.cli_json(&admin, &["switch", "publish", "--workspace", workspace]);
    assert_eq!(pull(&server, app_id, workspace, "bob")["values"]["wallet.limit"], 1000);
    let rolled_back = server.cli_json(&admin, &["switch", "rollback", "--workspace", workspace, "--to", "1"]);
    assert_eq!(rolled_back["version"], 3);
    assert_eq!(pull(&server, app_id, workspace, "bob")["values"]["wallet.limit"], 500, "rollback restores version 1");
    let history = server.cli_json(&admin, &["switch", "history", "--workspace", workspace]);
    assert_eq!(history["items"].as_array().unwrap().len(), 3);

    let exported = server.cli(&admin, &["switch", "export", "--workspace", workspace]);
    assert!(exported.status.success());
    let file = data_dir.path().join("export.json");
    std::fs::write(&file, &exported.stdout).unwrap();
    let other = created["workspaces"][0]["workspace_id"].as_str().unwrap();
    let imported = server.cli_json(&admin, &["switch", "import", "--workspace", other, file.to_str().unwrap()]);
    assert_eq!(imported["imported"], 2);

    let bad = server.cli(
        &admin,
        &["switch", "set", "--workspace", workspace, "wallet.nfc", "--type", "bool", "--default", "maybe"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("maybe"));

    // With four eyes on, a publication is a request: exit status 3, the request on stdout.
    let policy = server.cli_json(&admin, &["approval", "policy", "--workspace", workspace, "on"]);
    assert_eq!(policy["approvals_required"], true);
    server.cli_json(
        &admin,
        &["switch", "set", "--workspace", workspace, "wallet.limit", "--type", "number", "--default", "750"],
    );
    let asked = server.cli(&admin, &["switch", "publish", "--workspace", workspace, "--note", "raise"]);
    assert_eq!(asked.status.code(), Some(3), "{}", String::from_utf8_lossy(&asked.stderr));
    let stdout = String::from_utf8_lossy(&asked.stdout);
    assert!(stdout.contains("waits for another person") && stdout.contains("midship approval approve"), "{stdout}");
    let pending = server.cli_json(&admin, &["approval", "list", "--workspace", workspace, "--status", "pending"]);
    let approval_id = pending["items"][0]["approval_id"].as_str().unwrap().to_owned();
    let by_token = server.cli(&admin, &["approval", "approve", "--workspace", workspace, &approval_id]);
    assert_eq!(by_token.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&by_token.stderr).contains("signed in, not by an API token"));
    let withdrawn = server.cli_json(&admin, &["approval", "refuse", "--workspace", workspace, &approval_id]);
    assert_eq!(withdrawn["status"], "cancelled");
}

#[test]
fn targeting_eval_condition_needs_no_server() {
    let run = |condition: &str, attributes: &str| {
        std::process::Command::new(crate::MIDSHIP)
            .args(["targeting", "eval-condition", condition, attributes])
            .output()
            .unwrap()
    };
    let matched = run(
        r#"{"city": {"$in": ["Hangzhou", "Ningbo"]}, "appVersion": {"$vgte": "2.10.0"}}"#,
        r#"{"city": "Hangzhou", "appVersion": "2.10.1"}"#,
    );
    assert_eq!(String::from_utf8_lossy(&matched.stdout).trim(), "true");
    let missed = run(r#"{"city": "Hangzhou"}"#, r#"{"city": "Beijing"}"#);
    assert_eq!(String::from_utf8_lossy(&missed.stdout).trim(), "false");
    let invalid = run(r#"{"name": {"$regex": "("}}"#, "{}");
    assert!(!invalid.status.success());
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("invalid condition"));
}

#[test]
fn push_through_the_cli_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    push_flow(&ServerProcess::start(data_dir.path(), &[]));
}

#[test]
fn push_through_the_cli_on_postgres() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let database_url = runtime.block_on(midship_testkit::fresh_postgres_database("push"));
    let data_dir = tempfile::tempdir().unwrap();
    push_flow(&ServerProcess::start(data_dir.path(), &["--database-url", &database_url, "--single-node"]));
}

fn push_flow(server: &ServerProcess) {
    let admin = server.admin_token();
    let created = server.cli_json(&admin, &["app", "create", "bank"]);
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    let workspace = workspace.as_str();

    let template = server.cli_json(
        &admin,
        &[
            "push",
            "templates",
            "set",
            "--workspace",
            workspace,
            "bill",
            "--title",
            "Bill ${month}",
            "--content",
            "Due: ${amount}",
        ],
    );
    assert_eq!(template["name"], "bill");
    let task = server.cli_json(
        &admin,
        &[
            "push",
            "template",
            "--workspace",
            workspace,
            "bill",
            "--to",
            "device:phone-9:bill-11",
            "--value",
            "month=November",
            "--value",
            "amount=€40",
        ],
    );
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    assert_eq!((task["kind"].as_str(), task["targets"].as_i64()), (Some("template"), Some(1)));
    let refused = server.cli(
        &admin,
        &["push", "template", "--workspace", workspace, "bill", "--to", "device:x:y", "--value", "month=May"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no value for placeholder `amount`"));

    // The device is offline: the message waits in its stream until revoked.
    let stats = midship_testkit::eventually_blocking(
        "the push is sent",
        || server.cli_json(&admin, &["push", "stats", "--workspace", workspace, "--task", &task_id]),
        |stats| stats["total"]["sent"] == 1,
    );
    assert_eq!(stats["total"]["sent"], 1, "{stats}");
    let revoked = server.cli_json(&admin, &["push", "revoke", "--workspace", workspace, &task_id]);
    assert_eq!((revoked["revoked"].as_u64(), revoked["removed_undelivered"].as_u64()), (Some(1), Some(1)));
    let tasks = server.cli_json(&admin, &["push", "tasks", "--workspace", workspace]);
    assert_eq!(tasks["items"][0]["task_id"], task_id.as_str());
    let overall = server.cli_json(&admin, &["push", "stats", "--workspace", workspace, "--days", "1"]);
    assert_eq!(overall["total"]["revoked"], 1);

    let settings =
        server.cli_json(&admin, &["push", "settings", "--workspace", workspace, "--device-binding", "backend"]);
    assert_eq!(settings["device_binding"], "backend");
    let unknown = server.cli(&admin, &["push", "bind", "--workspace", workspace, "phone-9", "--user", "ana"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("has not reported"), "{unknown:?}");
}

#[test]
fn delivery_through_the_cli_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    delivery_flow(&ServerProcess::start(data_dir.path(), &[]));
}

#[test]
fn delivery_through_the_cli_on_postgres() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let database_url = runtime.block_on(midship_testkit::fresh_postgres_database("delivery"));
    let data_dir = tempfile::tempdir().unwrap();
    delivery_flow(&ServerProcess::start(data_dir.path(), &["--database-url", &database_url, "--single-node"]));
}

/// An H5 zip of 1.5 MB (more than the API's 1 MiB body limit: uploads have their own), with an
/// incompressible asset that stays the same between versions.
pub(crate) fn h5_zip(directory: &std::path::Path, version: &str) -> std::path::PathBuf {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let asset: Vec<u8> = (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let files = midship_package::Files::from([
        (
            "manifest.json".to_owned(),
            serde_json::json!({ "app_id": "30000001", "version": version, "vhost": "https://30000001.h5app.example.com", "main_url": "/index.html" })
                .to_string()
                .into_bytes(),
        ),
        ("index.html".to_owned(), format!("<html>{version}</html>").into_bytes()),
        ("asset.bin".to_owned(), asset),
    ]);
    let path = directory.join(format!("h5-{version}.zip"));
    std::fs::write(&path, midship_package::write_zip(&files)).unwrap();
    path
}

fn delivery_flow(server: &ServerProcess) {
    let admin = server.admin_token();
    let created = server.cli_json(&admin, &["app", "create", "transit"]);
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    let workspace = workspace.as_str();
    let files = tempfile::tempdir().unwrap();
    let upload = |version: &str| {
        let zip = h5_zip(files.path(), version);
        server.cli_json(&admin, &["package", "upload", "--workspace", workspace, "--kind", "h5", zip.to_str().unwrap()])
    };
    let first = upload("1.0.0");
    assert!(first["size"].as_i64().unwrap() > 1_048_576, "{first}");
    let second = upload("1.0.1");
    let patch = &second["patches"][0];
    assert_eq!(patch["from_version"], "1.0.0");
    assert!(patch["size"].as_i64().unwrap() < 2_000, "only index.html changed: {patch}");

    let key = server.cli_json(&admin, &["package", "key", "--workspace", workspace]);
    assert_eq!(key["algorithm"], "ed25519");
    let rotated = server.cli_json(&admin, &["package", "key", "rotate", "--workspace", workspace]);
    assert_eq!(rotated["items"][0]["public_key"], key["public_key"]);
    assert_eq!(rotated["items"][1]["signs_uploads"], true);
    let retired = server.cli_json(&admin, &["package", "key", "retire", "--workspace", workspace, "1"]);
    assert!(retired["items"][0]["retired_at"].is_string(), "{retired}");
    let listed = server.cli(&admin, &["package", "key", "list", "--workspace", workspace]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains("signs uploads and offers") && table.contains("retired"), "{table}");
    let package_id = second["package_id"].as_str().unwrap();
    let release = server.cli_json(
        &admin,
        &[
            "release",
            "create",
            "--workspace",
            workspace,
            "--package",
            package_id,
            "--stage",
            "capped",
            "--max-devices",
            "100",
        ],
    );
    let release_id = release["release_id"].as_str().unwrap();
    assert_eq!(release["definition"]["stage"], serde_json::json!({ "kind": "capped", "max_devices": 100 }));
    let paused = server.cli_json(&admin, &["release", "pause", "--workspace", workspace, release_id]);
    assert_eq!(paused["status"], "paused");
    let resumed = server.cli_json(&admin, &["release", "resume", "--workspace", workspace, release_id]);
    assert_eq!(resumed["status"], "active");
    let refused = server.cli(&admin, &["release", "rollback", "--workspace", workspace, release_id]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only hotpatch releases roll back"));
    let ended = server.cli_json(&admin, &["release", "end", "--workspace", workspace, release_id]);
    assert_eq!(ended["status"], "ended");
    let shown = server.cli_json(&admin, &["release", "show", "--workspace", workspace, release_id]);
    assert_eq!(shown["stats"]["checked"], 0);
    let listed = server.cli(&admin, &["release", "list", "--workspace", workspace]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("h5 30000001 1.0.1"), "people get a table");
    let audit = server.cli_json(&admin, &["audit", "list"]);
    let actions: Vec<_> =
        audit["items"].as_array().unwrap().iter().filter_map(|entry| entry["action"].as_str()).collect();
    assert!(actions.contains(&"delivery.package.upload") && actions.contains(&"delivery.release.end"), "{actions:?}");
}

#[test]
fn shells_complete_every_command() {
    for (shell, marker) in
        [("bash", "complete -F _midship"), ("zsh", "#compdef midship"), ("fish", "complete -c midship")]
    {
        let output = std::process::Command::new(crate::MIDSHIP).args(["completion", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script:.200}");
        for command in ["person", "token", "switch", "release"] {
            assert!(script.contains(command), "{shell} completes `{command}`");
        }
    }
}

#[test]
fn a_saved_context_stands_in_for_server_and_token() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let home = tempfile::tempdir().unwrap();
    let contexts = home.path().join("contexts.toml");
    let midship = |args: &[&str], token: Option<&str>| {
        let mut command = std::process::Command::new(crate::MIDSHIP);
        command.args(args).env("MIDSHIP_CONTEXTS", &contexts).env_remove("MIDSHIP_SERVER").env_remove("MIDSHIP_TOKEN");
        if let Some(token) = token {
            command.env("MIDSHIP_TOKEN", token);
        }
        command.current_dir(home.path()).output().unwrap()
    };
    let missing = midship(&["context", "add", "staging", "--url", &server.base_url], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("give the token"));
    let added = midship(&["context", "add", "staging", "--url", &server.base_url], Some(&server.admin_token()));
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let mode = std::fs::metadata(&contexts).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file holds tokens");
    let listed = midship(&["context", "list"], None);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&format!("* staging\t{}", server.base_url)));

    let apps = midship(&["--json", "app", "list"], None);
    assert!(apps.status.success(), "no --server nor --token needed: {}", String::from_utf8_lossy(&apps.stderr));
    let whoami = midship(&["whoami"], None);
    assert!(String::from_utf8_lossy(&whoami.stdout).contains("bootstrap admin"));
    let unknown = midship(&["context", "use", "prod"], None);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no context named prod"));

    // Two apps with a `prod` workspace: `--app NAME --workspace prod` says which, and a context
    // that remembers both lets commands name neither.
    for name in ["Mobile Bank", "Branch Finder"] {
        assert!(midship(&["app", "create", name, "--workspace", "prod"], None).status.success());
    }
    let ambiguous = midship(&["switch", "list", "--workspace", "prod"], None);
    assert!(String::from_utf8_lossy(&ambiguous.stderr).contains("several apps have a workspace named"));
    let named = midship(&["--json", "switch", "list", "--app", "Mobile Bank", "--workspace", "prod"], None);
    assert!(named.status.success(), "{}", String::from_utf8_lossy(&named.stderr));
    let none = midship(&["switch", "list"], None);
    assert!(String::from_utf8_lossy(&none.stderr).contains("give --workspace"));
    let used = midship(&["context", "use", "staging", "--app", "Mobile Bank", "--workspace", "prod"], None);
    assert!(String::from_utf8_lossy(&used.stdout).contains("(app Mobile Bank, workspace prod)"));
    let set = midship(&["--json", "switch", "set", "limit", "--type", "number", "--default", "5"], None);
    assert!(set.status.success(), "the context's workspace: {}", String::from_utf8_lossy(&set.stderr));
    let listed = midship(&["--json", "switch", "list", "--app", "Mobile Bank", "--workspace", "prod"], None);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("\"limit\""), "set in Mobile Bank/prod");
    let other = midship(&["--json", "switch", "list", "--workspace", "Branch Finder/prod"], None);
    assert!(!String::from_utf8_lossy(&other.stdout).contains("\"limit\""), "not in the other app's prod");
    assert!(midship(&["context", "remove", "staging"], None).status.success());
    let gone = midship(&["app", "list"], None);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no token"), "{}", String::from_utf8_lossy(&gone.stderr));
}
