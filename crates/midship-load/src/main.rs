//! `midship-load`: opens many device connections to a running `midship serve` and measures the
//! long connection (docs/benchmarks.md, `scripts/bench-sync`):
//!
//! - `idle`: N connections that only ping; reports how many are held and, with `--server-pid`,
//!   the server's resident memory before and after.
//! - `latency`: D connected users; a backend sends targeted messages through the admin API at a
//!   fixed rate; reports send-to-receipt latency percentiles and whether every message arrived.
//! - `global`: N connected devices; one global message; reports when the last device had it.
//! - `push`: N devices register for push (`midship.push.report` over their connection), stay
//!   connected or leave; one broadcast; reports how fast the dispatcher handed it to every
//!   device's own-channel stream and, for connected devices, when the last one had it.
//!
//! Devices speak `midship.v1.protobuf` with signed hellos, through the same frame code as the
//! server and the SDK; acks are sent for every message, as a real client would.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use midship_admin_client::AdminClient;
use midship_api::{CreateAppRequest, PushAudience, PushMessageBody, PushRequest, SyncBatchRequest, SyncSendRequest};
use midship_protocol::builtins::operation;
use midship_protocol::frame::{Ack, Hello, Ping};
use midship_protocol::{ClientFrame, Codec, ServerFrame, WireMessage};
use midship_sdk::rpc::CallSigner;
use midship_sdk::sync::{rpc_call, sign_hello};
use midship_signing::client::SignType;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Debug, Parser)]
#[command(name = "midship-load", about = "Load generator for Midship's long connection")]
struct Cli {
    /// The server, e.g. http://127.0.0.1:7070; several nodes of a cluster comma-separated, over
    /// which devices and senders are spread round-robin.
    #[arg(long)]
    server: String,
    /// An admin token: the tool creates its own app and bizTypes.
    #[arg(long)]
    token: String,
    /// Handshakes in progress at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Hold idle connections and report memory.
    Idle {
        #[arg(long)]
        connections: usize,
        /// Seconds to hold them once all are open.
        #[arg(long, default_value_t = 10)]
        hold: u64,
        /// Report this process's resident memory (the server's) before and after.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Targeted sync latency at a fixed send rate.
    Latency {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Concurrent HTTP senders.
        #[arg(long, default_value_t = 64)]
        senders: usize,
        /// Messages per send call: 1 uses `sync/send`, more use `sync/batch`.
        #[arg(long, default_value_t = 1)]
        batch: u64,
    },
    /// One global message to every connected device.
    Global {
        #[arg(long)]
        devices: usize,
    },
    /// One push broadcast to every registered device.
    Push {
        #[arg(long)]
        devices: usize,
        /// Close each connection once registered: the broadcast waits in offline devices' streams.
        #[arg(long)]
        offline: bool,
    },
}

/// The app the tool made for itself.
struct Target {
    /// The nodes devices connect to, round-robin.
    servers: Vec<String>,
    app_id: String,
    workspace: String,
    secret: String,
    /// Set-up calls and broadcasts go through the first node.
    admin: AdminClient,
    /// One admin client per node, for senders spread over them.
    admins: Vec<AdminClient>,
}

impl Target {
    /// RPC frames on a load device's connection, signed with the app's secret.
    fn signer(&self) -> CallSigner<'_> {
        CallSigner {
            sign_type: SignType::HmacSha256,
            secret: &self.secret,
            app_id: &self.app_id,
            workspace_id: &self.workspace,
            device_id: "",
            user_id: "",
        }
    }

    async fn create(servers: &str, token: &str) -> anyhow::Result<Self> {
        let servers: Vec<String> = servers.split(',').map(|server| server.trim().to_owned()).collect();
        let admins = servers
            .iter()
            .map(|server| AdminClient::new(server, token).context("admin client"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let admin = admins[0].clone();
        let name = format!("load-{}", rand::random::<u32>());
        let created = admin
            .create_app(&CreateAppRequest { name, platforms: vec![], workspaces: None })
            .await
            .context("cannot create the load test's app")?;
        let workspace = created.workspaces[0].workspace_id.clone();
        admin.put_sync_config(&workspace, &json!({ "biz_type": "CHAT-MSG" })).await?;
        admin.put_sync_config(&workspace, &json!({ "biz_type": "NOTICE", "scope": "global" })).await?;
        Ok(Self { servers, app_id: created.app.app_id, workspace, secret: created.secret, admin, admins })
    }

    fn hello(&self, device_id: &str, user_id: &str) -> Hello {
        let mut hello = Hello {
            app_id: self.app_id.clone(),
            workspace_id: self.workspace.clone(),
            device_id: Some(device_id.to_owned()),
            user_id: Some(user_id.to_owned()),
            platform: Some("android".into()),
            app_version: Some("1.0.0".into()),
            foreground: true,
            ..Hello::default()
        };
        sign_hello(&mut hello, &self.secret, SignType::HmacSha256);
        hello
    }
}

fn encode(frame: ClientFrame) -> Message {
    match Codec::Protobuf.encode_client(frame) {
        WireMessage::Binary(bytes) => Message::Binary(bytes),
        WireMessage::Text(bytes) => Message::Text(bytes.try_into().expect("UTF-8 frames")),
    }
}

/// Microseconds since the tool started, the clock senders and devices share.
fn micros_since(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// What devices report.
#[derive(Default)]
struct Observed {
    connected: AtomicUsize,
    failed: AtomicUsize,
    received: AtomicU64,
    latencies_micros: Mutex<Vec<u64>>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, says hello and waits for the welcome, holding one of the handshake slots; with
/// `register_push`, then reports the device for push and waits for the answer.
async fn handshake(target: &Target, index: usize, gate: &Semaphore, register_push: bool) -> Option<Socket> {
    let _slot = gate.acquire().await.expect("the gate stays open");
    let server = &target.servers[index % target.servers.len()];
    let url = format!("{}/ws", server.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("a ws url");
    request.headers_mut().insert("sec-websocket-protocol", Codec::Protobuf.subprotocol().parse().expect("ascii"));
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(30), connecting).await.ok()?.ok()?;
    let hello = target.hello(&format!("LOADDEVICE{index:07}"), &format!("user-{index}"));
    socket.send(encode(ClientFrame::Hello(Box::new(hello)))).await.ok()?;
    let welcome = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.ok()??.ok()?;
    let Message::Binary(bytes) = welcome else { return None };
    let ServerFrame::Welcome(_) = Codec::Protobuf.decode_server(&WireMessage::Binary(bytes), 1 << 24).ok()? else {
        return None;
    };
    if register_push {
        let call = rpc_call(1, operation::PUSH_REPORT, b"{}".to_vec(), Some(&target.signer()));
        socket.send(encode(ClientFrame::Rpc(call))).await.ok()?;
        loop {
            let answer = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.ok()??.ok()?;
            let Message::Binary(bytes) = answer else { continue };
            if let Ok(ServerFrame::RpcResult(result)) =
                Codec::Protobuf.decode_server(&WireMessage::Binary(bytes), 1 << 24)
            {
                if result.result_status != 1000 {
                    return None;
                }
                break;
            }
        }
    }
    Some(socket)
}

/// One device: after the handshake, ack every sync message (recording its latency from the
/// payload's send time) and ping every 25 s, until `stop`.
async fn run_device(
    target: Arc<Target>,
    index: usize,
    start: Instant,
    observed: Arc<Observed>,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    mode: DeviceMode,
) {
    let register_push = mode != DeviceMode::Sync;
    let Some(mut socket) = handshake(&target, index, &gate, register_push).await else {
        observed.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    observed.connected.fetch_add(1, Ordering::Relaxed);
    if mode == DeviceMode::PushOffline {
        let _ = socket.close(None).await;
        return;
    }
    let mut heartbeat = tokio::time::interval(Duration::from_secs(25));
    heartbeat.tick().await;
    loop {
        tokio::select! {
            message = socket.next() => {
                let wire = match message {
                    Some(Ok(Message::Binary(bytes))) => WireMessage::Binary(bytes),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(ServerFrame::Sync(data)) = Codec::Protobuf.decode_server(&wire, 1 << 24) else { continue };
                let now = micros_since(start);
                if let Some(sent) = sent_micros(&data.payload) {
                    observed.latencies_micros.lock().expect("not poisoned").push(now.saturating_sub(sent));
                }
                observed.received.fetch_add(1, Ordering::Relaxed);
                // A push device reports arrival as the SDK's push client does.
                let arrival = (mode == DeviceMode::Push).then(|| arrival_report(&target, &data.payload)).flatten();
                let ack = encode(ClientFrame::Ack(Ack { biz_type: data.biz_type, seq: data.seq }));
                if socket.send(ack).await.is_err() {
                    break;
                }
                if let Some(report) = arrival && socket.send(report).await.is_err() {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                if socket.send(encode(ClientFrame::Ping(Ping { id: 0 }))).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => {
                let _ = socket.close(None).await;
                return;
            }
        }
    }
    observed.connected.fetch_sub(1, Ordering::Relaxed);
    observed.failed.fetch_add(1, Ordering::Relaxed);
}

/// The send time a payload carries as `t=<micros>` (a sync payload, or a push's content).
fn sent_micros(payload: &str) -> Option<u64> {
    let digits = &payload[payload.find("t=")? + 2..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The signed `midship.push.ack` frame for a push message's payload.
fn arrival_report(target: &Target, payload: &str) -> Option<Message> {
    let message: serde_json::Value = serde_json::from_str(payload).ok()?;
    let body = json!({ "task_id": message.get("task_id")?, "event": "delivered" });
    let body = serde_json::to_vec(&body).expect("JSON serializes");
    let call = rpc_call(2, operation::PUSH_ACK, body, Some(&target.signer()));
    Some(encode(ClientFrame::Rpc(call)))
}

/// What a device does after its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceMode {
    Sync,
    /// Registers for push, then receives like a sync device.
    Push,
    /// Registers for push, then leaves.
    PushOffline,
}

/// Starts `count` devices and waits until each is connected or failed.
async fn connect_devices(
    target: &Arc<Target>,
    count: usize,
    concurrency: usize,
    start: Instant,
    stop: &watch::Receiver<bool>,
    mode: DeviceMode,
) -> anyhow::Result<(Arc<Observed>, Duration)> {
    let observed = Arc::new(Observed::default());
    let gate = Arc::new(Semaphore::new(concurrency));
    let began = Instant::now();
    for index in 0..count {
        tokio::spawn(run_device(target.clone(), index, start, observed.clone(), gate.clone(), stop.clone(), mode));
    }
    loop {
        let done = observed.connected.load(Ordering::Relaxed) + observed.failed.load(Ordering::Relaxed);
        if done >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = began.elapsed();
    let connected = observed.connected.load(Ordering::Relaxed);
    println!("connected {connected} of {count} devices in {:.1} s", elapsed.as_secs_f64());
    if connected == 0 {
        bail!("no device could connect");
    }
    Ok((observed, elapsed))
}

/// Resident memory of a process, from /proc, in KiB.
fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("cannot read /proc")?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS")?;
    line.split_whitespace().nth(1).context("no value")?.parse().context("not a number")
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index] as f64 / 1000.0
}

fn report_latencies(label: &str, observed: &Observed) {
    let mut latencies = observed.latencies_micros.lock().expect("not poisoned").clone();
    latencies.sort_unstable();
    println!(
        "{label}: {} messages, latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        latencies.last().map_or(f64::NAN, |max| *max as f64 / 1000.0),
    );
}

async fn idle(cli: &Cli, connections: usize, hold: u64, server_pid: Option<u32>) -> anyhow::Result<()> {
    let target = Arc::new(Target::create(&cli.server, &cli.token).await?);
    let before = server_pid.map(resident_kib).transpose()?;
    let own_before = resident_kib(std::process::id())?;
    let (stop_sender, stop) = watch::channel(false);
    let (observed, _) =
        connect_devices(&target, connections, cli.connect_concurrency, Instant::now(), &stop, DeviceMode::Sync).await?;
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let held = observed.connected.load(Ordering::Relaxed);
    println!("held {held} connections for {hold} s ({} failed or dropped)", observed.failed.load(Ordering::Relaxed));
    if let (Some(pid), Some(before)) = (server_pid, before) {
        let after = resident_kib(pid)?;
        let per_connection = (after.saturating_sub(before)) as f64 * 1024.0 / held.max(1) as f64;
        println!(
            "server resident memory: {:.1} MiB before, {:.1} MiB with {held} connections: {:.1} KiB per connection, {:.0} connections per GiB",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            per_connection / 1024.0,
            (1u64 << 30) as f64 / per_connection.max(1.0),
        );
    }
    let own_after = resident_kib(std::process::id())?;
    println!("load tool resident memory: {:.1} MiB more", own_after.saturating_sub(own_before) as f64 / 1024.0);
    stop_sender.send_replace(true);
    Ok(())
}

struct LatencyRun {
    devices: usize,
    rate: u64,
    seconds: u64,
    senders: usize,
    batch: u64,
}

/// Sends `rate` messages a second, round-robin over the devices' users, and reports the time
/// from each message's due time to its receipt. Latency is counted from when a message was due,
/// not from when a sender got round to it, so a server that falls behind shows it.
async fn latency(cli: &Cli, run: LatencyRun) -> anyhow::Result<()> {
    let target = Arc::new(Target::create(&cli.server, &cli.token).await?);
    let start = Instant::now();
    let (stop_sender, stop) = watch::channel(false);
    let (observed, _) =
        connect_devices(&target, run.devices, cli.connect_concurrency, start, &stop, DeviceMode::Sync).await?;
    let total = run.rate * run.seconds;
    let next_batch = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let due = move |index: u64| begin + Duration::from_micros(index * 1_000_000 / run.rate);
    let mut tasks = Vec::new();
    for sender in 0..run.senders {
        let (target, next_batch, failures) = (target.clone(), next_batch.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let admin = &target.admins[sender % target.admins.len()];
            loop {
                let first = next_batch.fetch_add(1, Ordering::Relaxed) * run.batch;
                if first >= total {
                    return;
                }
                let indices = first..(first + run.batch).min(total);
                // A batch goes when its last message is due, so none goes early.
                tokio::time::sleep_until(due(indices.end - 1).into()).await;
                let messages: Vec<SyncSendRequest> = indices
                    .map(|index| SyncSendRequest {
                        biz_type: "CHAT-MSG".into(),
                        link_token: format!("user-{}", index as usize % run.devices),
                        payload: format!("t={}", due(index).duration_since(start).as_micros()),
                        third_msg_id: format!("m-{index}"),
                        ..SyncSendRequest::default()
                    })
                    .collect();
                let count = messages.len() as u64;
                let sent = if run.batch == 1 {
                    admin.sync_send(&target.workspace, &messages[0]).await.map(|_| ())
                } else {
                    let request = SyncBatchRequest { messages };
                    admin.sync_batch(&target.workspace, &request).await.map(|_| ())
                };
                if sent.is_err() {
                    failures.fetch_add(count, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let sending = begin.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while observed.received.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "sent {total} messages in {} calls of {} over {:.2} s ({:.0}/s, {} failed); received {}",
        total.div_ceil(run.batch),
        run.batch,
        sending.as_secs_f64(),
        total as f64 / sending.as_secs_f64(),
        failures.load(Ordering::Relaxed),
        observed.received.load(Ordering::Relaxed)
    );
    report_latencies("targeted sync", &observed);
    stop_sender.send_replace(true);
    Ok(())
}

async fn global(cli: &Cli, devices: usize) -> anyhow::Result<()> {
    let target = Arc::new(Target::create(&cli.server, &cli.token).await?);
    let start = Instant::now();
    let (stop_sender, stop) = watch::channel(false);
    let (observed, _) =
        connect_devices(&target, devices, cli.connect_concurrency, start, &stop, DeviceMode::Sync).await?;
    let connected = observed.connected.load(Ordering::Relaxed) as u64;
    let request = SyncSendRequest {
        biz_type: "NOTICE".into(),
        payload: format!("t={}", micros_since(start)),
        third_msg_id: "notice-1".into(),
        ..SyncSendRequest::default()
    };
    let sent_at = Instant::now();
    target.admin.sync_global(&target.workspace, &request).await?;
    let answered = sent_at.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while observed.received.load(Ordering::Relaxed) < connected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let all = sent_at.elapsed();
    println!(
        "global message: send answered in {:.1} ms; {} of {connected} devices had it after {:.1} ms",
        answered.as_secs_f64() * 1000.0,
        observed.received.load(Ordering::Relaxed),
        all.as_secs_f64() * 1000.0
    );
    report_latencies("global", &observed);
    stop_sender.send_replace(true);
    Ok(())
}

async fn push(cli: &Cli, devices: usize, offline: bool) -> anyhow::Result<()> {
    let target = Arc::new(Target::create(&cli.server, &cli.token).await?);
    let start = Instant::now();
    let (stop_sender, stop) = watch::channel(false);
    let mode = if offline { DeviceMode::PushOffline } else { DeviceMode::Push };
    let (observed, _) = connect_devices(&target, devices, cli.connect_concurrency, start, &stop, mode).await?;
    let registered = observed.connected.load(Ordering::Relaxed) as u64;
    let request = PushRequest {
        message: Some(PushMessageBody {
            title: "Notice".into(),
            content: format!("t={}", micros_since(start)),
            ..PushMessageBody::default()
        }),
        msg_id: Some("broadcast-1".into()),
        audience: Some(PushAudience::default()),
        ..PushRequest::default()
    };
    let sent_at = Instant::now();
    let task = target.admin.push_send(&target.workspace, "broadcast", &request).await?;
    let answered = sent_at.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut dispatched = None;
    while Instant::now() < deadline {
        let total = target.admin.push_task_stats(&target.workspace, &task.task_id).await?.total;
        if dispatched.is_none() && total.sent + total.failed >= task.targets {
            dispatched = Some((sent_at.elapsed(), total.sent, total.failed));
        }
        let received = observed.received.load(Ordering::Relaxed);
        if dispatched.is_some() && (offline || received >= registered) {
            break;
        }
        // Each look counts the task's deliveries: not so often that it slows the dispatch down.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = sent_at.elapsed();
    let (dispatch_time, sent, failed) = dispatched.context("the broadcast was not dispatched within 300 s")?;
    println!(
        "push broadcast to {} registered devices: stored and answered in {:.1} ms; {sent} sent, {failed} failed \
         {:.1} ms after the call ({:.0} messages/s dispatched after the answer)",
        task.targets,
        answered.as_secs_f64() * 1000.0,
        dispatch_time.as_secs_f64() * 1000.0,
        sent as f64 / (dispatch_time - answered).as_secs_f64()
    );
    if !offline {
        println!(
            "{} of {registered} connected devices had it after {:.1} ms",
            observed.received.load(Ordering::Relaxed),
            all.as_secs_f64() * 1000.0
        );
        report_latencies("push", &observed);
        // Every device reported arrival (`midship.push.ack`); all of it durable by when?
        let mut delivered = 0;
        while Instant::now() < deadline {
            delivered = target.admin.push_task_stats(&target.workspace, &task.task_id).await?.total.delivered;
            if delivered >= registered as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "{delivered} arrival reports recorded {:.1} ms after the call",
            sent_at.elapsed().as_secs_f64() * 1000.0
        );
    }
    stop_sender.send_replace(true);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.scenario {
        Scenario::Idle { connections, hold, server_pid } => idle(&cli, connections, hold, server_pid).await,
        Scenario::Latency { devices, rate, seconds, senders, batch } => {
            latency(&cli, LatencyRun { devices, rate, seconds, senders, batch: batch.max(1) }).await
        }
        Scenario::Global { devices } => global(&cli, devices).await,
        Scenario::Push { devices, offline } => push(&cli, devices, offline).await,
    }
}
