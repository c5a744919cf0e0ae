//! Analytics uploads in their protobuf form (`UploadBatch`), plain or compressed. Drives
//! `midship_analytics::event::decode_batch` with the checks of
//! `midship_fuzz::check_analytics_batch`, and the prost messages alone.
//!
//! Invariant: a batch that decodes encodes to bytes that decode to the same batch.

#![no_main]

use libfuzzer_sys::fuzz_target;
use midship_analytics::pb::UploadBatch;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    midship_fuzz::check_analytics_batch(data);
    if let Ok(batch) = UploadBatch::decode(data) {
        let again = UploadBatch::decode(batch.encode_to_vec().as_slice()).expect("an encoded batch decodes");
        assert_eq!(again, batch);
        for event in &batch.events {
            let _ = event.to_json();
        }
    }
});
