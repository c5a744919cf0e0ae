//! Writes seed inputs for every fuzz target, made with the crates' own encoders so each seed is a
//! real, valid input: `cargo run --example seeds -- DIR` writes `DIR/<target>/<name>`. The kept
//! corpus (`fuzz/corpus/`) started from these, minimized with `cargo fuzz cmin`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use midship_analytics::pb;
use midship_fuzz::{CounterRng, NOW_MS, TOKEN_SECRET};
use midship_package::{Files, create_binary_patch, create_content_patch, write_zip};
use midship_protocol::frame::{Ack, Body, Hello, Ping, Pong, RpcCall, RpcResult, State, SyncData, Welcome};
use midship_protocol::{ClientFrame, Codec, ServerFrame};
use midship_signing::connect_token::{self, ConnectClaims};
use midship_signing::envelope::{self, Suite};
use prost::Message;
use serde_json::json;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seeds DIR");
    let dir = Path::new(&dir);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir).expect("create the seed directory");
        std::fs::write(target_dir.join(name), bytes).expect("write a seed");
    };

    for (index, body) in gateway_bodies().iter().enumerate() {
        write("gateway_body", &format!("body-{index}"), body);
    }
    for (index, seed) in envelopes().iter().enumerate() {
        write("envelope_open", &format!("sealed-{index}"), seed);
    }
    for (index, seed) in tokens().iter().enumerate() {
        write("connect_token", &format!("token-{index}"), seed);
    }
    for codec in Codec::ALL {
        let target = match codec {
            Codec::Json => "protocol_frame_json",
            Codec::Protobuf => "protocol_frame_protobuf",
        };
        for (index, frame) in client_frames().into_iter().enumerate() {
            write(target, &format!("client-{index}"), codec.encode_client(frame).bytes());
        }
        for (index, frame) in server_frames().into_iter().enumerate() {
            write(target, &format!("server-{index}"), codec.encode_server(frame).bytes());
        }
    }
    let json_batch = analytics_json().to_string().into_bytes();
    write("analytics_batch_json", "plain", &json_batch);
    write("analytics_batch_json", "gzip", &gzip(&json_batch));
    write("analytics_batch_json", "zstd", &zstd::bulk::compress(&json_batch, 3).expect("compress"));
    let protobuf_batch = analytics_protobuf().encode_to_vec();
    write("analytics_batch_protobuf", "plain", &protobuf_batch);
    write("analytics_batch_protobuf", "zstd", &zstd::bulk::compress(&protobuf_batch, 3).expect("compress"));
    write("proguard_mapping", "r8", PROGUARD_MAPPING.as_bytes());
    write("proguard_mapping", "proguard", b"com.example.Store -> a:\n    int count -> b\n    7:9:void open() -> a\n");

    let old = midship_fuzz::old_files();
    write("package_zip", "old", &write_zip(&old));
    for (index, new) in new_versions().iter().enumerate() {
        write("package_zip", &format!("new-{index}"), &write_zip(new));
        write("package_content_patch", &format!("patch-{index}"), &create_content_patch(&old, new));
    }
    let old_binary = midship_fuzz::old_binary();
    let mut new_binary = old_binary.clone();
    new_binary[100..110].copy_from_slice(b"0123456789");
    new_binary.extend_from_slice(b"tail");
    write("package_binary_patch", "changed", &create_binary_patch(&old_binary, &new_binary));
    write("package_binary_patch", "empty", &create_binary_patch(&old_binary, b""));
}

fn gateway_bodies() -> Vec<Vec<u8>> {
    let bodies = [
        (0u8, json!({ "accountId": "A-42", "amount": 12.5, "tags": ["x"] })),
        (1, json!({ "currency": "EUR", "day": "2026-11-22", "live": true, "n": 3, "note": null })),
        (1, json!({ "currency": "EUR", "day": 7, "filter": { "a": 1 } })),
        (2, json!({ "id": "x y/z" })),
    ];
    bodies
        .into_iter()
        .map(|(pick, body)| {
            let mut seed = vec![pick];
            seed.extend_from_slice(body.to_string().as_bytes());
            seed
        })
        .collect()
}

/// The flags (the suite), the length of the key text, the key text, the sealed body.
fn envelopes() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (index, suite) in Suite::ALL.into_iter().enumerate() {
        let gateway = midship_fuzz::gateway_key(suite);
        let mut rng = CounterRng(index as u64);
        let (key, sealed, _) =
            envelope::seal_request(suite, &gateway.public_key_base64(), br#"{"accountId":"A-42"}"#, &mut rng)
                .expect("the gateway's key is valid");
        let mut seed = vec![index as u8, u8::try_from(key.len()).expect("a key under 256 characters")];
        seed.extend_from_slice(key.as_bytes());
        seed.extend_from_slice(&sealed);
        seeds.push(seed);
    }
    seeds
}

fn tokens() -> Vec<Vec<u8>> {
    let claims = ConnectClaims {
        app_id: "01HV7Z3K9M2Q8RXA".into(),
        workspace_id: "01HV7Z3KA4N6P0WB".into(),
        device_id: Some("DEV-1".into()),
        user_id: Some("alice".into()),
        user_verified: true,
        expires_at: NOW_MS + 600_000,
    };
    let expired = ConnectClaims { expires_at: NOW_MS - 1, device_id: None, ..claims.clone() };
    vec![
        connect_token::issue(TOKEN_SECRET, &claims).into_bytes(),
        connect_token::issue(TOKEN_SECRET, &expired).into_bytes(),
        serde_json::to_vec(&claims).expect("claims serialize"),
    ]
}

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
            token: Some("mct1.e30.AA".into()),
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
        // Large enough to be sent zstd-compressed.
        ClientFrame::Rpc(RpcCall { id: 9, headers: BTreeMap::new(), body: Body(Bytes::from(vec![b'x'; 1500])) }),
    ]
}

fn server_frames() -> Vec<ServerFrame> {
    vec![
        ServerFrame::Welcome(Welcome {
            connection_id: "C".into(),
            device_id: "DEV".into(),
            user_id: Some("alice".into()),
            heartbeat_seconds: 30,
            idle_timeout_seconds: 90,
            server_time: NOW_MS,
            max_frame_bytes: 1 << 20,
        }),
        ServerFrame::Pong(Pong { id: 3 }),
        ServerFrame::Sync(SyncData {
            biz_type: "CHAT-MSG".into(),
            seq: 10,
            msg_id: "M".into(),
            payload: "{\"text\":\"hi\"}".into(),
            created_at: NOW_MS,
            persistent: true,
        }),
        ServerFrame::RpcResult(RpcResult {
            id: 7,
            result_status: 1000,
            memo: "ok".into(),
            trace_id: "T".into(),
            status: 200,
            content_type: Some("application/json".into()),
            headers: BTreeMap::from([("X-A".to_owned(), "1".to_owned())]),
            body: Body(Bytes::from_static(b"{}")),
            ..RpcResult::default()
        }),
    ]
}

fn analytics_json() -> serde_json::Value {
    let frames = json!([
        { "function": "com.example.app.Cart.a", "module": "app", "file": "Cart.kt", "line": 2 },
        { "function": "android.os.Handler.dispatchMessage", "line": 106 },
        { "function": "0x1a2b", "address": "0x1a2b", "module": "libc.so" },
    ]);
    json!({
        "batch_id": "B-1",
        "events": [
            { "kind": "launch", "time": NOW_MS - 1000, "session_id": "S", "cold": true },
            { "kind": "session_end", "time": NOW_MS, "session_id": "S", "duration_ms": 5000 },
            { "kind": "event", "time": NOW_MS, "name": "buy", "attributes": { "sku": "A1", "qty": 2, "gift": false } },
            { "kind": "page", "time": NOW_MS, "page": "home", "duration_ms": 300, "referrer": "push" },
            { "kind": "startup", "time": NOW_MS, "duration_ms": 800, "cold": false },
            { "kind": "page_load", "time": NOW_MS, "page": "cart", "duration_ms": 120 },
            { "kind": "crash", "time": NOW_MS, "exception": { "type": "IllegalStateException", "message": "x" },
              "frames": frames, "context": { "screen": "cart" }, "threads": [] },
            { "kind": "anr", "time": NOW_MS + 900_000, "frames": frames, "duration_ms": 5000 },
            { "kind": "lag", "time": NOW_MS - 40 * 86_400_000_i64, "frames": [], "duration_ms": 700 },
            { "kind": "network", "time": NOW_MS, "host": "api.example.com", "operation_type": "com.x", "status": 200,
              "duration_ms": 35, "timings": { "dns": 3 } },
            { "kind": "log", "time": NOW_MS, "level": "warn", "message": "low memory", "tag": "mem", "user_id": "bob" },
            { "kind": "h5_error", "time": NOW_MS, "message": "undefined", "url": "https://h5/", "stack": "at x" },
            { "kind": "teleport", "time": NOW_MS },
        ],
    })
}

fn analytics_protobuf() -> pb::UploadBatch {
    let event = |kind: &str| pb::Event { kind: kind.into(), time: NOW_MS, ..pb::Event::default() };
    pb::UploadBatch {
        batch_id: "B-2".into(),
        events: vec![
            pb::Event { session_id: Some("S".into()), cold: Some(true), ..event("launch") },
            pb::Event {
                name: Some("buy".into()),
                attributes: BTreeMap::from([("sku".to_owned(), "A1".to_owned())]),
                user_id: Some("bob".into()),
                app_version: Some("2.0.0".into()),
                ..event("event")
            },
            pb::Event {
                page: Some("home".into()),
                duration_ms: Some(30),
                referrer: Some("push".into()),
                ..event("page")
            },
            pb::Event {
                exception: Some(pb::Exception { r#type: "NullPointerException".into(), message: "m".into() }),
                frames: vec![pb::Frame {
                    function: "a.a.b.a".into(),
                    module: Some("app".into()),
                    file: Some("SourceFile".into()),
                    line: Some(3),
                    address: None,
                }],
                context_json: Some(r#"{"screen":"cart"}"#.into()),
                threads_json: Some("not json".into()),
                ..event("crash")
            },
            pb::Event {
                host: Some("api.example.com".into()),
                status: Some(503),
                duration_ms: Some(12),
                operation_type: Some("com.x".into()),
                ..event("network")
            },
            pb::Event {
                level: Some("error".into()),
                message: Some("boom".into()),
                tag: Some("t".into()),
                ..event("log")
            },
            pb::Event { message: Some("undefined".into()), url: Some("https://h5/".into()), ..event("h5_error") },
        ],
    }
}

/// The sample of `midship_analytics::proguard`'s tests: R8 comments, inlined methods, fields.
const PROGUARD_MAPPING: &str = r#"# compiler: R8
# {"id":"com.android.tools.r8.mapping","version":"2.2"}
com.example.app.MainActivity -> com.example.app.MainActivity:
# {"id":"sourceFile","fileName":"MainActivity.kt"}
    1:1:void <init>():10:10 -> <init>
    2:5:void onCreate(android.os.Bundle):20:23 -> onCreate
com.example.app.Cart -> a.a.b:
# {"id":"sourceFile","fileName":"Cart.kt"}
    java.util.List items -> a
    1:1:int total():42:42 -> a
    2:3:int com.example.app.Pricing.discount(int):7:8 -> a
    2:3:int total():43 -> a
    4:4:void clear():50:50 -> b
    void reset() -> c
"#;

/// New versions of `midship_fuzz::old_files`: edited, renamed, added and removed files.
fn new_versions() -> Vec<Files> {
    let old = midship_fuzz::old_files();
    let mut edited = old.clone();
    edited.insert("index.html".into(), b"<html>1.0.1</html>".to_vec());
    let mut renamed = old.clone();
    let logo = renamed.remove("logo.png").expect("the old version has a logo");
    renamed.insert("img/logo.png".into(), logo);
    renamed.insert("new.css".into(), b"body { color: red }".to_vec());
    let mut emptied = Files::new();
    emptied.insert("empty.txt".into(), Vec::new());
    vec![edited, renamed, emptied]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
