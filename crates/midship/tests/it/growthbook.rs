//! GrowthBook's own Python SDK, reading Midship's features endpoint, must give every user the same
//! values as Midship's server-side evaluation.

use std::process::Command;

use serde_json::{Value, json};

use crate::ServerProcess;

const USERS: usize = 1000;

fn definitions() -> Vec<Value> {
    vec![
        json!({ "key": "pay.new_checkout", "type": "bool", "default_value": false, "targets": [
            { "value": true, "rule": { "whitelist": { "user_ids": ["user-7", "user-42", "user-500"], "patterns": ["^qa-"] } } },
            { "value": true, "rule": { "percentage": 30 } }
        ] }),
        json!({ "key": "home.banner", "type": "string", "default_value": "Welcome", "targets": [
            { "value": "Hello Hangzhou", "rule": { "cities": { "include": ["Hangzhou"] } } },
            { "value": "Upgrade soon", "rule": { "app_version": { "out_of_range": { "min": "3.0.0" } } } }
        ] }),
        json!({ "key": "feed.page_size", "type": "number", "default_value": 20, "targets": [
            { "value": 50, "rule": { "platforms": ["ios"], "os_version": { "in_range": { "min": "16.0", "max": "17.9" } } } },
            { "value": 10, "rule": { "networks": { "exclude": ["wifi", "5g"] }, "percentage": 50 } }
        ] }),
        json!({ "key": "theme", "type": "json", "default_value": { "dark": false }, "platforms": ["android", "ios"], "targets": [
            { "value": { "dark": true }, "rule": { "models": { "include": ["Pixel 8", "iPhone15,2"] } } }
        ] }),
    ]
}

fn synthetic_user(index: usize) -> Value {
    let platforms = ["android", "ios", "harmony", "h5"];
    let cities = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen"];
    let networks = ["wifi", "4g", "5g", "3g"];
    let models = ["Pixel 8", "iPhone15,2", "Mate 60", "SM-S918B"];
    let user_id = if index.is_multiple_of(97) { format!("qa-{index}") } else { format!("user-{index}") };
    let device_id = format!("DEV{:06}", index * 7919 % 1_000_003);
    json!({
        "id": device_id,
        "deviceId": device_id,
        "userId": user_id,
        "platform": platforms[index % 4],
        "city": cities[index / 4 % 4],
        "network": networks[index / 16 % 4],
        "model": models[index / 3 % 4],
        "appVersion": format!("{}.{}.{}", 2 + index % 3, index % 12, index % 5),
        "osVersion": format!("{}.{}", 14 + index % 5, index % 10),
    })
}

#[test]
fn growthbook_python_sdk_agrees_with_midship_on_1000_users() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path(), &[]);
    let token = server.admin_token();
    let created = server.cli_json(&token, &["app", "create", "agreement"]);
    let app_id = created["app_id"].as_str().unwrap().to_owned();
    let workspace = created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned();
    let http = reqwest::blocking::Client::new();
    for definition in definitions() {
        let response = http
            .post(format!("{}/api/v1/workspaces/{workspace}/switches", server.base_url))
            .bearer_auth(&token)
            .json(&definition)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.text().unwrap());
    }
    server.cli_json(&token, &["switch", "publish", "--workspace", &workspace, "--note", "agreement"]);
    let policy = server.allow_unsigned_config_pull(&token, &workspace);
    let client_key = policy["sdk_client_key"].as_str().unwrap().to_owned();
    let payload = http.get(format!("{}/api/features/{client_key}", server.base_url)).send().unwrap().text().unwrap();
    assert!(!payload.contains("user-42"), "whitelisted ids go out hashed: {payload}");
    // The whitelist goes out once, as a saved group the condition names.
    let parsed: Value = serde_json::from_str(&payload).unwrap();
    let groups = parsed["savedGroups"].as_object().expect("savedGroups in the payload");
    assert_eq!(groups.len(), 1, "{payload}");
    assert_eq!(groups.values().next().unwrap().as_array().unwrap().len(), 3, "three whitelisted users");
    assert!(payload.contains("$inGroup"), "{payload}");

    let users: Vec<Value> = (0..USERS).map(synthetic_user).collect();
    let pulls = agree_on_every_user(&server, &http, &app_id, &workspace, &client_key, &users, data_dir.path());
    let whitelisted = pulls.iter().filter(|pulled| pulled["values"]["pay.new_checkout"] == true).count();
    // The percentage rule really splits users (about 30% plus the whitelist), not all or nothing.
    assert!((200..450).contains(&whitelisted), "{whitelisted} users got the new checkout");

    // A running experiment on `home.banner`, made with the CLI: GrowthBook's SDK assigns every user
    // as Midship does, from the experiment rule in the payload.
    server.cli_json(&token, &["experiment", "lab", "create", "home", "--workspace", &workspace]);
    let definition = json!({
        "variations": [
            { "key": "control", "values": { "home.banner": "Welcome" } },
            { "key": "short", "values": { "home.banner": "Hi" } },
            { "key": "long", "values": { "home.banner": "Welcome back to your bank" } }
        ],
        "weights": [0.2, 0.3, 0.5],
        "coverage": 0.9,
        "layer_range": [0.1, 0.85],
        "audience": { "platforms": ["android", "ios"] }
    });
    let definition_file = data_dir.path().join("banner.json");
    std::fs::write(&definition_file, definition.to_string()).unwrap();
    let definition_path = definition_file.to_str().unwrap();
    let create = ["experiment", "create", "banner", "--laboratory", "home", "--file", definition_path];
    server.cli_json(&token, &[&create[..], &["--workspace", &workspace]].concat());
    let started = server.cli_json(&token, &["experiment", "start", "banner", "--workspace", &workspace]);
    assert_eq!(started["phase"], "running");
    let pulls = agree_on_every_user(&server, &http, &app_id, &workspace, &client_key, &users, data_dir.path());
    let assigned: Vec<&Value> = pulls.iter().filter_map(|pulled| pulled["experiments"].get(0)).collect();
    // Android and iOS (half the users) × 75 % of the layer × 90 % coverage: about 34 %.
    assert!((250..430).contains(&assigned.len()), "{} of {USERS} users in the experiment", assigned.len());
    assert!(
        assigned
            .iter()
            .all(|assignment| assignment["experiment"] == "banner" && assignment["switches"] == json!(["home.banner"]))
    );
    let long = assigned.iter().filter(|assignment| assignment["variation"] == "long").count();
    assert!((long as f64 / assigned.len() as f64 - 0.5).abs() < 0.1, "{long} of {} long", assigned.len());
    // No device reported an exposure (config pulls alone are not exposures): the results say so.
    let results = server.cli_json(&token, &["experiment", "results", "banner", "--workspace", &workspace]);
    assert_eq!(results["variations"], json!(["control", "short", "long"]));
    assert_eq!(results["results"]["units"], json!([0, 0, 0]));
    let table = server.cli(&token, &["experiment", "results", "banner", "--workspace", &workspace]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("not enough data"), "{table:?}");
    server.cli_json(&token, &["experiment", "stop", "banner", "--workspace", &workspace]);

    // Encrypted: the payload holds no features in plain, and GrowthBook's SDK opens it with the
    // decryption key to the same features.
    let load = |decryption_key: &str| -> Value {
        let loaded = Command::new("python3")
            .args(["-c", OPEN_WITH_GROWTHBOOK, &server.base_url, &client_key, decryption_key])
            .output()
            .unwrap();
        assert!(loaded.status.success(), "GrowthBook SDK failed: {}", String::from_utf8_lossy(&loaded.stderr));
        serde_json::from_slice(&loaded.stdout).unwrap()
    };
    let plain = load("");
    let policy =
        server.cli_json(&token, &["device", "security", "--workspace", &workspace, "--encrypt-features", "true"]);
    let decryption_key = policy["sdk_decryption_key"].as_str().expect("a decryption key once encrypted").to_owned();
    let sealed: Value =
        http.get(format!("{}/api/features/{client_key}", server.base_url)).send().unwrap().json().unwrap();
    assert!(sealed.get("features").is_none() && sealed["encryptedFeatures"].is_string(), "{sealed}");
    assert!(!sealed.to_string().contains("pay.new_checkout"), "{sealed}");
    assert_eq!(load(&decryption_key), plain);
}

/// Evaluates every user with GrowthBook's Python SDK from the features payload and with Midship's
/// config pull, requires the same values, and returns the pulls.
fn agree_on_every_user(
    server: &ServerProcess,
    http: &reqwest::blocking::Client,
    app_id: &str,
    workspace: &str,
    client_key: &str,
    users: &[Value],
    scratch: &std::path::Path,
) -> Vec<Value> {
    let users_file = scratch.join("users.json");
    std::fs::write(&users_file, serde_json::to_vec(users).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/growthbook_eval.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&server.base_url)
        .arg(client_key)
        .arg(&users_file)
        .output()
        .expect("python3 runs (CI installs it with the growthbook package: pip install growthbook)");
    assert!(output.status.success(), "GrowthBook SDK failed: {}", String::from_utf8_lossy(&output.stderr));
    let sdk_values: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sdk_values.len(), users.len());

    let mut disagreements = Vec::new();
    let mut pulls = Vec::new();
    for (user, sdk) in users.iter().zip(&sdk_values) {
        let request = json!({
            "app_id": app_id,
            "workspace_id": workspace,
            "device_id": user["deviceId"],
            "user_id": user["userId"],
            "platform": user["platform"],
            "city": user["city"],
            "network": user["network"],
            "model": user["model"],
            "app_version": user["appVersion"],
            "os_version": user["osVersion"],
        });
        let pulled: Value = http
            .post(format!("{}/api/client/v1/config/pull", server.base_url))
            .json(&request)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if pulled["values"] != *sdk {
            disagreements.push(format!("{user}: midship {} vs growthbook {sdk}", pulled["values"]));
        }
        pulls.push(pulled);
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} users differ, first: {:?}",
        disagreements.len(),
        users.len(),
        disagreements.first()
    );
    pulls
}

/// Loads the features with GrowthBook's Python SDK and its `decryption_key`, and prints them.
const OPEN_WITH_GROWTHBOOK: &str = r#"
import json, sys
from growthbook import GrowthBook
api_host, client_key, decryption_key = sys.argv[1:4]
gb = GrowthBook(api_host=api_host, client_key=client_key, decryption_key=decryption_key, cache_ttl=0)
gb.load_features()
features = gb.get_features()
if not features:
    raise SystemExit("no features loaded")
print(json.dumps({key: feature.to_dict() for key, feature in features.items()}))
"#;
