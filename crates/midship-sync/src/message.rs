//! A message on its way to devices: what the hub routes and sessions deliver, with its delivery
//! condition compiled once and its frame encoded once per subprotocol.

use std::sync::OnceLock;

use midship_protocol::frame::SyncData;
use midship_protocol::{Codec, ServerFrame, WireMessage};
use midship_storage::{SyncMessageRecord, SyncStream};
use midship_targeting::Condition;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Who may receive a message, from the send's optional fields. Kept as a targeting condition
/// (the one engine of docs/ARCHITECTURE.md) over the device attributes of [`device_attributes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRange {
    /// Inclusive.
    #[serde(default)]
    pub min: Option<String>,
    /// Inclusive.
    #[serde(default)]
    pub max: Option<String>,
}

/// The condition for a send's OS type and app version range; `None` when it has neither.
pub fn delivery_condition(os_type: Option<&str>, app_version: Option<&VersionRange>) -> Option<Value> {
    let mut condition = Map::new();
    if let Some(os_type) = os_type {
        condition.insert("platform".into(), json!(os_type.to_ascii_lowercase()));
    }
    if let Some(range) = app_version {
        let mut bounds = Map::new();
        if let Some(min) = &range.min {
            bounds.insert("$vgte".into(), json!(min));
        }
        if let Some(max) = &range.max {
            bounds.insert("$vlte".into(), json!(max));
        }
        if !bounds.is_empty() {
            condition.insert("app_version".into(), Value::Object(bounds));
        }
    }
    (!condition.is_empty()).then_some(Value::Object(condition))
}

/// What a device's connection says about it, as the attributes conditions see.
pub fn device_attributes(platform: Option<&str>, app_version: Option<&str>, os_version: Option<&str>) -> Value {
    json!({
        "platform": platform.map(str::to_ascii_lowercase),
        "app_version": app_version,
        "os_version": os_version,
    })
}

#[derive(Debug)]
pub struct SyncMessage {
    pub stream: SyncStream,
    /// The place in the stream; 0 for non-persistent messages.
    pub seq: i64,
    pub third_msg_id: String,
    pub payload: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub condition: Option<Condition>,
    /// The condition as stored, for passing the message on to other nodes.
    pub filter: Option<String>,
    /// A user stream whose bizType delivers to the user's latest device only.
    pub latest_device_only: bool,
    frames: [OnceLock<WireMessage>; 2],
}

impl SyncMessage {
    /// Compiles the record's stored delivery condition.
    pub fn new(stream: SyncStream, record: SyncMessageRecord, latest_device_only: bool) -> Self {
        Self {
            condition: compile_stored(record.filter.as_deref()),
            filter: record.filter,
            stream,
            seq: record.seq,
            third_msg_id: record.third_msg_id,
            payload: record.payload,
            created_at: record.created_at,
            expires_at: record.expires_at,
            latest_device_only,
            frames: Default::default(),
        }
    }

    /// The message as storage holds it (without its stream).
    pub fn record(&self) -> SyncMessageRecord {
        SyncMessageRecord {
            seq: self.seq,
            third_msg_id: self.third_msg_id.clone(),
            payload: self.payload.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            filter: self.filter.clone(),
        }
    }

    pub fn persistent(&self) -> bool {
        self.seq > 0
    }

    /// Whether a device with these attributes may get it at `now`.
    pub fn deliverable_to(&self, attributes: &Value, now: i64) -> bool {
        self.expires_at > now && self.condition.as_ref().is_none_or(|condition| condition.matches(attributes))
    }

    /// The frame, encoded the first time a connection of this subprotocol needs it.
    pub fn wire(&self, codec: Codec) -> WireMessage {
        let slot = match codec {
            Codec::Json => &self.frames[0],
            Codec::Protobuf => &self.frames[1],
        };
        slot.get_or_init(|| {
            codec.encode_server(ServerFrame::Sync(SyncData {
                biz_type: self.stream.biz_type.clone(),
                seq: self.seq,
                msg_id: self.third_msg_id.clone(),
                payload: self.payload.clone(),
                created_at: self.created_at,
                persistent: self.persistent(),
            }))
        })
        .clone()
    }
}

/// Compiles a stored condition; one that no longer compiles matches nobody rather than everybody.
fn compile_stored(filter: Option<&str>) -> Option<Condition> {
    let text = filter?;
    let compiled = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| Condition::compile(&value).ok())
        .unwrap_or_else(|| {
            tracing::error!(filter = text, "a stored sync filter does not compile; the message reaches no device");
            Condition::compile(&json!({ "$not": {} })).expect("a constant condition compiles")
        });
    Some(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_os_type_and_inclusive_version_range() {
        let condition = delivery_condition(
            Some("iOS"),
            Some(&VersionRange { min: Some("3.0.0".into()), max: Some("4.0.0".into()) }),
        )
        .unwrap();
        let compiled = Condition::compile(&condition).unwrap();
        let device = |platform, version| device_attributes(Some(platform), Some(version), None);
        assert!(compiled.matches(&device("ios", "3.0.0")));
        assert!(compiled.matches(&device("ios", "4.0.0")));
        assert!(compiled.matches(&device("IOS", "3.10.2")));
        assert!(!compiled.matches(&device("ios", "4.0.1")));
        assert!(!compiled.matches(&device("android", "3.5.0")));
        assert!(!compiled.matches(&device_attributes(Some("ios"), None, None)), "unknown version is outside");
        assert_eq!(delivery_condition(None, Some(&VersionRange::default())), None);
    }

    #[test]
    fn a_broken_stored_filter_matches_nobody() {
        let condition = compile_stored(Some("{not json")).unwrap();
        assert!(!condition.matches(&device_attributes(Some("ios"), Some("1.0"), None)));
        assert!(compile_stored(None).is_none());
    }
}
