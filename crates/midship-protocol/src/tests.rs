use std::collections::BTreeMap;

use bytes::Bytes;

use crate::frame::{Ack, Body, Hello, Ping, RpcCall, RpcResult, State, SyncData, Welcome};
use crate::{ClientFrame, Codec, FrameError, ServerFrame, WireMessage};

const LIMIT: usize = 64 * 1024;

fn client_frames() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Hello(Box::new(Hello {
            app_id: "APP".into(),
            workspace_id: "WS".into(),
            device_id: Some("DEV".into()),
            user_id: Some("alice".into()),
            platform: Some("ios".into()),
            ts: Some("1717000000000".into()),
            sign: Some("ab".into()),
            foreground: false,
            positions: BTreeMap::from([("CHAT-MSG".to_owned(), 5)]),
            ..Hello::default()
        })),
        ClientFrame::Ping(Ping { id: 3 }),
        ClientFrame::Ack(Ack { biz_type: "CHAT-MSG".into(), seq: 9 }),
        ClientFrame::State(State { foreground: true }),
        ClientFrame::Rpc(RpcCall {
            id: 7,
            headers: BTreeMap::from([("Operation-Type".to_owned(), "com.x".to_owned())]),
            body: Body(Bytes::from_static(b"{\"a\":1}")),
        }),
        ClientFrame::Rpc(RpcCall {
            id: 8,
            headers: BTreeMap::new(),
            body: Body(Bytes::from_static(&[0, 159, 146, 150])),
        }),
    ]
}

fn server_frames() -> Vec<ServerFrame> {
    vec![
        ServerFrame::Welcome(Welcome {
            connection_id: "C1".into(),
            device_id: "DEV".into(),
            user_id: None,
            heartbeat_seconds: 30,
            idle_timeout_seconds: 90,
            server_time: 1,
            max_frame_bytes: 1024,
        }),
        ServerFrame::Sync(SyncData {
            biz_type: "CHAT-MSG".into(),
            seq: 4,
            msg_id: "m-4".into(),
            payload: "x".repeat(5000),
            created_at: 2,
            persistent: true,
        }),
        ServerFrame::RpcResult(RpcResult {
            id: 7,
            result_status: 1000,
            memo: "success".into(),
            trace_id: "T".into(),
            status: 200,
            content_type: Some("application/json".into()),
            body: Body(Bytes::from_static(b"{}")),
            ..RpcResult::default()
        }),
    ]
}

#[test]
fn every_frame_survives_both_codecs() {
    for codec in Codec::ALL {
        for frame in client_frames() {
            let wire = codec.encode_client(frame.clone());
            assert_eq!(codec.decode_client(&wire, LIMIT).unwrap(), frame, "{codec:?}");
        }
        for frame in server_frames() {
            let wire = codec.encode_server(frame.clone());
            assert_eq!(codec.decode_server(&wire, LIMIT).unwrap(), frame, "{codec:?}");
        }
    }
}

#[test]
fn json_frames_read_as_documented() {
    let hello: ClientFrame =
        serde_json::from_str(r#"{"type":"hello","app_id":"A","workspace_id":"W","extra":"ignored"}"#).unwrap();
    let ClientFrame::Hello(hello) = hello else { panic!("a hello") };
    assert!(hello.foreground, "foreground unless said otherwise");
    let rpc = Codec::Json
        .decode_client(&WireMessage::text(r#"{"type":"rpc","id":1,"body_base64":"AJ+Slg=="}"#.into()), LIMIT)
        .unwrap();
    assert_eq!(rpc, client_frames()[5].clone().with_id(1));
    let text = serde_json::to_string(&server_frames()[2]).unwrap();
    assert!(text.starts_with(r#"{"type":"rpc_result","id":7,"result_status":1000"#), "{text}");
    assert!(text.contains(r#""body":"{}""#), "{text}");
}

trait WithId {
    fn with_id(self, id: u64) -> Self;
}

impl WithId for ClientFrame {
    fn with_id(self, id: u64) -> Self {
        match self {
            ClientFrame::Rpc(call) => ClientFrame::Rpc(RpcCall { id, ..call }),
            other => other,
        }
    }
}

#[test]
fn large_binary_frames_are_compressed() {
    let wire = Codec::Protobuf.encode_server(server_frames()[1].clone());
    let WireMessage::Binary(bytes) = &wire else { panic!("binary") };
    assert_eq!(bytes[0], 0x01, "zstd flag");
    assert!(bytes.len() < 200, "5000 repeated bytes compress: {}", bytes.len());
    let small = Codec::Protobuf.encode_client(ClientFrame::Ping(Ping { id: 1 }));
    let WireMessage::Binary(bytes) = &small else { panic!("binary") };
    assert_eq!(bytes[0], 0x00);
}

#[test]
fn bad_messages_are_errors_not_panics() {
    let decode = |message: WireMessage| Codec::Protobuf.decode_client(&message, LIMIT);
    assert!(matches!(decode(WireMessage::text("{}".into())), Err(FrameError::WrongMessageKind("text", _))));
    assert!(matches!(decode(WireMessage::Binary(Bytes::new())), Err(FrameError::Malformed(_))));
    assert_eq!(decode(WireMessage::Binary(Bytes::from_static(&[7, 1]))), Err(FrameError::UnknownFlag(7)));
    assert!(matches!(decode(WireMessage::Binary(Bytes::from_static(&[0, 0xff, 0xff]))), Err(FrameError::Malformed(_))));
    assert!(matches!(decode(WireMessage::Binary(Bytes::from_static(&[1, 1, 2, 3]))), Err(FrameError::Malformed(_))));
    assert!(matches!(decode(WireMessage::Binary(Bytes::from_static(&[0]))), Err(FrameError::Malformed(_))), "no kind");
    let bomb = zstd::bulk::compress(&vec![0u8; 10 * LIMIT], 3).unwrap();
    let mut packed = vec![1u8];
    packed.extend_from_slice(&bomb);
    assert_eq!(decode(WireMessage::Binary(Bytes::from(packed))), Err(FrameError::TooLarge(LIMIT)));
    let json = |text: &str| Codec::Json.decode_client(&WireMessage::text(text.into()), LIMIT);
    assert!(matches!(json(r#"{"type":"launch"}"#), Err(FrameError::Malformed(_))));
    assert!(matches!(json(r#"{"type":"ack","biz_type":"X"}"#), Err(FrameError::Malformed(_))));
    assert!(matches!(json(r#"{"type":"rpc","id":1,"body":"a","body_base64":"YQ=="}"#), Err(FrameError::Malformed(_))));
    assert!(matches!(json("not json"), Err(FrameError::Malformed(_))));
}
