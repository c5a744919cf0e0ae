//! A/B experiments end to end: 20,000 simulated devices pull their configuration through the SDK,
//! read the experiment's switch (which reports the exposure) and upload conversions, revenue and
//! startup times with known true effects; the results must match what gbstats computes from the
//! summary statistics this test adds up itself from what it sent (startup p95 summarised in
//! Python). A second experiment whose exposures are
//! skewed on purpose must be flagged for sample ratio mismatch; promoting publishes the winner.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use midship_api::{CreateAppRequest, CreateExperiment, CreateLaboratory, PhaseName};
use midship_sdk::analytics::{AnalyticsLogger, LoggerSettings, Network};
use midship_sdk::config::{ConfigClient, ConfigSettings, DeviceProfile};
use midship_sdk::rpc::{DeviceIdentity, RpcClient, RpcSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::TestServer;

const DEVICES: usize = 20_000;

struct Fixture {
    server: TestServer,
    app_id: String,
    workspace: String,
    secret: String,
    http: reqwest::Client,
    state_dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let request = CreateAppRequest { name: "shop".into(), platforms: vec!["android".into()], workspaces: None };
        let created = server.admin().create_app(&request).await.unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Self {
            app_id: created.app.app_id,
            workspace: created.workspaces[0].workspace_id.clone(),
            secret: created.secret,
            server,
            http,
            state_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// One device's SDK: its signed RPC client, config client and analytics logger.
    fn device(&self, device_id: &str) -> (Arc<ConfigClient>, Arc<AnalyticsLogger>) {
        let settings = RpcSettings::new(&self.server.base_url, &self.app_id, &self.workspace, &self.secret);
        let identity = DeviceIdentity {
            device_id: Some(device_id.to_owned()),
            platform: Some("android".into()),
            app_version: Some("3.1.0".into()),
            ..DeviceIdentity::default()
        };
        let rpc = RpcClient::with_http(settings, identity, self.http.clone());
        let home = self.state_dir.path().join(device_id);
        let config = ConfigClient::new(
            ConfigSettings { cache_dir: home.join("config"), defaults: Map::new() },
            rpc.clone(),
            DeviceProfile::default(),
        );
        let logger = AnalyticsLogger::open(rpc, LoggerSettings::new(home.join("analytics"))).unwrap();
        let exposures = logger.clone();
        config.on_exposure(move |assignment| {
            exposures.exposure(assignment).unwrap();
        });
        (config, logger)
    }

    async fn experiment(&self, laboratory: &str, key: &str, definition: Value) {
        let admin = self.server.admin();
        let request = CreateExperiment { key: key.into(), laboratory: laboratory.into(), definition };
        admin.create_experiment(&self.workspace, &request).await.unwrap();
        admin.set_experiment_phase(&self.workspace, key, PhaseName::Running).await.unwrap();
    }
}

/// What one simulated device did.
struct Outcome {
    button: String,
    bought: bool,
    amount: f64,
    /// Startup times (ms) reported after the exposure.
    startups: Vec<u64>,
    banner: Option<String>,
}

/// A device reads the button (exposure), buys with 10 % chance on grey and 12 % on blue, spending
/// 20 to 60 (blue: 22 to 62); in the banner experiment, devices shown `on` report their exposure
/// only 80 % of the time: a broken split on purpose.
async fn simulate(fixture: &Fixture, index: usize) -> Outcome {
    let (config, logger) = fixture.device(&format!("device-{index:05}"));
    config.pull().await.unwrap();
    let mut rng = StdRng::seed_from_u64(index as u64);
    let button = config.get_str("pay.button", "missing");
    let blue = button == "blue";
    let bought = rng.random::<f64>() < if blue { 0.12 } else { 0.10 };
    // Two decimals, as money is sent.
    let amount = if bought {
        ((rng.random_range(20.0..60.0) + if blue { 2.0 } else { 0.0 }) * 100.0_f64).round() / 100.0
    } else {
        0.0
    };
    if bought {
        logger.event("buy", json!({ "amount": amount })).unwrap();
    }
    let startups: Vec<u64> =
        (0..rng.random_range(1..=3)).map(|_| rng.random_range(300..2_000) * if blue { 11 } else { 10 } / 10).collect();
    for duration_ms in &startups {
        logger.record(json!({ "kind": "startup", "duration_ms": duration_ms, "cold": true })).unwrap();
    }
    let banner_assignment = config.experiments().into_iter().find(|assignment| assignment.experiment == "banner");
    let banner = match banner_assignment {
        Some(assignment) if assignment.variation == "on" && rng.random::<f64>() < 0.2 => None,
        Some(assignment) => {
            config.get_bool("pay.banner", false);
            Some(assignment.variation)
        }
        None => None,
    };
    let summary = logger.upload(Network::Wifi).await.unwrap();
    assert_eq!(summary.batches, 1);
    Outcome { button, bought, amount, startups, banner }
}

fn proportion(n: f64, sum: f64) -> Value {
    json!({ "kind": "proportion", "n": n, "sum": sum })
}

fn sample_mean(n: f64, sum: f64, sum_squares: f64) -> Value {
    json!({ "kind": "sample_mean", "n": n, "sum": sum, "sum_squares": sum_squares })
}

fn gbstats(request: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/experiments_gbstats.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), request.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "gbstats: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn assert_close(ours: &Value, theirs: &Value, what: &str) {
    let (ours, theirs) = (ours.as_f64().unwrap(), theirs.as_f64().unwrap());
    let scale = theirs.abs().max(1e-12);
    assert!((ours - theirs).abs() / scale <= 1e-6, "{what}: ours {ours}, gbstats {theirs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_devices_give_the_results_gbstats_gives_and_the_winner_is_promoted() {
    let fixture = Fixture::start().await;
    let admin = fixture.server.admin();
    let workspace = fixture.workspace.as_str();
    let switch = |key: &str, value_type: &str, default: Value| json!({ "key": key, "type": value_type, "default_value": default });
    admin.set_switch(workspace, &switch("pay.button", "string", json!("grey"))).await.unwrap();
    admin.set_switch(workspace, &switch("pay.banner", "bool", json!(false))).await.unwrap();
    admin.publish_config(workspace, "before the experiments").await.unwrap();
    for laboratory in ["checkout", "home"] {
        let request = CreateLaboratory { key: laboratory.into(), name: String::new(), description: String::new() };
        admin.create_laboratory(workspace, &request).await.unwrap();
    }
    fixture
        .experiment(
            "checkout",
            "button-color",
            json!({
                "hypothesis": "a blue pay button sells more",
                "variations": [
                    { "key": "control", "values": { "pay.button": "grey" } },
                    { "key": "blue", "values": { "pay.button": "blue" } }
                ],
                "metrics": [
                    { "key": "bought", "kind": { "type": "conversion", "event": "buy", "within_hours": 24 } },
                    { "key": "revenue", "kind": { "type": "mean",
                        "measure": { "type": "attribute", "event": "buy", "attribute": "amount" } } },
                    { "key": "startup_p95", "inverse": true, "kind": { "type": "quantile",
                        "measure": { "type": "startup_ms" }, "quantile": 0.95 } }
                ]
            }),
        )
        .await;
    fixture
        .experiment(
            "home",
            "banner",
            json!({
                "variations": [
                    { "key": "off", "values": { "pay.banner": false } },
                    { "key": "on", "values": { "pay.banner": true } }
                ],
                "metrics": [{ "key": "bought", "kind": { "type": "conversion", "event": "buy" } }]
            }),
        )
        .await;

    let outcomes: Vec<Outcome> = futures_util::stream::iter(0..DEVICES)
        .map(|index| simulate(&fixture, index))
        .buffer_unordered(16)
        .collect()
        .await;

    // The summary statistics, from what the devices sent.
    let mut sums: BTreeMap<&str, [f64; 4]> = BTreeMap::new();
    for outcome in &outcomes {
        let variation = if outcome.button == "blue" { "blue" } else { "control" };
        let entry = sums.entry(variation).or_default();
        entry[0] += 1.0;
        entry[1] += f64::from(u8::from(outcome.bought));
        entry[2] += outcome.amount;
        entry[3] += outcome.amount * outcome.amount;
    }
    let (control, blue) = (sums["control"], sums["blue"]);
    // Startup times as each unit reported them, for gbstats' event quantile (computed in Python).
    let startups = |variation: &str| -> Vec<&Vec<u64>> {
        outcomes
            .iter()
            .filter(|outcome| (outcome.button == "blue") == (variation == "blue"))
            .map(|outcome| &outcome.startups)
            .collect()
    };
    let event_values = |variation| json!({ "kind": "event_values", "nu": 0.95, "units": startups(variation) });
    assert!(outcomes.iter().all(|outcome| outcome.button == "grey" || outcome.button == "blue"));
    assert!((control[0] - 10_000.0).abs() < 400.0, "about half each: {control:?}");
    let request = json!({
        "metrics": {
            "bought": [proportion(control[0], control[1]), proportion(blue[0], blue[1])],
            "revenue": [sample_mean(control[0], control[2], control[3]), sample_mean(blue[0], blue[2], blue[3])],
            "startup_p95": [event_values("control"), event_values("blue")]
        },
        "inverse": ["startup_p95"],
        "units": [control[0], blue[0]],
        "weights": [0.5, 0.5]
    });
    let expected = gbstats(&request);

    let results = admin.experiment_results(workspace, "button-color").await.unwrap();
    assert_eq!(results.variations, ["control", "blue"]);
    let body = &results.results;
    assert_eq!(body["units"], json!([control[0] as u64, blue[0] as u64]), "every device exposed once");
    assert!(!body["srm"]["mismatch"].as_bool().unwrap(), "a fair split: {}", body["srm"]);
    assert_close(&body["srm"]["p_value"], &expected["srm_p_value"], "srm p-value");
    for (index, key) in ["bought", "revenue", "startup_p95"].into_iter().enumerate() {
        let metric = &body["metrics"][index];
        assert_eq!(metric["key"], json!(key));
        let ours = &metric["variations"][1]["comparison"];
        assert_eq!(ours["status"], json!("compared"), "{metric}");
        let theirs = &expected["metrics"][key][0];
        for field in ["uplift", "p_value", "chance_to_win"] {
            assert_close(&ours[field], &theirs[field], &format!("{key} {field}"));
        }
        for (field, bound) in
            [("ci", 0), ("ci", 1), ("credible_interval", 0), ("credible_interval", 1), ("risk", 0), ("risk", 1)]
        {
            assert_close(&ours[field][bound], &theirs[field][bound], &format!("{key} {field}[{bound}]"));
        }
    }
    let bought = &body["metrics"][0]["variations"][1]["comparison"];
    assert!(bought["uplift"].as_f64().unwrap() > 0.0, "the true uplift is +20 %: {bought}");
    let slower = &body["metrics"][2]["variations"][1]["comparison"];
    assert!(slower["chance_to_win"].as_f64().unwrap() < 0.05, "blue starts 10 % slower: {slower}");

    // The banner's `on` devices hid a fifth of their exposures.
    let banner = admin.experiment_results(workspace, "banner").await.unwrap();
    let reported = outcomes.iter().filter(|outcome| outcome.banner.as_deref() == Some("on")).count();
    assert_eq!(banner.results["units"][1], json!(reported));
    assert!(banner.results["srm"]["mismatch"].as_bool().unwrap(), "skewed on purpose: {}", banner.results["srm"]);

    // Promoting blue publishes it as the switch's value for everyone and stops the experiment.
    let promotion = admin.promote_variation(workspace, "button-color", "blue", "blue sells more").await.unwrap();
    assert_eq!(promotion.experiment.phase, "stopped");
    assert_eq!(promotion.experiment.decision.as_ref().unwrap()["promoted"], json!("blue"));
    assert!(promotion.published_version.is_some(), "{promotion:?}");
    let (config, _) = fixture.device("newcomer");
    config.pull().await.unwrap();
    assert_eq!(config.get_str("pay.button", "missing"), "blue");
    assert!(config.experiments().iter().all(|assignment| assignment.experiment != "button-color"));
    let again = admin.promote_variation(workspace, "button-color", "control", "").await.unwrap_err();
    assert!(again.to_string().contains("only a running experiment"), "{again}");
}

/// The status and code of a refused call.
fn refused<T: std::fmt::Debug>(result: Result<T, midship_admin_client::SdkError>) -> (u16, String, String) {
    match result.unwrap_err() {
        midship_admin_client::SdkError::Api { status, code, message } => (status.as_u16(), code, message),
        other => panic!("not an API error: {other}"),
    }
}

fn two_arms(switch: &str, control: Value, treatment: Value) -> Value {
    json!({ "variations": [
        { "key": "control", "values": { switch: control } },
        { "key": "treatment", "values": { switch: treatment } }
    ] })
}

#[tokio::test]
async fn bad_experiments_are_refused_with_clear_errors_and_empty_results_say_not_enough_data() {
    let fixture = Fixture::start().await;
    let admin = fixture.server.admin();
    let workspace = fixture.workspace.as_str();
    for (key, default) in [("pay.button", json!("grey")), ("pay.limit", json!(100)), ("pay.unpublished", json!(1))] {
        let value_type = if default.is_string() { "string" } else { "number" };
        admin
            .set_switch(workspace, &json!({ "key": key, "type": value_type, "default_value": default }))
            .await
            .unwrap();
        if key != "pay.unpublished" {
            admin.publish_config(workspace, "").await.unwrap();
        }
    }
    let laboratory = |key: &str| CreateLaboratory { key: key.into(), name: String::new(), description: String::new() };
    admin.create_laboratory(workspace, &laboratory("checkout")).await.unwrap();
    admin.create_laboratory(workspace, &laboratory("other")).await.unwrap();
    let (status, code, _) = refused(admin.create_laboratory(workspace, &laboratory("checkout")).await);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    let create = |key: &str, laboratory: &str, definition: Value| CreateExperiment {
        key: key.into(),
        laboratory: laboratory.into(),
        definition,
    };

    let mut bad_weights = two_arms("pay.button", json!("grey"), json!("blue"));
    bad_weights["weights"] = json!([0.5, 0.6]);
    let (status, code, message) =
        refused(admin.create_experiment(workspace, &create("weights", "checkout", bad_weights)).await);
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    assert!(message.contains("$.weights") && message.contains("sum to 1"), "{message}");
    let (status, _, message) = refused(
        admin
            .create_experiment(workspace, &create("nowhere", "kitchen", two_arms("pay.button", json!(1), json!(2))))
            .await,
    );
    assert_eq!(status, 404, "{message}");

    // Live experiments may not overlap in a layer, nor share a switch, nor use an unpublished one.
    let mut left = two_arms("pay.button", json!("grey"), json!("blue"));
    left["layer_range"] = json!([0.0, 0.6]);
    admin.create_experiment(workspace, &create("left", "checkout", left)).await.unwrap();
    admin.set_experiment_phase(workspace, "left", PhaseName::Running).await.unwrap();
    let mut right = two_arms("pay.limit", json!(100), json!(200));
    right["layer_range"] = json!([0.5, 1.0]);
    admin.create_experiment(workspace, &create("right", "checkout", right.clone())).await.unwrap();
    let (status, _, message) = refused(admin.set_experiment_phase(workspace, "right", PhaseName::Running).await);
    assert_eq!(status, 409);
    assert!(message.contains("overlapping"), "{message}");
    right["layer_range"] = json!([0.6, 1.0]);
    admin.update_experiment(workspace, "right", &right).await.unwrap();
    admin.set_experiment_phase(workspace, "right", PhaseName::Running).await.unwrap();
    admin
        .create_experiment(workspace, &create("again", "other", two_arms("pay.button", json!("grey"), json!("red"))))
        .await
        .unwrap();
    let (status, _, message) = refused(admin.set_experiment_phase(workspace, "again", PhaseName::Debug).await);
    assert_eq!(status, 409);
    assert!(message.contains("already in live experiment `left`"), "{message}");
    admin
        .create_experiment(workspace, &create("unpublished", "other", two_arms("pay.unpublished", json!(1), json!(2))))
        .await
        .unwrap();
    let (status, _, message) = refused(admin.set_experiment_phase(workspace, "unpublished", PhaseName::Running).await);
    assert_eq!(status, 409);
    assert!(message.contains("not published"), "{message}");

    // While running, weights may change and variations may not; devices keep their variation.
    let mut before = Vec::new();
    for index in 0..60 {
        let (config, _) = fixture.device(&format!("sticky-{index}"));
        config.pull().await.unwrap();
        let held = config.experiments().into_iter().find(|assignment| assignment.experiment == "left");
        before.push((config, held.map(|assignment| assignment.variation)));
    }
    assert!(before.iter().filter(|(_, held)| held.as_deref() == Some("treatment")).count() > 10, "both variations");
    let mut reweighted = two_arms("pay.button", json!("grey"), json!("blue"));
    reweighted["layer_range"] = json!([0.0, 0.6]);
    reweighted["weights"] = json!([0.8, 0.2]);
    admin.update_experiment(workspace, "left", &reweighted).await.unwrap();
    for (config, held) in &before {
        config.pull().await.unwrap();
        let now = config.experiments().into_iter().find(|assignment| assignment.experiment == "left");
        assert_eq!(&now.map(|assignment| assignment.variation), held, "sticky across the weight change");
    }
    // A device cannot pick its own variation: a held assignment counts only with the server's proof.
    let opt_in = midship_api::DeviceSecurityRequest { unsigned_config_pull: true, ..Default::default() };
    admin.set_device_security(workspace, &opt_in).await.unwrap();
    let pull = |device: String, held: Value| {
        let body = json!({ "app_id": fixture.app_id, "workspace_id": workspace, "device_id": device,
                           "platform": "android", "experiments": held });
        let request = fixture.server.http.post(fixture.server.url("/api/client/v1/config/pull")).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut chooser = None;
    for index in 0..50 {
        let device = format!("chooser-{index}");
        let answer = pull(device.clone(), json!([])).await;
        if answer["experiments"][0]["experiment"] == "left" {
            chooser = Some((device, answer["experiments"][0].clone()));
            break;
        }
    }
    let (device, given) = chooser.expect("a device in the experiment");
    let other = if given["variation"] == "control" { "treatment" } else { "control" };
    let forged = json!([{ "experiment": "left", "variation": other, "unit": device, "proof": "0".repeat(32) }]);
    let answer = pull(device.clone(), forged).await;
    assert_eq!(answer["experiments"][0]["variation"], given["variation"], "a forged holding is ignored");
    let borrowed = json!([{ "experiment": "left", "variation": other, "unit": device, "proof": given["proof"] }]);
    let answer = pull(device.clone(), borrowed).await;
    assert_eq!(answer["experiments"][0]["variation"], given["variation"], "a proof fits one variation");
    let kept =
        json!([{ "experiment": "left", "variation": given["variation"], "unit": device, "proof": given["proof"] }]);
    assert_eq!(pull(device, kept).await["experiments"][0]["variation"], given["variation"]);
    reweighted["variations"][1]["values"]["pay.button"] = json!("green");
    let (status, _, _) = refused(admin.update_experiment(workspace, "left", &reweighted).await);
    assert_eq!(status, 409);

    // No exposures at all: every comparison and the power estimate say why there is no number.
    let results = admin.experiment_results(workspace, "left").await.unwrap();
    let text = results.results.to_string();
    assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
    assert_eq!(results.results["units"], json!([0, 0]));
    assert_eq!(results.results["power"]["status"], "not_enough_data");
    for metric in results.results["metrics"].as_array().unwrap() {
        assert_eq!(metric["variations"][1]["comparison"]["status"], "not_enough_data", "{metric}");
    }
    assert_eq!(results.results["metrics"].as_array().unwrap().len(), 4, "the default metrics");

    // Debug serves the whitelist only, and says so.
    let mut debugged = two_arms("pay.limit", json!(100), json!(300));
    debugged["debug_whitelist"] = json!({ "qa-phone": "treatment" });
    admin.set_experiment_phase(workspace, "right", PhaseName::Stopped).await.unwrap();
    // A value of the wrong type for its switch is refused when the experiment would go live.
    admin
        .create_experiment(workspace, &create("typed", "other", two_arms("pay.limit", json!(100), json!("lots"))))
        .await
        .unwrap();
    let (status, code, message) = refused(admin.set_experiment_phase(workspace, "typed", PhaseName::Running).await);
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    assert!(message.contains("$.variations[1].values[\"pay.limit\"]") && message.contains("number"), "{message}");
    admin.create_experiment(workspace, &create("debugged", "other", debugged)).await.unwrap();
    admin.set_experiment_phase(workspace, "debugged", PhaseName::Debug).await.unwrap();
    let (config, _) = fixture.device("qa-phone");
    config.pull().await.unwrap();
    assert_eq!(config.get_f64("pay.limit", 0.0), 300.0);
    let debug = config.experiments().into_iter().find(|assignment| assignment.experiment == "debugged").unwrap();
    assert!(debug.debug);
    let (someone, _) = fixture.device("someone");
    someone.pull().await.unwrap();
    assert_eq!(someone.get_f64("pay.limit", 0.0), 100.0);

    // Promotion: only of a running experiment, of a variation it has; with approvals required it
    // waits for a second person and the experiment is stopped with its decision.
    let (status, _, _) = refused(admin.promote_variation(workspace, "right", "treatment", "").await);
    assert_eq!(status, 409, "stopped");
    let (status, _, _) = refused(admin.promote_variation(workspace, "left", "purple", "").await);
    assert_eq!(status, 404);
    admin.set_approval_policy(workspace, true).await.unwrap();
    let promotion = admin.promote_variation(workspace, "left", "treatment", "blue wins").await.unwrap();
    let approval = promotion.approval.expect("waits for approval");
    assert_eq!(approval.change, "config.publish");
    assert_eq!(promotion.experiment.phase, "stopped");
    let draft = admin.get_switch(workspace, "pay.button").await.unwrap();
    assert_eq!(draft.draft.unwrap()["default_value"], json!("blue"), "staged in the draft");
    assert_eq!(draft.published.unwrap()["default_value"], json!("grey"), "not published before approval");
}

/// A gateway experiment on `com.bank.balance`: control stays on the API's group, `v2` goes to
/// another backend; 30 / 70.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_experiment_splits_calls_between_backends_and_a_device_keeps_its_backend() {
    use crate::gateway::{Call, Seen, fixture, upstream};
    use midship_api::CreateApiGroupRequest;

    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let workspace = fixture.workspace.as_str();
    let seen_v2: Arc<std::sync::Mutex<Vec<Seen>>> = Arc::default();
    let base_url = upstream(seen_v2.clone()).await;
    let group = CreateApiGroupRequest { name: "core-v2".into(), base_url, ..CreateApiGroupRequest::default() };
    admin.create_api_group(workspace, &group).await.unwrap();
    admin
        .create_laboratory(
            workspace,
            &CreateLaboratory { key: "backend".into(), name: String::new(), description: String::new() },
        )
        .await
        .unwrap();
    let definition = json!({
        "operation_type": "com.bank.balance",
        "variations": [{ "key": "control" }, { "key": "v2", "group": "core-v2" }],
        "weights": [0.3, 0.7],
        "metrics": [{ "key": "calls", "kind": { "type": "mean", "measure": { "type": "launches" } } }]
    });
    let request = CreateExperiment { key: "balance-v2".into(), laboratory: "backend".into(), definition };
    admin.create_experiment(workspace, &request).await.unwrap();
    admin.set_experiment_phase(workspace, "balance-v2", PhaseName::Running).await.unwrap();

    let devices: Vec<String> = (0..10_000).map(|index| format!("DEVICE{index:010}")).collect();
    let call = |device: &str| {
        let device = device.to_owned();
        let fixture = &fixture;
        async move {
            let mut call = Call::new("com.bank.balance", r#"{"accountId":"A1"}"#);
            call.device_id = Some(&device);
            let (status, headers, _) = fixture.call(call).await;
            assert_eq!((status.as_u16(), crate::gateway::result(&headers)), (200, 1000));
        }
    };
    futures_util::stream::iter(&devices).for_each_concurrent(16, |device| call(device)).await;
    let on_v2 = seen_v2.lock().unwrap().len();
    let on_core = fixture.seen.lock().unwrap().len();
    assert_eq!(on_v2 + on_core, 10_000);
    let share = on_v2 as f64 / 10_000.0;
    assert!((share - 0.7).abs() <= 0.01, "{on_v2} of 10,000 calls on v2");
    let experiment_header = |seen: &Seen| seen.headers["x-midship-experiment"].to_str().unwrap().to_owned();
    assert!(seen_v2.lock().unwrap().iter().all(|seen| experiment_header(seen) == "balance-v2=v2"));
    assert!(fixture.seen.lock().unwrap().iter().all(|seen| experiment_header(seen) == "balance-v2=control"));

    // Each device keeps its backend, call after call.
    let backend_of = |device: &str| {
        let on = |seen: &Arc<std::sync::Mutex<Vec<Seen>>>| {
            seen.lock().unwrap().iter().filter(|seen| seen.headers["x-midship-device-id"] == device).count()
        };
        (on(&fixture.seen), on(&seen_v2))
    };
    for device in &devices[..200] {
        call(device).await;
        call(device).await;
        let (core, v2) = backend_of(device);
        assert!((core, v2) == (3, 0) || (core, v2) == (0, 3), "{device}: {core} on core, {v2} on v2");
    }

    // The routed calls are the exposures, one per device.
    let results = admin.experiment_results(workspace, "balance-v2").await.unwrap();
    assert_eq!(results.results["units"], json!([on_core, on_v2]), "{}", results.results["units"]);
}
