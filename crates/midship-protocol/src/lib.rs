//! The device contract (docs/protocol.md): everything a device and Midship must agree on, in one
//! place that the gateway, the server, sync, the SDK and the load tool all import.
//!
//! - `/mgw`: the header names ([`headers`]), the result codes ([`ResultCode`]), the built-in
//!   operation types and Midship's own bizTypes ([`builtins`]), the bodies of the built-in calls
//!   ([`calls`]);
//! - the long connection: the frames ([`frame`]), their two encodings — `midship.v1.json` in
//!   WebSocket text messages and `midship.v1.protobuf` in binary messages, zstd-compressed when
//!   large — and the close codes ([`close`]).
//!
//! No I/O.

pub mod builtins;
pub mod calls;
pub mod close;
pub mod frame;
pub mod headers;
pub mod pb;
pub mod result;

use bytes::Bytes;

pub use frame::{ClientFrame, ServerFrame};
pub use result::ResultCode;

/// WebSocket subprotocol names, as negotiated in `Sec-WebSocket-Protocol`.
pub const JSON_SUBPROTOCOL: &str = "midship.v1.json";
pub const PROTOBUF_SUBPROTOCOL: &str = "midship.v1.protobuf";

/// Binary frames at least this long are sent zstd-compressed.
pub const COMPRESSION_THRESHOLD_BYTES: usize = 1024;
/// Fast and still about as small as zstd gets on short JSON payloads.
const ZSTD_LEVEL: i32 = 1;
const FLAG_PLAIN: u8 = 0x00;
const FLAG_ZSTD: u8 = 0x01;

/// One WebSocket data message. Both kinds hold `Bytes`, so a frame encoded once for a broadcast
/// is shared by every connection instead of copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// Always valid UTF-8.
    Text(Bytes),
    Binary(Bytes),
}

impl WireMessage {
    pub fn text(text: String) -> Self {
        WireMessage::Text(Bytes::from(text))
    }

    pub fn bytes(&self) -> &Bytes {
        match self {
            WireMessage::Text(bytes) | WireMessage::Binary(bytes) => bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("{0} frames are not used by subprotocol {1}")]
    WrongMessageKind(&'static str, &'static str),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("unknown compression flag {0:#04x}")]
    UnknownFlag(u8),
    #[error("the frame is over {0} bytes once decompressed")]
    TooLarge(usize),
}

/// The subprotocol of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Json,
    Protobuf,
}

impl Codec {
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::Protobuf];

    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => JSON_SUBPROTOCOL,
            Codec::Protobuf => PROTOBUF_SUBPROTOCOL,
        }
    }

    pub fn from_subprotocol(name: &str) -> Option<Codec> {
        Codec::ALL.into_iter().find(|codec| codec.subprotocol() == name.trim())
    }

    pub fn encode_server(self, frame: ServerFrame) -> WireMessage {
        self.encode::<_, pb::ServerFrame>(frame)
    }

    pub fn encode_client(self, frame: ClientFrame) -> WireMessage {
        self.encode::<_, pb::ClientFrame>(frame)
    }

    /// Decodes what a device sent; `max_bytes` bounds decompression.
    pub fn decode_client(self, message: &WireMessage, max_bytes: usize) -> Result<ClientFrame, FrameError> {
        self.decode::<_, pb::ClientFrame>(message, max_bytes)
    }

    /// Decodes what the server sent (for clients).
    pub fn decode_server(self, message: &WireMessage, max_bytes: usize) -> Result<ServerFrame, FrameError> {
        self.decode::<_, pb::ServerFrame>(message, max_bytes)
    }

    fn encode<Frame, Proto>(self, frame: Frame) -> WireMessage
    where
        Frame: serde::Serialize,
        Proto: prost::Message + From<Frame>,
    {
        match self {
            Codec::Json => WireMessage::text(serde_json::to_string(&frame).expect("frames serialize")),
            Codec::Protobuf => WireMessage::Binary(pack(&Proto::from(frame).encode_to_vec())),
        }
    }

    fn decode<Frame, Proto>(self, message: &WireMessage, max_bytes: usize) -> Result<Frame, FrameError>
    where
        Frame: serde::de::DeserializeOwned,
        Proto: prost::Message + Default + TryInto<Frame, Error = &'static str>,
    {
        match (self, message) {
            (Codec::Json, WireMessage::Text(text)) => {
                serde_json::from_slice(text).map_err(|error| FrameError::Malformed(error.to_string()))
            }
            (Codec::Protobuf, WireMessage::Binary(bytes)) => {
                let plain = unpack(bytes, max_bytes)?;
                let decoded =
                    Proto::decode(plain.as_ref()).map_err(|error| FrameError::Malformed(error.to_string()))?;
                decoded.try_into().map_err(|error: &str| FrameError::Malformed(error.to_owned()))
            }
            (codec, message) => Err(wrong_kind(codec, message)),
        }
    }
}

fn wrong_kind(codec: Codec, message: &WireMessage) -> FrameError {
    let kind = match message {
        WireMessage::Text(_) => "text",
        WireMessage::Binary(_) => "binary",
    };
    FrameError::WrongMessageKind(kind, codec.subprotocol())
}

/// The flag byte, then the encoded frame, compressed when that makes it worth it.
fn pack(encoded: &[u8]) -> Bytes {
    if encoded.len() >= COMPRESSION_THRESHOLD_BYTES
        && let Ok(compressed) = zstd::bulk::compress(encoded, ZSTD_LEVEL)
        && compressed.len() < encoded.len()
    {
        let mut packed = Vec::with_capacity(compressed.len() + 1);
        packed.push(FLAG_ZSTD);
        packed.extend_from_slice(&compressed);
        return Bytes::from(packed);
    }
    let mut packed = Vec::with_capacity(encoded.len() + 1);
    packed.push(FLAG_PLAIN);
    packed.extend_from_slice(encoded);
    Bytes::from(packed)
}

fn unpack(bytes: &Bytes, max_bytes: usize) -> Result<Bytes, FrameError> {
    match bytes.first() {
        None => Err(FrameError::Malformed("an empty binary message".to_owned())),
        Some(&FLAG_PLAIN) => Ok(bytes.slice(1..)),
        Some(&FLAG_ZSTD) => decompress(&bytes[1..], max_bytes).map(Bytes::from),
        Some(&other) => Err(FrameError::UnknownFlag(other)),
    }
}

/// Streams the content out, so a small frame that claims (or inflates to) a huge size costs no
/// more than `max_bytes` before it is refused.
fn decompress(compressed: &[u8], max_bytes: usize) -> Result<Vec<u8>, FrameError> {
    use std::io::Read;
    let malformed = |error: std::io::Error| FrameError::Malformed(format!("bad zstd data: {error}"));
    let mut decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(malformed)?;
    decoder.window_log_max(MAX_WINDOW_LOG).map_err(malformed)?;
    let mut plain = Vec::new();
    decoder.take(max_bytes as u64 + 1).read_to_end(&mut plain).map_err(malformed)?;
    if plain.len() > max_bytes {
        return Err(FrameError::TooLarge(max_bytes));
    }
    Ok(plain)
}

/// Decoder memory stays near 1 MiB whatever window a sender asks for.
const MAX_WINDOW_LOG: u32 = 20;

#[cfg(test)]
mod tests;
