//! The frames of the long connection, one type for both subprotocols. The JSON form is these
//! types through serde (`{"type": "hello", ...}`); the protobuf form is in [`crate::pb`].

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a device sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Boxed: it is far larger than the frames that follow it by the thousand.
    Hello(Box<Hello>),
    Ping(Ping),
    Ack(Ack),
    State(State),
    Rpc(RpcCall),
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome(Welcome),
    Pong(Pong),
    Sync(SyncData),
    RpcResult(RpcResult),
}

fn foreground_default() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub app_id: String,
    pub workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default = "foreground_default")]
    pub foreground: bool,
    /// The last sequence the app processed, per bizType.
    #[serde(default)]
    pub positions: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    #[serde(default)]
    pub id: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    #[serde(default)]
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub biz_type: String,
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub foreground: bool,
}

/// A gateway RPC over the connection: the headers of `POST /mgw` and the body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcCall {
    pub id: u64,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub connection_id: String,
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub heartbeat_seconds: u32,
    pub idle_timeout_seconds: u32,
    pub server_time: i64,
    pub max_frame_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncData {
    pub biz_type: String,
    /// 0 for non-persistent messages.
    pub seq: i64,
    pub msg_id: String,
    pub payload: String,
    pub created_at: i64,
    pub persistent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcResult {
    pub id: u64,
    pub result_status: u32,
    pub memo: String,
    pub tips: String,
    pub trace_id: String,
    pub status: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(flatten)]
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Body bytes. In JSON frames they are `"body"` (UTF-8 text, the usual JSON body) or
/// `"body_base64"` (any bytes, such as sealed bodies); a frame without either has an empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body(pub Bytes);

#[derive(Serialize, Deserialize)]
struct JsonBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = match std::str::from_utf8(&self.0) {
            Ok(text) => JsonBody { body: Some(text.to_owned()), body_base64: None },
            Err(_) => JsonBody { body: None, body_base64: Some(STANDARD.encode(&self.0)) },
        };
        json.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = JsonBody::deserialize(deserializer)?;
        match (json.body, json.body_base64) {
            (Some(_), Some(_)) => Err(serde::de::Error::custom("send body or body_base64, not both")),
            (Some(text), None) => Ok(Body(Bytes::from(text))),
            (None, Some(encoded)) => STANDARD
                .decode(encoded)
                .map(|bytes| Body(Bytes::from(bytes)))
                .map_err(|error| serde::de::Error::custom(format!("body_base64 is not base64: {error}"))),
            (None, None) => Ok(Body::default()),
        }
    }
}
