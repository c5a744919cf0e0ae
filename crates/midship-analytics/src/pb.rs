//! The protobuf form of an upload (`proto/midship/v1/analytics.proto`, written out as prost
//! messages so building needs no `protoc`), turned into the JSON form every event is checked in.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadBatch {
    #[prost(string, tag = "1")]
    pub batch_id: String,
    #[prost(message, repeated, tag = "2")]
    pub events: Vec<Event>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(string, tag = "1")]
    pub kind: String,
    #[prost(int64, tag = "2")]
    pub time: i64,
    #[prost(string, optional, tag = "3")]
    pub user_id: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub app_version: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub session_id: Option<String>,
    #[prost(bool, optional, tag = "6")]
    pub cold: Option<bool>,
    #[prost(uint64, optional, tag = "7")]
    pub duration_ms: Option<u64>,
    #[prost(string, optional, tag = "8")]
    pub name: Option<String>,
    #[prost(btree_map = "string, string", tag = "9")]
    pub attributes: BTreeMap<String, String>,
    #[prost(string, optional, tag = "10")]
    pub page: Option<String>,
    #[prost(string, optional, tag = "11")]
    pub referrer: Option<String>,
    #[prost(message, optional, tag = "12")]
    pub exception: Option<Exception>,
    #[prost(message, repeated, tag = "13")]
    pub frames: Vec<Frame>,
    #[prost(string, optional, tag = "14")]
    pub host: Option<String>,
    #[prost(string, optional, tag = "15")]
    pub operation_type: Option<String>,
    #[prost(int64, optional, tag = "16")]
    pub status: Option<i64>,
    #[prost(string, optional, tag = "17")]
    pub message: Option<String>,
    #[prost(string, optional, tag = "18")]
    pub url: Option<String>,
    #[prost(string, optional, tag = "19")]
    pub stack: Option<String>,
    #[prost(string, optional, tag = "20")]
    pub level: Option<String>,
    #[prost(string, optional, tag = "21")]
    pub tag: Option<String>,
    #[prost(string, optional, tag = "22")]
    pub context_json: Option<String>,
    #[prost(string, optional, tag = "23")]
    pub threads_json: Option<String>,
    #[prost(string, optional, tag = "24")]
    pub experiment: Option<String>,
    #[prost(string, optional, tag = "25")]
    pub variation: Option<String>,
    #[prost(string, optional, tag = "26")]
    pub unit: Option<String>,
    #[prost(string, optional, tag = "27")]
    pub unit_kind: Option<String>,
    #[prost(string, optional, tag = "28")]
    pub proof: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Exception {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    #[prost(string, tag = "1")]
    pub function: String,
    #[prost(string, optional, tag = "2")]
    pub module: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub file: Option<String>,
    #[prost(uint32, optional, tag = "4")]
    pub line: Option<u32>,
    #[prost(string, optional, tag = "5")]
    pub address: Option<String>,
}

impl Event {
    /// The event's JSON form: set fields only, under the names the JSON upload uses.
    pub fn to_json(&self) -> Value {
        let mut fields = Map::new();
        fields.insert("kind".into(), json!(self.kind));
        fields.insert("time".into(), json!(self.time));
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                fields.insert(name.to_owned(), value);
            }
        };
        put("user_id", self.user_id.clone().map(Value::from));
        put("app_version", self.app_version.clone().map(Value::from));
        put("session_id", self.session_id.clone().map(Value::from));
        put("cold", self.cold.map(Value::from));
        put("duration_ms", self.duration_ms.map(Value::from));
        put("name", self.name.clone().map(Value::from));
        put("page", self.page.clone().map(Value::from));
        put("referrer", self.referrer.clone().map(Value::from));
        put("host", self.host.clone().map(Value::from));
        put("operation_type", self.operation_type.clone().map(Value::from));
        put("status", self.status.map(Value::from));
        put("message", self.message.clone().map(Value::from));
        put("url", self.url.clone().map(Value::from));
        put("stack", self.stack.clone().map(Value::from));
        put("level", self.level.clone().map(Value::from));
        put("tag", self.tag.clone().map(Value::from));
        put("experiment", self.experiment.clone().map(Value::from));
        put("variation", self.variation.clone().map(Value::from));
        put("unit", self.unit.clone().map(Value::from));
        put("unit_kind", self.unit_kind.clone().map(Value::from));
        put("proof", self.proof.clone().map(Value::from));
        // JSON text that does not parse is kept as a string.
        let parsed = |text: &Option<String>| {
            text.as_ref().map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::from(text.as_str())))
        };
        put("context", parsed(&self.context_json));
        put("threads", parsed(&self.threads_json));
        put("attributes", (!self.attributes.is_empty()).then(|| json!(self.attributes)));
        put(
            "exception",
            self.exception.as_ref().map(|exception| json!({ "type": exception.r#type, "message": exception.message })),
        );
        let frames: Vec<Value> = self
            .frames
            .iter()
            .map(|frame| {
                let mut object = Map::new();
                object.insert("function".into(), json!(frame.function));
                for (name, value) in [("module", &frame.module), ("file", &frame.file), ("address", &frame.address)] {
                    if let Some(value) = value {
                        object.insert(name.into(), json!(value));
                    }
                }
                if let Some(line) = frame.line {
                    object.insert("line".into(), json!(line));
                }
                Value::Object(object)
            })
            .collect();
        put("frames", (!frames.is_empty()).then_some(Value::Array(frames)));
        Value::Object(fields)
    }
}
