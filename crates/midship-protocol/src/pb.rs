//! The protobuf form of the frames: `proto/midship/v1/connection.proto`, written out as prost
//! messages (so building needs no `protoc`), and the conversions to and from [`crate::frame`].
//! The end-to-end tests check these against the `.proto` file with Python's own protobuf
//! compiler.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::frame;

#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientFrame {
    #[prost(oneof = "client_frame::Frame", tags = "1, 2, 3, 4, 5")]
    pub frame: Option<client_frame::Frame>,
}

pub mod client_frame {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Frame {
        #[prost(message, boxed, tag = "1")]
        Hello(Box<super::Hello>),
        #[prost(message, tag = "2")]
        Ping(super::Ping),
        #[prost(message, tag = "3")]
        Ack(super::Ack),
        #[prost(message, tag = "4")]
        State(super::State),
        #[prost(message, tag = "5")]
        Rpc(super::RpcCall),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerFrame {
    #[prost(oneof = "server_frame::Frame", tags = "1, 2, 3, 4")]
    pub frame: Option<server_frame::Frame>,
}

pub mod server_frame {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Frame {
        #[prost(message, tag = "1")]
        Welcome(super::Welcome),
        #[prost(message, tag = "2")]
        Pong(super::Pong),
        #[prost(message, tag = "3")]
        Sync(super::SyncData),
        #[prost(message, tag = "4")]
        RpcResult(super::RpcResult),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Hello {
    #[prost(string, tag = "1")]
    pub app_id: String,
    #[prost(string, tag = "2")]
    pub workspace_id: String,
    #[prost(string, tag = "3")]
    pub device_id: String,
    #[prost(string, tag = "4")]
    pub user_id: String,
    #[prost(string, tag = "5")]
    pub platform: String,
    #[prost(string, tag = "6")]
    pub app_version: String,
    #[prost(string, tag = "7")]
    pub os_version: String,
    #[prost(string, tag = "8")]
    pub ts: String,
    #[prost(string, tag = "9")]
    pub nonce: String,
    #[prost(string, tag = "10")]
    pub sign: String,
    #[prost(string, tag = "11")]
    pub sign_type: String,
    #[prost(string, tag = "12")]
    pub token: String,
    #[prost(bool, optional, tag = "13")]
    pub foreground: Option<bool>,
    #[prost(btree_map = "string, int64", tag = "14")]
    pub positions: BTreeMap<String, i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Ping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Pong {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Ack {
    #[prost(string, tag = "1")]
    pub biz_type: String,
    #[prost(int64, tag = "2")]
    pub seq: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct State {
    #[prost(bool, tag = "1")]
    pub foreground: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcCall {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(btree_map = "string, string", tag = "2")]
    pub headers: BTreeMap<String, String>,
    #[prost(bytes = "bytes", tag = "3")]
    pub body: Bytes,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Welcome {
    #[prost(string, tag = "1")]
    pub connection_id: String,
    #[prost(string, tag = "2")]
    pub device_id: String,
    #[prost(string, tag = "3")]
    pub user_id: String,
    #[prost(uint32, tag = "4")]
    pub heartbeat_seconds: u32,
    #[prost(uint32, tag = "5")]
    pub idle_timeout_seconds: u32,
    #[prost(int64, tag = "6")]
    pub server_time: i64,
    #[prost(uint64, tag = "7")]
    pub max_frame_bytes: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncData {
    #[prost(string, tag = "1")]
    pub biz_type: String,
    #[prost(int64, tag = "2")]
    pub seq: i64,
    #[prost(string, tag = "3")]
    pub msg_id: String,
    #[prost(string, tag = "4")]
    pub payload: String,
    #[prost(int64, tag = "5")]
    pub created_at: i64,
    #[prost(bool, tag = "6")]
    pub persistent: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcResult {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint32, tag = "2")]
    pub result_status: u32,
    #[prost(string, tag = "3")]
    pub memo: String,
    #[prost(string, tag = "4")]
    pub tips: String,
    #[prost(string, tag = "5")]
    pub trace_id: String,
    #[prost(uint32, tag = "6")]
    pub status: u32,
    #[prost(string, tag = "7")]
    pub content_type: String,
    #[prost(btree_map = "string, string", tag = "8")]
    pub headers: BTreeMap<String, String>,
    #[prost(bytes = "bytes", tag = "9")]
    pub body: Bytes,
    #[prost(string, tag = "10")]
    pub device_id: String,
}

/// Protobuf has no absent strings: empty means none.
fn optional(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

impl From<frame::ClientFrame> for ClientFrame {
    fn from(value: frame::ClientFrame) -> Self {
        use client_frame::Frame;
        let frame = match value {
            frame::ClientFrame::Hello(hello) => Frame::Hello(Box::new(Hello {
                app_id: hello.app_id,
                workspace_id: hello.workspace_id,
                device_id: hello.device_id.unwrap_or_default(),
                user_id: hello.user_id.unwrap_or_default(),
                platform: hello.platform.unwrap_or_default(),
                app_version: hello.app_version.unwrap_or_default(),
                os_version: hello.os_version.unwrap_or_default(),
                ts: hello.ts.unwrap_or_default(),
                nonce: hello.nonce.unwrap_or_default(),
                sign: hello.sign.unwrap_or_default(),
                sign_type: hello.sign_type.unwrap_or_default(),
                token: hello.token.unwrap_or_default(),
                foreground: Some(hello.foreground),
                positions: hello.positions,
            })),
            frame::ClientFrame::Ping(ping) => Frame::Ping(Ping { id: ping.id }),
            frame::ClientFrame::Ack(ack) => Frame::Ack(Ack { biz_type: ack.biz_type, seq: ack.seq }),
            frame::ClientFrame::State(state) => Frame::State(State { foreground: state.foreground }),
            frame::ClientFrame::Rpc(call) => {
                Frame::Rpc(RpcCall { id: call.id, headers: call.headers, body: call.body.0 })
            }
        };
        ClientFrame { frame: Some(frame) }
    }
}

impl TryFrom<ClientFrame> for frame::ClientFrame {
    type Error = &'static str;

    fn try_from(value: ClientFrame) -> Result<Self, Self::Error> {
        use client_frame::Frame;
        Ok(match value.frame.ok_or("the frame has no known kind")? {
            Frame::Hello(hello) => frame::ClientFrame::Hello(Box::new(frame::Hello {
                app_id: hello.app_id,
                workspace_id: hello.workspace_id,
                device_id: optional(hello.device_id),
                user_id: optional(hello.user_id),
                platform: optional(hello.platform),
                app_version: optional(hello.app_version),
                os_version: optional(hello.os_version),
                ts: optional(hello.ts),
                nonce: optional(hello.nonce),
                sign: optional(hello.sign),
                sign_type: optional(hello.sign_type),
                token: optional(hello.token),
                foreground: hello.foreground.unwrap_or(true),
                positions: hello.positions,
            })),
            Frame::Ping(ping) => frame::ClientFrame::Ping(frame::Ping { id: ping.id }),
            Frame::Ack(ack) => frame::ClientFrame::Ack(frame::Ack { biz_type: ack.biz_type, seq: ack.seq }),
            Frame::State(state) => frame::ClientFrame::State(frame::State { foreground: state.foreground }),
            Frame::Rpc(call) => frame::ClientFrame::Rpc(frame::RpcCall {
                id: call.id,
                headers: call.headers,
                body: frame::Body(call.body),
            }),
        })
    }
}

impl From<frame::ServerFrame> for ServerFrame {
    fn from(value: frame::ServerFrame) -> Self {
        use server_frame::Frame;
        let frame = match value {
            frame::ServerFrame::Welcome(welcome) => Frame::Welcome(Welcome {
                connection_id: welcome.connection_id,
                device_id: welcome.device_id,
                user_id: welcome.user_id.unwrap_or_default(),
                heartbeat_seconds: welcome.heartbeat_seconds,
                idle_timeout_seconds: welcome.idle_timeout_seconds,
                server_time: welcome.server_time,
                max_frame_bytes: welcome.max_frame_bytes,
            }),
            frame::ServerFrame::Pong(pong) => Frame::Pong(Pong { id: pong.id }),
            frame::ServerFrame::Sync(data) => Frame::Sync(SyncData {
                biz_type: data.biz_type,
                seq: data.seq,
                msg_id: data.msg_id,
                payload: data.payload,
                created_at: data.created_at,
                persistent: data.persistent,
            }),
            frame::ServerFrame::RpcResult(result) => Frame::RpcResult(RpcResult {
                id: result.id,
                result_status: result.result_status,
                memo: result.memo,
                tips: result.tips,
                trace_id: result.trace_id,
                status: result.status,
                content_type: result.content_type.unwrap_or_default(),
                headers: result.headers,
                body: result.body.0,
                device_id: result.device_id.unwrap_or_default(),
            }),
        };
        ServerFrame { frame: Some(frame) }
    }
}

impl TryFrom<ServerFrame> for frame::ServerFrame {
    type Error = &'static str;

    fn try_from(value: ServerFrame) -> Result<Self, Self::Error> {
        use server_frame::Frame;
        Ok(match value.frame.ok_or("the frame has no known kind")? {
            Frame::Welcome(welcome) => frame::ServerFrame::Welcome(frame::Welcome {
                connection_id: welcome.connection_id,
                device_id: welcome.device_id,
                user_id: optional(welcome.user_id),
                heartbeat_seconds: welcome.heartbeat_seconds,
                idle_timeout_seconds: welcome.idle_timeout_seconds,
                server_time: welcome.server_time,
                max_frame_bytes: welcome.max_frame_bytes,
            }),
            Frame::Pong(pong) => frame::ServerFrame::Pong(frame::Pong { id: pong.id }),
            Frame::Sync(data) => frame::ServerFrame::Sync(frame::SyncData {
                biz_type: data.biz_type,
                seq: data.seq,
                msg_id: data.msg_id,
                payload: data.payload,
                created_at: data.created_at,
                persistent: data.persistent,
            }),
            Frame::RpcResult(result) => frame::ServerFrame::RpcResult(frame::RpcResult {
                id: result.id,
                result_status: result.result_status,
                memo: result.memo,
                tips: result.tips,
                trace_id: result.trace_id,
                status: result.status,
                content_type: optional(result.content_type),
                headers: result.headers,
                body: frame::Body(result.body),
                device_id: optional(result.device_id),
            }),
        })
    }
}
