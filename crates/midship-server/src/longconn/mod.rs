//! `GET /ws`: the device long connection (docs/protocol.md, "Long connection"). This module
//! negotiates the subprotocol and sizes the socket; [`connection`] runs one connection: hello,
//! sync delivery, acks, RPCs through the gateway, heartbeats.

mod connection;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use midship_api::codes;
use midship_protocol::Codec;
use midship_sync::SyncSettings;

use crate::AppState;
use crate::error::ApiError;

/// Tunables of the long connection, from the `[sync]` config section.
#[derive(Debug, Clone)]
pub struct LongConnectionSettings {
    /// How often devices should ping; told to them in the welcome.
    pub heartbeat: Duration,
    /// A connection with no frame for this long is closed.
    pub idle_timeout: Duration,
    /// The hello must arrive within this.
    pub hello_timeout: Duration,
    /// A write that takes longer closes the connection as too slow.
    pub write_timeout: Duration,
    /// RPCs one connection may have running at once; more are answered 1002 at once.
    pub max_rpcs_in_flight: usize,
    pub sync: SyncSettings,
}

impl Default for LongConnectionSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            hello_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_rpcs_in_flight: 16,
            sync: SyncSettings::default(),
        }
    }
}

/// Room for a frame's own fields around an RPC body of the gateway's largest size.
const FRAME_OVERHEAD_BYTES: usize = 64 * 1024;
/// Per connection. Frames larger than this are read in several steps; idle connections should
/// cost little, so the buffer starts small.
const READ_BUFFER_BYTES: usize = 2 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", any(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let message = format!("a WebSocket upgrade is expected here: {rejection}");
            return ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message).into_response();
        }
    };
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(Codec::from_subprotocol);
    let Some(codec) = offered else {
        let message = format!(
            "offer subprotocol {} or {} in Sec-WebSocket-Protocol",
            midship_protocol::JSON_SUBPROTOCOL,
            midship_protocol::PROTOBUF_SUBPROTOCOL
        );
        return ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message).into_response();
    };
    let max_frame_bytes = state.settings.max_body_bytes + FRAME_OVERHEAD_BYTES;
    upgrade
        .protocols([codec.subprotocol()])
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(max_frame_bytes)
        .max_frame_size(max_frame_bytes)
        .on_upgrade(move |socket| connection::run(state, socket, codec, max_frame_bytes))
}
