//! The upload format: a batch of client log events, decoded from JSON (gzip or zstd compressed, or
//! not), checked event by event and placed in time.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use midship_protocol::calls::AssignmentUnit;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::AnalyticsError;

/// Decompressed bodies past this are refused.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
pub const MAX_BATCH_EVENTS: usize = 5_000;
/// Events further ahead of the server's clock are placed at the receive time.
pub const MAX_FUTURE_SKEW_MS: i64 = 10 * 60 * 1000;
/// Events older than this (against the receive time) are placed at the receive time.
pub const MAX_EVENT_AGE_MS: i64 = 30 * 24 * 60 * 60 * 1000;
const MAX_ATTRIBUTES: usize = 32;
const MAX_FRAMES: usize = 256;
const MAX_TEXT: usize = 256;
/// Log levels, lowest first.
pub const LOG_LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

/// One log event as stored: what the client sent, with the time it is counted at, the client's own
/// time when that differs, and the user and app version the call's headers gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(flatten)]
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// A session start.
    Launch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cold: Option<bool>,
    },
    SessionEnd {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// A custom event.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, Value>,
    },
    Page {
        page: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer: Option<String>,
    },
    Startup {
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cold: Option<bool>,
    },
    PageLoad {
        page: String,
        duration_ms: u64,
    },
    Crash(Failure),
    Anr(Failure),
    Lag(Failure),
    Network {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_type: Option<String>,
        status: i64,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timings: Option<Value>,
    },
    /// A log line of the app's own logger.
    Log {
        level: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// The first time the app read a variable of an experiment it is in (the SDK reports it once
    /// per experiment, unit and variation).
    Experiment {
        experiment: String,
        variation: String,
        /// The device or user id the experiment assigns by.
        unit: String,
        #[serde(default)]
        unit_kind: AssignmentUnit,
        /// The proof the config pull gave the assignment; an upload checks it (docs/security.md).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        proof: String,
    },
    H5Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stack: Option<String>,
    },
}

/// A crash, ANR or lag.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Failure {
    #[serde(default)]
    pub exception: Exception,
    #[serde(default)]
    pub frames: Vec<Frame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exception {
    #[serde(default, rename = "type")]
    pub exception_type: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    #[serde(default)]
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The failure kinds that are grouped by stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Crash,
    Anr,
    Lag,
}

impl FailureKind {
    pub const ALL: [FailureKind; 3] = [Self::Crash, Self::Anr, Self::Lag];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crash => "crash",
            Self::Anr => "anr",
            Self::Lag => "lag",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl Payload {
    pub fn failure(&self) -> Option<(FailureKind, &Failure)> {
        match self {
            Payload::Crash(failure) => Some((FailureKind::Crash, failure)),
            Payload::Anr(failure) => Some((FailureKind::Anr, failure)),
            Payload::Lag(failure) => Some((FailureKind::Lag, failure)),
            _ => None,
        }
    }

    /// What else a well-formed event must satisfy beyond its shape.
    fn check(&self) -> Result<(), String> {
        let text = |field: &str, value: &str| {
            if value.is_empty() || value.chars().count() > MAX_TEXT {
                Err(format!("{field} must be 1 to {MAX_TEXT} characters"))
            } else {
                Ok(())
            }
        };
        match self {
            Payload::Event { name, attributes } => {
                text("name", name)?;
                if attributes.len() > MAX_ATTRIBUTES {
                    return Err(format!("at most {MAX_ATTRIBUTES} attributes"));
                }
                for (key, value) in attributes {
                    text("an attribute name", key)?;
                    if !(value.is_string() || value.is_number() || value.is_boolean()) {
                        return Err(format!("attribute {key} must be a string, number or boolean"));
                    }
                }
                Ok(())
            }
            Payload::Page { page, .. } | Payload::PageLoad { page, .. } => text("page", page),
            Payload::Crash(failure) => {
                text("exception.type", &failure.exception.exception_type)?;
                check_frames(failure)
            }
            Payload::Anr(failure) | Payload::Lag(failure) => check_frames(failure),
            Payload::Network { host, .. } => text("host", host),
            Payload::H5Error { message, .. } => {
                if message.is_empty() {
                    Err("message is required".into())
                } else {
                    Ok(())
                }
            }
            Payload::Log { level, .. } => {
                if LOG_LEVELS.contains(&level.as_str()) {
                    Ok(())
                } else {
                    Err(format!("level must be one of {}", LOG_LEVELS.join(", ")))
                }
            }
            Payload::Experiment { experiment, variation, unit, .. } => {
                text("experiment", experiment)?;
                text("variation", variation)?;
                text("unit", unit)
            }
            Payload::Launch { .. } | Payload::SessionEnd { .. } | Payload::Startup { .. } => Ok(()),
        }
    }
}

fn check_frames(failure: &Failure) -> Result<(), String> {
    if failure.frames.len() > MAX_FRAMES { Err(format!("at most {MAX_FRAMES} frames")) } else { Ok(()) }
}

/// The wire form of one event: [`Event`] plus the client's time, which is required.
#[derive(Deserialize)]
struct ClientEvent {
    time: i64,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    app_version: Option<String>,
    #[serde(flatten)]
    payload: Payload,
}

#[derive(Deserialize)]
struct ClientBatch<'body> {
    batch_id: String,
    #[serde(borrow)]
    events: Vec<&'body RawValue>,
}

/// An event of a batch that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// A decoded batch: the events kept, placed in time, and those left out.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBatch {
    pub batch_id: String,
    pub events: Vec<Event>,
    pub rejected: Vec<Rejected>,
}

/// What the call's signed headers say, the defaults for every event.
#[derive(Clone, Copy, Default)]
pub struct Uploader<'call> {
    pub device_id: &'call str,
    pub user_id: Option<&'call str>,
    pub app_version: Option<&'call str>,
    /// Checks an exposure's proof (experiment, unit, variation, proof); `None` takes exposures
    /// unchecked (tests of decoding alone).
    pub exposure_proof: Option<&'call ExposureProofCheck>,
}

impl std::fmt::Debug for Uploader<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Uploader")
            .field("device_id", &self.device_id)
            .field("user_id", &self.user_id)
            .field("app_version", &self.app_version)
            .field("exposure_proof", &self.exposure_proof.is_some())
            .finish()
    }
}

/// Whether the server gave `unit` that variation of that experiment: (experiment, unit, variation,
/// proof) → true when the proof is the server's.
pub type ExposureProofCheck = dyn Fn(&str, &str, &str, &str) -> bool + Send + Sync;

/// Decodes an upload body, JSON or protobuf. A batch that cannot be read is an error; a bad event
/// is rejected alone.
pub fn decode_batch(body: &[u8], uploader: &Uploader<'_>, received_at: i64) -> Result<DecodedBatch, AnalyticsError> {
    let plain = decompress(body)?;
    let is_json = plain.iter().find(|byte| !byte.is_ascii_whitespace()).is_none_or(|byte| *byte == b'{');
    // JSON events are checked where they lie in the body; protobuf ones are turned into JSON first.
    let (batch_id, events): (String, Vec<Cow<'_, str>>) = if is_json {
        let batch: ClientBatch<'_> =
            serde_json::from_slice(&plain).map_err(|error| AnalyticsError::Malformed(format!("bad batch: {error}")))?;
        (batch.batch_id, batch.events.iter().map(|raw| Cow::Borrowed(raw.get())).collect())
    } else {
        let batch = <crate::pb::UploadBatch as prost::Message>::decode(plain.as_ref())
            .map_err(|error| AnalyticsError::Malformed(format!("bad protobuf batch: {error}")))?;
        (batch.batch_id, batch.events.iter().map(|event| Cow::Owned(event.to_json().to_string())).collect())
    };
    check_batch_id(&batch_id)?;
    if events.len() > MAX_BATCH_EVENTS {
        return Err(AnalyticsError::Malformed(format!(
            "{} events in one batch, at most {MAX_BATCH_EVENTS}",
            events.len()
        )));
    }
    let mut kept = Vec::with_capacity(events.len());
    let mut rejected = Vec::new();
    for (index, raw) in events.iter().enumerate() {
        match decode_event(raw, uploader, received_at) {
            Ok(event) => kept.push(event),
            Err(reason) => rejected.push(Rejected { index, reason }),
        }
    }
    Ok(DecodedBatch { batch_id, events: kept, rejected })
}

fn decode_event(raw: &str, uploader: &Uploader<'_>, received_at: i64) -> Result<Event, String> {
    let event: ClientEvent = serde_json::from_str(raw).map_err(|error| error.to_string())?;
    event.payload.check()?;
    if let Payload::Experiment { experiment, variation, unit, unit_kind, proof } = &event.payload {
        // An exposure speaks for the sender's own device or user, with the proof of its assignment.
        let own_unit = match unit_kind {
            AssignmentUnit::Device => Some(uploader.device_id),
            AssignmentUnit::User => event.user_id.as_deref().or(uploader.user_id),
        };
        if own_unit != Some(unit.as_str()) {
            return Err("an exposure's unit must be the sending device (or its user)".into());
        }
        if let Some(check) = uploader.exposure_proof
            && !check(experiment, unit, variation, proof)
        {
            return Err("the exposure's proof is not the one its config pull gave".into());
        }
    }
    let skewed = event.time > received_at + MAX_FUTURE_SKEW_MS || event.time < received_at - MAX_EVENT_AGE_MS;
    let pick =
        |own: Option<String>, header: Option<&str>| own.filter(|value| !value.is_empty()).or(header.map(str::to_owned));
    Ok(Event {
        time: if skewed { received_at } else { event.time },
        client_time: skewed.then_some(event.time),
        user_id: pick(event.user_id, uploader.user_id),
        app_version: pick(event.app_version, uploader.app_version),
        payload: event.payload,
    })
}

fn check_batch_id(batch_id: &str) -> Result<(), AnalyticsError> {
    let fits = (1..=64).contains(&batch_id.len())
        && batch_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if fits {
        Ok(())
    } else {
        Err(AnalyticsError::Malformed("batch_id must be 1 to 64 characters of A-Z a-z 0-9 - _ .".into()))
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// 2^23 = [`MAX_BATCH_BYTES`]: the largest window a batch's zstd frame may ask for.
const MAX_ZSTD_WINDOW_LOG: u32 = 23;

/// The body as JSON text: gzip and zstd are recognised by their magic bytes, and inflated no further
/// than [`MAX_BATCH_BYTES`].
fn decompress(body: &[u8]) -> Result<Cow<'_, [u8]>, AnalyticsError> {
    let reader: Box<dyn Read + '_> = if body.starts_with(&GZIP_MAGIC) {
        Box::new(flate2::read::GzDecoder::new(body))
    } else if body.starts_with(&ZSTD_MAGIC) {
        let bad = |error: std::io::Error| AnalyticsError::Malformed(format!("bad zstd data: {error}"));
        let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(bad)?;
        // A frame names its own window size; no batch needs more than its largest size (found by
        // fuzzing: a 100-byte body asked for a window of hundreds of MiB).
        decoder.window_log_max(MAX_ZSTD_WINDOW_LOG).map_err(bad)?;
        Box::new(decoder)
    } else if body.len() > MAX_BATCH_BYTES {
        return Err(too_large());
    } else {
        return Ok(Cow::Borrowed(body));
    };
    let mut plain = Vec::new();
    reader
        .take(MAX_BATCH_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|error| AnalyticsError::Malformed(format!("cannot decompress the batch: {error}")))?;
    if plain.len() > MAX_BATCH_BYTES {
        return Err(too_large());
    }
    Ok(Cow::Owned(plain))
}

fn too_large() -> AnalyticsError {
    AnalyticsError::Malformed(format!("the batch is over {MAX_BATCH_BYTES} bytes once decompressed"))
}

/// Stored payloads: the kept events as zstd-compressed JSON.
pub fn encode_stored(events: &[Event]) -> Vec<u8> {
    let json = serde_json::to_vec(events).expect("events serialize");
    zstd::bulk::compress(&json, 3).expect("compressing into memory cannot fail")
}

pub fn decode_stored(payload: &[u8]) -> Result<Vec<Event>, String> {
    let json = zstd::stream::decode_all(payload).map_err(|error| error.to_string())?;
    serde_json::from_slice(&json).map_err(|error| error.to_string())
}

/// Whether two batches hold the same events as their device sent them, whenever each was received:
/// an event placed at its receive time is compared at its client time.
pub fn same_events(left: &[Event], right: &[Event]) -> bool {
    fn as_sent(event: &Event) -> (i64, &Option<String>, &Option<String>, &Payload) {
        (event.client_time.unwrap_or(event.time), &event.user_id, &event.app_version, &event.payload)
    }
    left.len() == right.len() && left.iter().zip(right).all(|(left, right)| as_sent(left) == as_sent(right))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const NOW: i64 = 1_795_313_234_000;

    #[test]
    fn exposures_speak_for_the_sender_with_their_proof() {
        let check = |experiment: &str, unit: &str, variation: &str, proof: &str| {
            proof == format!("{experiment}/{unit}/{variation}")
        };
        let sender = Uploader { exposure_proof: Some(&check), ..uploader() };
        let exposure = |unit: &str, kind: &str, proof: &str| {
            format!(
                r#"{{"kind":"experiment","time":{NOW},"experiment":"e","variation":"b","unit":"{unit}","unit_kind":"{kind}","proof":"{proof}"}}"#
            )
        };
        let body = format!(
            r#"{{"batch_id":"B","events":[{},{},{},{},{}]}}"#,
            exposure("D1", "device", "e/D1/b"),
            exposure("D2", "device", "e/D2/b"),
            exposure("D1", "device", "e/D1/a"),
            exposure("alice", "user", "e/alice/b"),
            exposure("bob", "user", "e/bob/b"),
        );
        let batch = decode_batch(body.as_bytes(), &sender, NOW).unwrap();
        assert_eq!(batch.events.len(), 2, "its own device and its own user: {:?}", batch.rejected);
        let reasons: Vec<(usize, &str)> =
            batch.rejected.iter().map(|rejected| (rejected.index, rejected.reason.as_str())).collect();
        assert_eq!(reasons[0].0, 1);
        assert!(reasons[0].1.contains("sending device"), "{reasons:?}");
        assert!(reasons[1].1.contains("proof"), "another variation's claim: {reasons:?}");
        assert_eq!(reasons[2].0, 4, "another user");
    }

    fn uploader() -> Uploader<'static> {
        Uploader { device_id: "D1", user_id: Some("alice"), app_version: Some("1.0.0"), exposure_proof: None }
    }

    #[test]
    fn a_bad_event_is_rejected_alone_and_the_rest_kept() {
        let body = serde_json::json!({
            "batch_id": "B-1",
            "events": [
                { "kind": "launch", "time": NOW - 1000 },
                { "kind": "event", "time": NOW },
                { "kind": "teleport", "time": NOW },
                { "kind": "page", "time": NOW, "page": "home", "duration_ms": -5 },
                { "kind": "event", "time": NOW, "name": "buy", "attributes": { "sku": "A1", "qty": 2 }, "user_id": "bob" },
            ]
        });
        let batch = decode_batch(body.to_string().as_bytes(), &uploader(), NOW).unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.rejected.iter().map(|rejected| rejected.index).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(batch.rejected[0].reason.contains("name"), "{:?}", batch.rejected);
        assert!(batch.rejected[1].reason.contains("teleport"), "{:?}", batch.rejected);
        assert_eq!(batch.events[0].user_id.as_deref(), Some("alice"));
        assert_eq!(batch.events[1].user_id.as_deref(), Some("bob"));
        assert_eq!(batch.events[1].app_version.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn skewed_events_are_placed_at_the_receive_time_keeping_the_client_time() {
        let future = NOW + MAX_FUTURE_SKEW_MS + 1;
        let ancient = NOW - MAX_EVENT_AGE_MS - 1;
        let body = format!(
            r#"{{"batch_id":"B","events":[{{"kind":"launch","time":{future}}},{{"kind":"launch","time":{ancient}}},{{"kind":"launch","time":{}}}]}}"#,
            NOW - 5
        );
        let batch = decode_batch(body.as_bytes(), &Uploader::default(), NOW).unwrap();
        let placed: Vec<_> = batch.events.iter().map(|event| (event.time, event.client_time)).collect();
        assert_eq!(placed, [(NOW, Some(future)), (NOW, Some(ancient)), (NOW - 5, None)]);
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_refused_without_allocating_it() {
        // The input the analytics_batch_json fuzz target found (out of memory at 128 MiB).
        let mut body = vec![0x28, 0xb5, 0x2f, 0xfd, 0x80];
        body.extend(std::iter::repeat_n(0x88u8, 81));
        body.extend_from_slice(&[0x3c, 0x00, 0x80, 0xfb, 0x3a, 0x00, 0x1d, 0x09, 0x10]);
        assert!(decompress(&body).is_err());
    }

    #[test]
    fn gzip_and_zstd_bodies_are_recognised() {
        let json = format!(r#"{{"batch_id":"B","events":[{{"kind":"launch","time":{NOW}}}]}}"#);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(json.as_bytes()).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::bulk::compress(json.as_bytes(), 3).unwrap();
        for body in [json.as_bytes().to_vec(), gzip, zstd] {
            assert_eq!(decode_batch(&body, &Uploader::default(), NOW).unwrap().events.len(), 1);
        }
    }

    #[test]
    fn unreadable_batches_are_refused_whole() {
        let bomb = zstd::bulk::compress(&vec![b' '; MAX_BATCH_BYTES + 10], 3).unwrap();
        let many = format!(
            r#"{{"batch_id":"B","events":[{}]}}"#,
            vec![r#"{"kind":"launch","time":1}"#; MAX_BATCH_EVENTS + 1].join(",")
        );
        for (body, reason) in [
            (b"not json".to_vec(), "bad protobuf batch"),
            (b"{not json".to_vec(), "bad batch"),
            (br#"{"events":[]}"#.to_vec(), "batch_id"),
            (br#"{"batch_id":"a b","events":[]}"#.to_vec(), "batch_id"),
            (vec![0x1f, 0x8b, 1, 2, 3], "decompress"),
            (bomb, "decompressed"),
            (many.into_bytes(), "at most"),
        ] {
            let error = decode_batch(&body, &Uploader::default(), NOW).unwrap_err();
            assert!(error.to_string().contains(reason), "{error} lacks {reason}");
        }
    }

    #[test]
    fn protobuf_batches_are_checked_like_json_ones() {
        use prost::Message;
        let event = |kind: &str, name: Option<&str>| crate::pb::Event {
            kind: kind.into(),
            time: NOW,
            name: name.map(str::to_owned),
            attributes: [("sku".to_owned(), "A1".to_owned())].into(),
            ..crate::pb::Event::default()
        };
        let crash = crate::pb::Event {
            exception: Some(crate::pb::Exception { r#type: "E".into(), message: "m".into() }),
            frames: vec![crate::pb::Frame { function: "f".into(), line: Some(3), ..crate::pb::Frame::default() }],
            ..event("crash", None)
        };
        let batch = crate::pb::UploadBatch {
            batch_id: "P1".into(),
            events: vec![event("event", Some("buy")), event("event", None), crash],
        };
        let body = zstd::bulk::compress(&batch.encode_to_vec(), 3).unwrap();
        let decoded = decode_batch(&body, &uploader(), NOW).unwrap();
        assert_eq!(decoded.batch_id, "P1");
        assert_eq!(decoded.rejected.iter().map(|rejected| rejected.index).collect::<Vec<_>>(), [1]);
        assert!(
            matches!(&decoded.events[0].payload, Payload::Event { name, attributes } if name == "buy" && attributes["sku"] == "A1")
        );
        let Payload::Crash(failure) = &decoded.events[1].payload else { panic!("a crash") };
        assert_eq!((failure.exception.exception_type.as_str(), failure.frames[0].line), ("E", Some(3)));
        assert!(decode_batch(&[0x0a, 0xff], &uploader(), NOW).unwrap_err().to_string().contains("protobuf"));
    }

    #[test]
    fn a_retry_received_later_holds_the_same_events_and_another_batch_does_not() {
        let body = |name: &str| {
            let ancient = NOW - MAX_EVENT_AGE_MS - 1;
            format!(
                r#"{{"batch_id":"B","events":[{{"kind":"launch","time":{ancient}}},{{"kind":"event","time":{NOW},"name":"{name}"}}]}}"#
            )
        };
        let decode = |body: String, received_at: i64| decode_batch(body.as_bytes(), &uploader(), received_at).unwrap();
        let first = decode(body("buy"), NOW);
        let retry = decode(body("buy"), NOW + 60_000);
        assert_ne!(first.events, retry.events, "the old launch is placed at each receive time");
        assert!(same_events(&first.events, &retry.events));
        assert!(!same_events(&first.events, &decode(body("sell"), NOW).events));
        assert!(!same_events(&first.events, &first.events[..1]));
    }

    #[test]
    fn stored_payloads_round_trip() {
        let body = r#"{"batch_id":"B","events":[{"kind":"crash","time":5,"exception":{"type":"E"},"frames":[{"function":"f","line":3}]}]}"#;
        let batch = decode_batch(body.as_bytes(), &Uploader::default(), 10).unwrap();
        assert_eq!(decode_stored(&encode_stored(&batch.events)).unwrap(), batch.events);
    }

    /// Found by the fuzzer: without serde_json's exact float parsing, a long number read back from
    /// storage could differ from what the device sent in its last bit.
    #[test]
    fn a_long_number_attribute_reads_back_exactly() {
        let body = r#"{"batch_id":"B","events":[{"kind":"event","time":5,"name":"buy","attributes":{"qty":233333333333333333333333333333333333333333333333333333333333333,"price":0.30000000000000004}}]}"#;
        let batch = decode_batch(body.as_bytes(), &Uploader::default(), 10).unwrap();
        assert_eq!(batch.events.len(), 1);
        assert_eq!(decode_stored(&encode_stored(&batch.events)).unwrap(), batch.events);
    }
}
