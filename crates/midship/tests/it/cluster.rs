//! Three `midship serve` nodes on loopback over real engines — PostgreSQL, NATS with JetStream
//! and SeaweedFS's S3 gateway — driven as one installation: devices (the Rust SDK, and a client
//! written from docs/protocol.md in Python) on different nodes, changes made through one node
//! seen by the others, and a node killed with SIGKILL in the middle of a broadcast.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use midship_sdk::push::{PushClient, PushNotification};
use midship_sdk::rpc::DeviceIdentity;
use midship_sdk::sync::{Credentials, SyncClient, SyncSettings};
use midship_signing::client::SignType;
use midship_testkit::{NatsServer, SeaweedS3, eventually_blocking, eventually_within_blocking};
use serde_json::Value;
use sqlx::{Connection, PgConnection, Row};

use crate::ServerProcess;

/// The key-encryption key every node shares (base64 of 32 bytes).
const SHARED_KEY: &str = "bWlkc2hpcC1jbHVzdGVyLXRlc3Qta2V5LTMyYnl0ZXM=";
const BUCKET: &str = "midship-packages";
const NODES: usize = 3;

struct Installation {
    nodes: Vec<Option<ServerProcess>>,
    token: String,
    _data_dirs: Vec<tempfile::TempDir>,
}

impl Installation {
    fn start(database_url: &str, nats: &NatsServer, s3: &SeaweedS3) -> Self {
        let data_dirs: Vec<_> = (0..NODES).map(|_| tempfile::tempdir().unwrap()).collect();
        let nats_url = nats.url();
        let blob_url = s3.blob_url(BUCKET);
        let args = ["--database-url", database_url, "--nats-url", &nats_url, "--blob-url", &blob_url];
        let env = [
            ("MIDSHIP_SECRETS__KEY", SHARED_KEY),
            ("MIDSHIP_BLOBS__ACCESS_KEY_ID", s3.access_key_id.as_str()),
            ("MIDSHIP_BLOBS__SECRET_ACCESS_KEY", s3.secret_access_key.as_str()),
        ];
        // The first node bootstraps the database and writes the admin token.
        let first = ServerProcess::start_with_env(data_dirs[0].path(), &args, &env);
        let token = first.admin_token();
        let mut nodes = vec![Some(first)];
        for data_dir in &data_dirs[1..] {
            nodes.push(Some(ServerProcess::start_with_env(data_dir.path(), &args, &env)));
        }
        Self { nodes, token, _data_dirs: data_dirs }
    }

    fn node(&self, index: usize) -> &ServerProcess {
        self.nodes[index].as_ref().expect("a live node")
    }

    fn ready(&self, index: usize) -> Value {
        reqwest::blocking::get(format!("{}/readyz", self.node(index).base_url)).unwrap().json().unwrap()
    }

    fn send(&self, via: usize, workspace: &str, to: &str, id: &str) -> Value {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/workspaces/{workspace}/sync/send", self.node(via).base_url))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "biz_type": "CHAT-MSG", "link_token": to, "third_msg_id": id, "payload": id }))
            .send()
            .unwrap();
        assert!(response.status().is_success(), "send via node {via}: {}", response.status());
        response.json().unwrap()
    }
}

/// A device on the Rust SDK: its sync messages (id, arrival) and push notifications.
struct SdkDevice {
    client: SyncClient,
    messages: Arc<Mutex<Vec<(String, Instant)>>>,
    pushes: Arc<Mutex<Vec<String>>>,
    state_dir: tempfile::TempDir,
}

fn connect_sdk_device(
    runtime: &tokio::runtime::Runtime,
    node: &ServerProcess,
    app: &App,
    user: &str,
    state_dir: tempfile::TempDir,
) -> SdkDevice {
    let _entered = runtime.enter();
    let credentials = Credentials::Secret { secret: app.secret.clone(), sign_type: SignType::HmacSha256 };
    let mut settings = SyncSettings::new(&node.base_url, &app.app_id, &app.workspace, credentials, state_dir.path());
    settings.identity = DeviceIdentity {
        user_id: Some(user.to_owned()),
        platform: Some("android".into()),
        ..DeviceIdentity::default()
    };
    let client = SyncClient::new(settings).unwrap();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let received = messages.clone();
    client.register("CHAT-MSG", move |message| {
        received.lock().unwrap().push((message.msg_id.clone(), Instant::now()));
        async {}
    });
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let notified = pushes.clone();
    PushClient::new(client.clone()).on_notification(move |notification| {
        if let PushNotification::Message(message) = notification {
            notified.lock().unwrap().push(message.task_id.clone());
        }
        async {}
    });
    client.start();
    SdkDevice { client, messages, pushes, state_dir }
}

/// The device written from docs/protocol.md (`cluster_client.py listen`).
struct DocDevice {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl DocDevice {
    fn connect(node: &ServerProcess, app: &App, user: &str, count: usize) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/cluster_client.py");
        let mut child = Command::new("python3")
            .args([
                script,
                "listen",
                &node.base_url,
                &app.app_id,
                &app.workspace,
                &app.secret,
                user,
                &count.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        assert_eq!(lines.recv_timeout(Duration::from_secs(30)).unwrap(), "ready");
        Self { child, lines }
    }

    /// The messages it printed, with their arrival (the Unix time in seconds, as Python saw it).
    fn finish(mut self) -> Vec<(String, f64)> {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the doc device failed: {status}");
        self.lines
            .try_iter()
            .map(|line| {
                let frame: Value = serde_json::from_str(&line).unwrap();
                (frame["msg_id"].as_str().unwrap().to_owned(), frame["at"].as_f64().unwrap())
            })
            .collect()
    }
}

struct App {
    app_id: String,
    workspace: String,
    secret: String,
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[test]
fn three_nodes_on_postgres_nats_and_seaweedfs_serve_as_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database_url = runtime.block_on(midship_testkit::fresh_postgres_database("cluster"));
    let nats = NatsServer::start();
    let s3 = SeaweedS3::start();
    let mut installation = Installation::start(&database_url, &nats, &s3);
    let token = installation.token.clone();
    eventually_blocking("every node hears the others", || installation.ready(0), |ready| ready["live_nodes"] == 3);

    let created = installation.node(0).cli_json(&token, &["app", "create", "bank"]);
    let app = App {
        app_id: created["app_id"].as_str().unwrap().to_owned(),
        workspace: created["workspaces"][2]["workspace_id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    };
    let workspace = app.workspace.as_str();
    // A bizType configured through node 2 is known to node 3 at once (the announcement drops
    // its cached configurations).
    installation.node(1).cli_json(&token, &["sync", "config", "set", "--workspace", workspace, "CHAT-MSG"]);

    // A switch published on node 2 is served by node 1 within a second.
    installation.node(0).allow_unsigned_config_pull(&token, workspace);
    let pull = || {
        reqwest::blocking::Client::new()
            .post(format!("{}/api/client/v1/config/pull", installation.node(0).base_url))
            .json(&serde_json::json!({ "app_id": app.app_id, "workspace_id": workspace, "device_id": "D-1" }))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap()
    };
    assert!(pull()["values"].get("wallet.limit").is_none(), "{}", pull());
    installation.node(1).cli_json(
        &token,
        &["switch", "set", "--workspace", workspace, "wallet.limit", "--type", "number", "--default", "500"],
    );
    installation.node(1).cli_json(&token, &["switch", "publish", "--workspace", workspace]);
    let published = Instant::now();
    let served =
        eventually_blocking("node 1 serves node 2's switch", pull, |pulled| pulled["values"]["wallet.limit"] == 500);
    let switch_delay = published.elapsed();
    println!("node 1 served node 2's switch {switch_delay:?} after the publish answered");
    assert!(switch_delay < Duration::from_secs(1), "served after {switch_delay:?}: {served}");

    // Devices on every node: the SDK on each, and the doc client on node 3.
    let sdk: Vec<SdkDevice> = ["alice", "bob", "carol"]
        .iter()
        .enumerate()
        .map(|(index, user)| {
            connect_sdk_device(&runtime, installation.node(index), &app, user, tempfile::tempdir().unwrap())
        })
        .collect();
    let rounds = 20;
    let doc_device = DocDevice::connect(installation.node(2), &app, "dave", rounds * NODES);
    for (index, user) in ["alice", "bob", "carol"].iter().enumerate() {
        eventually_blocking(
            "the SDK device is connected",
            || {
                installation
                    .node((index + 1) % NODES)
                    .cli_json(&token, &["sync", "status", "--workspace", workspace, "CHAT-MSG", "--to", user])
            },
            |status| status["online"] == true,
        );
    }

    // Messages sent through every node reach devices on every node, live.
    let mut sent_at: HashMap<String, (Instant, f64)> = HashMap::new();
    for round in 0..rounds {
        for via in 0..NODES {
            for user in ["alice", "bob", "carol", "dave"] {
                let id = format!("{user}-{round}-{via}");
                sent_at.insert(id.clone(), (Instant::now(), unix_seconds()));
                assert_eq!(installation.send(via, workspace, user, &id)["result"], "SUCCESS");
            }
        }
    }
    let expected = rounds * NODES;
    for device in &sdk {
        eventually_blocking(
            "every message arrives",
            || device.messages.lock().unwrap().len(),
            |count| *count >= expected,
        );
    }
    let mut latencies: Vec<Duration> = sdk
        .iter()
        .flat_map(|device| device.messages.lock().unwrap().clone())
        .map(|(id, arrived)| arrived.duration_since(sent_at[&id].0))
        .collect();
    let doc_messages = doc_device.finish();
    assert_eq!(doc_messages.len(), expected, "the doc device got every message once");
    latencies.extend(doc_messages.iter().map(|(id, at)| Duration::from_secs_f64((at - sent_at[id].1).max(0.0))));
    latencies.sort();
    let p99 = percentile(&latencies, 0.99);
    println!(
        "cluster sync latency over {} deliveries: p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        percentile(&latencies, 0.5),
        p99,
        latencies.last().unwrap()
    );
    // Arrival at all proves live delivery (without the bus a device on another node gets nothing
    // until it reconnects); the latency target is shown by scripts/bench-cluster, not here, where
    // the whole test suite shares the cores.
    assert!(*latencies.last().unwrap() < Duration::from_secs(5), "p99 {p99:?}");

    // A package uploaded through node 1 is downloaded through node 3, resumed with a range.
    let files = tempfile::tempdir().unwrap();
    let zip = crate::cli_flow::h5_zip(files.path(), "1.0.0");
    let uploaded = installation
        .node(0)
        .cli_json(&token, &["package", "upload", "--workspace", workspace, "--kind", "h5", zip.to_str().unwrap()]);
    let sha256 = uploaded["sha256"].as_str().unwrap();
    let original = std::fs::read(&zip).unwrap();
    let blob_url = format!("{}/delivery/blobs/{sha256}", installation.node(2).base_url);
    let http = reqwest::blocking::Client::new();
    let first = http.get(&blob_url).header("range", "bytes=0-99999").send().unwrap();
    assert_eq!(first.status(), 206);
    let mut downloaded = first.bytes().unwrap().to_vec();
    let rest = http.get(&blob_url).header("range", format!("bytes={}-", downloaded.len())).send().unwrap();
    assert_eq!(rest.status(), 206);
    downloaded.extend_from_slice(&rest.bytes().unwrap());
    assert!(downloaded == original, "node 3 served node 1's upload, resumed");
    assert!(!installation.node(0).data_dir.join("packages").exists(), "packages are in object storage only");

    // A nonce used on node 1 is refused on node 2.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/cluster_client.py");
    let replay = Command::new("python3")
        .args([script, "replay", &installation.node(0).base_url, &installation.node(1).base_url])
        .args([&app.app_id, workspace, &app.secret])
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let statuses: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!((statuses["first"].as_i64(), statuses["replayed"].as_i64()), (Some(1000), Some(7015)), "{statuses}");

    let _nats = messages_sent_while_the_bus_is_down_arrive_after_it_returns(&installation, &app, &sdk, nats);
    broadcast_survives_a_killed_node(&runtime, &mut installation, &database_url, &app, sdk);

    // The object store gone: an upload fails with a clear error and nothing is offered.
    drop(s3);
    let survivor = (0..NODES).find(|index| installation.nodes[*index].is_some()).unwrap();
    let zip = crate::cli_flow::h5_zip(files.path(), "2.0.0");
    let refused = installation
        .node(survivor)
        .cli(&token, &["package", "upload", "--workspace", workspace, "--kind", "h5", zip.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // The documented answer to a dependency being down (the node's log names the object store).
    assert!(stderr.contains("unavailable") && stderr.contains("503"), "{stderr}");
    let packages = installation.node(survivor).cli_json(&token, &["package", "list", "--workspace", workspace]);
    let versions: Vec<&str> =
        packages["items"].as_array().unwrap().iter().filter_map(|item| item["version"].as_str()).collect();
    assert_eq!(versions, ["1.0.0"], "nothing half-stored is offered");
}

/// NATS stopped and started again: what was sent meanwhile reaches every device, through the
/// storage catch-up each node runs when its bus comes back.
fn messages_sent_while_the_bus_is_down_arrive_after_it_returns(
    installation: &Installation,
    app: &App,
    sdk: &[SdkDevice],
    mut nats: NatsServer,
) -> NatsServer {
    let before: Vec<usize> = sdk.iter().map(|device| device.messages.lock().unwrap().len()).collect();
    let outage = std::thread::spawn(move || {
        nats.restart_after(Duration::from_secs(2));
        nats
    });
    std::thread::sleep(Duration::from_millis(300));
    let during = 5;
    for index in 0..during {
        for user in ["alice", "bob", "carol"] {
            let id = format!("{user}-outage-{index}");
            assert_eq!(installation.send(0, &app.workspace, user, &id)["result"], "SUCCESS", "storage takes sends");
        }
    }
    let nats = outage.join().unwrap();
    for (device, before) in sdk.iter().zip(before) {
        eventually_within_blocking(
            "messages sent during the outage arrive",
            Duration::from_secs(60),
            || device.messages.lock().unwrap().len(),
            |count| *count >= before + during,
        );
    }
    nats
}

/// A broadcast to 20,000 devices; the node dispatching it is killed with SIGKILL mid-way.
/// Another node takes its lease over and finishes: every device gets the push exactly once.
fn broadcast_survives_a_killed_node(
    runtime: &tokio::runtime::Runtime,
    installation: &mut Installation,
    database_url: &str,
    app: &App,
    sdk: Vec<SdkDevice>,
) {
    let token = installation.token.clone();
    let workspace = app.workspace.as_str();
    let fleet = 20_000;
    runtime.block_on(async {
        let mut database = PgConnection::connect(database_url).await.unwrap();
        sqlx::query(
            "INSERT INTO push_devices (workspace_id, device_id, platform, channel, reported_at)
             SELECT $1, 'FLEET' || lpad(n::text, 11, '0'), 'android', 'own', 0 FROM generate_series(1, $2) AS n",
        )
        .bind(workspace)
        .bind(fleet)
        .execute(&mut database)
        .await
        .unwrap();
    });
    for device in &sdk {
        runtime.block_on(PushClient::new(device.client.clone()).report_token(None, None)).unwrap();
    }
    let total = fleet as i64 + sdk.len() as i64;
    let task = installation.node(1).cli_json(
        &token,
        &[
            "push",
            "broadcast",
            "--workspace",
            workspace,
            "--id",
            "fleet-notice",
            "--title",
            "Service notice",
            "--content",
            "Maintenance tonight",
        ],
    );
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    assert_eq!(task["targets"].as_i64(), Some(total), "{task}");

    // The node holding the task's lease, once it has sent part of it.
    let (holder, sent_before_kill) = runtime.block_on(async {
        let mut database = PgConnection::connect(database_url).await.unwrap();
        loop {
            let row = sqlx::query(
                "SELECT l.holder, (SELECT count(*) FROM push_deliveries d WHERE d.task_id = $1 AND d.sent_at IS NOT NULL)
                 FROM leases l WHERE l.name = 'push-task:' || $1",
            )
            .bind(&task_id)
            .fetch_optional(&mut database)
            .await
            .unwrap();
            if let Some(row) = row {
                let sent: i64 = row.get(1);
                if sent > 0 {
                    return (row.get::<String, _>(0), sent);
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let victim = (0..NODES).find(|index| installation.ready(*index)["node_id"] == holder.as_str()).unwrap();
    let mut killed = installation.nodes[victim].take().unwrap();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    println!("killed node {} after {sent_before_kill} of {total} pushes", victim + 1);
    assert!(sent_before_kill < total, "the kill came mid-broadcast");

    // Its devices reconnect to another node (as a load balancer would send them).
    let survivor = (0..NODES).find(|index| installation.nodes[*index].is_some()).unwrap();
    let mut devices = Vec::new();
    for (index, device) in sdk.into_iter().enumerate() {
        if index == victim {
            device.client.stop();
            let user = ["alice", "bob", "carol"][index];
            let pushes = device.pushes.clone();
            let moved = connect_sdk_device(runtime, installation.node(survivor), app, user, device.state_dir);
            devices.push((moved, Some(pushes)));
        } else {
            devices.push((device, None));
        }
    }
    // Within the task lease (15 s) and the time to send the rest.
    let stats = eventually_within_blocking(
        "another node finishes the broadcast",
        Duration::from_secs(90),
        || {
            installation
                .node(survivor)
                .cli_json(&token, &["push", "stats", "--workspace", workspace, "--task", &task_id])
        },
        |stats| stats["total"]["sent"].as_i64() == Some(total),
    );
    assert_eq!(stats["total"]["failed"].as_i64().unwrap_or(0), 0, "{stats}");
    let per_device: BTreeMap<String, i64> = runtime.block_on(async {
        let mut database = PgConnection::connect(database_url).await.unwrap();
        sqlx::query(
            "SELECT s.target_id, count(*) FROM sync_messages m JOIN sync_streams s ON s.stream_id = m.stream_id
             WHERE s.workspace_id = $1 AND s.biz_type = 'midship.push' AND m.third_msg_id = $2 GROUP BY s.target_id",
        )
        .bind(workspace)
        .bind(&task_id)
        .fetch_all(&mut database)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get::<String, _>(0), row.get::<i64, _>(1)))
        .collect()
    });
    assert_eq!(per_device.len() as i64, total, "every device has the push");
    assert!(per_device.values().all(|count| *count == 1), "no device has it twice");
    for (device, earlier) in &devices {
        let pushes = eventually_blocking(
            "the device shows the push",
            || {
                let mut all = device.pushes.lock().unwrap().clone();
                all.extend(earlier.as_ref().map(|earlier| earlier.lock().unwrap().clone()).unwrap_or_default());
                all
            },
            |pushes| pushes.contains(&task_id),
        );
        assert_eq!(pushes.iter().filter(|id| **id == task_id).count(), 1, "shown once: {pushes:?}");
    }
    for (device, _) in devices {
        device.client.stop();
    }
}
