//! The analytics logger. Every event is appended to an on-disk queue as it is logged, so killing
//! the app loses nothing already logged; uploads take batches from the queue into a batch file with
//! its id before sending, so a batch whose answer was lost is sent again with the same id and the
//! server counts it once. The server's policy decides which kinds are logged, which wait for
//! Wi-Fi, and the batch size. A panic hook writes the crash to the queue before the process dies.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use midship_protocol::builtins::operation;
use midship_protocol::calls::{DevicePolicy, LogFileView, UploadResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::replace_file;
use crate::rpc::{RpcClient, RpcError};
use crate::sync::SyncClient;

/// The bizTypes log requests come through (one names the device, the other its user).
use midship_protocol::builtins::biz_type::{
    DIAGNOSIS_DEVICE as DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER as DIAGNOSIS_USER_BIZ_TYPE,
};

/// A session ends after this long in the background; coming back starts a new one (a launch).
pub const SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;
const QUEUE_FILE: &str = "queue.jsonl";
const BATCH_FILE: &str = "batch.json";
const POLICY_FILE: &str = "policy.json";
/// Events per batch before the server's policy says otherwise.
const DEFAULT_BATCH_SIZE: usize = 50;
const LOG_LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsClientError {
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("the gateway refused the call: {result} {memo}")]
    Refused { result: u16, memo: String },
    #[error("unexpected answer: {0}")]
    BadAnswer(String),
    #[error("the event has no kind")]
    NoKind,
    #[error("cannot use the queue in {path}: {error}")]
    Queue { path: PathBuf, error: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct LoggerSettings {
    /// Where the queue lives; the app's private storage.
    pub queue_dir: PathBuf,
    /// The oldest events are dropped past this many queued.
    pub max_queued_events: usize,
}

impl LoggerSettings {
    pub fn new(queue_dir: impl Into<PathBuf>) -> Self {
        Self { queue_dir: queue_dir.into(), max_queued_events: 10_000 }
    }
}

/// The device's network, for kinds the policy keeps for Wi-Fi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Wifi,
    Cellular,
}

/// What one [`AnalyticsLogger::upload`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadSummary {
    pub batches: usize,
    pub events: u64,
    /// Batches the server had already counted (sent again after a lost answer).
    pub duplicates: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct PreparedBatch {
    batch_id: String,
    events: Vec<Value>,
}

#[derive(Debug, Default)]
struct Session {
    /// When the app went to the background, if it is there.
    background_since: Option<i64>,
}

#[derive(Debug)]
pub struct AnalyticsLogger {
    rpc: Arc<RpcClient>,
    settings: LoggerSettings,
    /// `None` until the server's policy is known: everything is logged meanwhile.
    policy: Mutex<Option<DevicePolicy>>,
    session: Mutex<Option<Session>>,
    /// Held while the queue file is read or rewritten.
    queue: Mutex<()>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

fn queue_error(path: &Path) -> impl Fn(std::io::Error) -> AnalyticsClientError + '_ {
    move |error| AnalyticsClientError::Queue { path: path.to_owned(), error }
}

fn append_line(path: &Path, event: &Value) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(event).expect("JSON values serialize");
    line.push(b'\n');
    OpenOptions::new().create(true).append(true).open(path)?.write_all(&line)
}

impl AnalyticsLogger {
    /// Opens the queue in `settings.queue_dir` (created if missing), with whatever an earlier run
    /// left there, and the policy it last had.
    pub fn open(rpc: Arc<RpcClient>, settings: LoggerSettings) -> Result<Arc<Self>, AnalyticsClientError> {
        std::fs::create_dir_all(&settings.queue_dir).map_err(queue_error(&settings.queue_dir))?;
        let policy = std::fs::read(settings.queue_dir.join(POLICY_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<DevicePolicy>(&bytes).ok());
        Ok(Arc::new(Self {
            rpc,
            settings,
            policy: Mutex::new(policy),
            session: Mutex::default(),
            queue: Mutex::default(),
        }))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.settings.queue_dir.join(name)
    }

    /// Logs one event (`{"kind": …, …}`; `time` is added if missing). Returns whether it was kept:
    /// kinds the policy does not upload, and log lines below its level, are dropped here.
    pub fn record(&self, mut event: Value) -> Result<bool, AnalyticsClientError> {
        let kind = event.get("kind").and_then(Value::as_str).ok_or(AnalyticsClientError::NoKind)?.to_owned();
        if !self.wanted(&kind, event.get("level").and_then(Value::as_str)) {
            return Ok(false);
        }
        if event.get("time").is_none() {
            event["time"] = json!(now_ms());
        }
        let path = self.path(QUEUE_FILE);
        let _queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        append_line(&path, &event).map_err(queue_error(&path))?;
        Ok(true)
    }

    fn wanted(&self, kind: &str, level: Option<&str>) -> bool {
        let policy = self.policy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(policy) = policy.as_ref() else { return true };
        let Some(settings) = policy.kinds.get(kind) else { return false };
        let rank = |level: &str| LOG_LEVELS.iter().position(|known| *known == level);
        match (settings.min_level.as_deref().and_then(rank), level.and_then(rank)) {
            (Some(minimum), Some(level)) => level >= minimum,
            _ => true,
        }
    }

    /// A custom event.
    pub fn event(&self, name: &str, attributes: Value) -> Result<bool, AnalyticsClientError> {
        self.record(json!({ "kind": "event", "name": name, "attributes": attributes }))
    }

    /// The first read of an experiment's switch (the config client reports it once).
    pub fn exposure(&self, assignment: &midship_protocol::calls::Assignment) -> Result<bool, AnalyticsClientError> {
        self.record(json!({
            "kind": "experiment",
            "experiment": assignment.experiment,
            "variation": assignment.variation,
            "unit": assignment.unit,
            "unit_kind": assignment.unit_kind,
            "proof": assignment.proof,
        }))
    }

    /// A page the user left after `duration_ms`.
    pub fn page(&self, page: &str, duration_ms: u64) -> Result<bool, AnalyticsClientError> {
        self.record(json!({ "kind": "page", "page": page, "duration_ms": duration_ms }))
    }

    /// A line of the app's log (`level`: debug, info, warn or error).
    pub fn log(&self, level: &str, message: &str) -> Result<bool, AnalyticsClientError> {
        self.record(json!({ "kind": "log", "level": level, "message": message }))
    }

    /// The app came to the foreground: the first time, or after more than 30 minutes in the
    /// background, that is a new session and a `launch` is logged.
    pub fn foreground(&self, now_ms: i64) -> Result<bool, AnalyticsClientError> {
        let new_session = {
            let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let new_session = match session.as_ref().and_then(|session| session.background_since) {
                _ if session.is_none() => true,
                Some(since) => now_ms - since > SESSION_TIMEOUT_MS,
                None => false,
            };
            *session = Some(Session { background_since: None });
            new_session
        };
        if new_session {
            self.record(json!({ "kind": "launch", "time": now_ms }))?;
        }
        Ok(new_session)
    }

    pub fn background(&self, now_ms: i64) {
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(session) = session.as_mut() {
            session.background_since.get_or_insert(now_ms);
        }
    }

    /// Events waiting in the queue (not counting a prepared batch).
    pub fn queued(&self) -> Result<usize, AnalyticsClientError> {
        let _queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(self.read_queue()?.len())
    }

    fn read_queue(&self) -> Result<Vec<Value>, AnalyticsClientError> {
        let path = self.path(QUEUE_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(queue_error(&path)(error)),
        };
        let mut events = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(queue_error(&path))?;
            // A line cut short by a kill mid-write is skipped, not fatal.
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// Asks the server what to upload and keeps the answer (also on disk, for the next start).
    pub async fn refresh_policy(&self) -> Result<DevicePolicy, AnalyticsClientError> {
        let reply = self.rpc.rpc(operation::ANALYTICS_POLICY, &json!({})).await?;
        if !reply.is_success() {
            return Err(AnalyticsClientError::Refused { result: reply.result, memo: reply.memo });
        }
        let policy: DevicePolicy =
            serde_json::from_slice(&reply.body).map_err(|error| AnalyticsClientError::BadAnswer(error.to_string()))?;
        let path = self.path(POLICY_FILE);
        replace_file(&path, &serde_json::to_vec(&policy).expect("policies serialize")).map_err(queue_error(&path))?;
        *self.policy.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(policy.clone());
        Ok(policy)
    }

    /// Moves the next batch from the queue into the batch file, unless one is there already (a
    /// batch whose answer never came); returns its id, or `None` with nothing to send. On
    /// `Cellular`, kinds the policy keeps for Wi-Fi stay queued.
    pub fn prepare_batch(&self, network: Network) -> Result<Option<String>, AnalyticsClientError> {
        let batch_path = self.path(BATCH_FILE);
        if let Ok(bytes) = std::fs::read(&batch_path)
            && let Ok(batch) = serde_json::from_slice::<PreparedBatch>(&bytes)
        {
            return Ok(Some(batch.batch_id));
        }
        let _queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut queued = self.read_queue()?;
        let overflow = queued.len().saturating_sub(self.settings.max_queued_events);
        queued.drain(..overflow);
        let (batch_size, wifi_only) = {
            let policy = self.policy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match policy.as_ref() {
                Some(policy) => (
                    policy.batch_size.max(1) as usize,
                    policy.kinds.iter().filter(|(_, kind)| kind.wifi_only).map(|(name, _)| name.clone()).collect(),
                ),
                None => (DEFAULT_BATCH_SIZE, Vec::new()),
            }
        };
        let mut batch = Vec::new();
        let mut rest = Vec::new();
        for event in queued {
            let held = network == Network::Cellular
                && event
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| wifi_only.iter().any(|name| name == kind));
            if held || batch.len() == batch_size { rest.push(event) } else { batch.push(event) }
        }
        if batch.is_empty() {
            return Ok(None);
        }
        let batch_id = format!("{:032x}", rand::random::<u128>());
        let prepared = PreparedBatch { batch_id: batch_id.clone(), events: batch };
        // The batch file first: a kill between the two writes sends those events twice at worst
        // under two ids, never loses them.
        replace_file(&batch_path, &serde_json::to_vec(&prepared).expect("batches serialize"))
            .map_err(queue_error(&batch_path))?;
        let mut remaining = Vec::new();
        for event in &rest {
            remaining.extend(serde_json::to_vec(event).expect("JSON values serialize"));
            remaining.push(b'\n');
        }
        let queue_path = self.path(QUEUE_FILE);
        replace_file(&queue_path, &remaining).map_err(queue_error(&queue_path))?;
        Ok(Some(batch_id))
    }

    /// Sends the prepared batch (zstd-compressed) and removes it once the server has it.
    pub async fn send_prepared(&self) -> Result<Option<UploadResponse>, AnalyticsClientError> {
        let batch_path = self.path(BATCH_FILE);
        let bytes = match std::fs::read(&batch_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(queue_error(&batch_path)(error)),
        };
        let body = zstd::bulk::compress(&bytes, 3).map_err(queue_error(&batch_path))?;
        let reply = self.rpc.rpc_bytes(operation::ANALYTICS_UPLOAD, &body).await?;
        if reply.result == 3002 {
            // The server cannot read the batch at all (a damaged file): sending it again cannot help.
            tracing::warn!(memo = %reply.memo, "the server refused an analytics batch; dropped");
            std::fs::remove_file(&batch_path).map_err(queue_error(&batch_path))?;
            return Err(AnalyticsClientError::Refused { result: reply.result, memo: reply.memo });
        }
        if !reply.is_success() {
            return Err(AnalyticsClientError::Refused { result: reply.result, memo: reply.memo });
        }
        let answer: UploadResponse =
            serde_json::from_slice(&reply.body).map_err(|error| AnalyticsClientError::BadAnswer(error.to_string()))?;
        for rejected in &answer.rejected {
            tracing::warn!(index = rejected.index, reason = %rejected.reason, "the server rejected an analytics event");
        }
        if answer.content_differs {
            tracing::warn!(batch_id = %answer.batch_id, "the server holds other events under this batch id; dropped");
        }
        std::fs::remove_file(&batch_path).map_err(queue_error(&batch_path))?;
        Ok(Some(answer))
    }

    /// Uploads everything the network allows, batch by batch.
    pub async fn upload(&self, network: Network) -> Result<UploadSummary, AnalyticsClientError> {
        let mut summary = UploadSummary::default();
        while self.prepare_batch(network)?.is_some() {
            let Some(answer) = self.send_prepared().await? else { break };
            summary.batches += 1;
            summary.events += answer.accepted;
            summary.duplicates += usize::from(answer.duplicate);
        }
        Ok(summary)
    }

    /// Answers the operators' log requests that arrive over the long connection (bizTypes
    /// `midship.diagnosis` and `midship.diagnosis.user`) by uploading `log_file` through the
    /// gateway. A request is acknowledged once handled, so one that arrives while the file cannot
    /// be sent is logged and not retried.
    pub fn answer_log_requests(self: &Arc<Self>, sync: &SyncClient, log_file: PathBuf) {
        for biz_type in [DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER_BIZ_TYPE] {
            let logger = Arc::clone(self);
            let log_file = log_file.clone();
            sync.register(biz_type, move |message| {
                let logger = Arc::clone(&logger);
                let log_file = log_file.clone();
                async move {
                    if let Err(error) = logger.send_log(&message.payload, &log_file).await {
                        tracing::warn!(%error, "cannot answer a log request");
                    }
                }
            });
        }
    }

    async fn send_log(&self, request: &str, log_file: &Path) -> Result<LogFileView, AnalyticsClientError> {
        let request: Value =
            serde_json::from_str(request).map_err(|error| AnalyticsClientError::BadAnswer(error.to_string()))?;
        let request_id =
            request["request_id"].as_str().ok_or_else(|| AnalyticsClientError::BadAnswer("no request_id".into()))?;
        let content = std::fs::read(log_file).map_err(queue_error(log_file))?;
        let body = json!({
            "request_id": request_id,
            "file_name": log_file.file_name().map_or_else(|| "app.log".into(), |name| name.to_string_lossy()),
            "content": String::from_utf8_lossy(&content),
        });
        let reply = self.rpc.rpc(operation::ANALYTICS_LOG_UPLOAD, &body).await?;
        if !reply.is_success() {
            return Err(AnalyticsClientError::Refused { result: reply.result, memo: reply.memo });
        }
        serde_json::from_slice(&reply.body).map_err(|error| AnalyticsClientError::BadAnswer(error.to_string()))
    }

    /// Installs a panic hook that appends the crash (message, location, stack) to the queue before
    /// the previous hook runs; it is uploaded with the next batch, after a restart if need be.
    pub fn install_crash_handler(self: &Arc<Self>) {
        let queue_path = self.path(QUEUE_FILE);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            let location = info.location().map(|location| format!(" at {}:{}", location.file(), location.line()));
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            let event = json!({
                "kind": "crash",
                "time": now_ms(),
                "exception": { "type": "panic", "message": format!("{message}{}", location.unwrap_or_default()) },
                "frames": parse_backtrace(&backtrace),
                "threads": [{ "name": std::thread::current().name().unwrap_or("unnamed") }],
            });
            // No lock: the panicking thread may hold it. Appending is one write.
            let _ = append_line(&queue_path, &event);
            previous(info);
        }));
    }
}

/// Frames of a `std::backtrace::Backtrace` as text: `N: function` lines, each optionally followed
/// by `at file:line:column`. The panic machinery's own frames are left out.
pub fn parse_backtrace(text: &str) -> Vec<Value> {
    let mut frames: Vec<Value> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(location) = line.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                let mut parts = location.rsplitn(3, ':');
                let (_column, line_number, file) = (parts.next(), parts.next(), parts.next());
                if let (Some(file), Some(line_number)) =
                    (file, line_number.and_then(|number| number.parse::<u32>().ok()))
                {
                    frame["file"] = json!(file);
                    frame["line"] = json!(line_number);
                }
            }
        } else if let Some((index, function)) = line.split_once(": ")
            && index.chars().all(|character| character.is_ascii_digit())
        {
            frames.push(json!({ "function": function }));
        }
    }
    let internal = |frame: &Value| {
        let function = frame["function"].as_str().unwrap_or_default();
        function.starts_with("std::")
            || function.starts_with("core::")
            || function.starts_with("<alloc::")
            || function.contains("midship_sdk::analytics::AnalyticsLogger::install_crash_handler")
    };
    let first_own = frames.iter().position(|frame| !internal(frame)).unwrap_or(0);
    frames.split_off(first_own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtraces_become_frames_without_the_panic_machinery() {
        let text = "   0: std::backtrace::Backtrace::force_capture\n             at /rustc/library/std/src/backtrace.rs:312:9\n   1: core::panicking::panic_fmt\n   2: app::checkout::pay\n             at ./src/checkout.rs:42:13\n   3: app::main\n";
        let frames = parse_backtrace(text);
        assert_eq!(frames[0], json!({ "function": "app::checkout::pay", "file": "./src/checkout.rs", "line": 42 }));
        assert_eq!(frames[1], json!({ "function": "app::main" }));
        assert_eq!(frames.len(), 2);
    }
}
