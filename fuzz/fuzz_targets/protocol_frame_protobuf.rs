//! `midship.v1.protobuf` frames: WebSocket binary messages (a flag byte, then the protobuf, zstd
//! compressed when the flag says so), decoded by the server (client frames) and by the SDK
//! (server frames). Drives `midship_protocol::Codec::Protobuf.decode_client` and `decode_server`.
//!
//! Invariants: decompression stays within the frame limit; a frame that decodes encodes to a
//! message that decodes to the same frame.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use midship_fuzz::MAX_FRAME_BYTES;
use midship_protocol::{Codec, WireMessage};

fuzz_target!(|data: &[u8]| {
    let message = WireMessage::Binary(Bytes::copy_from_slice(data));
    let codec = Codec::Protobuf;
    if let Ok(frame) = codec.decode_client(&message, MAX_FRAME_BYTES) {
        let again = codec.decode_client(&codec.encode_client(frame.clone()), MAX_FRAME_BYTES);
        assert_eq!(again, Ok(frame));
    }
    if let Ok(frame) = codec.decode_server(&message, MAX_FRAME_BYTES) {
        let again = codec.decode_server(&codec.encode_server(frame.clone()), MAX_FRAME_BYTES);
        assert_eq!(again, Ok(frame));
    }
});
